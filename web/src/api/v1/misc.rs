//! Endpoints Grafana probes that promlite answers without a subsystem behind them yet:
//! `rules` and `alerts` (no rule evaluation: empty, as a Prometheus with no rule files),
//! `query_exemplars` (exemplars are not stored: an empty list after validating the request),
//! and the query tools `format_query` and `parse_query`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
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

/// Checks as upstream's `queryExemplars` does: times, their order, then the query, whose parse
/// error names no parameter here. A query without selectors has no data: 204 No Content.
pub(crate) async fn query_exemplars(State(_state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let start = time_param(&params, "start", i64::MIN)?;
    let end = time_param(&params, "end", i64::MAX)?;
    if end < start {
        return Err(ApiError::BadData("end timestamp must not be before start timestamp".to_owned()));
    }
    let expr = promlite_promql::parse(params.get("query").unwrap_or("")).map_err(ApiError::from)?;
    if !has_selector(&expr) {
        return Ok(axum::http::StatusCode::NO_CONTENT.into_response());
    }
    // FIXME(#4): exemplars are parsed from OpenMetrics but not stored, so there are none to show.
    Ok(success(&json!([]), &[]))
}

/// Whether `expr` selects series anywhere (upstream `parser.ExtractSelectors` is not empty).
fn has_selector(expr: &promql_parser::parser::Expr) -> bool {
    use promql_parser::parser::Expr;
    match expr {
        Expr::VectorSelector(_) | Expr::MatrixSelector(_) => true,
        Expr::Aggregate(a) => has_selector(&a.expr) || a.param.as_deref().is_some_and(has_selector),
        Expr::Unary(u) => has_selector(&u.expr),
        Expr::Binary(b) => has_selector(&b.lhs) || has_selector(&b.rhs),
        Expr::Paren(p) => has_selector(&p.expr),
        Expr::Subquery(s) => has_selector(&s.expr),
        Expr::Call(c) => c.args.args.iter().any(|a| has_selector(a)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => false,
    }
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
