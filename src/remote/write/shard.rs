//! One shard of a remote-write queue (upstream `queue_manager.go`'s `shards`): a [`Sender`]
//! batches the samples it is handed up to `max_samples_per_send` or `batch_send_deadline`,
//! builds the 1.0 or 2.0 request, and sends it until it is accepted or refused for good:
//! retries with exponential backoff for 5xx, 429 (with `retry_on_http_429`) and network
//! errors, honouring `Retry-After`; other 4xx drop the batch and count it. A shard sends one
//! batch at a time, so each series' samples arrive in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use promlite_prompb::{self as prompb, v2 as prompb_v2};
use tokio::sync::mpsc;

use super::{Progress, QueueMetrics, QueuedSample};
use crate::config::{ProtobufMessage, RemoteWriteConfig};
use crate::http_client::HttpClient;

/// One shard: batches samples and sends them, one request at a time. (A clone also sends the
/// queue's metadata: [`super::metadata`].)
#[derive(Clone)]
pub(in crate::remote) struct Sender {
    pub(super) client: HttpClient,
    pub(super) url: reqwest::Url,
    pub(in crate::remote) config: RemoteWriteConfig,
    pub(in crate::remote) metrics: Arc<QueueMetrics>,
    pub(in crate::remote) stop: Arc<AtomicBool>,
    pub(in crate::remote) remote: String,
    pub(super) shard: usize,
    pub(super) progress: Arc<std::sync::Mutex<Progress>>,
}

/// How a failed send ends.
pub(in crate::remote) enum SendError {
    /// Retry after this long (5xx, 429 when allowed, network errors).
    Recoverable { retry_after: Option<Duration>, reason: String },
    /// Drop the batch (other 4xx, 429 when not allowed). A 2.0 receiver says in `written` how
    /// many samples it still wrote (a partial write).
    Unrecoverable { reason: String, written: Option<u64> },
}

impl Sender {
    pub(super) async fn run(self, mut rx: mpsc::Receiver<QueuedSample>) {
        let max = self.config.queue_config.max_samples_per_send.max(1) as usize;
        let deadline = self.config.queue_config.batch_send_deadline.as_std();
        let mut batch: Vec<QueuedSample> = Vec::with_capacity(max);
        let mut batch_started = Instant::now();
        loop {
            let wait = deadline.saturating_sub(batch_started.elapsed());
            let received = if batch.is_empty() {
                rx.recv().await.map(Some)
            } else {
                match tokio::time::timeout(wait, rx.recv()).await {
                    Ok(sample) => sample.map(Some),
                    Err(_) => Some(None),
                }
            };
            match received {
                Some(Some(sample)) => {
                    if batch.is_empty() {
                        batch_started = Instant::now();
                    }
                    batch.push(sample);
                    if batch.len() < max {
                        continue;
                    }
                }
                Some(None) => {}
                None => {
                    // Closed for a reshard or a stop: what was queued still goes out.
                    if !batch.is_empty() && !self.stop.load(Ordering::Relaxed) {
                        self.send_with_retries(&batch).await;
                        self.metrics.pending_samples.fetch_sub(batch.len() as i64, Ordering::Relaxed);
                    }
                    return;
                }
            }
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            self.send_with_retries(&batch).await;
            self.metrics.pending_samples.fetch_sub(batch.len() as i64, Ordering::Relaxed);
            batch.clear();
        }
    }

    /// Sends `batch` until it is accepted or refused for good, then marks it done for
    /// [`Progress`]; a stop while retrying leaves it not done, so it is resent after a restart.
    async fn send_with_retries(&self, batch: &[QueuedSample]) {
        if self.try_send_batch(batch).await {
            self.progress.lock().expect("progress lock").ack(batch.iter().map(|s| s.record));
        }
    }

    async fn try_send_batch(&self, batch: &[QueuedSample]) -> bool {
        let age_limit_ms = self.config.queue_config.sample_age_limit.as_std().as_millis() as i64;
        let mut kept: std::borrow::Cow<'_, [QueuedSample]> = std::borrow::Cow::Borrowed(batch);
        let min_backoff = self.config.queue_config.min_backoff.as_std();
        let max_backoff = self.config.queue_config.max_backoff.as_std();
        let mut backoff = min_backoff;
        loop {
            // `sample_age_limit`: samples that grew too old, before the first attempt or while
            // retrying, are dropped rather than sent (upstream checks on every attempt too).
            if age_limit_ms > 0 {
                let oldest = crate::remote::now_ms().saturating_sub(age_limit_ms);
                if kept.iter().any(|s| s.t < oldest) {
                    let young: Vec<QueuedSample> = kept.iter().filter(|s| s.t >= oldest).cloned().collect();
                    let too_old = (kept.len() - young.len()) as u64;
                    self.metrics.dropped_too_old.fetch_add(too_old, Ordering::Relaxed);
                    tracing::debug!(remote_name = %self.remote, shard = self.shard, samples = too_old, "dropping samples older than sample_age_limit");
                    kept = std::borrow::Cow::Owned(young);
                }
                if kept.is_empty() {
                    return true;
                }
            }
            let body = bytes::Bytes::from(match self.config.protobuf_message {
                ProtobufMessage::WriteV1 => prompb::encode_snappy(&write_request_v1(&kept)),
                ProtobufMessage::WriteV2 => prompb::encode_snappy(&write_request_v2(&kept)),
            });
            let n = kept.len() as u64;
            let highest = kept.iter().map(|s| s.t).max().unwrap_or(0);
            let started = Instant::now();
            match self.send(body.clone()).await {
                Ok(None) if n > 0 && self.config.protobuf_message == ProtobufMessage::WriteV2 => {
                    // Upstream's check: a 2xx without any `*-Written` header confirms nothing,
                    // which is what a 1.0-only receiver that ignores `proto=` answers after
                    // reading the 2.0 body as an empty 1.0 request.
                    let reason = format!(
                        "sent a 2.0 request with {n} samples; got 2xx, but no {} header says how many were \
                         written; assuming failure: the receiver may only support remote write 1.0 \
                         (prometheus.WriteRequest) without checking the Content-Type",
                        prompb_v2::SAMPLES_WRITTEN_HEADER
                    );
                    tracing::error!(remote_name = %self.remote, shard = self.shard, samples = n, %reason, "non-recoverable error sending samples to remote storage; dropping them");
                    self.metrics.failed_samples.fetch_add(n, Ordering::Relaxed);
                    return true;
                }
                Ok(written) => {
                    let written = written.unwrap_or(n).min(n);
                    self.metrics.send_nanos.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                    self.metrics.samples.fetch_add(written, Ordering::Relaxed);
                    self.metrics.failed_samples.fetch_add(n - written, Ordering::Relaxed);
                    self.metrics.bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                    self.metrics.highest_sent_ms.fetch_max(highest, Ordering::Relaxed);
                    return true;
                }
                Err(SendError::Unrecoverable { reason, written }) => {
                    let written = written.unwrap_or(0).min(n);
                    tracing::error!(remote_name = %self.remote, shard = self.shard, samples = n - written, %reason, "non-recoverable error sending samples to remote storage; dropping them");
                    self.metrics.samples.fetch_add(written, Ordering::Relaxed);
                    self.metrics.failed_samples.fetch_add(n - written, Ordering::Relaxed);
                    return true;
                }
                Err(SendError::Recoverable { retry_after, reason }) => {
                    tracing::warn!(remote_name = %self.remote, shard = self.shard, samples = n, %reason, "failed to send batch, retrying");
                    self.metrics.retried_samples.fetch_add(n, Ordering::Relaxed);
                    if self.stop.load(Ordering::Relaxed) {
                        return false;
                    }
                    tokio::time::sleep(retry_after.unwrap_or(backoff)).await;
                    backoff = (backoff * 2).min(max_backoff).max(min_backoff);
                }
            }
        }
    }

    /// `text` without the URL's password (reqwest's errors may quote the URL).
    fn redact(&self, text: String) -> String {
        crate::remote::redact_password(text, &self.url)
    }

    /// Posts one request. `Ok` holds the samples a 2.0 receiver says it wrote, when it says.
    pub(in crate::remote) async fn send(&self, body: bytes::Bytes) -> Result<Option<u64>, SendError> {
        let (content_type, version) = match self.config.protobuf_message {
            ProtobufMessage::WriteV1 => (prompb::CONTENT_TYPE, prompb::REMOTE_WRITE_VERSION_1),
            ProtobufMessage::WriteV2 => (prompb_v2::CONTENT_TYPE, prompb_v2::REMOTE_WRITE_VERSION_2),
        };
        let mut request = self
            .client
            .post(self.url.clone())
            .map_err(|err| SendError::Recoverable { retry_after: None, reason: self.redact(err.to_string()) })?
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::CONTENT_ENCODING, "snappy")
            .header("X-Prometheus-Remote-Write-Version", version)
            .timeout(self.config.remote_timeout.as_std())
            .body(body);
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request
            .send()
            .await
            .map_err(|err| SendError::Recoverable { retry_after: None, reason: self.redact(err.to_string()) })?;
        let status = response.status();
        // Only a 2.0 exchange defines the headers; a 1.0 answer's are not read. Any of the three
        // confirms the answer (upstream's `Confirmed`); a missing samples count is then 0.
        let written = match self.config.protobuf_message {
            ProtobufMessage::WriteV1 => None,
            ProtobufMessage::WriteV2 => {
                let headers = response.headers();
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
                let confirmed = [
                    prompb_v2::SAMPLES_WRITTEN_HEADER,
                    prompb_v2::HISTOGRAMS_WRITTEN_HEADER,
                    prompb_v2::EXEMPLARS_WRITTEN_HEADER,
                ]
                .iter()
                .any(|name| headers.contains_key(*name));
                confirmed.then(|| header(prompb_v2::SAMPLES_WRITTEN_HEADER).unwrap_or(0))
            }
        };
        if status.is_success() {
            return Ok(written);
        }
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = response.text().await.unwrap_or_default();
        let line = body.lines().next().unwrap_or("");
        let reason = format!("server returned HTTP status {status}: {line}");
        let retry_429 = status.as_u16() == 429 && self.config.queue_config.retry_on_rate_limit;
        if status.is_server_error() || retry_429 {
            Err(SendError::Recoverable { retry_after, reason })
        } else {
            Err(SendError::Unrecoverable { reason, written })
        }
    }
}

/// A 1.0 request: one series entry per sample, as upstream's 1.0 sender builds them.
fn write_request_v1(batch: &[QueuedSample]) -> prompb::WriteRequest {
    prompb::WriteRequest {
        timeseries: batch
            .iter()
            .map(|s| prompb::TimeSeries {
                labels: s.labels.to_vec(),
                samples: vec![prompb::Sample { value: s.v, timestamp: s.t }],
                exemplars: vec![],
                histograms: vec![],
            })
            .collect(),
        metadata: vec![],
    }
}

/// A 2.0 request: one series entry per series of the batch (its samples stay in batch order,
/// which is timestamp order, since a series always goes through the same shard), label strings
/// once each in the symbol table.
fn write_request_v2(batch: &[QueuedSample]) -> prompb_v2::Request {
    let mut symbols = prompb_v2::SymbolTable::new();
    let mut timeseries: Vec<prompb_v2::TimeSeries> = Vec::new();
    // Samples of one series share one `Arc`; its address finds the series' entry.
    let mut entry_of: HashMap<*const prompb::Label, usize> = HashMap::new();
    for sample in batch {
        let key = Arc::as_ptr(&sample.labels) as *const prompb::Label;
        let index = *entry_of.entry(key).or_insert_with(|| {
            let pairs = sample.labels.iter().map(|l| (l.name.as_str(), l.value.as_str()));
            timeseries.push(prompb_v2::TimeSeries {
                labels_refs: symbols.symbolize_labels(pairs),
                samples: Vec::new(),
                histograms: Vec::new(),
                exemplars: Vec::new(),
                metadata: None,
            });
            timeseries.len() - 1
        });
        let v2_sample = prompb_v2::Sample { value: sample.v, timestamp: sample.t, start_timestamp: 0 };
        timeseries[index].samples.push(v2_sample);
    }
    prompb_v2::Request { symbols: symbols.into_symbols(), timeseries }
}

/// `Retry-After` as seconds or an HTTP date (upstream `retryAfterDuration`).
fn parse_retry_after(value: &str) -> Option<Duration> {
    if let Ok(seconds) = value.trim().parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value.trim()).ok()?;
    when.duration_since(std::time::SystemTime::now()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_2_0_batch_groups_samples_per_series_and_resolves_to_the_sent_labels() {
        let labels = |pairs: &[(&str, &str)]| -> Arc<[prompb::Label]> {
            pairs.iter().map(|&(name, value)| prompb::Label { name: name.into(), value: value.into() }).collect()
        };
        let a = labels(&[("__name__", "up"), ("job", "a")]);
        let b = labels(&[("__name__", "up"), ("job", "b")]);
        let sample = |labels: &Arc<[prompb::Label]>, t: i64, v: f64| QueuedSample {
            labels: Arc::clone(labels),
            t,
            v,
            record: 0,
        };
        let batch = [sample(&a, 1, 1.0), sample(&b, 1, 2.0), sample(&a, 2, f64::NAN), sample(&a, 3, 4.0)];
        let request = write_request_v2(&batch);
        // "" first, then each string once: __name__, up, job, a, b.
        assert_eq!(request.symbols, ["", "__name__", "up", "job", "a", "b"]);
        assert_eq!(request.timeseries.len(), 2);
        let resolved: Vec<Vec<(&str, &str)>> = (0..2).map(|i| request.resolve(i).unwrap().labels).collect();
        assert_eq!(resolved, [vec![("__name__", "up"), ("job", "a")], vec![("__name__", "up"), ("job", "b")]]);
        let samples = |i: usize| -> Vec<(i64, u64)> {
            request.timeseries[i].samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect()
        };
        assert_eq!(samples(0), [(1, 1.0f64.to_bits()), (2, f64::NAN.to_bits()), (3, 4.0f64.to_bits())]);
        assert_eq!(samples(1), [(1, 2.0f64.to_bits())]);
        // The 1.0 request of the same batch: one entry per sample, in batch order.
        let v1 = write_request_v1(&batch);
        assert_eq!(v1.timeseries.len(), 4);
        assert_eq!(v1.timeseries[1].labels, b.to_vec());
    }

    #[test]
    fn retry_after_seconds_or_date() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        let later = std::time::SystemTime::now() + Duration::from_secs(120);
        let got = parse_retry_after(&httpdate::fmt_http_date(later)).unwrap();
        assert!(got > Duration::from_secs(100) && got <= Duration::from_secs(120), "{got:?}");
        assert_eq!(parse_retry_after("soon"), None);
    }
}
