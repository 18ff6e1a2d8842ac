//! `prometheus_notifications_*` (upstream `notifier/metric.go`), with 3.14's names, help, types
//! and labels: every family but the queue capacity is by `alertmanager` (the URL, its password
//! redacted), as 3.x queues per Alertmanager. The discovered count is the notifier's collector.
//! Invariant: an Alertmanager's children exist while a send loop for it runs, and are removed
//! when its last loop ends (two loops for one URL run while a changed set drains the old one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use promlite_metrics::{Counter, Family, Gauge, Histogram, Registry, Summary, SummaryOptions};

/// The notifier's families.
pub(crate) struct NotifierMetrics {
    latency: Family<Summary>,
    latency_histogram: Family<Histogram>,
    errors: Family<Counter>,
    sent: Family<Counter>,
    dropped: Family<Counter>,
    queue_length: Family<Gauge>,
    pub(crate) queue_capacity: Arc<Gauge>,
    /// Running send loops per Alertmanager label value.
    loops: Mutex<HashMap<String, usize>>,
}

/// One send loop's children of the labelled families.
pub(crate) struct LoopMetrics {
    alertmanager: String,
    latency: Family<Summary>,
    latency_histogram: Family<Histogram>,
    pub(crate) errors: Arc<Counter>,
    pub(crate) sent: Arc<Counter>,
    pub(crate) dropped: Arc<Counter>,
    pub(crate) queue_length: Arc<Gauge>,
}

impl NotifierMetrics {
    /// Registers the families in `registry`.
    pub(crate) fn new(registry: &Registry) -> NotifierMetrics {
        let by_alertmanager = &["alertmanager"];
        NotifierMetrics {
            latency: registry.family::<Summary>(
                "prometheus_notifications_latency_seconds",
                "Latency quantiles for sending alert notifications.",
                by_alertmanager,
                SummaryOptions::quantiles(&[0.5, 0.9, 0.99]),
            ),
            latency_histogram: registry.family::<Histogram>(
                "prometheus_notifications_latency_histogram_seconds",
                "Latency histogram for sending alert notifications.",
                by_alertmanager,
                Arc::from([0.01, 0.1, 1.0, 10.0]),
            ),
            errors: registry.family::<Counter>(
                "prometheus_notifications_errors_total",
                "Total number of sent alerts affected by errors.",
                by_alertmanager,
                (),
            ),
            sent: registry.family::<Counter>(
                "prometheus_notifications_sent_total",
                "Total number of alerts sent.",
                by_alertmanager,
                (),
            ),
            dropped: registry.family::<Counter>(
                "prometheus_notifications_dropped_total",
                "Total number of alerts dropped due to errors when sending to Alertmanager.",
                by_alertmanager,
                (),
            ),
            queue_length: registry.family::<Gauge>(
                "prometheus_notifications_queue_length",
                "The number of alert notifications in the queue.",
                by_alertmanager,
                (),
            ),
            queue_capacity: registry
                .gauge("prometheus_notifications_queue_capacity", "The capacity of the alert notifications queue."),
            loops: Mutex::default(),
        }
    }

    /// The children of a new send loop for `alertmanager`, the counters and the queue length
    /// created at zero as upstream's are (the latency ones on the first send).
    pub(crate) fn loop_started(&self, alertmanager: &str) -> LoopMetrics {
        *self.loops.lock().unwrap_or_else(PoisonError::into_inner).entry(alertmanager.to_owned()).or_default() += 1;
        let labels = &[alertmanager];
        LoopMetrics {
            alertmanager: alertmanager.to_owned(),
            latency: self.latency.clone(),
            latency_histogram: self.latency_histogram.clone(),
            errors: self.errors.with(labels),
            sent: self.sent.with(labels),
            dropped: self.dropped.with(labels),
            queue_length: self.queue_length.with(labels),
        }
    }

    /// A send loop for `alertmanager` has ended; the last one removes its children.
    pub(crate) fn loop_ended(&self, alertmanager: &str) {
        let mut loops = self.loops.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(count) = loops.get_mut(alertmanager) else { return };
        *count -= 1;
        if *count > 0 {
            return;
        }
        loops.remove(alertmanager);
        let labels = &[alertmanager];
        self.latency.remove(labels);
        self.latency_histogram.remove(labels);
        self.errors.remove(labels);
        self.sent.remove(labels);
        self.dropped.remove(labels);
        self.queue_length.remove(labels);
    }
}

impl LoopMetrics {
    /// Records how long a successful request took.
    pub(crate) fn observe_latency(&self, seconds: f64) {
        let labels = &[self.alertmanager.as_str()];
        self.latency.with(labels).observe(seconds);
        self.latency_histogram.with(labels).observe(seconds);
    }
}
