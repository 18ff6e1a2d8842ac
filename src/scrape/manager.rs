//! The scrape manager (upstream `scrape/manager.go`): one [`ScrapePool`] per job.
//!
//! It implements the web layer's `TargetsView`, so `/targets` and `/api/v1/targets` read
//! snapshots from here. FIXME(#5): applying a new config restarts every pool; reload should keep
//! unchanged pools and targets running.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, RwLock};

use promlite_storage::Db;
use promlite_web::{ActiveTarget, DroppedTarget, TargetsView};

use super::pool::{ClientError, ScrapePool};
use crate::config::Config;
use crate::discovery;

/// Owns the scrape pools.
pub struct Manager {
    db: Db,
    offset_seed: u64,
    pools: RwLock<BTreeMap<String, Arc<ScrapePool>>>,
}

impl Manager {
    /// A manager appending to `db`; `offset_seed` spreads this server's targets over the interval.
    pub fn new(db: Db, offset_seed: u64) -> Manager {
        Manager { db, offset_seed, pools: RwLock::new(BTreeMap::new()) }
    }

    /// Replaces all pools with ones built from `config`, and starts their targets. Must run
    /// inside a tokio runtime.
    pub fn apply_config(&self, config: &Config) -> Result<(), ClientError> {
        let mut pools = BTreeMap::new();
        for scrape_config in &config.scrape_configs {
            let unsupported = discovery::unsupported_mechanisms(scrape_config);
            if !unsupported.is_empty() {
                tracing::warn!(scrape_pool = %scrape_config.job_name, mechanisms = ?unsupported, "service discovery not implemented yet; these targets are not discovered");
            }
            if !scrape_config.relabel_configs.is_empty() || !scrape_config.metric_relabel_configs.is_empty() {
                tracing::warn!(scrape_pool = %scrape_config.job_name, "relabel_configs and metric_relabel_configs are not applied yet");
            }
            let pool = ScrapePool::new(Arc::new(scrape_config.clone()), self.db.clone(), self.offset_seed)?;
            pool.sync(&discovery::static_groups(scrape_config));
            pools.insert(scrape_config.job_name.clone(), Arc::new(pool));
        }
        let old = std::mem::replace(&mut *self.pools.write().expect("manager lock"), pools);
        for pool in old.values() {
            pool.stop();
        }
        Ok(())
    }

    /// Stops every pool; each loop writes staleness markers for its series as it ends.
    pub fn stop(&self) {
        let pools = std::mem::take(&mut *self.pools.write().expect("manager lock"));
        for pool in pools.values() {
            pool.stop();
        }
    }

    fn pools(&self) -> Vec<Arc<ScrapePool>> {
        self.pools.read().expect("manager lock").values().cloned().collect()
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
                    scrape_interval: config.scrape_interval.into(),
                    scrape_timeout: config.scrape_timeout.into(),
                });
            }
        }
        out
    }

    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        let mut out = Vec::new();
        for pool in self.pools() {
            for dropped in pool.dropped_targets() {
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
        self.pools.read().expect("manager lock").keys().cloned().collect()
    }

    fn write_metrics(&self, out: &mut String) {
        out.push_str("# HELP prometheus_target_scrape_pool_targets Current number of targets in this scrape pool.\n");
        out.push_str("# TYPE prometheus_target_scrape_pool_targets gauge\n");
        for pool in self.pools() {
            let _ = writeln!(
                out,
                "prometheus_target_scrape_pool_targets{{scrape_job=\"{}\"}} {}",
                pool.config().job_name,
                pool.active_targets().len()
            );
        }
    }
}
