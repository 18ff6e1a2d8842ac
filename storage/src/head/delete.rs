//! Deleting series' samples from the head (upstream `Head.Delete`): a tombstone per matching
//! series, written to the WAL as a Tombstones record, then added to the series' deleted
//! intervals, which every read honours from then on.
//!
//! Invariant: runs holding the WAL lock, so no commit applies meanwhile: each interval is
//! clamped to its series' samples at that moment (upstream: "delete only until the current
//! values and not beyond"), and a sample appended later, newer than all of them, stays. The
//! record is in the WAL before any read stops seeing the samples, so a restart deletes them
//! too (`replay.rs`), whenever the replay meets the samples.

use std::sync::PoisonError;
use std::sync::atomic::Ordering;

use super::{CommitError, Head};
use crate::matcher::Matcher;
use crate::wal::record::encode_tombstones;

impl Head {
    /// Deletes the samples in `[mint, maxt]` (both inclusive) of the series matching
    /// `matchers`; returns how many series had some there. An error means nothing was deleted:
    /// the replay is not done, or the WAL write failed (counted as every failed WAL write is).
    pub(crate) fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize, CommitError> {
        let mut wal = self.wal.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(wal) = wal.as_mut() else { return Err(CommitError::NotReady) };
        let mint = mint.max(self.min_time.load(Ordering::Relaxed));
        let maxt = maxt.min(self.max_time.load(Ordering::Relaxed));
        if mint > maxt {
            return Ok(0);
        }
        let mut stones: Vec<(u64, i64, i64)> = Vec::new();
        let mut series = Vec::new();
        for series_ref in self.select_refs(matchers) {
            let Some(found) = self.series(series_ref) else { continue };
            let state = found.state.lock().unwrap_or_else(PoisonError::into_inner);
            let (Some(first), Some(last)) = (state.min_time(), state.max_time()) else { continue };
            let (from, to) = (mint.max(first), maxt.min(last));
            if from <= to {
                stones.push((series_ref, from, to));
                drop(state);
                series.push(found);
            }
        }
        if stones.is_empty() {
            return Ok(0);
        }
        let mut record = Vec::with_capacity(1 + stones.len() * 16);
        encode_tombstones(&mut record, &stones);
        if let Err(err) = wal.commit(&[&record]) {
            self.wal_failed(&err);
            return Err(CommitError::Wal(err));
        }
        self.wal_ok();
        for (found, &(_, from, to)) in series.iter().zip(&stones) {
            found.state.lock().unwrap_or_else(PoisonError::into_inner).delete(from, to);
        }
        Ok(stones.len())
    }
}
