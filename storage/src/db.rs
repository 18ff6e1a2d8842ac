//! The database: one data directory, its head and its blocks (upstream `tsdb/db.go`).
//!
//! Layout, as Prometheus's: `lock` (flock'ed while open), one directory per block (`<ULID>/`),
//! `wal/` (segments and `checkpoint.NNNNNNNN/`), `chunks_head/` (sealed head chunks), and
//! `quarantine/` for WAL segments replay had to cut and blocks that failed verification
//! (promlite's own), and `snapshots/` for what the admin API's snapshots make (`db/admin.rs`,
//! which also deletes series and cleans tombstones). Opening loads the blocks, checks `chunks_head/`, then the replay
//! (`head/replay.rs`) puts its chunks and the WAL's newer samples into the head: after `open`
//! (or `open_deferred` + `replay_wal`) blocks and head together hold every sample committed
//! before the last stop, each once (samples older than the newest block's end are not replayed).

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

mod admin;
mod compaction;
mod metrics;

pub use admin::AdminError;
pub use compaction::CompactionError;
pub use metrics::{COMPACTION_DURATION_BUCKETS, Histogram, TsdbMetrics};

use crate::block::Block;
use crate::chunks_head::{self, ChunkDiskError, ChunkDiskMapper, ChunkRepair};
use crate::fanout::{Secondaries, SecondaryQueryable};
use crate::head::{
    Appender, ChunkData, Head, HeadOptions, HeadStats, ReplayProgress, ReplayStats, SealedChunk, TsdbStatus, replay_wal,
};
use crate::querier::Querier;
use crate::wal::{self, Wal, WalError};

/// Settings from `--storage.tsdb.*`.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--storage.tsdb.retention.time`, milliseconds; 0 means the default (15d).
    pub retention_ms: i64,
    /// `--storage.tsdb.retention.size`, bytes; 0 means no size limit.
    pub retention_bytes: u64,
    /// `--storage.tsdb.wal-segment-size`, bytes (default 128 MiB).
    pub wal_segment_size: usize,
    /// `--storage.tsdb.wal-compression` (snappy; default on, as in Prometheus 3).
    pub wal_compression: bool,
    /// `--storage.tsdb.min-block-duration`, ms: the head's chunk range and the first block
    /// range (default 2h).
    pub min_block_duration_ms: i64,
    /// `--storage.tsdb.max-block-duration`, ms; 0 means min(31d, retention/10). Equal to the
    /// min block duration, blocks are never compacted further (what Thanos sidecars need).
    pub max_block_duration_ms: i64,
    /// `--storage.tsdb.no-lockfile`: do not lock the directory.
    pub no_lockfile: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            retention_ms: 0,
            retention_bytes: 0,
            wal_segment_size: wal::DEFAULT_SEGMENT_SIZE,
            wal_compression: true,
            min_block_duration_ms: 2 * 3_600_000,
            max_block_duration_ms: 0,
            no_lockfile: false,
        }
    }
}

/// Opening the data directory failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The directory could not be created or the lock file written.
    #[error("{path}: {error}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The WAL could not be read or opened for writing.
    #[error(transparent)]
    Wal(#[from] WalError),
    /// `chunks_head/` could not be read or repaired.
    #[error(transparent)]
    ChunksHead(#[from] ChunkDiskError),
    /// Another process holds the directory's lock file.
    #[error(
        "{path}: the data directory is locked by another process (is another promlite or Prometheus running on it? --storage.tsdb.no-lockfile turns the lock off)"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
}

/// One loaded block, for logs, tests and the status API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockInfo {
    /// The block's ULID (its directory name).
    pub ulid: String,
    /// First sample time, ms.
    pub min_time: i64,
    /// End of the block's range, ms, exclusive.
    pub max_time: i64,
    /// Samples in the block.
    pub num_samples: u64,
    /// Series in the block.
    pub num_series: u64,
    /// Compaction level (1 for a block written from the head).
    pub level: u32,
    /// Bytes of its files.
    pub size_bytes: u64,
}

struct PendingReplay {
    mmapped: HashMap<u64, Vec<SealedChunk>>,
    chunk_repair: Option<ChunkRepair>,
}

/// An open TSDB. Cheap to clone; clones share the head.
#[derive(Clone)]
pub struct Db {
    dir: PathBuf,
    options: Options,
    head: Arc<Head>,
    replay: Arc<RwLock<Arc<ReplayStats>>>,
    progress: Arc<ReplayProgress>,
    /// What `open_deferred` found, until `replay_wal` consumes it.
    pending: Arc<Mutex<Option<PendingReplay>>>,
    secondaries: Arc<RwLock<Secondaries>>,
    /// The blocks, oldest first; replaced whole, so a querier keeps the list it started with.
    blocks: Arc<RwLock<Arc<[Arc<Block>]>>>,
    metrics: Arc<TsdbMetrics>,
    /// Serialises compaction rounds.
    compaction: Arc<Mutex<()>>,
    /// The background compaction loop, once started.
    background: Arc<Mutex<Option<Background>>>,
    // Held for the life of the Db so the lock (flock) stays ours.
    lock: Option<Arc<File>>,
    /// `prometheus_tsdb_clean_start`: -1 without a lock file, 0 when one was left by a run
    /// that did not close cleanly, 1 otherwise. A clean close removes the file, as upstream's.
    clean_start: i8,
}

struct Background {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Db {
    /// Opens (creating if needed) the data directory `dir`, replaying its WAL.
    pub fn open(dir: &Path, options: Options) -> Result<Db, DbError> {
        let db = Db::open_deferred(dir, options)?;
        db.replay_wal()?;
        Ok(db)
    }

    /// Opens `dir` and checks `chunks_head/`, but leaves the WAL replay to [`Db::replay_wal`], so
    /// a server can answer `/-/ready` (503) and `/api/v1/status/walreplay` while it runs.
    /// Until then the head is empty, and no appender may be used: appends must start after
    /// `replay_wal` returns.
    pub fn open_deferred(dir: &Path, options: Options) -> Result<Db, DbError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |error| DbError::Io { path, error }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join("lock");
        let clean_start = match (options.no_lockfile, lock_path.exists()) {
            (true, _) => -1,
            (false, true) => 0,
            (false, false) => 1,
        };
        let lock = if options.no_lockfile {
            None
        } else {
            let lock =
                OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io(&lock_path))?;
            match lock.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => return Err(DbError::Locked { path: lock_path }),
                Err(fs::TryLockError::Error(error)) => return Err(DbError::Io { path: lock_path, error }),
            }
            Some(Arc::new(lock))
        };
        let metrics = Arc::new(TsdbMetrics::default());
        let blocks = compaction::load_blocks(dir, &metrics)?;
        // Samples before the newest block's end are in blocks: not replayed, not accepted.
        let min_valid_time = blocks.iter().map(|b| b.meta().max_time).max().unwrap_or(i64::MIN);
        let wal_dir = dir.join("wal");
        fs::create_dir_all(&wal_dir).map_err(io(&wal_dir))?;
        // Known before the replay starts, so `/api/v1/status/walreplay` shows the range at once.
        let segments = wal::list_segments(&wal_dir)?;
        let progress = ReplayProgress::default();
        progress.min.store(segments.first().copied().unwrap_or(0), Ordering::Relaxed);
        progress.max.store(segments.last().copied().unwrap_or(0), Ordering::Relaxed);
        progress.current.store(segments.first().copied().unwrap_or(0), Ordering::Relaxed);
        let (mapper, chunks, chunk_repair) =
            ChunkDiskMapper::open(&dir.join("chunks_head"), chunks_head::MAX_FILE_SIZE)?;
        if let Some(repair) = &chunk_repair {
            tracing::warn!(
                file = repair.file,
                offset = repair.offset,
                reason = %repair.reason,
                files_deleted = ?repair.files_deleted,
                "chunks_head damaged: dropped the chunks from there on; the WAL replay restores their samples"
            );
        }
        let mut mmapped: HashMap<u64, Vec<SealedChunk>> = HashMap::new();
        for c in chunks.into_iter().filter(|c| c.max_time >= min_valid_time) {
            mmapped.entry(c.series_ref).or_default().push(SealedChunk {
                min_time: c.min_time,
                max_time: c.max_time,
                data: ChunkData::Disk(c.chunk_ref),
            });
        }
        let head = Head::new(
            HeadOptions { chunk_range: options.min_block_duration_ms.max(1), ..HeadOptions::default() },
            Some(mapper),
        );
        head.min_valid_time.store(min_valid_time, Ordering::Relaxed);
        // A chunk in chunks_head whose series the WAL no longer names (a damaged WAL) must not
        // be attached at the next start to a new series that happened to get its ref.
        if let Some(&max) = mmapped.keys().max() {
            head.bump_ref(max);
        }
        Ok(Db {
            dir: dir.to_owned(),
            options,
            head: Arc::new(head),
            replay: Arc::new(RwLock::new(Arc::new(ReplayStats::default()))),
            progress: Arc::new(progress),
            pending: Arc::new(Mutex::new(Some(PendingReplay { mmapped, chunk_repair }))),
            secondaries: Arc::new(RwLock::new(Arc::new([]))),
            blocks: Arc::new(RwLock::new(blocks.into())),
            metrics,
            compaction: Arc::new(Mutex::new(())),
            background: Arc::new(Mutex::new(None)),
            lock,
            clean_start,
        })
    }

    /// `prometheus_tsdb_clean_start`: -1 when running without a lock file, 0 when the last run
    /// left its lock file behind (it did not close cleanly), 1 otherwise.
    pub fn clean_start(&self) -> i8 {
        self.clean_start
    }

    /// Replays `chunks_head/` and the WAL into the head and opens the WAL for writing; a no-op
    /// after the first call.
    pub fn replay_wal(&self) -> Result<(), DbError> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(PendingReplay { mmapped, chunk_repair }) = pending.take() else { return Ok(()) };
        let wal_dir = self.dir.join("wal");
        let mut stats = replay_wal(&self.head, &wal_dir, &self.dir.join("quarantine"), &self.progress, mmapped)?;
        stats.chunk_repair = chunk_repair;
        *self.head.wal.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Wal::create(&wal_dir, self.options.wal_segment_size, self.options.wal_compression)?);
        *self.replay.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(stats);
        self.head.ready.store(true, Ordering::Release);
        self.progress.done.store(true, Ordering::Release);
        // Files of chunks that blocks hold already.
        if let Some(mapper) = &self.head.mapper
            && let Err(err) = mapper.truncate(self.head.min_valid_time.load(Ordering::Relaxed))
        {
            tracing::warn!(error = %err, "deleting chunks_head files that blocks hold failed");
        }
        Ok(())
    }

    /// Starts the background loop that compacts the head once it spans 1.5 block ranges
    /// (checked every 5 s), compacts blocks and applies retention (every minute), as
    /// upstream's `DB.run`. Call after the replay; [`Db::close`] stops it.
    pub fn start_compactor(&self) {
        let mut background = self.background.lock().unwrap_or_else(PoisonError::into_inner);
        if background.is_some() {
            return;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let db = self.clone();
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("tsdb-compactor".into())
            .spawn(move || {
                let mut last_round = Instant::now() - std::time::Duration::from_secs(3600);
                while !stopping.load(Ordering::Relaxed) {
                    if db.head_compactable() || last_round.elapsed() >= std::time::Duration::from_secs(60) {
                        // Counted by compact, logged here.
                        if let Err(err) = db.compact() {
                            tracing::error!(error = %err, "compaction failed; retrying at the next round");
                        }
                        last_round = Instant::now();
                    }
                    for _ in 0..50 {
                        if stopping.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(100));
                    }
                }
            })
            .expect("spawning the compactor thread");
        *background = Some(Background { stop, thread });
    }

    /// The blocks, oldest first.
    pub(crate) fn blocks(&self) -> Arc<[Arc<Block>]> {
        Arc::clone(&self.blocks.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// What each loaded block is, oldest first: `(ULID, min time, max time, bytes)`.
    pub fn block_list(&self) -> Vec<BlockInfo> {
        self.blocks()
            .iter()
            .map(|b| BlockInfo {
                ulid: b.meta().ulid.clone(),
                min_time: b.meta().min_time,
                max_time: b.meta().max_time,
                num_samples: b.meta().stats.num_samples,
                num_series: b.meta().stats.num_series,
                level: b.meta().compaction.level,
                size_bytes: b.size_bytes(),
            })
            .collect()
    }

    /// Compaction, truncation and retention counters.
    pub fn tsdb_metrics(&self) -> &TsdbMetrics {
        &self.metrics
    }

    /// The time retention in force, ms (0: none): `--storage.tsdb.retention.time`, or 15d when
    /// neither it nor a size limit is set (upstream `main.go`).
    pub fn retention_ms(&self) -> i64 {
        match (self.options.retention_ms, self.options.retention_bytes) {
            (0, 0) => 15 * 24 * 3_600_000,
            (ms, _) => ms,
        }
    }

    /// Bytes of the blocks (`prometheus_tsdb_storage_blocks_bytes`).
    pub fn blocks_bytes(&self) -> u64 {
        self.blocks().iter().map(|b| b.size_bytes()).sum()
    }

    /// The oldest sample time in storage, ms, if any (`prometheus_tsdb_lowest_timestamp`).
    pub fn lowest_timestamp(&self) -> Option<i64> {
        let blocks = self.blocks().first().map(|b| b.meta().min_time);
        let stats = self.head.stats();
        let head = (stats.min_time <= stats.max_time).then_some(stats.min_time);
        blocks.into_iter().chain(head).min()
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// A new appender for one batch of samples.
    pub fn appender(&self) -> Appender {
        Appender::new(Arc::clone(&self.head))
    }

    /// A querier over `[mint, maxt]`, milliseconds, both inclusive, that merges the
    /// secondaries' series into the local ones.
    pub fn querier(&self, mint: i64, maxt: i64) -> Querier {
        let secondaries = Arc::clone(&self.secondaries.read().unwrap_or_else(PoisonError::into_inner));
        Querier::new(Arc::clone(&self.head), Arc::clone(&self.blocks), mint, maxt, secondaries)
    }

    /// A querier over local storage only (what `/federate` and `/api/v1/read` answer from).
    pub fn local_querier(&self, mint: i64, maxt: i64) -> Querier {
        Querier::new(Arc::clone(&self.head), Arc::clone(&self.blocks), mint, maxt, Arc::new([]))
    }

    /// Replaces the secondaries every later [`Db::querier`] merges in (the `remote_read`
    /// endpoints of a newly applied config). Queriers already made keep theirs.
    pub fn set_secondaries(&self, secondaries: Vec<Arc<dyn SecondaryQueryable>>) {
        *self.secondaries.write().unwrap_or_else(PoisonError::into_inner) = secondaries.into();
    }

    /// Head counters for self-metrics and the status API.
    pub fn head_stats(&self) -> HeadStats {
        self.head.stats()
    }

    /// What the replay did (all zero before it ran).
    pub fn replay_stats(&self) -> Arc<ReplayStats> {
        Arc::clone(&self.replay.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Replay progress (finished once `open` or `replay_wal` returned).
    pub fn replay_progress(&self) -> &ReplayProgress {
        &self.progress
    }

    /// Whether appends are accepted: the replay is done and the WAL is open.
    pub fn ready(&self) -> bool {
        self.head.ready.load(Ordering::Acquire)
    }

    /// The WAL segment being written, `None` before the replay opened the WAL.
    pub fn wal_segment_current(&self) -> Option<u32> {
        self.head.wal.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(Wal::segment_index)
    }

    /// WAL writes that failed since open (`prometheus_tsdb_wal_writes_failed_total`).
    pub fn wal_write_failures(&self) -> u64 {
        self.head.wal_write_failures.load(Ordering::Relaxed)
    }

    /// Stops the compactor (waiting for a running round), then flushes and fsyncs the WAL;
    /// call on shutdown.
    pub fn close(&self) -> Result<(), DbError> {
        if let Some(background) = self.background.lock().unwrap_or_else(PoisonError::into_inner).take() {
            background.stop.store(true, Ordering::Relaxed);
            let _ = background.thread.join();
        }
        if let Some(wal) = self.head.wal.lock().unwrap_or_else(PoisonError::into_inner).as_mut() {
            wal.sync()?;
        }
        if self.lock.is_some() {
            // Still flock'ed until the Db drops; the next start sees a clean stop.
            let lock_path = self.dir.join("lock");
            if let Err(error) = fs::remove_file(&lock_path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                return Err(DbError::Io { path: lock_path, error });
            }
        }
        Ok(())
    }

    /// Estimated head heap bytes per series (`promlite_tsdb_head_bytes_per_series`); walks
    /// every series, so it costs about 30 ns per series.
    pub fn head_bytes_per_series(&self) -> f64 {
        let series = self.head.stats().series;
        if series == 0 { 0.0 } else { self.head.allocated_bytes() as f64 / series as f64 }
    }

    /// Head cardinality statistics for `/api/v1/status/tsdb`, each list cut to `limit`.
    pub fn tsdb_status(&self, limit: usize) -> TsdbStatus {
        self.head.status(limit)
    }
}

#[cfg(test)]
mod admin_tests;
#[cfg(test)]
mod compaction_tests;
#[cfg(test)]
mod tests;
