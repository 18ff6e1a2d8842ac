//! The head appender (upstream `tsdb/head_append.go`): buffers one batch, then on `commit`
//! checks it against the series, writes the new series and the accepted samples to the WAL and
//! only then creates and applies them, all under the WAL lock: the WAL holds commits in the
//! order the head applied them, and a sample a query can see is already in the WAL.
//!
//! Invariants:
//! - A series exists in the head only once its Series record is in the WAL: a new series is
//!   staged in the appender (with a ref reserved from the head) and created by `commit`, in
//!   the same WAL write as its first samples. A rolled-back or failed batch leaves nothing in
//!   the head, so a scrape refused by `sample_limit` creates no series (a promlite
//!   improvement: upstream keeps them until head GC).
//! - A failed WAL write fails the whole batch: nothing of it is applied, so whatever a commit
//!   acknowledged survives a restart.
//! - Nothing is appended before the WAL replay is done ([`AppendError::NotReady`],
//!   [`CommitError::NotReady`]): a sample landing mid-replay would make the replay's older
//!   samples out of order, and a new ref could collide with a replayed one.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use super::{AppendError, Appended, CommitError, Head, MemSeries, SeriesRef};
use crate::labels::Labels;
use crate::wal::record::{RefSample, encode_samples, encode_series};

/// A series this batch creates, if it commits.
struct Staged {
    series_ref: u64,
    labels: Labels,
    hash: u64,
}

/// Buffers samples for one batch (one scrape, one remote-write request); nothing is visible to
/// queries, and no series is created, until [`Appender::commit`].
pub struct Appender {
    head: Arc<Head>,
    pending: Vec<RefSample>,
    staged: Vec<Staged>,
    /// Label hash → the first index into `staged` with it, so a batch naming a new series twice
    /// stages it once (one map entry per series, no allocation each).
    staged_by_hash: HashMap<u64, usize, foldhash::fast::RandomState>,
}

impl Appender {
    pub(crate) fn new(head: Arc<Head>) -> Appender {
        Appender { head, pending: Vec::new(), staged: Vec::new(), staged_by_hash: HashMap::default() }
    }

    /// Queues a sample for `labels`, staging the series if the head does not have it, and
    /// returns its ref for [`Appender::append_ref`] next time. A staged series' ref is valid
    /// once this batch commits.
    pub fn append(&mut self, labels: &Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        self.append_cow(Cow::Borrowed(labels), t, v)
    }

    /// [`Appender::append`] for a caller that is done with `labels`: a new series is staged
    /// with them instead of a copy (a scrape's or remote write's first sample of a series).
    pub fn append_owned(&mut self, labels: Labels, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        self.append_cow(Cow::Owned(labels), t, v)
    }

    fn append_cow(&mut self, labels: Cow<'_, Labels>, t: i64, v: f64) -> Result<SeriesRef, AppendError> {
        if !self.head.ready.load(Ordering::Acquire) {
            return Err(AppendError::NotReady);
        }
        if labels.is_empty() {
            return Err(AppendError::InvalidLabels(labels.to_string(), "empty label set"));
        }
        let hash = labels.stable_hash();
        let series_ref = match self.head.get(&labels, hash) {
            Some(series) => series.series_ref,
            None => self.stage(labels, hash),
        };
        self.pending.push(RefSample { series_ref, t, v });
        Ok(SeriesRef(series_ref))
    }

    fn stage(&mut self, labels: Cow<'_, Labels>, hash: u64) -> u64 {
        match self.staged_by_hash.get(&hash) {
            Some(&i) if self.staged[i].labels == *labels => return self.staged[i].series_ref,
            // Another label set with the same 64-bit hash: look through the rest (never in
            // practice; correct either way).
            Some(_) => {
                if let Some(s) = self.staged.iter().find(|s| s.hash == hash && s.labels == *labels) {
                    return s.series_ref;
                }
            }
            None => {
                self.staged_by_hash.insert(hash, self.staged.len());
            }
        }
        let series_ref = self.head.reserve_ref();
        self.staged.push(Staged { series_ref, labels: labels.into_owned(), hash });
        series_ref
    }

    /// Queues a sample for a series the caller already resolved. An unknown ref is reported by
    /// `commit` as [`AppendError::UnknownSeriesRef`].
    pub fn append_ref(&mut self, series_ref: SeriesRef, t: i64, v: f64) {
        self.pending.push(RefSample { series_ref: series_ref.0, t, v });
    }

    /// Writes the batch's new series and accepted samples to the WAL, then creates and applies
    /// them. Samples the head rejects are counted and returned, and the rest still land, as in
    /// Prometheus's head appender.
    ///
    /// An error means nothing of the batch was stored: the replay is not done, or the WAL write
    /// failed (counted in `prometheus_tsdb_wal_writes_failed_total`). Refs `append` returned
    /// for new series are then invalid; the caller retries with labels.
    pub fn commit(self) -> Result<Vec<(SeriesRef, AppendError)>, CommitError> {
        let head = &self.head;
        let mut wal = head.wal.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(wal) = wal.as_mut() else { return Err(CommitError::NotReady) };
        if self.staged.is_empty() && self.pending.is_empty() {
            return Ok(Vec::new());
        }
        // Holding the WAL lock no other commit creates a series or changes one between the
        // check and the apply. A staged series another commit created meanwhile is that one.
        let mut new: Vec<(Staged, Arc<MemSeries>)> = Vec::with_capacity(self.staged.len());
        let mut aliases: HashMap<u64, u64> = HashMap::new();
        for staged in self.staged {
            match head.get(&staged.labels, staged.hash) {
                Some(existing) => {
                    aliases.insert(staged.series_ref, existing.series_ref);
                }
                None => {
                    // Validated against, and inserted into the head after the WAL write.
                    let series = head.new_series(&staged.labels, staged.series_ref);
                    new.push((staged, series));
                }
            }
        }
        let mut pending = self.pending;
        if !aliases.is_empty() {
            for sample in &mut pending {
                if let Some(&to) = aliases.get(&sample.series_ref) {
                    sample.series_ref = to;
                }
            }
        }
        let (accepted, rejected) = if new.is_empty() {
            head.validate(&pending, |r| head.series(r))
        } else {
            let staged_series: HashMap<u64, &Arc<MemSeries>, foldhash::fast::RandomState> =
                new.iter().map(|(staged, series)| (staged.series_ref, series)).collect();
            head.validate(&pending, |r| staged_series.get(&r).map(|s| Arc::clone(s)).or_else(|| head.series(r)))
        };
        let mut series_rec = Vec::new();
        if !new.is_empty() {
            let records: Vec<(u64, &Labels)> = new.iter().map(|(s, _)| (s.series_ref, &s.labels)).collect();
            encode_series(&mut series_rec, &records);
        }
        let mut samples_rec = Vec::new();
        if !accepted.is_empty() {
            let samples: Vec<RefSample> = accepted.iter().map(|(s, _)| *s).collect();
            samples_rec.reserve(17 + samples.len() * 12);
            encode_samples(&mut samples_rec, &samples);
        }
        let records: Vec<&[u8]> =
            [series_rec.as_slice(), samples_rec.as_slice()].into_iter().filter(|r| !r.is_empty()).collect();
        if let Err(err) = wal.commit(&records) {
            head.wal_failed(&err);
            return Err(CommitError::Wal(err));
        }
        head.wal_ok();
        for (staged, series) in &new {
            head.insert(series, staged.hash);
        }
        for (from, to) in aliases {
            head.add_alias(from, to);
        }
        let _isolation = head.isolation.write().unwrap_or_else(PoisonError::into_inner);
        head.apply_validated(&accepted);
        Ok(rejected)
    }

    /// Drops the batch: its samples and the series it staged are forgotten.
    pub fn rollback(self) {}
}

/// A sample that passed validation, with its series.
pub(crate) type Validated = (RefSample, Arc<MemSeries>);

impl Head {
    /// Checks samples in order against their series (found by `series_of`) and against the
    /// earlier samples of the same batch, without changing anything. Returns the samples to
    /// store and the rejected ones with their reasons; an exact resend of a series' newest
    /// sample is neither (upstream accepts it silently).
    pub(crate) fn validate(
        &self,
        samples: &[RefSample],
        series_of: impl Fn(u64) -> Option<Arc<MemSeries>>,
    ) -> (Vec<Validated>, Vec<(SeriesRef, AppendError)>) {
        let mut accepted: Vec<Validated> = Vec::with_capacity(samples.len());
        let mut rejected = Vec::new();
        // Upstream `appendableMinValidTime`: no older than half a chunk range before the newest
        // sample in the head.
        let head_max = self.max_time.load(Ordering::Relaxed);
        let min_valid =
            if head_max != i64::MIN { head_max.saturating_sub(self.opts.chunk_range / 2) } else { i64::MIN }
                .max(self.min_valid_time.load(Ordering::Relaxed));
        // Newest (t, value bits) per series among this batch's accepted samples.
        // Sized for the batch up front: a scrape's samples are mostly one per series, and
        // growing the map was ~2% of a scrape's ingest CPU in a profile.
        let mut batch_last: HashMap<u64, (i64, u64), foldhash::fast::RandomState> =
            HashMap::with_capacity_and_hasher(samples.len(), foldhash::fast::RandomState::default());
        let (mut out_of_order, mut out_of_bounds, mut duplicates) = (0u64, 0u64, 0u64);
        // The ref looked up last and its series: a ref the caller cached may be an alias, and
        // what is stored and logged is always the series' own ref.
        let mut current: Option<(u64, Arc<MemSeries>)> = None;
        for given in samples {
            if current.as_ref().is_none_or(|(r, _)| *r != given.series_ref) {
                current = series_of(given.series_ref).map(|s| (given.series_ref, s));
            }
            let Some((_, series)) = current.as_ref() else {
                rejected.push((SeriesRef(given.series_ref), AppendError::UnknownSeriesRef(given.series_ref)));
                continue;
            };
            let sample = &RefSample { series_ref: series.series_ref, ..*given };
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
                None => series.state.lock().unwrap_or_else(PoisonError::into_inner).appendable(sample.t, sample.v),
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
    pub(crate) fn apply_replayed(&self, samples: &[RefSample], unknown: &std::sync::atomic::AtomicU64) -> u64 {
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let (mut stored, mut chunks_created) = (0u64, 0u64);
        let mut current: Option<Arc<MemSeries>> = None;
        // Samples a block holds already (upstream replay drops them the same way).
        let min_valid = self.min_valid_time.load(Ordering::Relaxed);
        for sample in samples {
            if sample.t < min_valid {
                continue;
            }
            if current.as_ref().is_none_or(|s| s.series_ref != sample.series_ref) {
                current = self.series(sample.series_ref);
            }
            let Some(series) = current.as_ref() else {
                unknown.fetch_add(1, Ordering::Relaxed);
                continue;
            };
            let ctx =
                super::CutContext { opts: &self.opts, mapper: self.mapper.as_ref(), series_ref: series.series_ref };
            if let Ok(Appended::Stored(cut)) =
                series.state.lock().unwrap_or_else(PoisonError::into_inner).append(sample.t, sample.v, &ctx)
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
            match series.state.lock().unwrap_or_else(PoisonError::into_inner).append(sample.t, sample.v, &ctx) {
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
