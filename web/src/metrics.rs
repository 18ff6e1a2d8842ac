//! `/metrics`: promlite's own metrics in the text format, under Prometheus's names where the
//! concept is the same (so existing dashboards and alerts keep working). Every family is in the
//! process's one [`Registry`]; this module adds the server's own (HTTP, the PromQL engine, the
//! TSDB, config reloads) and serves them all.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::HttpBody as _;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use promlite_metrics::{
    Collector, Counter, Encoder, Family, Gauge, Histogram, MetricType, Registry, Summary, SummaryOptions,
    exponential_buckets,
};
use promlite_storage::Db;

use crate::AppState;
use crate::api::v1::RemoteWriteReceiver;
use crate::lifecycle::ConfigReloads;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, promlite_metrics::CONTENT_TYPE)], state.registry.encode())
}

/// The families of the HTTP server and the PromQL engine, updated by the handlers.
pub struct ServerMetrics {
    http_requests: Family<Counter>,
    http_duration: Family<Histogram>,
    http_response_size: Family<Histogram>,
    queries: Arc<Gauge>,
    queue_time: Arc<Summary>,
    prepare_time: Arc<Summary>,
    inner_eval: Arc<Summary>,
    result_sort: Arc<Summary>,
    query_samples: Arc<Counter>,
    query_samples_read: Arc<Counter>,
}

impl ServerMetrics {
    /// Registers the server's families in `registry`; `max_concurrency` is
    /// `--query.max-concurrency`, which `prometheus_engine_queries_concurrent_max` reports.
    pub fn new(registry: &Registry, max_concurrency: usize) -> Self {
        let http_requests =
            registry.family("prometheus_http_requests_total", "Counter of HTTP requests.", &["handler", "code"], ());
        let http_duration = registry.family(
            "prometheus_http_request_duration_seconds",
            "Histogram of latencies for HTTP requests.",
            &["handler"],
            Arc::from([0.1, 0.2, 0.4, 1.0, 3.0, 8.0, 20.0, 60.0, 120.0]),
        );
        let http_response_size = registry.family(
            "prometheus_http_response_size_bytes",
            "Histogram of response size for HTTP requests.",
            &["handler"],
            exponential_buckets(100.0, 10.0, 8),
        );
        let queries =
            registry.gauge("prometheus_engine_queries", "The current number of queries being executed or waiting.");
        registry
            .gauge("prometheus_engine_queries_concurrent_max", "The max number of concurrent queries.")
            .set(max_concurrency as f64);
        // promlite has no query log (`--query.active-query-tracker` state is not kept either).
        registry.gauge("prometheus_engine_query_log_enabled", "State of the query log.");
        registry.counter("prometheus_engine_query_log_failures_total", "The number of query log failures.");
        // Prometheus 3.13 on (promql/engine.go).
        let query_samples = registry.counter(
            "prometheus_engine_query_samples_total",
            "The total number of samples loaded by all queries (full window per step for range-vector).",
        );
        let query_samples_read = registry.counter(
            "prometheus_engine_query_samples_read_total",
            "The total number of samples read by all queries (only new points per step for range-vector).",
        );
        let timings: Family<Summary> = registry.family(
            "prometheus_engine_query_duration_seconds",
            "Query timings",
            &["slice"],
            SummaryOptions::quantiles(&[0.5, 0.9, 0.99]),
        );
        Self {
            http_requests,
            http_duration,
            http_response_size,
            queries,
            queue_time: timings.with(&["queue_time"]),
            prepare_time: timings.with(&["prepare_time"]),
            inner_eval: timings.with(&["inner_eval"]),
            result_sort: timings.with(&["result_sort"]),
            query_samples,
            query_samples_read,
        }
    }

    /// Counts a query from its arrival (waiting for a slot included) until the returned guard
    /// is dropped, for `prometheus_engine_queries`.
    pub(crate) fn query_started(&self) -> QueryInFlight {
        self.queries.inc();
        QueryInFlight(Arc::clone(&self.queries))
    }

    /// Records a finished query's time waiting for a slot, the engine's timings and the
    /// samples it loaded and read.
    pub(crate) fn observe_query(&self, queued: Duration, result: &promlite_promql::QueryResult) {
        let timings = &result.timings;
        self.query_samples.inc_by(result.samples.total as f64);
        self.query_samples_read.inc_by(result.samples.read as f64);
        self.queue_time.observe(queued.as_secs_f64());
        self.prepare_time.observe(timings.prepare.as_secs_f64());
        self.inner_eval.observe(timings.inner_eval.as_secs_f64());
        self.result_sort.observe(timings.result_sort.as_secs_f64());
    }
}

/// One query in flight; dropping it counts the query as done.
pub(crate) struct QueryInFlight(Arc<Gauge>);

impl Drop for QueryInFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Middleware counting each request by route, as Prometheus instruments each of its handlers:
/// the `handler` label is the route pattern without `--web.route-prefix` (`/api/v1/query`,
/// `/api/v1/label/:name/values`). Requests no route matched are not counted, as in Prometheus.
pub(crate) async fn instrument(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(path) = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()) else {
        return next.run(request).await;
    };
    let handler = handler_name(&path, &state.options.route_prefix);
    let started = Instant::now();
    let response = next.run(request).await;
    let metrics = &state.metrics;
    let code = response.status().as_u16().to_string();
    metrics.http_requests.with(&[&handler, &code]).inc();
    metrics.http_duration.with(&[&handler]).observe(started.elapsed().as_secs_f64());
    // The body's size as far as it is known before it is sent (streamed bodies: what is known).
    let hint = response.body().size_hint();
    metrics.http_response_size.with(&[&handler]).observe(hint.exact().unwrap_or(hint.lower()) as f64);
    response
}

/// axum's `/api/v1/label/{name}/values` in Prometheus's spelling, `/api/v1/label/:name/values`.
fn handler_name(path: &str, route_prefix: &str) -> String {
    let path = path.strip_prefix(route_prefix).filter(|p| p.starts_with('/')).unwrap_or(path);
    let mut out = String::with_capacity(path.len());
    for part in path.split_inclusive('/') {
        match part.strip_prefix('{') {
            Some(rest) => {
                out.push(':');
                out.push_str(&rest.replace('}', ""));
            }
            None => out.push_str(part),
        }
    }
    out
}

/// The TSDB's, the config reloads' and the remote-write receiver's families, read at scrape
/// time from the state that owns them.
pub struct StateCollector {
    db: Db,
    ready: Arc<AtomicBool>,
    config_reloads: Arc<ConfigReloads>,
    remote_write: Arc<RemoteWriteReceiver>,
}

impl StateCollector {
    /// The collector of `state`'s TSDB, readiness, reloads and remote-write receiver.
    pub fn new(state: &AppState) -> Self {
        Self {
            db: state.db.clone(),
            ready: Arc::clone(&state.ready),
            config_reloads: Arc::clone(&state.config_reloads),
            remote_write: Arc::clone(&state.remote_write),
        }
    }
}

impl Collector for StateCollector {
    fn collect(&self, enc: &mut Encoder) {
        enc.family(
            "prometheus_build_info",
            "A metric with a constant '1' value labeled by the Prometheus version promlite answers as.",
            MetricType::Gauge,
        )
        .sample(
            &[
                ("branch", ""),
                ("goarch", go_arch()),
                ("goos", std::env::consts::OS),
                // Not built with Go; empty, as `/api/v1/status/buildinfo`'s goVersion.
                ("goversion", ""),
                ("revision", ""),
                ("tags", ""),
                ("version", crate::PROMETHEUS_COMPATIBLE_VERSION),
            ],
            1u64,
        );
        enc.family(
            "promlite_build_info",
            "A metric with a constant '1' value labeled by version from which promlite was built.",
            MetricType::Gauge,
        )
        .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1u64);
        enc.single(
            "prometheus_ready",
            "Whether Prometheus startup was fully completed and the server is ready for normal operation.",
            MetricType::Gauge,
            self.ready.load(Ordering::Acquire),
        );
        let reloads = &self.config_reloads;
        enc.single(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            MetricType::Gauge,
            reloads.successful(),
        );
        let last = reloads.last_success().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
        enc.single(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            MetricType::Gauge,
            last.floor(),
        );
        write_head(enc, &self.db);
        write_tsdb(enc, &self.db);
        self.remote_write.collect(enc);
    }
}

/// This machine's architecture as Go's GOARCH names it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

fn write_head(enc: &mut Encoder, db: &Db) {
    let head = db.head_stats();
    enc.single(
        "prometheus_tsdb_head_series",
        "Total number of series in the head block.",
        MetricType::Gauge,
        head.series,
    );
    enc.single(
        "prometheus_tsdb_head_series_created_total",
        "Total number of series created in the head",
        MetricType::Counter,
        head.series_created,
    );
    enc.family("prometheus_tsdb_head_samples_appended_total", "Total number of appended samples.", MetricType::Counter)
        .sample(&[("type", "float")], head.samples_appended);
    enc.family(
        "prometheus_tsdb_out_of_order_samples_total",
        "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
        MetricType::Counter,
    )
    .sample(&[("type", "float")], head.out_of_order_samples);
    enc.single(
        "prometheus_tsdb_head_chunks",
        "Total number of chunks in the head block.",
        MetricType::Gauge,
        head.chunks,
    );
    enc.single(
        "prometheus_tsdb_head_chunks_created_total",
        "Total number of chunks created in the head",
        MetricType::Counter,
        head.chunks_created,
    );
    enc.single(
        "prometheus_tsdb_out_of_bound_samples_total",
        "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
        MetricType::Counter,
        head.out_of_bound_samples,
    );
    if head.series > 0 {
        enc.single(
            "prometheus_tsdb_head_min_time",
            "Minimum time bound of the head block.",
            MetricType::Gauge,
            head.min_time,
        );
        enc.single(
            "prometheus_tsdb_head_max_time",
            "Maximum timestamp of the head block.",
            MetricType::Gauge,
            head.max_time,
        );
        let help = "Minimum time bound of the head block.";
        enc.single("prometheus_tsdb_head_min_time_seconds", help, MetricType::Gauge, head.min_time as f64 / 1000.0);
        let help = "Maximum timestamp of the head block.";
        enc.single("prometheus_tsdb_head_max_time_seconds", help, MetricType::Gauge, head.max_time as f64 / 1000.0);
    }
}

/// The rest of the `prometheus_tsdb_*` families (upstream `dbMetrics`, `headMetrics`, WAL
/// metrics), and promlite's own memory estimate.
fn write_tsdb(enc: &mut Encoder, db: &Db) {
    let replay = db.replay_stats();
    let m = db.tsdb_metrics();
    let load = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let counters: [(&str, &str, u64); 19] = [
        (
            "prometheus_tsdb_wal_corruptions_total",
            "Total number of WAL corruptions.",
            replay.repairs.len() as u64 + replay.bad_records,
        ),
        (
            "prometheus_tsdb_wal_writes_failed_total",
            "Total number of write log writes that failed.",
            db.wal_write_failures(),
        ),
        (
            "prometheus_tsdb_mmap_chunk_corruptions_total",
            "Total number of memory-mapped chunk corruptions.",
            u64::from(replay.chunk_repair.is_some()),
        ),
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
        enc.single(name, help, MetricType::Counter, value);
    }
    let help = "-1: lockfile is disabled. 0: a lockfile from a previous execution was replaced. 1: lockfile creation was clean";
    enc.single("prometheus_tsdb_clean_start", help, MetricType::Gauge, f64::from(db.clean_start()));
    if let Some(segment) = db.wal_segment_current() {
        let help = "Write log segment index that TSDB is currently writing to.";
        enc.single("prometheus_tsdb_wal_segment_current", help, MetricType::Gauge, segment);
    }
    let blocks = db.block_list();
    let gauges: [(&str, &str, f64); 5] = [
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
        (
            "prometheus_tsdb_retention_limit_seconds",
            "How long to retain samples in storage.",
            db.retention_ms() as f64 / 1000.0,
        ),
        (
            "prometheus_tsdb_data_replay_duration_seconds",
            "Time taken to replay the data on disk.",
            replay.duration_seconds,
        ),
    ];
    for (name, help, value) in gauges {
        enc.single(name, help, MetricType::Gauge, value);
    }
    if let Some(lowest) = db.lowest_timestamp() {
        let help = "Lowest timestamp value stored in the database. The unit is decided by the library consumer.";
        enc.single("prometheus_tsdb_lowest_timestamp", help, MetricType::Gauge, lowest);
        let help = "Lowest timestamp value stored in the database.";
        enc.single("prometheus_tsdb_lowest_timestamp_seconds", help, MetricType::Gauge, lowest / 1000);
    }
    let h = m.compaction_duration.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    let snapshot = promlite_metrics::HistogramSnapshot {
        bounds: promlite_storage::COMPACTION_DURATION_BUCKETS.to_vec(),
        // The storage histogram counts cumulatively already.
        counts: h.buckets.iter().scan(0, |before, c| Some(c - std::mem::replace(before, *c))).collect(),
        count: h.count,
        sum: h.sum,
    };
    enc.family("prometheus_tsdb_compaction_duration_seconds", "Duration of compaction runs", MetricType::Histogram)
        .histogram(&[], &snapshot);
    let help = "Estimated heap bytes the head holds per series (symbols, postings, series, open chunks).";
    enc.single("promlite_tsdb_head_bytes_per_series", help, MetricType::Gauge, db.head_bytes_per_series());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handlers_are_named_as_prometheus_names_its_routes() {
        assert_eq!(handler_name("/api/v1/query", ""), "/api/v1/query");
        assert_eq!(handler_name("/api/v1/label/{name}/values", ""), "/api/v1/label/:name/values");
        assert_eq!(handler_name("/prom/api/v1/query", "/prom"), "/api/v1/query");
        assert_eq!(handler_name("/prometheus", "/prom"), "/prometheus");
    }
}
