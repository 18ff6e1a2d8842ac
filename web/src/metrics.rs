//! `/metrics`: promlite's own metrics in the text format, under Prometheus's names where the
//! concept is the same (so existing dashboards and alerts keep working).
//!
//! Process metrics are read from `/proc/self` at scrape time, as client_golang's process
//! collector does; off Linux they are simply absent.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = String::with_capacity(4096);
    write_process(&mut out);
    let head = state.db.head_stats();
    family(
        &mut out,
        "prometheus_build_info",
        "gauge",
        "A metric with a constant '1' value labeled by the Prometheus version promlite answers as.",
    );
    let _ = writeln!(out, "prometheus_build_info{{version=\"{}\"}} 1", crate::PROMETHEUS_COMPATIBLE_VERSION);
    family(
        &mut out,
        "promlite_build_info",
        "gauge",
        "A metric with a constant '1' value labeled by version from which promlite was built.",
    );
    let _ = writeln!(out, "promlite_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"));
    family(
        &mut out,
        "prometheus_ready",
        "gauge",
        "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
    );
    let _ = writeln!(out, "prometheus_ready {}", u8::from(state.ready.load(Ordering::Acquire)));
    family(&mut out, "prometheus_tsdb_head_series", "gauge", "Total number of series in the head block.");
    let _ = writeln!(out, "prometheus_tsdb_head_series {}", head.series);
    family(
        &mut out,
        "prometheus_tsdb_head_series_created_total",
        "counter",
        "Total number of series created in the head",
    );
    let _ = writeln!(out, "prometheus_tsdb_head_series_created_total {}", head.series_created);
    family(&mut out, "prometheus_tsdb_head_samples_appended_total", "counter", "Total number of appended samples.");
    let _ = writeln!(out, "prometheus_tsdb_head_samples_appended_total{{type=\"float\"}} {}", head.samples_appended);
    family(
        &mut out,
        "prometheus_tsdb_out_of_order_samples_total",
        "counter",
        "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
    );
    let _ = writeln!(out, "prometheus_tsdb_out_of_order_samples_total{{type=\"float\"}} {}", head.out_of_order_samples);
    write_tsdb(&mut out, &state.db, &head);
    if head.series > 0 {
        family(&mut out, "prometheus_tsdb_head_min_time", "gauge", "Minimum time bound of the head block.");
        let _ = writeln!(out, "prometheus_tsdb_head_min_time {}", head.min_time);
        family(&mut out, "prometheus_tsdb_head_max_time", "gauge", "Maximum timestamp of the head block.");
        let _ = writeln!(out, "prometheus_tsdb_head_max_time {}", head.max_time);
    }
    state.targets.write_metrics(&mut out);
    state.remote_write.write_metrics(&mut out);
    crate::exposition::single(
        &mut out,
        "prometheus_ready",
        "gauge",
        "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
        u8::from(state.ready.load(std::sync::atomic::Ordering::Acquire)),
    );
    let reloads = &state.config_reloads;
    crate::exposition::single(
        &mut out,
        "prometheus_config_last_reload_successful",
        "gauge",
        "Whether the last configuration reload attempt was successful.",
        u8::from(reloads.successful()),
    );
    let last = reloads.last_success().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    crate::exposition::single(
        &mut out,
        "prometheus_config_last_reload_success_timestamp_seconds",
        "gauge",
        "Timestamp of the last successful configuration reload.",
        last.floor(),
    );
    (state.extra_metrics)(&mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out)
}

/// The rest of the `prometheus_tsdb_*` families (and promlite's own memory estimate).
fn write_tsdb(out: &mut String, db: &promlite_storage::Db, head: &promlite_storage::HeadStats) {
    let replay = db.replay_stats();
    let counters: [(&str, &str, &str, u64); 6] = [
        ("prometheus_tsdb_head_chunks", "gauge", "Total number of chunks in the head block.", head.chunks),
        (
            "prometheus_tsdb_head_chunks_created_total",
            "counter",
            "Total number of chunks created in the head",
            head.chunks_created,
        ),
        (
            "prometheus_tsdb_out_of_bound_samples_total",
            "counter",
            "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
            head.out_of_bound_samples,
        ),
        (
            "prometheus_tsdb_wal_corruptions_total",
            "counter",
            "Total number of WAL corruptions.",
            replay.repairs.len() as u64 + replay.bad_records,
        ),
        (
            "prometheus_tsdb_wal_writes_failed_total",
            "counter",
            "Total number of write log writes that failed.",
            db.wal_write_failures(),
        ),
        (
            "prometheus_tsdb_mmap_chunk_corruptions_total",
            "counter",
            "Total number of memory-mapped chunk corruptions.",
            u64::from(replay.chunk_repair.is_some()),
        ),
    ];
    for (name, kind, help, value) in counters {
        family(out, name, kind, help);
        let _ = writeln!(out, "{name} {value}");
    }
    if let Some(segment) = db.wal_segment_current() {
        family(
            out,
            "prometheus_tsdb_wal_segment_current",
            "gauge",
            "Write log segment index that TSDB is currently writing to.",
        );
        let _ = writeln!(out, "prometheus_tsdb_wal_segment_current {segment}");
    }
    write_compaction(out, db);
    family(out, "prometheus_tsdb_data_replay_duration_seconds", "gauge", "Time taken to replay the data on disk.");
    let _ = writeln!(out, "prometheus_tsdb_data_replay_duration_seconds {}", replay.duration_seconds);
    family(
        out,
        "promlite_tsdb_head_bytes_per_series",
        "gauge",
        "Estimated heap bytes the head holds per series (symbols, postings, series, open chunks).",
    );
    let _ = writeln!(out, "promlite_tsdb_head_bytes_per_series {}", db.head_bytes_per_series());
}

/// Blocks, compaction, truncation and retention (upstream `dbMetrics`, `headMetrics`).
fn write_compaction(out: &mut String, db: &promlite_storage::Db) {
    let m = db.tsdb_metrics();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let counters: [(&str, &str, u64); 16] = [
        (
            "prometheus_tsdb_compactions_total",
            "Total number of compactions that were executed for the partition.",
            load(&m.compactions),
        ),
        (
            "prometheus_tsdb_compactions_failed_total",
            "Total number of compactions that failed for the partition.",
            load(&m.compactions_failed),
        ),
        (
            "prometheus_tsdb_compactions_triggered_total",
            "Total number of triggered compactions for the partition.",
            load(&m.compactions_triggered),
        ),
        (
            "prometheus_tsdb_head_truncations_total",
            "Total number of head truncations attempted.",
            load(&m.head_truncations),
        ),
        (
            "prometheus_tsdb_head_truncations_failed_total",
            "Total number of head truncations that failed.",
            load(&m.head_truncations_failed),
        ),
        (
            "prometheus_tsdb_head_series_removed_total",
            "Total number of series removed in the head",
            load(&m.head_series_removed),
        ),
        (
            "prometheus_tsdb_checkpoint_creations_total",
            "Total number of checkpoint creations attempted.",
            load(&m.checkpoint_creations),
        ),
        (
            "prometheus_tsdb_checkpoint_creations_failed_total",
            "Total number of checkpoint creations that failed.",
            load(&m.checkpoint_creations_failed),
        ),
        (
            "prometheus_tsdb_checkpoint_deletions_total",
            "Total number of checkpoint deletions attempted.",
            load(&m.checkpoint_deletions),
        ),
        (
            "prometheus_tsdb_checkpoint_deletions_failed_total",
            "Total number of checkpoint deletions that failed.",
            load(&m.checkpoint_deletions_failed),
        ),
        (
            "prometheus_tsdb_wal_truncations_total",
            "Total number of write log truncations attempted.",
            load(&m.wal_truncations),
        ),
        (
            "prometheus_tsdb_wal_truncations_failed_total",
            "Total number of write log truncations that failed.",
            load(&m.wal_truncations_failed),
        ),
        (
            "prometheus_tsdb_size_retentions_total",
            "The number of times that blocks were deleted because the maximum number of bytes was exceeded.",
            load(&m.size_retentions),
        ),
        (
            "prometheus_tsdb_time_retentions_total",
            "The number of times that blocks were deleted because the maximum time limit was exceeded.",
            load(&m.time_retentions),
        ),
        (
            "prometheus_tsdb_reloads_failures_total",
            "Number of times the database failed to reloadBlocks block data from disk.",
            load(&m.reload_failures),
        ),
        (
            "promlite_tsdb_blocks_quarantined_total",
            "Blocks moved to quarantine/ because they failed verification at start.",
            load(&m.blocks_quarantined),
        ),
    ];
    for (name, help, value) in counters {
        family(out, name, "counter", help);
        let _ = writeln!(out, "{name} {value}");
    }
    let blocks = db.block_list();
    let gauges: [(&str, &str, f64); 3] = [
        ("prometheus_tsdb_blocks_loaded", "Number of currently loaded data blocks", blocks.len() as f64),
        (
            "prometheus_tsdb_storage_blocks_bytes",
            "The number of bytes that are currently used for local storage by all blocks.",
            blocks.iter().map(|b| b.size_bytes).sum::<u64>() as f64,
        ),
        (
            "prometheus_tsdb_retention_limit_bytes",
            "Max number of bytes to be retained in the tsdb blocks, configured 0 means disabled",
            db.options().retention_bytes as f64,
        ),
    ];
    for (name, help, value) in gauges {
        family(out, name, "gauge", help);
        let _ = writeln!(out, "{name} {value}");
    }
    family(out, "prometheus_tsdb_retention_limit_seconds", "gauge", "How long to retain samples in storage.");
    let _ = writeln!(out, "prometheus_tsdb_retention_limit_seconds {}", db.retention_ms() as f64 / 1000.0);
    if let Some(lowest) = db.lowest_timestamp() {
        family(
            out,
            "prometheus_tsdb_lowest_timestamp",
            "gauge",
            "Lowest timestamp value stored in the database. The unit is decided by the library consumer.",
        );
        let _ = writeln!(out, "prometheus_tsdb_lowest_timestamp {lowest}");
        family(
            out,
            "prometheus_tsdb_lowest_timestamp_seconds",
            "gauge",
            "Lowest timestamp value stored in the database.",
        );
        let _ = writeln!(out, "prometheus_tsdb_lowest_timestamp_seconds {}", lowest / 1000);
    }
    let h = m.compaction_duration.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let name = "prometheus_tsdb_compaction_duration_seconds";
    family(out, name, "histogram", "Duration of compaction runs");
    for (bound, count) in promlite_storage::COMPACTION_DURATION_BUCKETS.iter().zip(h.buckets) {
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {count}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}\n{name}_sum {}\n{name}_count {}", h.count, h.sum, h.count);
}

use crate::exposition::family;

// USER_HZ is 100 on every Linux architecture we build for; the kernel fixes it for userspace.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

fn write_process(out: &mut String) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else { return };
    // Fields after the parenthesised command name, which may itself contain spaces.
    let Some(after) = stat.rsplit_once(')').map(|(_, rest)| rest) else { return };
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // Indices are the proc(5) field numbers minus 3 (pid and comm precede `after`).
    let cpu = (field(11) + field(12)) / CLOCK_TICKS_PER_SEC;
    let start_ticks = field(19);
    let virtual_bytes = field(20);
    family(out, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
    let _ = writeln!(out, "process_cpu_seconds_total {cpu}");
    if let Some(rss_kb) = status_kb("VmRSS:") {
        family(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
        let _ = writeln!(out, "process_resident_memory_bytes {}", rss_kb * 1024);
    }
    family(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    let _ = writeln!(out, "process_virtual_memory_bytes {virtual_bytes}");
    if let Some(boot) = boot_time() {
        family(out, "process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
        let _ = writeln!(out, "process_start_time_seconds {}", boot + start_ticks / CLOCK_TICKS_PER_SEC);
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        family(out, "process_open_fds", "gauge", "Number of open file descriptors.");
        let _ = writeln!(out, "process_open_fds {}", fds.count());
    }
}

fn status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

fn boot_time() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    stat.lines().find_map(|l| l.strip_prefix("btime "))?.trim().parse().ok()
}
