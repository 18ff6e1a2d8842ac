//! Head truncation (upstream `Head.truncateMemory` and `gc`): once a block holds every sample
//! before `mint`, the head drops its chunks before `mint`, removes the series left without any
//! (from the maps, the postings and the aliases) and frees the strings only they used.
//!
//! Invariant: runs holding the truncation lock for writing (no select is reading the head) and
//! the WAL lock (no commit is creating a series or appending), so nothing it removes is in use
//! and no new series can take a freed symbol half-way.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};

use super::{Head, MemSeries, STRIPES};

/// What one truncation removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Truncated {
    /// Series removed because they had no sample at or after `mint`.
    pub(crate) series: u64,
    /// Chunks dropped (sealed and open).
    pub(crate) chunks: u64,
    /// Strings freed from the symbol table.
    pub(crate) symbols: u64,
}

impl Head {
    /// Drops everything before `mint` (a block boundary: chunks never span one) and refuses
    /// samples before it from now on.
    pub(crate) fn truncate(&self, mint: i64) -> Truncated {
        let _readers = self.truncation.write().unwrap_or_else(PoisonError::into_inner);
        let _wal = self.wal.lock().unwrap_or_else(PoisonError::into_inner);
        self.min_valid_time.fetch_max(mint, Ordering::Relaxed);
        let mut out = Truncated::default();
        let mut dead: Vec<Arc<MemSeries>> = Vec::new();
        let mut live_symbols = vec![false; self.symbols.read().unwrap_or_else(PoisonError::into_inner).slots()];
        for stripe in self.series.by_ref.iter() {
            let stripe = stripe.read().unwrap_or_else(PoisonError::into_inner);
            for series in stripe.values() {
                let mut state = series.state.lock().unwrap_or_else(PoisonError::into_inner);
                let before = state.sealed.len();
                state.sealed.retain(|c| c.max_time >= mint);
                out.chunks += (before - state.sealed.len()) as u64;
                state.forget_deleted_before(mint);
                if state.head_chunk.as_ref().is_some_and(|c| c.max_time < mint && c.max_time != i64::MIN) {
                    state.head_chunk = None;
                    out.chunks += 1;
                }
                if state.sealed.is_empty() && state.head_chunk.is_none() {
                    dead.push(Arc::clone(series));
                } else {
                    state.sealed.shrink_to_fit();
                    for &sym in series.pairs.iter() {
                        if let Some(live) = live_symbols.get_mut(sym as usize) {
                            *live = true;
                        }
                    }
                }
            }
        }
        if !dead.is_empty() {
            let mut refs: Vec<u64> = dead.iter().map(|s| s.series_ref).collect();
            refs.sort_unstable();
            for series in &dead {
                let hash = self.labels_of(series).stable_hash();
                let mut by_hash =
                    self.series.by_hash[hash as usize % STRIPES].write().unwrap_or_else(PoisonError::into_inner);
                if let Some(list) = by_hash.get_mut(&hash) {
                    list.retain(|s| s.series_ref != series.series_ref);
                    if list.is_empty() {
                        by_hash.remove(&hash);
                    }
                }
                self.series.by_ref[series.series_ref as usize % STRIPES]
                    .write()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(&series.series_ref);
            }
            self.postings
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .delete(&refs, dead.iter().flat_map(|s| s.pairs.chunks_exact(2).map(|p| (p[0], p[1]))));
            self.aliases
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .retain(|_, to| refs.binary_search(to).is_err());
            out.series = dead.len() as u64;
            self.counters.series.fetch_sub(out.series, Ordering::Relaxed);
            drop(dead);
            out.symbols = self.symbols.write().unwrap_or_else(PoisonError::into_inner).retain(&live_symbols) as u64;
        }
        self.counters.chunks.fetch_sub(out.chunks.min(self.counters.chunks.load(Ordering::Relaxed)), Ordering::Relaxed);
        let min = self.min_time.load(Ordering::Relaxed);
        if min != i64::MAX && min < mint {
            self.min_time.store(mint, Ordering::Relaxed);
        }
        out
    }
}
