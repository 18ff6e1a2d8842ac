//! TSDB throughput, single thread: XOR encode/decode (ns per sample), head append to existing
//! series and series creation (samples/s, WAL writes included, on a real temp dir), postings
//! selection (series matched per second), and WAL replay at open (samples/s).
//!
//! Inputs are shaped like scraped data: 15 s intervals with a few ms of jitter, a mix of
//! counters (steady increments), gauges (random walk) and constant series; label sets like a
//! node exporter fleet (`job`, `instance`, a metric name from a few hundred, one extra label).
//!
//! Run: `cargo bench -p promlite-storage --bench tsdb`. Figures go to BENCHMARKS.md ("TSDB").

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use promlite_storage::chunkenc::{XorChunk, XorIterator};
use promlite_storage::{Db, Labels, MatchOp, Matcher, Options, SeriesRef};

/// A deterministic generator so every run measures the same bytes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Value of series `s` at step `i`: a third counters, a third gauges, a third constants.
fn value(rng: &mut Rng, s: u64, last: f64) -> f64 {
    match s % 3 {
        0 => last + (rng.next() % 50) as f64,
        1 => last + ((rng.next() % 2001) as f64 - 1000.0) / 100.0,
        _ => 1.0,
    }
}

fn scraped_samples(series: u64, n: usize) -> Vec<Vec<(i64, f64)>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..series)
        .map(|s| {
            let mut last = 0.0;
            (0..n as u64)
                .map(|i| {
                    last = value(&mut rng, s, last);
                    (1_700_000_000_000 + i as i64 * 15_000 + (rng.next() % 5) as i64, last)
                })
                .collect()
        })
        .collect()
}

fn labels(s: u64) -> Labels {
    Labels::from_pairs([
        ("__name__", format!("node_metric_{}", s % 300)),
        ("job", "node".to_owned()),
        ("instance", format!("10.0.{}.{}:9100", (s / 300) / 250, (s / 300) % 250)),
        ("cpu", (s % 8).to_string()),
    ])
}

fn xor(c: &mut Criterion) {
    let series = scraped_samples(300, 120);
    let total: usize = series.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("xor");
    group.throughput(Throughput::Elements(total as u64));
    group.bench_function("encode_120", |b| {
        b.iter(|| {
            let mut bytes = 0;
            for samples in &series {
                let mut chunk = XorChunk::new();
                for &(t, v) in samples {
                    chunk.append(t, v);
                }
                bytes += chunk.bytes().len();
            }
            bytes
        })
    });
    let chunks: Vec<XorChunk> = series
        .iter()
        .map(|samples| {
            let mut chunk = XorChunk::new();
            for &(t, v) in samples {
                chunk.append(t, v);
            }
            chunk
        })
        .collect();
    let bytes: usize = chunks.iter().map(|c| c.bytes().len()).sum();
    println!("xor: {:.3} bytes/sample on the bench input", bytes as f64 / total as f64);
    group.bench_function("decode_120", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for chunk in &chunks {
                for s in XorIterator::new(chunk.bytes()).unwrap() {
                    sum += s.unwrap().v;
                }
            }
            sum
        })
    });
    group.finish();
}

fn head_append(c: &mut Criterion) {
    const SERIES: u64 = 10_000;
    let mut group = c.benchmark_group("head");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    let refs: Vec<SeriesRef> = (0..SERIES).map(|s| app.append(&labels(s), 1_700_000_000_000, 0.0).unwrap()).collect();
    assert!(app.commit().unwrap().is_empty());
    let mut rng = Rng(7);
    let mut t = 1_700_000_000_000i64;
    let mut last = vec![0.0f64; SERIES as usize];
    // One scrape of 10k series per iteration, through `append_ref` as the scrape loop does.
    group.throughput(Throughput::Elements(SERIES));
    group.bench_function("append_existing_10k_series", |b| {
        b.iter(|| {
            t += 15_000;
            let mut app = db.appender();
            for (i, r) in refs.iter().enumerate() {
                last[i] = value(&mut rng, i as u64, last[i]);
                app.append_ref(*r, t, last[i]);
            }
            app.commit().unwrap().len()
        })
    });
    let mut next = SERIES;
    group.throughput(Throughput::Elements(1000));
    group.bench_function("create_1k_series", |b| {
        b.iter_batched(
            || {
                let batch: Vec<Labels> = (next..next + 1000).map(labels).collect();
                next += 1000;
                batch
            },
            |batch| {
                // Owned, as the scrape loop and the remote-write receiver hand new series over.
                let mut app = db.appender();
                for l in batch {
                    app.append_owned(l, t, 1.0).unwrap();
                }
                app.commit().unwrap().len()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn select(c: &mut Criterion) {
    const SERIES: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut app = db.appender();
    for s in 0..SERIES {
        app.append(&labels(s), 1_700_000_000_000, 1.0).unwrap();
    }
    assert!(app.commit().unwrap().is_empty());
    let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
    let mut group = c.benchmark_group("postings");
    // Intersection of a 333-series metric with one instance (8 series) and a regex over cpus.
    let matchers = [
        m(MatchOp::Equal, "__name__", "node_metric_7"),
        m(MatchOp::Regex, "instance", "10.0.0.1.*"),
        m(MatchOp::NotEqual, "cpu", "3"),
    ];
    let matched = db.querier(0, i64::MAX).select(&matchers).len();
    group.throughput(Throughput::Elements(SERIES));
    group.bench_function("select_3_matchers_100k_series", |b| {
        b.iter(|| db.querier(0, i64::MAX).select(&matchers).len())
    });
    println!("postings: the 3-matcher select returns {matched} series");
    group.finish();
}

fn replay(c: &mut Criterion) {
    const SERIES: u64 = 2_000;
    const STEPS: usize = 250;
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), Options::default()).unwrap();
        let series = scraped_samples(SERIES, STEPS);
        let mut app = db.appender();
        let refs: Vec<SeriesRef> = (0..SERIES)
            .map(|s| app.append(&labels(s), series[s as usize][0].0, series[s as usize][0].1).unwrap())
            .collect();
        assert!(app.commit().unwrap().is_empty());
        for step in 1..STEPS {
            let mut app = db.appender();
            for (r, samples) in refs.iter().zip(&series) {
                let (t, v) = samples[step];
                app.append_ref(*r, t, v);
            }
            assert!(app.commit().unwrap().is_empty());
        }
    }
    // Without chunks_head/, replay rebuilds every sample from the WAL (the worst case).
    std::fs::remove_dir_all(dir.path().join("chunks_head")).unwrap();
    let mut group = c.benchmark_group("wal");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SERIES * STEPS as u64));
    group.bench_function("replay_500k_samples", |b| {
        b.iter_batched(
            || {
                let copy = tempfile::tempdir().unwrap();
                std::fs::create_dir_all(copy.path().join("wal")).unwrap();
                for entry in std::fs::read_dir(dir.path().join("wal")).unwrap() {
                    let entry = entry.unwrap();
                    std::fs::copy(entry.path(), copy.path().join("wal").join(entry.file_name())).unwrap();
                }
                copy
            },
            |copy| {
                let db = Db::open(copy.path(), Options::default()).unwrap();
                assert_eq!(db.replay_stats().samples, SERIES * STEPS as u64);
                (db, copy)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Memory per active series at 1M series with 10 samples each at 15 s (the steady-state
/// shape): the process RSS growth and the head's own estimate, printed; the timed part is the
/// estimate's walk over all series, which `/metrics` pays on every scrape.
fn memory(c: &mut Criterion) {
    const SERIES: u64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let before = rss_bytes();
    let db = Db::open(dir.path(), Options::default()).unwrap();
    let mut refs = Vec::with_capacity(SERIES as usize);
    let t0 = 1_700_000_000_000i64;
    for chunk in (0..SERIES).collect::<Vec<_>>().chunks(10_000) {
        let mut app = db.appender();
        for &s in chunk {
            refs.push(app.append(&labels(s), t0, s as f64).unwrap());
        }
        assert!(app.commit().unwrap().is_empty());
    }
    let mut rng = Rng(3);
    for step in 1..10 {
        for chunk in refs.chunks(10_000) {
            let mut app = db.appender();
            for (i, r) in chunk.iter().enumerate() {
                app.append_ref(*r, t0 + step * 15_000, value(&mut rng, i as u64, step as f64));
            }
            assert!(app.commit().unwrap().is_empty());
        }
    }
    let after = rss_bytes();
    println!(
        "memory: {} series x 10 samples: RSS grew {:.0} bytes/series; head estimate {:.0} bytes/series",
        SERIES,
        after.saturating_sub(before) as f64 / SERIES as f64,
        db.head_bytes_per_series()
    );
    let mut group = c.benchmark_group("memory");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SERIES));
    group.bench_function("head_bytes_per_series_1m_series", |b| b.iter(|| db.head_bytes_per_series()));
    group.finish();
}

// `memory` first: its RSS reading must not include what earlier groups allocated and freed.
criterion_group!(benches, memory, xor, head_append, select, replay);
criterion_main!(benches);
