//! Head tests: Prometheus's chunk-cut rules, stripe/postings selection, and a model test that
//! runs random appends, commits, rollbacks, restarts (WAL replay) and queries against a
//! `BTreeMap`.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::chunkenc::XorIterator;
use crate::{Db, MatchOp, Options};

fn chunk_sizes(timestamps: impl IntoIterator<Item = i64>, value: impl Fn(i64) -> f64) -> Vec<(i64, i64, u16, usize)> {
    let opts = HeadOptions::default();
    let ctx = CutContext { opts: &opts, mapper: None, series_ref: 1 };
    let mut state = SeriesState::default();
    for t in timestamps {
        assert!(matches!(state.append(t, value(t), &ctx), Ok(Appended::Stored(_))));
    }
    let mut out: Vec<(i64, i64, u16, usize)> = state
        .sealed
        .iter()
        .map(|c| {
            let ChunkData::Memory(bytes) = &c.data else { panic!("no mapper, so sealed chunks stay in memory") };
            (c.min_time, c.max_time, XorIterator::new(bytes).unwrap().num_samples(), bytes.len())
        })
        .collect();
    let c = state.head_chunk.as_ref().unwrap();
    out.push((c.min_time, c.max_time, c.chunk.num_samples(), c.chunk.bytes().len()));
    out
}

#[test]
fn regular_scrapes_cut_at_120_samples_and_at_the_2h_boundary() {
    let chunks = chunk_sizes((0..480).map(|i| i * 15_000), |_| 1.0);
    assert_eq!(chunks.iter().map(|c| c.2).collect::<Vec<_>>(), [120, 120, 120, 120]);
    // Starting 10 samples before a 2h boundary: the first chunk ends at the boundary.
    let start = 7_200_000 - 10 * 15_000;
    let chunks = chunk_sizes((0..20).map(|i| start + i * 15_000), |_| 1.0);
    assert_eq!(chunks.iter().map(|c| c.2).collect::<Vec<_>>(), [10, 10]);
    assert_eq!(chunks[1].0, 7_200_000);
}

#[test]
fn a_faster_rate_after_the_prediction_cuts_at_240_samples() {
    // 31 samples a minute apart push the predicted end to the range end; then 1 ms apart.
    let ts: Vec<i64> = (0..31).map(|i| i * 60_000).chain((1..400).map(|i| 30 * 60_000 + i)).collect();
    let chunks = chunk_sizes(ts, |_| 1.0);
    assert_eq!(chunks[0].2, 240);
}

#[test]
fn incompressible_values_cut_past_1024_bytes() {
    // splitmix64 of the timestamp: every XOR delta is ~64 significant bits.
    let noise = |t: i64| {
        let mut z = (t as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        f64::from_bits((z ^ (z >> 31)) & 0x7fef_ffff_ffff_ffff)
    };
    // As above, the prediction at 30 samples puts the end at the range end, so only size cuts.
    let ts: Vec<i64> = (0..31).map(|i| i * 60_000).chain((1..400).map(|i| 30 * 60_000 + i)).collect();
    let chunks = chunk_sizes(ts, noise);
    let first = chunks[0];
    assert!(first.3 > 1024 && first.3 < 1024 + 20 && first.2 > 120 && first.2 < 240, "{chunks:?}");
}

#[test]
fn postings_select_with_every_operator_and_shortcut() {
    let head = Head::new(HeadOptions::default(), None);
    let set = |pairs: &[(&str, &str)]| Labels::from_pairs(pairs.iter().copied());
    let all = [
        set(&[("__name__", "up"), ("job", "api"), ("env", "prod")]),
        set(&[("__name__", "up"), ("job", "db")]),
        set(&[("__name__", "up"), ("job", "web"), ("env", "dev")]),
        set(&[("__name__", "down"), ("job", "api")]),
    ];
    for labels in &all {
        head.get_or_create(labels, head.reserve_ref());
    }
    let q = |ms: &[(&str, MatchOp, &str)]| -> Vec<u64> {
        let ms: Vec<Matcher> = ms.iter().map(|(n, op, v)| Matcher::new(*op, *n, *v).unwrap()).collect();
        head.select_refs(&ms)
    };
    use MatchOp::*;
    assert_eq!(q(&[("job", Equal, "api")]), [1, 4]);
    assert_eq!(q(&[("job", Regex, "api|web")]), [1, 3, 4]);
    assert_eq!(q(&[("job", Regex, "a.*")]), [1, 4]);
    assert_eq!(q(&[("job", Regex, ".*")]), [1, 2, 3, 4]);
    assert_eq!(q(&[("env", Regex, ".+")]), [1, 3]);
    assert_eq!(q(&[("env", Equal, "")]), [2, 4]);
    assert_eq!(q(&[("env", NotEqual, "prod")]), [2, 3, 4]);
    assert_eq!(q(&[("env", NotRegex, "p.*|d.v")]), [2, 4]);
    assert_eq!(q(&[("env", NotRegex, "")]), [1, 3]);
    assert_eq!(q(&[("__name__", Equal, "up"), ("env", Regex, "|dev")]), [2, 3]);
    assert_eq!(q(&[("nope", Equal, "x")]), Vec::<u64>::new());
    assert_eq!(q(&[("nope", NotEqual, "x"), ("job", Equal, "db")]), [2]);
    // Every distinct string is stored once.
    assert_eq!(head.num_symbols(), ["__name__", "up", "job", "api", "env", "prod", "db", "web", "dev", "down"].len());
    assert_eq!(head.labels_of(&head.series(3).unwrap()), all[2]);
}

#[derive(Debug, Clone)]
enum Op {
    Append { series: u8, dt: i64, value: u8 },
    Commit,
    Rollback,
    Restart,
    Query { mint: i64, maxt: i64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..4, -2i64..4, 0u8..4).prop_map(|(series, dt, value)| Op::Append { series, dt, value }),
        2 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => Just(Op::Restart),
        1 => (0i64..300, 0i64..300).prop_map(|(a, b)| Op::Query { mint: a.min(b) * 1000, maxt: a.max(b) * 1000 }),
    ]
}

fn value_of(v: u8) -> f64 {
    if v == 3 { crate::STALE_NAN } else { f64::from(v) }
}

fn labels_of_series(series: u8) -> Labels {
    Labels::from_pairs([("__name__", "m".to_owned()), ("s", series.to_string())])
}

fn check_query(db: &Db, model: &BTreeMap<u8, Vec<(i64, u64)>>, mint: i64, maxt: i64) -> Result<(), TestCaseError> {
    let got: BTreeMap<String, Vec<(i64, u64)>> = db
        .querier(mint, maxt)
        .select(&[Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()])
        .into_iter()
        .map(|s| (s.labels.get("s").to_owned(), s.samples().iter().map(|x| (x.t, x.v.to_bits())).collect()))
        .collect();
    let want: BTreeMap<String, Vec<(i64, u64)>> = model
        .iter()
        .map(|(s, v)| (s.to_string(), v.iter().copied().filter(|(t, _)| *t >= mint && *t <= maxt).collect::<Vec<_>>()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    prop_assert_eq!(got, want);
    // `select_latest`: each series' newest sample in [mint, at] alone.
    let querier = db.querier(mint, maxt);
    for at in [mint, mint / 2 + maxt / 2, maxt] {
        let got: BTreeMap<String, Vec<(i64, u64)>> = querier
            .select_latest(&[Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()], at)
            .into_iter()
            .map(|s| (s.labels.get("s").to_owned(), s.samples().iter().map(|x| (x.t, x.v.to_bits())).collect()))
            .collect();
        let want: BTreeMap<String, Vec<(i64, u64)>> = model
            .iter()
            .filter_map(|(s, v)| {
                let newest = v.iter().copied().rfind(|(t, _)| *t >= mint && *t <= at)?;
                Some((s.to_string(), vec![newest]))
            })
            .collect();
        prop_assert_eq!(got, want, "select_latest at {}", at);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn head_matches_a_model_across_commits_rollbacks_and_restarts(ops in prop::collection::vec(op(), 1..120)) {
        let dir = tempfile::tempdir().unwrap();
        // Tiny segments so restarts read many of them.
        let options = Options { wal_segment_size: 32 * 1024, ..Options::default() };
        let mut db = Db::open(dir.path(), options.clone()).unwrap();
        let mut app = Some(db.appender());
        let mut pending: Vec<(u8, i64, u64)> = Vec::new();
        let mut model: BTreeMap<u8, Vec<(i64, u64)>> = BTreeMap::new();
        let mut clock = [0i64; 4];
        for op in ops {
            match op {
                Op::Append { series, dt, value } => {
                    let t = (clock[series as usize] + dt).max(0);
                    clock[series as usize] = clock[series as usize].max(t);
                    let t = t * 1000;
                    app.as_mut().unwrap().append(&labels_of_series(series), t, value_of(value)).unwrap();
                    pending.push((series, t, value_of(value).to_bits()));
                }
                Op::Commit => {
                    let rejected = app.take().unwrap().commit().unwrap();
                    let mut want_rejected = 0;
                    for (series, t, v) in pending.drain(..) {
                        let samples = model.entry(series).or_default();
                        match samples.last() {
                            Some(&(lt, lv)) if t < lt || (t == lt && v != lv) => want_rejected += 1,
                            Some(&(lt, _)) if t == lt => {}
                            _ => samples.push((t, v)),
                        }
                    }
                    prop_assert_eq!(rejected.len(), want_rejected);
                    app = Some(db.appender());
                }
                Op::Rollback => {
                    app.take().unwrap().rollback();
                    pending.clear();
                    app = Some(db.appender());
                }
                Op::Restart => {
                    drop(app.take());
                    pending.clear();
                    let before = db.head_stats().series;
                    drop(db);
                    db = Db::open(dir.path(), options.clone()).unwrap();
                    prop_assert!(db.replay_stats().repairs.is_empty());
                    prop_assert_eq!(db.head_stats().series, before);
                    app = Some(db.appender());
                }
                Op::Query { mint, maxt } => check_query(&db, &model, mint, maxt)?,
            }
        }
        check_query(&db, &model, i64::MIN, i64::MAX)?;
    }
}

#[test]
fn status_counts_cardinality_from_the_postings() {
    let head = Head::new(HeadOptions::default(), None);
    for (name, job, n) in [("up", "a", 3), ("up", "b", 1), ("x", "a", 2)] {
        for i in 0..n {
            let labels = Labels::from_pairs([("__name__", name), ("job", job), ("i", &i.to_string())]);
            let (series, _) = head.get_or_create(&labels, head.reserve_ref());
            let (ok, _) = head
                .validate(&[crate::wal::record::RefSample { series_ref: series.series_ref, t: 1, v: 1.0 }], |r| {
                    head.series(r)
                });
            head.apply_validated(&ok);
        }
    }
    let status = head.status(2);
    assert_eq!(status.num_series, 6);
    assert_eq!(status.chunk_count, 6);
    assert_eq!(status.series_count_by_metric_name, [("up".to_owned(), 4), ("x".to_owned(), 2)]);
    assert_eq!(status.label_value_count_by_label_name, [("i".to_owned(), 3), ("__name__".to_owned(), 2)]);
    assert_eq!(status.series_count_by_label_value_pair, [("job=a".to_owned(), 5), ("__name__=up".to_owned(), 4)]);
    // Ties are broken by name: "up"+"x" and "0"+"1"+"2" are both 3 bytes.
    assert_eq!(status.memory_in_bytes_by_label_name, [("__name__".to_owned(), 3), ("i".to_owned(), 3)]);
    assert!(
        status.head_bytes_per_series > 100.0 && status.head_bytes_per_series < 2000.0,
        "{}",
        status.head_bytes_per_series
    );
}
