//! The TSDB admin operations behind `--web.enable-admin-api` (upstream `DB.Delete`,
//! `DB.CleanTombstones`, `DB.Snapshot`; `docs/querying/api.md`, "TSDB Admin APIs").
//!
//! - [`Db::delete_series`] adds tombstones: to each block overlapping the range (its
//!   `tombstones` file) and to the head (a WAL Tombstones record). Reads leave the samples out
//!   from then on; compaction drops them from what it writes.
//! - [`Db::clean_tombstones`] writes each block that has tombstones again without the deleted
//!   samples, replacing it. The head's tombstones stay until head compaction applies them.
//! - [`Db::snapshot`] hard-links every block into a directory and (optionally) writes the head
//!   there as one more block: a directory Prometheus opens as its data directory.
//!
//! Invariant: each runs under the compaction lock, as upstream's under `cmtx`, so no
//! compaction reads a block whose tombstones change under it or drops one a clean is
//! rewriting, and a snapshot takes the blocks and the head of one moment between compactions
//! (never a range in neither or both).

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use super::Db;
use super::compaction::{delete_block_dir, is_block_name};
use crate::block::{Block, BlockError};
use crate::compact;
use crate::head::CommitError;
use crate::matcher::Matcher;
use crate::wal::WalError;

/// An admin operation failed; what it names was left as it was (blocks done before the
/// failing one keep their new state).
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The WAL replay is not done yet: the head is incomplete and takes no tombstone.
    #[error("TSDB not ready")]
    NotReady,
    /// The head's Tombstones record could not be written; nothing was deleted from the head.
    #[error("writing the head's tombstones to the WAL: {0}")]
    Wal(#[from] WalError),
    /// A block's files could not be read, written or linked.
    #[error(transparent)]
    Block(#[from] BlockError),
    /// The snapshot directory could not be created or synced.
    #[error("{}: {error}", path.display())]
    Io {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// The snapshot directory is one the data directory must not get (upstream's checks).
    #[error("{}: {reason}", path.display())]
    SnapshotDir {
        /// The directory asked for.
        path: PathBuf,
        /// Why not.
        reason: &'static str,
    },
}

impl From<CommitError> for AdminError {
    fn from(err: CommitError) -> AdminError {
        match err {
            CommitError::NotReady => AdminError::NotReady,
            CommitError::Wal(err) => AdminError::Wal(err),
        }
    }
}

impl Db {
    /// Deletes the samples in `[mint, maxt]` (ms, both inclusive) of the series matching
    /// every matcher, in the blocks overlapping the range and in the head (upstream
    /// `DB.Delete`). Each series' tombstone is clamped to the samples it has now, so samples
    /// appended later stay, whatever `maxt` was. Queries leave the samples out once this
    /// returns; a restart keeps them deleted.
    pub fn delete_series(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<(), AdminError> {
        let _one_at_a_time = self.compaction.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.ready() {
            return Err(AdminError::NotReady);
        }
        let mut block_series = 0;
        // Upstream's `OverlapsClosedInterval`, which takes the block's exclusive end as
        // inclusive; a block's series clamp their tombstones to their chunks anyway.
        for block in self.blocks().iter().filter(|b| b.meta().min_time <= maxt && b.meta().max_time >= mint) {
            block_series += block.delete(mint, maxt, matchers)?;
        }
        let head_series = self.head.delete(mint, maxt, matchers)?;
        let shown: Vec<String> = matchers.iter().map(ToString::to_string).collect();
        tracing::info!(matchers = ?shown, mint, maxt, block_series, head_series, "deleted series samples");
        Ok(())
    }

    /// Writes each block that has tombstones again without the deleted samples, as a new
    /// block replacing it (or none, when nothing is left), then deletes the old one (upstream
    /// `DB.CleanTombstones`). The newest block stays, tombstones and all, when nothing would
    /// be left of it: samples older than the newest block's end are not replayed from the WAL,
    /// which may still hold some of its range (upstream deletes it, and a restart brings those
    /// back). The head's tombstones are left to head compaction, which writes its blocks
    /// without the deleted samples.
    pub fn clean_tombstones(&self) -> Result<(), AdminError> {
        let _one_at_a_time = self.compaction.lock().unwrap_or_else(PoisonError::into_inner);
        let started = Instant::now();
        let blocks = self.blocks();
        let newest_end = blocks.iter().map(|b| b.meta().max_time).max().unwrap_or(i64::MIN);
        for block in blocks.iter().filter(|b| b.has_tombstones()) {
            let written = compact::rewrite_block(&self.dir, block)?;
            if written.is_none() && block.meta().max_time == newest_end {
                // Its end is where the next start's WAL replay begins, and the WAL may still
                // hold samples of its range: without it they would come back.
                tracing::info!(block = %block.meta().ulid, "kept the newest block, though every sample in it is deleted");
                continue;
            }
            let replacement = match &written {
                Some(meta) => {
                    let dir = self.dir.join(&meta.ulid);
                    match Block::open(&dir) {
                        Ok(opened) => Some(Arc::new(opened)),
                        Err(err) => {
                            // Left in place it would replace the old block at the next start.
                            if let Err(error) = delete_block_dir(&dir) {
                                tracing::error!(block = %dir.display(), %error, "deleting a rewritten block that does not open failed");
                            }
                            return Err(err.into());
                        }
                    }
                }
                None => None,
            };
            self.replace_blocks(std::slice::from_ref(&block.meta().ulid), replacement);
            self.delete_blocks(std::slice::from_ref(block));
            tracing::info!(
                old = %block.meta().ulid,
                new = written.as_ref().map_or("none (every sample deleted)", |m| m.ulid.as_str()),
                "rewrote a block without its deleted samples"
            );
        }
        tracing::debug!(duration_seconds = started.elapsed().as_secs_f64(), "tombstones cleaned");
        Ok(())
    }

    /// Makes `dir` a data directory holding every block (hard-linked, so it costs no space
    /// while they live) and, with `with_head`, the head's samples as one more block over the
    /// head's whole span, deleted samples left out (upstream `DB.Snapshot`), and an empty
    /// `wal/`. Prometheus, promlite and `promtool tsdb` open it as a data directory. `dir` must
    /// not be the data directory nor be named like a block.
    pub fn snapshot(&self, dir: &Path, with_head: bool) -> Result<(), AdminError> {
        let refuse = |reason| Err(AdminError::SnapshotDir { path: dir.to_owned(), reason });
        if dir == self.dir {
            return refuse("cannot snapshot into the data directory itself");
        }
        if dir.file_name().and_then(|n| n.to_str()).is_some_and(is_block_name) {
            return refuse("a snapshot directory must not be named like a block (a ULID)");
        }
        let _one_at_a_time = self.compaction.lock().unwrap_or_else(PoisonError::into_inner);
        if with_head && !self.ready() {
            return Err(AdminError::NotReady);
        }
        let io = |error| AdminError::Io { path: dir.to_owned(), error };
        // An empty WAL makes it a whole data directory: `promtool tsdb dump` refuses one
        // without (upstream's snapshots have none).
        std::fs::create_dir_all(dir.join("wal")).map_err(io)?;
        let blocks = self.blocks();
        for block in blocks.iter() {
            block.snapshot(dir)?;
        }
        let mut head_block = None;
        if with_head {
            let stats = self.head.stats();
            if stats.min_time <= stats.max_time {
                // A block's end is exclusive: one past the newest sample.
                head_block = compact::write_head_block(&self.head, dir, stats.min_time, stats.max_time + 1)?;
            }
        }
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        tracing::info!(
            dir = %dir.display(),
            blocks = blocks.len(),
            head_block = head_block.as_ref().map_or("none", |m| m.ulid.as_str()),
            "snapshot created"
        );
        Ok(())
    }
}
