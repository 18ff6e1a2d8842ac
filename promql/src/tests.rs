//! Table tests of the engine: series loaded with promqltest's notation, a query, and the exact
//! expected result as text. Cases marked with an upstream file were worked out by hand from
//! Prometheus's `promql/promqltest/testdata`.

use crate::engine::RangePath;
use crate::promqltest::{db, load};
use crate::value::Value;
use crate::{Engine, EngineOptions, QueryError};

/// Renders a result: `labels value` per vector element, `labels v@t ...` per matrix series,
/// or the error as `errorType: text`.
fn render(result: Result<crate::QueryResult, QueryError>) -> String {
    let result = match result {
        Ok(result) => result,
        Err(err) => return format!("{}: {err}", err.error_type()),
    };
    match result.value {
        Value::Scalar { v, .. } => format!("scalar {v}"),
        Value::String { s, .. } => format!("string {s}"),
        Value::Vector(vector) => vector.iter().map(|s| format!("{} {}", s.labels, s.v)).collect::<Vec<_>>().join("\n"),
        Value::Matrix(matrix) => matrix
            .iter()
            .map(|s| {
                let points: Vec<String> = s.samples.iter().map(|p| format!("{}@{}", p.v, p.t / 1000)).collect();
                format!("{} {}", s.labels, points.join(" "))
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Loads `series` (one sample per `interval_s`), runs `query` at `at_s` and returns the result.
fn instant(interval_s: i64, series: &str, query: &str, at_s: i64) -> String {
    let (_dir, db) = db();
    load(&db, interval_s * 1000, series);
    render(Engine::new(EngineOptions::default()).instant_query(&db, query, at_s * 1000))
}

fn range(interval_s: i64, series: &str, query: &str, start_s: i64, end_s: i64, step_s: i64) -> String {
    let (_dir, db) = db();
    load(&db, interval_s * 1000, series);
    render(Engine::new(EngineOptions::default()).range_query(&db, query, start_s * 1000, end_s * 1000, step_s * 1000))
}

const HTTP_REQUESTS: &str = r#"
    http_requests_total{path="/foo"} 0+10x10
    http_requests_total{path="/bar"} 0+18x5 0+18x5
    http_requests_total{path="/dings"} 10+10x10
    http_requests_total{path="/bumms"} 1+10x10
"#;

#[test]
fn increase_extrapolates_and_stops_at_zero() {
    // Upstream functions.test, "Tests for increase()".
    let table = [
        (
            "increase(http_requests_total[50m])",
            "{path=\"/bar\"} 160\n{path=\"/bumms\"} 100\n{path=\"/dings\"} 100\n{path=\"/foo\"} 100",
        ),
        (
            "increase(http_requests_total[100m])",
            "{path=\"/bar\"} 162\n{path=\"/bumms\"} 101\n{path=\"/dings\"} 105\n{path=\"/foo\"} 100",
        ),
    ];
    for (query, want) in table {
        assert_eq!(instant(300, HTTP_REQUESTS, query, 3000), want, "{query}");
    }
}

#[test]
fn rate_irate_delta_idelta() {
    let series = "x 0+10x10\nc 0 10 20 5 15";
    let table = [
        // 100 over 50m: samples reach both window edges, so no extrapolation beyond them.
        ("rate(x[50m])", 3000, "{} 0.03333333333333334"),
        // (50m, 60m] is empty; one sample in (45m, 50m] is too few.
        ("rate(x[5m])", 3300, ""),
        // (0, 20m] holds 10 20 5 15: the reset at 15m adds 20 back, so 25 over 15m, extrapolated
        // by a whole gap (5m) to the window's start: 25 * 20m / 15m.
        ("increase(c[20m])", 1200, "{} 33.33333333333333"),
        ("irate(c[20m])", 1200, "{} 0.03333333333333333"),
        // A reset between the last two samples: irate takes the last value as the increase.
        ("irate(c[20m])", 900, "{} 0.016666666666666666"),
        ("idelta(c[20m])", 900, "{} -15"),
        ("delta(c[20m])", 1200, "{} 6.666666666666666"),
    ];
    for (query, at, want) in table {
        assert_eq!(instant(300, series, query, at), want, "{query} at {at}");
    }
}

#[test]
fn lookback_and_staleness() {
    // Upstream staleness.test.
    let series = "metric 0 1 stale 2";
    let table = [
        ("metric", 10, "metric{} 1"),
        ("metric", 20, ""),
        ("metric", 30, "metric{} 2"),
        ("metric", 329, "metric{} 2"),
        // Prometheus 3: the lookback window (t - 5m, t] excludes its left edge.
        ("metric", 330, ""),
        ("count_over_time(metric[1m])", 30, "{} 3"),
        ("count_over_time(metric[20s])", 20, "{} 1"),
        ("count_over_time(metric[10s])", 20, ""),
        ("timestamp(metric)", 100, "{} 30"),
        ("timestamp(metric offset 70s)", 100, "{} 30"),
        ("metric @ 10", 1000, "metric{} 1"),
        // Left-open: the sample at exactly 30s - 30s is outside.
        ("metric[30s] @ 30", 1000, "metric{} 1@10 2@30"),
    ];
    for (query, at, want) in table {
        assert_eq!(instant(10, series, query, at), want, "{query} at {at}");
    }
}

#[test]
fn range_query_steps_and_drops_gaps() {
    let series = "a{j=\"x\"} 1 2 _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ 3\nb 5";
    assert_eq!(range(10, series, "a", 0, 20, 10), "a{j=\"x\"} 1@0 2@10 2@20");
    assert_eq!(range(10, series, "a", 300, 350, 10), "a{j=\"x\"} 2@300 3@350");
    assert_eq!(range(10, series, "a * 2 or b", 0, 10, 10), "b{} 5@0 5@10\n{j=\"x\"} 2@0 4@10");
    assert_eq!(range(10, series, "time()", 0, 20, 10), "{} 0@0 10@10 20@20");
    assert_eq!(range(10, series, "a @ start()", 0, 20, 10), "a{j=\"x\"} 1@0 1@10 1@20");
    assert_eq!(
        range(10, series, "a[1m]", 0, 20, 10),
        "bad_data: invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"
    );
}

const JOBS: &str = r#"
    http_requests{job="api", instance="0", group="production"} 100
    http_requests{job="api", instance="1", group="production"} 200
    http_requests{job="api", instance="0", group="canary"} 300
    http_requests{job="app", instance="0", group="production"} 500
"#;

#[test]
fn aggregations_group_by_and_without() {
    let table = [
        ("sum by (job) (http_requests)", "{job=\"api\"} 600\n{job=\"app\"} 500"),
        (
            "sum without (instance) (http_requests)",
            "{group=\"canary\", job=\"api\"} 300\n{group=\"production\", job=\"api\"} 300\n{group=\"production\", job=\"app\"} 500",
        ),
        ("sum by (__name__) (http_requests)", "http_requests{} 1100"),
        ("avg(http_requests)", "{} 275"),
        ("count by (group) (http_requests)", "{group=\"canary\"} 1\n{group=\"production\"} 3"),
        ("max(http_requests)", "{} 500"),
        ("min by (job) (http_requests)", "{job=\"api\"} 100\n{job=\"app\"} 500"),
        ("group by (job) (http_requests)", "{job=\"api\"} 1\n{job=\"app\"} 1"),
        ("stddev by (job) (http_requests)", "{job=\"api\"} 81.64965809277261\n{job=\"app\"} 0"),
        ("stdvar(http_requests)", "{} 21875"),
        (
            "topk(2, http_requests)",
            "http_requests{group=\"production\", instance=\"0\", job=\"app\"} 500\nhttp_requests{group=\"canary\", instance=\"0\", job=\"api\"} 300",
        ),
        (
            "bottomk by (job) (1, http_requests)",
            "http_requests{group=\"production\", instance=\"0\", job=\"api\"} 100\nhttp_requests{group=\"production\", instance=\"0\", job=\"app\"} 500",
        ),
        ("quantile(0.5, http_requests)", "{} 250"),
    ];
    for (query, want) in table {
        assert_eq!(instant(60, JOBS, query, 0), want, "{query}");
    }
}

#[test]
fn binary_operators_and_vector_matching() {
    let series = r#"
        a{job="x", i="1"} 1
        a{job="x", i="2"} 2
        b{job="x", i="1"} 10
        b{job="x", i="2"} 20
        c{job="x"} 100
    "#;
    let table = [
        ("a + b", "{i=\"1\", job=\"x\"} 11\n{i=\"2\", job=\"x\"} 22"),
        ("b > 15", "b{i=\"2\", job=\"x\"} 20"),
        ("15 < b", "b{i=\"2\", job=\"x\"} 20"),
        ("b > bool 15", "{i=\"1\", job=\"x\"} 0\n{i=\"2\", job=\"x\"} 1"),
        ("a < b", "a{i=\"1\", job=\"x\"} 1\na{i=\"2\", job=\"x\"} 2"),
        ("a + on(i) b", "{i=\"1\"} 11\n{i=\"2\"} 22"),
        (
            "a * ignoring(i) c",
            "execution: multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
        ),
        ("a * on(job) group_left c", "{i=\"1\", job=\"x\"} 100\n{i=\"2\", job=\"x\"} 200"),
        ("c / on(job) group_right a", "{i=\"1\", job=\"x\"} 100\n{i=\"2\", job=\"x\"} 50"),
        (
            "c + on(job) a",
            "execution: found duplicate series for the match group {job=\"x\"} on the right hand-side of the operation: \
             [{__name__=\"a\", i=\"2\", job=\"x\"}, {__name__=\"a\", i=\"1\", job=\"x\"}];many-to-many matching not allowed: matching labels must be unique on one side",
        ),
        ("a and b", "a{i=\"1\", job=\"x\"} 1\na{i=\"2\", job=\"x\"} 2"),
        ("a and on(i) b{i=\"2\"}", "a{i=\"2\", job=\"x\"} 2"),
        ("a unless on(i) b{i=\"2\"}", "a{i=\"1\", job=\"x\"} 1"),
        ("c or a", "c{job=\"x\"} 100\na{i=\"1\", job=\"x\"} 1\na{i=\"2\", job=\"x\"} 2"),
        ("-a{i=\"1\"}", "{i=\"1\", job=\"x\"} -1"),
        ("2 ^ 3 % 5", "scalar 3"),
        ("1 < bool 2", "scalar 1"),
        ("{__name__=~\"a|b\"} * 2", "execution: vector cannot contain metrics with the same labelset"),
    ];
    for (query, want) in table {
        assert_eq!(instant(60, series, query, 0), want, "{query}");
    }
}

#[test]
fn functions_and_unsupported_ones() {
    let series = r#"
        m{a="1"} -1.5
        m{a="2"} 2.5
        n 7
    "#;
    let table = [
        ("abs(m)", "{a=\"1\"} 1.5\n{a=\"2\"} 2.5"),
        ("ceil(m)", "{a=\"1\"} -1\n{a=\"2\"} 3"),
        ("floor(m)", "{a=\"1\"} -2\n{a=\"2\"} 2"),
        ("round(m)", "{a=\"1\"} -1\n{a=\"2\"} 3"),
        ("round(n, 5)", "{} 5"),
        ("clamp(m, 0, 1)", "{a=\"1\"} 0\n{a=\"2\"} 1"),
        ("clamp(m, 1, 0)", ""),
        ("clamp_min(m, 0)", "{a=\"1\"} 0\n{a=\"2\"} 2.5"),
        ("clamp_max(m, 0)", "{a=\"1\"} -1.5\n{a=\"2\"} 0"),
        ("sort_desc(m)", "m{a=\"2\"} 2.5\nm{a=\"1\"} -1.5"),
        ("sort(m)", "m{a=\"1\"} -1.5\nm{a=\"2\"} 2.5"),
        ("scalar(n)", "scalar 7"),
        ("scalar(m)", "scalar NaN"),
        ("vector(time())", "{} 60"),
        ("absent(nope{job=\"x\", i=~\"y\"})", "{job=\"x\"} 1"),
        ("absent(n)", ""),
        ("last_over_time(n[1m])", ""),
        ("last_over_time(n[2m])", "n{} 7"),
        ("max_over_time(n[2m])", "{} 7"),
        ("present_over_time(n[2m])", "{} 1"),
        ("label_replace(n, \"dst\", \"x-$1\", \"__name__\", \"(.)\")", "n{dst=\"x-n\"} 7"),
        (
            "label_replace(m, \"a\", \"z\", \"a\", \".*\")",
            "execution: vector cannot contain metrics with the same labelset",
        ),
        (
            "label_replace(n, \"dst\", \"\", \"src\", \"(\")",
            "execution: invalid regular expression in label_replace(): (",
        ),
        ("\"hello\"", "string hello"),
        ("histogram_quantile(0.9, n)", ""),
        ("max_over_time(n[5m:1m])", "{} 7"),
        ("n{", "bad_data: 1:3: parse error: unexpected end of input inside braces"),
    ];
    for (query, want) in table {
        assert_eq!(instant(60, series, query, 60), want, "{query}");
    }
}

#[test]
fn limits_samples_and_time() {
    let (_dir, db) = db();
    load(&db, 10_000, "x 0+1x100\ny 1");
    let engine = Engine::new(EngineOptions { max_samples: 10, ..EngineOptions::default() });
    let err = engine.instant_query(&db, "count_over_time(x[5m])", 1_000_000).unwrap_err();
    assert_eq!(err, QueryError::TooManySamples);
    assert_eq!(err.error_type(), "execution");
    // Range output counts too: 11 steps of one series exceed 10 samples.
    assert_eq!(engine.range_query(&db, "y", 0, 100_000, 10_000).unwrap_err(), QueryError::TooManySamples);
    assert!(engine.range_query(&db, "y", 0, 90_000, 10_000).is_ok());

    let engine = Engine::new(EngineOptions { timeout: std::time::Duration::ZERO, ..EngineOptions::default() });
    let err = engine.instant_query(&db, "y", 0).unwrap_err();
    assert_eq!((err.error_type(), err.to_string().as_str()), ("timeout", "query timed out in query execution"));
}

#[test]
fn subquery_steps_align_to_multiples_of_the_step() {
    // x is 0, 1, 2, ... one per 10s. A subquery [1m:20s] at 75s reads the steps in (15s, 75s]
    // that are multiples of 20s: 20s, 40s, 60s, whose values are 2, 4, 6.
    let series = "x 0+1x20";
    let table = [
        ("count_over_time(x[1m:20s])", 75, "{} 3"),
        ("sum_over_time(x[1m:20s])", 75, "{} 12"),
        // At 80s the window (20s, 80s] excludes 20s itself (left-open) and includes 80s.
        ("sum_over_time(x[1m:20s])", 80, "{} 18"),
        // Offset moves the window, not the alignment: (0s, 60s] gives 20s, 40s, 60s.
        ("sum_over_time(x[1m:20s] offset 20s)", 80, "{} 12"),
        // `@` pins the window's end: (40s, 100s] gives 60s, 80s, 100s.
        ("sum_over_time(x[1m:20s] @ 100)", 1000, "{} 24"),
        // Without a step, subqueries use 1m: (0s, 120s] gives 60s and 120s, reading 6 and 12.
        ("sum_over_time(x[2m:])", 120, "{} 18"),
        ("last_over_time(rate(x[20s])[1m:10s])", 60, "{} 0.1"),
    ];
    for (query, at, want) in table {
        assert_eq!(instant(10, series, query, at), want, "{query} at {at}");
    }
}

#[test]
fn at_modifier_combines_with_offset() {
    let series = "x 0+1x20";
    let table = [
        // `@ 100 offset 30s` reads at 70s.
        ("x @ 100 offset 30s", 10, "x{} 7"),
        ("x offset 30s @ 100", 10, "x{} 7"),
        ("x @ 100 offset -30s", 10, "x{} 13"),
        ("sum_over_time(x[30s] @ 100 offset 30s)", 10, "{} 18"),
        ("x @ 250", 10, "x{} 20"),
        // The last sample is at 200s: beyond the 5m lookback nothing is left.
        ("x @ 1000", 10, ""),
    ];
    for (query, at, want) in table {
        assert_eq!(instant(10, series, query, at), want, "{query} at {at}");
    }
    assert_eq!(range(10, series, "x @ end()", 0, 20, 10), "x{} 2@0 2@10 2@20");
}

#[test]
fn vector_matching_errors() {
    let series = r#"
        a{job="x", i="1"} 1
        a{job="x", i="2"} 2
        b{job="x"} 10
        b{job="x", k="y"} 20
    "#;
    let table = [
        (
            "a + on(job) b",
            "execution: found duplicate series for the match group {job=\"x\"} on the right hand-side of the \
             operation: [{__name__=\"b\", job=\"x\", k=\"y\"}, {__name__=\"b\", job=\"x\"}];many-to-many matching not allowed: matching labels \
             must be unique on one side",
        ),
        (
            "a + on(job) b{k=\"\"}",
            "execution: multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
        ),
        ("a + on(job) group_left b{k=\"\"}", "{i=\"1\", job=\"x\"} 11\n{i=\"2\", job=\"x\"} 12"),
        // A filter that drops every match still fails: the match itself is ambiguous.
        (
            "a > on(job) b{k=\"\"}",
            "execution: multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
        ),
        ("a and on(job) b", "a{i=\"1\", job=\"x\"} 1\na{i=\"2\", job=\"x\"} 2"),
    ];
    for (query, want) in table {
        assert_eq!(instant(60, series, query, 0), want, "{query}");
    }
}

#[test]
fn per_query_lookback_delta() {
    let (_dir, db) = db();
    load(&db, 60_000, "x 1");
    let engine = Engine::new(EngineOptions::default());
    let short = crate::QueryOptions { lookback_delta_ms: Some(30_000) };
    assert_eq!(render(engine.instant_query(&db, "x", 60_000)), "x{} 1");
    assert_eq!(render(engine.instant_query_with(&db, "x", 60_000, &short)), "");
    assert_eq!(render(engine.range_query_with(&db, "x", 0, 60_000, 30_000, &short)), "x{} 1@0");
}

#[test]
fn classic_histograms_and_new_aggregations() {
    let series = r#"
        h_bucket{le="1"} 1
        h_bucket{le="2"} 3
        h_bucket{le="+Inf"} 4
        v{a="1"} 3
        v{a="2"} 3
        v{a="3"} 5
    "#;
    let table = [
        ("histogram_quantile(0.5, h_bucket)", "{} 1.5"),
        ("histogram_quantile(1, h_bucket)", "{} 2"),
        ("histogram_fraction(0, 1, h_bucket)", "{} 0.25"),
        ("count_values(\"value\", v)", "{value=\"3\"} 2\n{value=\"5\"} 1"),
        ("quantile(0.5, v)", "{} 3"),
        ("limitk(2, v)", "v{a=\"1\"} 3\nv{a=\"2\"} 3"),
        ("count(limit_ratio(1, v))", "{} 3"),
        ("count(limit_ratio(0.5, v) or limit_ratio(-0.5, v))", "{} 3"),
        ("sort_by_label_desc(v, \"a\")", "v{a=\"3\"} 5\nv{a=\"2\"} 3\nv{a=\"1\"} 3"),
        ("label_join(v{a=\"1\"}, \"b\", \"-\", \"a\", \"a\")", "v{a=\"1\", b=\"1-1\"} 3"),
        ("year(vector(86400 * 365))", "{} 1971"),
        ("day_of_week(vector(0))", "{} 4"),
        ("days_in_month(vector(86400 * 40))", "{} 28"),
    ];
    for (query, want) in table {
        assert_eq!(instant(60, series, query, 0), want, "{query}");
    }
}

/// A range query's result with every value's bits, so that the two evaluation paths must agree
/// exactly (NaN included), and its annotations.
fn exact(result: Result<(crate::QueryResult, RangePath), QueryError>) -> (String, Option<RangePath>) {
    let (result, over_series) = match result {
        Ok(result) => result,
        Err(err) => return (format!("{}: {err}", err.error_type()), None),
    };
    let Value::Matrix(matrix) = result.value else { panic!("range queries return matrices") };
    let mut text: Vec<String> = matrix
        .iter()
        .map(|s| {
            let points: Vec<String> = s.samples.iter().map(|p| format!("{:x}@{}", p.v.to_bits(), p.t)).collect();
            format!("{} {}", s.labels, points.join(" "))
        })
        .collect();
    text.push(format!("warnings {:?} infos {:?}", result.warnings, result.infos));
    // Both paths load and read the same samples (`stats.samples`); what they hold differs.
    text.push(format!("samples loaded {} read {}", result.samples.total, result.samples.read));
    (text.join("\n"), Some(over_series))
}

/// Self-comparison: both sides are promlite's evaluators. Upstream's promqltest files check range
/// queries through the default (series-by-series where it applies) path; this makes the
/// step-by-step path agree with it bit for bit, so neither can drift unnoticed.
#[test]
fn series_by_series_range_evaluation_matches_step_by_step() {
    let (_dir, db) = db();
    load(
        &db,
        10_000,
        r#"
        req_total{job="a", le="0.1"} 0+1x30 0+2x40 stale 5+3x40
        req_total{job="a", le="+Inf"} 0+3x30 0+4x40 stale 5+5x40
        req_total{job="b", le="0.1"} 1+1x50 _x20 100+1x40
        req_total{job="b", le="+Inf"} 1+2x50 _x20 100+2x40
        gauge{job="a"} 1 -2 NaN 4 Inf 5 _x10 7 stale 1+0.5x100
        gauge{job="b"} 3-0.25x100
        other{job="a"} 9+1x110
        tie{a="1", g="x"} _x5 1x20 _x10 1x80
        tie{a="2", g="y"} 1x120
        tie{a="3", g="x"} 1x120
        tie{a="4", g="z"} _x30 0.1+0.1x90
        tie{a="5", g="y"} _x50 0.2+0.1x70
        "#,
    );
    // Covered by the series-by-series path.
    let covered = [
        "gauge",
        "gauge offset 1m",
        "gauge @ 300",
        "rate(req_total[1m])",
        "increase(req_total[5m] offset 30s)",
        "irate(req_total[1m]) * 60",
        "delta(gauge[2m])",
        "idelta(gauge[1m])",
        "deriv(gauge[3m])",
        "predict_linear(gauge[3m], 60)",
        "changes(gauge[2m])",
        "resets(req_total[2m])",
        "avg_over_time(gauge[1m])",
        "sum_over_time(gauge[1m])",
        "count_over_time(gauge[1m])",
        "min_over_time(gauge[1m])",
        "max_over_time(gauge[1m])",
        "stddev_over_time(gauge[2m])",
        "stdvar_over_time(gauge[2m])",
        "quantile_over_time(0.3, gauge[2m])",
        "quantile_over_time(2, gauge[2m])",
        "last_over_time(gauge[1m])",
        "first_over_time(gauge[1m])",
        "present_over_time(gauge[1m])",
        "sum by (le) (rate(req_total[1m]))",
        "sum without (le) (rate(req_total[1m]))",
        "avg(gauge)",
        "count(req_total)",
        "group by (job) (req_total)",
        "min by (job) (req_total)",
        "max(gauge)",
        "stddev by (le) (req_total)",
        "stdvar(gauge)",
        "quantile(0.5, req_total)",
        "quantile(-1, req_total)",
        "topk(2, req_total)",
        "bottomk by (job) (1, gauge)",
        "topk(0, gauge)",
        "limitk(1, req_total)",
        "count_values(\"v\", gauge)",
        "histogram_quantile(0.9, sum by (le, job) (rate(req_total[1m])))",
        "histogram_fraction(0, 0.1, sum by (le) (rate(req_total[1m])))",
        "gauge > 2",
        "2 < gauge",
        "gauge > bool 2",
        "-1 * gauge",
        "gauge / 0",
        "(rate(req_total[1m]))",
        // The order of a step's vector changes as series come and go; ties and sums see it.
        "topk(1, sum by (g) (tie))",
        "bottomk(2, sum by (g) (tie))",
        "topk(1, topk by (g) (1, tie))",
        "sum(sum by (g) (tie))",
        "sum(sum by (g) (tie) * 3)",
        "sum(-(sum by (g) (tie)))",
        "avg(min by (g) (tie) > 0.5)",
        "count_values(\"v\", sum by (g) (tie))",
        "rate(req_total[1m]) / on (job, le) group_left rate(req_total[1m])",
        "sum by (job) (rate(req_total[1m])) / sum by (job) (rate(req_total[2m]))",
        "1 - avg by (job) (rate(req_total[1m]))",
        "gauge + gauge",
        "gauge and other",
        "req_total or gauge",
        "tie unless on (g) sum by (g) (tie)",
        "sum(topk(2, tie) + 1)",
        "req_total * on () group_left gauge",
        "gauge > on (job) other",
        "other - ignoring (le) gauge",
        "sum by (g) (tie) * on (g) group_right tie",
        "tie / on (g) group_left sum by (g) (tie)",
        "tie == bool on (a) tie",
        "topk(1, sum by (g) (tie) + on (g) sum by (g) (tie))",
        "sum(sum by (g) (tie) > on (g) count by (g) (tie))",
        "abs(gauge)",
        "topk(1, abs(gauge))",
        "sgn(deg(-gauge))",
        "sum by (g) (ln(tie))",
    ];
    // Functions without a series-by-series form: step by step over operands that have one.
    let per_step = [
        "rate({__name__=~\"gauge|other\"}[1m])",
        "clamp_min(gauge, 0)",
        "rate(gauge[1m:10s])",
        "topk(1, round(gauge))",
        "abs({__name__=~\"gauge|other\"})",
        "absent_over_time(nope[1m])",
        "absent(nope)",
        "label_replace(sum by (g) (tie), \"h\", \"$1\", \"g\", \"(.*)\")",
        "sum(clamp_max(rate(req_total[1m]), 0.15))",
        "sort_desc(sum by (g) (tie))",
        "vector(1)",
        "day_of_month(gauge)",
        "{__name__=~\"gauge|other\"} * 2",
        "-{__name__=~\"gauge|other\"}",
        "sum(-{__name__=~\"gauge|other\"})",
        "timestamp(gauge)",
        "timestamp(sum(gauge))",
        "max_over_time(sum by (g) (tie)[2m:20s])",
    ];
    // Left to the step-by-step path.
    let uncovered = ["time()", "scalar(gauge) * 2", "gauge[1m:20s] offset 10s"];
    let engine = Engine::new(EngineOptions::default());
    for (queries, over_series) in [
        (&covered[..], RangePath::SeriesBySeries),
        (&per_step[..], RangePath::SeriesBySeries),
        (&uncovered[..], RangePath::StepByStep),
    ] {
        for query in queries {
            let expr = crate::parser::parse(query).expect("parses");
            for (start, end, step) in [(0, 1_200_000, 10_000), (5_000, 1_100_000, 35_000), (600_000, 600_000, 1_000)] {
                let fast = exact(engine.range_query_paths(&db, &expr, start, end, step, RangePath::SeriesBySeries));
                let slow = exact(engine.range_query_paths(&db, &expr, start, end, step, RangePath::StepByStep));
                assert_eq!(fast.0, slow.0, "{query} from {start} to {end} by {step}");
                if slow.1.is_some() {
                    assert_eq!(fast.1, Some(over_series), "path of {query}");
                }
            }
        }
    }
    // Too many samples is detected the same way on both paths.
    let engine = Engine::new(EngineOptions { max_samples: 40, ..EngineOptions::default() });
    for query in ["rate(gauge[1m])", "sum(gauge)", "gauge", "clamp_min(gauge, 0)", "sum(rate(gauge[1m:10s]))"] {
        let expr = crate::parser::parse(query).expect("parses");
        for (start, end) in [(0, 100_000), (0, 200_000), (0, 400_000)] {
            let fast = exact(engine.range_query_paths(&db, &expr, start, end, 10_000, RangePath::SeriesBySeries));
            let slow = exact(engine.range_query_paths(&db, &expr, start, end, 10_000, RangePath::StepByStep));
            assert_eq!(fast.0, slow.0, "{query} to {end} with a limit");
        }
    }
}
