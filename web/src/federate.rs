//! `/federate` (upstream `web/federate.go`): the newest sample of every series matching the
//! `match[]` selectors, within the lookback delta, in the text format, for a higher-level server
//! to scrape. External labels are added where a series lacks them; stale series are left out.

use std::fmt::Write as _;
use std::time::SystemTime;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use promlite_storage::{LabelsBuilder, METRIC_NAME, is_stale_nan};

use crate::AppState;
use crate::api::v1::Params;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/federate", get(federate))
}

async fn federate(State(state): State<AppState>, params: Params) -> Response {
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
        let mut builder = LabelsBuilder::new(&one.labels);
        for (name, value) in &external {
            if builder.get(name).is_empty() {
                builder.set(name.clone(), value.clone());
            }
        }
        let labels = builder.labels();
        let name = labels.get(METRIC_NAME);
        if name != family {
            family = name.to_owned();
            let _ = writeln!(body, "# TYPE {name} untyped");
        }
        body.push_str(name);
        body.push('{');
        let mut first = true;
        for label in labels.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                body.push(',');
            }
            first = false;
            let _ = write!(body, "{}=\"{}\"", label.name, escape_label_value(&label.value));
        }
        let _ = writeln!(body, "}} {} {}", format_go_g(last.v), last.t);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}

fn escape_label_value(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// A float as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it, as the text format does:
/// shortest digits, in exponent form (`1.234567e+06`) when the decimal exponent is below -4 or
/// at least 6 (Go's threshold for the shortest precision).
fn format_go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() };
    }
    let scientific = format!("{v:e}");
    let (mantissa, exp) = scientific.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    if (-4..6).contains(&exp) {
        return format!("{v}");
    }
    format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

#[cfg(test)]
mod tests {
    use super::format_go_g;

    #[test]
    fn floats_print_like_go_g() {
        let cases = [
            (1.0, "1"),
            (0.5, "0.5"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (1e21, "1e+21"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_go_g(v), want, "{v}");
        }
    }
}
