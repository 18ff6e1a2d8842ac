//! Heap a range query holds, measured with a counting allocator (not a timing benchmark).
//!
//! 10k series scraped every 15s for 24h (`QM_SERIES`, `QM_HOURS` change that), compacted as
//! the server would (2h blocks on disk, the last hours in the head), then `query_range` over
//! the whole day at a 60s step. For each query it prints the heap in use before, the peak
//! while it ran, what the result holds, and the samples the query read, so the peak can be
//! set against its output and against the input decoded whole (16 bytes per sample); and the
//! peak of instant queries at the end, per selected series.
//! Run: `cargo bench --bench query_memory`. Figures go to BENCHMARKS.md.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use promlite_promql::{Engine, EngineOptions, Value};
use promlite_storage::{Db, Labels, Options};

/// The system allocator, counting the bytes in use and the most ever in use.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = IN_USE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        IN_USE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            if new_size >= layout.size() {
                let now = IN_USE.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                IN_USE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const INTERVAL_MS: i64 = 15_000;
const STEP_MS: i64 = 60_000;

fn env(name: &str, default: i64) -> i64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported here.
    let series_count = env("QM_SERIES", 10_000) as usize;
    let hours = env("QM_HOURS", 24);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path(), Options::default()).expect("open db");
    let series: Vec<Labels> = (0..series_count)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", "http_requests_total".to_owned()),
                ("instance", format!("node-{}", i % 100)),
                ("pod", format!("pod-{i}")),
            ])
        })
        .collect();
    let started = Instant::now();
    let intervals = hours * 3_600_000 / INTERVAL_MS;
    for k in 0..intervals {
        let mut app = db.appender();
        for (i, labels) in series.iter().enumerate() {
            // A counter with a little jitter, as real ones have.
            let v = (k * (1 + i as i64 % 7)) as f64 + ((k * 31 + i as i64) % 5) as f64 * 0.25;
            app.append(labels, k * INTERVAL_MS, v).expect("append");
        }
        app.commit().expect("commit");
    }
    db.compact().expect("compact");
    let blocks = db.block_list();
    println!(
        "loaded {} series × {} samples in {:.1?}: {} blocks, head from {} ms",
        series_count,
        intervals,
        started.elapsed(),
        blocks.len(),
        db.head_stats().min_time
    );
    let engine = Engine::new(EngineOptions::default());
    let end = (intervals - 1) * INTERVAL_MS;
    let start = end - (hours - 1) * 3_600_000;
    // Instant queries at the end: one step reading each series' newest samples only.
    for query in ["count(http_requests_total)", "sum(rate(http_requests_total[5m]))"] {
        let before = IN_USE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let started = Instant::now();
        let result = engine.instant_query(&db, query, end).expect("query");
        let took = started.elapsed();
        let peak = PEAK.load(Ordering::Relaxed) - before;
        drop(result);
        println!(
            "instant {query}: peak {:.1} MiB = {:.0} B per series, {took:.1?}",
            mib(peak),
            peak as f64 / series_count as f64
        );
    }
    for query in ["http_requests_total", "rate(http_requests_total[5m])", "sum(rate(http_requests_total[5m]))"] {
        let before = IN_USE.load(Ordering::Relaxed);
        PEAK.store(before, Ordering::Relaxed);
        let started = Instant::now();
        let result = engine.range_query(&db, query, start, end, STEP_MS).expect("query");
        let took = started.elapsed();
        let peak = PEAK.load(Ordering::Relaxed) - before;
        let held = IN_USE.load(Ordering::Relaxed) - before;
        let (out_series, out_points) = match &result.value {
            Value::Matrix(m) => (m.len(), m.iter().map(|s| s.samples.len()).sum::<usize>()),
            _ => (0, 0),
        };
        drop(result);
        let read = series_count as i64 * ((end - start + 300_000) / INTERVAL_MS + 1);
        println!(
            "{query}: peak {:.1} MiB, result holds {:.1} MiB ({out_series} series, {out_points} points), \
             input read {read} samples = {:.1} MiB decoded whole, {took:.1?}",
            mib(peak),
            mib(held),
            mib(read as usize * 16),
        );
    }
}
