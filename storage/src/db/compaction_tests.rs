//! Compaction on a real data directory: head → blocks, head and WAL truncation with a
//! checkpoint, leveled block compaction, restart, and retention; every sample once throughout.

use super::*;
use crate::{AppendError, Labels, MatchOp, Matcher, SeriesRef};

const H: i64 = 3_600_000;
const STEP: i64 = 60_000;

fn series(i: usize) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())])
}

/// 20 series over `[0, hours)` every minute; series 0 stops after the first hour.
fn fill(db: &Db, hours: i64) -> Vec<(Labels, Vec<(i64, f64)>)> {
    let mut want: Vec<(Labels, Vec<(i64, f64)>)> = (0..20).map(|i| (series(i), Vec::new())).collect();
    for t in (0..hours * H).step_by(STEP as usize) {
        let mut app = db.appender();
        for (i, (labels, samples)) in want.iter_mut().enumerate() {
            if i == 0 && t >= H {
                continue;
            }
            let v = (t / STEP) as f64 * 0.5 + i as f64;
            app.append(labels, t, v).unwrap();
            samples.push((t, v));
        }
        app.commit().unwrap();
    }
    want.sort_by(|a, b| a.0.cmp(&b.0));
    want
}

fn all(db: &Db) -> Vec<(Labels, Vec<(i64, f64)>)> {
    db.querier(i64::MIN / 2, i64::MAX / 2)
        .select(&[Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()])
        .into_iter()
        .map(|s| (s.labels.clone(), s.samples().iter().map(|x| (x.t, x.v)).collect()))
        .collect()
}

fn options() -> Options {
    // Small segments: the WAL has enough of them for a checkpoint.
    Options { wal_segment_size: 64 * 1024, ..Options::default() }
}

#[test]
fn head_becomes_blocks_truncated_checkpointed_and_every_sample_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let want = fill(&db, 10);
    assert!(db.head_compactable());
    db.compact().unwrap();
    let blocks = db.block_list();
    // 2h blocks up to 8h; the first three became one 6h level-2 block (the newest is left out).
    let ranges: Vec<(i64, i64, u32)> = blocks.iter().map(|b| (b.min_time, b.max_time, b.level)).collect();
    assert_eq!(ranges, vec![(0, 6 * H, 2), (6 * H, 8 * H, 1)], "{blocks:?}");
    assert!(!db.head_compactable());
    let stats = db.head_stats();
    assert_eq!(stats.min_time, 8 * H);
    assert_eq!(stats.series, 19, "the series that stopped after 1h was removed from the head");
    assert_eq!(all(&db), want, "blocks and head together answer every sample once");
    let wal = dir.path().join("wal");
    assert_eq!(wal::checkpoint::list_checkpoints(&wal).unwrap().len(), 1);
    let (index, _) = wal::checkpoint::last_checkpoint(&wal).unwrap().unwrap();
    assert!(wal::list_segments(&wal).unwrap().iter().all(|s| *s > index), "segments up to the checkpoint are gone");
    assert!(db.tsdb_metrics().checkpoint_creations.load(Ordering::Relaxed) >= 1);
    // Nothing before the newest block's end is accepted any more.
    let mut app = db.appender();
    app.append(&series(3), 7 * H, 1.0).unwrap();
    let rejected = app.commit().unwrap();
    assert!(matches!(rejected.as_slice(), [(SeriesRef(_), AppendError::OutOfBounds)]), "{rejected:?}");
    drop(db);

    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.block_list().len(), 2);
    assert_eq!(all(&db), want, "after a restart: blocks, checkpoint and WAL, each sample once");
    let q = db.querier(0, 10 * H);
    assert_eq!(q.label_values("i", &[]).len(), 20, "label values come from blocks too");
    assert_eq!(q.select_labels(&[Matcher::new(MatchOp::Equal, "i", "0").unwrap()]), vec![series(0)]);
    let latest = q.select_latest(&[Matcher::new(MatchOp::Equal, "i", "0").unwrap()], 5 * H);
    assert_eq!(latest[0].samples()[0].t, H - STEP, "the newest sample of a series only a block has");
}

#[test]
fn time_retention_deletes_whole_blocks_beyond_it_from_the_newest_blocks_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { max_block_duration_ms: 2 * H, ..options() }).unwrap();
    fill(&db, 7);
    db.compact().unwrap();
    // min = max block duration: no level-2 compaction.
    assert_eq!(db.block_list().iter().map(|b| b.level).collect::<Vec<_>>(), vec![1, 1]);
    drop(db);
    let db = Db::open(dir.path(), Options { retention_ms: H, max_block_duration_ms: 2 * H, ..options() }).unwrap();
    db.apply_retention();
    let blocks = db.block_list();
    assert_eq!(blocks.len(), 1, "the newest block stays, the one ending 2h before it goes");
    assert_eq!(blocks[0].min_time, 2 * H);
    assert_eq!(db.tsdb_metrics().time_retentions.load(Ordering::Relaxed), 1);
    let dirs: Vec<String> =
        fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(dirs.iter().filter(|d| compaction::is_block_name(d)).count() == 1, "{dirs:?}");
    assert!(all(&db).iter().all(|(_, samples)| samples.first().is_none_or(|(t, _)| *t >= 2 * H)));
}

#[test]
fn a_second_open_of_a_locked_directory_is_refused_unless_the_lock_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Db::open(dir.path(), Options::default()).unwrap();
    let err = Db::open(dir.path(), Options::default()).err().expect("locked");
    assert!(matches!(err, DbError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked by another process"));
    // Only for tests here: a second writer on one WAL is what the lock prevents.
    Db::open_deferred(dir.path(), Options { no_lockfile: true, ..Options::default() }).unwrap();
}

#[test]
fn a_corrupt_block_is_quarantined_and_the_rest_is_served() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { max_block_duration_ms: 2 * H, ..options() }).unwrap();
    let want = fill(&db, 7);
    db.compact().unwrap();
    let blocks = db.block_list();
    assert_eq!(blocks.len(), 2);
    drop(db);
    let index = dir.path().join(&blocks[0].ulid).join("index");
    let mut bytes = fs::read(&index).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    fs::write(&index, bytes).unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    assert_eq!(db.block_list().len(), 1);
    assert!(dir.path().join("quarantine").join(&blocks[0].ulid).is_dir());
    assert_eq!(db.tsdb_metrics().blocks_quarantined.load(Ordering::Relaxed), 1);
    let got = all(&db);
    for ((labels, samples), (want_labels, want_samples)) in
        got.iter().zip(want.iter().filter(|(l, _)| l.get("i") != "0"))
    {
        assert_eq!(labels, want_labels);
        let kept: Vec<_> = want_samples.iter().filter(|(t, _)| *t >= 2 * H).copied().collect();
        assert_eq!(*samples, kept);
    }
}

#[test]
fn a_bad_meta_json_or_chunk_segment_quarantines_its_block_and_a_bad_chunk_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options { max_block_duration_ms: 2 * H, ..options() }).unwrap();
    let want = fill(&db, 10);
    db.compact().unwrap();
    let blocks = db.block_list();
    assert_eq!(blocks.len(), 4, "{blocks:?}");
    drop(db);
    let block_dir = |i: usize| dir.path().join(&blocks[i].ulid);
    fs::write(block_dir(0).join("meta.json"), "{\"ulid\": ").unwrap();
    // A segment cut short inside its header (a copy that ran out of space).
    let segment = block_dir(1).join("chunks").join("000001");
    fs::File::options().write(true).open(&segment).unwrap().set_len(3).unwrap();
    // One flipped byte inside chunk data: found by the chunk's CRC when it is read.
    let segment = block_dir(2).join("chunks").join("000001");
    let mut bytes = fs::read(&segment).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    fs::write(&segment, bytes).unwrap();

    let db = Db::open(dir.path(), options()).unwrap();
    let kept: Vec<_> = db.block_list().into_iter().map(|b| b.ulid).collect();
    assert_eq!(kept, vec![blocks[2].ulid.clone(), blocks[3].ulid.clone()]);
    for block in &blocks[..2] {
        assert!(dir.path().join("quarantine").join(&block.ulid).is_dir(), "{} quarantined", block.ulid);
    }
    assert_eq!(db.tsdb_metrics().blocks_quarantined.load(Ordering::Relaxed), 2);
    let querier = db.querier(i64::MIN / 2, i64::MAX / 2);
    let got = querier.select(&[Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()]);
    let warnings = querier.take_warnings();
    assert!(warnings.iter().any(|w| w.contains(&blocks[2].ulid) && w.contains("CRC mismatch")), "{warnings:?}");
    let (mut whole, mut short) = (0, 0);
    for (labels, samples) in want.iter().filter(|(l, _)| l.get("i") != "0") {
        let served = got.iter().find(|s| &s.labels == labels).expect("every series still served");
        let served: Vec<(i64, f64)> = served.samples().iter().map(|x| (x.t, x.v)).collect();
        let expected: Vec<(i64, f64)> = samples.iter().filter(|(t, _)| *t >= 4 * H).copied().collect();
        if served == expected {
            whole += 1;
        } else {
            // Only the bad chunk's samples are missing.
            let outside: Vec<_> = expected.iter().filter(|(t, _)| *t >= 6 * H).copied().collect();
            assert_eq!(served.iter().filter(|(t, _)| *t >= 6 * H).copied().collect::<Vec<_>>(), outside, "{labels:?}");
            assert!(served.iter().all(|p| expected.contains(p)), "{labels:?}");
            short += 1;
        }
    }
    assert_eq!((whole, short), (18, 1), "one series lost one chunk");
}

#[test]
fn promtool_reads_the_blocks_wal_and_checkpoint_promlite_wrote_sample_for_sample() {
    use crate::block::tests::{dump_key, go_labels, parse_dump, promtool, run};
    if promtool().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options()).unwrap();
    let want = fill(&db, 10);
    db.compact().unwrap();
    let blocks = db.block_list();
    db.close().unwrap();
    drop(db);
    assert!(wal::checkpoint::last_checkpoint(&dir.path().join("wal")).unwrap().is_some());
    let path = dir.path().to_str().unwrap();
    for block in &blocks {
        let analysis = run(&["tsdb", "analyze", path, &block.ulid]);
        assert!(analysis.contains(&format!("Series: {}", block.num_series)), "{analysis}");
    }
    // `tsdb dump` opens the directory read-only: blocks, then the head from checkpoint and WAL.
    let dumped = parse_dump(&run(&["tsdb", "dump", "--min-time=0", &format!("--max-time={}", 10 * H), path]));
    let mut expected: Vec<_> = want
        .iter()
        .flat_map(|(labels, samples)| samples.iter().map(|(t, v)| dump_key(go_labels(labels), *t, *v)))
        .collect();
    expected.sort();
    assert_eq!(dumped.len(), expected.len());
    assert!(dumped == expected, "promtool's dump differs from what was written");
}
