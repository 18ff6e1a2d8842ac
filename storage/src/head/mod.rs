//! The head: the in-memory series and their recent samples (upstream `tsdb/head.go`,
//! `head_append.go`, `head_read.go`).
//!
//! Series are found by label set (lock-striped maps keyed by hash and by ref) and by postings
//! (label name → value → sorted series refs). Label strings are interned once per head
//! (`symbols.rs`); a series holds `u32` symbol pairs. Each series has one open XOR chunk in memory
//! and a list of sealed chunks, cut by Prometheus's rules: at 120 samples (end time predicted at 30
//! samples), at 240 samples or 1024 bytes, and at each chunk-range (2h) boundary.
//! Invariant: within a series, samples are strictly increasing in time across sealed chunks and
//! the open chunk, so a query is a concatenation, never a merge.
//! A series' tombstones (deleted intervals: `delete.rs`, or WAL Tombstones records replayed)
//! hide its samples in them from every read, whenever those samples came (upstream
//! `Head.tombstones`); head compaction leaves them out of the block.
//! `replay.rs` rebuilds the head at open from `chunks_head/` and the WAL.

mod appender;
mod delete;
pub(crate) mod postings;
mod replay;
mod status;
mod symbols;
#[cfg(test)]
mod tests;
mod truncate;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::chunkenc::{XorChunk, XorIterator};
use crate::chunks_head::{ChunkBytes, ChunkDiskMapper, ChunkDiskMapperRef};
use crate::labels::{Label, Labels};
use crate::matcher::Matcher;
use crate::sample::Sample;
use crate::series::{ChunkPart, Part};
use crate::wal::{Wal, WalError};
use postings::MemPostings;
use symbols::Symbols;

pub use appender::Appender;
pub(crate) use replay::replay_wal;
pub use replay::{ReplayProgress, ReplayStats};
pub use status::TsdbStatus;

/// Identifies a series in the head; persisted in the WAL and `chunks_head/`, so stable across
/// restarts (upstream `HeadSeriesRef`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesRef(pub u64);

/// Why a sample was not appended; the texts are Prometheus's (`storage/interface.go`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    /// The sample is older than the newest sample of its series.
    #[error("out of order sample")]
    OutOfOrder,
    /// Same timestamp as the newest sample, different value.
    #[error("duplicate sample for timestamp")]
    DuplicateTimestamp,
    /// Older than the head accepts: more than half a chunk range before its newest sample.
    #[error("out of bounds")]
    OutOfBounds,
    /// `append_ref` named a series the head does not have.
    #[error("unknown series ref {0}")]
    UnknownSeriesRef(u64),
    /// A label set that cannot name a series.
    #[error("invalid label set {0}: {1}")]
    InvalidLabels(String, &'static str),
    /// The WAL replay is not done yet (upstream `tsdb.ErrNotReady`).
    #[error("TSDB not ready")]
    NotReady,
}

/// Why a whole batch was not committed; nothing of it was stored.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The WAL replay is not done yet: nothing may be appended before it is.
    #[error("TSDB not ready")]
    NotReady,
    /// The batch could not be written to the WAL (a full disk, an I/O error). Nothing of it is
    /// in the head; the WAL is left as it was before, and the next commit tries again.
    #[error(transparent)]
    Wal(#[from] WalError),
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
    /// Samples rejected as too old (`prometheus_tsdb_out_of_bound_samples_total`).
    pub out_of_bound_samples: u64,
    /// Samples rejected as conflicting duplicates (`prometheus_tsdb_duplicate_samples_total`,
    /// promlite's name: upstream only counts them per scrape).
    pub duplicate_samples: u64,
    /// Chunks in the head, open and sealed (`prometheus_tsdb_head_chunks`).
    pub chunks: u64,
    /// Chunks ever created (`prometheus_tsdb_head_chunks_created_total`).
    pub chunks_created: u64,
    /// Lowest sample timestamp in the head, ms, or `i64::MAX` when empty.
    pub min_time: i64,
    /// Highest sample timestamp in the head, ms, or `i64::MIN` when empty.
    pub max_time: i64,
}

/// Settings of the head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadOptions {
    /// Chunk range in ms: chunks never span a multiple of it (upstream `ChunkRange`, 2h).
    pub(crate) chunk_range: i64,
    /// Target samples per chunk (upstream `SamplesPerChunk`, 120).
    pub(crate) samples_per_chunk: u16,
}

impl Default for HeadOptions {
    fn default() -> Self {
        HeadOptions { chunk_range: 2 * 3600 * 1000, samples_per_chunk: 120 }
    }
}

// Upstream `maxBytesPerXORChunk`: a chunk past this size is cut whatever its sample count.
const MAX_BYTES_PER_XOR_CHUNK: usize = 1024;

/// A full chunk: immutable, kept until a block holds its samples and head truncation drops it.
pub(crate) struct SealedChunk {
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    pub(crate) data: ChunkData,
}

/// Where a sealed chunk's bytes are.
pub(crate) enum ChunkData {
    /// In `chunks_head/`, by ref.
    Disk(ChunkDiskMapperRef),
    /// In memory: the head has no `chunks_head/` (tests) or writing it failed.
    Memory(std::sync::Arc<[u8]>),
}

/// The open chunk samples are appended to.
pub(crate) struct HeadChunk {
    pub(crate) chunk: XorChunk,
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
}

/// A series' mutable part, behind the series' own lock.
#[derive(Default)]
pub(crate) struct SeriesState {
    pub(crate) sealed: Vec<SealedChunk>,
    pub(crate) head_chunk: Option<HeadChunk>,
    /// When the open chunk must be cut (upstream `memSeries.nextAt`).
    next_at: i64,
    last_value_bits: u64,
    /// Deleted intervals `[mint, maxt]`, sorted, disjoint and not adjacent.
    deleted: Vec<(i64, i64)>,
}

/// One series (upstream `memSeries`).
pub(crate) struct MemSeries {
    pub(crate) series_ref: u64,
    /// Interned `name, value` symbol pairs, in label-name order.
    pub(crate) pairs: Box<[u32]>,
    pub(crate) state: Mutex<SeriesState>,
}

/// What a successful append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Appended {
    /// Stored; `true` when a new chunk was cut for it.
    Stored(bool),
    /// Same timestamp and value as the newest sample: nothing to do (upstream accepts it silently).
    Duplicate,
}

impl SeriesState {
    /// Upstream `memSeries.appendable`: `Ok(true)` to store, `Ok(false)` for an exact resend of
    /// the newest sample (tolerated, as federation does this), or why not.
    pub(crate) fn appendable(&self, t: i64, v: f64) -> Result<bool, AppendError> {
        match &self.head_chunk {
            Some(c) if t < c.max_time => Err(AppendError::OutOfOrder),
            Some(c) if t == c.max_time && v.to_bits() == self.last_value_bits => Ok(false),
            Some(c) if t == c.max_time => Err(AppendError::DuplicateTimestamp),
            Some(_) => Ok(true),
            None if self.sealed.last().is_some_and(|c| c.max_time >= t) => Err(AppendError::OutOfOrder),
            None => Ok(true),
        }
    }

    /// Appends one sample under upstream's rules (`appendable`, then the chunk-cut rules).
    pub(crate) fn append(&mut self, t: i64, v: f64, ctx: &CutContext<'_>) -> Result<Appended, AppendError> {
        let opts = ctx.opts;
        if !self.appendable(t, v)? {
            return Ok(Appended::Duplicate);
        }
        let mut cut = false;
        match &self.head_chunk {
            None => cut = true,
            Some(c) if c.chunk.bytes().len() > MAX_BYTES_PER_XOR_CHUNK => cut = true,
            Some(_) => {}
        }
        if cut {
            self.cut(t, ctx);
        }
        let c = self.head_chunk.as_mut().expect("a head chunk exists after cut");
        let num = c.chunk.num_samples();
        if num == opts.samples_per_chunk / 4 {
            self.next_at = compute_chunk_end_time(c.min_time, c.max_time, self.next_at, 4.0);
        }
        if t >= self.next_at || num >= opts.samples_per_chunk * 2 {
            self.cut(t, ctx);
            cut = true;
        }
        let c = self.head_chunk.as_mut().expect("a head chunk exists after cut");
        c.chunk.append(t, v);
        c.max_time = t;
        self.last_value_bits = v.to_bits();
        Ok(Appended::Stored(cut))
    }

    fn cut(&mut self, t: i64, ctx: &CutContext<'_>) {
        if let Some(old) = self.head_chunk.take() {
            let bytes = old.chunk.bytes();
            let written = ctx.mapper.map(|m| m.write_chunk(ctx.series_ref, old.min_time, old.max_time, bytes));
            let data = match written {
                Some(Ok(chunk_ref)) => ChunkData::Disk(chunk_ref),
                Some(Err(err)) => {
                    // The samples are in the WAL either way; only memory use suffers.
                    tracing::error!(error = %err, "writing a head chunk to chunks_head failed: keeping it in memory");
                    ChunkData::Memory(bytes.into())
                }
                None => ChunkData::Memory(bytes.into()),
            };
            self.sealed.push(SealedChunk { min_time: old.min_time, max_time: old.max_time, data });
        }
        self.head_chunk = Some(HeadChunk { chunk: XorChunk::new(), min_time: t, max_time: i64::MIN });
        self.next_at = range_for_timestamp(t, ctx.opts.chunk_range);
    }

    /// Deletes `[mint, maxt]` (both included): the samples there are no longer read.
    pub(crate) fn delete(&mut self, mint: i64, maxt: i64) {
        if mint > maxt {
            return;
        }
        let (mut mint, mut maxt) = (mint, maxt);
        self.deleted.retain(|&(a, b)| {
            let touches = a <= maxt.saturating_add(1) && b >= mint.saturating_sub(1);
            if touches {
                mint = mint.min(a);
                maxt = maxt.max(b);
            }
            !touches
        });
        let at = self.deleted.partition_point(|&(a, _)| a < mint);
        self.deleted.insert(at, (mint, maxt));
    }

    /// The deleted intervals, oldest first.
    pub(crate) fn deleted(&self) -> &[(i64, i64)] {
        &self.deleted
    }

    /// Forgets the deleted intervals that end before `mint` (no sample there is left).
    pub(crate) fn forget_deleted_before(&mut self, mint: i64) {
        self.deleted.retain(|&(_, maxt)| maxt >= mint);
    }

    fn is_deleted(&self, t: i64) -> bool {
        let at = self.deleted.partition_point(|&(_, maxt)| maxt < t);
        self.deleted.get(at).is_some_and(|&(mint, _)| mint <= t)
    }

    /// The chunks holding samples in `[mint, maxt]`, undecoded, clipped to that range; `None`
    /// if none overlaps it. The open chunk is copied as it is now (samples appended later are
    /// past `maxt` anyway: a select stops at the newest timestamp it saw committed), or, when
    /// the range starts inside it, its samples in range are decoded instead. A sealed
    /// chunk that cannot be read (its file vanished under us) is left out with a log line.
    pub(crate) fn chunk_part(&self, mint: i64, maxt: i64, mapper: Option<&ChunkDiskMapper>) -> Option<Part> {
        let mut chunks = Vec::new();
        for c in self.sealed.iter().filter(|c| c.max_time >= mint && c.min_time <= maxt) {
            match (&c.data, mapper) {
                (ChunkData::Memory(bytes), _) => chunks.push(ChunkBytes::Shared(Arc::clone(bytes))),
                (ChunkData::Disk(chunk_ref), Some(mapper)) => match mapper.chunk(*chunk_ref) {
                    Ok(bytes) => chunks.push(bytes),
                    Err(err) => tracing::error!(error = %err, "reading a head chunk failed"),
                },
                (ChunkData::Disk(_), None) => unreachable!("disk chunks only exist in a head with a mapper"),
            }
        }
        let mut tail = Vec::new();
        if let Some(c) = self.head_chunk.as_ref().filter(|c| c.max_time >= mint && c.min_time <= maxt) {
            if c.min_time < mint {
                // The range starts inside the open chunk (an instant selector's lookback, a
                // rate's window): its few samples in range cost less than a copy of it, held
                // for every selected series at once.
                if let Ok(it) = XorIterator::new(c.chunk.bytes()) {
                    tail.extend(
                        it.map_while(Result::ok)
                            .take_while(|s| s.t <= maxt)
                            .filter(|s| s.t >= mint && !self.is_deleted(s.t)),
                    );
                }
            } else {
                chunks.push(ChunkBytes::Owned(c.chunk.bytes().to_vec()));
            }
        }
        let deleted = self.deleted.iter().copied().filter(|&(a, b)| b >= mint && a <= maxt).collect();
        (!chunks.is_empty() || !tail.is_empty()).then(|| Part::Chunks(ChunkPart { chunks, mint, maxt, deleted, tail }))
    }

    /// The newest sample in `[mint, maxt]`, decoding only the chunks from the newest back to
    /// the first that has one (chunks of a series are in time order and do not overlap).
    pub(crate) fn latest_sample(&self, mint: i64, maxt: i64, mapper: Option<&ChunkDiskMapper>) -> Option<Sample> {
        let last_in = |bytes: &[u8]| -> Option<Sample> {
            let it = XorIterator::new(bytes).ok()?;
            it.map_while(Result::ok).take_while(|s| s.t <= maxt).filter(|s| s.t >= mint && !self.is_deleted(s.t)).last()
        };
        if let Some(c) = self.head_chunk.as_ref().filter(|c| c.max_time >= mint && c.min_time <= maxt)
            && let Some(sample) = last_in(c.chunk.bytes())
        {
            return Some(sample);
        }
        for c in self.sealed.iter().rev().filter(|c| c.max_time >= mint && c.min_time <= maxt) {
            let found = match (&c.data, mapper) {
                (ChunkData::Memory(bytes), _) => last_in(bytes),
                (ChunkData::Disk(chunk_ref), Some(mapper)) => match mapper.chunk(*chunk_ref) {
                    Ok(bytes) => last_in(&bytes),
                    Err(err) => {
                        tracing::error!(error = %err, "reading a head chunk failed");
                        None
                    }
                },
                (ChunkData::Disk(_), None) => unreachable!("disk chunks only exist in a head with a mapper"),
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }

    /// The newest sample's timestamp, if the series has one.
    pub(crate) fn max_time(&self) -> Option<i64> {
        match &self.head_chunk {
            Some(c) if c.max_time != i64::MIN => Some(c.max_time),
            _ => self.sealed.last().map(|c| c.max_time),
        }
    }

    /// The oldest sample's timestamp, if the series has one.
    pub(crate) fn min_time(&self) -> Option<i64> {
        match (self.sealed.first(), &self.head_chunk) {
            (Some(c), _) => Some(c.min_time),
            (None, Some(c)) if c.max_time != i64::MIN => Some(c.min_time),
            _ => None,
        }
    }

    /// Whether the series API lists the series for `[mint, maxt]`: a chunk overlaps it and is
    /// not wholly inside one deleted interval, the open chunk counting as reaching to
    /// `i64::MAX`, as upstream's head index reports it. So a deleted series stays listed while
    /// its open chunk lives; the block head compaction writes leaves it out.
    pub(crate) fn listed_in(&self, mint: i64, maxt: i64) -> bool {
        let live = |min: i64, max: i64| !crate::block::is_deleted_range(min, max, &self.deleted);
        self.sealed.iter().any(|c| c.max_time >= mint && c.min_time <= maxt && live(c.min_time, c.max_time))
            || self
                .head_chunk
                .as_ref()
                .is_some_and(|c| c.max_time >= mint && c.min_time <= maxt && live(c.min_time, i64::MAX))
    }

    /// Whether any chunk overlaps `[mint, maxt]`.
    pub(crate) fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        self.sealed.iter().any(|c| c.max_time >= mint && c.min_time <= maxt)
            || self.head_chunk.as_ref().is_some_and(|c| c.max_time >= mint && c.min_time <= maxt)
    }

    /// Heap bytes this state holds.
    pub(crate) fn allocated_bytes(&self) -> usize {
        let sealed: usize = self
            .sealed
            .iter()
            .map(|c| match &c.data {
                ChunkData::Memory(bytes) => bytes.len(),
                ChunkData::Disk(_) => 0,
            })
            .sum::<usize>()
            + self.sealed.capacity() * std::mem::size_of::<SealedChunk>();
        sealed + self.head_chunk.as_ref().map_or(0, |c| c.chunk.allocated_bytes())
    }
}

/// What cutting a chunk needs besides the series state.
pub(crate) struct CutContext<'a> {
    pub(crate) opts: &'a HeadOptions,
    pub(crate) mapper: Option<&'a ChunkDiskMapper>,
    pub(crate) series_ref: u64,
}

/// Upstream `rangeForTimestamp`: the end of the chunk-range window holding `t` (Go's truncating
/// division, kept for negative timestamps too).
fn range_for_timestamp(t: i64, width: i64) -> i64 {
    (t / width) * width + width
}

/// Upstream `computeChunkEndTime`: once a chunk holds a quarter of its target, spread the rest of
/// the range evenly over chunks of the rate seen so far.
fn compute_chunk_end_time(start: i64, cur: i64, max_t: i64, ratio_to_full: f64) -> i64 {
    let n = (max_t - start) as f64 / ((cur - start + 1) as f64 * ratio_to_full);
    if n <= 1.0 {
        return max_t;
    }
    (start as f64 + (max_t - start) as f64 / n.floor()) as i64
}

const STRIPES: usize = 512;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Series by ref and by label hash, each striped to keep lock contention low (upstream
/// `stripeSeries`).
struct StripeSeries {
    by_ref: Box<[RwLock<RefStripe>]>,
    by_hash: Box<[RwLock<HashStripe>]>,
}

type RefStripe = Map<u64, Arc<MemSeries>>;
/// Label-set hash → the series with that hash (almost always one).
type HashStripe = Map<u64, Vec<Arc<MemSeries>>>;

impl StripeSeries {
    fn new() -> StripeSeries {
        StripeSeries {
            by_ref: (0..STRIPES).map(|_| RwLock::default()).collect(),
            by_hash: (0..STRIPES).map(|_| RwLock::default()).collect(),
        }
    }

    fn get(&self, series_ref: u64) -> Option<Arc<MemSeries>> {
        self.by_ref[series_ref as usize % STRIPES]
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&series_ref)
            .cloned()
    }
}

/// Plain counters, updated with relaxed atomics.
#[derive(Default)]
pub(crate) struct HeadCounters {
    pub(crate) series: AtomicU64,
    pub(crate) series_created: AtomicU64,
    pub(crate) samples_appended: AtomicU64,
    pub(crate) out_of_order: AtomicU64,
    pub(crate) out_of_bounds: AtomicU64,
    pub(crate) duplicates: AtomicU64,
    pub(crate) chunks: AtomicU64,
    pub(crate) chunks_created: AtomicU64,
}

pub(crate) struct Head {
    pub(crate) opts: HeadOptions,
    /// `chunks_head/`; `None` keeps sealed chunks in memory (tests of the head alone).
    pub(crate) mapper: Option<ChunkDiskMapper>,
    symbols: RwLock<Symbols>,
    series: StripeSeries,
    postings: RwLock<MemPostings>,
    next_ref: AtomicU64,
    pub(crate) counters: HeadCounters,
    pub(crate) min_time: AtomicI64,
    pub(crate) max_time: AtomicI64,
    /// The WAL writer (`None` before replay finishes and in tests of the head alone). Its lock
    /// serialises commits so the WAL holds them in the order the head applied them.
    pub(crate) wal: Mutex<Option<Wal>>,
    /// WAL writes that failed (`prometheus_tsdb_wal_writes_failed_total`).
    pub(crate) wal_write_failures: AtomicU64,
    /// Set while WAL writes fail (every commit fails then), cleared by the next that works.
    pub(crate) wal_failing: AtomicBool,
    /// Set once the WAL replay is done and the WAL is open: appenders refuse work before.
    pub(crate) ready: AtomicBool,
    /// Refs handed out for a series that another commit created first (see `add_alias`).
    aliases: RwLock<Map<u64, u64>>,
    /// Held for writing while a commit applies its samples, and for reading while a select
    /// takes its snapshot, so no select sees part of a commit (see `Querier::select_with`).
    pub(crate) isolation: RwLock<()>,
    /// Held for reading by a select for as long as it reads the head and the block list, and
    /// for writing by truncation, so a select sees the head before or after a truncation
    /// together with the blocks of that moment, and no series it holds is removed under it.
    pub(crate) truncation: RwLock<()>,
    /// No sample older than this is accepted or replayed: the newest block's end
    /// (upstream `minValidTime`); `i64::MIN` while there are no blocks.
    pub(crate) min_valid_time: AtomicI64,
}

impl Drop for Head {
    // Series records of an appender dropped without commit or rollback are still in the WAL's
    // page buffer; hand them to the OS so a clean stop loses nothing.
    fn drop(&mut self) {
        if let Some(mapper) = &self.mapper
            && let Err(err) = mapper.flush()
        {
            tracing::error!(error = %err, "flushing chunks_head on close failed");
        }
        if let Some(wal) = self.wal.get_mut().unwrap_or_else(PoisonError::into_inner).as_mut()
            && let Err(err) = wal.flush()
        {
            tracing::error!(error = %err, "flushing the WAL on close failed");
        }
    }
}

impl Head {
    pub(crate) fn new(opts: HeadOptions, mapper: Option<ChunkDiskMapper>) -> Head {
        Head {
            opts,
            mapper,
            symbols: RwLock::default(),
            series: StripeSeries::new(),
            postings: RwLock::default(),
            // Upstream hands out refs from 1; 0 means "no ref".
            next_ref: AtomicU64::new(1),
            counters: HeadCounters::default(),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            wal: Mutex::new(None),
            wal_write_failures: AtomicU64::new(0),
            wal_failing: AtomicBool::new(false),
            ready: AtomicBool::new(false),
            aliases: RwLock::default(),
            isolation: RwLock::default(),
            truncation: RwLock::default(),
            min_valid_time: AtomicI64::new(i64::MIN),
        }
    }

    /// Counts a failed WAL write; the first of a run is logged (the commit's caller reports
    /// its own failure to whoever sent the samples).
    pub(crate) fn wal_failed(&self, err: &WalError) {
        self.wal_write_failures.fetch_add(1, Ordering::Relaxed);
        if !self.wal_failing.swap(true, Ordering::Relaxed) {
            tracing::error!(error = %err, "WAL write failed: appends are refused until writing works again");
        }
    }

    /// Notes a WAL write that worked; logs the recovery after failures.
    pub(crate) fn wal_ok(&self) {
        if self.wal_failing.load(Ordering::Relaxed) && self.wal_failing.swap(false, Ordering::Relaxed) {
            tracing::info!("WAL writes work again: appends are accepted");
        }
    }

    fn intern(&self, labels: &Labels) -> Box<[u32]> {
        {
            let symbols = self.symbols.read().unwrap_or_else(PoisonError::into_inner);
            let found: Option<Vec<u32>> =
                labels.iter().flat_map(|l| [l.name.as_str(), l.value.as_str()]).map(|s| symbols.get(s)).collect();
            if let Some(found) = found {
                return found.into();
            }
        }
        let mut symbols = self.symbols.write().unwrap_or_else(PoisonError::into_inner);
        labels.iter().flat_map(|l| [l.name.as_str(), l.value.as_str()]).map(|s| symbols.intern(s)).collect()
    }

    fn pairs_equal(&self, pairs: &[u32], labels: &Labels) -> bool {
        if pairs.len() != labels.len() * 2 {
            return false;
        }
        let symbols = self.symbols.read().unwrap_or_else(PoisonError::into_inner);
        labels
            .iter()
            .zip(pairs.chunks_exact(2))
            .all(|(l, p)| symbols.resolve(p[0]) == l.name && symbols.resolve(p[1]) == l.value)
    }

    /// The series for `labels` (whose [`Labels::stable_hash`] is `hash`), if the head has it.
    pub(crate) fn get(&self, labels: &Labels, hash: u64) -> Option<Arc<MemSeries>> {
        let stripe = self.series.by_hash[hash as usize % STRIPES].read().unwrap_or_else(PoisonError::into_inner);
        stripe.get(&hash)?.iter().find(|s| self.pairs_equal(&s.pairs, labels)).cloned()
    }

    /// A ref no series has had or will have: refs are never reused, and replay moved the
    /// counter past every ref on disk before the first appender could ask.
    pub(crate) fn reserve_ref(&self) -> u64 {
        self.next_ref.fetch_add(1, Ordering::Relaxed)
    }

    /// Makes sure refs handed out from now on are above `series_ref`.
    pub(crate) fn bump_ref(&self, series_ref: u64) {
        self.next_ref.fetch_max(series_ref.saturating_add(1), Ordering::Relaxed);
    }

    /// Adds a series with `series_ref` unless the head has `labels` already; returns the
    /// series that now has them and whether it was created. Appenders call this only after the
    /// series' record is in the WAL (holding the WAL lock, so no two create the same labels);
    /// replay calls it with the WAL's refs.
    pub(crate) fn get_or_create(&self, labels: &Labels, series_ref: u64) -> (Arc<MemSeries>, bool) {
        let hash = labels.stable_hash();
        if let Some(series) = self.get(labels, hash) {
            return (series, false);
        }
        let series = self.new_series(labels, series_ref);
        self.insert(&series, hash);
        (series, true)
    }

    /// A series for `labels` with `series_ref`, not yet in the head ([`Head::insert`] adds it):
    /// what a commit validates against before its WAL write, and inserts after.
    pub(crate) fn new_series(&self, labels: &Labels, series_ref: u64) -> Arc<MemSeries> {
        Arc::new(MemSeries { series_ref, pairs: self.intern(labels), state: Mutex::new(SeriesState::default()) })
    }

    /// Makes `series` (from [`Head::new_series`], labels hashing to `hash`) findable. The
    /// caller made sure the head has no series with its labels: replay by its lookup, a commit
    /// by holding the WAL lock, under which alone series are created.
    pub(crate) fn insert(&self, series: &Arc<MemSeries>, hash: u64) {
        self.bump_ref(series.series_ref);
        let mut by_hash = self.series.by_hash[hash as usize % STRIPES].write().unwrap_or_else(PoisonError::into_inner);
        self.postings.write().unwrap_or_else(PoisonError::into_inner).add(series.series_ref, &series.pairs);
        self.series.by_ref[series.series_ref as usize % STRIPES]
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(series.series_ref, Arc::clone(series));
        by_hash.entry(hash).or_default().push(Arc::clone(series));
        self.counters.series.fetch_add(1, Ordering::Relaxed);
        self.counters.series_created.fetch_add(1, Ordering::Relaxed);
    }

    /// Remembers that `from` (a ref an appender handed out for a series another commit created
    /// first) means `to`, so a caller that cached `from` keeps reaching the series.
    pub(crate) fn add_alias(&self, from: u64, to: u64) {
        self.aliases.write().unwrap_or_else(PoisonError::into_inner).insert(from, to);
    }

    pub(crate) fn series(&self, series_ref: u64) -> Option<Arc<MemSeries>> {
        self.series.get(series_ref).or_else(|| {
            let to = *self.aliases.read().unwrap_or_else(PoisonError::into_inner).get(&series_ref)?;
            self.series.get(to)
        })
    }

    /// The label set of `series`, built from the symbol table.
    pub(crate) fn labels_of(&self, series: &MemSeries) -> Labels {
        let symbols = self.symbols.read().unwrap_or_else(PoisonError::into_inner);
        Labels::from_sorted(
            series
                .pairs
                .chunks_exact(2)
                .map(|p| Label { name: symbols.resolve(p[0]).to_owned(), value: symbols.resolve(p[1]).to_owned() })
                .collect(),
        )
    }

    pub(crate) fn stats(&self) -> HeadStats {
        let c = &self.counters;
        HeadStats {
            series: c.series.load(Ordering::Relaxed),
            series_created: c.series_created.load(Ordering::Relaxed),
            samples_appended: c.samples_appended.load(Ordering::Relaxed),
            out_of_order_samples: c.out_of_order.load(Ordering::Relaxed),
            out_of_bound_samples: c.out_of_bounds.load(Ordering::Relaxed),
            duplicate_samples: c.duplicates.load(Ordering::Relaxed),
            chunks: c.chunks.load(Ordering::Relaxed),
            chunks_created: c.chunks_created.load(Ordering::Relaxed),
            min_time: self.min_time.load(Ordering::Relaxed),
            max_time: self.max_time.load(Ordering::Relaxed),
        }
    }

    /// Refs of series satisfying every matcher, ascending.
    pub(crate) fn select_refs(&self, matchers: &[Matcher]) -> Vec<u64> {
        let symbols = self.symbols.read().unwrap_or_else(PoisonError::into_inner);
        self.postings.read().unwrap_or_else(PoisonError::into_inner).select(&symbols, matchers)
    }

    /// Sorted label names of the series `refs` (all series when `None`).
    pub(crate) fn label_names(&self, refs: Option<&[u64]>) -> Vec<String> {
        let symbols = self.symbols.read().unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<String> = match refs {
            None => self
                .postings
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .names()
                .map(|s| symbols.resolve(s).to_owned())
                .collect(),
            Some(refs) => {
                let mut syms: Vec<u32> = refs
                    .iter()
                    .filter_map(|r| self.series(*r))
                    .flat_map(|s| s.pairs.chunks_exact(2).map(|p| p[0]).collect::<Vec<_>>())
                    .collect();
                syms.sort_unstable();
                syms.dedup();
                syms.into_iter().map(|s| symbols.resolve(s).to_owned()).collect()
            }
        };
        names.sort();
        names
    }

    /// Sorted values of label `name` among the series `refs` (all series when `None`).
    pub(crate) fn label_values(&self, name: &str, refs: Option<&[u64]>) -> Vec<String> {
        let symbols = self.symbols.read().unwrap_or_else(PoisonError::into_inner);
        let Some(name_sym) = symbols.get(name) else { return Vec::new() };
        let mut values: Vec<String> = match refs {
            None => self
                .postings
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .values(name_sym)
                .map(|s| symbols.resolve(s).to_owned())
                .collect(),
            Some(refs) => {
                let mut syms: Vec<u32> = refs
                    .iter()
                    .filter_map(|r| self.series(*r))
                    .filter_map(|s| s.pairs.chunks_exact(2).find(|p| p[0] == name_sym).map(|p| p[1]))
                    .collect();
                syms.sort_unstable();
                syms.dedup();
                syms.into_iter().map(|s| symbols.resolve(s).to_owned()).collect()
            }
        };
        values.sort();
        values
    }

    /// Heap bytes the head holds, estimated from the sizes of its parts (for
    /// `promlite_tsdb_head_bytes_per_series` and the memory bench). Series are sampled: one
    /// stripe in 16 is walked and scaled up (refs spread evenly over stripes), so a `/metrics`
    /// scrape costs ~8 ms at 1M series instead of ~130 ms.
    pub(crate) fn allocated_bytes(&self) -> usize {
        const SAMPLE_EVERY: usize = 16;
        let symbols = self.symbols.read().unwrap_or_else(PoisonError::into_inner).allocated_bytes();
        let postings = self.postings.read().unwrap_or_else(PoisonError::into_inner).allocated_bytes();
        let mut series = 0usize;
        for stripe in self.series.by_ref.iter().step_by(SAMPLE_EVERY) {
            let stripe = stripe.read().unwrap_or_else(PoisonError::into_inner);
            // Both maps hold an Arc per series: key + pointer + control byte each.
            series += stripe.capacity() * (8 + 8 + 1) * 2;
            for s in stripe.values() {
                series += std::mem::size_of::<MemSeries>() + 16 + s.pairs.len() * 4;
                series += s.state.lock().unwrap_or_else(PoisonError::into_inner).allocated_bytes();
            }
        }
        symbols + postings + series * SAMPLE_EVERY
    }

    /// Every series with a chunk overlapping `[mint, maxt)`, in no order (what a block of that
    /// range is written from).
    pub(crate) fn series_overlapping(&self, mint: i64, maxt: i64) -> Vec<Arc<MemSeries>> {
        let mut out = Vec::new();
        for stripe in self.series.by_ref.iter() {
            let stripe = stripe.read().unwrap_or_else(PoisonError::into_inner);
            out.extend(
                stripe
                    .values()
                    .filter(|s| s.state.lock().unwrap_or_else(PoisonError::into_inner).overlaps(mint, maxt - 1))
                    .cloned(),
            );
        }
        out
    }

    /// The strings of `syms`, in the same order.
    pub(crate) fn resolve_symbols(&self, syms: &[u32]) -> Vec<String> {
        let symbols = self.symbols.read().unwrap_or_else(PoisonError::into_inner);
        syms.iter().map(|s| symbols.resolve(*s).to_owned()).collect()
    }

    /// Number of distinct interned strings.
    #[cfg(test)]
    pub(crate) fn num_symbols(&self) -> usize {
        self.symbols.read().unwrap_or_else(PoisonError::into_inner).len()
    }
}
