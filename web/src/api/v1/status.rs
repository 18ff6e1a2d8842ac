//! `/api/v1/status/*`: build info, flags, the running config (secrets already redacted by the
//! config module), runtime info, TSDB cardinality (`tsdb`) and WAL replay progress (`walreplay`).

use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::envelope::success;
use super::time::format_rfc3339;
use super::{ApiError, Params};
use crate::AppState;

pub(crate) async fn buildinfo() -> Response {
    success(
        &json!({
            "version": crate::PROMETHEUS_COMPATIBLE_VERSION,
            "promliteVersion": env!("CARGO_PKG_VERSION"),
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        }),
        &[],
    )
}

pub(crate) async fn flags(State(state): State<AppState>) -> Response {
    let flags: Map<String, Value> =
        state.options.flags.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    success(&flags, &[])
}

pub(crate) async fn config(State(state): State<AppState>) -> Response {
    let yaml = state.config_yaml.read().expect("config lock").clone();
    success(&json!({ "yaml": yaml }), &[])
}

/// What retention is in force, as upstream's runtimeinfo says it: "15d", "10GiB", or
/// "10GiB or 15d".
fn storage_retention(db: &promlite_storage::Db) -> String {
    let time = match db.retention_ms() {
        0 => None,
        ms => Some(prometheus_duration(ms)),
    };
    let size = match db.options().retention_bytes {
        0 => None,
        bytes => Some(base2_bytes(bytes)),
    };
    match (size, time) {
        (Some(size), Some(time)) => format!("{size} or {time}"),
        (Some(size), None) => size,
        (None, Some(time)) => time,
        (None, None) => String::new(),
    }
}

/// Milliseconds as Prometheus prints a duration, e.g. "15d", "2w", "1h30m", "500ms"
/// (upstream `model.Duration.String`).
fn prometheus_duration(ms: i64) -> String {
    // Years and weeks only when they divide the rest exactly ("90d", not "12w6d"), as upstream.
    const UNITS: [(&str, i64, bool); 7] = [
        ("y", 365 * 24 * 3_600_000, true),
        ("w", 7 * 24 * 3_600_000, true),
        ("d", 24 * 3_600_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ];
    let mut rest = ms;
    let mut out = String::new();
    for (unit, size, exact) in UNITS {
        if rest >= size && !(exact && rest % size != 0) {
            out.push_str(&format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    if out.is_empty() { "0s".to_owned() } else { out }
}

/// Bytes as Go's `units.Base2Bytes` prints them: the largest binary unit that divides them
/// ("10GiB", "512MiB", "1000B").
fn base2_bytes(bytes: u64) -> String {
    const UNITS: [(&str, u64); 6] =
        [("EiB", 1 << 60), ("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

pub(crate) async fn runtimeinfo(State(state): State<AppState>) -> Response {
    let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
    success(
        &json!({
            "startTime": format_rfc3339(Some(state.start_time)),
            "CWD": cwd,
            "reloadConfigSuccess": state.config_reloads.successful(),
            "lastConfigTime": format_rfc3339(Some(state.config_reloads.last_success())),
            "corruptionCount": 0,
            "goroutineCount": 0,
            "GOMAXPROCS": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "GOMEMLIMIT": i64::MAX,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": storage_retention(&state.db),
        }),
        &[],
    )
}

/// `/api/v1/status/tsdb`: head stats and the top `limit` (default 10) of each cardinality list,
/// shaped as upstream's `TSDBStatus`.
pub(crate) async fn tsdb(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let limit = match params.get("limit") {
        None => 10,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if limit > 0 => limit,
            _ => return Err(ApiError::BadData("limit must be a positive number".to_owned())),
        },
    };
    let db = state.db.clone();
    let status = tokio::task::spawn_blocking(move || db.tsdb_status(limit))
        .await
        .map_err(|err| ApiError::Internal(format!("computing TSDB status: {err}")))?;
    let list = |items: &[(String, u64)]| -> Value {
        Value::Array(items.iter().map(|(name, value)| json!({ "name": name, "value": value })).collect())
    };
    Ok(success(
        &json!({
            "headStats": {
                "numSeries": status.num_series,
                "numLabelPairs": status.num_label_pairs,
                "chunkCount": status.chunk_count,
                "minTime": status.min_time,
                "maxTime": status.max_time,
            },
            "seriesCountByMetricName": list(&status.series_count_by_metric_name),
            "labelValueCountByLabelName": list(&status.label_value_count_by_label_name),
            "memoryInBytesByLabelName": list(&status.memory_in_bytes_by_label_name),
            "seriesCountByLabelValuePair": list(&status.series_count_by_label_value_pair),
        }),
        &[],
    ))
}

/// `/api/v1/status/walreplay`: segments of the replay at open (finished once the server is up,
/// since `Db::open` replays before the HTTP server starts).
pub(crate) async fn walreplay(State(state): State<AppState>) -> Response {
    use std::sync::atomic::Ordering::Relaxed;
    let progress = state.db.replay_progress();
    success(
        &json!({
            "min": progress.min.load(Relaxed),
            "max": progress.max.load(Relaxed),
            "current": progress.current.load(Relaxed),
        }),
        &[],
    )
}
