//! Read access to the head and the blocks for a time range (upstream `tsdb/querier.go`,
//! `head_read.go`, `storage/merge.go`).
//!
//! A [`Querier`] is bound to `[mint, maxt]` (milliseconds, both inclusive) when it is made, and
//! selects series by matchers through the postings of the head and of each block overlapping
//! the range. A head series' samples come from its sealed chunks and its open chunk, a block
//! series' from its chunks (less tombstoned spans); series with the same labels in several
//! places are merged by timestamp, duplicates dropped (the head wins). Results are sorted by
//! label set, as Prometheus's `Select(sortSeries=true)` returns them.
//!
//! Each select reads under the head's truncation lock and takes the block list then, so it
//! sees the head before a truncation with the blocks before it, or after with after: never
//! a range in neither. A block deleted meanwhile stays readable: its files stay mapped.
//!
//! A querier made by [`crate::Db::querier`] also asks the secondaries ([`crate::fanout`]) and
//! merges their series in; their failures collect as warnings ([`Querier::take_warnings`]).
//! Label names and values come from local storage only (upstream's remote-read querier
//! answers them with "not implemented", which only adds a warning to every label lookup).

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use std::sync::RwLock;

use crate::block::{Block, is_deleted_range};
use crate::chunkenc::XorIterator;
use crate::fanout::{self, Secondaries, SecondaryError, SecondarySelect};
use crate::head::{Head, SeriesState};
use crate::labels::Labels;
use crate::matcher::Matcher;
use crate::sample::Sample;
use crate::series::{ChunkPart, Part, Series};

/// Why a querier stopped decoding; its selects return nothing from then on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SelectLimit {
    /// More samples were decoded than the querier's budget.
    #[error("the query loaded more samples than its limit allows")]
    TooManySamples,
    /// The deadline passed while decoding.
    #[error("the query timed out while loading samples")]
    Timeout,
}

/// Reads series from the head over a fixed time range.
///
/// A querier may have a sample budget and a deadline. Selects hold chunks undecoded (checking
/// the deadline between series); every sample [`Querier::decode_into`] (or `select_latest`)
/// decodes counts, and decoding stops once either is exceeded, so a query that will be refused
/// never holds more than its budget (plus one series) decoded. The caller learns why from
/// [`Querier::limit_hit`].
pub struct Querier {
    head: Arc<Head>,
    blocks: Arc<RwLock<Arc<[Arc<Block>]>>>,
    mint: i64,
    maxt: i64,
    secondaries: Secondaries,
    deadline: Option<std::time::Instant>,
    warnings: Mutex<Vec<String>>,
    budget: Option<usize>,
    decoded: AtomicUsize,
    /// 0: none; 1: too many samples; 2: timeout.
    limit_hit: AtomicU8,
}

impl Querier {
    pub(crate) fn new(
        head: Arc<Head>,
        blocks: Arc<RwLock<Arc<[Arc<Block>]>>>,
        mint: i64,
        maxt: i64,
        secondaries: Secondaries,
    ) -> Querier {
        Querier {
            head,
            blocks,
            mint,
            maxt,
            secondaries,
            deadline: None,
            warnings: Mutex::new(Vec::new()),
            budget: None,
            decoded: AtomicUsize::new(0),
            limit_hit: AtomicU8::new(0),
        }
    }

    /// This querier, with secondaries that must answer by `deadline` (the query's timeout), and
    /// local decoding that stops once it has passed.
    pub fn with_deadline(mut self, deadline: std::time::Instant) -> Querier {
        self.deadline = Some(deadline);
        self
    }

    /// This querier, decoding at most `budget` samples over all its selects.
    pub fn with_sample_budget(mut self, budget: usize) -> Querier {
        self.budget = Some(budget);
        self
    }

    /// Whether a select stopped early, and why. Selects after that return no series.
    pub fn limit_hit(&self) -> Option<SelectLimit> {
        match self.limit_hit.load(Ordering::Relaxed) {
            1 => Some(SelectLimit::TooManySamples),
            2 => Some(SelectLimit::Timeout),
            _ => None,
        }
    }

    /// Counts `n` decoded samples; false (and the reason recorded) once over budget or late.
    fn admit(&self, n: usize) -> bool {
        if self.limit_hit.load(Ordering::Relaxed) != 0 {
            return false;
        }
        let total = self.decoded.fetch_add(n, Ordering::Relaxed) + n;
        if self.budget.is_some_and(|budget| total > budget) {
            self.limit_hit.store(1, Ordering::Relaxed);
            return false;
        }
        if self.deadline.is_some_and(|deadline| std::time::Instant::now() > deadline) {
            self.limit_hit.store(2, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Series matching every matcher, sorted by labels, local and secondary series merged.
    /// Series with no sample in range are left out, as a block querier would.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<Series> {
        let local = self.select_local(matchers);
        if self.secondaries.is_empty() {
            return local;
        }
        fanout::merge_sorted(local, self.select_secondaries(matchers))
    }

    /// What the secondaries have for `matchers` in range, merged and sorted; each failure is a
    /// warning (once per querier: a remote that fails fails for every selector).
    fn select_secondaries(&self, matchers: &[Matcher]) -> Vec<Series> {
        let stats = self.head.stats();
        let head_min = (stats.min_time <= stats.max_time).then_some(stats.min_time);
        let oldest_block =
            self.blocks.read().unwrap_or_else(PoisonError::into_inner).first().map(|b| b.meta().min_time);
        let request = SecondarySelect {
            mint: self.mint,
            maxt: self.maxt,
            matchers,
            // The oldest sample stored here: the oldest block's start, else the head's.
            local_min_time: oldest_block.into_iter().chain(head_min).min(),
            deadline: self.deadline,
        };
        // Every secondary at once: the slowest, not the sum, bounds the wait (upstream's merge
        // querier selects concurrently too).
        let answers: Vec<Result<Vec<Series>, SecondaryError>> = if self.secondaries.len() == 1 {
            vec![self.secondaries[0].select(&request)]
        } else {
            std::thread::scope(|scope| {
                let asks: Vec<_> = self.secondaries.iter().map(|s| scope.spawn(|| s.select(&request))).collect();
                asks.into_iter().map(|ask| ask.join().unwrap_or_else(|_| Err("a secondary panicked".into()))).collect()
            })
        };
        let mut out = Vec::new();
        for answer in answers {
            match answer {
                Ok(series) => out = fanout::merge_sorted(out, fanout::normalize(series, self.mint, self.maxt)),
                Err(err) => {
                    let warning = err.to_string();
                    let mut warnings = self.warnings.lock().unwrap_or_else(PoisonError::into_inner);
                    if !warnings.contains(&warning) {
                        warnings.push(warning);
                    }
                }
            }
        }
        out
    }

    /// Series matching every matcher, each with only its newest sample in `[mint, at]` (`at`
    /// at most the querier's `maxt`), sorted by labels; series without one are left out. What an
    /// instant selector evaluated at one time needs: one sample per series instead of the
    /// whole window, so an instant query over many series holds one sample each.
    pub fn select_latest(&self, matchers: &[Matcher], at: i64) -> Vec<Series> {
        let at = at.min(self.maxt);
        if !self.secondaries.is_empty() {
            // Remotes answer whole ranges; merge as usual and keep the newest.
            return self.select(matchers).into_iter().filter_map(|s| newest_only(&s, at)).collect();
        }
        let mapper = self.head.mapper.as_ref();
        let _truncation = self.head.truncation.read().unwrap_or_else(PoisonError::into_inner);
        let mut out = self.select_with(matchers, |state, newest| {
            let sample = state.latest_sample(self.mint, at.min(newest), mapper)?;
            self.admit(1).then(|| Part::Samples(vec![sample]))
        });
        let blocks = self.blocks_in_range(self.mint, at);
        if blocks.is_empty() {
            return out;
        }
        for block in &blocks {
            out = fanout::merge_sorted(out, self.select_block(block, matchers, self.mint, at, true));
        }
        if self.limit_hit().is_some() {
            return Vec::new();
        }
        out.iter().filter_map(|s| newest_only(s, at)).collect()
    }

    /// Decodes `series` into `out` (cleared first), counting its samples against the
    /// querier's budget and deadline. False once either is exceeded ([`Querier::limit_hit`]
    /// says which); `out` is then empty. How a query reads the series a select gave it: one
    /// at a time, into one buffer.
    pub fn decode_into(&self, series: &Series, out: &mut Vec<Sample>) -> bool {
        out.clear();
        out.extend(series.iter());
        if self.admit(out.len()) {
            return true;
        }
        out.clear();
        false
    }

    /// The blocks holding any time of `[mint, maxt]` (a block's max time is exclusive).
    fn blocks_in_range(&self, mint: i64, maxt: i64) -> Vec<Arc<Block>> {
        self.blocks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|b| b.meta().min_time <= maxt && b.meta().max_time > mint)
            .cloned()
            .collect()
    }

    /// Notes a block that could not be read as a warning of this querier (and logs it): the
    /// answer goes on without it, as upstream's merge querier does with a failing querier.
    fn block_failed(&self, block: &Block, err: &crate::block::BlockError) {
        tracing::error!(block = %block.meta().ulid, error = %err, "reading a block failed");
        let warning = format!("block {}: {err}", block.meta().ulid);
        let mut warnings = self.warnings.lock().unwrap_or_else(PoisonError::into_inner);
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
    }

    /// Refs of a block's series matching `matchers`; none (and a warning) if its index fails.
    fn block_refs(&self, block: &Block, matchers: &[Matcher]) -> Vec<u64> {
        block.select_refs(matchers).unwrap_or_else(|err| {
            self.block_failed(block, &err);
            Vec::new()
        })
    }

    /// A block's series matching `matchers` with a chunk in `[mint, maxt]`, sorted by labels:
    /// their chunks, CRC-checked and undecoded, or (when `latest`) the newest sample alone.
    fn select_block(
        &self,
        block: &Arc<Block>,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        latest: bool,
    ) -> Vec<Series> {
        let refs = self.block_refs(block, matchers);
        let mut out = Vec::new();
        for (i, series_ref) in refs.into_iter().enumerate() {
            if i % 1024 == 0 && !self.admit(0) {
                return Vec::new();
            }
            let (labels, chunks) = match block.series(series_ref) {
                Ok(found) => found,
                Err(err) => {
                    self.block_failed(block, &err);
                    continue;
                }
            };
            let deleted = block.tombstones(series_ref);
            // A chunk wholly deleted holds nothing to read, and a series with only such chunks
            // in range is left out, as upstream's `blockBaseSeriesSet` leaves it.
            let in_range: Vec<_> = chunks
                .iter()
                .filter(|c| {
                    c.max_time >= mint && c.min_time <= maxt && !is_deleted_range(c.min_time, c.max_time, &deleted)
                })
                .collect();
            if in_range.is_empty() {
                continue;
            }
            if latest {
                let Some(sample) = self.newest_in_block(block, &in_range, &deleted, mint, maxt) else { continue };
                if !self.admit(1) {
                    return Vec::new();
                }
                out.push(Series::from_samples(labels, vec![sample]));
                continue;
            }
            let mut part = ChunkPart {
                chunks: Vec::with_capacity(in_range.len()),
                mint,
                maxt,
                deleted: deleted.into_boxed_slice(),
                tail: Vec::new(),
            };
            for c in in_range {
                match block.chunk_bytes(c.chunk_ref) {
                    Ok(bytes) => part.chunks.push(bytes),
                    Err(err) => self.block_failed(block, &err),
                }
            }
            if !part.chunks.is_empty() {
                out.push(Series::from_part(labels, Part::Chunks(part)));
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// The newest sample of a block series' `chunks` in `[mint, maxt]` and not deleted,
    /// decoding from the newest chunk back to the first that has one.
    fn newest_in_block(
        &self,
        block: &Block,
        chunks: &[&crate::block::ChunkMeta],
        deleted: &[(i64, i64)],
        mint: i64,
        maxt: i64,
    ) -> Option<Sample> {
        for c in chunks.iter().rev() {
            let bytes = match block.chunk(c.chunk_ref) {
                Ok(bytes) => bytes,
                Err(err) => {
                    self.block_failed(block, &err);
                    continue;
                }
            };
            let Ok(it) = XorIterator::new(bytes) else { continue };
            let newest = it
                .map_while(Result::ok)
                .take_while(|s| s.t <= maxt)
                .filter(|s| s.t >= mint && !deleted.iter().any(|(a, b)| s.t >= *a && s.t <= *b))
                .last();
            if newest.is_some() {
                return newest;
            }
        }
        None
    }

    /// Labels of a block's series matching `matchers` with a chunk in range; with
    /// `skip_deleted`, a chunk wholly deleted does not count (what the series API lists, as
    /// upstream's block querier; its label lookups read the index alone).
    fn block_labels(&self, block: &Block, matchers: &[Matcher], skip_deleted: bool) -> Vec<Labels> {
        let refs = self.block_refs(block, matchers);
        let mut out = Vec::new();
        for series_ref in refs {
            match block.series(series_ref) {
                Ok((labels, chunks)) => {
                    let deleted = if skip_deleted { block.tombstones(series_ref) } else { Vec::new() };
                    let live = |c: &&crate::block::ChunkMeta| !is_deleted_range(c.min_time, c.max_time, &deleted);
                    if chunks.iter().filter(live).any(|c| c.max_time >= self.mint && c.min_time <= self.maxt) {
                        out.push(labels);
                    }
                }
                Err(err) => self.block_failed(block, &err),
            }
        }
        out
    }

    /// The local series matching `matchers` with the samples `samples_of` picks from each (a
    /// series it gives none is left out), sorted by labels. `samples_of` gets the series and the
    /// newest timestamp it may return.
    ///
    /// Each select sees whole commits: the series and their newest timestamps are taken while
    /// no commit is applying (the head's isolation lock, held only for that snapshot), and
    /// decoding then stops at those timestamps, so a commit applying meanwhile is seen wholly
    /// by the next select or not at all, never half.
    fn select_with(&self, matchers: &[Matcher], samples_of: impl Fn(&SeriesState, i64) -> Option<Part>) -> Vec<Series> {
        let snapshot: Vec<_> = {
            let _isolation = self.head.isolation.read().unwrap_or_else(PoisonError::into_inner);
            self.head
                .select_refs(matchers)
                .into_iter()
                .filter_map(|series_ref| {
                    let series = self.head.series(series_ref)?;
                    let newest = series.state.lock().unwrap_or_else(PoisonError::into_inner).max_time()?;
                    Some((series, newest))
                })
                .collect()
        };
        let mut out: Vec<Series> = Vec::new();
        for (i, (series, newest)) in snapshot.into_iter().enumerate() {
            if i % 1024 == 0 && !self.admit(0) {
                return Vec::new();
            }
            let Some(part) = samples_of(&series.state.lock().unwrap_or_else(PoisonError::into_inner), newest) else {
                if self.limit_hit().is_some() {
                    // Refused anyway: give the memory back now rather than at the end.
                    return Vec::new();
                }
                continue;
            };
            out.push(Series::from_part(self.head.labels_of(&series), part));
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// What the secondaries that failed since the last call said, oldest first, each once.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn select_local(&self, matchers: &[Matcher]) -> Vec<Series> {
        let mapper = self.head.mapper.as_ref();
        let _truncation = self.head.truncation.read().unwrap_or_else(PoisonError::into_inner);
        let mut out =
            self.select_with(matchers, |state, newest| state.chunk_part(self.mint, self.maxt.min(newest), mapper));
        for block in self.blocks_in_range(self.mint, self.maxt) {
            out = fanout::merge_sorted(out, self.select_block(&block, matchers, self.mint, self.maxt, false));
        }
        if self.limit_hit().is_some() {
            return Vec::new();
        }
        out
    }

    /// Refs of the series matching every matcher that have a sample in range.
    fn refs_in_range(&self, matchers: &[Matcher]) -> Vec<u64> {
        self.head
            .select_refs(matchers)
            .into_iter()
            .filter(|r| {
                self.head.series(*r).is_some_and(|s| {
                    s.state.lock().unwrap_or_else(PoisonError::into_inner).overlaps(self.mint, self.maxt)
                })
            })
            .collect()
    }

    /// The label sets of the series matching `matchers` that have a sample in range, sorted,
    /// local and secondary merged: what `/api/v1/series` answers. Local series are checked by
    /// their chunks' time ranges, never decoded; a chunk wholly inside a tombstone does not
    /// count, as upstream's querier drops it (a head series' open chunk counts as reaching to
    /// the end of time, as upstream's head index gives it, so a head series stays listed
    /// until head compaction writes it without its deleted samples).
    pub fn select_labels(&self, matchers: &[Matcher]) -> Vec<Labels> {
        let mut out: Vec<Labels> = Vec::new();
        let truncation = self.head.truncation.read().unwrap_or_else(PoisonError::into_inner);
        for (i, series_ref) in self.head.select_refs(matchers).into_iter().enumerate() {
            if i % 1024 == 0 && !self.admit(0) {
                return Vec::new();
            }
            if let Some(series) = self.head.series(series_ref)
                && series.state.lock().unwrap_or_else(PoisonError::into_inner).listed_in(self.mint, self.maxt)
            {
                out.push(self.head.labels_of(&series));
            }
        }
        for block in self.blocks_in_range(self.mint, self.maxt) {
            out.extend(self.block_labels(&block, matchers, true));
        }
        drop(truncation);
        out.sort();
        out.dedup();
        if self.secondaries.is_empty() {
            return out;
        }
        // Remotes answer with samples; their labels merge in.
        let mut all: Vec<Labels> = self.select_secondaries(matchers).into_iter().map(|s| s.labels).collect();
        all.extend(out);
        all.sort();
        all.dedup();
        all
    }

    /// Label names of series matching `matchers` (all series when empty), sorted.
    pub fn label_names(&self, matchers: &[Matcher]) -> Vec<String> {
        let mut names = if matchers.is_empty() {
            self.head.label_names(None)
        } else {
            self.head.label_names(Some(&self.refs_in_range(matchers)))
        };
        let blocks = self.blocks_in_range(self.mint, self.maxt);
        if blocks.is_empty() {
            return names;
        }
        for block in &blocks {
            if matchers.is_empty() {
                names.extend(block.label_names());
            } else {
                for labels in self.block_labels(block, matchers, false) {
                    names.extend(labels.iter().map(|l| l.name.clone()));
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Values of label `name` among series matching `matchers` (all when empty), sorted.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Vec<String> {
        let mut values = if matchers.is_empty() {
            self.head.label_values(name, None)
        } else {
            self.head.label_values(name, Some(&self.refs_in_range(matchers)))
        };
        let blocks = self.blocks_in_range(self.mint, self.maxt);
        if blocks.is_empty() {
            return values;
        }
        for block in &blocks {
            if matchers.is_empty() {
                values.extend(block.label_values(name));
            } else {
                values.extend(
                    self.block_labels(block, matchers, false)
                        .iter()
                        .map(|l| l.get(name))
                        .filter(|v| !v.is_empty())
                        .map(str::to_owned),
                );
            }
        }
        values.sort();
        values.dedup();
        values
    }
}

/// `series` with only its newest sample at or before `at`; `None` if it has none.
fn newest_only(series: &Series, at: i64) -> Option<Series> {
    let newest = series.iter().take_while(|sample| sample.t <= at).last()?;
    Some(Series::from_samples(series.labels.clone(), vec![newest]))
}
