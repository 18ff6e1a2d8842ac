//! `/api/v1/metadata` (metadata per metric family, deduplicated across targets) and
//! `/api/v1/targets/metadata` (per target, filtered by `match_target` and `metric`).

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::envelope::success;
use super::{ApiError, Params};
use crate::AppState;

/// A non-negative limit; absent, empty or negative means none, as in Prometheus.
fn limit(params: &Params, name: &str) -> Result<Option<usize>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(text) => {
            let n: i64 = text.parse().map_err(|_| {
                ApiError::BadData(format!("invalid parameter {name:?}: cannot parse {text:?} as an integer"))
            })?;
            Ok(usize::try_from(n).ok())
        }
    }
}

pub(crate) async fn metadata(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let limit_metrics = limit(&params, "limit")?;
    let limit_per_metric = limit(&params, "limit_per_metric")?;
    let only = params.get("metric");
    let mut by_metric: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for md in state.targets.metadata() {
        if only.is_some_and(|m| m != md.metric) {
            continue;
        }
        let entry = json!({"type": md.kind, "help": md.help, "unit": md.unit});
        let list = by_metric.entry(md.metric).or_default();
        if !list.contains(&entry) {
            list.push(entry);
        }
    }
    let mut out = Map::new();
    for (metric, mut list) in by_metric {
        if limit_metrics.is_some_and(|n| out.len() >= n) {
            break;
        }
        if let Some(n) = limit_per_metric {
            list.truncate(n);
        }
        out.insert(metric, Value::Array(list));
    }
    Ok(success(&out, &[]))
}

pub(crate) async fn targets_metadata(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let matchers = match params.get("match_target") {
        Some(selector) => promlite_promql::parse_matchers(selector).map_err(ApiError::from)?,
        None => Vec::new(),
    };
    let only = params.get("metric");
    let max = limit(&params, "limit")?;
    let mut out = Vec::new();
    for md in state.targets.metadata() {
        if max.is_some_and(|n| out.len() >= n) {
            break;
        }
        if !matchers.iter().all(|m| m.matches(md.target.get(&m.name))) || only.is_some_and(|m| m != md.metric) {
            continue;
        }
        let target: Map<String, Value> =
            md.target.iter().map(|l| (l.name.clone(), Value::String(l.value.clone()))).collect();
        let mut entry = json!({"target": target, "type": md.kind, "help": md.help, "unit": md.unit});
        // Prometheus leaves `metric` out when the request named one.
        if only.is_none() {
            entry["metric"] = Value::String(md.metric);
        }
        out.push(entry);
    }
    Ok(success(&out, &[]))
}
