//! The head appender (upstream `tsdb/head_append.go`): buffers one batch, then on `commit`
//! checks it against the series, writes the accepted samples to the WAL and only then applies
//! them, all under the WAL lock: the WAL holds commits in the order the head applied them, and a
//! sample a query can see is already in the WAL.
//! Invariant: a series' Series record reaches the WAL buffer before any sample that uses its ref
//! can (it is logged while the series is still invisible to other appenders), so replay never
//! meets a sample for a series it does not know unless the WAL was damaged.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{AppendError, Appended, Head, MemSeries, SeriesRef};
use crate::labels::Labels;
use crate::wal::record::{RefSample, encode_samples};

/// Buffers samples for one batch (one scrape, one remote-write request); nothing is visible to
/// queries until [`Appender::commit`].
pub struct Appender {
    head: Arc<Head>,
    pending: Vec<RefSample>,
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
        let (series, _) = self.head.get_or_create(labels, None);
        self.pending.push(RefSample { series_ref: series.series_ref, t, v });
        Ok(SeriesRef(series.series_ref))
    }

    /// Queues a sample for a series the caller already resolved. An unknown ref is reported by
    /// `commit` as [`AppendError::UnknownSeriesRef`].
    pub fn append_ref(&mut self, series_ref: SeriesRef, t: i64, v: f64) {
        self.pending.push(RefSample { series_ref: series_ref.0, t, v });
    }

    /// Applies the batch and writes it to the WAL. Samples the head rejects are counted and
    /// returned, and the rest still land, as in Prometheus's head appender.
    ///
    /// A WAL write error does not fail the batch (it is already in the head and queryable); it
    /// is logged, counted in `prometheus_tsdb_wal_writes_failed_total`, and marks the database
    /// unhealthy ([`crate::Db::healthy`]) so `/-/ready` turns 503: the samples will not survive
    /// a restart.
    pub fn commit(self) -> Vec<(SeriesRef, AppendError)> {
        let head = &self.head;
        let mut wal = head.wal.lock().expect("wal lock");
        // Holding the WAL lock, no other commit changes a series between the check and the
        // apply, and the WAL gets the samples before queries can see them.
        let (accepted, rejected) = head.validate(&self.pending, true);
        if let Some(wal) = wal.as_mut() {
            let result = if accepted.is_empty() {
                wal.flush()
            } else {
                let samples: Vec<RefSample> = accepted.iter().map(|(s, _)| *s).collect();
                let mut buf = Vec::with_capacity(17 + samples.len() * 12);
                encode_samples(&mut buf, &samples);
                wal.log(&buf).and_then(|()| wal.flush())
            };
            if let Err(err) = result {
                head.wal_failed(&err);
            }
        }
        head.apply_validated(&accepted);
        rejected
    }

    /// Drops the batch. Series it created stay (empty) and their records are flushed, as in
    /// Prometheus.
    pub fn rollback(self) {
        let mut wal = self.head.wal.lock().expect("wal lock");
        if let Some(wal) = wal.as_mut()
            && let Err(err) = wal.flush()
        {
            self.head.wal_failed(&err);
        }
    }
}

/// A sample that passed validation, with its series.
pub(crate) type Validated = (RefSample, Arc<MemSeries>);

impl Head {
    /// Checks samples in order against their series and against the earlier samples of the same
    /// batch, without changing anything. Returns the samples to store and the rejected ones
    /// with their reasons; an exact resend of a series' newest sample is neither (upstream
    /// accepts it silently). `check_bounds` is off during WAL replay, where every sample was
    /// accepted once.
    pub(crate) fn validate(
        &self,
        samples: &[RefSample],
        check_bounds: bool,
    ) -> (Vec<Validated>, Vec<(SeriesRef, AppendError)>) {
        let mut accepted: Vec<Validated> = Vec::with_capacity(samples.len());
        let mut rejected = Vec::new();
        // Upstream `appendableMinValidTime`: no older than half a chunk range before the newest
        // sample in the head.
        let head_max = self.max_time.load(Ordering::Relaxed);
        let min_valid = if check_bounds && head_max != i64::MIN {
            head_max.saturating_sub(self.opts.chunk_range / 2)
        } else {
            i64::MIN
        };
        // Newest (t, value bits) per series among this batch's accepted samples.
        // Sized for the batch up front: a scrape's samples are mostly one per series, and
        // growing the map was ~2% of a scrape's ingest CPU in a profile.
        let mut batch_last: HashMap<u64, (i64, u64), foldhash::fast::RandomState> =
            HashMap::with_capacity_and_hasher(samples.len(), foldhash::fast::RandomState::default());
        let (mut out_of_order, mut out_of_bounds, mut duplicates) = (0u64, 0u64, 0u64);
        let mut current: Option<Arc<MemSeries>> = None;
        for sample in samples {
            if current.as_ref().is_none_or(|s| s.series_ref != sample.series_ref) {
                current = self.series(sample.series_ref);
            }
            let Some(series) = current.as_ref() else {
                rejected.push((SeriesRef(sample.series_ref), AppendError::UnknownSeriesRef(sample.series_ref)));
                continue;
            };
            if sample.t < min_valid {
                out_of_bounds += 1;
                rejected.push((SeriesRef(sample.series_ref), AppendError::OutOfBounds));
                continue;
            }
            let verdict = match batch_last.get(&sample.series_ref) {
                Some(&(t, _)) if sample.t > t => Ok(true),
                Some(&(t, _)) if sample.t < t => Err(AppendError::OutOfOrder),
                Some(&(_, v)) if v == sample.v.to_bits() => Ok(false),
                Some(_) => Err(AppendError::DuplicateTimestamp),
                None => series.state.lock().expect("series lock").appendable(sample.t, sample.v),
            };
            match verdict {
                Ok(true) => {
                    batch_last.insert(sample.series_ref, (sample.t, sample.v.to_bits()));
                    accepted.push((*sample, Arc::clone(series)));
                }
                Ok(false) => {}
                Err(err) => {
                    match err {
                        AppendError::OutOfOrder => out_of_order += 1,
                        AppendError::DuplicateTimestamp => duplicates += 1,
                        _ => {}
                    }
                    rejected.push((SeriesRef(sample.series_ref), err));
                }
            }
        }
        let c = &self.counters;
        c.out_of_order.fetch_add(out_of_order, Ordering::Relaxed);
        c.out_of_bounds.fetch_add(out_of_bounds, Ordering::Relaxed);
        c.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        (accepted, rejected)
    }

    /// WAL replay's path: appends each sample to its series in one step (one lock, no batch
    /// map), as each series has one replay worker and samples arrive in WAL order. Returns how
    /// many were stored; the rest were already in a `chunks_head/` chunk, for an unknown series,
    /// or refused.
    pub(crate) fn apply_replayed(&self, samples: &[RefSample]) -> u64 {
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let (mut stored, mut chunks_created) = (0u64, 0u64);
        let mut current: Option<Arc<MemSeries>> = None;
        for sample in samples {
            if current.as_ref().is_none_or(|s| s.series_ref != sample.series_ref) {
                current = self.series(sample.series_ref);
            }
            let Some(series) = current.as_ref() else { continue };
            let ctx =
                super::CutContext { opts: &self.opts, mapper: self.mapper.as_ref(), series_ref: series.series_ref };
            if let Ok(Appended::Stored(cut)) =
                series.state.lock().expect("series lock").append(sample.t, sample.v, &ctx)
            {
                stored += 1;
                chunks_created += u64::from(cut);
                mint = mint.min(sample.t);
                maxt = maxt.max(sample.t);
            }
        }
        let c = &self.counters;
        c.chunks.fetch_add(chunks_created, Ordering::Relaxed);
        c.chunks_created.fetch_add(chunks_created, Ordering::Relaxed);
        if stored > 0 {
            self.min_time.fetch_min(mint, Ordering::Relaxed);
            self.max_time.fetch_max(maxt, Ordering::Relaxed);
        }
        stored
    }

    /// Stores samples [`Head::validate`] accepted. The caller holds the WAL lock (or is the
    /// replay, where each series has one writer), so nothing changed since the check.
    pub(crate) fn apply_validated(&self, accepted: &[Validated]) {
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let mut chunks_created = 0u64;
        let mut stored = 0u64;
        for (sample, series) in accepted {
            let ctx =
                super::CutContext { opts: &self.opts, mapper: self.mapper.as_ref(), series_ref: series.series_ref };
            match series.state.lock().expect("series lock").append(sample.t, sample.v, &ctx) {
                Ok(Appended::Stored(cut)) => {
                    chunks_created += u64::from(cut);
                    stored += 1;
                    mint = mint.min(sample.t);
                    maxt = maxt.max(sample.t);
                }
                Ok(Appended::Duplicate) | Err(_) => {
                    debug_assert!(false, "a validated sample was refused: {sample:?}");
                }
            }
        }
        let c = &self.counters;
        c.samples_appended.fetch_add(stored, Ordering::Relaxed);
        c.chunks.fetch_add(chunks_created, Ordering::Relaxed);
        c.chunks_created.fetch_add(chunks_created, Ordering::Relaxed);
        if stored > 0 {
            self.min_time.fetch_min(mint, Ordering::Relaxed);
            self.max_time.fetch_max(maxt, Ordering::Relaxed);
        }
    }
}
