//! Service discovery (upstream `discovery/`, `discovery/targetgroup/`): where targets come from.
//!
//! Every mechanism produces [`TargetGroup`]s; the scrape manager turns them into targets.
//! FIXME(#5): only `static_configs` runs. `file_sd_configs` and `kubernetes_sd_configs` are
//! parsed by the config but discover nothing yet; start-up logs a warning for each such job.

use std::collections::BTreeMap;

use crate::config::ScrapeConfig;

/// A set of targets sharing labels, as one discovery source last reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetGroup {
    /// Identifies the group within its provider (`"0"`, `"1"`, … for static configs).
    pub source: String,
    /// One label set per target, each with `__address__`.
    pub targets: Vec<BTreeMap<String, String>>,
    /// Labels shared by all targets of the group.
    pub labels: BTreeMap<String, String>,
}

/// The target groups of a job's `static_configs`, sourced by index as Prometheus does.
pub fn static_groups(scrape_config: &ScrapeConfig) -> Vec<TargetGroup> {
    scrape_config
        .static_configs
        .iter()
        .enumerate()
        .map(|(i, static_config)| TargetGroup {
            source: i.to_string(),
            targets: static_config
                .targets
                .iter()
                .map(|address| BTreeMap::from([("__address__".to_owned(), address.clone())]))
                .collect(),
            labels: static_config.labels.clone(),
        })
        .collect()
}

/// Names the discovery mechanisms of a job that do not discover anything yet.
pub fn unsupported_mechanisms(scrape_config: &ScrapeConfig) -> Vec<&'static str> {
    let mut out = Vec::new();
    if !scrape_config.file_sd_configs.is_empty() {
        out.push("file_sd_configs");
    }
    if !scrape_config.kubernetes_sd_configs.is_empty() {
        out.push("kubernetes_sd_configs");
    }
    out
}
