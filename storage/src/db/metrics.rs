//! Counters of compaction, truncation and retention, under Prometheus's metric names
//! (upstream `tsdb/db.go` `dbMetrics`, `head.go` `headMetrics`, `wlog` checkpoint metrics).

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;

/// Upstream `prometheus_tsdb_compaction_duration_seconds` buckets: `ExponentialBuckets(1, 2, 14)`.
pub const COMPACTION_DURATION_BUCKETS: [f64; 14] =
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0];

/// A histogram's cumulative counts per bucket, sum and count.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    /// Observations at or below each of [`COMPACTION_DURATION_BUCKETS`].
    pub buckets: [u64; 14],
    /// Sum of observed values.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

impl Histogram {
    fn observe(&mut self, value: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(COMPACTION_DURATION_BUCKETS) {
            if value <= bound {
                *bucket += 1;
            }
        }
        self.sum += value;
        self.count += 1;
    }
}

/// The counters; one set per [`crate::Db`], shared by its clones.
#[derive(Debug, Default)]
pub struct TsdbMetrics {
    /// `prometheus_tsdb_compactions_total`.
    pub compactions: AtomicU64,
    /// `prometheus_tsdb_compactions_failed_total`.
    pub compactions_failed: AtomicU64,
    /// `prometheus_tsdb_compactions_triggered_total`.
    pub compactions_triggered: AtomicU64,
    /// `prometheus_tsdb_head_truncations_total`.
    pub head_truncations: AtomicU64,
    /// `prometheus_tsdb_head_truncations_failed_total`.
    pub head_truncations_failed: AtomicU64,
    /// `prometheus_tsdb_head_gc_duration_seconds` is not kept; series removed by head GC
    /// (`promlite_tsdb_head_series_removed_total`, upstream `prometheus_tsdb_head_series_removed_total`).
    pub head_series_removed: AtomicU64,
    /// `prometheus_tsdb_checkpoint_creations_total`.
    pub checkpoint_creations: AtomicU64,
    /// `prometheus_tsdb_checkpoint_creations_failed_total`.
    pub checkpoint_creations_failed: AtomicU64,
    /// `prometheus_tsdb_checkpoint_deletions_total`.
    pub checkpoint_deletions: AtomicU64,
    /// `prometheus_tsdb_checkpoint_deletions_failed_total`.
    pub checkpoint_deletions_failed: AtomicU64,
    /// `prometheus_tsdb_wal_truncations_total`.
    pub wal_truncations: AtomicU64,
    /// `prometheus_tsdb_wal_truncations_failed_total`.
    pub wal_truncations_failed: AtomicU64,
    /// `prometheus_tsdb_size_retentions_total`.
    pub size_retentions: AtomicU64,
    /// `prometheus_tsdb_time_retentions_total`.
    pub time_retentions: AtomicU64,
    /// `prometheus_tsdb_reloads_failures_total`: block deletions or loads that failed.
    pub reload_failures: AtomicU64,
    /// Blocks moved to `quarantine/` because they failed verification
    /// (`promlite_tsdb_blocks_quarantined_total`).
    pub blocks_quarantined: AtomicU64,
    /// `prometheus_tsdb_compaction_duration_seconds`.
    pub compaction_duration: Mutex<Histogram>,
}

impl TsdbMetrics {
    pub(crate) fn observe_compaction(&self, seconds: f64) {
        self.compaction_duration.lock().unwrap_or_else(std::sync::PoisonError::into_inner).observe(seconds);
    }
}
