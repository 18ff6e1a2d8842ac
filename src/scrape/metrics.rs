//! The scrape manager's families (upstream `scrape/metrics.go`): refused scrapes, samples the
//! head rejected, intervals between scrapes, target syncs and scrape pool changes. One
//! [`ScrapeMetrics`] is owned by the manager and shared with its pools and loops.

use std::sync::Arc;
use std::time::Duration;

use promlite_metrics::{Counter, Family, Registry, Summary, SummaryOptions};
use promlite_storage::AppendError;

use super::error::ScrapeError;

/// Quantiles of `prometheus_target_interval_length_seconds` and
/// `prometheus_target_sync_length_seconds`, as upstream.
const QUANTILES: [f64; 5] = [0.01, 0.05, 0.5, 0.9, 0.99];

/// Every `prometheus_target_*` family the manager, its pools and loops update.
#[derive(Debug)]
pub struct ScrapeMetrics {
    exceeded_sample_limit: Arc<Counter>,
    exceeded_body_size_limit: Arc<Counter>,
    exceeded_label_limits: Arc<Counter>,
    storage_failed: Arc<Counter>,
    pub(crate) exceeded_target_limit: Arc<Counter>,
    sample_out_of_order: Arc<Counter>,
    sample_duplicate_timestamp: Arc<Counter>,
    sample_out_of_bounds: Arc<Counter>,
    interval_length: Family<Summary>,
    pub(crate) sync_length: Family<Summary>,
    pub(crate) syncs: Family<Counter>,
    pub(crate) sync_failed: Family<Counter>,
    pub(crate) pools: Arc<Counter>,
    pub(crate) pools_failed: Arc<Counter>,
    pub(crate) pool_reloads: Arc<Counter>,
    pub(crate) pool_reloads_failed: Arc<Counter>,
}

impl ScrapeMetrics {
    /// Registers the families in `registry`.
    pub fn new(registry: &Registry) -> Self {
        let counter = |name: &str, help: &str| registry.counter(name, help);
        let summary = |name: &str, help: &str, label: &'static str| {
            registry.family::<Summary>(name, help, &[label], SummaryOptions::quantiles(&QUANTILES))
        };
        Self {
            exceeded_sample_limit: counter(
                "prometheus_target_scrapes_exceeded_sample_limit_total",
                "Total number of scrapes that hit the sample limit and were rejected.",
            ),
            exceeded_body_size_limit: counter(
                "prometheus_target_scrapes_exceeded_body_size_limit_total",
                "Total number of scrapes that hit the body size limit",
            ),
            exceeded_label_limits: counter(
                "prometheus_target_scrape_pool_exceeded_label_limits_total",
                "Total number of times scrape pools hit the label limits, during sync or config reload.",
            ),
            storage_failed: counter(
                "promlite_target_scrapes_storage_failed_total",
                "Scrapes whose samples the TSDB could not store (a full disk); nothing of them was stored.",
            ),
            exceeded_target_limit: counter(
                "prometheus_target_scrape_pool_exceeded_target_limit_total",
                "Total number of times scrape pools hit the target limit, during sync or config reload.",
            ),
            sample_out_of_order: counter(
                "prometheus_target_scrapes_sample_out_of_order_total",
                "Total number of samples rejected due to not being out of the expected order.",
            ),
            sample_duplicate_timestamp: counter(
                "prometheus_target_scrapes_sample_duplicate_timestamp_total",
                "Total number of samples rejected due to duplicate timestamps but different values.",
            ),
            sample_out_of_bounds: counter(
                "prometheus_target_scrapes_sample_out_of_bounds_total",
                "Total number of samples rejected due to timestamp falling outside of the time bounds.",
            ),
            interval_length: summary(
                "prometheus_target_interval_length_seconds",
                "Actual intervals between scrapes.",
                "interval",
            ),
            sync_length: summary(
                "prometheus_target_sync_length_seconds",
                "Actual interval to sync the scrape pool.",
                "scrape_job",
            ),
            syncs: registry.family(
                "prometheus_target_scrape_pool_sync_total",
                "Total number of syncs that were executed on a scrape pool.",
                &["scrape_job"],
                (),
            ),
            sync_failed: registry.family(
                "prometheus_target_sync_failed_total",
                "Total number of target sync failures.",
                &["scrape_job"],
                (),
            ),
            pools: counter("prometheus_target_scrape_pools_total", "Total number of scrape pool creation attempts."),
            pools_failed: counter(
                "prometheus_target_scrape_pools_failed_total",
                "Total number of scrape pool creations that failed.",
            ),
            pool_reloads: counter(
                "prometheus_target_scrape_pool_reloads_total",
                "Total number of scrape pool reloads.",
            ),
            pool_reloads_failed: counter(
                "prometheus_target_scrape_pool_reloads_failed_total",
                "Total number of failed scrape pool reloads.",
            ),
        }
    }

    /// Counts a scrape refused by a limit or by storage.
    pub(crate) fn count_refused(&self, err: &ScrapeError) {
        let counter = match err {
            ScrapeError::SampleLimit(_) => &self.exceeded_sample_limit,
            ScrapeError::BodySizeLimit(_) => &self.exceeded_body_size_limit,
            ScrapeError::LabelLimit(_) => &self.exceeded_label_limits,
            ScrapeError::Storage(_) => &self.storage_failed,
            _ => return,
        };
        counter.inc();
    }

    /// Counts a sample the head rejected at commit, or one too far in the future.
    pub(crate) fn count_rejected(&self, err: &AppendError) {
        match err {
            AppendError::OutOfOrder => self.sample_out_of_order.inc(),
            AppendError::DuplicateTimestamp => self.sample_duplicate_timestamp.inc(),
            AppendError::OutOfBounds => self.sample_out_of_bounds.inc(),
            _ => {}
        }
    }

    /// Counts samples more than 10 minutes in the future (upstream counts them as out of bounds).
    pub(crate) fn count_out_of_bounds(&self, samples: u64) {
        self.sample_out_of_bounds.inc_by(samples as f64);
    }

    /// The summary a loop of this configured interval observes its scrape intervals in.
    pub(crate) fn interval_length(&self, interval: Duration) -> Arc<Summary> {
        self.interval_length.with(&[&go_duration(interval)])
    }
}

/// A duration as Go's `time.Duration.String` writes it (`15s`, `1m0s`, `1h30m0s`, `500ms`),
/// which is how upstream labels `prometheus_target_interval_length_seconds`.
fn go_duration(d: Duration) -> String {
    let total_ms = d.as_millis() as u64;
    if total_ms == 0 {
        return "0s".to_owned();
    }
    if total_ms < 1000 {
        return format!("{total_ms}ms");
    }
    let (h, m) = (total_ms / 3_600_000, (total_ms / 60_000) % 60);
    let secs = (total_ms % 60_000) as f64 / 1000.0;
    let s = format!("{secs}s");
    match (h, m) {
        (0, 0) => s,
        (0, m) => format!("{m}m{s}"),
        (h, m) => format!("{h}h{m}m{s}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_as_go_writes_them() {
        let cases = [(15_000, "15s"), (60_000, "1m0s"), (90_000, "1m30s"), (5_400_000, "1h30m0s"), (500, "500ms")];
        for (ms, want) in cases {
            assert_eq!(go_duration(Duration::from_millis(ms)), want);
        }
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
    }
}
