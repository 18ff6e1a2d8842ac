//! The scrape manager (upstream `scrape/manager.go`): one [`ScrapePool`] per job.
//!
//! [`Manager::apply_config`] reconciles pools with a validated config the way Prometheus's
//! `ApplyConfig` does: a job whose config is unchanged keeps its pool, loops, caches and timing
//! untouched; a changed job gets a new pool that takes over the old one's targets (no missed
//! scrape, no staleness for targets that stay); a removed job stops, writing staleness markers.
//! A job whose HTTP client cannot be built is skipped with an error and the others still run.
//! It implements the web layer's `TargetsView`, so `/targets` and `/api/v1/targets` read
//! snapshots from here.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use promlite_storage::Db;
use promlite_web::{ActiveTarget, DroppedTarget, TargetMetadata, TargetsView};

use super::metrics::ScrapeMetrics;
use super::pool::{ClientError, ScrapePool};
use crate::config::Config;
use crate::discovery;

struct Job {
    pool: Arc<ScrapePool>,
    /// The file and Kubernetes discovery task feeding the pool, aborted with it.
    discovery: Option<tokio::task::AbortHandle>,
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(discovery) = &self.discovery {
            discovery.abort();
        }
    }
}

/// Owns the scrape pools.
pub struct Manager {
    db: Db,
    offset_seed: u64,
    jobs: Mutex<BTreeMap<String, Job>>,
    metrics: Arc<ScrapeMetrics>,
    /// The Kubernetes discoveries of every job.
    sd_registry: Arc<discovery::kubernetes::SdRegistry>,
}

impl Manager {
    /// A manager appending to `db`; `offset_seed` spreads this server's targets over the
    /// interval. Its scrape families join `registry`; register the manager itself there too,
    /// for the families it reads at scrape time (targets per pool, discovery).
    pub fn new(db: Db, offset_seed: u64, registry: &promlite_metrics::Registry) -> Manager {
        Manager {
            db,
            offset_seed,
            jobs: Mutex::new(BTreeMap::new()),
            metrics: Arc::new(ScrapeMetrics::new(registry)),
            sd_registry: Arc::default(),
        }
    }

    /// Reconciles the pools with `config` (already validated). Must run inside a tokio runtime.
    /// Returns the jobs that could not start, unlogged (the caller logs them); every other job runs.
    pub fn apply_config(&self, config: &Config) -> Vec<ClientError> {
        let mut errors = Vec::new();
        let mut jobs = self.jobs.lock().expect("manager lock");
        let mut old_jobs = std::mem::take(&mut *jobs);
        for scrape_config in &config.scrape_configs {
            let name = scrape_config.job_name.clone();
            let old = match old_jobs.remove(&name) {
                Some(old) if old.pool.config() == scrape_config => {
                    jobs.insert(name, old);
                    continue;
                }
                old => old,
            };
            let scrape_config = Arc::new(scrape_config.clone());
            let (attempts, failures) = match old {
                Some(_) => (&self.metrics.pool_reloads, &self.metrics.pool_reloads_failed),
                None => (&self.metrics.pools, &self.metrics.pools_failed),
            };
            attempts.inc();
            let pool = match ScrapePool::new(
                Arc::clone(&scrape_config),
                self.db.clone(),
                self.offset_seed,
                Arc::clone(&self.metrics),
            ) {
                Ok(pool) => Arc::new(pool),
                Err(err) => {
                    failures.inc();
                    errors.push(err);
                    continue;
                }
            };
            match &old {
                Some(old) => pool.take_over(&old.pool),
                None => pool.sync(discovery::static_groups(&scrape_config.static_configs)),
            }
            let configs = discovery::DiscoveryConfigs::of_scrape(&scrape_config);
            let discovery = configs.is_dynamic().then(|| {
                let weak = Arc::downgrade(&pool);
                let registry = Arc::clone(&self.sd_registry);
                let task = tokio::spawn(discovery::run_discovery(configs, registry, move |groups| {
                    if let Some(pool) = weak.upgrade() {
                        pool.sync(groups);
                    }
                }));
                task.abort_handle()
            });
            jobs.insert(name, Job { pool, discovery });
            if let Some(old) = old {
                old.pool.stop();
            }
        }
        for old in old_jobs.values() {
            old.pool.stop();
        }
        errors
    }

    /// Stops every pool and waits (at most `timeout`) for the loops to end. No staleness
    /// markers are written (upstream's shutdown writes none), so a restart leaves no gap.
    pub async fn shutdown(&self, timeout: std::time::Duration) {
        let jobs = std::mem::take(&mut *self.jobs.lock().expect("manager lock"));
        let handles: Vec<_> = jobs.values().flat_map(|job| job.pool.shutdown()).collect();
        drop(jobs);
        let all = async {
            for handle in handles {
                let _ = handle.await;
            }
        };
        if tokio::time::timeout(timeout, all).await.is_err() {
            tracing::warn!("scrape loops did not stop within {timeout:?}; shutting down anyway");
        }
    }

    fn pools(&self) -> Vec<Arc<ScrapePool>> {
        self.jobs.lock().expect("manager lock").values().map(|job| Arc::clone(&job.pool)).collect()
    }
}

impl TargetsView for Manager {
    fn active_targets(&self) -> Vec<ActiveTarget> {
        let mut out = Vec::new();
        for pool in self.pools() {
            let config = pool.config();
            for target in pool.active_targets() {
                let status = target.status();
                out.push(ActiveTarget {
                    discovered_labels: target.discovered_labels.clone(),
                    labels: target.labels.clone(),
                    scrape_pool: config.job_name.clone(),
                    scrape_url: target.url.to_string(),
                    health: status.health,
                    last_error: status.last_error,
                    last_scrape: status.last_scrape,
                    last_scrape_duration: status.last_duration,
                    scrape_interval: target.interval,
                    scrape_timeout: target.timeout,
                    warning: status.warning,
                });
            }
        }
        out
    }

    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        let mut out = Vec::new();
        for pool in self.pools() {
            for dropped in pool.dropped_targets().0 {
                out.push(DroppedTarget {
                    discovered_labels: dropped.discovered_labels,
                    scrape_pool: pool.config().job_name.clone(),
                    reason: dropped.reason,
                });
            }
        }
        out
    }

    fn scrape_pools(&self) -> Vec<String> {
        self.jobs.lock().expect("manager lock").keys().cloned().collect()
    }

    fn discovery_notes(&self, scrape_pool: &str) -> Vec<String> {
        self.sd_registry.status().iter().filter(|sd| sd.job == scrape_pool).flat_map(explain_kubernetes).collect()
    }

    fn metadata(&self) -> Vec<TargetMetadata> {
        let mut out = Vec::new();
        for pool in self.pools() {
            for target in pool.active_targets() {
                for (metric, metadata) in target.metadata().iter() {
                    out.push(TargetMetadata {
                        target: target.labels.clone(),
                        metric: metric.clone(),
                        kind: metadata.kind.to_owned(),
                        help: metadata.help.clone(),
                        unit: metadata.unit.clone(),
                    });
                }
            }
        }
        out
    }
}

impl promlite_metrics::Collector for Manager {
    /// The families read from the pools at scrape time: targets, discovered targets, metadata
    /// cache sizes, and the Kubernetes discoveries'.
    fn collect(&self, enc: &mut promlite_metrics::Encoder) {
        use promlite_metrics::MetricType::Gauge;
        let pools = self.pools();
        let jobs: Vec<(&str, &ScrapePool)> = pools.iter().map(|p| (p.config().job_name.as_str(), &**p)).collect();
        let help = "Current number of targets in this scrape pool.";
        let mut family = enc.family("prometheus_target_scrape_pool_targets", help, Gauge);
        for (job, pool) in &jobs {
            family.sample(&[("scrape_job", job)], pool.active_targets().len());
        }
        let mut family = enc.family("prometheus_sd_discovered_targets", "Current number of discovered targets.", Gauge);
        for (job, pool) in &jobs {
            let (dropped, uncounted) = pool.dropped_targets();
            let discovered = pool.active_targets().len() + dropped.len() + uncounted;
            family.sample(&[("config", job), ("name", "scrape")], discovered);
        }
        let sizes: Vec<(usize, usize)> = jobs
            .iter()
            .map(|(_, pool)| {
                pool.active_targets().iter().fold((0, 0), |(entries, bytes), target| {
                    let metadata = target.metadata();
                    let size: usize = metadata
                        .iter()
                        .map(|(metric, m)| metric.len() + m.help.len() + m.unit.len() + m.kind.len())
                        .sum();
                    (entries + metadata.len(), bytes + size)
                })
            })
            .collect();
        let help = "Total number of metric metadata entries in the cache";
        let mut family = enc.family("prometheus_target_metadata_cache_entries", help, Gauge);
        for ((job, _), (entries, _)) in jobs.iter().zip(&sizes) {
            family.sample(&[("scrape_job", job)], *entries);
        }
        let help = "The number of bytes that are currently used for storing metric metadata in the cache";
        let mut family = enc.family("prometheus_target_metadata_cache_bytes", help, Gauge);
        for ((job, _), (_, bytes)) in jobs.iter().zip(&sizes) {
            family.sample(&[("scrape_job", job)], *bytes);
        }
        self.sd_registry.collect(enc);
    }
}

/// What one `kubernetes_sd_configs` entry has (not) found, in sentences a person can act on.
fn explain_kubernetes(sd: &discovery::kubernetes::SdStatus) -> Vec<String> {
    let which = format!("kubernetes_sd_configs[{}] (role {})", sd.index, sd.role.as_str());
    if let Some(error) = &sd.config_error {
        return vec![format!("{which}: {error}")];
    }
    let mut notes = Vec::new();
    for informer in &sd.informers {
        let place = if informer.namespace.is_empty() {
            "all namespaces".to_owned()
        } else {
            format!("namespace {}", informer.namespace)
        };
        let mut selectors = Vec::new();
        if !informer.label_selector.is_empty() {
            selectors.push(format!("label selector {:?}", informer.label_selector));
        }
        if !informer.field_selector.is_empty() {
            selectors.push(format!("field selector {:?}", informer.field_selector));
        }
        let selected =
            if selectors.is_empty() { String::new() } else { format!(" matching {}", selectors.join(" and ")) };
        if let Some(error) = &informer.last_error {
            notes.push(format!("{which}: watching {} in {place}{selected} failed: {error}", informer.resource));
        } else if !informer.synced {
            notes.push(format!("{which}: still listing {} in {place} from {}", informer.resource, sd.api_server));
        } else if informer.objects == 0 {
            notes.push(format!(
                "{which}: no {} in {place}{selected}: check the namespace and the selectors",
                informer.resource
            ));
        }
        for warning in &informer.warnings {
            notes.push(format!("{which}: the API server warns: {warning}"));
        }
    }
    if sd.synced && sd.targets == 0 && notes.is_empty() {
        notes.push(format!(
            "{which}: objects were found but they yield no target (no addresses or ports: a Service without ready endpoints, or a component without a Service)"
        ));
    }
    notes
}
