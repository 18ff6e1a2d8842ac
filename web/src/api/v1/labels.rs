//! `/api/v1/labels`, `/api/v1/label/<name>/values` and `/api/v1/series`.
//! Start and end default to the whole range, as in Prometheus; `limit` truncates with a warning.

use axum::extract::{Path, State};
use axum::response::Response;
use promlite_storage::Matcher;

use super::envelope::{success, success_raw};
use super::query::encode_labels;
use super::time::{limit_param, time_param};
use super::{ApiError, Params};
use crate::AppState;

const TRUNCATED: &str = "results truncated due to limit";

struct Selection {
    mint: i64,
    maxt: i64,
    matcher_sets: Vec<Vec<Matcher>>,
    limit: usize,
}

/// Reads `limit`, `start`, `end` and every `match[]`, in upstream's order. `/api/v1/series`
/// says which parameter a bad selector was (`invalid parameter "match[]": ...`); the label
/// endpoints give the parser's error alone, as upstream's `labelNames` and `labelValues` do.
fn selection(params: &Params, endpoint: Endpoint) -> Result<Selection, ApiError> {
    let limit = limit_param(params)?;
    let mint = time_param(params, "start", i64::MIN)?;
    let maxt = time_param(params, "end", i64::MAX)?;
    let mut matcher_sets = Vec::new();
    for selector in params.all("match[]") {
        let matchers = promlite_promql::parse_matchers(selector).map_err(|err| match endpoint {
            Endpoint::Series => ApiError::BadData(format!("invalid parameter \"match[]\": {err}")),
            Endpoint::Labels => ApiError::from(err),
        })?;
        matcher_sets.push(matchers);
    }
    Ok(Selection { mint, maxt, matcher_sets, limit })
}

/// Which endpoint reads the parameters: the two word errors differently.
#[derive(Clone, Copy)]
enum Endpoint {
    Series,
    Labels,
}

fn truncate<T>(items: &mut Vec<T>, limit: usize) -> Vec<String> {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        return vec![TRUNCATED.to_owned()];
    }
    Vec::new()
}

fn merged<F: Fn(&[Matcher]) -> Vec<String>>(sets: &[Vec<Matcher>], query: F) -> Vec<String> {
    if sets.is_empty() {
        return query(&[]);
    }
    let mut out: Vec<String> = sets.iter().flat_map(|set| query(set)).collect();
    out.sort();
    out.dedup();
    out
}

pub(crate) async fn names(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    super::ensure_ready(&state)?;
    let sel = selection(&params, Endpoint::Labels)?;
    let querier = state.db.local_querier(sel.mint, sel.maxt);
    let mut names = merged(&sel.matcher_sets, |set| querier.label_names(set));
    let warnings = truncate(&mut names, sel.limit);
    Ok(success(&names, &warnings))
}

pub(crate) async fn values(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
) -> Result<Response, ApiError> {
    super::ensure_ready(&state)?;
    // Prometheus 3 accepts UTF-8 names escaped as `U__` + underscore-escaped code points.
    let name = unescape_label_name(&name).ok_or_else(|| ApiError::BadData(format!("invalid label name: {name:?}")))?;
    let sel = selection(&params, Endpoint::Labels)?;
    let querier = state.db.local_querier(sel.mint, sel.maxt);
    let mut values = merged(&sel.matcher_sets, |set| querier.label_values(&name, set));
    let warnings = truncate(&mut values, sel.limit);
    Ok(success(&values, &warnings))
}

pub(crate) async fn series(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    super::ensure_ready(&state)?;
    if params.all("match[]").is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".to_owned()));
    }
    let sel = selection(&params, Endpoint::Series)?;
    let db = state.db.clone();
    let matcher_sets = sel.matcher_sets.clone();
    // Selecting may wait on remote_read endpoints: off the async workers, and counted against
    // `--query.max-concurrency` like a query, so slow remotes cannot take every blocking thread.
    let _slot = state.query_slots.acquire().await.map_err(|_| ApiError::Internal("query slots closed".to_owned()))?;
    let timeout = state.engine.options().timeout;
    let (mut all, mut warnings, limit_hit) = tokio::task::spawn_blocking(move || {
        let querier = db.querier(sel.mint, sel.maxt).with_deadline(std::time::Instant::now() + timeout);
        // Labels only: local series are found by postings and chunk time ranges, not decoded.
        let all: Vec<_> = matcher_sets.iter().flat_map(|set| querier.select_labels(set)).collect();
        (all, querier.take_warnings(), querier.limit_hit())
    })
    .await
    .map_err(|err| ApiError::Internal(format!("selecting series: {err}")))?;
    if limit_hit.is_some() {
        return Err(ApiError::Timeout("query timed out in series selection".to_owned()));
    }
    all.sort();
    all.dedup();
    warnings.extend(truncate(&mut all, sel.limit));
    let mut data = String::from("[");
    for (i, labels) in all.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        encode_labels(&mut data, labels);
    }
    data.push(']');
    Ok(success_raw(&data, &warnings, &[]))
}

/// Undoes Prometheus's `U__` escaping of label names in URL paths (`U__a_2e_b` is `a.b`).
fn unescape_label_name(name: &str) -> Option<String> {
    let Some(rest) = name.strip_prefix("U__") else { return Some(name.to_owned()) };
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        let hex: String = chars.by_ref().take_while(|c| *c != '_').collect();
        if hex.is_empty() {
            out.push('_');
            continue;
        }
        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::unescape_label_name;

    #[test]
    fn utf8_label_names_unescape() {
        assert_eq!(unescape_label_name("job").as_deref(), Some("job"));
        assert_eq!(unescape_label_name("U__a_2e_b").as_deref(), Some("a.b"));
        assert_eq!(unescape_label_name("U__a__b").as_deref(), Some("a_b"));
        assert_eq!(unescape_label_name("U___zz_"), None);
    }
}
