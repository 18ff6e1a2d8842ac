//! `/api/v1/targets` (with `state` and `scrapePool` filters) and `/api/v1/scrape_pools`.
//! Dropped targets carry an extra `dropReason` field: why promlite does not scrape them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use promlite_storage::Labels;
use serde_json::{Value, json};

use super::envelope::success;
use super::time::format_rfc3339;
use super::{ApiError, Params};
use crate::AppState;

fn labels_json(labels: &Labels) -> Value {
    Value::Object(labels.iter().map(|l| (l.name.clone(), Value::String(l.value.clone()))).collect())
}

/// Go's `time.Duration` rendered as Prometheus's `model.Duration` (`1m`, `15s`, `1m30s`).
fn model_duration(d: std::time::Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

pub(crate) async fn targets(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let wanted = params.get("state").unwrap_or("any").to_lowercase();
    let pool = params.get("scrapePool");
    let show_active = wanted == "active" || wanted == "any";
    let show_dropped = wanted == "dropped" || wanted == "any";
    let in_pool = |name: &str| pool.is_none_or(|p| p == name);

    let active: Vec<Value> = if show_active {
        state
            .targets
            .active_targets()
            .iter()
            .filter(|t| in_pool(&t.scrape_pool))
            .map(|t| {
                // A password in the target's address reaches its URL (and maybe its error).
                let scrape_url = crate::redact_url(&t.scrape_url);
                let mut target = json!({
                    "discoveredLabels": labels_json(&t.discovered_labels),
                    "labels": labels_json(&t.labels),
                    "scrapePool": t.scrape_pool,
                    "scrapeUrl": scrape_url,
                    "globalUrl": scrape_url,
                    "lastError": crate::redact_password_in(&t.last_error, &t.scrape_url),
                    "lastScrape": format_rfc3339(t.last_scrape),
                    "lastScrapeDuration": t.last_scrape_duration.as_secs_f64(),
                    "health": t.health.as_str(),
                    "scrapeInterval": model_duration(t.scrape_interval),
                    "scrapeTimeout": model_duration(t.scrape_timeout),
                });
                // Beyond Prometheus: what the last scrape had to work around.
                if let Some(warning) = &t.warning {
                    target["scrapeWarning"] = json!(warning);
                }
                target
            })
            .collect()
    } else {
        Vec::new()
    };
    let all_dropped = state.targets.dropped_targets();
    let mut dropped_counts: BTreeMap<String, usize> =
        state.targets.scrape_pools().into_iter().map(|p| (p, 0)).collect();
    for target in &all_dropped {
        *dropped_counts.entry(target.scrape_pool.clone()).or_default() += 1;
    }
    let dropped: Vec<Value> = if show_dropped {
        all_dropped
            .iter()
            .filter(|t| in_pool(&t.scrape_pool))
            .map(|t| json!({"discoveredLabels": labels_json(&t.discovered_labels), "scrapePool": t.scrape_pool, "dropReason": t.reason}))
            .collect()
    } else {
        Vec::new()
    };
    let data = json!({"activeTargets": active, "droppedTargets": dropped, "droppedTargetCounts": dropped_counts});
    Ok(success(&data, &[]))
}

pub(crate) async fn scrape_pools(State(state): State<AppState>) -> Response {
    success(&json!({"scrapePools": state.targets.scrape_pools()}), &[])
}

#[cfg(test)]
mod tests {
    use super::model_duration;
    use std::time::Duration;

    #[test]
    fn durations_print_like_prometheus() {
        assert_eq!(model_duration(Duration::from_secs(60)), "1m");
        assert_eq!(model_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(model_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(model_duration(Duration::ZERO), "0s");
    }
}
