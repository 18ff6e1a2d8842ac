//! WAL checkpoints (upstream `tsdb/wlog/checkpoint.go`): after head truncation, the records of
//! segments `from..=to` (and the previous checkpoint) that still matter (Series records of
//! series the head keeps, samples at or after the head's new minimum, tombstones of kept series
//! that end at or after it) are written to
//! `checkpoint.NNNNNNNN/` (`NNNNNNNN` = `to`), a directory of segments in WAL format; then the
//! segments up to `to` and older checkpoints are deleted.
//!
//! Invariant: a checkpoint appears whole or not at all: it is written to
//! `checkpoint.NNNNNNNN.tmp`, fsynced and renamed. A replay reads the newest checkpoint, then
//! only the segments after its number, so a crash between the rename and the deletion of the
//! old segments replays nothing twice. Record types promlite does not replay (exemplars,
//! metadata, histograms) are not carried over: nothing reads them.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::record::{self, Record, RefSample};
use super::{Wal, WalError, io_err, list_segments, segment_name, sync_dir};
use crate::mmap::MappedFile;

const PREFIX: &str = "checkpoint.";
const TMP_SUFFIX: &str = ".tmp";
// Records written per batch: a checkpoint's memory is one batch, not the whole checkpoint.
const BATCH: usize = 10_000;

/// What a checkpoint kept and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CheckpointStats {
    /// Series records kept.
    pub(crate) series: u64,
    /// Series dropped (gone from the head).
    pub(crate) series_dropped: u64,
    /// Samples kept.
    pub(crate) samples: u64,
    /// Samples dropped (before the head's minimum).
    pub(crate) samples_dropped: u64,
}

/// Directory name of the checkpoint ending at segment `index`.
pub(crate) fn checkpoint_name(wal_dir: &Path, index: u32) -> PathBuf {
    wal_dir.join(format!("{PREFIX}{index:08}"))
}

/// Checkpoints in `wal_dir`, oldest first, as `(index, dir)`. Temporary ones are not listed.
pub(crate) fn list_checkpoints(wal_dir: &Path) -> Result<Vec<(u32, PathBuf)>, WalError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(wal_dir).map_err(io_err(wal_dir))? {
        let entry = entry.map_err(io_err(wal_dir))?;
        let name = entry.file_name();
        let Some(index) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else { continue };
        if !index.is_empty()
            && index.bytes().all(|b| b.is_ascii_digit())
            && let Ok(index) = index.parse::<u32>()
        {
            out.push((index, entry.path()));
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The newest checkpoint, if any.
pub(crate) fn last_checkpoint(wal_dir: &Path) -> Result<Option<(u32, PathBuf)>, WalError> {
    Ok(list_checkpoints(wal_dir)?.pop())
}

/// Removes leftover `checkpoint.*.tmp` directories of an interrupted checkpoint.
pub(crate) fn remove_tmp_checkpoints(wal_dir: &Path) -> Result<(), WalError> {
    for entry in fs::read_dir(wal_dir).map_err(io_err(wal_dir))? {
        let entry = entry.map_err(io_err(wal_dir))?;
        let name = entry.file_name();
        if name.to_str().is_some_and(|n| n.starts_with(PREFIX) && n.ends_with(TMP_SUFFIX)) {
            fs::remove_dir_all(entry.path()).map_err(io_err(&entry.path()))?;
        }
    }
    Ok(())
}

/// Calls `on_record` with every record of the segment file `path` (read through a map: the
/// segment is finished, nothing writes it again). Damage ends the segment quietly: replay at
/// the last start repaired what it found, and a checkpoint must not fail on what it cannot use.
fn read_file(path: &Path, mut on_record: impl FnMut(&[u8])) -> Result<(), WalError> {
    let file = File::open(path).map_err(io_err(path))?;
    if file.metadata().map_err(io_err(path))?.len() == 0 {
        return Ok(());
    }
    let map = MappedFile::map(&file).map_err(io_err(path))?;
    super::read_segment_from(&map, 0, &mut on_record);
    Ok(())
}

/// Writes `checkpoint.{to}` from the newest earlier checkpoint and segments `from..=to` of
/// `wal_dir`, keeping Series records whose ref `keep` accepts, samples at or after `mint`, and
/// tombstones of series `keep` accepts ending at or after `mint` (upstream `Checkpoint`).
pub(crate) fn checkpoint(
    wal_dir: &Path,
    from: u32,
    to: u32,
    keep: impl Fn(u64) -> bool,
    mint: i64,
    compress: bool,
) -> Result<CheckpointStats, WalError> {
    let tmp = wal_dir.join(format!("{PREFIX}{to:08}{TMP_SUFFIX}"));
    if tmp.exists() {
        fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    let result = write_checkpoint(wal_dir, &tmp, from, to, keep, mint, compress);
    match result {
        Ok(stats) => {
            let target = checkpoint_name(wal_dir, to);
            if target.exists() {
                fs::remove_dir_all(&target).map_err(io_err(&target))?;
            }
            fs::rename(&tmp, &target).map_err(io_err(&tmp))?;
            sync_dir(wal_dir)?;
            Ok(stats)
        }
        Err(err) => {
            // A full disk: leave nothing half-written for the next start.
            let _ = fs::remove_dir_all(&tmp);
            Err(err)
        }
    }
}

fn write_checkpoint(
    wal_dir: &Path,
    tmp: &Path,
    from: u32,
    to: u32,
    keep: impl Fn(u64) -> bool,
    mint: i64,
    compress: bool,
) -> Result<CheckpointStats, WalError> {
    let mut inputs: Vec<PathBuf> = Vec::new();
    if let Some((_, dir)) = list_checkpoints(wal_dir)?.into_iter().rfind(|(index, _)| *index < from) {
        for segment in list_segments(&dir)? {
            inputs.push(segment_name(&dir, segment));
        }
    }
    for segment in list_segments(wal_dir)?.into_iter().filter(|s| (from..=to).contains(s)) {
        inputs.push(segment_name(wal_dir, segment));
    }
    let mut out = Wal::create(tmp, super::DEFAULT_SEGMENT_SIZE, compress)?;
    let mut stats = CheckpointStats::default();
    let mut series: Vec<(u64, crate::labels::Labels)> = Vec::new();
    let mut samples: Vec<RefSample> = Vec::new();
    let mut tombstones: Vec<(u64, i64, i64)> = Vec::new();
    let mut buf = Vec::new();
    let mut failed: Option<WalError> = None;
    let mut flush = |series: &mut Vec<(u64, crate::labels::Labels)>,
                     samples: &mut Vec<RefSample>,
                     tombstones: &mut Vec<(u64, i64, i64)>,
                     out: &mut Wal|
     -> Result<(), WalError> {
        if !series.is_empty() {
            buf.clear();
            let refs: Vec<(u64, &crate::labels::Labels)> = series.iter().map(|(r, l)| (*r, l)).collect();
            record::encode_series(&mut buf, &refs);
            out.commit(&[&buf])?;
            series.clear();
        }
        if !samples.is_empty() {
            buf.clear();
            record::encode_samples(&mut buf, samples);
            out.commit(&[&buf])?;
            samples.clear();
        }
        if !tombstones.is_empty() {
            buf.clear();
            record::encode_tombstones(&mut buf, tombstones);
            out.commit(&[&buf])?;
            tombstones.clear();
        }
        Ok(())
    };
    for path in &inputs {
        read_file(path, |rec| {
            if failed.is_some() {
                return;
            }
            match record::decode(rec) {
                Ok(Record::Series(list)) => {
                    for (series_ref, labels) in list {
                        if keep(series_ref) {
                            stats.series += 1;
                            series.push((series_ref, labels));
                        } else {
                            stats.series_dropped += 1;
                        }
                    }
                }
                Ok(Record::Samples(list)) => {
                    for sample in list {
                        if sample.t >= mint {
                            stats.samples += 1;
                            samples.push(sample);
                        } else {
                            stats.samples_dropped += 1;
                        }
                    }
                }
                Ok(Record::Tombstones(list)) => {
                    tombstones.extend(list.into_iter().filter(|&(r, _, maxt)| maxt >= mint && keep(r)));
                }
                Ok(Record::Other(_)) | Err(_) => {}
            }
            // Series before samples and tombstones, always: a series must be known where its
            // samples and tombstones are read.
            if (series.len() >= BATCH || samples.len() >= BATCH || tombstones.len() >= BATCH)
                && let Err(err) = flush(&mut series, &mut samples, &mut tombstones, &mut out)
            {
                failed = Some(err);
            }
        })?;
        if let Some(err) = failed.take() {
            return Err(err);
        }
    }
    flush(&mut series, &mut samples, &mut tombstones, &mut out)?;
    out.sync()?;
    drop(out);
    sync_dir(tmp)?;
    Ok(stats)
}

/// Deletes the segments of `wal_dir` numbered below `index` (upstream `WL.Truncate`); returns
/// how many went.
pub(crate) fn delete_segments_before(wal_dir: &Path, index: u32) -> Result<usize, WalError> {
    let mut deleted = 0;
    for segment in list_segments(wal_dir)?.into_iter().filter(|s| *s < index) {
        let path = segment_name(wal_dir, segment);
        fs::remove_file(&path).map_err(io_err(&path))?;
        deleted += 1;
    }
    if deleted > 0 {
        sync_dir(wal_dir)?;
    }
    Ok(deleted)
}

/// Deletes the checkpoints older than `index`; returns how many went.
pub(crate) fn delete_checkpoints_before(wal_dir: &Path, index: u32) -> Result<usize, WalError> {
    let mut deleted = 0;
    for (_, dir) in list_checkpoints(wal_dir)?.into_iter().filter(|(i, _)| *i < index) {
        fs::remove_dir_all(&dir).map_err(io_err(&dir))?;
        deleted += 1;
    }
    Ok(deleted)
}
