//! `/api/v1/query` and `/api/v1/query_range`: parameters checked as Prometheus checks them, the
//! query run on the blocking pool, the result written as Prometheus's JSON.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::extract::State;
use axum::response::Response;
use promlite_promql::{Engine, QueryOptions, QueryResult, Value};
use promlite_storage::Labels;

use super::envelope::success_raw;
use super::json;
use super::time::{limit_param, parse_duration, parse_time, time_param, write_timestamp, write_value};
use super::{ApiError, Params};
use crate::AppState;

/// Prometheus refuses range queries with more points than this per series.
const MAX_POINTS: i64 = 11_000;

fn now_ms() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A required time of a range query (upstream reads it with `parseTime`, so an absent one is
/// `""`, which does not parse).
fn required_time(params: &Params, name: &str) -> Result<i64, ApiError> {
    parse_time(params.get(name).unwrap_or(""))
        .map_err(|err| ApiError::BadData(format!("invalid parameter {name:?}: {err}")))
}

// Parameters are checked in upstream's order (`query`, `queryRange`), so that a request with
// several bad ones gets the same complaint.

pub(crate) async fn instant(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let limit = limit_param(&params)?;
    let time = time_param(&params, "time", now_ms())?;
    let engine = engine_for(&state, &params)?;
    let options = query_options(&params)?;
    let query = params.get("query").unwrap_or("").to_owned();
    let result = run(&state, engine, move |engine, db| engine.instant_query_with(db, &query, time, &options)).await?;
    Ok(respond(result, limit, params.get("stats")))
}

pub(crate) async fn range(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let limit = limit_param(&params)?;
    let start = required_time(&params, "start")?;
    let end = required_time(&params, "end")?;
    if end < start {
        return Err(ApiError::BadData(
            "invalid parameter \"end\": end timestamp must not be before start time".to_owned(),
        ));
    }
    let step = parse_duration(params.get("step").unwrap_or(""))
        .map_err(|err| ApiError::BadData(format!("invalid parameter \"step\": {err}")))?;
    if step <= 0 {
        return Err(ApiError::BadData(
            "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer".to_owned(),
        ));
    }
    if (end - start) / step > MAX_POINTS {
        return Err(ApiError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".to_owned(),
        ));
    }
    let engine = engine_for(&state, &params)?;
    let options = query_options(&params)?;
    let query = params.get("query").unwrap_or("").to_owned();
    let result =
        run(&state, engine, move |engine, db| engine.range_query_with(db, &query, start, end, step, &options)).await?;
    Ok(respond(result, limit, params.get("stats")))
}

fn duration_param(params: &Params, name: &str) -> Result<Option<i64>, ApiError> {
    params
        .get(name)
        .map(|text| parse_duration(text).map_err(|err| ApiError::BadData(format!("invalid parameter {name:?}: {err}"))))
        .transpose()
}

/// The per-query settings Prometheus reads from the request: `lookback_delta`, whose error
/// names no parameter (upstream `extractQueryOpts`).
fn query_options(params: &Params) -> Result<QueryOptions, ApiError> {
    let lookback = params
        .get("lookback_delta")
        .map(|text| {
            parse_duration(text)
                .map_err(|err| ApiError::BadData(format!("error parsing lookback delta duration: {err}")))
        })
        .transpose()?;
    Ok(QueryOptions { lookback_delta_ms: lookback })
}

/// The engine for one request: the server's, or a copy whose timeout is the request's `timeout`
/// when that is shorter (as Prometheus bounds the query context by both).
fn engine_for(state: &AppState, params: &Params) -> Result<Arc<Engine>, ApiError> {
    let Some(timeout_ms) = duration_param(params, "timeout")? else { return Ok(Arc::clone(&state.engine)) };
    let requested = std::time::Duration::from_millis(timeout_ms.max(0) as u64);
    let mut options = state.engine.options().clone();
    if requested >= options.timeout {
        return Ok(Arc::clone(&state.engine));
    }
    options.timeout = requested;
    Ok(Arc::new(Engine::new(options)))
}

/// Queries that take at least this long are followed by a malloc trim.
const TRIM_AFTER: std::time::Duration = std::time::Duration::from_millis(100);

/// A query's result and how long it waited for a query slot (`execQueueTime`).
struct Ran {
    result: QueryResult,
    queued: Duration,
}

async fn run<F>(state: &AppState, engine: Arc<Engine>, query: F) -> Result<Ran, ApiError>
where
    F: FnOnce(&promlite_promql::Engine, &promlite_storage::Db) -> Result<QueryResult, promlite_promql::QueryError>
        + Send
        + 'static,
{
    super::ensure_ready(state)?;
    let _in_flight = state.metrics.query_started();
    let arrived = std::time::Instant::now();
    let _slot = state.query_slots.acquire().await.map_err(|_| ApiError::Internal("query slots closed".to_owned()))?;
    let db = state.db.clone();
    let started = std::time::Instant::now();
    let result = tokio::task::spawn_blocking(move || query(&engine, &db))
        .await
        .map_err(|err| ApiError::Internal(format!("query task failed: {err}")))?;
    if let Ok(result) = &result {
        state.metrics.observe_query(started - arrived, result);
    }
    // A query that ran this long decoded a lot; what it freed goes back to the OS instead of
    // staying in the thread's malloc arena (the answer itself is still held, and small).
    if started.elapsed() >= TRIM_AFTER {
        tokio::task::spawn_blocking(promlite_storage::release_free_memory);
    }
    result.map(|result| Ran { result, queued: started - arrived }).map_err(query_error)
}

/// Upstream's `NewInstantQuery`/`NewRangeQuery` refuse a query that does not parse or has the
/// wrong type, and the API says so as a bad `query` parameter (`invalidParamError`); errors
/// while running keep their own type and text. Every `bad_data` the engine returns is of the
/// first kind: the API checks times and steps itself before the engine sees them.
fn query_error(err: promlite_promql::QueryError) -> ApiError {
    match err.error_type() {
        "bad_data" => ApiError::BadData(format!("invalid parameter \"query\": {err}")),
        _ => ApiError::from(err),
    }
}

/// The answer; with the `stats` object when the request has a non-empty `stats` parameter,
/// as upstream's default stats renderer gives it for any value. Values other than `true` and
/// `all` are deprecated in Prometheus 3 and get its warning. `all` would add per-step counts,
/// which upstream gives only with `--enable-feature=promql-per-step-stats` (promlite has no
/// such flag), so it answers as `true` does.
/// A `limit` above 0 keeps that many samples of a vector or series of a matrix, and says so
/// (upstream `truncateResults`).
fn respond(mut ran: Ran, limit: usize, stats: Option<&str>) -> Response {
    let truncated = match &mut ran.result.value {
        Value::Vector(samples) if limit > 0 && samples.len() > limit => {
            samples.truncate(limit);
            true
        }
        Value::Matrix(series) if limit > 0 && series.len() > limit => {
            series.truncate(limit);
            true
        }
        _ => false,
    };
    if truncated {
        ran.result.warnings.push("results truncated due to limit".to_owned());
    }
    if let Some(value) = stats.filter(|v| *v != "true" && *v != "all") {
        ran.result.warnings.push(format!(
            "value {} for parameter \"stats\" is deprecated and will be rejected in the next major release, use \"true\" or \"all\"",
            promlite_promql::go_quote(value)
        ));
    }
    let mut data = String::with_capacity(256);
    data.push('{');
    encode_value(&mut data, &ran.result.value);
    if stats.is_some() {
        encode_stats(&mut data, &ran);
    }
    data.push('}');
    success_raw(&data, &ran.result.warnings, &ran.result.infos)
}

/// Seconds as Go's `Duration.Seconds` gives them: whole seconds plus nanoseconds over 1e9.
fn seconds(d: Duration) -> f64 {
    d.as_secs() as f64 + f64::from(d.subsec_nanos()) / 1e9
}

/// `,"stats":{...}`: upstream's `stats.BuiltinStats`, keys in its field order. Evaluation is
/// opening the querier, evaluating and sorting; the whole execution adds the wait for a slot.
fn encode_stats(out: &mut String, ran: &Ran) {
    let timings = &ran.result.timings;
    let eval = timings.prepare + timings.inner_eval + timings.result_sort;
    let fields = [
        ("evalTotalTime", eval),
        ("resultSortTime", timings.result_sort),
        ("queryPreparationTime", timings.prepare),
        ("innerEvalTime", timings.inner_eval),
        ("execQueueTime", ran.queued),
        ("execTotalTime", ran.queued + eval),
    ];
    out.push_str(r#","stats":{"timings":{"#);
    for (i, (name, duration)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{name}\":");
        json::write_float(out, seconds(*duration));
    }
    let samples = &ran.result.samples;
    let _ = write!(
        out,
        r#"}},"samples":{{"totalQueryableSamples":{},"samplesRead":{},"peakSamples":{}}}}}"#,
        samples.total, samples.read, samples.peak
    );
}

fn encode_value(out: &mut String, value: &Value) {
    let result_type = match value {
        Value::Scalar { .. } => "scalar",
        Value::String { .. } => "string",
        Value::Vector(_) => "vector",
        Value::Matrix(_) => "matrix",
    };
    let _ = write!(out, r#""resultType":"{result_type}","result":"#);
    match value {
        // Scalars and strings are Go's `json.Marshal([t/1000, v])` (promql/value.go): the time
        // as a float64 JSON number, a scalar in Go's 'f' form, unlike samples' points.
        Value::Scalar { t, v } => {
            let _ = write!(out, "[{},\"{}\"]", *t as f64 / 1000.0, promlite_storage::format_go_f(*v));
        }
        Value::String { t, s } => {
            out.push('[');
            let _ = write!(out, "{}", *t as f64 / 1000.0);
            out.push(',');
            json::write_string(out, s);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, sample) in samples.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                encode_labels(out, &sample.labels);
                out.push_str(r#","value":"#);
                encode_point(out, sample.t, sample.v);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, series) in series.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                encode_labels(out, &series.labels);
                out.push_str(r#","values":["#);
                for (j, sample) in series.samples.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    encode_point(out, sample.t, sample.v);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
}

fn encode_point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    write_timestamp(out, t);
    out.push(',');
    write_value(out, v);
    out.push(']');
}

/// Labels as a JSON object in label order.
pub(crate) fn encode_labels(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        json::write_string(out, &label.name);
        out.push(':');
        json::write_string(out, &label.value);
    }
    out.push('}');
}
