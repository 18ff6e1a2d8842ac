//! Targets (upstream `scrape/target.go`): from a discovered label set to a URL and series labels.
//!
//! [`populate_labels`] follows Prometheus 3: job and `__scheme__`/`__metrics_path__`/
//! `__scrape_interval__`/`__scrape_timeout__`/`__param_*` defaults, then relabeling, then
//! `__meta_*` labels removed, `instance` defaulting to `__address__`; a series gets the labels
//! without the `__` prefix. No default port is added to the address (Prometheus 3 dropped that).
//! A target that relabeling drops, or whose labels are unusable, becomes a [`DropReason`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use promlite_storage::{Labels, LabelsBuilder};
use promlite_web::TargetHealth;

use crate::config::ScrapeConfig;

/// A target that will be scraped.
#[derive(Debug)]
pub struct Target {
    /// Labels as discovered (group labels under target labels), before relabeling.
    pub discovered_labels: Labels,
    /// Labels attached to every series scraped from this target.
    pub labels: Labels,
    /// The URL scraped.
    pub url: url::Url,
    /// Stable identity within the pool: hash of the labels and URL.
    pub hash: u64,
    /// Time between scrapes (`__scrape_interval__` after relabeling).
    pub interval: Duration,
    /// Per-scrape timeout (`__scrape_timeout__` after relabeling).
    pub timeout: Duration,
    status: Mutex<TargetStatus>,
    metadata: Mutex<Arc<MetadataMap>>,
}

/// A metric family's metadata as the last successful scrape declared it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MetricMetadata {
    /// `counter`, `gauge`, ..., or `unknown` without a `# TYPE` line.
    pub kind: &'static str,
    /// The `# HELP` text.
    pub help: String,
    /// The OpenMetrics `# UNIT`.
    pub unit: String,
}

/// Metadata by metric family name.
pub type MetadataMap = BTreeMap<String, MetricMetadata>;

/// The outcome of the last scrape.
#[derive(Debug, Clone)]
pub struct TargetStatus {
    /// Up, down, or not scraped yet.
    pub health: TargetHealth,
    /// The last error, empty after a success.
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long it took.
    pub last_duration: Duration,
    /// What promlite worked around in the last scrape (e.g. a wrong `Content-Type`), if anything.
    pub warning: Option<String>,
}

impl Target {
    /// A snapshot of the last scrape's outcome.
    pub fn status(&self) -> TargetStatus {
        self.status.lock().expect("target status lock").clone()
    }

    /// The metric metadata of the last successful scrape.
    pub fn metadata(&self) -> Arc<MetadataMap> {
        Arc::clone(&self.metadata.lock().expect("target metadata lock"))
    }

    /// Replaces the metadata when a scrape declared something different.
    pub fn set_metadata(&self, metadata: MetadataMap) {
        let mut current = self.metadata.lock().expect("target metadata lock");
        if **current != metadata {
            *current = Arc::new(metadata);
        }
    }

    /// Records what the last scrape had to work around, or clears it.
    pub fn set_warning(&self, warning: Option<String>) {
        self.status.lock().expect("target status lock").warning = warning;
    }

    /// Records a scrape's outcome.
    pub fn report(&self, start: SystemTime, duration: Duration, error: Option<String>) {
        let mut status = self.status.lock().expect("target status lock");
        status.health = if error.is_some() { TargetHealth::Down } else { TargetHealth::Up };
        status.last_error = error.unwrap_or_default();
        status.last_scrape = Some(start);
        status.last_duration = duration;
    }
}

/// Why a discovered target is not scraped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// A `relabel_configs` rule dropped it.
    #[error("{0}")]
    Relabeled(crate::relabel::DroppedBy),
    /// `__scrape_interval__` or `__scrape_timeout__` is unusable after relabeling.
    #[error("{0}")]
    InvalidTiming(String),
    /// `__address__` is missing or empty after relabeling.
    #[error("no address: the target has no __address__ label after relabeling")]
    NoAddress,
    /// The address is not `host:port` or `host`.
    #[error("{address:?} is not a valid hostname: {why}")]
    InvalidAddress { address: String, why: String },
    /// The scheme is neither http nor https.
    #[error("invalid scheme {scheme:?}: only http and https are supported")]
    InvalidScheme { scheme: String },
}

/// Builds a target from one discovered label set of `scrape_config`.
pub fn populate_labels(
    scrape_config: &ScrapeConfig,
    group_labels: &BTreeMap<String, String>,
    target_labels: &BTreeMap<String, String>,
) -> Result<Target, (Labels, DropReason)> {
    let mut builder = LabelsBuilder::new(&Labels::empty());
    for (name, value) in group_labels.iter().chain(target_labels) {
        builder.set(name.clone(), value.clone());
    }
    let defaults = [
        ("job", scrape_config.job_name.clone()),
        ("__scheme__", scrape_config.scheme.to_string()),
        ("__metrics_path__", scrape_config.metrics_path.clone()),
        ("__scrape_interval__", scrape_config.scrape_interval.to_string()),
        ("__scrape_timeout__", scrape_config.scrape_timeout.to_string()),
        // Prometheus 3 shows the histogram settings among the discovered labels too (3.14
        // docs/querying/api.md, the dropped target of "Targets"; upstream `scrape/target.go`).
        ("__convert_classic_histograms_to_nhcb__", scrape_config.convert_classic_histograms_to_nhcb.to_string()),
        ("__always_scrape_classic_histograms__", scrape_config.always_scrape_classic_histograms.to_string()),
        ("__scrape_native_histograms__", scrape_config.scrape_native_histograms.to_string()),
    ];
    for (name, value) in defaults {
        if builder.get(name).is_empty() {
            builder.set(name.to_owned(), value);
        }
    }
    for (name, values) in &scrape_config.params {
        let label = format!("__param_{name}");
        if builder.get(&label).is_empty()
            && let Some(first) = values.first()
        {
            builder.set(label, first.clone());
        }
    }
    let discovered = builder.labels();

    let relabeled = crate::relabel::process_explained(&discovered, &scrape_config.relabel_configs)
        .map_err(|dropped| (discovered.clone(), DropReason::Relabeled(dropped)))?;
    let mut builder = LabelsBuilder::new(&relabeled);
    let address = builder.get("__address__").to_owned();
    if address.is_empty() {
        return Err((discovered, DropReason::NoAddress));
    }
    if let Err(why) = check_address(&address) {
        return Err((discovered, DropReason::InvalidAddress { address, why }));
    }
    let (interval, timeout) = match timing(&builder) {
        Ok(timing) => timing,
        Err(why) => return Err((discovered, DropReason::InvalidTiming(why))),
    };
    let scheme = builder.get("__scheme__").to_owned();
    if scheme != "http" && scheme != "https" {
        return Err((discovered, DropReason::InvalidScheme { scheme }));
    }
    for label in &relabeled {
        if label.name.starts_with("__meta_") {
            builder.del(&label.name);
        }
    }
    if builder.get("instance").is_empty() {
        builder.set("instance".to_owned(), address.clone());
    }
    let url = scrape_url(&builder, &scheme, &address, scrape_config)
        .map_err(|why| (discovered.clone(), DropReason::InvalidAddress { address: address.clone(), why }))?;

    let all = builder.labels();
    let labels =
        Labels::from_pairs(all.iter().filter(|l| !l.name.starts_with("__")).map(|l| (l.name.clone(), l.value.clone())));
    // Internal labels count too: a changed `__scrape_interval__` makes a new target.
    let hash = all.stable_hash() ^ xxhash_rust::xxh3::xxh3_64(url.as_str().as_bytes());
    Ok(Target {
        discovered_labels: discovered,
        labels,
        url,
        hash,
        interval,
        timeout,
        metadata: Mutex::new(Arc::new(MetadataMap::new())),
        status: Mutex::new(TargetStatus {
            health: TargetHealth::Unknown,
            last_error: String::new(),
            last_scrape: None,
            last_duration: Duration::ZERO,
            warning: None,
        }),
    })
}

/// The interval and timeout from the target's labels, checked as Prometheus checks them.
fn timing(builder: &LabelsBuilder) -> Result<(Duration, Duration), String> {
    let parse = |name: &str, what: &str| -> Result<Duration, String> {
        let text = builder.get(name);
        let duration: crate::config::Duration =
            text.parse().map_err(|err| format!("error parsing scrape {what} {text:?}: {err}"))?;
        if duration.is_zero() {
            return Err(format!("scrape {what} cannot be 0"));
        }
        Ok(duration.as_std())
    };
    let interval = parse("__scrape_interval__", "interval")?;
    let timeout = parse("__scrape_timeout__", "timeout")?;
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({:?} > {:?})",
            builder.get("__scrape_timeout__"),
            builder.get("__scrape_interval__")
        ));
    }
    Ok((interval, timeout))
}

fn check_address(address: &str) -> Result<(), String> {
    if address.contains('/') {
        return Err("an address is host:port, without a scheme or path (set __scheme__ and __metrics_path__ instead)"
            .to_owned());
    }
    Ok(())
}

fn scrape_url(
    builder: &LabelsBuilder,
    scheme: &str,
    address: &str,
    scrape_config: &ScrapeConfig,
) -> Result<url::Url, String> {
    let path = builder.get("__metrics_path__");
    let mut url = url::Url::parse(&format!("{scheme}://{address}{path}")).map_err(|err| err.to_string())?;
    let mut params: BTreeMap<String, Vec<String>> = scrape_config.params.clone();
    // A `__param_x` label (a default or set by relabeling) replaces the first value of `x`.
    for label in &builder.labels() {
        let Some(name) = label.name.strip_prefix("__param_") else { continue };
        let values = params.entry(name.to_owned()).or_default();
        match values.first_mut() {
            Some(first) => first.clone_from(&label.value),
            None => values.push(label.value.clone()),
        }
    }
    if !params.is_empty() {
        let mut query = url.query_pairs_mut();
        for (name, values) in &params {
            for value in values {
                query.append_pair(name, value);
            }
        }
    }
    Ok(url)
}
