//! What keeps a data directory bounded (upstream `DB.Compact`, `Head.truncateWAL`,
//! `DB.reloadBlocks` retention): head compaction into blocks, head and WAL truncation with
//! checkpoints, block compaction, and retention by time and size.
//!
//! Order of each step, so a crash anywhere leaves a store that opens with every sample once:
//! a block appears whole (renamed from its tmp dir) before the head forgets its range; samples
//! older than the newest block's end are dropped at replay; a compacted block's parents are
//! deleted after it appears, and a start deletes any parent whose child exists.

use std::fs;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use super::Db;
use crate::block::{Block, BlockError};
use crate::compact;
use crate::wal::{self, WalError, checkpoint};

/// A compaction step failed; the store is as it was before the step.
#[derive(Debug, thiserror::Error)]
pub enum CompactionError {
    /// Writing or opening a block failed (a full disk, an I/O error).
    #[error("compaction: {0}")]
    Block(#[from] BlockError),
    /// Checkpointing or truncating the WAL failed.
    #[error("WAL truncation: {0}")]
    Wal(#[from] WalError),
    /// Deleting `chunks_head/` files failed.
    #[error("chunks_head truncation: {0}")]
    ChunksHead(#[from] crate::ChunkDiskError),
}

use crate::block::TMP_FOR_CREATION_SUFFIX as TMP_FOR_CREATION;
/// Suffix of a block being deleted (upstream `tmpForDeletionBlockDirSuffix`).
pub(crate) const TMP_FOR_DELETION: &str = ".tmp-for-deletion";

/// Whether `name` looks like a block directory (a ULID: 26 Crockford base32 characters).
pub(crate) fn is_block_name(name: &str) -> bool {
    name.len() == 26 && name.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// Opens the blocks of `dir`, oldest first: leftover tmp dirs are removed, a block that fails
/// verification is moved to `quarantine/` (logged, counted) and start-up goes on, and blocks
/// that a compacted block names as parents (a crash before their deletion) are deleted.
pub(crate) fn load_blocks(dir: &Path, metrics: &super::TsdbMetrics) -> Result<Vec<Arc<Block>>, super::DbError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |error| super::DbError::Io { path, error }
    };
    let mut blocks = Vec::new();
    for entry in fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
        if name.ends_with(TMP_FOR_CREATION) || name.ends_with(TMP_FOR_DELETION) {
            tracing::info!(dir = %path.display(), "removing a block directory left by an interrupted write or deletion");
            fs::remove_dir_all(&path).map_err(io(&path))?;
            continue;
        }
        if !is_block_name(&name) || !path.is_dir() {
            continue;
        }
        match Block::open(&path) {
            Ok(block) => blocks.push(Arc::new(block)),
            Err(err) => {
                let quarantine = dir.join("quarantine");
                fs::create_dir_all(&quarantine).map_err(io(&quarantine))?;
                let target = quarantine.join(&name);
                fs::rename(&path, &target).map_err(io(&path))?;
                metrics.blocks_quarantined.fetch_add(1, Ordering::Relaxed);
                tracing::error!(block = %name, error = %err, moved_to = %target.display(), "block failed verification: moved to quarantine, serving the rest");
            }
        }
    }
    let parents: std::collections::HashSet<String> =
        blocks.iter().flat_map(|b| b.meta().compaction.parents.iter().map(|p| p.ulid.clone())).collect();
    let (obsolete, mut blocks): (Vec<_>, Vec<_>) =
        blocks.into_iter().partition(|b| parents.contains(&b.meta().ulid) || b.meta().compaction.deletable);
    for block in obsolete {
        tracing::info!(block = %block.meta().ulid, "deleting a block that a compacted block replaced");
        delete_block_dir(block.dir()).map_err(io(block.dir()))?;
    }
    blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
    Ok(blocks)
}

/// Deletes a block directory: renamed first, so a crash mid-way leaves a tmp dir (removed at
/// the next start), never a half-deleted block.
pub(super) fn delete_block_dir(dir: &Path) -> std::io::Result<()> {
    let mut tmp = dir.as_os_str().to_owned();
    tmp.push(TMP_FOR_DELETION);
    fs::rename(dir, &tmp)?;
    fs::remove_dir_all(&tmp)
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = fs::read_dir(path) else { return 0 };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

impl Db {
    /// Whether the head spans more than 1.5 block ranges (upstream `Head.compactable`).
    pub(crate) fn head_compactable(&self) -> bool {
        let stats = self.head.stats();
        let range = self.head.opts.chunk_range;
        stats.min_time <= stats.max_time && stats.max_time - stats.min_time > range / 2 * 3
    }

    /// One round of what the background loop does: compacts the head while it is compactable
    /// (each time truncating the head, `chunks_head/` and the WAL), then blocks by the leveled
    /// plan, then applies retention. Retention runs even when a compaction failed, so a full
    /// disk still gets room back. The first error is returned after everything ran, unlogged:
    /// the caller logs it.
    pub fn compact(&self) -> Result<(), CompactionError> {
        let _one_at_a_time = self.compaction.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.ready() {
            return Ok(());
        }
        let mut result = self.compact_head();
        if result.is_ok() {
            result = self.compact_blocks();
        }
        self.apply_retention();
        result
    }

    fn compact_head(&self) -> Result<(), CompactionError> {
        while self.head_compactable() {
            let range = self.head.opts.chunk_range;
            let mint = self.head.stats().min_time;
            let maxt = mint.div_euclid(range) * range + range;
            self.metrics.compactions_triggered.fetch_add(1, Ordering::Relaxed);
            let start = Instant::now();
            match compact::write_head_block(&self.head, &self.dir, mint, maxt) {
                Ok(Some(meta)) => {
                    let block = Block::open(&self.dir.join(&meta.ulid)).inspect_err(|_| {
                        self.metrics.compactions_failed.fetch_add(1, Ordering::Relaxed);
                    })?;
                    self.replace_blocks(&[], Some(Arc::new(block)));
                    self.metrics.compactions.fetch_add(1, Ordering::Relaxed);
                    self.metrics.observe_compaction(start.elapsed().as_secs_f64());
                    tracing::info!(
                        ulid = %meta.ulid,
                        mint = meta.min_time,
                        maxt = meta.max_time,
                        series = meta.stats.num_series,
                        samples = meta.stats.num_samples,
                        duration_seconds = start.elapsed().as_secs_f64(),
                        "wrote a block from the head"
                    );
                }
                Ok(None) => {}
                Err(err) => {
                    self.metrics.compactions_failed.fetch_add(1, Ordering::Relaxed);
                    return Err(err.into());
                }
            }
            self.truncate_head(maxt)?;
        }
        Ok(())
    }

    /// Forgets the head's samples before `mint` (a block has them): memory, `chunks_head/`
    /// files, and the WAL segments a checkpoint replaces.
    fn truncate_head(&self, mint: i64) -> Result<(), CompactionError> {
        let truncated = self.head.truncate(mint);
        self.metrics.head_truncations.fetch_add(1, Ordering::Relaxed);
        self.metrics.head_series_removed.fetch_add(truncated.series, Ordering::Relaxed);
        tracing::debug!(
            mint,
            series_removed = truncated.series,
            chunks_removed = truncated.chunks,
            symbols_freed = truncated.symbols,
            "head truncated"
        );
        if let Some(mapper) = &self.head.mapper {
            mapper.truncate(mint)?;
        }
        self.truncate_wal(mint)
    }

    /// Upstream `Head.truncateWAL`: starts a new segment, checkpoints the oldest two thirds of
    /// the finished ones (Series records of live series, samples from `mint` on), deletes them
    /// and older checkpoints.
    fn truncate_wal(&self, mint: i64) -> Result<(), CompactionError> {
        let wal_dir = self.dir.join("wal");
        let current = {
            let mut wal = self.head.wal.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(wal) = wal.as_mut() else { return Ok(()) };
            wal.cut_segment().inspect_err(|_| {
                self.metrics.wal_truncations_failed.fetch_add(1, Ordering::Relaxed);
            })?;
            wal.segment_index()
        };
        let segments = wal::list_segments(&wal_dir)?;
        let Some(&first) = segments.first() else { return Ok(()) };
        let Some(last) = current.checked_sub(1) else { return Ok(()) };
        if last < first {
            return Ok(());
        }
        let last = first + (last - first) * 2 / 3;
        if last <= first {
            return Ok(());
        }
        let head = &self.head;
        let stats = checkpoint::checkpoint(
            &wal_dir,
            first,
            last,
            |r| head.series(r).is_some(),
            mint,
            self.options.wal_compression,
        )
        .inspect_err(|_| {
            self.metrics.checkpoint_creations_failed.fetch_add(1, Ordering::Relaxed);
            self.metrics.wal_truncations_failed.fetch_add(1, Ordering::Relaxed);
        })?;
        self.metrics.checkpoint_creations.fetch_add(1, Ordering::Relaxed);
        checkpoint::delete_segments_before(&wal_dir, last + 1).inspect_err(|_| {
            self.metrics.wal_truncations_failed.fetch_add(1, Ordering::Relaxed);
        })?;
        self.metrics.wal_truncations.fetch_add(1, Ordering::Relaxed);
        match checkpoint::delete_checkpoints_before(&wal_dir, last) {
            Ok(n) => {
                self.metrics.checkpoint_deletions.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(err) => {
                self.metrics.checkpoint_deletions_failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %err, "deleting old WAL checkpoints failed; retrying at the next truncation");
            }
        }
        tracing::info!(
            first,
            last,
            series = stats.series,
            samples = stats.samples,
            "WAL checkpoint created, segments up to it deleted"
        );
        Ok(())
    }

    /// Block compaction by the leveled plan, until nothing is planned.
    fn compact_blocks(&self) -> Result<(), CompactionError> {
        loop {
            let blocks = self.blocks();
            let metas: Vec<_> = blocks.iter().map(|b| b.meta()).collect();
            let picked = compact::plan(&metas, &self.block_ranges());
            if picked.is_empty() {
                return Ok(());
            }
            let inputs: Vec<Arc<Block>> = picked.iter().map(|&i| Arc::clone(&blocks[i])).collect();
            // The new block holds about what its inputs hold until they are deleted: make room
            // first rather than overflow the size limit mid-way.
            let extra: u64 = inputs.iter().map(|b| b.size_bytes()).sum();
            if self.apply_size_retention(extra) {
                continue;
            }
            self.metrics.compactions_triggered.fetch_add(1, Ordering::Relaxed);
            let start = Instant::now();
            let written = compact::compact_blocks(&self.dir, &inputs).and_then(|meta| match meta {
                Some(meta) => Block::open(&self.dir.join(&meta.ulid)).map(Some),
                None => Ok(None),
            });
            let block = match written {
                Ok(block) => block,
                Err(err) => {
                    self.metrics.compactions_failed.fetch_add(1, Ordering::Relaxed);
                    return Err(err.into());
                }
            };
            let ulids: Vec<String> = inputs.iter().map(|b| b.meta().ulid.clone()).collect();
            if let Some(block) = &block {
                tracing::info!(ulid = %block.meta().ulid, sources = ?ulids, level = block.meta().compaction.level, duration_seconds = start.elapsed().as_secs_f64(), "compacted blocks");
            }
            self.replace_blocks(&ulids, block.map(Arc::new));
            self.metrics.compactions.fetch_add(1, Ordering::Relaxed);
            self.metrics.observe_compaction(start.elapsed().as_secs_f64());
            self.delete_blocks(&inputs);
        }
    }

    /// The block ranges of the leveled compactor: the min block duration times 3^n up to the
    /// max block duration (default min(31d, retention/10), as upstream's `main.go`).
    pub(crate) fn block_ranges(&self) -> Vec<i64> {
        let min = self.options.min_block_duration_ms;
        let max = match self.options.max_block_duration_ms {
            0 => {
                let mut max = 31 * 24 * 3_600_000;
                let retention = self.retention_ms();
                if retention > 0 && retention / 10 < max {
                    max = retention / 10;
                }
                max.max(min)
            }
            max => max,
        };
        compact::block_ranges(min, max)
    }

    /// Swaps the block list: `remove` (by ULID) out, `add` in, sorted by time. Queries already
    /// running keep the list they took.
    pub(super) fn replace_blocks(&self, remove: &[String], add: Option<Arc<Block>>) {
        let mut list = self.blocks.write().unwrap_or_else(PoisonError::into_inner);
        let mut blocks: Vec<Arc<Block>> = list.iter().filter(|b| !remove.contains(&b.meta().ulid)).cloned().collect();
        blocks.extend(add);
        blocks.sort_by_key(|b| (b.meta().min_time, b.meta().max_time));
        *list = blocks.into();
        let max = list.iter().map(|b| b.meta().max_time).max();
        if let Some(max) = max {
            self.head.min_valid_time.fetch_max(max, Ordering::Relaxed);
        }
    }

    /// Deletes blocks that are out of the list; a failure is logged and retried at next start.
    pub(super) fn delete_blocks(&self, blocks: &[Arc<Block>]) {
        for block in blocks {
            if let Err(err) = delete_block_dir(block.dir()) {
                self.metrics.reload_failures.fetch_add(1, Ordering::Relaxed);
                tracing::error!(block = %block.dir().display(), error = %err, "deleting a block failed");
            }
        }
    }

    /// Deletes the blocks beyond the retention limits (upstream `BeyondTimeRetention` and
    /// `BeyondSizeRetention`).
    pub fn apply_retention(&self) {
        let retention = self.retention_ms();
        if retention > 0 {
            let mut newest_first: Vec<Arc<Block>> = self.blocks().iter().cloned().collect();
            newest_first.sort_by_key(|b| std::cmp::Reverse(b.meta().min_time));
            if let Some(newest) = newest_first.first().map(|b| b.meta().max_time)
                && let Some(i) = newest_first
                    .iter()
                    .enumerate()
                    .skip(1)
                    .find(|(_, b)| newest - b.meta().max_time >= retention)
                    .map(|(i, _)| i)
            {
                let expired = newest_first.split_off(i);
                tracing::info!(
                    blocks = expired.len(),
                    retention_ms = retention,
                    "deleting blocks beyond the time retention"
                );
                self.metrics.time_retentions.fetch_add(1, Ordering::Relaxed);
                let ulids: Vec<String> = expired.iter().map(|b| b.meta().ulid.clone()).collect();
                self.replace_blocks(&ulids, None);
                self.delete_blocks(&expired);
            }
        }
        self.apply_size_retention(0);
    }

    /// Deletes the oldest blocks while blocks, WAL (checkpoints included) and `chunks_head/`
    /// plus `extra` bytes exceed `--storage.tsdb.retention.size`; true if any went.
    fn apply_size_retention(&self, extra: u64) -> bool {
        let limit = self.options.retention_bytes;
        if limit == 0 {
            return false;
        }
        let mut newest_first: Vec<Arc<Block>> = self.blocks().iter().cloned().collect();
        newest_first.sort_by_key(|b| std::cmp::Reverse(b.meta().min_time));
        let mut total = self.head_size_bytes() + extra;
        let Some(i) = newest_first.iter().position(|b| {
            total += b.size_bytes();
            total > limit
        }) else {
            return false;
        };
        let expired = newest_first.split_off(i);
        tracing::info!(blocks = expired.len(), limit_bytes = limit, "deleting blocks beyond the size retention");
        self.metrics.size_retentions.fetch_add(1, Ordering::Relaxed);
        let ulids: Vec<String> = expired.iter().map(|b| b.meta().ulid.clone()).collect();
        self.replace_blocks(&ulids, None);
        self.delete_blocks(&expired);
        true
    }

    /// Bytes of the WAL (with checkpoints) and `chunks_head/` (upstream `Head.Size`).
    pub(crate) fn head_size_bytes(&self) -> u64 {
        dir_size(&self.dir.join("wal")) + self.head.mapper.as_ref().map_or(0, |m| m.size_bytes())
    }
}
