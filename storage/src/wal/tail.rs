//! A WAL reader that follows the writer (upstream `tsdb/wlog/watcher.go`):
//! remote write tails the WAL so that whatever was committed is sent, even across an outage of
//! the receiver, as long as the WAL still holds it.
//!
//! Invariant: [`WalTail::poll`] returns each whole record exactly once, in WAL order, and never a
//! record the writer has not finished (a torn tail is simply not read yet). It only reads; it
//! never repairs, truncates or locks anything. Records of types other than Series and Samples
//! are skipped. It starts at the newest checkpoint (its Series records) and the segments after
//! it, and when the segment it reads is deleted by a checkpoint it goes on the same way.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::record::{Record, decode};
use super::{FIRST, FULL, HEADER_SIZE, LAST, MIDDLE, PAGE_SIZE, PAGE_TERM, SNAPPY_FLAG, WalError, list_segments};
use crate::labels::Labels;

/// A record as remote write needs it.
#[derive(Debug, Clone, PartialEq)]
pub enum TailRecord {
    /// New series: `(ref, labels)`.
    Series(Vec<(u64, Labels)>),
    /// Float samples: `(series ref, t, v)`.
    Samples(Vec<(u64, i64, f64)>),
}

/// Where a record ends in the WAL: segment number, then byte offset in it. Ordered as the WAL is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WalPosition {
    /// The segment number.
    pub segment: u32,
    /// The byte offset just after the record.
    pub offset: u64,
}

/// Follows the segments of one WAL directory from the first segment present.
pub struct WalTail {
    dir: PathBuf,
    segment: Option<u32>,
    /// Byte offset in `segment` just after the last whole record returned.
    offset: u64,
    /// Records that failed to decode (counted, skipped).
    pub corrupt_records: u64,
}

impl WalTail {
    /// A reader of `wal_dir` (e.g. `Db::dir().join("wal")`) positioned before its first record.
    pub fn new(wal_dir: &Path) -> WalTail {
        WalTail { dir: wal_dir.to_path_buf(), segment: None, offset: 0, corrupt_records: 0 }
    }

    /// The segment and offset the next record is read from, for logs and metrics.
    pub fn position(&self) -> (Option<u32>, u64) {
        (self.segment, self.offset)
    }

    /// Every whole record written since the last call, in order, across segment boundaries,
    /// each with the position just after it.
    pub fn poll(&mut self) -> Result<Vec<(TailRecord, WalPosition)>, WalError> {
        let mut out = Vec::new();
        loop {
            let segments = list_segments(&self.dir)?;
            let Some(&first) = segments.first() else { return Ok(out) };
            if self.segment.is_none_or(|s| s < first) {
                // Starting, or the segment being read was checkpointed and deleted: the newest
                // checkpoint names the series of the segments it replaced, and reading goes on
                // after it.
                let mut next = first;
                if let Some((index, dir)) = super::checkpoint::last_checkpoint(&self.dir)?
                    && self.segment.is_none_or(|s| s <= index)
                {
                    self.read_checkpoint_series(index, &dir, &mut out)?;
                    next = next.max(index + 1);
                }
                self.segment = Some(next);
                self.offset = 0;
            }
            let Some(current) = self.segment else { return Ok(out) };
            let next = segments.iter().copied().find(|&s| s > current);
            self.read_current(current, &mut out)?;
            match next {
                // The writer only opens a new segment after finishing the previous one, so once
                // a later segment exists and this one was read to its end, it is done.
                Some(next) => {
                    self.segment = Some(next);
                    self.offset = 0;
                }
                None => return Ok(out),
            }
        }
    }

    /// Every Series record of the checkpoint ending at segment `index`, as one record at the
    /// checkpoint's position. Its samples are not returned: they were in the segments it
    /// replaced, which this reader had read or (an outage longer than the WAL keeps) lost.
    fn read_checkpoint_series(
        &mut self,
        index: u32,
        dir: &Path,
        out: &mut Vec<(TailRecord, WalPosition)>,
    ) -> Result<(), WalError> {
        let mut series = Vec::new();
        for segment in list_segments(dir)? {
            let path = super::segment_name(dir, segment);
            let data = match std::fs::read(&path) {
                Ok(data) => data,
                // Deleted meanwhile by a newer checkpoint: the next poll reads that one.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(error) => return Err(WalError::Io { path, error }),
            };
            read_records(&data, 0, |rec, _| match decode(rec) {
                Ok(Record::Series(list)) => series.extend(list),
                Ok(_) => {}
                Err(_) => self.corrupt_records += 1,
            });
        }
        if !series.is_empty() {
            out.push((TailRecord::Series(series), WalPosition { segment: index, offset: 0 }));
        }
        Ok(())
    }

    fn read_current(&mut self, segment: u32, out: &mut Vec<(TailRecord, WalPosition)>) -> Result<(), WalError> {
        let path = super::segment_name(&self.dir, segment);
        let io = |error: std::io::Error| WalError::Io { path: path.clone(), error };
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(io(err)),
        };
        let base = self.offset / PAGE_SIZE as u64 * PAGE_SIZE as u64;
        file.seek(SeekFrom::Start(base)).map_err(io)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(io)?;
        let start = (self.offset - base) as usize;
        let end = read_records(&data, start, |rec, end| {
            let position = WalPosition { segment, offset: base + end as u64 };
            match decode(rec) {
                Ok(Record::Series(series)) => out.push((TailRecord::Series(series), position)),
                Ok(Record::Samples(samples)) => out
                    .push((TailRecord::Samples(samples.iter().map(|s| (s.series_ref, s.t, s.v)).collect()), position)),
                // Remote write sends no deletions (upstream's watcher skips them too).
                Ok(Record::Tombstones(_) | Record::Other(_)) => {}
                Err(_) => self.corrupt_records += 1,
            }
        });
        self.offset = base + end as u64;
        Ok(())
    }
}

/// Calls `on_record` for each whole record of `data` (which starts on a page boundary) from
/// `start` (a record boundary) on; returns the end of the last whole record. Stops quietly at a
/// torn or damaged fragment: the writer may be in the middle of it, and repair is not ours.
fn read_records(data: &[u8], start: usize, mut on_record: impl FnMut(&[u8], usize)) -> usize {
    let mut offset = start;
    let mut good_end = start;
    let mut record = Vec::new();
    let mut decompressed = Vec::new();
    let mut in_record = false;
    while offset < data.len() {
        let page_end = (offset / PAGE_SIZE + 1) * PAGE_SIZE;
        let typ = data[offset];
        if page_end - offset < HEADER_SIZE || typ == PAGE_TERM {
            if page_end > data.len() {
                // Padding of a page still being written: more fragments may follow here.
                return good_end;
            }
            offset = page_end;
            if !in_record {
                good_end = offset;
            }
            continue;
        }
        if offset + HEADER_SIZE > data.len() {
            return good_end;
        }
        let len = usize::from(u16::from_be_bytes([data[offset + 1], data[offset + 2]]));
        let crc = u32::from_be_bytes([data[offset + 3], data[offset + 4], data[offset + 5], data[offset + 6]]);
        let body = offset + HEADER_SIZE;
        if body + len > data.len() || body + len > page_end || crc32c::crc32c(&data[body..body + len]) != crc {
            return good_end;
        }
        let part = &data[body..body + len];
        match (typ & 0x07, in_record) {
            (FULL, false) | (FIRST, false) => {
                record.clear();
                record.extend_from_slice(part);
                in_record = typ & 0x07 == FIRST;
            }
            (MIDDLE, true) | (LAST, true) => {
                record.extend_from_slice(part);
                in_record = typ & 0x07 == MIDDLE;
            }
            _ => return good_end,
        }
        offset = body + len;
        if in_record {
            continue;
        }
        if typ & SNAPPY_FLAG != 0 {
            let Ok(size) = snap::raw::decompress_len(&record) else { return good_end };
            decompressed.resize(size, 0);
            if snap::raw::Decoder::new().decompress(&record, &mut decompressed).is_err() {
                return good_end;
            }
            on_record(&decompressed, offset);
        } else {
            on_record(&record, offset);
        }
        good_end = offset;
    }
    good_end
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, Options};

    #[test]
    fn follows_commits_exactly_once_across_segments_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let mut tail = WalTail::new(&dir.path().join("wal"));
        let mut seen: Vec<(u64, i64, f64)> = Vec::new();
        let mut series = 0;
        let drain = |tail: &mut WalTail, seen: &mut Vec<(u64, i64, f64)>, series: &mut usize| {
            let mut last = None;
            for (rec, position) in tail.poll().unwrap() {
                assert!(last < Some(position), "positions increase");
                last = Some(position);
                match rec {
                    TailRecord::Series(s) => *series += s.len(),
                    TailRecord::Samples(s) => seen.extend(s),
                }
            }
        };
        let mut want = 0;
        for round in 0..3 {
            // Each open writes a fresh segment, so three rounds cross two segment boundaries.
            let db = Db::open(dir.path(), Options::default()).unwrap();
            for batch in 0..50i64 {
                let mut app = db.appender();
                for i in 0..40 {
                    let labels = Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]);
                    app.append(&labels, round * 1_000_000 + batch * 1000, (batch * i) as f64).unwrap();
                }
                app.commit().unwrap();
                want += 40;
                if batch % 7 == 0 {
                    drain(&mut tail, &mut seen, &mut series);
                    assert_eq!(seen.len(), want, "round {round} batch {batch}");
                }
            }
            db.close().unwrap();
            drain(&mut tail, &mut seen, &mut series);
            assert_eq!(seen.len(), want);
        }
        assert_eq!(series, 40, "series records are read once, on first creation");
        assert!(tail.position().0.unwrap() >= 2);
        assert_eq!(tail.corrupt_records, 0);
        let mut ts: Vec<i64> = seen.iter().map(|s| s.1).collect();
        ts.dedup();
        assert_eq!(ts.len(), 150, "every batch exactly once, in order");
    }
}
