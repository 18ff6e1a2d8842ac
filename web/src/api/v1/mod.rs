//! `/api/v1/*` (upstream `web/api/v1/api.go`): one small module per group of endpoints.
//!
//! Every handler answers with the envelope in [`envelope`]; parameters come through [`Params`],
//! which merges the URL query with a form body as Go's `ParseForm` does.
//! FIXME(#4): exemplars are not stored.

mod admin;
mod alertmanagers;
mod ast;
mod envelope;
mod json;
mod labels;
mod metadata;
mod misc;
mod params;
mod query;
mod remote;
mod rules;
mod status;
mod targets;
mod time;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::AppState;

pub(crate) use envelope::ApiError;
pub(crate) use params::Params;
pub use remote::RemoteWriteReceiver;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/query", get(query::instant).post(query::instant))
        .route("/query_range", get(query::range).post(query::range))
        .route("/series", get(labels::series).post(labels::series))
        .route("/labels", get(labels::names).post(labels::names))
        .route("/label/{name}/values", get(labels::values))
        .route("/targets", get(targets::targets))
        .route("/scrape_pools", get(targets::scrape_pools))
        .route("/status/buildinfo", get(status::buildinfo))
        .route("/status/flags", get(status::flags))
        .route("/status/config", get(status::config))
        .route("/status/runtimeinfo", get(status::runtimeinfo))
        .route("/status/tsdb", get(status::tsdb))
        .route("/status/walreplay", get(status::walreplay))
        .route("/metadata", get(metadata::metadata))
        .route("/targets/metadata", get(metadata::targets_metadata))
        .route("/rules", get(rules::rules))
        .route("/alerts", get(rules::alerts))
        .route("/alertmanagers", get(alertmanagers::alertmanagers))
        .route("/query_exemplars", get(misc::query_exemplars).post(misc::query_exemplars))
        .route("/format_query", get(misc::format_query).post(misc::format_query))
        .route("/parse_query", get(misc::parse_query).post(misc::parse_query))
        .route("/admin/tsdb/delete_series", post(admin::delete_series).put(admin::delete_series))
        .route("/admin/tsdb/clean_tombstones", post(admin::clean_tombstones).put(admin::clean_tombstones))
        .route("/admin/tsdb/snapshot", post(admin::snapshot).put(admin::snapshot))
        .route("/write", post(remote::write::write).layer(DefaultBodyLimit::max(remote::MAX_BODY_BYTES)))
        .route("/read", post(remote::read::read).layer(DefaultBodyLimit::max(remote::MAX_BODY_BYTES)))
}

/// Queries and label and series lookups read the head, which is incomplete until the WAL is
/// replayed: 503 until then, as upstream's API answers while the TSDB is not ready.
pub(crate) fn ensure_ready(state: &AppState) -> Result<(), envelope::ApiError> {
    if state.ready.load(std::sync::atomic::Ordering::Acquire) {
        Ok(())
    } else {
        Err(envelope::ApiError::NotReady("TSDB not ready".to_owned()))
    }
}
