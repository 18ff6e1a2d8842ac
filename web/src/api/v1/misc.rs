//! Endpoints Grafana probes that promlite answers without a subsystem behind them yet:
//! `rules` and `alerts` (no rule evaluation: empty, as a Prometheus with no rule files),
//! `query_exemplars` (exemplars are not stored: an empty list after validating the request),
//! and the query tools `format_query` and `parse_query`.

use axum::extract::State;
use axum::response::Response;
use serde_json::json;

use super::envelope::success;
use super::time::time_param;
use super::{ApiError, Params};
use crate::AppState;

/// Parses with promlite's parser, so that the nesting limit and the error wording are the same
/// as for queries; `Display`, `prettify` and the JSON encoding of the result then recurse at
/// most `MAX_DEPTH` levels, within the runtime threads' `QUERY_STACK_SIZE`.
fn parse(query: &str) -> Result<promql_parser::parser::Expr, ApiError> {
    promlite_promql::parse(query).map_err(|err| ApiError::BadData(format!("invalid parameter \"query\": {err}")))
}

pub(crate) async fn query_exemplars(State(_state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    for name in ["start", "end"] {
        time_param(&params, name, 0)?;
    }
    // Upstream passes this parse error on as it is, not as an invalid `query` parameter.
    promlite_promql::parse(params.get("query").unwrap_or("")).map_err(ApiError::from)?;
    // FIXME(#4): exemplars are parsed from OpenMetrics but not stored, so there are none to show.
    Ok(success(&json!([]), &[]))
}

pub(crate) async fn format_query(params: Params) -> Result<Response, ApiError> {
    let expr = parse(params.get("query").unwrap_or(""))?;
    Ok(success(&expr.prettify(), &[]))
}

pub(crate) async fn parse_query(params: Params) -> Result<Response, ApiError> {
    let expr = parse(params.get("query").unwrap_or(""))?;
    let mut ast =
        serde_json::to_value(&expr).map_err(|err| ApiError::Internal(format!("encoding the syntax tree: {err}")))?;
    super::ast::translate(&mut ast);
    Ok(success(&ast, &[]))
}
