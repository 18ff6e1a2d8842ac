//! The TSDB admin endpoints (upstream `web/api/v1/api.go`: `deleteSeries`, `cleanTombstones`,
//! `snapshot`; `docs/querying/api.md`, "TSDB Admin APIs"), POST or PUT.
//!
//! Without `--web.enable-admin-api` each answers "admin APIs disabled", as Prometheus does.
//! With it, `delete_series` and `clean_tombstones` answer 204 No Content and `snapshot` the
//! name of the directory it made under `<data dir>/snapshots/`. The storage work (rewriting
//! blocks, writing the head as a block) runs on the blocking pool; a storage failure is an
//! internal error, logged once where the envelope is built.

use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use promlite_storage::AdminError;
use serde_json::json;

use super::envelope::success;
use super::time::time_param;
use super::{ApiError, Params};
use crate::AppState;

/// Readiness first, as upstream's readiness gate sits in front of every API handler.
fn enabled(state: &AppState) -> Result<(), ApiError> {
    super::ensure_ready(state)?;
    if !state.options.enable_admin_api {
        return Err(ApiError::Unavailable("admin APIs disabled".to_owned()));
    }
    Ok(())
}

/// Runs `work` on the blocking pool; its error is upstream's `errorInternal`, with `context`
/// before it when upstream adds one.
async fn blocking<T: Send + 'static>(
    context: &str,
    work: impl FnOnce() -> Result<T, AdminError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(ApiError::Internal(format!("{context}{err}"))),
        Err(err) => Err(ApiError::Internal(format!("{context}{err}"))),
    }
}

/// `POST|PUT /api/v1/admin/tsdb/delete_series`: `match[]` (at least one), `start` and `end`
/// (the whole time range by default; each series' tombstone is clamped to its samples anyway).
pub(crate) async fn delete_series(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    enabled(&state)?;
    let selectors = params.all("match[]");
    if selectors.is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".to_owned()));
    }
    let start = time_param(&params, "start", i64::MIN)?;
    let end = time_param(&params, "end", i64::MAX)?;
    // All parsed before any is deleted: a bad selector deletes nothing (upstream deletes
    // those before it).
    let mut matcher_sets = Vec::with_capacity(selectors.len());
    for selector in selectors {
        let matchers = promlite_promql::parse_matchers(selector)
            .map_err(|err| ApiError::BadData(format!("invalid parameter \"match[]\": {err}")))?;
        matcher_sets.push(matchers);
    }
    let db = state.db.clone();
    blocking("", move || matcher_sets.iter().try_for_each(|matchers| db.delete_series(start, end, matchers))).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST|PUT /api/v1/admin/tsdb/clean_tombstones`: no parameters.
pub(crate) async fn clean_tombstones(State(state): State<AppState>) -> Result<Response, ApiError> {
    enabled(&state)?;
    let db = state.db.clone();
    blocking("", move || db.clean_tombstones()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST|PUT /api/v1/admin/tsdb/snapshot`: `skip_head` (Go's `strconv.ParseBool`) leaves out
/// what only the head holds.
pub(crate) async fn snapshot(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    enabled(&state)?;
    let skip_head = match params.get("skip_head") {
        None => false,
        Some(text) => parse_bool(text).ok_or_else(|| {
            ApiError::BadData(format!(
                "invalid parameter \"skip_head\": unable to parse boolean: strconv.ParseBool: parsing {text:?}: invalid syntax"
            ))
        })?,
    };
    let name = snapshot_name(SystemTime::now());
    let dir = state.db.dir().join("snapshots").join(&name);
    let db = state.db.clone();
    blocking("create snapshot: ", move || db.snapshot(&dir, !skip_head)).await?;
    Ok(success(&json!({ "name": name }), &[]))
}

/// Go's `strconv.ParseBool`.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Upstream's `<YYYYMMDDTHHMMSSZ>-<16 hex digits>`: the UTC time, then 63 random bits (Go's
/// `rand.Int63`), here from std's randomly keyed hasher: the name has to be unique, not secret.
fn snapshot_name(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let stamp: String = promlite_promql::calendar::format_date_time(since.as_secs() as i64)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let mut hasher = std::hash::RandomState::new().build_hasher();
    hasher.write_u128(since.as_nanos());
    hasher.write_u32(std::process::id());
    format!("{stamp}Z-{:016x}", hasher.finish() >> 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_names_are_upstreams_shape() {
        let at = UNIX_EPOCH + std::time::Duration::from_secs(1_512_940_344);
        let name = snapshot_name(at);
        let (stamp, random) = name.split_once('-').unwrap();
        assert_eq!(stamp, "20171210T211224Z");
        assert_eq!(random.len(), 16);
        assert!(random.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()), "{name}");
        assert!(random.as_bytes()[0] <= b'7', "63 bits, as Go's rand.Int63: {name}");
        assert_ne!(snapshot_name(at), name, "two snapshots in one second get two names");
    }

    #[test]
    fn booleans_parse_as_go_parses_them() {
        for (text, want) in [("1", Some(true)), ("True", Some(true)), ("f", Some(false)), ("FALSE", Some(false))] {
            assert_eq!(parse_bool(text), want, "{text}");
        }
        for text in ["yes", "tRUE", "2", " true"] {
            assert_eq!(parse_bool(text), None, "{text}");
        }
    }
}
