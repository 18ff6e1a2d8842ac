//! The remote-write sender (upstream `storage/remote/queue_manager.go` and `wlog/watcher.go`):
//! one [`QueueManager`] per `remote_write` entry tails the WAL, relabels each series once when
//! its Series record is read, and hands samples to shards that batch them into remote-write
//! requests: 1.0 (`prometheus.WriteRequest`, the default) or 2.0 (`io.prometheus.write.v2.Request`
//! with `protobuf_message` set so).
//!
//! Invariants:
//! - Nothing committed after the queue started is lost while the WAL holds it: shards retry a
//!   batch until it is accepted or refused for good (a 4xx other than 429), and a full shard
//!   blocks the WAL reader instead of dropping, so during an outage the backlog stays in the WAL
//!   and is sent in order once the receiver is back.
//! - A series always goes to the same shard, and a shard sends one batch at a time, so each
//!   series' samples arrive in timestamp order.
//!
//! - The shard count follows upstream's calculation every 10 s (time per sample × (incoming
//!   rate + 5% of the backlog per second), within `min_shards`..`max_shards`, ignored within
//!   30% or while sends fail); a reshard drains every shard before starting the new ones.
//!
//! - A restart resumes: each queue saves (every second and when it stops) the WAL position up
//!   to which every sample was accepted or refused for good, in `<data dir>/remote_write/
//!   <remote_name>`, and a queue that finds one sends everything after it. Upstream instead
//!   starts from the current time and skips what was unsent; promlite's way can resend a batch
//!   whose answer was lost in a crash (receivers ignore an identical sample).
//!
//! - 2.0 batches group each series' samples under one `TimeSeries` whose labels go through the
//!   request's symbol table, and the receiver's `X-Prometheus-Remote-Write-Samples-Written`
//!   header is believed: samples it did not write count as failed. A 2xx with none of the
//!   `*-Written` headers confirms nothing and is a non-recoverable error (the receiver likely
//!   ignored the `Content-Type` and read 2.0 bytes as an empty 1.0 request), as upstream's
//!   sender decides (`!Confirmed && NoDataWritten`).
//!
//! - `sample_age_limit`: a sample older than the limit when a send is attempted (the first or a
//!   retry) is dropped and counted in `samples_dropped_total`, as upstream.
//! - Metadata goes out on its own schedule ([`super::metadata`]), 1.0 queues only.
//!
//! FIXME(#9): exemplars and native histograms are not sent (in either version; the head stores
//! neither). No automatic fallback to 1.0 when a receiver answers 415 to 2.0 (upstream has none
//! either).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use promlite_metrics::{Encoder, FamilyEncoder, MetricType};
use promlite_prompb as prompb;
use promlite_storage::{Labels, TailRecord, WalPosition, WalTail};
use tokio::sync::mpsc;

use crate::config::{ProtobufMessage, RemoteWriteConfig};
use crate::http_client::{HttpClient, HttpClientError};

mod shard;

pub(super) use shard::{SendError, Sender};

/// How often the WAL is polled when it had nothing new.
const WAL_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A sample on its way to a shard: the series' labels as sent, shared by all its samples.
#[derive(Clone)]
struct QueuedSample {
    labels: Arc<[prompb::Label]>,
    t: i64,
    v: f64,
    /// The WAL record it came from (see [`Progress`]).
    record: u64,
}

/// Which WAL records are fully sent, so a restart resumes after them: each Samples record gets
/// a number and a count of samples in flight; when the oldest records reach zero, their end
/// becomes the resume position, written to `<data dir>/remote_write/<remote_name>`.
/// A sample counts as done once accepted or refused for good, never while retried.
#[derive(Default)]
struct Progress {
    /// Number of the front record in `records`.
    front: u64,
    /// Samples in flight per record, oldest first, with the record's end.
    records: std::collections::VecDeque<(usize, WalPosition)>,
    /// The end of the newest record whose samples, and all before it, are done.
    done: Option<WalPosition>,
}

impl Progress {
    /// Registers a record with `in_flight` samples about to be queued; returns its number.
    fn push(&mut self, in_flight: usize, end: WalPosition) -> u64 {
        self.records.push_back((in_flight, end));
        let number = self.front + self.records.len() as u64 - 1;
        self.advance();
        number
    }

    fn ack(&mut self, records: impl Iterator<Item = u64>) {
        for record in records {
            if let Some(entry) = record.checked_sub(self.front).and_then(|i| self.records.get_mut(i as usize)) {
                entry.0 = entry.0.saturating_sub(1);
            }
        }
        self.advance();
    }

    fn advance(&mut self) {
        while let Some(&(0, end)) = self.records.front() {
            self.done = Some(end);
            self.records.pop_front();
            self.front += 1;
        }
    }
}

fn read_position(path: &std::path::Path) -> Option<WalPosition> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut parts = text.split_whitespace();
    Some(WalPosition { segment: parts.next()?.parse().ok()?, offset: parts.next()?.parse().ok()? })
}

/// Replaces the file through a rename, so a crash leaves the old position or the new one.
fn write_position(path: &std::path::Path, position: WalPosition) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, format!("{} {}\n", position.segment, position.offset))?;
    std::fs::rename(&tmp, path)
}

/// Counters and gauges of one queue, under Prometheus's `prometheus_remote_storage_*` names.
#[derive(Default)]
pub struct QueueMetrics {
    samples: AtomicU64,
    failed_samples: AtomicU64,
    retried_samples: AtomicU64,
    /// Samples read but not sent, by upstream's `reason`: their series was dropped by
    /// `write_relabel_configs`, their series record was never seen, they were older than
    /// `sample_age_limit`.
    dropped_series: AtomicU64,
    dropped_unknown_series: AtomicU64,
    dropped_too_old: AtomicU64,
    pending_samples: AtomicI64,
    bytes: AtomicU64,
    highest_sent_ms: AtomicI64,
    highest_read_ms: AtomicI64,
    shards: AtomicU64,
    shards_desired: AtomicU64,
    /// The WAL segment the watcher reads (`prometheus_wal_watcher_current_segment`); -1 while
    /// it has none open.
    watcher_segment: AtomicI64,
    /// Samples handed to shards (the "samples in" of the shard calculation).
    read_samples: AtomicU64,
    /// Time spent in successful sends, nanoseconds.
    send_nanos: AtomicU64,
    /// Metadata entries sent, refused for good, retried; metadata bytes sent.
    pub(super) metadata: AtomicU64,
    pub(super) metadata_failed: AtomicU64,
    pub(super) metadata_retried: AtomicU64,
    pub(super) metadata_bytes: AtomicU64,
}

/// A running sender for one `remote_write` entry; stops when dropped.
pub struct QueueManager {
    /// `remote_name` label: the config's `name`, or a hash of the config.
    pub name: String,
    /// `url` label: the endpoint, its password (if any) redacted.
    pub url: String,
    config: RemoteWriteConfig,
    metrics: Arc<QueueMetrics>,
    stop: Arc<AtomicBool>,
}

/// The queue cannot start.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The HTTP client cannot be built from the config.
    #[error("remote_write {url}: {source}")]
    Client {
        /// The endpoint.
        url: String,
        /// Why.
        source: HttpClientError,
    },
    /// The URL does not parse (validated at config load, so only a bug reaches this).
    #[error("remote_write url {url:?}: {reason}")]
    Url {
        /// The endpoint.
        url: String,
        /// Why.
        reason: String,
    },
}

impl QueueManager {
    /// Starts tailing `wal_dir`. With a resume position saved in `position_dir` by an earlier
    /// run of this queue (same `remote_name`), sends every sample after it; otherwise samples
    /// with a timestamp at or after `start_ms`, as upstream does.
    /// Must be called inside a tokio runtime (the shards are tasks).
    pub fn start(
        config: &RemoteWriteConfig,
        external_labels: &[(String, String)],
        wal_dir: &std::path::Path,
        start_ms: i64,
        position_dir: &std::path::Path,
        metadata: Option<super::metadata::MetadataSource>,
    ) -> Result<QueueManager, QueueError> {
        let client = HttpClient::new(&config.http_client_config)
            .map_err(|source| QueueError::Client { url: config.url.to_string(), source })?;
        let url = reqwest::Url::parse(config.url.expose())
            .map_err(|err| QueueError::Url { url: config.url.to_string(), reason: err.to_string() })?;
        let shown_url = promlite_web::redact_url(url.as_str()).into_owned();
        let name = super::remote_name(&config.name, config.url.expose());
        let metrics = Arc::new(QueueMetrics::default());
        let stop = Arc::new(AtomicBool::new(false));
        let shards = config.queue_config.min_shards.max(1) as usize;
        let template = Sender {
            client,
            url,
            config: config.clone(),
            metrics: Arc::clone(&metrics),
            stop: Arc::clone(&stop),
            remote: name.clone(),
            shard: 0,
            progress: Arc::default(),
        };
        let mut shard_set = Shards {
            senders: Vec::new(),
            template,
            runtime: tokio::runtime::Handle::current(),
            live: Arc::new(AtomicUsize::new(0)),
        };
        if let Some(source) = metadata
            && config.metadata_config.send
            && config.protobuf_message == ProtobufMessage::WriteV1
        {
            shard_set.runtime.spawn(super::metadata::run(shard_set.template.clone(), source));
        }
        let position_file = position_dir.join(&name);
        let resume = read_position(&position_file);
        if let Some(position) = resume {
            tracing::info!(remote_name = %name, segment = position.segment, offset = position.offset, "remote write resumes after the last fully sent WAL record");
        }
        let progress = Arc::new(std::sync::Mutex::new(Progress::default()));
        shard_set.template.progress = Arc::clone(&progress);
        shard_set.spawn(shards);
        let watcher = Watcher {
            tail: WalTail::new(wal_dir),
            start_ms: if resume.is_some() { i64::MIN } else { start_ms },
            resume,
            progress,
            position_file,
            saved: resume,
            last_save: Instant::now(),
            series: HashMap::new(),
            relabel: config.write_relabel_configs.clone(),
            external_labels: external_labels.to_vec(),
            shards: shard_set,
            resharding: Resharding::new(&metrics),
            metrics: Arc::clone(&metrics),
            stop: Arc::clone(&stop),
        };
        let thread_name = format!("remote-write-{name}");
        std::thread::Builder::new()
            .name(thread_name)
            .spawn(move || watcher.run())
            .expect("spawning the remote-write WAL watcher thread");
        tracing::info!(remote_name = %name, url = %shown_url, shards, "starting remote write queue");
        Ok(QueueManager { name, url: shown_url, config: config.clone(), metrics, stop })
    }

    /// The config this queue runs.
    pub fn config(&self) -> &RemoteWriteConfig {
        &self.config
    }

    /// This queue's metrics in the text format, without `# HELP`/`# TYPE` lines (see
    /// [`write_metric_families`]).
    fn write_samples(&self, name: &str, family: &mut FamilyEncoder<'_>) {
        let m = &self.metrics;
        let labels = [("remote_name", self.name.as_str()), ("url", self.url.as_str())];
        let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        let value = match name {
            "prometheus_remote_storage_samples_total" => load(&m.samples),
            "prometheus_remote_storage_samples_failed_total" => load(&m.failed_samples),
            "prometheus_remote_storage_samples_retried_total" => load(&m.retried_samples),
            "prometheus_remote_storage_samples_dropped_total" => {
                for (reason, counter) in [
                    ("dropped_series", &m.dropped_series),
                    ("too_old", &m.dropped_too_old),
                    ("unintentionally_dropped_series", &m.dropped_unknown_series),
                ] {
                    family.sample(&[labels[0], labels[1], ("reason", reason)], load(counter));
                }
                return;
            }
            "prometheus_remote_storage_samples_pending" => {
                family.sample(&labels, m.pending_samples.load(Ordering::Relaxed) as f64);
                return;
            }
            "prometheus_remote_storage_bytes_total" => load(&m.bytes),
            "prometheus_remote_storage_queue_highest_timestamp_seconds" => {
                family.sample(&labels, self.highest_read_ms() as f64 / 1000.0);
                return;
            }
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds" => {
                family.sample(&labels, m.highest_sent_ms.load(Ordering::Relaxed) as f64 / 1000.0);
                return;
            }
            "prometheus_remote_storage_shards" => load(&m.shards),
            "prometheus_remote_storage_shards_desired" => load(&m.shards_desired),
            "prometheus_remote_storage_shards_min" => self.config.queue_config.min_shards,
            "prometheus_remote_storage_shard_capacity" => self.config.queue_config.capacity,
            "prometheus_remote_storage_max_samples_per_send" => self.config.queue_config.max_samples_per_send,
            "prometheus_wal_watcher_current_segment" => {
                family.sample(&[("consumer", self.name.as_str())], m.watcher_segment.load(Ordering::Relaxed) as f64);
                return;
            }
            "prometheus_remote_storage_shards_max" => self.config.queue_config.max_shards,
            "prometheus_remote_storage_metadata_total" => load(&m.metadata),
            "prometheus_remote_storage_metadata_failed_total" => load(&m.metadata_failed),
            "prometheus_remote_storage_metadata_retried_total" => load(&m.metadata_retried),
            "prometheus_remote_storage_metadata_bytes_total" => load(&m.metadata_bytes),
            _ => return,
        };
        family.sample(&labels, value);
    }

    /// The newest sample timestamp read from the WAL, milliseconds (0 before any).
    fn highest_read_ms(&self) -> i64 {
        self.metrics.highest_read_ms.load(Ordering::Relaxed)
    }
}

impl Drop for QueueManager {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

const FAMILIES: [(&str, MetricType, &str); 19] = [
    (
        "prometheus_remote_storage_shard_capacity",
        MetricType::Gauge,
        "The capacity of each shard of the queue used for parallel sending to the remote storage.",
    ),
    (
        "prometheus_remote_storage_max_samples_per_send",
        MetricType::Gauge,
        "The maximum number of samples to be sent, in a single request, to the remote storage. Note that, when sending of exemplars over remote write is enabled, exemplars count towards this limt.",
    ),
    (
        "prometheus_wal_watcher_current_segment",
        MetricType::Gauge,
        "Current segment the WAL watcher is reading records from.",
    ),
    (
        "prometheus_remote_storage_queue_highest_timestamp_seconds",
        MetricType::Gauge,
        "Highest timestamp that was enqueued, in seconds since epoch. Initialized to 0 when no data has been received yet.",
    ),
    ("prometheus_remote_storage_samples_total", MetricType::Counter, "Total number of samples sent to remote storage."),
    (
        "prometheus_remote_storage_samples_failed_total",
        MetricType::Counter,
        "Total number of samples which failed on send to remote storage, non-recoverable errors.",
    ),
    (
        "prometheus_remote_storage_samples_retried_total",
        MetricType::Counter,
        "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.",
    ),
    (
        "prometheus_remote_storage_samples_dropped_total",
        MetricType::Counter,
        "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID.",
    ),
    (
        "prometheus_remote_storage_samples_pending",
        MetricType::Gauge,
        "The number of samples pending in the queues shards to be sent to the remote storage.",
    ),
    (
        "prometheus_remote_storage_bytes_total",
        MetricType::Counter,
        "The total number of bytes of data (not metadata) sent by the queue after compression.",
    ),
    (
        "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
        MetricType::Gauge,
        "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.",
    ),
    (
        "prometheus_remote_storage_shards",
        MetricType::Gauge,
        "The number of shards used for parallel sending to the remote storage.",
    ),
    (
        "prometheus_remote_storage_shards_desired",
        MetricType::Gauge,
        "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.",
    ),
    (
        "prometheus_remote_storage_shards_min",
        MetricType::Gauge,
        "The minimum number of shards that the queue is allowed to run.",
    ),
    (
        "prometheus_remote_storage_shards_max",
        MetricType::Gauge,
        "The maximum number of shards that the queue is allowed to run.",
    ),
    (
        "prometheus_remote_storage_metadata_total",
        MetricType::Counter,
        "Total number of metadata entries sent to remote storage.",
    ),
    (
        "prometheus_remote_storage_metadata_failed_total",
        MetricType::Counter,
        "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.",
    ),
    (
        "prometheus_remote_storage_metadata_retried_total",
        MetricType::Counter,
        "Total number of metadata entries which failed on send to remote storage but were retried because the send error was recoverable.",
    ),
    (
        "prometheus_remote_storage_metadata_bytes_total",
        MetricType::Counter,
        "The total number of bytes of metadata sent by the queue after compression.",
    ),
];

/// Writes every queue's metrics, one family at a time, plus the queue-independent
/// `prometheus_remote_storage_highest_timestamp_in_seconds`.
pub fn write_metric_families(queues: &[QueueManager], enc: &mut Encoder) {
    if queues.is_empty() {
        return;
    }
    let highest = queues.iter().map(QueueManager::highest_read_ms).max().unwrap_or(0);
    enc.single(
        "prometheus_remote_storage_highest_timestamp_in_seconds",
        "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch.",
        MetricType::Gauge,
        highest as f64 / 1000.0,
    );
    for (name, kind, help) in FAMILIES {
        let mut family = enc.family(name, help, kind);
        for queue in queues {
            queue.write_samples(name, &mut family);
        }
    }
}

/// Reads the WAL and feeds the shards (a plain thread: reading files blocks).
struct Watcher {
    tail: WalTail,
    start_ms: i64,
    /// Samples records ending at or before this were sent by an earlier run.
    resume: Option<WalPosition>,
    progress: Arc<std::sync::Mutex<Progress>>,
    position_file: std::path::PathBuf,
    saved: Option<WalPosition>,
    last_save: Instant,
    /// Series ref → labels as sent, or `None` when write relabeling dropped the series.
    series: HashMap<u64, Option<Arc<[prompb::Label]>>>,
    relabel: Vec<crate::relabel::RelabelConfig>,
    external_labels: Vec<(String, String)>,
    shards: Shards,
    resharding: Resharding,
    metrics: Arc<QueueMetrics>,
    stop: Arc<AtomicBool>,
}

/// The running shards of one queue.
struct Shards {
    senders: Vec<mpsc::Sender<QueuedSample>>,
    /// Cloned for each new shard.
    template: Sender,
    runtime: tokio::runtime::Handle,
    /// Shard tasks still running (they finish their queued samples after their sender closes).
    live: Arc<AtomicUsize>,
}

impl Shards {
    fn spawn(&mut self, n: usize) {
        let capacity = self.template.config.queue_config.capacity.max(1) as usize;
        for shard in 0..n {
            let (tx, rx) = mpsc::channel::<QueuedSample>(capacity);
            self.senders.push(tx);
            let mut sender = self.template.clone();
            sender.shard = shard;
            let live = Arc::clone(&self.live);
            live.fetch_add(1, Ordering::SeqCst);
            self.runtime.spawn(async move {
                sender.run(rx).await;
                live.fetch_sub(1, Ordering::SeqCst);
            });
        }
        self.template.metrics.shards.store(n as u64, Ordering::Relaxed);
        self.template.metrics.shards_desired.store(n as u64, Ordering::Relaxed);
    }

    /// Closes every shard, waits until each has sent what it holds, then starts `n` new ones;
    /// so a series' samples never overtake each other while moving to another shard. False if
    /// stopped meanwhile.
    fn reshard(&mut self, n: usize, stop: &AtomicBool) -> bool {
        self.senders.clear();
        while self.live.load(Ordering::SeqCst) > 0 {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.spawn(n);
        true
    }
}

/// How often the shard count is recomputed (upstream `shardUpdateDuration`).
const SHARD_UPDATE_INTERVAL: Duration = Duration::from_secs(10);
/// A new shard count within this fraction of the current one is not worth a reshard
/// (upstream `shardToleranceFraction`).
const SHARD_TOLERANCE: f64 = 0.3;

/// The inputs of upstream's shard calculation, sampled every [`SHARD_UPDATE_INTERVAL`].
struct Resharding {
    last: Instant,
    read: u64,
    sent: u64,
    send_nanos: u64,
    retried: u64,
    failed: u64,
}

impl Resharding {
    fn new(metrics: &QueueMetrics) -> Resharding {
        Resharding {
            last: Instant::now(),
            read: metrics.read_samples.load(Ordering::Relaxed),
            sent: metrics.samples.load(Ordering::Relaxed),
            send_nanos: metrics.send_nanos.load(Ordering::Relaxed),
            retried: metrics.retried_samples.load(Ordering::Relaxed),
            failed: metrics.failed_samples.load(Ordering::Relaxed),
        }
    }

    /// The shard count the last interval asks for, or `None` when it is not time yet, the
    /// change is within tolerance, or sends were failing (more shards would not help a
    /// receiver that is down).
    fn desired(&mut self, metrics: &QueueMetrics, current: usize, min: usize, max: usize) -> Option<usize> {
        let elapsed = self.last.elapsed();
        if elapsed < SHARD_UPDATE_INTERVAL {
            return None;
        }
        let now = Resharding::new(metrics);
        let read = now.read - self.read;
        let sent = now.sent - self.sent;
        let send_nanos = now.send_nanos - self.send_nanos;
        let troubled = now.retried != self.retried || now.failed != self.failed;
        *self = now;
        if troubled || sent == 0 {
            return None;
        }
        // Seconds one shard spends per sample, times the samples per second to move: the
        // incoming rate plus 5% of the backlog each second (upstream's catch-up term).
        let per_sample = send_nanos as f64 / 1e9 / sent as f64;
        let pending = metrics.pending_samples.load(Ordering::Relaxed).max(0) as f64;
        let rate_in = read as f64 / elapsed.as_secs_f64();
        let desired = (per_sample * (rate_in + 0.05 * pending)).ceil() as usize;
        let desired = desired.clamp(min.max(1), max.max(1));
        metrics.shards_desired.store(desired as u64, Ordering::Relaxed);
        let lower = current as f64 * (1.0 - SHARD_TOLERANCE);
        let upper = current as f64 * (1.0 + SHARD_TOLERANCE);
        if desired as f64 >= lower && desired as f64 <= upper {
            return None;
        }
        Some(desired)
    }
}

impl Watcher {
    fn run(mut self) {
        self.follow();
        self.save_position();
    }

    /// Writes the resume position when it moved (at most once a second while running).
    fn save_position(&mut self) {
        let done = self.progress.lock().expect("progress lock").done;
        if let Some(done) = done
            && Some(done) != self.saved
        {
            match write_position(&self.position_file, done) {
                Ok(()) => self.saved = Some(done),
                Err(err) => {
                    tracing::warn!(file = %self.position_file.display(), error = %err, "remote write: cannot save the resume position")
                }
            }
        }
        self.last_save = Instant::now();
    }

    fn follow(&mut self) {
        let mut logged_error = false;
        while !self.stop.load(Ordering::Relaxed) {
            if self.last_save.elapsed() >= Duration::from_secs(1) {
                self.save_position();
            }
            let polled = self.tail.poll();
            let segment = self.tail.position().0.map_or(-1, i64::from);
            self.metrics.watcher_segment.store(segment, Ordering::Relaxed);
            let records = match polled {
                Ok(records) => records,
                Err(err) => {
                    if !logged_error {
                        tracing::error!(error = %err, "remote write: reading the WAL failed; retrying");
                        logged_error = true;
                    }
                    std::thread::sleep(Duration::from_secs(1));
                    continue;
                }
            };
            let q = &self.shards.template.config.queue_config;
            let (min, max) = (q.min_shards as usize, q.max_shards as usize);
            if let Some(n) = self.resharding.desired(&self.metrics, self.shards.senders.len(), min, max) {
                tracing::info!(from = self.shards.senders.len(), to = n, "remote storage resharding");
                if !self.shards.reshard(n, &self.stop) {
                    return;
                }
            }
            if records.is_empty() {
                std::thread::sleep(WAL_POLL_INTERVAL);
                continue;
            }
            for (record, end) in records {
                match record {
                    TailRecord::Series(series) => {
                        for (series_ref, labels) in series {
                            let sent = self.series_labels(&labels);
                            self.series.insert(series_ref, sent);
                        }
                    }
                    TailRecord::Samples(_) if self.resume.is_some_and(|resume| end <= resume) => {}
                    TailRecord::Samples(samples) => {
                        let mut queued = Vec::with_capacity(samples.len());
                        for (series_ref, t, v) in samples {
                            if t < self.start_ms {
                                continue;
                            }
                            self.metrics.highest_read_ms.fetch_max(t, Ordering::Relaxed);
                            match self.series.get(&series_ref) {
                                Some(Some(labels)) => queued.push((series_ref, Arc::clone(labels), t, v)),
                                Some(None) => {
                                    self.metrics.dropped_series.fetch_add(1, Ordering::Relaxed);
                                }
                                None => {
                                    self.metrics.dropped_unknown_series.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        let number = self.progress.lock().expect("progress lock").push(queued.len(), end);
                        for (series_ref, labels, t, v) in queued {
                            if !self.enqueue(series_ref, QueuedSample { labels, t, v, record: number }) {
                                return;
                            }
                        }
                    }
                }
            }
        }
    }

    /// External labels first (a series' own label wins), then `write_relabel_configs`, as
    /// upstream orders them.
    fn series_labels(&self, labels: &Labels) -> Option<Arc<[prompb::Label]>> {
        let mut with_external = labels.clone();
        if self.external_labels.iter().any(|(name, _)| !labels.has(name)) {
            let mut builder = promlite_storage::LabelsBuilder::new(labels);
            for (name, value) in &self.external_labels {
                if !labels.has(name) {
                    builder.set(name.clone(), value.clone());
                }
            }
            with_external = builder.labels();
        }
        let relabeled = crate::relabel::process(&with_external, &self.relabel)?;
        let sent: Vec<prompb::Label> =
            relabeled.iter().map(|l| prompb::Label { name: l.name.clone(), value: l.value.clone() }).collect();
        Some(sent.into())
    }

    /// Hands one sample to its shard, waiting while the shard is full; false once stopped.
    fn enqueue(&mut self, series_ref: u64, mut sample: QueuedSample) -> bool {
        self.metrics.read_samples.fetch_add(1, Ordering::Relaxed);
        let shard = &self.shards.senders[(series_ref % self.shards.senders.len() as u64) as usize];
        self.metrics.pending_samples.fetch_add(1, Ordering::Relaxed);
        // Backpressure: a full shard (receiver slow or down) holds the reader here, and what
        // is not read yet stays in the WAL. The timeout only lets a stop request through.
        loop {
            match shard.try_send(sample) {
                Ok(()) => return true,
                Err(mpsc::error::TrySendError::Full(back)) => {
                    if self.stop.load(Ordering::Relaxed) {
                        return false;
                    }
                    sample = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_moves_only_past_records_whose_samples_are_all_done() {
        let at = |offset| WalPosition { segment: 0, offset };
        let mut progress = Progress::default();
        let a = progress.push(2, at(10));
        let b = progress.push(0, at(20)); // every sample filtered: done once `a` is
        let c = progress.push(1, at(30));
        assert_eq!(progress.done, None);
        progress.ack([c].into_iter());
        assert_eq!(progress.done, None, "a later record finishing first does not move past `a`");
        progress.ack([a].into_iter());
        assert_eq!(progress.done, None);
        progress.ack([a, b].into_iter());
        assert_eq!(progress.done, Some(at(30)));
        let d = progress.push(0, at(40));
        assert_eq!((d, progress.done), (3, Some(at(40))));
        progress.ack([a, 99].into_iter()); // stale or unknown numbers change nothing
        assert_eq!(progress.done, Some(at(40)));
    }

    #[test]
    fn position_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("remote_write").join("q");
        assert_eq!(read_position(&path), None);
        let position = WalPosition { segment: 3, offset: 65_536 };
        write_position(&path, position).unwrap();
        assert_eq!(read_position(&path), Some(position));
    }
}
