//! PromQL range-query latency, modelled on upstream `promql/bench_test.go`
//! (`BenchmarkRangeQuery`): metrics `a_X` (gauges) and `h_X` (10-bucket classic histograms) with
//! X = one, ten, hundred series, one sample every 10s for a day plus the longest query range,
//! queried with rate, sum by, histogram_quantile and topk at 1, 100, 1000 and 10000 steps of 10s.
//! Also instant queries (`instant_query/`) at the end of the data: one evaluation reading each
//! series' newest sample in the 5m lookback window.
//! Run: `cargo bench --bench promql`. Figures go to BENCHMARKS.md.

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use promlite_promql::{Engine, EngineOptions};
use promlite_storage::{Db, Labels, Options};

const INTERVAL_MS: i64 = 10_000;
const STEPS: [i64; 4] = [1, 100, 1_000, 10_000];
// A day of data plus room for the longest query, as upstream's `numIntervals`.
const INTERVALS: i64 = 8_640 + 10_000;
const BUCKETS: [&str; 10] = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"];

fn load() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path(), Options::default()).expect("open db");
    let mut series = Vec::new();
    for (suffix, n) in [("one", 1), ("ten", 10), ("hundred", 100)] {
        for i in 0..n {
            let l = i.to_string();
            series.push((Labels::from_pairs([("__name__", format!("a_{suffix}")), ("l", l.clone())]), 1.0));
            for (b, le) in BUCKETS.iter().enumerate() {
                let labels = Labels::from_pairs([
                    ("__name__", format!("h_{suffix}")),
                    ("l", l.clone()),
                    ("le", (*le).to_owned()),
                ]);
                series.push((labels, (b + 1) as f64));
            }
        }
    }
    // Time-major, one commit per step, as a scrape would append.
    for t in 0..INTERVALS {
        let mut app = db.appender();
        for (i, (labels, slope)) in series.iter().enumerate() {
            app.append(labels, t * INTERVAL_MS, t as f64 * slope + i as f64).expect("append");
        }
        assert!(app.commit().expect("commit").is_empty(), "all samples accepted");
    }
    (dir, db)
}

fn range_queries(c: &mut Criterion) {
    let (_dir, db) = load();
    let engine = Engine::new(EngineOptions::default());
    let end = (INTERVALS - 1) * INTERVAL_MS;
    let cases = [
        "a_X",
        "rate(a_X[1m])",
        "sum by (l) (rate(a_X[1m]))",
        "sum(rate(a_X[5m]))",
        "histogram_quantile(0.9, sum by (le) (rate(h_X[5m])))",
        "topk(5, a_X)",
    ];
    let mut group = c.benchmark_group("range_query");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for case in cases {
        for size in ["one", "ten", "hundred"] {
            let query = case.replace('X', size);
            for steps in STEPS {
                let start = end - (steps - 1) * INTERVAL_MS;
                group.throughput(Throughput::Elements(steps as u64));
                group.bench_with_input(BenchmarkId::new(&query, steps), &start, |b, &start| {
                    b.iter(|| engine.range_query(&db, &query, start, end, INTERVAL_MS).expect("query"))
                });
            }
        }
    }
    group.finish();
}

fn instant_queries(c: &mut Criterion) {
    let (_dir, db) = load();
    let engine = Engine::new(EngineOptions::default());
    let end = (INTERVALS - 1) * INTERVAL_MS;
    let mut group = c.benchmark_group("instant_query");
    group.sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for query in ["a_hundred", "count(h_hundred)", "sum by (le) (h_hundred)", "a_hundred offset 1h / a_hundred"] {
        group.bench_function(query, |b| b.iter(|| engine.instant_query(&db, query, end).expect("query")));
    }
    group.finish();
}

criterion_group!(benches, range_queries, instant_queries);
criterion_main!(benches);
