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
//! blocks (index format v1 and v2).
// Nothing outside this module reads or writes blocks yet: db.rs wires them in next, and whoever
// does removes this line. The tests use every item.

mod chunks;
mod decode;
mod index;
mod meta;
#[cfg(test)]
pub(crate) mod tests;
mod tombstones;
mod ulid;
mod writer;

use std::path::{Path, PathBuf};

#[cfg(test)]
pub(crate) use meta::BlockStats;
pub(crate) use meta::{BlockCompaction, BlockDesc, BlockMeta};
/// Writes a block's `tombstones` (deletion intervals per series); the admin delete API will use it.
#[cfg(test)]
pub(crate) use tombstones::write as write_tombstones;
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
    meta: BlockMeta,
    index: IndexReader,
    chunks: ChunkSegments,
    tombstones: tombstones::Tombstones,
    size_bytes: u64,
}

impl Block {
    /// Opens the block in `dir`, checking `meta.json`, the whole index, each chunk segment's
    /// header and the tombstones.
    pub(crate) fn open(dir: &Path) -> Result<Block, BlockError> {
        let meta = meta::read(dir)?;
        let meta_path = dir.join(meta::META_FILENAME);
        let meta_len = std::fs::metadata(&meta_path).map_err(|error| BlockError::Io { path: meta_path, error })?.len();
        let index_path = dir.join(INDEX_FILENAME);
        let index = IndexReader::open(&index_path)?;
        let index_len =
            std::fs::metadata(&index_path).map_err(|error| BlockError::Io { path: index_path, error })?.len();
        let (chunks, chunks_len) = ChunkSegments::open(&dir.join(CHUNKS_DIR))?;
        let (tombstones, tombstones_len) = tombstones::read(dir)?;
        Ok(Block {
            dir: dir.to_owned(),
            meta,
            index,
            chunks,
            tombstones,
            size_bytes: meta_len + index_len + chunks_len + tombstones_len,
        })
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
        self.size_bytes
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
    pub(crate) fn tombstones(&self, series_ref: u64) -> &[(i64, i64)] {
        self.tombstones.get(&series_ref).map_or(&[], Vec::as_slice)
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
