//! One Alertmanager's send loop (upstream `notifier/sendloop.go`): its own bounded queue and a
//! task that posts the queue in batches, so a slow or failing Alertmanager never delays another.
//!
//! A full queue drops its oldest alerts for the newest; a batch that fails is dropped (no
//! retry: the rule manager re-sends firing alerts every `--rules.alert.resend-delay`). Both
//! count in `prometheus_notifications_dropped_total`. When stopped, the loop sends what is
//! queued (with `--alertmanager.drain-notification-queue-on-shutdown`) or drops it, then ends.
//! Invariant: the queue never holds more than its capacity; every alert taken from it is
//! counted once, as sent, or as dropped (and, when its request failed, as an error).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;

use super::alert::encode_alerts;
use super::metrics::{LoopMetrics, NotifierMetrics};
use crate::http_client::{HttpClient, HttpClientError, error_chain};
use crate::rules::OutgoingAlert;

/// Why a batch did not reach the Alertmanager.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// A credential file could not be read.
    #[error(transparent)]
    Client(#[from] HttpClientError),
    /// The request failed (connection, TLS, timeout); the text has the causes.
    #[error("{0}")]
    Http(String),
    /// The Alertmanager answered, but not with a 2xx.
    #[error("bad response status {0}")]
    Status(reqwest::StatusCode),
}

/// Queue settings from the flags.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueueOptions {
    /// `--alertmanager.notification-queue-capacity`.
    pub(crate) capacity: usize,
    /// `--alertmanager.notification-batch-size`.
    pub(crate) batch_size: usize,
    /// `--alertmanager.drain-notification-queue-on-shutdown`.
    pub(crate) drain_on_stop: bool,
}

/// The queue and the signals shared by the loop's task and its callers.
pub(crate) struct SendLoop {
    /// The `alertmanager` label: the URL, its password redacted.
    pub(crate) shown_url: String,
    options: QueueOptions,
    queue: Mutex<VecDeque<Arc<OutgoingAlert>>>,
    /// One stored permit at most: "there is work", upstream's `hasWork` channel of one.
    work: tokio::sync::Notify,
    stopped: AtomicBool,
    metrics: LoopMetrics,
}

/// Where and how a loop posts.
pub(crate) struct Endpoint {
    pub(crate) url: reqwest::Url,
    pub(crate) client: HttpClient,
    pub(crate) timeout: Duration,
}

impl SendLoop {
    /// An empty queue for the Alertmanager shown as `shown_url`; its metrics children exist
    /// from now on.
    pub(crate) fn new(shown_url: String, options: QueueOptions, metrics: &NotifierMetrics) -> Arc<SendLoop> {
        let loop_metrics = metrics.loop_started(&shown_url);
        Arc::new(SendLoop {
            shown_url,
            options,
            queue: Mutex::new(VecDeque::new()),
            work: tokio::sync::Notify::new(),
            stopped: AtomicBool::new(false),
            metrics: loop_metrics,
        })
    }

    /// Runs the loop on the current runtime until [`SendLoop::stop`], then drains or drops the
    /// queue; the handle resolves once it has. The metrics children go with it.
    pub(crate) fn start(
        self: &Arc<Self>,
        endpoint: Endpoint,
        metrics: Arc<NotifierMetrics>,
    ) -> tokio::task::JoinHandle<()> {
        let send_loop = Arc::clone(self);
        tokio::spawn(async move {
            send_loop.run(&endpoint).await;
            metrics.loop_ended(&send_loop.shown_url);
        })
    }

    /// Queues `alerts`, dropping the oldest queued (or, for a batch larger than the whole
    /// queue, its first) ones beyond the capacity. Ignored once stopped.
    pub(crate) fn add(&self, alerts: &[Arc<OutgoingAlert>]) {
        if self.stopped.load(Ordering::Acquire) || alerts.is_empty() {
            return;
        }
        let capacity = self.options.capacity;
        let mut dropped = 0;
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let alerts = match alerts.len().checked_sub(capacity) {
            Some(excess) if excess > 0 => {
                tracing::warn!(alertmanager = %self.shown_url, count = excess, "alert batch larger than queue capacity, dropping alerts");
                dropped += excess;
                &alerts[excess..]
            }
            _ => alerts,
        };
        let excess = (queue.len() + alerts.len()).saturating_sub(capacity);
        if excess > 0 {
            tracing::warn!(alertmanager = %self.shown_url, count = excess, "alert notification queue full, dropping alerts");
            dropped += excess;
            queue.drain(..excess);
        }
        queue.extend(alerts.iter().cloned());
        self.metrics.queue_length.set(queue.len() as f64);
        drop(queue);
        if dropped > 0 {
            self.metrics.dropped.inc_by(dropped as f64);
        }
        self.work.notify_one();
    }

    /// Asks the loop to stop: nothing more is queued; the task drains or drops what is.
    pub(crate) fn stop(&self) {
        self.stopped.store(true, Ordering::Release);
        self.work.notify_one();
    }

    /// Alerts waiting.
    pub(crate) fn queue_len(&self) -> usize {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Counts what is still queued as dropped and empties the queue: for a loop whose drain
    /// ran out of time.
    pub(crate) fn drop_queued(&self) {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let count = queue.len();
        queue.clear();
        self.metrics.queue_length.set(0.0);
        drop(queue);
        self.metrics.dropped.inc_by(count as f64);
    }

    /// The oldest `batch_size` alerts, taken off the queue.
    fn next_batch(&self) -> Vec<Arc<OutgoingAlert>> {
        let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let n = queue.len().min(self.options.batch_size.max(1));
        let batch: Vec<_> = queue.drain(..n).collect();
        self.metrics.queue_length.set(queue.len() as f64);
        batch
    }

    async fn run(&self, endpoint: &Endpoint) {
        tracing::debug!(alertmanager = %self.shown_url, "starting send loop");
        // Stopping takes priority over sending more: the stop path below decides what to do.
        while !self.stopped.load(Ordering::Acquire) {
            self.work.notified().await;
            while !self.stopped.load(Ordering::Acquire) && self.queue_len() > 0 {
                self.send_one_batch(endpoint).await;
            }
        }
        if self.options.drain_on_stop {
            while self.queue_len() > 0 {
                self.send_one_batch(endpoint).await;
            }
        } else {
            let count = self.queue_len();
            if count > 0 {
                tracing::warn!(alertmanager = %self.shown_url, count, "alert notification queue not drained on shutdown, dropping alerts");
            }
            self.drop_queued();
        }
        tracing::debug!(alertmanager = %self.shown_url, "send loop stopped");
    }

    async fn send_one_batch(&self, endpoint: &Endpoint) {
        let batch = self.next_batch();
        if batch.is_empty() {
            return;
        }
        let count = batch.len() as f64;
        let begin = Instant::now();
        match post(endpoint, encode_alerts(&batch)).await {
            Ok(()) => {
                self.metrics.observe_latency(begin.elapsed().as_secs_f64());
                self.metrics.sent.inc_by(count);
            }
            Err(err) => {
                let error = promlite_web::redact_password_in(&err.to_string(), endpoint.url.as_str()).into_owned();
                tracing::error!(alertmanager = %self.shown_url, count = batch.len(), %error, "error sending alerts");
                self.metrics.errors.inc_by(count);
                self.metrics.dropped.inc_by(count);
            }
        }
    }
}

/// One `POST` of `body`, bounded by the endpoint's timeout; any 2xx is success.
async fn post(endpoint: &Endpoint, body: Vec<u8>) -> Result<(), SendError> {
    let request = endpoint
        .client
        .post(endpoint.url.clone())?
        .header(CONTENT_TYPE, "application/json")
        .timeout(endpoint.timeout)
        .body(body);
    let response = request.send().await.map_err(|err| SendError::Http(error_chain(&err)))?;
    let status = response.status();
    // Read the body so the connection can be reused.
    let _ = response.bytes().await;
    if !status.is_success() {
        return Err(SendError::Status(status));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use promlite_storage::Labels;

    use super::*;

    fn alerts(names: std::ops::Range<usize>) -> Vec<Arc<OutgoingAlert>> {
        names
            .map(|i| {
                Arc::new(OutgoingAlert {
                    labels: Labels::from_pairs([("alertname", format!("a{i}"))]),
                    annotations: BTreeMap::new(),
                    starts_at: 0,
                    ends_at: 0,
                    generator_url: String::new(),
                })
            })
            .collect()
    }

    fn names(batch: &[Arc<OutgoingAlert>]) -> Vec<String> {
        batch.iter().map(|a| a.labels.get("alertname").to_owned()).collect()
    }

    fn send_loop(capacity: usize, batch_size: usize) -> (Arc<SendLoop>, promlite_metrics::Registry) {
        let registry = promlite_metrics::Registry::new();
        let metrics = NotifierMetrics::new(&registry);
        let options = QueueOptions { capacity, batch_size, drain_on_stop: true };
        (SendLoop::new("http://am:9093/api/v2/alerts".to_owned(), options, &metrics), registry)
    }

    fn metric(registry: &promlite_metrics::Registry, name: &str) -> String {
        let prefix = format!("{name}{{alertmanager=\"http://am:9093/api/v2/alerts\"}} ");
        registry.encode().lines().find_map(|l| l.strip_prefix(&prefix).map(str::to_owned)).unwrap_or_default()
    }

    #[test]
    fn a_full_queue_drops_its_oldest_alerts_and_counts_them() {
        let (send_loop, registry) = send_loop(5, 256);
        send_loop.add(&alerts(0..3));
        send_loop.add(&alerts(3..7));
        assert_eq!(names(&send_loop.next_batch()), ["a2", "a3", "a4", "a5", "a6"]);
        assert_eq!(metric(&registry, "prometheus_notifications_dropped_total"), "2");
    }

    #[test]
    fn a_batch_larger_than_the_queue_keeps_its_newest_alerts() {
        let (send_loop, registry) = send_loop(3, 256);
        send_loop.add(&alerts(0..1));
        send_loop.add(&alerts(1..6));
        assert_eq!(names(&send_loop.next_batch()), ["a3", "a4", "a5"]);
        assert_eq!(metric(&registry, "prometheus_notifications_dropped_total"), "3");
    }

    #[test]
    fn batches_are_at_most_batch_size_oldest_first() {
        let (send_loop, registry) = send_loop(100, 4);
        send_loop.add(&alerts(0..10));
        assert_eq!(metric(&registry, "prometheus_notifications_queue_length"), "10");
        let sizes: Vec<usize> = std::iter::from_fn(|| Some(send_loop.next_batch()))
            .take_while(|b| !b.is_empty())
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, [4, 4, 2]);
        assert_eq!(metric(&registry, "prometheus_notifications_queue_length"), "0");
    }

    #[test]
    fn a_stopped_loop_takes_nothing_more() {
        let (send_loop, _registry) = send_loop(10, 4);
        send_loop.add(&alerts(0..2));
        send_loop.stop();
        send_loop.add(&alerts(2..4));
        assert_eq!(send_loop.queue_len(), 2);
        send_loop.drop_queued();
        assert_eq!(send_loop.queue_len(), 0);
    }
}
