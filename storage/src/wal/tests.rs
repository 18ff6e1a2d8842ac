//! WAL tests on real files: round trips across pages and segments, truncation at every offset,
//! flipped bytes, and repair of the newest and of a middle segment.

use super::*;

fn records(n: usize, seed: u64) -> Vec<Vec<u8>> {
    // Sizes from 0 to ~3 pages, content partly compressible, so every fragment type appears.
    let mut x = seed;
    (0..n)
        .map(|i| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = match i % 5 {
                0 => 0,
                1 => (x >> 40) as usize % 100,
                2 => (x >> 40) as usize % (3 * PAGE_SIZE),
                _ => (x >> 40) as usize % 2000,
            };
            let mut y = x;
            (0..len)
                .map(|j| {
                    y = y.wrapping_mul(6364136223846793005).wrapping_add(1);
                    if i % 2 == 0 { (j % 7) as u8 } else { (y >> 56) as u8 }
                })
                .collect()
        })
        .collect()
}

fn write_all(dir: &Path, recs: &[Vec<u8>], segment_size: usize, compress: bool) {
    let mut wal = Wal::create(dir, segment_size, compress).unwrap();
    for (i, rec) in recs.iter().enumerate() {
        wal.log(rec).unwrap();
        if i % 3 == 0 {
            wal.flush().unwrap();
        }
    }
    wal.flush().unwrap();
}

fn read_all(dir: &Path) -> (Vec<Vec<u8>>, Vec<Repair>) {
    let mut out = Vec::new();
    let repairs = replay(dir, &dir.join("../quarantine"), |_| {}, None, |rec| out.push(rec.to_vec())).unwrap();
    (out, repairs)
}

#[test]
fn round_trip_across_pages_and_segments_with_and_without_snappy() {
    for compress in [false, true] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("wal");
        let recs = records(200, 7);
        // 4 pages per segment forces many segment switches.
        write_all(&dir, &recs, 4 * PAGE_SIZE, compress);
        let segments = list_segments(&dir).unwrap();
        assert!(segments.len() > 3, "{segments:?}");
        let (back, repairs) = read_all(&dir);
        assert!(repairs.is_empty(), "{repairs:?}");
        assert_eq!(back, recs);
        // Closed segments are whole pages and within the size; only the newest may end mid-page.
        for &index in &segments[..segments.len() - 1] {
            let len = fs::metadata(segment_name(&dir, index)).unwrap().len() as usize;
            assert!(len.is_multiple_of(PAGE_SIZE) && len <= 4 * PAGE_SIZE, "segment {index}: {len} bytes");
        }
    }
}

#[test]
fn a_restarted_writer_starts_a_new_segment_and_old_records_stay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let recs = records(20, 1);
    write_all(&dir, &recs[..10], DEFAULT_SEGMENT_SIZE, true);
    write_all(&dir, &recs[10..], DEFAULT_SEGMENT_SIZE, true);
    assert_eq!(list_segments(&dir).unwrap(), [0, 1]);
    assert_eq!(read_all(&dir).0, recs);
}

#[test]
fn truncation_at_every_offset_keeps_exactly_the_whole_records_before_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let recs: Vec<Vec<u8>> = records(12, 3);
    write_all(&dir, &recs, DEFAULT_SEGMENT_SIZE, true);
    let full = fs::read(segment_name(&dir, 0)).unwrap();
    // Record ends, to know how many records a prefix must yield.
    let mut ends = Vec::new();
    let mut count = 0;
    let end = read_segment(&full, |_| count += 1);
    assert_eq!((count, end.good_end, end.damage), (recs.len(), full.len(), None));
    for len in 0..=full.len() {
        let mut n = 0;
        let end = read_segment(&full[..len], |_| n += 1);
        ends.push((len, n, end.good_end));
        assert!(end.good_end <= len);
        if let Some((_, damage)) = &end.damage {
            assert_eq!(*damage, Damage::Torn, "truncated at {len}");
        }
    }
    // The record count never decreases with a longer prefix, and reaches all at the end.
    assert!(ends.windows(2).all(|w| w[0].1 <= w[1].1));
    assert_eq!(ends.last().unwrap().1, recs.len());
    // Repair of a truncated newest segment: the file is cut to the last whole record.
    for len in [1, 100, full.len() / 2, full.len() - 1] {
        fs::write(segment_name(&dir, 0), &full[..len]).unwrap();
        let (back, repairs) = read_all(&dir);
        assert_eq!(back, recs[..back.len()]);
        let kept = fs::metadata(segment_name(&dir, 0)).unwrap().len() as usize;
        assert_eq!(repairs.len(), usize::from(kept != len), "len {len}");
        if let Some(r) = repairs.first() {
            assert_eq!(r.bytes_lost, len - kept);
            assert!(r.quarantined.is_none());
        }
        // A second open finds nothing to repair.
        assert!(read_all(&dir).1.is_empty());
    }
}

#[test]
fn flipped_bytes_never_panic_and_never_yield_a_wrong_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let recs = records(10, 9);
    write_all(&dir, &recs, DEFAULT_SEGMENT_SIZE, true);
    let full = fs::read(segment_name(&dir, 0)).unwrap();
    let step = (full.len() / 400).max(1);
    for pos in (0..full.len()).step_by(step) {
        let mut data = full.clone();
        data[pos] ^= 0x5a;
        let mut got = Vec::new();
        read_segment(&data, |r| got.push(r.to_vec()));
        // Whatever is read is a prefix of what was written (a flip inside zero padding or a
        // length byte is caught by the CRC or the page structure).
        assert_eq!(got, recs[..got.len()], "flip at {pos}");
    }
}

#[test]
fn a_corrupt_middle_segment_is_quarantined_and_later_segments_still_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let recs: Vec<Vec<u8>> = (0..60u8).map(|i| vec![i; 5000]).collect();
    write_all(&dir, &recs, 2 * PAGE_SIZE, false);
    let segments = list_segments(&dir).unwrap();
    assert!(segments.len() >= 4);
    let seg1 = segment_name(&dir, 1);
    let mut data = fs::read(&seg1).unwrap();
    let mut in_seg1 = 0;
    read_segment(&data, |_| in_seg1 += 1);
    let in_seg0 = {
        let mut n = 0;
        read_segment(&fs::read(segment_name(&dir, 0)).unwrap(), |_| n += 1);
        n
    };
    data[PAGE_SIZE + 100] ^= 0xff;
    fs::write(&seg1, &data).unwrap();
    let (back, repairs) = read_all(&dir);
    assert_eq!(repairs.len(), 1);
    let repair = &repairs[0];
    assert_eq!(repair.segment, 1);
    assert_eq!(repair.reason, "checksum mismatch");
    let quarantined = repair.quarantined.as_ref().unwrap();
    assert_eq!(fs::read(quarantined).unwrap(), data);
    // Records of segment 1 after the damage are lost; everything else is there, in order.
    let lost = recs.len() - back.len();
    assert!(lost >= 1 && lost < in_seg1, "lost {lost}");
    assert_eq!(back[..in_seg0 + 1], recs[..in_seg0 + 1]);
    assert_eq!(back[back.len() - 10..], recs[recs.len() - 10..]);
    assert_eq!(list_segments(&dir).unwrap(), segments);
    assert!(read_all(&dir).1.is_empty());
}

#[test]
fn a_checkpoint_keeps_the_tombstones_of_kept_series_that_end_at_or_after_mint() {
    use record::{Record, decode, encode_series, encode_tombstones};
    let dir = tempfile::tempdir().unwrap();
    let wal_dir = dir.path().join("wal");
    {
        let mut wal = Wal::create(&wal_dir, DEFAULT_SEGMENT_SIZE, false).unwrap();
        let labels = crate::labels::Labels::from_pairs([("__name__", "up")]);
        let (mut series, mut tombstones) = (Vec::new(), Vec::new());
        encode_series(&mut series, &[(1, &labels), (2, &labels), (3, &labels)]);
        encode_tombstones(&mut tombstones, &[(1, 5, 9), (2, 100, 200), (3, 40, 50), (3, 60, 70)]);
        wal.commit(&[&series, &tombstones]).unwrap();
    }
    checkpoint::checkpoint(&wal_dir, 0, 0, |r| r != 2, 50, false).unwrap();
    let (recs, repairs) = read_all(&checkpoint::checkpoint_name(&wal_dir, 0));
    assert!(repairs.is_empty());
    let tombstones: Vec<Record> =
        recs.iter().map(|r| decode(r).unwrap()).filter(|r| matches!(r, Record::Tombstones(_))).collect();
    assert_eq!(tombstones, [Record::Tombstones(vec![(3, 40, 50), (3, 60, 70)])]);
}
