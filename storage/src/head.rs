//! The head: the in-memory series and their recent samples (upstream `tsdb/head.go`).
//!
//! Series are found by label set (a sharded map) and by postings (label name → value → sorted
//! series refs). An [`Appender`] buffers samples and applies them on `commit`, in order, so a
//! rolled-back batch leaves no trace.
//!
//! FIXME(#4): walking skeleton. Samples are kept as plain `(t, v)` pairs in memory with no WAL,
//! no XOR chunks and no `chunks_head/`, so a restart loses everything and memory is 16 B/sample.
//! The public surface (`Appender`, `Querier`, `SeriesRef`) is the one the real head keeps.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::labels::Labels;
use crate::matcher::Matcher;

/// Identifies a series in the head for the life of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesRef(pub u64);

/// One sample: a millisecond timestamp and a float value (stale markers are a special NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; [`STALE_NAN`] bits mark staleness.
    pub v: f64,
}

/// The bit pattern Prometheus writes as a staleness marker.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a float. Compare with [`is_stale_nan`], never with `==`.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is a staleness marker (bit-exact; any other NaN is an ordinary value).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// Why a sample was not appended; the texts are Prometheus's (`storage/interface.go`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    /// The sample is older than the newest sample of its series.
    #[error("out of order sample")]
    OutOfOrder,
    /// Same timestamp as the newest sample, different value.
    #[error("duplicate sample for timestamp")]
    DuplicateTimestamp,
    /// A label set that cannot name a series.
    #[error("invalid label set {0}: {1}")]
    InvalidLabels(String, &'static str),
}

/// Counters the head keeps for `/metrics` and `/api/v1/status/tsdb`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeadStats {
    /// Series in the head (`prometheus_tsdb_head_series`).
    pub series: u64,
    /// Series ever created (`prometheus_tsdb_head_series_created_total`).
    pub series_created: u64,
    /// Samples committed (`prometheus_tsdb_head_samples_appended_total`).
    pub samples_appended: u64,
    /// Samples rejected as out of order (`prometheus_tsdb_out_of_order_samples_total`).
    pub out_of_order_samples: u64,
    /// Lowest sample timestamp in the head, ms, or `i64::MAX` when empty.
    pub min_time: i64,
    /// Highest sample timestamp in the head, ms, or `i64::MIN` when empty.
    pub max_time: i64,
}

pub(crate) struct MemSeries {
    pub(crate) labels: Labels,
    pub(crate) samples: Vec<Sample>,
}

#[derive(Default)]
struct Postings {
    /// name → value → refs, each list ascending because refs are handed out in order.
    by_label: BTreeMap<String, BTreeMap<String, Vec<SeriesRef>>>,
}

pub(crate) struct Head {
    by_labels: RwLock<HashMap<Labels, SeriesRef, foldhash::fast::RandomState>>,
    series: RwLock<Vec<Arc<Mutex<MemSeries>>>>,
    postings: RwLock<Postings>,
    samples_appended: AtomicU64,
    out_of_order: AtomicU64,
    min_time: std::sync::atomic::AtomicI64,
    max_time: std::sync::atomic::AtomicI64,
}

impl Head {
    pub(crate) fn new() -> Head {
        Head {
            by_labels: RwLock::new(HashMap::default()),
            series: RwLock::new(Vec::new()),
            postings: RwLock::new(Postings::default()),
            samples_appended: AtomicU64::new(0),
            out_of_order: AtomicU64::new(0),
            min_time: std::sync::atomic::AtomicI64::new(i64::MAX),
            max_time: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }

    fn get_or_create(&self, labels: &Labels) -> SeriesRef {
        if let Some(series_ref) = self.by_labels.read().expect("head lock").get(labels) {
            return *series_ref;
        }
        let mut by_labels = self.by_labels.write().expect("head lock");
        if let Some(series_ref) = by_labels.get(labels) {
            return *series_ref;
        }
        let mut series = self.series.write().expect("head lock");
        let series_ref = SeriesRef(series.len() as u64);
        series.push(Arc::new(Mutex::new(MemSeries { labels: labels.clone(), samples: Vec::new() })));
        let mut postings = self.postings.write().expect("head lock");
        for label in labels {
            postings
                .by_label
                .entry(label.name.clone())
                .or_default()
                .entry(label.value.clone())
                .or_default()
                .push(series_ref);
        }
        by_labels.insert(labels.clone(), series_ref);
        series_ref
    }

    fn series(&self, series_ref: SeriesRef) -> Option<Arc<Mutex<MemSeries>>> {
        self.series.read().expect("head lock").get(series_ref.0 as usize).cloned()
    }

    pub(crate) fn stats(&self) -> HeadStats {
        let series = self.series.read().expect("head lock").len() as u64;
        HeadStats {
            series,
            series_created: series,
            samples_appended: self.samples_appended.load(Ordering::Relaxed),
            out_of_order_samples: self.out_of_order.load(Ordering::Relaxed),
            min_time: self.min_time.load(Ordering::Relaxed),
            max_time: self.max_time.load(Ordering::Relaxed),
        }
    }

    /// Refs of series satisfying every matcher, ascending.
    pub(crate) fn select_refs(&self, matchers: &[Matcher]) -> Vec<SeriesRef> {
        let postings = self.postings.read().expect("head lock");
        let all = self.series.read().expect("head lock").len() as u64;
        let mut candidates: Option<Vec<SeriesRef>> = None;
        // Matchers that select by a present value narrow via postings; the rest filter after.
        for matcher in matchers.iter().filter(|m| !m.matches_empty()) {
            let mut refs: Vec<SeriesRef> = postings
                .by_label
                .get(&matcher.name)
                .into_iter()
                .flat_map(|values| values.iter())
                .filter(|(value, _)| matcher.matches(value))
                .flat_map(|(_, refs)| refs.iter().copied())
                .collect();
            refs.sort_unstable();
            candidates = Some(match candidates {
                None => refs,
                Some(prev) => intersect(&prev, &refs),
            });
        }
        drop(postings);
        let candidates = candidates.unwrap_or_else(|| (0..all).map(SeriesRef).collect());
        let rest: Vec<&Matcher> = matchers.iter().filter(|m| m.matches_empty()).collect();
        if rest.is_empty() {
            return candidates;
        }
        candidates
            .into_iter()
            .filter(|series_ref| {
                self.series(*series_ref).is_some_and(|s| {
                    let series = s.lock().expect("series lock");
                    rest.iter().all(|m| m.matches(series.labels.get(&m.name)))
                })
            })
            .collect()
    }

    pub(crate) fn series_data(&self, series_ref: SeriesRef, mint: i64, maxt: i64) -> Option<(Labels, Vec<Sample>)> {
        let series = self.series(series_ref)?;
        let series = series.lock().expect("series lock");
        let start = series.samples.partition_point(|s| s.t < mint);
        let end = series.samples.partition_point(|s| s.t <= maxt);
        Some((series.labels.clone(), series.samples[start..end.max(start)].to_vec()))
    }

    pub(crate) fn label_names(&self) -> Vec<String> {
        self.postings.read().expect("head lock").by_label.keys().cloned().collect()
    }

    pub(crate) fn label_values(&self, name: &str) -> Vec<String> {
        let postings = self.postings.read().expect("head lock");
        postings.by_label.get(name).map(|values| values.keys().cloned().collect()).unwrap_or_default()
    }
}

fn intersect(a: &[SeriesRef], b: &[SeriesRef]) -> Vec<SeriesRef> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Buffers samples for one batch (one scrape, one remote-write request); nothing is visible to
/// queries until [`Appender::commit`].
pub struct Appender {
    head: Arc<Head>,
    pending: Vec<(SeriesRef, Sample)>,
}

impl Appender {
    pub(crate) fn new(head: Arc<Head>) -> Appender {
        Appender { head, pending: Vec::new() }
    }

    /// Queues a sample for `labels`, creating the series if needed, and returns its ref for
    /// [`Appender::append_ref`] next time.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        if labels.is_empty() {
            return Err(AppendError::InvalidLabels(labels.to_string(), "empty label set"));
        }
        let series_ref = self.head.get_or_create(labels);
        self.pending.push((series_ref, Sample { t, v }));
        Ok(series_ref)
    }

    /// Queues a sample for a series the caller already resolved.
    pub fn append_ref(&mut self, series_ref: SeriesRef, t: i64, v: f64) {
        self.pending.push((series_ref, Sample { t, v }));
    }

    /// Applies the batch. Samples the head rejects are counted and reported, and the rest still
    /// land, as in Prometheus's head appender.
    pub fn commit(self) -> Vec<(SeriesRef, AppendError)> {
        let mut rejected = Vec::new();
        let mut appended = 0u64;
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        for (series_ref, sample) in self.pending {
            let Some(series) = self.head.series(series_ref) else { continue };
            let mut series = series.lock().expect("series lock");
            if let Some(last) = series.samples.last() {
                if sample.t < last.t {
                    rejected.push((series_ref, AppendError::OutOfOrder));
                    continue;
                }
                if sample.t == last.t {
                    // An identical resend is a no-op, as in Prometheus; a different value is not.
                    if last.v.to_bits() != sample.v.to_bits() {
                        rejected.push((series_ref, AppendError::DuplicateTimestamp));
                    }
                    continue;
                }
            }
            series.samples.push(sample);
            appended += 1;
            mint = mint.min(sample.t);
            maxt = maxt.max(sample.t);
        }
        self.head.samples_appended.fetch_add(appended, Ordering::Relaxed);
        let out_of_order = rejected.iter().filter(|(_, e)| *e == AppendError::OutOfOrder).count() as u64;
        self.head.out_of_order.fetch_add(out_of_order, Ordering::Relaxed);
        self.head.min_time.fetch_min(mint, Ordering::Relaxed);
        self.head.max_time.fetch_max(maxt, Ordering::Relaxed);
        rejected
    }

    /// Drops the batch. Series it created stay (empty), as in Prometheus.
    pub fn rollback(self) {}
}
