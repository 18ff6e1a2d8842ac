//! The head appender (upstream `tsdb/head_append.go`): buffers one batch, then on `commit`
//! applies it to the series and writes it to the WAL, under one lock so the WAL holds commits in
//! the order the head applied them.
//! Invariant: a series' Series record reaches the WAL buffer before any sample that uses its ref
//! can (it is logged while the series is still invisible to other appenders), so replay never
//! meets a sample for a series it does not know unless the WAL was damaged.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{AppendError, Appended, Head, SeriesRef};
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
        let accepted = head.apply(&self.pending, true);
        let (accepted, rejected) = accepted;
        if let Some(wal) = wal.as_mut() {
            let mut buf = Vec::with_capacity(17 + accepted.len() * 12);
            let result = if accepted.is_empty() {
                wal.flush()
            } else {
                encode_samples(&mut buf, &accepted);
                wal.log(&buf).and_then(|()| wal.flush())
            };
            if let Err(err) = result {
                head.wal_failed(&err);
            }
        }
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

impl Head {
    /// Applies samples in order. Returns the accepted ones and the rejected ones with their
    /// reasons. `check_bounds` is off during WAL replay, where every sample was accepted once.
    pub(crate) fn apply(
        &self,
        samples: &[RefSample],
        check_bounds: bool,
    ) -> (Vec<RefSample>, Vec<(SeriesRef, AppendError)>) {
        let mut accepted = Vec::with_capacity(samples.len());
        let mut rejected = Vec::new();
        // Upstream `appendableMinValidTime`: no older than half a chunk range before the newest
        // sample in the head.
        let head_max = self.max_time.load(Ordering::Relaxed);
        let min_valid = if check_bounds && head_max != i64::MIN {
            head_max.saturating_sub(self.opts.chunk_range / 2)
        } else {
            i64::MIN
        };
        let (mut mint, mut maxt) = (i64::MAX, i64::MIN);
        let (mut out_of_order, mut out_of_bounds, mut duplicates, mut chunks_created) = (0u64, 0u64, 0u64, 0u64);
        // Consecutive samples of one series (a replayed record, a remote-write series) share a
        // lookup.
        let mut current: Option<std::sync::Arc<super::MemSeries>> = None;
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
            let ctx =
                super::CutContext { opts: &self.opts, mapper: self.mapper.as_ref(), series_ref: series.series_ref };
            let result = series.state.lock().expect("series lock").append(sample.t, sample.v, &ctx);
            match result {
                Ok(Appended::Stored(cut)) => {
                    chunks_created += u64::from(cut);
                    mint = mint.min(sample.t);
                    maxt = maxt.max(sample.t);
                    accepted.push(*sample);
                }
                Ok(Appended::Duplicate) => {}
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
        c.samples_appended.fetch_add(accepted.len() as u64, Ordering::Relaxed);
        c.out_of_order.fetch_add(out_of_order, Ordering::Relaxed);
        c.out_of_bounds.fetch_add(out_of_bounds, Ordering::Relaxed);
        c.duplicates.fetch_add(duplicates, Ordering::Relaxed);
        c.chunks.fetch_add(chunks_created, Ordering::Relaxed);
        c.chunks_created.fetch_add(chunks_created, Ordering::Relaxed);
        if !accepted.is_empty() {
            self.min_time.fetch_min(mint, Ordering::Relaxed);
            self.max_time.fetch_max(maxt, Ordering::Relaxed);
        }
        (accepted, rejected)
    }
}
