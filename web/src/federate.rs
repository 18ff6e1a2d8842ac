//! `/federate` (upstream `web/federate.go`): the newest sample of every series matching the
//! `match[]` selectors, within the lookback delta, in the text format, for a higher-level server
//! to scrape. External labels are added after a series' own labels where it lacks them, and
//! `instance` always; stale series and nameless ones are left out.

use std::fmt::Write as _;
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use promlite_storage::{METRIC_NAME, is_stale_nan};

use crate::AppState;
use crate::api::v1::Params;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/federate", get(federate))
}

async fn federate(State(state): State<AppState>, params: Params) -> Response {
    if let Some(unavailable) = crate::lifecycle::not_ready(&state) {
        return unavailable.into_response();
    }
    let selectors = params.all("match[]");
    if selectors.is_empty() {
        return (StatusCode::BAD_REQUEST, "no match[] parameter provided\n").into_response();
    }
    let mut matcher_sets = Vec::new();
    for selector in selectors {
        match promlite_promql::parse_matchers(selector) {
            Ok(matchers) => matcher_sets.push(matchers),
            Err(err) => return (StatusCode::BAD_REQUEST, format!("{err}\n")).into_response(),
        }
    }
    let now = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let lookback = state.engine.options().lookback_delta_ms;
    let querier = state.db.local_querier(now - lookback + 1, now);
    let mut series: Vec<_> = matcher_sets.iter().flat_map(|set| querier.select(set)).collect();
    series.sort_by(|a, b| (a.labels.get(METRIC_NAME), &a.labels).cmp(&(b.labels.get(METRIC_NAME), &b.labels)));
    series.dedup_by(|a, b| a.labels == b.labels);
    let external = state.external_labels.read().expect("external labels lock").clone();
    let mut body = String::new();
    let mut family = String::new();
    for one in series {
        let Some(last) = one.iter().last() else { continue };
        if is_stale_nan(last.v) {
            continue;
        }
        let name = one.labels.get(METRIC_NAME);
        if name.is_empty() {
            continue;
        }
        if name != family {
            family = name.to_owned();
            let _ = writeln!(body, "# TYPE {name} untyped");
        }
        // The series' own labels in order, then each external label it lacks, in name order,
        // `instance` among them (empty unless an external label): upstream `federate.go`.
        let own = one.labels.iter().filter(|l| l.name != METRIC_NAME && !l.value.is_empty());
        let own = own.map(|l| (l.name.as_str(), l.value.as_str()));
        let mut added: Vec<(&str, &str)> = external
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .chain((!external.iter().any(|(n, _)| n == "instance")).then_some(("instance", "")))
            .filter(|(n, _)| one.labels.get(n).is_empty())
            .collect();
        added.sort();
        body.push_str(name);
        body.push('{');
        for (i, (label, value)) in own.chain(added).enumerate() {
            if i > 0 {
                body.push(',');
            }
            let _ = write!(body, "{label}=\"{}\"", promlite_storage::escape_label_value(value));
        }
        let _ = writeln!(body, "}} {} {}", promlite_storage::format_go_g(last.v), last.t);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}
