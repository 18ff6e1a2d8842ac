//! A scrape pool (upstream `scrape/scrape.go` `scrapePool`): one job's targets and their loops.
//!
//! Invariant: `active` is keyed by target hash and every entry owns exactly one running loop. A
//! target that leaves the pool has its loop stopped (which writes its staleness markers); a
//! target that stays across a reload hands its series cache to the loop that replaces it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use promlite_storage::{Db, Labels};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::metrics::ScrapeMetrics;
use super::scrape_loop::{self, Control, LoopOptions, SeriesCache};
use super::target::{DropReason, Target, populate_labels};
use super::textparse;
use crate::config::ScrapeConfig;
use crate::discovery::TargetGroup;
use crate::http_client::{HttpClient, HttpClientError};

struct Running {
    target: Arc<Target>,
    control: watch::Sender<Control>,
    handle: JoinHandle<Option<SeriesCache>>,
}

/// A discovered target that is not scraped, and why.
#[derive(Debug, Clone)]
pub struct Dropped {
    /// Labels as discovered.
    pub discovered_labels: Labels,
    /// Why it is not scraped.
    pub reason: String,
}

/// Scrapes the targets of one job.
pub struct ScrapePool {
    config: Arc<ScrapeConfig>,
    client: HttpClient,
    db: Db,
    offset_seed: u64,
    metrics: Arc<ScrapeMetrics>,
    state: Mutex<PoolState>,
}

#[derive(Default)]
struct PoolState {
    active: BTreeMap<u64, Running>,
    dropped: Vec<Dropped>,
    /// Dropped targets beyond `keep_dropped_targets`, counted but not kept.
    dropped_uncounted: usize,
    /// The groups last synced, so a reload can rebuild targets without waiting for discovery.
    groups: Vec<TargetGroup>,
}

/// Whose loops [`ScrapePool::sync_locked`] reconciles the targets with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PreviousLoops {
    /// This pool's own (discovery update): a surviving target's loop keeps running.
    Own,
    /// The pool this one replaces (reload): a surviving target's loop hands over to a new one.
    OldPool,
}

/// The HTTP client for a job could not be built.
#[derive(Debug, thiserror::Error)]
#[error("job {job:?}: {source}")]
pub struct ClientError {
    job: String,
    source: HttpClientError,
}

impl ScrapePool {
    /// A pool for `config`, with no targets yet.
    pub fn new(
        config: Arc<ScrapeConfig>,
        db: Db,
        offset_seed: u64,
        metrics: Arc<ScrapeMetrics>,
    ) -> Result<ScrapePool, ClientError> {
        let client = HttpClient::new(&config.http_client_config)
            .map_err(|source| ClientError { job: config.job_name.clone(), source })?;
        Ok(ScrapePool { config, client, db, offset_seed, metrics, state: Mutex::new(PoolState::default()) })
    }

    /// The job's configuration.
    pub fn config(&self) -> &ScrapeConfig {
        &self.config
    }

    /// Makes the running loops match `groups`: new targets start, vanished ones stop, unchanged
    /// ones keep running untouched (so their scrape phase and series cache survive).
    pub fn sync(&self, groups: Vec<TargetGroup>) {
        let mut state = self.state.lock().expect("pool lock");
        let own = std::mem::take(&mut state.active);
        self.sync_locked(&mut state, groups, own, PreviousLoops::Own);
    }

    /// Takes over the targets of `old` (the same job under its previous config): targets that
    /// still exist get new loops that start from the old loops' caches, so no scrape is missed
    /// and no staleness marker written; the others stop.
    pub fn take_over(&self, old: &ScrapePool) {
        let (old_running, groups) = {
            let mut old_state = old.state.lock().expect("pool lock");
            (std::mem::take(&mut old_state.active), old_state.groups.clone())
        };
        let mut state = self.state.lock().expect("pool lock");
        self.sync_locked(&mut state, groups, old_running, PreviousLoops::OldPool);
    }

    /// Rebuilds targets from `groups` and reconciles them with the `previous` loops: kept as they
    /// are when they are this pool's own, handed over when they come from the old pool.
    fn sync_locked(
        &self,
        state: &mut PoolState,
        groups: Vec<TargetGroup>,
        mut previous: BTreeMap<u64, Running>,
        whose: PreviousLoops,
    ) {
        let started = std::time::Instant::now();
        let mut failed = 0u64;
        let mut wanted: BTreeMap<u64, Target> = BTreeMap::new();
        let mut dropped = Vec::new();
        for group in &groups {
            for target_labels in &group.targets {
                match populate_labels(&self.config, &group.labels, target_labels) {
                    Ok(target) => {
                        wanted.insert(target.hash, target);
                    }
                    Err((discovered_labels, reason)) => {
                        // Upstream's sync failures: a target relabeling did not drop, yet unusable.
                        failed += u64::from(!matches!(reason, DropReason::Relabeled(_)));
                        dropped.push(Dropped { discovered_labels, reason: reason.to_string() })
                    }
                }
            }
        }
        let limit = self.config.target_limit;
        if limit > 0 && wanted.len() as u64 > limit {
            // Prometheus scrapes none of the job's targets then; say so on each of them.
            self.metrics.exceeded_target_limit.inc();
            let reason = format!("target_limit exceeded (number of targets: {}, limit: {limit})", wanted.len());
            for target in std::mem::take(&mut wanted).into_values() {
                dropped.push(Dropped { discovered_labels: target.discovered_labels, reason: reason.clone() });
            }
        }
        let keep = self.config.keep_dropped_targets as usize;
        state.dropped_uncounted = if keep > 0 { dropped.len().saturating_sub(keep) } else { 0 };
        if keep > 0 {
            dropped.truncate(keep);
        }
        state.dropped = dropped;
        state.groups = groups;

        for (hash, target) in wanted {
            let running = match previous.remove(&hash) {
                Some(running) if whose == PreviousLoops::Own => running,
                Some(running) => {
                    let _ = running.control.send(Control::Handover);
                    self.start(Arc::new(target), Some(running.handle))
                }
                None => self.start(Arc::new(target), None),
            };
            state.active.insert(hash, running);
        }
        for running in previous.into_values() {
            let _ = running.control.send(Control::Stop);
        }
        let job = [self.config.job_name.as_str()];
        self.metrics.syncs.with(&job).inc();
        self.metrics.sync_failed.with(&job).inc_by(failed as f64);
        self.metrics.sync_length.with(&job).observe(started.elapsed().as_secs_f64());
    }

    fn start(&self, target: Arc<Target>, cache_from: Option<JoinHandle<Option<SeriesCache>>>) -> Running {
        let (control, receiver) = watch::channel(Control::Run);
        let options = self.loop_options(&target);
        let (client, db, loop_target) = (self.client.clone(), self.db.clone(), Arc::clone(&target));
        let handle = tokio::spawn(async move {
            let cache = match cache_from {
                Some(handle) => handle.await.ok().flatten(),
                None => None,
            };
            scrape_loop::run(loop_target, client, db, options, receiver, cache).await
        });
        Running { target, control, handle }
    }

    fn loop_options(&self, target: &Target) -> LoopOptions {
        LoopOptions {
            interval: target.interval,
            timeout: target.timeout,
            honor_labels: self.config.honor_labels,
            honor_timestamps: self.config.honor_timestamps,
            sample_limit: self.config.sample_limit,
            body_size_limit: self.config.body_size_limit.bytes(),
            label_limit: self.config.label_limit,
            label_name_length_limit: self.config.label_name_length_limit,
            label_value_length_limit: self.config.label_value_length_limit,
            extra_scrape_metrics: self.config.extra_scrape_metrics,
            metric_relabel_configs: self.config.metric_relabel_configs.clone().into(),
            offset_seed: self.offset_seed,
            accept: textparse::accept_header(&self.config.scrape_protocols, &self.config.metric_name_escaping_scheme)
                .into(),
            fallback_scrape_protocol: self.config.fallback_scrape_protocol,
            metrics: Arc::clone(&self.metrics),
        }
    }

    /// Stops every loop (the job is gone); each writes staleness markers for its series an
    /// interval after its next scrape would have been. The handles resolve when the loops end.
    pub fn stop(&self) -> Vec<JoinHandle<Option<SeriesCache>>> {
        self.end(Control::Stop)
    }

    /// Stops every loop for a server shutdown: no staleness markers, so the series continue
    /// after the restart as if nothing had happened.
    pub fn shutdown(&self) -> Vec<JoinHandle<Option<SeriesCache>>> {
        self.end(Control::Shutdown)
    }

    fn end(&self, how: Control) -> Vec<JoinHandle<Option<SeriesCache>>> {
        let mut state = self.state.lock().expect("pool lock");
        let mut handles = Vec::new();
        for running in std::mem::take(&mut state.active).into_values() {
            let _ = running.control.send(how);
            handles.push(running.handle);
        }
        handles
    }

    /// The targets being scraped, in hash order.
    pub fn active_targets(&self) -> Vec<Arc<Target>> {
        self.state.lock().expect("pool lock").active.values().map(|r| Arc::clone(&r.target)).collect()
    }

    /// The targets discovered but not scraped (at most `keep_dropped_targets`), and how many more
    /// were dropped but not kept.
    pub fn dropped_targets(&self) -> (Vec<Dropped>, usize) {
        let state = self.state.lock().expect("pool lock");
        (state.dropped.clone(), state.dropped_uncounted)
    }
}

impl Drop for ScrapePool {
    fn drop(&mut self) {
        self.stop();
    }
}
