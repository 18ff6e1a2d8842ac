//! Writes one block (upstream `tsdb/compact.go`, `LeveledCompactor.write`): everything goes into
//! `<parent>/<ULID>.tmp-for-creation/`; `finish` adds `meta.json` and an empty `tombstones`,
//! fsyncs every file and the directory, renames it to `<parent>/<ULID>/` and fsyncs the parent.
//! Invariant: a block directory under its ULID name is complete. Any error, or dropping the
//! writer before `finish`, removes the temporary directory. Chunks stream to disk as they come;
//! memory holds the symbols, the postings and the refs of the series.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::chunks::{CHUNKS_DIR, ChunkWriter, DEFAULT_SEGMENT_SIZE};
use super::index::{INDEX_FILENAME, IndexWriter};
use super::meta::{self, BlockCompaction, BlockMeta, BlockStats, META_VERSION};
use super::{BlockError, ChunkMeta, tombstones};
use crate::labels::Labels;

/// Upstream's `tmpForCreationBlockDirSuffix`: Prometheus deletes such leftovers at startup.
pub(crate) const TMP_FOR_CREATION_SUFFIX: &str = ".tmp-for-creation";

/// The files of a block being written.
struct Files {
    chunks: ChunkWriter,
    index: IndexWriter,
}

/// A block being written; see the module doc.
pub(crate) struct BlockWriter {
    parent: PathBuf,
    ulid: String,
    tmp: PathBuf,
    /// `None` once an error abandoned the block (or `finish` took it).
    files: Option<Files>,
    stats: BlockStats,
    /// Times of the first and last sample over all chunks.
    time_range: Option<(i64, i64)>,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> BlockError + '_ {
    move |error| BlockError::Io { path: path.to_owned(), error }
}

fn sync_dir(dir: &Path) -> Result<(), BlockError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

impl BlockWriter {
    /// Starts block `ulid` under `parent`. `symbols`: every label name and value of the series
    /// to come, sorted ascending without duplicates.
    pub(crate) fn create(parent: &Path, ulid: &str, symbols: &[&str]) -> Result<BlockWriter, BlockError> {
        BlockWriter::create_with_segment_size(parent, ulid, symbols, DEFAULT_SEGMENT_SIZE)
    }

    /// [`BlockWriter::create`] with chunk segments cut at `segment_size` bytes.
    pub(crate) fn create_with_segment_size(
        parent: &Path,
        ulid: &str,
        symbols: &[&str],
        segment_size: u64,
    ) -> Result<BlockWriter, BlockError> {
        let tmp = parent.join(format!("{ulid}{TMP_FOR_CREATION_SUFFIX}"));
        if !super::ulid::is_valid(ulid) {
            return Err(BlockError::Invalid { path: tmp, reason: format!("invalid ULID {ulid:?}") });
        }
        // A leftover of a crashed attempt with this id holds nothing we want.
        match std::fs::remove_dir_all(&tmp) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(io(&tmp)(error)),
            _ => {}
        }
        std::fs::create_dir(&tmp).map_err(io(&tmp))?;
        // From here on, Drop removes `tmp` whatever fails.
        let mut writer = BlockWriter {
            parent: parent.to_owned(),
            ulid: ulid.to_owned(),
            tmp: tmp.clone(),
            files: None,
            stats: BlockStats::default(),
            time_range: None,
        };
        let chunks_dir = tmp.join(CHUNKS_DIR);
        std::fs::create_dir(&chunks_dir).map_err(io(&chunks_dir))?;
        let index = IndexWriter::create(tmp.join(INDEX_FILENAME), symbols)?;
        writer.files = Some(Files { chunks: ChunkWriter::new(chunks_dir, segment_size), index });
        Ok(writer)
    }

    /// Adds a series after every series with smaller labels. `chunks`: `(min_time, max_time,
    /// XorChunk bytes)` in time order, not overlapping. A series without chunks is skipped.
    pub(crate) fn add_series(&mut self, labels: &Labels, chunks: &[(i64, i64, &[u8])]) -> Result<(), BlockError> {
        let result = self.try_add_series(labels, chunks);
        if result.is_err() {
            self.abandon();
        }
        result
    }

    fn try_add_series(&mut self, labels: &Labels, chunks: &[(i64, i64, &[u8])]) -> Result<(), BlockError> {
        let invalid = |reason: String| BlockError::Invalid { path: self.tmp.clone(), reason };
        if chunks.is_empty() {
            return Ok(());
        }
        let mut prev_max = None;
        for &(min_time, max_time, bytes) in chunks {
            if max_time < min_time {
                return Err(invalid(format!("{labels}: chunk maxt {max_time} is less than mint {min_time}")));
            }
            if let Some(prev_max) = prev_max
                && min_time <= prev_max
            {
                return Err(invalid(format!("{labels}: chunk mint {min_time} is not after previous maxt {prev_max}")));
            }
            if bytes.len() < 2 {
                return Err(invalid(format!("{labels}: chunk of {} bytes has no XOR header", bytes.len())));
            }
            prev_max = Some(max_time);
        }
        let Some(files) = &mut self.files else {
            return Err(invalid("block writer abandoned after an earlier error".into()));
        };
        let mut metas = Vec::with_capacity(chunks.len());
        let mut samples = 0u64;
        for &(min_time, max_time, bytes) in chunks {
            let chunk_ref = files.chunks.write(bytes)?;
            metas.push(ChunkMeta { min_time, max_time, chunk_ref });
            // An XOR chunk starts with its big-endian sample count.
            samples += u64::from(u16::from_be_bytes([bytes[0], bytes[1]]));
        }
        files.index.add_series(labels, &metas)?;
        self.stats.num_series += 1;
        self.stats.num_chunks += chunks.len() as u64;
        self.stats.num_samples += samples;
        self.stats.num_float_samples += samples;
        let (first, last) = (chunks[0].0, prev_max.unwrap_or(chunks[0].1));
        self.time_range = Some(match self.time_range {
            None => (first, last),
            Some((lo, hi)) => (lo.min(first), hi.max(last)),
        });
        Ok(())
    }

    /// Finishes the block covering `[min_time, max_time)` and makes it visible under its ULID.
    /// Returns the meta written, with the stats counted from the chunks. If only the parent's
    /// fsync after the rename fails, the complete block stays in place (as upstream's
    /// `fileutil.Replace` leaves it) and the error says so through its path, the parent.
    pub(crate) fn finish(
        mut self,
        min_time: i64,
        max_time: i64,
        compaction: BlockCompaction,
    ) -> Result<BlockMeta, BlockError> {
        let result = self.try_finish(min_time, max_time, compaction);
        if result.is_err() {
            self.abandon();
        }
        result
    }

    fn try_finish(
        &mut self,
        min_time: i64,
        max_time: i64,
        compaction: BlockCompaction,
    ) -> Result<BlockMeta, BlockError> {
        let invalid = |reason: String| BlockError::Invalid { path: self.tmp.clone(), reason };
        if min_time >= max_time {
            return Err(invalid(format!("empty time range [{min_time}, {max_time})")));
        }
        // Queries and compaction plan by meta.json's range; a sample outside it would be lost.
        if let Some((lo, hi)) = self.time_range
            && (lo < min_time || hi >= max_time)
        {
            return Err(invalid(format!("samples span [{lo}, {hi}], outside the block's [{min_time}, {max_time})")));
        }
        let Some(files) = self.files.take() else {
            return Err(invalid("block writer abandoned after an earlier error".into()));
        };
        files.chunks.finish()?;
        files.index.finish()?;
        let meta = BlockMeta {
            ulid: self.ulid.clone(),
            min_time,
            max_time,
            stats: self.stats.clone(),
            compaction,
            version: META_VERSION,
        };
        meta::write(&self.tmp, &meta)?;
        tombstones::write(&self.tmp, &Default::default())?;
        sync_dir(&self.tmp.join(CHUNKS_DIR))?;
        sync_dir(&self.tmp)?;
        let dir = self.parent.join(&self.ulid);
        std::fs::rename(&self.tmp, &dir).map_err(io(&dir))?;
        sync_dir(&self.parent)?;
        Ok(meta)
    }

    /// Drops the open files and removes the temporary directory (best effort: it is only
    /// garbage, and Prometheus removes `*.tmp-for-creation` leftovers at startup too).
    fn abandon(&mut self) {
        self.files = None;
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

impl Drop for BlockWriter {
    fn drop(&mut self) {
        // After a successful finish the directory was renamed away and this finds nothing.
        if self.tmp.exists() {
            self.abandon();
        }
    }
}
