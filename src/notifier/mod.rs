//! The notifier (upstream `notifier/`): sends the rule manager's alerts to every discovered
//! Alertmanager, through Alertmanager's v2 API.
//!
//! [`Notifier::send`] (the rule manager's [`Notify`]) adds the external labels an alert lacks,
//! applies `alerting.alert_relabel_configs`, and hands the alerts to each Alertmanager set (one
//! per `alerting.alertmanagers` entry, `alertmanager_set`), which applies its own
//! `alert_relabel_configs` and queues them in the send loop (`send_loop`) of every Alertmanager it
//! has discovered. Each loop posts its queue in batches, independently of the others.
//! [`Notifier::apply_config`] reconciles the sets on reload: a set whose config is unchanged keeps
//! its discovery, loops and queues; a changed or removed one stops, its loops draining (or
//! dropping, per `--alertmanager.drain-notification-queue-on-shutdown`) in the background.
//! [`Notifier::stop`] stops them all, waiting a bounded time for the drains.
//! Invariant: a set whose HTTP client cannot be built is skipped with an error, the others run.
//! FIXME(#17): the sets' Kubernetes discoveries are counted neither in `prometheus_sd_kubernetes_*`
//! nor in `prometheus_sd_discovered_targets{name="notify"}`: their `SdRegistry` is the notifier's
//! own, and the scrape manager writes those families.

mod alert;
mod alertmanager_set;
mod metrics;
mod send_loop;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use promlite_metrics::Registry;
use promlite_web::{AlertmanagerUrls, AlertmanagersView};

use self::alertmanager_set::AlertmanagerSet;
use self::metrics::NotifierMetrics;
use self::send_loop::QueueOptions;
use crate::config::Config;
use crate::discovery::{self, DiscoveryConfigs};
use crate::http_client::{HttpClient, HttpClientError};
use crate::relabel::RelabelConfig;
use crate::rules::{Notify, OutgoingAlert};

pub use alertmanager_set::AlertmanagerError;

/// Settings from the `--alertmanager.*` flags.
#[derive(Debug, Clone, Copy)]
pub struct NotifierOptions {
    /// `--alertmanager.notification-queue-capacity`: alerts each Alertmanager's queue holds.
    pub queue_capacity: usize,
    /// `--alertmanager.notification-batch-size`: most alerts per request.
    pub batch_size: usize,
    /// `--alertmanager.drain-notification-queue-on-shutdown`.
    pub drain_on_shutdown: bool,
}

/// An Alertmanager set that cannot start.
#[derive(Debug, thiserror::Error)]
#[error("alerting.alertmanagers[{index}]: {source}")]
pub struct NotifierError {
    /// Its index in `alerting.alertmanagers`.
    pub index: usize,
    /// Why its HTTP client cannot be built.
    pub source: HttpClientError,
}

/// A running set and the discovery feeding it.
struct RunningSet {
    set: Arc<AlertmanagerSet>,
    discovery: Option<tokio::task::AbortHandle>,
}

impl Drop for RunningSet {
    fn drop(&mut self) {
        if let Some(discovery) = &self.discovery {
            discovery.abort();
        }
    }
}

/// What [`Notifier::send`] reads; replaced whole by each [`Notifier::apply_config`].
#[derive(Default)]
struct State {
    external_labels: Vec<(String, String)>,
    alert_relabel_configs: Vec<RelabelConfig>,
    sets: Vec<RunningSet>,
}

/// Sends alerts to Alertmanagers.
pub struct Notifier {
    options: QueueOptions,
    metrics: Arc<NotifierMetrics>,
    state: RwLock<State>,
    stopped: AtomicBool,
    /// The Kubernetes discoveries of the sets.
    sd_registry: Arc<discovery::kubernetes::SdRegistry>,
}

impl Notifier {
    /// A notifier with no Alertmanagers yet; its families join `registry`.
    pub fn new(options: NotifierOptions, registry: &Registry) -> Notifier {
        let metrics = Arc::new(NotifierMetrics::new(registry));
        metrics.queue_capacity.set(options.queue_capacity as f64);
        Notifier {
            options: QueueOptions {
                capacity: options.queue_capacity,
                batch_size: options.batch_size,
                drain_on_stop: options.drain_on_shutdown,
            },
            metrics,
            state: RwLock::default(),
            stopped: AtomicBool::new(false),
            sd_registry: Arc::default(),
        }
    }

    /// Reconciles the Alertmanager sets with `config` (already validated) and takes its external
    /// labels and `alert_relabel_configs`. Returns the sets that could not start, unlogged (the
    /// caller logs them). Must run inside a tokio runtime.
    pub fn apply_config(&self, config: &Config) -> Vec<NotifierError> {
        let mut errors = Vec::new();
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let mut old_sets: Vec<Option<RunningSet>> = std::mem::take(&mut state.sets).into_iter().map(Some).collect();
        for (index, am_config) in config.alerting.alertmanagers.iter().enumerate() {
            // Upstream matches sets by config hash, the first old set with the same config wins.
            let same = old_sets.iter_mut().find(|old| old.as_ref().is_some_and(|old| old.set.config() == am_config));
            if let Some(running) = same.and_then(Option::take) {
                state.sets.push(running);
                continue;
            }
            let client = match HttpClient::new(&am_config.http_client_config) {
                Ok(client) => client,
                Err(source) => {
                    errors.push(NotifierError { index, source });
                    continue;
                }
            };
            let set =
                Arc::new(AlertmanagerSet::new(am_config.clone(), client, self.options, Arc::clone(&self.metrics)));
            let configs = DiscoveryConfigs::of_alertmanagers(format!("config-{index}"), am_config);
            log_skipped(set.sync(&discovery::static_groups(&configs.static_configs)));
            let discovery = configs.is_dynamic().then(|| {
                let weak = Arc::downgrade(&set);
                let registry = Arc::clone(&self.sd_registry);
                let task = tokio::spawn(discovery::run_discovery(configs, registry, move |groups| {
                    if let Some(set) = weak.upgrade() {
                        log_skipped(set.sync(&groups));
                    }
                }));
                task.abort_handle()
            });
            state.sets.push(RunningSet { set, discovery });
        }
        for old in old_sets.into_iter().flatten() {
            // The loops drain (or drop) their queues in the background.
            drop(old.set.stop());
        }
        state.external_labels = config.global.external_label_pairs();
        state.alert_relabel_configs = config.alerting.alert_relabel_configs.clone();
        errors
    }

    /// Stops accepting alerts and stops every send loop, each draining its queue (or dropping
    /// it, per the flag); waits at most `timeout`, then drops what is still queued.
    pub async fn stop(&self, timeout: Duration) {
        tracing::info!("stopping notification manager");
        self.stopped.store(true, Ordering::Release);
        let sets = std::mem::take(&mut self.state.write().unwrap_or_else(PoisonError::into_inner).sets);
        let loops: Vec<_> = sets.iter().flat_map(|running| running.set.stop()).collect();
        drop(sets);
        let mut tasks = Vec::new();
        let mut queues = Vec::new();
        for (send_loop, task) in loops {
            queues.push(send_loop);
            tasks.push(task);
        }
        let all = async {
            for task in &mut tasks {
                let _ = task.await;
            }
        };
        if tokio::time::timeout(timeout, all).await.is_err() {
            let left: usize = queues.iter().map(|q| q.queue_len()).sum();
            tracing::warn!(count = left, "alert notification queues not drained within {timeout:?}, dropping alerts");
            for (send_loop, task) in queues.iter().zip(&tasks) {
                task.abort();
                send_loop.drop_queued();
            }
        }
        tracing::info!("notification manager stopped");
    }
}

/// Logs the target groups a set could not use: discovery is the caller that decides.
fn log_skipped(errors: Vec<AlertmanagerError>) {
    for err in errors {
        tracing::error!(error = %err, "creating discovered Alertmanagers failed");
    }
}

impl Notify for Notifier {
    fn send(&self, alerts: Vec<OutgoingAlert>) {
        if self.stopped.load(Ordering::Acquire) || alerts.is_empty() {
            return;
        }
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let alerts = alerts.into_iter().map(Arc::new).collect();
        let alerts = alert::relabel_alerts(alerts, &state.external_labels, &state.alert_relabel_configs);
        if alerts.is_empty() {
            return;
        }
        for running in &state.sets {
            running.set.send(&alerts);
        }
    }
}

impl promlite_metrics::Collector for Notifier {
    /// `prometheus_notifications_alertmanagers_discovered`, counted at scrape time as upstream's
    /// gauge function counts it.
    fn collect(&self, enc: &mut promlite_metrics::Encoder) {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let active: usize = state.sets.iter().map(|running| running.set.active_urls().len()).sum();
        let help = "The number of alertmanagers discovered and active.";
        enc.single(
            "prometheus_notifications_alertmanagers_discovered",
            help,
            promlite_metrics::MetricType::Gauge,
            active,
        );
    }
}

impl AlertmanagersView for Notifier {
    fn alertmanagers(&self) -> AlertmanagerUrls {
        let state = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let mut urls = AlertmanagerUrls::default();
        for running in &state.sets {
            urls.active.extend(running.set.active_urls());
            urls.dropped.extend(running.set.dropped_urls());
        }
        urls
    }
}
