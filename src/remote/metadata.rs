//! Metric metadata sent to `remote_write` endpoints (upstream `storage/remote/metadata_watcher.go`
//! and `QueueManager.AppendWatcherMetadata`): every `metadata_config.send_interval`, the
//! metadata of every active target's metric families (type, help, unit, as scraped) goes out in
//! 1.0 requests holding only metadata, at most `metadata_config.max_samples_per_send` entries
//! each, retried with the queue's backoff like samples. As upstream, entries are not
//! de-duplicated across targets, the first send is one interval after the queue starts, and
//! only 1.0 queues send it. A 2.0 queue sends none, which is upstream's default too: its 2.0
//! per-series metadata comes from WAL metadata records, behind
//! `--enable-feature=metadata-wal-records`, which promlite does not have.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use promlite_prompb as prompb;

use super::write::{SendError, Sender};

/// Where the metadata to send comes from: the scrape manager's, read fresh at each send.
pub type MetadataSource = Arc<dyn Fn() -> Vec<prompb::MetricMetadata> + Send + Sync>;

/// `prompb.MetricMetadata.MetricType` for a `# TYPE` word.
pub fn metric_type(kind: &str) -> i32 {
    match kind {
        "counter" => 1,
        "gauge" => 2,
        "histogram" => 3,
        "gaugehistogram" => 4,
        "summary" => 5,
        "info" => 6,
        "stateset" => 7,
        _ => 0,
    }
}

/// Sends the metadata every interval until the queue stops.
pub(super) async fn run(sender: Sender, source: MetadataSource) {
    let config = sender.config.metadata_config.clone();
    let interval = config.send_interval.as_std().max(std::time::Duration::from_millis(100));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if sender.stop.load(Ordering::Relaxed) {
            return;
        }
        // Every target's metadata, cloned: off the async workers, as it grows with the targets.
        let collect = Arc::clone(&source);
        let Ok(metadata) = tokio::task::spawn_blocking(move || collect()).await else { return };
        for batch in metadata.chunks(config.max_samples_per_send.max(1) as usize) {
            if !send_with_retries(&sender, batch).await {
                return;
            }
        }
    }
}

/// Sends one batch until it is accepted or refused for good; `false` when the queue stopped.
async fn send_with_retries(sender: &Sender, batch: &[prompb::MetricMetadata]) -> bool {
    let request = prompb::WriteRequest { timeseries: vec![], metadata: batch.to_vec() };
    let body = bytes::Bytes::from(prompb::encode_snappy(&request));
    let n = batch.len() as u64;
    let metrics = &sender.metrics;
    let min_backoff = sender.config.queue_config.min_backoff.as_std();
    let max_backoff = sender.config.queue_config.max_backoff.as_std();
    let mut backoff = min_backoff;
    loop {
        match sender.send(body.clone()).await {
            Ok(_) => {
                metrics.metadata.fetch_add(n, Ordering::Relaxed);
                metrics.metadata_bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                return true;
            }
            Err(SendError::Unrecoverable { reason, .. }) => {
                tracing::error!(remote_name = %sender.remote, entries = n, %reason, "non-recoverable error sending metadata to remote storage; dropping it");
                metrics.metadata_failed.fetch_add(n, Ordering::Relaxed);
                return true;
            }
            Err(SendError::Recoverable { retry_after, reason }) => {
                tracing::warn!(remote_name = %sender.remote, entries = n, %reason, "failed to send metadata, retrying");
                metrics.metadata_retried.fetch_add(n, Ordering::Relaxed);
                if sender.stop.load(Ordering::Relaxed) {
                    return false;
                }
                tokio::time::sleep(retry_after.unwrap_or(backoff)).await;
                backoff = (backoff * 2).min(max_backoff).max(min_backoff);
            }
        }
    }
}
