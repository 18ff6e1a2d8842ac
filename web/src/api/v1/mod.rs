//! `/api/v1/*` (upstream `web/api/v1/api.go`): one small module per group of endpoints.
//!
//! Every handler answers with the envelope in [`envelope`]; parameters come through [`Params`],
//! which merges the URL query with a form body as Go's `ParseForm` does.
//! FIXME(#8): metadata, exemplars, format/parse_query, rules/alerts, status/tsdb, walreplay,
//! admin and the remaining status endpoints.

mod envelope;
mod labels;
mod params;
mod query;
mod status;
mod targets;
mod time;

use axum::Router;
use axum::routing::get;

use crate::AppState;

pub(crate) use envelope::ApiError;
pub(crate) use params::Params;

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
}
