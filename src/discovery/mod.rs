//! Service discovery (upstream `discovery/`, `discovery/targetgroup/`): where targets come from.
//!
//! Every mechanism produces [`TargetGroup`]s; the scrape manager turns them into targets, the
//! notifier into Alertmanagers. `static_configs`, `file_sd_configs` ([`file`]) and
//! `kubernetes_sd_configs` ([`kubernetes`]) run; [`run_discovery`] merges them for one scrape
//! job or Alertmanager set ([`DiscoveryConfigs`]).

pub mod file;
pub mod kubernetes;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::{AlertmanagerConfig, FileSdConfig, KubernetesSdConfig, ScrapeConfig, StaticConfig};

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

/// What one scrape job or Alertmanager set discovers from.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryConfigs {
    /// The job name, or the Alertmanager set's `config-N`: what its Kubernetes discoveries are
    /// registered under.
    pub name: String,
    /// `static_configs`.
    pub static_configs: Vec<StaticConfig>,
    /// `file_sd_configs`.
    pub file_sd_configs: Vec<FileSdConfig>,
    /// `kubernetes_sd_configs`.
    pub kubernetes_sd_configs: Vec<KubernetesSdConfig>,
}

impl DiscoveryConfigs {
    /// A scrape job's discovery configs.
    pub fn of_scrape(scrape_config: &ScrapeConfig) -> DiscoveryConfigs {
        DiscoveryConfigs {
            name: scrape_config.job_name.clone(),
            static_configs: scrape_config.static_configs.clone(),
            file_sd_configs: scrape_config.file_sd_configs.clone(),
            kubernetes_sd_configs: scrape_config.kubernetes_sd_configs.clone(),
        }
    }

    /// An Alertmanager set's discovery configs; `name` is the set's `config-N`.
    pub fn of_alertmanagers(name: String, config: &AlertmanagerConfig) -> DiscoveryConfigs {
        DiscoveryConfigs {
            name,
            static_configs: config.static_configs.clone(),
            file_sd_configs: config.file_sd_configs.clone(),
            kubernetes_sd_configs: config.kubernetes_sd_configs.clone(),
        }
    }

    /// Whether anything besides static configs needs a [`run_discovery`] task.
    pub fn is_dynamic(&self) -> bool {
        !self.file_sd_configs.is_empty() || !self.kubernetes_sd_configs.is_empty()
    }
}

/// The target groups of `static_configs`, sourced by index as Prometheus does.
pub fn static_groups(static_configs: &[StaticConfig]) -> Vec<TargetGroup> {
    static_configs
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

/// Runs a job's (or an Alertmanager set's) discovery until the task is aborted (its pool or set
/// stops, which also ends every Kubernetes watch): calls `update` with the static groups plus the
/// file and Kubernetes groups whenever these change. Files are polled every second; each Kubernetes SD config
/// publishes once all its resources have synced, then after each batch of watch events.
pub async fn run_discovery(
    configs: DiscoveryConfigs,
    registry: std::sync::Arc<kubernetes::SdRegistry>,
    update: impl Fn(Vec<TargetGroup>) + Send + 'static,
) {
    let static_groups = static_groups(&configs.static_configs);
    let (kube_tx, mut kube_rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Vec<TargetGroup>)>();
    // Dropped with this future, which aborts the Kubernetes discoveries.
    let mut kube_tasks = tokio::task::JoinSet::new();
    for (index, sd_config) in configs.kubernetes_sd_configs.iter().enumerate() {
        let state = registry.register(&configs.name, index, sd_config.role);
        let kube_tx = kube_tx.clone();
        kube_tasks.spawn(kubernetes::run(
            sd_config.clone(),
            kubernetes::WatchOptions::default(),
            state,
            move |groups| {
                let _ = kube_tx.send((index, groups));
            },
        ));
    }
    drop(kube_tx);
    let mut kube_groups: Vec<Vec<TargetGroup>> = vec![Vec::new(); configs.kubernetes_sd_configs.len()];
    let has_files = !configs.file_sd_configs.is_empty();
    let mut file_sd = Some(file::FileSd::new(&configs.file_sd_configs));
    let mut file_groups = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let changed = tokio::select! {
            _ = ticker.tick(), if has_files => {
                let mut sd = file_sd.take().expect("file discovery is put back after each refresh");
                // A directory listing and a few stats: cheap, but still file IO, so off the runtime.
                let (changed, groups, sd) = tokio::task::spawn_blocking(move || {
                    let changed = sd.refresh();
                    (changed, sd.groups(), sd)
                })
                .await
                .expect("file discovery task panicked");
                file_sd = Some(sd);
                file_groups = groups;
                changed
            }
            Some((index, groups)) = kube_rx.recv() => {
                kube_groups[index] = groups;
                while let Ok((index, groups)) = kube_rx.try_recv() {
                    kube_groups[index] = groups;
                }
                true
            }
            else => std::future::pending::<bool>().await,
        };
        if changed {
            let mut all = static_groups.clone();
            all.extend(file_groups.iter().cloned());
            all.extend(kube_groups.iter().flatten().cloned());
            update(all);
        }
    }
}
