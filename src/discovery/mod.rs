//! Service discovery (upstream `discovery/`, `discovery/targetgroup/`): where targets come from.
//!
//! Every mechanism produces [`TargetGroup`]s; the scrape manager turns them into targets.
//! `static_configs` and `file_sd_configs` ([`file`]) run. FIXME(#6): `kubernetes_sd_configs` is
//! parsed by the config but discovers nothing yet; start-up logs a warning for each such job.

pub mod file;

use std::collections::BTreeMap;
use std::time::Duration;

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
    if !scrape_config.kubernetes_sd_configs.is_empty() {
        out.push("kubernetes_sd_configs");
    }
    out
}

/// Runs a job's file discovery until the task is aborted (its pool stops): polls every second
/// and calls `update` with the job's static groups plus its file groups whenever these change,
/// so updates reach the scrape pool within about a second.
pub async fn run_file_sd(
    scrape_config: std::sync::Arc<ScrapeConfig>,
    update: impl Fn(Vec<TargetGroup>) + Send + 'static,
) {
    let static_groups = static_groups(&scrape_config);
    let mut file_sd = file::FileSd::new(&scrape_config.file_sd_configs);
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        // A directory listing and a few stats: cheap, but still file IO, so off the runtime.
        let (changed, groups, back) = tokio::task::spawn_blocking(move || {
            let changed = file_sd.refresh();
            (changed, file_sd.groups(), file_sd)
        })
        .await
        .expect("file discovery task panicked");
        file_sd = back;
        if changed {
            let mut all = static_groups.clone();
            all.extend(groups);
            update(all);
        }
    }
}
