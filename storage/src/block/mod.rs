//! Persistent blocks in Prometheus's on-disk format (upstream `tsdb/block.go`,
//! `tsdb/docs/format/{index,chunks,tombstones}.md`, `docs/storage.md`).
//!
//! A block is a directory `<ULID>/` with `meta.json` ([`meta`]), `index` ([`index`]),
//! `chunks/000001…` ([`chunks`]) and `tombstones` ([`tombstones`]). A [`BlockWriter`] streams
//! series in label order into `<ULID>.tmp-for-creation/` and renames it into place once every
//! file is fsynced; a [`Block`] maps a finished one read-only and answers postings, series and
//! chunk reads.
//! Invariant: only a completely written, renamed block is opened; opening checks every section
//! CRC of the index and every header, and a chunk's CRC is checked when it is read. Corrupt
//! bytes are a [`BlockError`], never a panic. Prometheus reads what we write and we read its
//! blocks (index format v1 and v2). Only `tombstones` and `meta.json` are ever rewritten (by
//! [`Block::delete`], through a renamed temporary file), never `index` or `chunks/`.

mod chunks;
mod decode;
mod index;
mod meta;
#[cfg(test)]
pub(crate) mod tests;
mod tombstones;
mod ulid;
mod writer;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

#[cfg(test)]
pub(crate) use meta::BlockStats;
pub(crate) use meta::{BlockCompaction, BlockDesc, BlockMeta};
/// Writes a block's `tombstones` (deletion intervals per series) as a tool other than
/// [`Block::delete`] would: the tests' way to make a block with tombstones.
#[cfg(test)]
pub(crate) use tombstones::{read as read_tombstones, write as write_tombstones};
pub(crate) use ulid::new_ulid;
pub(crate) use writer::{BlockWriter, TMP_FOR_CREATION_SUFFIX};

use crate::labels::Labels;
use crate::matcher::Matcher;
pub(crate) use chunks::ChunkRef;
use chunks::{CHUNKS_DIR, ChunkSegments};
use index::{INDEX_FILENAME, IndexReader};

/// Reading or writing a block failed; every variant names the file or directory.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// A file could not be created, read, written, synced or renamed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// A file's bytes are not a valid block file.
    #[error("{}: corrupt: {reason}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the offset when there is one.
        reason: String,
    },
    /// `meta.json` is not the JSON of a block meta (or could not be encoded).
    #[error("{}: {error}", path.display())]
    Meta {
        /// The `meta.json` file.
        path: PathBuf,
        /// The JSON error, with line and column.
        error: serde_json::Error,
    },
    /// A valid file holds something promlite does not read (a native histogram chunk).
    #[error("{}: unsupported: {reason}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is not supported.
        reason: String,
    },
    /// The writer was given data that breaks the format's rules (series out of order,
    /// overlapping chunks, a label missing from the symbols); the block was abandoned.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The block being written.
        path: PathBuf,
        /// Which rule was broken.
        reason: String,
    },
}

/// Where a chunk lives and the times of its first and last sample (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChunkMeta {
    /// Time of the first sample.
    pub(crate) min_time: i64,
    /// Time of the last sample.
    pub(crate) max_time: i64,
    /// `segment index << 32 | offset` in `chunks/`.
    pub(crate) chunk_ref: ChunkRef,
}

/// An opened, verified block, read through memory maps.
pub(crate) struct Block {
    dir: PathBuf,
    /// As opened: a later delete rewrites `numTombstones` on disk, not here.
    meta: BlockMeta,
    index: IndexReader,
    chunks: ChunkSegments,
    /// Replaced whole by [`Block::delete`]; a reader sees the set before or after one.
    deletions: RwLock<Deletions>,
    /// Bytes of `index` and `chunks/`, which never change.
    data_bytes: u64,
}

/// What a delete rewrites.
struct Deletions {
    tombstones: tombstones::Tombstones,
    /// Bytes of `meta.json` and `tombstones`.
    file_bytes: u64,
}

impl Block {
    /// Opens the block in `dir`, checking `meta.json`, the whole index, each chunk segment's
    /// header and the tombstones.
    pub(crate) fn open(dir: &Path) -> Result<Block, BlockError> {
        let meta = meta::read(dir)?;
        let meta_len = file_len(&dir.join(meta::META_FILENAME))?;
        let index_path = dir.join(INDEX_FILENAME);
        let index = IndexReader::open(&index_path)?;
        let index_len = file_len(&index_path)?;
        let (chunks, chunks_len) = ChunkSegments::open(&dir.join(CHUNKS_DIR))?;
        let (tombstones, tombstones_len) = tombstones::read(dir)?;
        Ok(Block {
            dir: dir.to_owned(),
            meta,
            index,
            chunks,
            deletions: RwLock::new(Deletions { tombstones, file_bytes: meta_len + tombstones_len }),
            data_bytes: index_len + chunks_len,
        })
    }

    /// Adds a tombstone for `[mint, maxt]` (both inclusive) to each series matching `matchers`
    /// with a chunk in that range, clamped to the series' own span so that it deletes nothing
    /// beyond its samples (upstream `Block.Delete`), and rewrites `tombstones` and `meta.json`
    /// (`numTombstones`). Returns how many series got one; with none, nothing is written.
    /// Callers run one delete of a block at a time (the database's compaction lock); reads go
    /// on meanwhile, each seeing the tombstones from before the delete or after it.
    pub(crate) fn delete(&self, mint: i64, maxt: i64, matchers: &[Matcher]) -> Result<usize, BlockError> {
        let mut stones = self.deletions.read().unwrap_or_else(PoisonError::into_inner).tombstones.clone();
        let mut deleted = 0;
        for series_ref in self.select_refs(matchers)? {
            let (_, chunks) = self.series(series_ref)?;
            let (Some(first), Some(last)) = (chunks.first(), chunks.last()) else { continue };
            if chunks.iter().any(|c| c.min_time <= maxt && c.max_time >= mint) {
                let interval = (mint.max(first.min_time), maxt.min(last.max_time));
                tombstones::add_interval(stones.entry(series_ref).or_default(), interval);
                deleted += 1;
            }
        }
        if deleted == 0 {
            return Ok(0);
        }
        let sorted: BTreeMap<u64, Vec<(i64, i64)>> = stones.iter().map(|(r, iv)| (*r, iv.clone())).collect();
        let tombstones_len = tombstones::write(&self.dir, &sorted)?;
        let mut meta = self.meta.clone();
        meta.stats.num_tombstones = tombstones::total(&stones);
        // The file is what the next open reads: reads see the deletion from now on, whatever
        // happens to meta.json, which only counts it.
        self.deletions.write().unwrap_or_else(PoisonError::into_inner).tombstones = stones;
        meta::write(&self.dir, &meta)?;
        std::fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|error| BlockError::Io { path: self.dir.clone(), error })?;
        let meta_len = file_len(&self.dir.join(meta::META_FILENAME))?;
        self.deletions.write().unwrap_or_else(PoisonError::into_inner).file_bytes = meta_len + tombstones_len;
        Ok(deleted)
    }

    /// Hard-links the block's files into `<dir>/<ULID>/` (upstream `Block.Snapshot`): a snapshot
    /// costs no space while the block lives, and the two files a delete rewrites are renamed
    /// over, never written in place, so the links keep what they linked. Callers keep deletes
    /// of the block out meanwhile (the database's compaction lock).
    pub(crate) fn snapshot(&self, dir: &Path) -> Result<(), BlockError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |error| BlockError::Io { path, error }
        };
        let block_dir = dir.join(&self.meta.ulid);
        let chunks_dir = block_dir.join(CHUNKS_DIR);
        std::fs::create_dir_all(&chunks_dir).map_err(io(&chunks_dir))?;
        for name in [meta::META_FILENAME, tombstones::TOMBSTONES_FILENAME, INDEX_FILENAME] {
            let from = self.dir.join(name);
            // A block Prometheus or promtool wrote may have no `tombstones`: none deleted.
            if name == tombstones::TOMBSTONES_FILENAME && !from.exists() {
                continue;
            }
            std::fs::hard_link(&from, block_dir.join(name)).map_err(io(&from))?;
        }
        let from_chunks = self.dir.join(CHUNKS_DIR);
        for entry in std::fs::read_dir(&from_chunks).map_err(io(&from_chunks))? {
            let from = entry.map_err(io(&from_chunks))?.path();
            let Some(name) = from.file_name() else { continue };
            std::fs::hard_link(&from, chunks_dir.join(name)).map_err(io(&from))?;
        }
        for synced in [&chunks_dir, &block_dir] {
            std::fs::File::open(synced).and_then(|d| d.sync_all()).map_err(io(synced))?;
        }
        Ok(())
    }

    /// The block's `meta.json`.
    pub(crate) fn meta(&self) -> &BlockMeta {
        &self.meta
    }

    /// The block's directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Bytes of the block's files (upstream `Block.Size`, for `retention.size` and
    /// `prometheus_tsdb_storage_blocks_bytes`).
    pub(crate) fn size_bytes(&self) -> u64 {
        self.data_bytes + self.deletions.read().unwrap_or_else(PoisonError::into_inner).file_bytes
    }

    /// Refs of the series matching every matcher, ascending, with Prometheus's semantics: a
    /// matcher that matches `""` also selects series without the label. With no matcher that
    /// rejects `""`, selection starts from all series.
    pub(crate) fn select_refs(&self, matchers: &[Matcher]) -> Result<Vec<u64>, BlockError> {
        self.index.select(matchers)
    }

    /// A series' labels and chunk metas, sorted by time.
    pub(crate) fn series(&self, series_ref: u64) -> Result<(Labels, Vec<ChunkMeta>), BlockError> {
        self.index.series(series_ref)
    }

    /// The XOR chunk (header and bit stream, as `XorChunk::bytes`) at `chunk_ref`, its CRC checked.
    pub(crate) fn chunk(&self, chunk_ref: ChunkRef) -> Result<&[u8], BlockError> {
        self.chunks.chunk(chunk_ref)
    }

    /// Like [`Block::chunk`], as bytes that keep the block's segment mapped while held.
    pub(crate) fn chunk_bytes(&self, chunk_ref: ChunkRef) -> Result<crate::mmap::ChunkBytes, BlockError> {
        self.chunks.chunk_bytes(chunk_ref)
    }

    /// Deleted time ranges of a series, inclusive, sorted and disjoint (usually none).
    pub(crate) fn tombstones(&self, series_ref: u64) -> Vec<(i64, i64)> {
        let deletions = self.deletions.read().unwrap_or_else(PoisonError::into_inner);
        deletions.tombstones.get(&series_ref).cloned().unwrap_or_default()
    }

    /// Whether any series has a tombstone (what `clean_tombstones` rewrites).
    pub(crate) fn has_tombstones(&self) -> bool {
        !self.deletions.read().unwrap_or_else(PoisonError::into_inner).tombstones.is_empty()
    }

    /// Label names of all series, sorted.
    pub(crate) fn label_names(&self) -> Vec<String> {
        self.index.label_names()
    }

    /// Values of `name` over all series, sorted.
    pub(crate) fn label_values(&self, name: &str) -> Vec<String> {
        self.index.label_values(name)
    }
}

fn file_len(path: &Path) -> Result<u64, BlockError> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|error| BlockError::Io { path: path.to_owned(), error })
}

/// Whether `[min, max]` lies wholly inside one of `deleted` (upstream `Interval.IsSubrange`): a
/// chunk so covered has no sample left, and a series whose chunks in range all are has none.
pub(crate) fn is_deleted_range(min: i64, max: i64, deleted: &[(i64, i64)]) -> bool {
    deleted.iter().any(|&(a, b)| a <= min && max <= b)
}
