//! Write-ahead log in Prometheus's format (upstream `tsdb/wlog/`, `tsdb/docs/format/wal.md`):
//! numbered segments (`00000000`, …, at most 128 MiB) of 32 KiB pages; each record is split into
//! fragments `type | len | CRC32-C | data`, snappy-compressed when that is smaller.
//! Invariant: a commit's records are written (to the OS, not fsynced: a killed process loses
//! nothing, a power cut may lose the last segment's tail) before `commit` returns, in the order
//! the head applied them, so replay rebuilds exactly the committed state. On open a torn or
//! corrupt tail of the newest segment is cut off; damage anywhere else costs only the records
//! it touches: reading resumes at the next whole record, the unreadable span is blanked in a
//! repaired copy (same length and offsets) and the original is moved to `quarantine/` (a
//! promlite deviation: upstream drops the rest of the segment and deletes every later one).
//! A failed write is undone before the next (see [`Wal`]). Writing always starts a fresh
//! segment, as upstream does.

pub(crate) mod checkpoint;
mod reader;
pub(crate) mod record;
pub(crate) mod tail;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub(crate) use reader::Damage;
#[cfg(test)]
pub(crate) use reader::read_segment;
use reader::read_segment_from;

pub(crate) const PAGE_SIZE: usize = 32 * 1024;
pub(crate) const HEADER_SIZE: usize = 7;
/// Upstream `DefaultSegmentSize`.
pub(crate) const DEFAULT_SEGMENT_SIZE: usize = 128 * 1024 * 1024;

pub(crate) const PAGE_TERM: u8 = 0;
pub(crate) const FULL: u8 = 1;
pub(crate) const FIRST: u8 = 2;
pub(crate) const MIDDLE: u8 = 3;
pub(crate) const LAST: u8 = 4;
pub(crate) const SNAPPY_FLAG: u8 = 1 << 3;
pub(crate) const ZSTD_FLAG: u8 = 1 << 4;

/// A WAL operation failed.
#[derive(Debug, thiserror::Error)]
pub enum WalError {
    /// Reading, writing or renaming a WAL file failed.
    #[error("WAL {path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// Segment numbers have a gap, so records in between are missing.
    #[error("WAL {dir}: segments are not sequential: {prev:08} then {next:08}")]
    NotSequential {
        /// The WAL directory.
        dir: PathBuf,
        /// The segment before the gap.
        prev: u32,
        /// The segment after it.
        next: u32,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WalError + '_ {
    move |error| WalError::Io { path: path.to_owned(), error }
}

/// Segment file name: eight digits, as upstream's `SegmentName`.
pub(crate) fn segment_name(dir: &Path, index: u32) -> PathBuf {
    dir.join(format!("{index:08}"))
}

/// Segment indices present in `dir`, ascending. Files whose names are not all digits are ignored
/// (upstream does the same, so checkpoints and temp files do not count).
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u32>, WalError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let entry = entry.map_err(io_err(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.is_empty()
            && name.bytes().all(|b| b.is_ascii_digit())
            && let Ok(index) = name.parse::<u32>()
        {
            out.push(index);
        }
    }
    out.sort_unstable();
    for w in out.windows(2) {
        if w[1] != w[0] + 1 {
            return Err(WalError::NotSequential { dir: dir.to_owned(), prev: w[0], next: w[1] });
        }
    }
    Ok(out)
}

/// The writing end of the WAL.
///
/// A failed write never leaves the segment inconsistent: the writer remembers the segment's
/// length after the last whole commit (`good_len`) and, before the next write, cuts the file
/// back to it and reloads the partial page from it, so a half-written page of a failed commit
/// is rewritten rather than appended to. Space for a commit is reserved with `fallocate`
/// (`FALLOC_FL_KEEP_SIZE`) before any byte of it is written, so on a full disk a commit fails
/// before it starts rather than in the middle.
pub(crate) struct Wal {
    dir: PathBuf,
    segment: File,
    segment_index: u32,
    /// The page being filled; bytes `flushed..alloc` are not yet written to the segment.
    page: Box<[u8]>,
    alloc: usize,
    flushed: usize,
    done_pages: usize,
    pages_per_segment: usize,
    compress: bool,
    snappy: snap::raw::Encoder,
    compressed: Vec<u8>,
    /// Length of the current segment after the last successful write.
    good_len: u64,
    /// A write failed since `good_len`: the file and page must be restored before the next.
    damaged: bool,
    /// Bytes of the current segment reserved with `fallocate`; `None` where the file system
    /// cannot (then a full disk is caught by the write and repaired by `restore`).
    reserved: Option<u64>,
    /// Bytes handed to the OS, for `prometheus_tsdb_wal_*` style accounting.
    pub(crate) bytes_written: u64,
}

/// How far ahead of the data the segment is reserved: one `fallocate` per MiB written.
const RESERVE_STEP: u64 = 1024 * 1024;

impl Wal {
    /// Opens `dir` for writing in a new segment after the existing ones.
    pub(crate) fn create(dir: &Path, segment_size: usize, compress: bool) -> Result<Wal, WalError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let next = list_segments(dir)?.last().map_or(0, |last| last + 1);
        let path = segment_name(dir, next);
        let segment = open_segment(&path)?;
        sync_dir(dir)?;
        Ok(Wal {
            dir: dir.to_owned(),
            segment,
            segment_index: next,
            page: vec![0u8; PAGE_SIZE].into_boxed_slice(),
            alloc: 0,
            flushed: 0,
            done_pages: 0,
            pages_per_segment: (segment_size / PAGE_SIZE).max(1),
            compress,
            snappy: snap::raw::Encoder::new(),
            compressed: Vec::new(),
            good_len: 0,
            damaged: false,
            reserved: Some(0),
            bytes_written: 0,
        })
    }

    /// The segment being written (`prometheus_tsdb_wal_segment_current`).
    pub(crate) fn segment_index(&self) -> u32 {
        self.segment_index
    }

    fn path(&self) -> PathBuf {
        segment_name(&self.dir, self.segment_index)
    }

    /// Bytes of the current segment handed to the OS.
    fn file_len(&self) -> u64 {
        (self.done_pages * PAGE_SIZE + self.flushed) as u64
    }

    /// Writes one commit's records and hands them to the OS: all of them, or (on error) none
    /// as far as the next writer and replay can tell.
    pub(crate) fn commit(&mut self, recs: &[&[u8]]) -> Result<(), WalError> {
        self.restore()?;
        let result = self.write_records(recs).and_then(|()| self.write_out());
        self.settle(result)
    }

    /// Adds one record; it reaches the OS by the next [`Wal::flush`] (or earlier, page by page).
    #[cfg(test)]
    pub(crate) fn log(&mut self, rec: &[u8]) -> Result<(), WalError> {
        self.restore()?;
        let result = self.write_records(&[rec]);
        if result.is_err() {
            self.damaged = true;
        }
        result
    }

    /// Hands every logged byte to the OS.
    pub(crate) fn flush(&mut self) -> Result<(), WalError> {
        self.restore()?;
        let result = self.write_out();
        self.settle(result)
    }

    fn settle(&mut self, result: Result<(), WalError>) -> Result<(), WalError> {
        match result {
            Ok(()) => self.good_len = self.file_len(),
            Err(_) => self.damaged = true,
        }
        result
    }

    /// After a failed write: cuts the segment back to its last good length and reloads the
    /// partial page from it, so the next write continues exactly where the last good one ended.
    fn restore(&mut self) -> Result<(), WalError> {
        if !self.damaged {
            return Ok(());
        }
        let path = self.path();
        self.segment.set_len(self.good_len).map_err(io_err(&path))?;
        let partial = (self.good_len % PAGE_SIZE as u64) as usize;
        self.page.fill(0);
        if partial > 0 {
            use std::os::unix::fs::FileExt;
            self.segment
                .read_exact_at(&mut self.page[..partial], self.good_len - partial as u64)
                .map_err(io_err(&path))?;
        }
        self.done_pages = (self.good_len / PAGE_SIZE as u64) as usize;
        self.alloc = partial;
        self.flushed = partial;
        // Truncating released any reservation past the good length.
        self.reserved = self.reserved.map(|_| self.good_len);
        self.damaged = false;
        Ok(())
    }

    /// Reserves room for `bytes` more in the current segment, so that writing them cannot fail
    /// for want of space. Reserved space past the end of the file is not part of it.
    fn reserve(&mut self, bytes: u64) -> Result<(), WalError> {
        let Some(reserved) = self.reserved else { return Ok(()) };
        let need = self.file_len() + bytes;
        if need <= reserved {
            return Ok(());
        }
        let path = self.path();
        match preallocate(&self.segment, need + RESERVE_STEP) {
            Ok(()) => self.reserved = Some(need + RESERVE_STEP),
            Err(err) if err.kind() == std::io::ErrorKind::Unsupported => self.reserved = None,
            Err(_) => {
                // Short of space: try for exactly what this write needs.
                preallocate(&self.segment, need).map_err(io_err(&path))?;
                self.reserved = Some(need);
            }
        }
        Ok(())
    }

    fn write_page_bytes(&mut self, end: usize) -> Result<(), WalError> {
        let path = self.path();
        self.segment.write_all(&self.page[self.flushed..end]).map_err(io_err(&path))?;
        self.bytes_written += (end - self.flushed) as u64;
        self.flushed = end;
        Ok(())
    }

    /// Writes the rest of the current page (zeros past `alloc`) and starts a new one.
    fn finish_page(&mut self) -> Result<(), WalError> {
        self.write_page_bytes(PAGE_SIZE)?;
        self.page.fill(0);
        self.alloc = 0;
        self.flushed = 0;
        self.done_pages += 1;
        Ok(())
    }

    /// Hands everything to the OS and starts a new segment (upstream `NextSegment`, called at
    /// head truncation so a slow WAL does not keep a segment of old samples for long).
    pub(crate) fn cut_segment(&mut self) -> Result<(), WalError> {
        self.restore()?;
        let result = self.write_out().and_then(|()| self.next_segment());
        self.settle(result)
    }

    /// Closes the current segment (padded to a whole page, fsynced) and opens the next. On
    /// error the writer is still on the old segment.
    fn next_segment(&mut self) -> Result<(), WalError> {
        if self.alloc > 0 {
            self.reserve(PAGE_SIZE as u64)?;
            self.finish_page()?;
        }
        let old = self.path();
        self.segment.sync_data().map_err(io_err(&old))?;
        let path = segment_name(&self.dir, self.segment_index + 1);
        let segment = open_segment(&path)?;
        sync_dir(&self.dir)?;
        self.segment = segment;
        self.segment_index += 1;
        self.done_pages = 0;
        self.good_len = 0;
        self.reserved = self.reserved.map(|_| 0);
        Ok(())
    }

    /// Compresses `rec` when that makes it smaller (into `self.compressed`).
    fn compress_into(&mut self, rec: &[u8]) -> bool {
        if !self.compress || rec.is_empty() {
            return false;
        }
        self.compressed.resize(snap::raw::max_compress_len(rec.len()), 0);
        match self.snappy.compress(rec, &mut self.compressed) {
            Ok(n) if n < rec.len() => {
                self.compressed.truncate(n);
                true
            }
            _ => false,
        }
    }

    /// Puts `recs` into pages, writing each page that fills. A batch never crosses segments:
    /// if the rest of this one cannot hold it, it starts in a new one.
    fn write_records(&mut self, recs: &[&[u8]]) -> Result<(), WalError> {
        if self.done_pages >= self.pages_per_segment {
            self.next_segment()?;
        }
        let mut encoded: Vec<(Vec<u8>, bool)> = Vec::with_capacity(recs.len());
        for rec in recs {
            let compressed = self.compress_into(rec);
            encoded.push((if compressed { self.compressed.clone() } else { rec.to_vec() }, compressed));
        }
        // Fragments of a record take a header per page they touch; a finished page pads.
        let needed: usize =
            encoded.iter().map(|(rec, _)| rec.len() + HEADER_SIZE * (rec.len() / (PAGE_SIZE - HEADER_SIZE) + 2)).sum();
        let left = (PAGE_SIZE - self.alloc - HEADER_SIZE)
            + (PAGE_SIZE - HEADER_SIZE) * self.pages_per_segment.saturating_sub(self.done_pages + 1);
        if needed > left && (self.alloc > 0 || self.done_pages > 0) {
            self.next_segment()?;
        }
        self.reserve((needed + PAGE_SIZE) as u64)?;
        for (rec, compressed) in &encoded {
            self.write_fragments(rec, *compressed)?;
        }
        Ok(())
    }

    fn write_fragments(&mut self, rec: &[u8], compressed: bool) -> Result<(), WalError> {
        let mut rest = rec;
        let mut first = true;
        loop {
            let room = PAGE_SIZE - self.alloc - HEADER_SIZE;
            let (part, tail) = rest.split_at(rest.len().min(room));
            let kind = match (first, tail.is_empty()) {
                (true, true) => FULL,
                (false, true) => LAST,
                (true, false) => FIRST,
                (false, false) => MIDDLE,
            };
            let typ = kind | if compressed { SNAPPY_FLAG } else { 0 };
            let header = &mut self.page[self.alloc..self.alloc + HEADER_SIZE];
            header[0] = typ;
            header[1..3].copy_from_slice(&(part.len() as u16).to_be_bytes());
            header[3..7].copy_from_slice(&crc32c::crc32c(part).to_be_bytes());
            let data_start = self.alloc + HEADER_SIZE;
            self.page[data_start..data_start + part.len()].copy_from_slice(part);
            self.alloc = data_start + part.len();
            if PAGE_SIZE - self.alloc < HEADER_SIZE {
                self.finish_page()?;
            }
            rest = tail;
            first = false;
            if rest.is_empty() {
                return Ok(());
            }
        }
    }

    /// Writes the filled part of the current page.
    fn write_out(&mut self) -> Result<(), WalError> {
        if self.alloc > self.flushed {
            self.write_page_bytes(self.alloc)?;
        }
        Ok(())
    }

    /// Flushes and fsyncs the current segment (on shutdown).
    pub(crate) fn sync(&mut self) -> Result<(), WalError> {
        self.flush()?;
        let path = self.path();
        self.segment.sync_data().map_err(io_err(&path))
    }
}

fn open_segment(path: &Path) -> Result<File, WalError> {
    // Readable too: `restore` reloads a partial page from the file.
    OpenOptions::new().create(true).read(true).append(true).open(path).map_err(io_err(path))
}

/// Reserves the file's blocks up to `len` without changing its size. `Unsupported` where the
/// file system (or OS) cannot.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn preallocate(file: &File, len: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: fallocate reads no memory of ours; the descriptor is open for the call.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), libc::FALLOC_FL_KEEP_SIZE, 0, len as libc::off_t) };
    if rc == 0 {
        return Ok(());
    }
    let err = std::io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EOPNOTSUPP | libc::ENOSYS | libc::EINVAL) => Err(std::io::ErrorKind::Unsupported.into()),
        _ => Err(err),
    }
}

#[cfg(not(target_os = "linux"))]
fn preallocate(_file: &File, _len: u64) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

fn sync_dir(dir: &Path) -> Result<(), WalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))
}

/// What happened to one damaged segment at open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repair {
    /// The segment.
    pub segment: u32,
    /// Where the damage starts, in bytes.
    pub offset: usize,
    /// Bytes dropped (from the end of the last whole record to the end of the file).
    pub bytes_lost: usize,
    /// Why the bytes were dropped.
    pub reason: String,
    /// Where the original file was moved, for a segment that was not the newest.
    pub quarantined: Option<PathBuf>,
}

/// Reads every record in `dir` (of the segments after `after`, when given: those up to it are in
/// a checkpoint), oldest first, repairing damage as described in the module doc.
///
/// Damage does not end a segment: reading resumes at the next page that starts a record (a
/// FULL or FIRST fragment with a good checksum), so one flipped byte costs the records around
/// it, not the rest of the segment (Prometheus drops everything after it, and with it the
/// Series records that every later sample needs). The repaired segment keeps its length and
/// every offset: the unreadable span is zeroed (page padding, to a reader), and only damage
/// with no record after it is cut off.
pub(crate) fn replay(
    dir: &Path,
    quarantine_dir: &Path,
    mut on_segment: impl FnMut(u32),
    after: Option<u32>,
    mut on_record: impl FnMut(&[u8]),
) -> Result<Vec<Repair>, WalError> {
    let segments: Vec<u32> = list_segments(dir)?.into_iter().filter(|s| after.is_none_or(|a| *s > a)).collect();
    let mut repairs = Vec::new();
    for (i, &index) in segments.iter().enumerate() {
        on_segment(index);
        let path = segment_name(dir, index);
        let data = fs::read(&path).map_err(io_err(&path))?;
        let mut found: Vec<Repair> = Vec::new();
        let mut repaired: Option<Vec<u8>> = None;
        let mut keep = data.len();
        let mut pos = 0usize;
        loop {
            let end = read_segment_from(&data, pos, &mut on_record);
            let Some((at, damage)) = end.damage else { break };
            let good_end = end.good_end;
            let reason = match damage {
                Damage::Torn => "torn write: the data ends inside a record".to_owned(),
                Damage::Corrupt(why) => why,
            };
            match resync_point(&data, at) {
                Some((page, resume)) => {
                    let content = repaired.get_or_insert_with(|| data.clone());
                    blank(content, good_end, page, resume);
                    found.push(Repair {
                        segment: index,
                        offset: at,
                        bytes_lost: resume - good_end,
                        reason,
                        quarantined: None,
                    });
                    pos = resume;
                }
                None => {
                    keep = good_end;
                    found.push(Repair {
                        segment: index,
                        offset: at,
                        bytes_lost: data.len() - good_end,
                        reason,
                        quarantined: None,
                    });
                    break;
                }
            }
        }
        if found.is_empty() {
            continue;
        }
        let newest = i + 1 == segments.len();
        if newest && repaired.is_none() {
            // Only a torn or damaged tail: cut it, as upstream does.
            let file = OpenOptions::new().write(true).open(&path).map_err(io_err(&path))?;
            file.set_len(keep as u64).map_err(io_err(&path))?;
            file.sync_all().map_err(io_err(&path))?;
        } else {
            fs::create_dir_all(quarantine_dir).map_err(io_err(quarantine_dir))?;
            let target = quarantine_dir.join(format!("wal-{index:08}"));
            fs::rename(&path, &target).map_err(io_err(&path))?;
            // The readable records under the same number, so the sequence has no gap.
            let mut content = repaired.unwrap_or_else(|| data.clone());
            content.truncate(keep);
            let tmp = dir.join(format!("{index:08}.repair"));
            fs::write(&tmp, &content).map_err(io_err(&tmp))?;
            File::open(&tmp).and_then(|f| f.sync_all()).map_err(io_err(&tmp))?;
            fs::rename(&tmp, &path).map_err(io_err(&path))?;
            sync_dir(dir)?;
            for repair in &mut found {
                repair.quarantined = Some(target.clone());
            }
        }
        repairs.extend(found);
    }
    Ok(repairs)
}

/// Where reading can go on after damage at `at`: the first record (FULL or FIRST fragment)
/// after the damaged page whose fragments before it in its page are whole (checksums hold),
/// as `(its page's start, its offset)`. Fragments of records begun in the damaged span are
/// skipped.
fn resync_point(data: &[u8], at: usize) -> Option<(usize, usize)> {
    let mut page = (at / PAGE_SIZE + 1) * PAGE_SIZE;
    'pages: while page < data.len() {
        let page_end = (page + PAGE_SIZE).min(data.len());
        let mut offset = page;
        while offset + HEADER_SIZE <= page_end && data[offset] != PAGE_TERM {
            let typ = data[offset];
            let len = usize::from(u16::from_be_bytes([data[offset + 1], data[offset + 2]]));
            let start = offset + HEADER_SIZE;
            let crc = u32::from_be_bytes([data[offset + 3], data[offset + 4], data[offset + 5], data[offset + 6]]);
            if typ & !(0x07 | SNAPPY_FLAG) != 0
                || start + len > page_end
                || crc32c::crc32c(&data[start..start + len]) != crc
            {
                page += PAGE_SIZE;
                continue 'pages;
            }
            match typ & 0x07 {
                FULL | FIRST => return Some((page, offset)),
                MIDDLE | LAST => offset = start + len,
                _ => {
                    page += PAGE_SIZE;
                    continue 'pages;
                }
            }
        }
        page += PAGE_SIZE;
    }
    None
}

/// Record type of the filler that covers skipped fragments at the start of a page (upstream's
/// `record.Unknown`; replay ignores it, as upstream does).
const FILLER_RECORD: u8 = 255;

/// Makes `[good_end, resume)` of a segment read as nothing: the pages up to `page` zeroed
/// (padding), and the skipped fragments at the start of `page` turned into one FULL fragment
/// holding a record replay ignores, so the page's records from `resume` on stay where they are.
fn blank(content: &mut [u8], good_end: usize, page: usize, resume: usize) {
    content[good_end..page].fill(0);
    if resume > page {
        let len = resume - page - HEADER_SIZE;
        let data = &mut content[page + HEADER_SIZE..resume];
        data.fill(0);
        if let Some(first) = data.first_mut() {
            *first = FILLER_RECORD;
        }
        let crc = crc32c::crc32c(data);
        content[page] = FULL;
        content[page + 1..page + 3].copy_from_slice(&(len as u16).to_be_bytes());
        content[page + 3..page + 7].copy_from_slice(&crc.to_be_bytes());
    }
}

#[cfg(test)]
mod tests;
