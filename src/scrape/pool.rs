//! A scrape pool (upstream `scrape/scrape.go` `scrapePool`): one job's targets and their loops.
//!
//! Invariant: `active` is keyed by target hash and every entry owns exactly one running loop; a
//! target that leaves the pool has its loop stopped (which writes its staleness markers).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use promlite_storage::{Db, Labels};
use tokio::sync::watch;

use super::scrape_loop::{self, LoopOptions};
use super::target::{Target, populate_labels};
use crate::config::ScrapeConfig;
use crate::discovery::TargetGroup;

struct Running {
    target: Arc<Target>,
    stop: watch::Sender<bool>,
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
    client: reqwest::Client,
    db: Db,
    offset_seed: u64,
    active: Mutex<BTreeMap<u64, Running>>,
    dropped: Mutex<Vec<Dropped>>,
}

/// The HTTP client for a job could not be built.
#[derive(Debug, thiserror::Error)]
#[error("job {job:?}: building the HTTP client: {reason}")]
pub struct ClientError {
    job: String,
    reason: String,
}

impl ScrapePool {
    /// A pool for `config`, with no targets yet.
    pub fn new(config: Arc<ScrapeConfig>, db: Db, offset_seed: u64) -> Result<ScrapePool, ClientError> {
        let redirect = if config.http_client_config.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        let client = reqwest::Client::builder()
            .user_agent(concat!("promlite/", env!("CARGO_PKG_VERSION")))
            .redirect(redirect)
            .build()
            .map_err(|err| ClientError { job: config.job_name.clone(), reason: err.to_string() })?;
        Ok(ScrapePool {
            config,
            client,
            db,
            offset_seed,
            active: Mutex::new(BTreeMap::new()),
            dropped: Mutex::new(Vec::new()),
        })
    }

    /// The job's configuration.
    pub fn config(&self) -> &ScrapeConfig {
        &self.config
    }

    /// Makes the running loops match `groups`: new targets start, vanished ones stop, unchanged
    /// ones keep running untouched (so their scrape phase and series cache survive).
    pub fn sync(&self, groups: &[TargetGroup]) {
        let mut wanted: BTreeMap<u64, Target> = BTreeMap::new();
        let mut dropped = Vec::new();
        for group in groups {
            for target_labels in &group.targets {
                match populate_labels(&self.config, &group.labels, target_labels) {
                    Ok(target) => {
                        wanted.insert(target.hash, target);
                    }
                    Err((discovered_labels, reason)) => {
                        dropped.push(Dropped { discovered_labels, reason: reason.to_string() })
                    }
                }
            }
        }
        let mut active = self.active.lock().expect("pool lock");
        active.retain(|hash, running| {
            let keep = wanted.contains_key(hash);
            if !keep {
                let _ = running.stop.send(true);
            }
            keep
        });
        for (hash, target) in wanted {
            if active.contains_key(&hash) {
                continue;
            }
            let target = Arc::new(target);
            let (stop, stopped) = watch::channel(false);
            tokio::spawn(scrape_loop::run(
                Arc::clone(&target),
                self.client.clone(),
                self.db.clone(),
                self.loop_options(),
                stopped,
            ));
            active.insert(hash, Running { target, stop });
        }
        *self.dropped.lock().expect("pool lock") = dropped;
    }

    fn loop_options(&self) -> LoopOptions {
        LoopOptions {
            interval: self.config.scrape_interval.into(),
            timeout: self.config.scrape_timeout.into(),
            honor_labels: self.config.honor_labels,
            honor_timestamps: self.config.honor_timestamps,
            sample_limit: self.config.sample_limit,
            body_size_limit: self.config.body_size_limit.bytes(),
            offset_seed: self.offset_seed,
        }
    }

    /// Stops every loop.
    pub fn stop(&self) {
        let mut active = self.active.lock().expect("pool lock");
        for running in active.values() {
            let _ = running.stop.send(true);
        }
        active.clear();
    }

    /// The targets being scraped, in hash order.
    pub fn active_targets(&self) -> Vec<Arc<Target>> {
        self.active.lock().expect("pool lock").values().map(|r| Arc::clone(&r.target)).collect()
    }

    /// The targets discovered but not scraped.
    pub fn dropped_targets(&self) -> Vec<Dropped> {
        self.dropped.lock().expect("pool lock").clone()
    }
}

impl Drop for ScrapePool {
    fn drop(&mut self) {
        self.stop();
    }
}
