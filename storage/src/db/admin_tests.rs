//! The admin operations on a real data directory: deletes in the head and in blocks (seen at
//! once, kept across restarts), cleaning tombstones, and snapshots that open as data
//! directories. Expected samples are what was appended, less the deleted ranges.

use std::os::unix::fs::MetadataExt;

use super::*;
use crate::{Labels, MatchOp, Matcher};

const H: i64 = 3_600_000;
const STEP: i64 = 60_000;

type Model = Vec<(Labels, Vec<(i64, f64)>)>;

fn series(i: usize) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())])
}

fn is(i: usize) -> Vec<Matcher> {
    vec![Matcher::new(MatchOp::Equal, "i", i.to_string()).unwrap()]
}

fn every() -> Vec<Matcher> {
    vec![Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()]
}

/// Five series, a sample a minute over `[from, to)`; returned sorted by labels.
fn fill(db: &Db, from: i64, to: i64, want: &mut Model) {
    if want.is_empty() {
        *want = (0..5).map(|i| (series(i), Vec::new())).collect();
    }
    for t in (from..to).step_by(STEP as usize) {
        let mut app = db.appender();
        for (i, (labels, samples)) in want.iter_mut().enumerate() {
            let v = (t / STEP) as f64 + i as f64 / 10.0;
            app.append(labels, t, v).unwrap();
            samples.push((t, v));
        }
        assert!(app.commit().unwrap().is_empty());
    }
}

/// `want` without series `i`'s samples in `[from, to]`.
fn delete(want: &mut Model, i: usize, from: i64, to: i64) {
    want[i].1.retain(|&(t, _)| t < from || t > to);
}

/// Every sample the database answers, series without any left out.
fn all(db: &Db) -> Model {
    db.querier(i64::MIN / 2, i64::MAX / 2)
        .select(&every())
        .into_iter()
        .map(|s| (s.labels.clone(), s.samples().iter().map(|x| (x.t, x.v)).collect::<Vec<_>>()))
        .filter(|(_, samples)| !samples.is_empty())
        .collect()
}

/// Compares series by series, naming the first that differs rather than printing them all.
#[track_caller]
fn assert_same(got: &Model, want: &Model, what: &str) {
    let labels = |m: &Model| m.iter().map(|(l, _)| l.to_string()).collect::<Vec<_>>();
    assert_eq!(labels(got), labels(want), "{what}: the series");
    for ((labels, got), (_, want)) in got.iter().zip(want) {
        let first = got.iter().zip(want).position(|(a, b)| a != b);
        assert!(
            got == want,
            "{what}: {labels}: {} samples, want {}; first difference at {first:?}",
            got.len(),
            want.len()
        );
    }
}

fn nonempty(want: &Model) -> Model {
    want.iter().filter(|(_, samples)| !samples.is_empty()).cloned().collect()
}

/// `numTombstones` of a block's `meta.json` (0 when left out, as Go's `omitempty` leaves it).
fn num_tombstones(block_dir: &Path) -> u64 {
    let text = std::fs::read_to_string(block_dir.join("meta.json")).unwrap();
    let meta: serde_json::Value = serde_json::from_str(&text).unwrap();
    meta["stats"]["numTombstones"].as_u64().unwrap_or(0)
}

/// The block directories under `dir`, sorted.
fn block_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| compaction::is_block_name(n))
        .collect();
    names.sort();
    names
}

#[test]
fn a_delete_in_the_head_is_seen_at_once_spares_later_samples_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut want = Model::new();
    fill(&db, 0, 60 * STEP, &mut want);

    db.delete_series(10 * STEP, 20 * STEP, &is(1)).unwrap();
    delete(&mut want, 1, 10 * STEP, 20 * STEP);
    assert_same(&all(&db), &want, "at once, for a querier made after the delete");
    let latest = db.querier(0, 15 * STEP).select_latest(&is(1), 15 * STEP);
    assert_eq!(latest[0].samples()[0].t, 9 * STEP, "the newest sample not deleted");

    // The whole series, with the default range: only what it had is deleted, so a sample
    // appended afterwards (newer than every deleted one) is read.
    db.delete_series(i64::MIN, i64::MAX, &is(2)).unwrap();
    delete(&mut want, 2, i64::MIN, i64::MAX);
    assert_same(&all(&db), &nonempty(&want), "");
    fill(&db, 60 * STEP, 65 * STEP, &mut want);
    assert_same(&all(&db), &want, "");
    assert_eq!(want[2].1.len(), 5);
    // The series API keeps listing a head series while its open chunk lives (as upstream's
    // head index makes it reach to the end of time).
    assert!(db.querier(0, 30 * STEP).select_labels(&is(2)).contains(&series(2)));

    // Matching nothing, or a range with no sample, writes nothing and deletes nothing.
    db.delete_series(i64::MIN, i64::MAX, &[Matcher::new(MatchOp::Equal, "i", "9").unwrap()]).unwrap();
    db.delete_series(100 * H, 200 * H, &every()).unwrap();
    assert_same(&all(&db), &want, "");
    drop(db);

    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_same(&all(&db), &want, "the WAL's Tombstones records replayed");
}

#[test]
fn a_delete_in_a_block_rewrites_its_tombstones_and_meta_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut want = Model::new();
    fill(&db, 0, 5 * H, &mut want);
    db.compact().unwrap();
    let blocks = db.block_list();
    assert_eq!(blocks.iter().map(|b| (b.min_time, b.max_time)).collect::<Vec<_>>(), [(0, 2 * H)]);
    let block_dir = dir.path().join(&blocks[0].ulid);
    assert_eq!(num_tombstones(&block_dir), 0);
    let tombstones_before = std::fs::metadata(block_dir.join("tombstones")).unwrap().len();

    // From inside the block into the head; and a series' whole block part.
    db.delete_series(H, 3 * H, &is(1)).unwrap();
    delete(&mut want, 1, H, 3 * H);
    db.delete_series(0, 2 * H - 1, &is(3)).unwrap();
    delete(&mut want, 3, 0, 2 * H - 1);
    assert_same(&all(&db), &want, "");
    assert_eq!(num_tombstones(&block_dir), 2, "meta.json counts the block's intervals");
    let block = &db.blocks()[0];
    let stones = crate::block::read_tombstones(&block_dir).unwrap().0;
    assert_eq!(stones.len(), 2, "{stones:?}");
    assert!(stones.values().all(|iv| iv.len() == 1), "{stones:?}");
    assert!(stones.values().any(|iv| iv == &[(H, 2 * H - STEP)]), "clamped to the series' chunks: {stones:?}");
    assert!(std::fs::metadata(block_dir.join("tombstones")).unwrap().len() > tombstones_before);
    assert_eq!(block.size_bytes(), dir_size_of(&block_dir), "the block's size follows its rewritten files");
    let latest = db.querier(0, 5 * H).select_latest(&is(1), 2 * H + 30 * STEP);
    assert_eq!(latest[0].samples()[0].t, H - STEP);
    // Wholly deleted in the block: no longer listed over the block's range, as upstream's
    // block querier drops series whose chunks are all deleted.
    let listed = db.querier(0, H).select_labels(&every());
    assert!(!listed.contains(&series(3)) && listed.contains(&series(4)), "{listed:?}");
    drop(db);

    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_same(&all(&db), &want, "block tombstones read back, head ones replayed");
    db.compact().unwrap();
    assert_same(&all(&db), &want, "");
}

#[test]
fn clean_tombstones_replaces_each_block_that_has_them_by_one_without_the_deleted_samples() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut want = Model::new();
    fill(&db, 0, 12 * H, &mut want);
    db.compact().unwrap();
    let before = db.block_list();
    let ranges = |blocks: &[BlockInfo]| blocks.iter().map(|b| (b.min_time, b.max_time, b.level)).collect::<Vec<_>>();
    assert_eq!(ranges(&before), [(0, 6 * H, 2), (6 * H, 8 * H, 1), (8 * H, 10 * H, 1)]);

    db.delete_series(H, 7 * H, &is(1)).unwrap();
    delete(&mut want, 1, H, 7 * H);
    // Series 0's part of the first block; the head has nothing that old.
    db.delete_series(i64::MIN, 6 * H - 1, &is(0)).unwrap();
    delete(&mut want, 0, i64::MIN, 6 * H - 1);
    // Every sample of the second block, and of the newest.
    for (from, to) in [(6 * H, 8 * H - 1), (8 * H, 10 * H - 1)] {
        db.delete_series(from, to, &every()).unwrap();
        for i in 0..5 {
            delete(&mut want, i, from, to);
        }
    }
    assert_same(&all(&db), &want, "deleted before the clean");

    db.clean_tombstones().unwrap();
    let after = db.block_list();
    assert_eq!(ranges(&after), [(0, 6 * H, 2), (8 * H, 10 * H, 1)], "the second block had nothing left");
    assert_ne!(after[0].ulid, before[0].ulid, "the first block was rewritten");
    // 5h of series 1 and 6h of series 0 went from the first block.
    let per_hour = (H / STEP) as u64;
    assert_eq!(after[0].num_samples, before[0].num_samples - (5 + 6) * per_hour);
    // The newest keeps its tombstones: its end bounds the WAL replay.
    assert_eq!((&after[1].ulid, after[1].num_samples), (&before[2].ulid, before[2].num_samples));
    assert_eq!(num_tombstones(&dir.path().join(&after[1].ulid)), 5);
    let mut on_disk = vec![after[0].ulid.clone(), after[1].ulid.clone()];
    on_disk.sort();
    assert_eq!(block_dirs(dir.path()), on_disk, "the old blocks are gone");
    let new_dir = dir.path().join(&after[0].ulid);
    assert_eq!(num_tombstones(&new_dir), 0);
    assert!(crate::block::read_tombstones(&new_dir).unwrap().0.is_empty());
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(new_dir.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["compaction"]["parents"][0]["ulid"], before[0].ulid.as_str(), "{meta}");
    assert_eq!(meta["compaction"]["level"], 2);
    assert_same(&all(&db), &want, "the same answers from the rewritten block");
    let listed = db.querier(0, 6 * H - 1).select_labels(&every());
    assert!(!listed.contains(&series(0)) && listed.contains(&series(1)), "{listed:?}");
    // Nothing more to rewrite: nothing changes.
    db.clean_tombstones().unwrap();
    assert_eq!(db.block_list(), after);
    drop(db);

    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.block_list(), after);
    assert_same(&all(&db), &want, "after a restart: nothing deleted comes back from the WAL");
}

#[test]
fn a_snapshot_links_the_blocks_writes_the_head_as_a_block_and_opens_as_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let db = Db::open(&data, Options::default()).unwrap();
    let mut want = Model::new();
    fill(&db, 0, 5 * H, &mut want);
    db.compact().unwrap();
    let block = db.block_list().remove(0);
    db.delete_series(4 * H, 5 * H, &is(2)).unwrap();
    delete(&mut want, 2, 4 * H, 5 * H);

    let full = data.join("snapshots").join("full");
    db.snapshot(&full, true).unwrap();
    let names = block_dirs(&full);
    assert_eq!(names.len(), 2, "the block and the head: {names:?}");
    assert_eq!(names[0], block.ulid, "blocks keep their ids (older ULIDs sort first)");
    assert!(full.join("wal").is_dir(), "a whole data directory, for promtool tsdb dump");
    for file in ["meta.json", "index", "tombstones", "chunks/000001"] {
        let ino = |d: &Path| std::fs::metadata(d.join(&block.ulid).join(file)).unwrap().ino();
        assert_eq!(ino(&full), ino(&data), "{file} is hard-linked");
    }
    let head_meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.join(&names[1]).join("meta.json")).unwrap()).unwrap();
    let stats = db.head_stats();
    assert_eq!((head_meta["minTime"].as_i64(), head_meta["maxTime"].as_i64()), (Some(2 * H), Some(stats.max_time + 1)));
    let head_samples = want.iter().flat_map(|(_, s)| s).filter(|(t, _)| *t >= 2 * H).count();
    assert_eq!(head_meta["stats"]["numSamples"].as_u64(), Some(head_samples as u64), "deleted samples left out");

    let skip_head = data.join("snapshots").join("skip_head");
    db.snapshot(&skip_head, false).unwrap();
    assert_eq!(block_dirs(&skip_head), std::slice::from_ref(&block.ulid));

    // A delete after the snapshot renames new files into the block: the links keep the old ones.
    db.delete_series(0, H, &every()).unwrap();
    let mut now = want.clone();
    for i in 0..5 {
        delete(&mut now, i, 0, H);
    }
    assert_same(&all(&db), &now, "");
    assert_eq!(num_tombstones(&full.join(&block.ulid)), 0);

    let refused = [db.snapshot(&data, true).unwrap_err(), db.snapshot(&data.join(&block.ulid), true).unwrap_err()];
    assert!(refused.iter().all(|e| matches!(e, AdminError::SnapshotDir { .. })), "{refused:?}");
    drop(db);

    let snapshot = Db::open(&full, Options::default()).unwrap();
    assert_same(&all(&snapshot), &want, "the snapshot answers what the database did when it was taken");
    drop(snapshot);
    let snapshot = Db::open(&skip_head, Options::default()).unwrap();
    let in_blocks: Model =
        want.iter().map(|(l, s)| (l.clone(), s.iter().copied().filter(|(t, _)| *t < 2 * H).collect())).collect();
    assert_same(&all(&snapshot), &in_blocks, "");
}

fn dir_size_of(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| if e.path().is_dir() { dir_size_of(&e.path()) } else { e.metadata().unwrap().len() })
        .sum()
}
