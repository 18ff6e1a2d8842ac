//! Db tests on real data directories: commit/rollback visibility, rejections, selection, and
//! restarts that replay the WAL, with and without damage.

use super::*;
use crate::{AppendError, Labels, MatchOp, Matcher, SeriesRef};

fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    (dir, db)
}

fn up(job: &str) -> Labels {
    Labels::from_pairs([("__name__", "up"), ("job", job)])
}

#[test]
fn commit_makes_samples_visible_and_rollback_does_not() {
    let (_dir, db) = db();
    let mut app = db.appender();
    app.append(&up("a"), 1000, 1.0).unwrap();
    app.append(&up("b"), 1000, 0.0).unwrap();
    assert!(app.commit().unwrap().is_empty());
    let mut app = db.appender();
    app.append(&up("a"), 2000, 5.0).unwrap();
    app.rollback();

    let all = db.querier(0, 10_000).select(&[Matcher::new(MatchOp::Equal, "__name__", "up").unwrap()]);
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].labels, up("a"));
    assert_eq!(all[0].samples().len(), 1);
    assert_eq!(db.head_stats().samples_appended, 2);
}

#[test]
fn rejects_out_of_order_and_conflicting_duplicates_but_keeps_the_rest() {
    let (_dir, db) = db();
    let mut app = db.appender();
    app.append(&up("a"), 2000, 1.0).unwrap();
    app.commit().unwrap();
    let mut app = db.appender();
    app.append(&up("a"), 1000, 1.0).unwrap();
    app.append(&up("a"), 2000, 1.0).unwrap();
    app.append(&up("a"), 2000, 2.0).unwrap();
    app.append(&up("b"), 2000, 2.0).unwrap();
    let rejected: Vec<String> = app.commit().unwrap().into_iter().map(|(_, e)| e.to_string()).collect();
    assert_eq!(rejected, ["out of order sample", "duplicate sample for timestamp"]);
    assert_eq!(db.head_stats().samples_appended, 2);
    assert_eq!(db.head_stats().out_of_order_samples, 1);
}

#[test]
fn select_by_regex_negation_and_absent_label_and_range() {
    let (_dir, db) = db();
    let mut app = db.appender();
    app.append(&up("api"), 1000, 1.0).unwrap();
    app.append(&up("db"), 1000, 1.0).unwrap();
    app.append(&Labels::from_pairs([("__name__", "up"), ("job", "web"), ("env", "prod")]), 5000, 1.0).unwrap();
    app.commit().unwrap();
    let q = db.querier(0, 10_000);
    let names = |ms: &[Matcher]| q.select(ms).iter().map(|s| s.labels.get("job").to_owned()).collect::<Vec<_>>();
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    assert_eq!(names(&[m(MatchOp::Regex, "job", "a.*|d.")]), ["api", "db"]);
    // Sorted like Prometheus's labels.Compare: pairwise, so `env` sorts before `job`.
    assert_eq!(names(&[m(MatchOp::NotEqual, "job", "api")]), ["web", "db"]);
    assert_eq!(names(&[m(MatchOp::Equal, "env", ""), m(MatchOp::Equal, "__name__", "up")]), ["api", "db"]);
    assert_eq!(db.querier(2000, 10_000).select(&[m(MatchOp::Equal, "__name__", "up")]).len(), 1);
    assert_eq!(q.label_values("job", &[]), ["api", "db", "web"]);
    assert_eq!(q.label_names(&[m(MatchOp::Equal, "job", "web")]), ["__name__", "env", "job"]);
}

fn all_samples(db: &Db) -> Vec<(String, Vec<(i64, u64)>)> {
    db.querier(i64::MIN, i64::MAX)
        .select(&[Matcher::new(MatchOp::Regex, "__name__", ".+").unwrap()])
        .into_iter()
        .map(|s| (s.labels.to_string(), s.samples().iter().map(|x| (x.t, x.v.to_bits())).collect()))
        .collect()
}

fn fill(db: &Db, series: usize, samples: i64) {
    for i in 0..samples {
        let mut app = db.appender();
        for s in 0..series {
            let v = if i % 17 == 5 { crate::STALE_NAN } else { (i * s as i64) as f64 * 0.25 };
            app.append(&Labels::from_pairs([("__name__", "m"), ("s", &s.to_string())]), i * 15_000, v).unwrap();
        }
        assert!(app.commit().unwrap().is_empty());
    }
}

#[test]
fn restart_replays_every_committed_sample_once() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        fill(&db, 20, 500);
        // A rolled-back batch leaves nothing: neither its samples nor the series it named.
        let mut app = db.appender();
        app.append(&up("rolled-back"), 10, 1.0).unwrap();
        app.rollback();
        all_samples(&db)
    };
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(all_samples(&db), before);
    assert_eq!(db.head_stats().series, 20);
    // 480 samples per series are in sealed chunks_head chunks; the WAL adds the other 20.
    assert_eq!(db.replay_stats().mmapped_chunks, 20 * 4);
    assert_eq!(db.replay_stats().samples, 20 * 20);
    assert!(db.replay_stats().repairs.is_empty());
    assert!(db.replay_progress().done.load(std::sync::atomic::Ordering::Relaxed));
    // New refs continue after the replayed ones; appending after a restart works and survives
    // the next one.
    let mut app = db.appender();
    let r = app.append(&up("new"), 500 * 15_000, 1.0).unwrap();
    assert!(r.0 > 20);
    app.append(&Labels::from_pairs([("__name__", "m"), ("s", "3")]), 500 * 15_000, 9.0).unwrap();
    assert!(app.commit().unwrap().is_empty());
    let after = all_samples(&db);
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(all_samples(&db), after);
    assert_eq!(wal::list_segments(&dir.path().join("wal")).unwrap(), [0, 1, 2]);
    assert_eq!(db.wal_segment_current(), Some(2));
}

#[test]
fn torn_wal_tail_loses_only_the_last_commits() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        fill(&db, 5, 300);
    }
    let seg = dir.path().join("wal/00000000");
    let len = fs::metadata(&seg).unwrap().len();
    let file = OpenOptions::new().write(true).open(&seg).unwrap();
    file.set_len(len - 50).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let repairs = &db.replay_stats().repairs;
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    assert!(repairs[0].bytes_lost > 0);
    let samples = all_samples(&db);
    // Whole commits are lost from the end only: each series has a prefix of its samples.
    let total: usize = samples.iter().map(|(_, s)| s.len()).sum();
    assert!((5 * 290..5 * 300).contains(&total), "{total}");
    for (_, s) in &samples {
        assert!(s.iter().enumerate().all(|(i, (t, _))| *t == i as i64 * 15_000));
    }
}

#[test]
fn corrupt_middle_segment_is_quarantined_and_the_rest_served() {
    let dir = tempfile::tempdir().unwrap();
    let options = Options { wal_segment_size: 64 * 1024, wal_compression: false, ..Options::default() };
    {
        let db = Db::open(dir.path(), options.clone()).unwrap();
        fill(&db, 10, 2000);
    }
    let wal_dir = dir.path().join("wal");
    let segments = wal::list_segments(&wal_dir).unwrap();
    assert!(segments.len() >= 4, "{segments:?}");
    let seg = wal::segment_name(&wal_dir, 2);
    let mut data = fs::read(&seg).unwrap();
    data[40_000] ^= 0x01;
    fs::write(&seg, &data).unwrap();
    // Without chunks_head, only the WAL speaks (with it, sealed chunks would cover the loss).
    fs::remove_dir_all(dir.path().join("chunks_head")).unwrap();
    let db = Db::open(dir.path(), options).unwrap();
    let stats = db.replay_stats();
    assert_eq!(stats.repairs.len(), 1);
    assert_eq!(stats.repairs[0].segment, 2);
    assert!(stats.repairs[0].quarantined.as_ref().unwrap().starts_with(dir.path().join("quarantine")));
    // The newest samples, from segments after the damage, are still served.
    let samples = all_samples(&db);
    assert_eq!(samples.len(), 10);
    for (_, s) in &samples {
        assert_eq!(s.last().unwrap().0, 1999 * 15_000);
        assert!(s.len() < 2000);
    }
}

#[test]
fn out_of_bounds_is_half_a_chunk_range_behind_the_newest_sample() {
    let (_dir, db) = db();
    let mut app = db.appender();
    app.append(&up("a"), 10 * 3_600_000, 1.0).unwrap();
    assert!(app.commit().unwrap().is_empty());
    let mut app = db.appender();
    app.append(&up("b"), 9 * 3_600_000 - 1, 1.0).unwrap();
    app.append(&up("c"), 9 * 3_600_000, 1.0).unwrap();
    app.append_ref(crate::SeriesRef(999), 0, 0.0);
    let rejected: Vec<String> = app.commit().unwrap().into_iter().map(|(_, e)| e.to_string()).collect();
    assert_eq!(rejected, ["out of bounds", "unknown series ref 999"]);
    assert_eq!(db.head_stats().out_of_bound_samples, 1);
}

#[test]
fn sealed_chunks_go_to_chunks_head_and_come_back_before_the_wal() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        // 500 samples at 15s: four chunks of 120 sealed per series, the rest open.
        fill(&db, 8, 500);
        all_samples(&db)
    };
    let files: Vec<_> = fs::read_dir(dir.path().join("chunks_head")).unwrap().collect();
    assert_eq!(files.len(), 1);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.replay_stats().mmapped_chunks, 8 * 4);
    assert!(db.replay_stats().chunk_repair.is_none());
    // Samples inside the mmapped chunks are not re-applied from the WAL.
    assert_eq!(db.replay_stats().samples, 8 * 20);
    assert_eq!(all_samples(&db), before);
    assert_eq!(db.head_stats().chunks, 8 * 5);
}

#[test]
fn a_damaged_chunks_head_file_is_cut_and_the_wal_fills_the_gap() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        fill(&db, 8, 500);
        all_samples(&db)
    };
    let path = dir.path().join("chunks_head/000001");
    let mut data = fs::read(&path).unwrap();
    let at = data.len() / 3;
    data[at] ^= 0x40;
    fs::write(&path, &data).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let repair = db.replay_stats().chunk_repair.clone().unwrap();
    assert_eq!(repair.file, 1);
    assert!(repair.offset <= at as u64);
    assert!(db.replay_stats().mmapped_chunks < 8 * 4);
    assert_eq!(all_samples(&db), before);
}

#[test]
fn nothing_is_appended_before_the_replay_and_refs_come_after_every_replayed_one() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        fill(&db, 3, 2);
    }
    let db = Db::open_deferred(dir.path(), Options::default()).unwrap();
    assert!(!db.ready());
    let mut app = db.appender();
    assert_eq!(app.append(&up("early"), 1, 1.0), Err(AppendError::NotReady));
    app.append_ref(SeriesRef(1), 1, 1.0);
    assert!(matches!(app.commit(), Err(crate::CommitError::NotReady)));
    db.replay_wal().unwrap();
    assert!(db.ready());
    let mut app = db.appender();
    let new = app.append(&up("late"), 100_000, 1.0).unwrap();
    app.commit().unwrap();
    let replayed = db.querier(i64::MIN, i64::MAX).select(&[Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()]);
    assert_eq!(replayed.len(), 3);
    assert_eq!(replayed.iter().map(|s| s.samples().len()).sum::<usize>(), 6);
    assert!(new.0 > 3, "new ref {new:?} must be above the replayed refs 1..=3");
}

#[test]
fn two_batches_naming_one_new_series_create_it_once_and_both_refs_reach_it() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let (mut a, mut b) = (db.appender(), db.appender());
        let ra = a.append(&up("x"), 1000, 1.0).unwrap();
        let rb = b.append(&up("x"), 2000, 2.0).unwrap();
        assert_ne!(ra, rb, "each batch staged the series on its own");
        assert!(a.commit().unwrap().is_empty());
        assert!(b.commit().unwrap().is_empty());
        // b's ref is an alias of a's series: a caller that cached it keeps appending.
        let mut c = db.appender();
        c.append_ref(rb, 3000, 3.0);
        c.append_ref(ra, 4000, 4.0);
        assert!(c.commit().unwrap().is_empty());
        assert_eq!(db.head_stats().series, 1);
        all_samples(&db)
    };
    assert_eq!(before[0].1.len(), 4);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert_eq!(all_samples(&db), before, "the WAL names the series once and every sample by its ref");
    assert!(db.replay_stats().samples_skipped == 0);
}

#[test]
fn a_rolled_back_batch_creates_no_series() {
    let (_dir, db) = db();
    let mut app = db.appender();
    for i in 0..1000 {
        app.append(&Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())]), 1000, 1.0).unwrap();
    }
    app.rollback();
    assert_eq!(db.head_stats().series, 0);
    assert_eq!(db.head_stats().series_created, 0);
    assert!(
        db.querier(i64::MIN, i64::MAX).select(&[Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()]).is_empty()
    );
}

#[test]
fn a_flipped_byte_early_in_the_wal_costs_the_damaged_record_not_the_segment() {
    let dir = tempfile::tempdir().unwrap();
    let labels = |group: &str, i: usize| Labels::from_pairs([("__name__", group), ("i", &i.to_string())]);
    {
        let db = Db::open(dir.path(), Options { wal_compression: false, ..Options::default() }).unwrap();
        // Two batches of new series, each a Series record of several pages, then samples.
        for group in ["a", "b"] {
            let mut app = db.appender();
            for i in 0..3000 {
                app.append(&labels(group, i), 1000, 1.0).unwrap();
            }
            app.commit().unwrap();
        }
        for t in 2..20 {
            let mut app = db.appender();
            for i in 0..3000 {
                app.append(&labels("b", i), t * 1000, t as f64).unwrap();
            }
            app.commit().unwrap();
        }
    }
    let segment = dir.path().join("wal/00000000");
    let mut data = fs::read(&segment).unwrap();
    data[100] ^= 0xff; // inside the first Series record: group a
    fs::write(&segment, &data).unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let stats = db.replay_stats();
    assert_eq!(stats.repairs.len(), 1, "{:?}", stats.repairs);
    assert!(stats.repairs[0].bytes_lost < data.len() / 4, "{:?}", stats.repairs[0]);
    assert!(stats.samples_unknown_series >= 3000, "group a's samples are reported lost: {stats:?}");
    let b = db.querier(i64::MIN, i64::MAX).select(&[Matcher::new(MatchOp::Equal, "__name__", "b").unwrap()]);
    assert_eq!(b.len(), 3000, "group b, logged after the damage, survives");
    assert!(b.iter().all(|s| s.samples().len() == 19));
    drop(db);
    // The repaired segment reads cleanly and keeps the same data.
    let db = Db::open(dir.path(), Options::default()).unwrap();
    assert!(db.replay_stats().repairs.is_empty());
    let b = db.querier(i64::MIN, i64::MAX).select(&[Matcher::new(MatchOp::Equal, "__name__", "b").unwrap()]);
    assert_eq!(b.len(), 3000);
}

#[test]
fn a_select_sees_a_commit_wholly_or_not_at_all() {
    let (_dir, db) = db();
    const SERIES: usize = 2000;
    let labels: Vec<Labels> =
        (0..SERIES).map(|i| Labels::from_pairs([("__name__", "m"), ("i", &i.to_string())])).collect();
    let mut app = db.appender();
    for l in &labels {
        app.append(l, 0, 0.0).unwrap();
    }
    app.commit().unwrap();
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for b in 1..300i64 {
                let mut app = db.appender();
                for l in &labels {
                    app.append(l, b * 1000, b as f64).unwrap();
                }
                app.commit().unwrap();
            }
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        let m = [Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()];
        let mut checked = 0;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let series = db.querier(i64::MIN, i64::MAX).select_latest(&m, i64::MAX);
            assert_eq!(series.len(), SERIES);
            let first = series[0].samples()[0].v;
            assert!(series.iter().all(|s| s.samples()[0].v == first), "a select saw part of a commit");
            checked += 1;
        }
        assert!(checked > 0);
    });
}

/// Prometheus's admin delete API writes a Tombstones record (type 3) for the head; a data
/// directory swapped from Prometheus must keep those samples deleted through reads, head
/// compaction and restarts (found by `tests/tsdb_interop.rs`).
#[test]
fn a_wal_tombstone_hides_its_samples_from_reads_compaction_and_restarts() {
    use crate::wal::record::{RefSample, encode_samples, encode_series, encode_tombstones};
    const M: i64 = 60_000;
    let dir = tempfile::tempdir().unwrap();
    {
        let mut wal = crate::wal::Wal::create(&dir.path().join("wal"), wal::DEFAULT_SEGMENT_SIZE, false).unwrap();
        let (mut series, mut samples, mut tombstones) = (Vec::new(), Vec::new(), Vec::new());
        encode_series(&mut series, &[(1, &up("a")), (2, &up("b"))]);
        let all: Vec<RefSample> =
            (0..300).flat_map(|k| [1, 2].map(|r| RefSample { series_ref: r, t: k * M, v: k as f64 })).collect();
        encode_samples(&mut samples, &all);
        // One interval the first block will hold, one the head keeps after compaction.
        encode_tombstones(&mut tombstones, &[(1, 10 * M, 20 * M), (1, 250 * M, 260 * M)]);
        wal.commit(&[&series, &tombstones, &samples]).unwrap();
    }
    let want_a: Vec<i64> =
        (0..300).filter(|k| !(10..=20).contains(k) && !(250..=260).contains(k)).map(|k| k * M).collect();
    let check = |db: &Db, what: &str| {
        let got = db.querier(0, 300 * M).select(&[Matcher::new(MatchOp::Equal, "__name__", "up").unwrap()]);
        let times = |i: usize| got[i].samples().iter().map(|s| s.t).collect::<Vec<_>>();
        assert_eq!(times(0), want_a, "{what}: job a without its deleted samples");
        assert_eq!(times(1), (0..300).map(|k| k * M).collect::<Vec<_>>(), "{what}: job b whole");
        let latest =
            db.querier(0, 300 * M).select_latest(&[Matcher::new(MatchOp::Equal, "job", "a").unwrap()], 255 * M);
        assert_eq!(
            latest[0].samples().iter().map(|s| s.t).collect::<Vec<_>>(),
            [249 * M],
            "{what}: newest not deleted"
        );
    };
    let db = Db::open(dir.path(), Options::default()).unwrap();
    check(&db, "replayed");
    db.compact().unwrap();
    assert!(!db.blocks().is_empty(), "the head was compacted");
    check(&db, "compacted");
    drop(db);
    let db = Db::open(dir.path(), Options::default()).unwrap();
    check(&db, "restarted");
}
