//! A block's `tombstones` file: deletion intervals per series (upstream
//! `tsdb/docs/format/tombstones.md`, `tsdb/tombstones/tombstones.go`).
//! Layout: `magic 0x0130BA30 <4b> | version 1 <1b> | (series ref <uvarint> | mint <varint> |
//! maxt <varint>)* | CRC32-C <4b>`; the CRC covers the entries, not the magic or the version
//! byte (upstream's compatibility quirk). A missing file means no deletions, as upstream.
//! Intervals are inclusive and, per series, kept sorted and merged as `Intervals.Add` merges
//! them (touching intervals become one).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::BlockError;
use super::decode::Decbuf;
use crate::chunkenc::{put_uvarint, put_varint};

/// The name of the file in a block directory.
pub(crate) const TOMBSTONES_FILENAME: &str = "tombstones";

const MAGIC: u32 = 0x0130_BA30;
const FORMAT_V1: u8 = 1;
/// Magic and version byte.
const HEADER_LEN: usize = 5;

/// Deletion intervals by series ref.
pub(crate) type Tombstones = HashMap<u64, Vec<(i64, i64)>>;

/// Adds `[mint, maxt]` to sorted, disjoint `intervals`, merging what overlaps or touches.
pub(crate) fn add_interval(intervals: &mut Vec<(i64, i64)>, (mint, maxt): (i64, i64)) {
    // An interval touches the new one if it ends at or after mint-1 and starts at or before maxt+1;
    // saturating keeps i64::MIN / i64::MAX from wrapping.
    let first = intervals.partition_point(|&(_, end)| end < mint.saturating_sub(1));
    let last = intervals.partition_point(|&(start, _)| start <= maxt.saturating_add(1));
    if first >= last {
        intervals.insert(first, (mint, maxt));
        return;
    }
    let merged = (mint.min(intervals[first].0), maxt.max(intervals[last - 1].1));
    intervals.splice(first..last, [merged]);
}

/// Reads `<dir>/tombstones`, checking magic, version and CRC.
pub(crate) fn read(dir: &Path) -> Result<(Tombstones, u64), BlockError> {
    let path = dir.join(TOMBSTONES_FILENAME);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok((Tombstones::new(), 0)),
        Err(error) => return Err(BlockError::Io { path, error }),
    };
    let corrupt = |reason: String| BlockError::Corrupt { path: path.clone(), reason };
    if bytes.len() < HEADER_LEN + 4 {
        return Err(corrupt(format!("{} bytes, shorter than header and CRC", bytes.len())));
    }
    let mut d = Decbuf::new(&bytes);
    let magic = d.be32().map_err(|r| corrupt(r.into()))?;
    if magic != MAGIC {
        return Err(corrupt(format!("invalid magic number {magic:#x}")));
    }
    let version = d.byte().map_err(|r| corrupt(r.into()))?;
    if version != FORMAT_V1 {
        return Err(corrupt(format!("invalid tombstone format {version}")));
    }
    let (entries, crc) = bytes[HEADER_LEN..].split_at(bytes.len() - HEADER_LEN - 4);
    if crc32c::crc32c(entries) != u32::from_be_bytes([crc[0], crc[1], crc[2], crc[3]]) {
        return Err(corrupt("checksum mismatch".into()));
    }
    let mut stones = Tombstones::new();
    let mut d = Decbuf::new(entries);
    while d.remaining() > 0 {
        let at = HEADER_LEN + d.pos();
        let entry = (|| Ok::<_, &'static str>((d.uvarint()?, d.varint()?, d.varint()?)))();
        let (series_ref, mint, maxt) = entry.map_err(|r| corrupt(format!("entry at offset {at}: {r}")))?;
        add_interval(stones.entry(series_ref).or_default(), (mint, maxt));
    }
    Ok((stones, bytes.len() as u64))
}

/// Intervals in `stones`: what `meta.json` counts as `numTombstones` (upstream `Total`).
pub(crate) fn total(stones: &Tombstones) -> u64 {
    stones.values().map(|intervals| intervals.len() as u64).sum()
}

/// Writes `<dir>/tombstones` with `stones` (series ref → intervals), through a temporary file
/// renamed into place (so a snapshot's hard link keeps the file it linked), both fsynced; the
/// directory fsync is the caller's. Returns the file's length.
pub(crate) fn write(dir: &Path, stones: &BTreeMap<u64, Vec<(i64, i64)>>) -> Result<u64, BlockError> {
    let path = dir.join(TOMBSTONES_FILENAME);
    let tmp = dir.join(format!("{TOMBSTONES_FILENAME}.tmp"));
    let mut entries = Vec::new();
    for (&series_ref, intervals) in stones {
        for &(mint, maxt) in intervals {
            put_uvarint(&mut entries, series_ref);
            put_varint(&mut entries, mint);
            put_varint(&mut entries, maxt);
        }
    }
    let mut bytes = Vec::with_capacity(HEADER_LEN + entries.len() + 4);
    bytes.extend_from_slice(&MAGIC.to_be_bytes());
    bytes.push(FORMAT_V1);
    bytes.extend_from_slice(&entries);
    bytes.extend_from_slice(&crc32c::crc32c(&entries).to_be_bytes());
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(&bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    let len = bytes.len() as u64;
    result.map(|()| len).map_err(|error| {
        let _ = std::fs::remove_file(&tmp);
        BlockError::Io { path, error }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_merge_like_upstream() {
        let check = |adds: &[(i64, i64)]| {
            let mut intervals = Vec::new();
            for &iv in adds {
                add_interval(&mut intervals, iv);
            }
            intervals
        };
        assert_eq!(check(&[(1, 2), (3, 4)]), [(1, 4)]);
        assert_eq!(check(&[(1, 2), (5, 6)]), [(1, 2), (5, 6)]);
        assert_eq!(check(&[(5, 6), (1, 2)]), [(1, 2), (5, 6)]);
        assert_eq!(check(&[(1, 2), (5, 6), (10, 12), (2, 10)]), [(1, 12)]);
        assert_eq!(check(&[(1, 2), (5, 6), (10, 12), (4, 7)]), [(1, 2), (4, 7), (10, 12)]);
        assert_eq!(
            check(&[(i64::MIN, 0), (i64::MAX - 1, i64::MAX), (1, 5)]),
            [(i64::MIN, 5), (i64::MAX - 1, i64::MAX)]
        );
    }

    #[test]
    fn round_trips_and_rejects_bad_crc() {
        let dir = tempfile::tempdir().unwrap();
        let stones = BTreeMap::from([(7u64, vec![(1, 10), (20, 30)]), (300, vec![(-5, 5)])]);
        write(dir.path(), &stones).unwrap();
        let (read_back, size) = read(dir.path()).unwrap();
        assert_eq!(read_back.len(), 2);
        assert_eq!(read_back[&7], [(1, 10), (20, 30)]);
        assert_eq!(read_back[&300], [(-5, 5)]);
        assert_eq!(size, std::fs::metadata(dir.path().join(TOMBSTONES_FILENAME)).unwrap().len());

        // An empty file is exactly upstream's: magic, version, CRC of nothing.
        write(dir.path(), &BTreeMap::new()).unwrap();
        assert_eq!(std::fs::read(dir.path().join(TOMBSTONES_FILENAME)).unwrap(), [1, 0x30, 0xba, 0x30, 1, 0, 0, 0, 0]);

        write(dir.path(), &stones).unwrap();
        let file = dir.path().join(TOMBSTONES_FILENAME);
        let mut bytes = std::fs::read(&file).unwrap();
        bytes[6] ^= 1;
        std::fs::write(&file, &bytes).unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(err.contains("tombstones") && err.contains("checksum"), "{err}");
    }
}
