//! Error answers against Prometheus 2.42 over the same data ([`crate::oracle`]), byte for byte:
//! the envelope's keys in upstream's order (`status`, `errorType`, `error`), the
//! `invalid parameter "..."` prefixes, and the position and wording of parse errors, for every
//! endpoint that parses PromQL (`query`, `query_range`, `series`, `labels`, label values,
//! `query_exemplars`) and for the other parameters they check.
//!
//! Where Prometheus 3 words an error otherwise on purpose, promlite's answer is checked against
//! 3.x's text instead, with the upstream file that has it.

use crate::oracle::{Answer, Oracle};

const TIME: (&str, &str) = ("time", "2503");
const RANGE: [(&str, &str); 3] = [("start", "1203"), ("end", "4803"), ("step", "60")];

/// Queries whose error 3.x gives as 2.42 does (on `query_range` with the prefix, see
/// [`with_query_prefix`]), from issue #16 and around.
const SAME_IN_3X: &[&str] = &[
    "sum(rate(x[1m])) by",
    "{}",
    "sum(",
    "foo[5m",
    "histogram_quantile(0.9)",
    "\"a\" + 1",
    "0x",
    "foo{",
    "1 +",
    "sum by (a) (x) by (b)",
    "foo[5m:1m:1m]",
    "rate(foo)",
    "{__name__=\"a\", __name__=\"b\"} + ",
    "sum(up) by (job) without (instance)",
    "up{job=\"api\"",
    "topk(up)",
    "label_replace(up, \"a\", \"b\", \"c\")",
    "abs(up, up)",
    "up and 1",
    "1 and up",
    "count_values(1, up)",
    "quantile(\"x\", up)",
    "up[5m] + 1",
    "-\"a\"",
    "up / on(job) group_left(instance) group_right up",
    "up == bool",
    "1 == 1",
    "rate(up[5m]) [5m]",
    "up[5m:1m] @",
    "nonexistent_function(up)",
    "sum without() (up) by (job)",
    "up{job=~\"a\", job=~\"b\"",
    "up{job=\"a\"}{job=\"b\"}",
    "'unterminated",
    "`raw",
    "up # comment only after",
    "# only a comment",
    "(up",
    "up)",
    "[5m]",
    "up offset 5m offset 1m",
    "vector(0e0)",
    "up{0=\"a\"}",
    "up{job=\"\\q\"}",
    "sum(up) / on() group_left",
    "absent_over_time(up)",
    "up / on() up",
];

/// Errors 3.x words otherwise: the query, its error on the query endpoints and its error as a
/// `match[]` selector (`None`: as 2.42 gives it).
const CHANGED_IN_3X: &[(&str, Option<&str>, Option<&str>)] = &[
    // model/labels/regexp.go: the pattern is parsed as written before it is anchored.
    (
        "foo{a=~\"(\"}",
        Some("1:5: parse error: error parsing regexp: missing closing ): `(`"),
        Some("1:5: parse error: error parsing regexp: missing closing ): `(`"),
    ),
    // promql/parser/lex.go, lexDurationExpr: brackets hold duration expressions.
    ("rate(x[$__rate_interval])", Some("1:8: parse error: unexpected character in duration expression: '$'"), None),
    // promql/parser/lex.go, lexNumberOrDuration: one token for numbers and durations.
    (
        "1e",
        Some("1:1: parse error: bad number or duration syntax: \"1e\""),
        Some("1:1: parse error: bad number or duration syntax: \"1e\""),
    ),
    // promql/parser/posrange/posrange.go, StartPosInput: an empty query has no position.
    ("", Some("unknown position: parse error: no expression found in input"), None),
    // promql/parser/generated_parser.y, offset_expr: offsets take duration expressions.
    (
        "foo offset",
        Some("1:11: parse error: unexpected end of input in offset, expected number, duration, step(), or range()"),
        None,
    ),
    (
        "up{job=~\"a\"} offset -",
        Some("1:22: parse error: unexpected end of input in offset, expected number, duration, step(), or range()"),
        None,
    ),
    // promql/parser/generated_parser.y: 3.x names its tokens, 2.42 printed `<Item 57385>`.
    ("foo @ bar", None, Some("1:5: parse error: unexpected <op:@>")),
];

/// 2.42's answer as 3.x gives it on `query_range`, which names the `query` parameter there too
/// (web/api/v1/api.go, queryRange: `invalidParamError(err, "query")`).
fn with_query_prefix(answer: &Answer) -> Answer {
    let body = answer.1.replacen(
        r#""errorType":"bad_data","error":""#,
        r#""errorType":"bad_data","error":"invalid parameter \"query\": "#,
        1,
    );
    let body = body
        .replace(r#"invalid parameter \"query\": invalid parameter \"query\": "#, r#"invalid parameter \"query\": "#);
    (answer.0, body)
}

/// The error envelope with `error` as Go's encoding/json writes it.
fn bad_data(error: &str) -> Answer {
    let mut text = String::new();
    for c in error.chars() {
        match c {
            '"' => text.push_str("\\\""),
            '\\' => text.push_str("\\\\"),
            '<' => text.push_str("\\u003c"),
            '>' => text.push_str("\\u003e"),
            '&' => text.push_str("\\u0026"),
            c => text.push(c),
        }
    }
    (400, format!(r#"{{"status":"error","errorType":"bad_data","error":"{text}"}}"#))
}

/// Request parameters.
type Params<'a> = Vec<(&'a str, &'a str)>;

/// A request and a text about its answer: (endpoint, params, text).
type Expected<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);

/// The requests that send `query` to each endpoint: (endpoint, params, takes the query as
/// `match[]`).
fn requests(query: &str) -> Vec<(&'static str, Params<'_>, bool)> {
    let mut range = vec![("query", query)];
    range.extend_from_slice(&RANGE);
    vec![
        ("/api/v1/query", vec![("query", query), TIME], false),
        ("/api/v1/query_range", range, false),
        ("/api/v1/series", vec![("match[]", query)], true),
        ("/api/v1/labels", vec![("match[]", query)], true),
        ("/api/v1/label/job/values", vec![("match[]", query)], true),
    ]
}

#[test]
fn query_errors_are_prometheus_s() {
    let Some(oracle) = Oracle::start() else { return };
    let mut compared = 0;
    for query in SAME_IN_3X {
        for (path, params, _) in requests(query) {
            let (prometheus, promlite) = oracle.get(path, &params);
            let expected = if path == "/api/v1/query_range" { with_query_prefix(&prometheus) } else { prometheus };
            assert_eq!(promlite, expected, "{path} {query:?}");
            compared += 1;
        }
    }
    for (query, as_query, as_selector) in CHANGED_IN_3X {
        for (path, params, selector) in requests(query) {
            let (prometheus, promlite) = oracle.get(path, &params);
            let changed = if selector { as_selector } else { as_query };
            let expected = match (changed, path) {
                (None, "/api/v1/query_range") => with_query_prefix(&prometheus),
                (None, _) => prometheus,
                (Some(text), "/api/v1/query" | "/api/v1/query_range") => {
                    bad_data(&format!("invalid parameter \"query\": {text}"))
                }
                (Some(text), "/api/v1/series") => bad_data(&format!("invalid parameter \"match[]\": {text}")),
                (Some(text), _) => bad_data(text),
            };
            assert_eq!(promlite, expected, "{path} {query:?}");
            compared += 1;
        }
    }
    println!("compared {compared} answers");
}

#[test]
fn parameter_errors_are_prometheus_s() {
    let Some(oracle) = Oracle::start() else { return };
    let same: &[(&str, &[(&str, &str)])] = &[
        ("/api/v1/query", &[("query", "up"), ("time", "2503"), ("timeout", "x")]),
        ("/api/v1/query", &[("query", "up"), ("time", "2503"), ("timeout", "1h1d")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "x"), ("end", "2"), ("step", "1")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "1"), ("end", "x"), ("step", "1")]),
        ("/api/v1/query_range", &[("query", "up"), ("end", "2"), ("step", "1")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "3"), ("end", "2"), ("step", "1")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "1"), ("end", "2"), ("step", "x")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "1"), ("end", "2"), ("step", "1ms1s")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "1"), ("end", "2"), ("step", "1.5h")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "1"), ("end", "2"), ("step", "0")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "1"), ("end", "2"), ("step", "-1")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "1"), ("end", "100000"), ("step", "1")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "1"), ("end", "2")]),
        ("/api/v1/query_range", &[("query", "sum("), ("start", "x"), ("end", "2"), ("step", "1")]),
        ("/api/v1/query_range", &[("query", "up"), ("start", "1"), ("end", "99999999"), ("step", "1y2w")]),
        ("/api/v1/series", &[]),
        ("/api/v1/series", &[("start", "x")]),
        ("/api/v1/label/job/values", &[("match[]", "{}")]),
        ("/api/v1/labels", &[("match[]", "{job=~\".*\"}")]),
        ("/api/v1/series", &[("match[]", "{job=\"\"}")]),
        ("/api/v1/query_exemplars", &[("query", "up"), ("start", "5"), ("end", "1")]),
        ("/api/v1/query_exemplars", &[("query", "sum(")]),
        ("/api/v1/query_exemplars", &[("query", "up")]),
        // No selector, no data: 204 and no body.
        ("/api/v1/query_exemplars", &[("query", "1 + 1")]),
        // Upstream's MinTime and MaxTime as clients send them back.
        (
            "/api/v1/series",
            &[
                ("match[]", "up"),
                ("start", "-292273086-05-16T16:47:06Z"),
                ("end", "292277025-08-18T07:12:54.999999999Z"),
            ],
        ),
        ("/api/v1/query", &[("query", "up"), ("time", "1970-01-01T00:41:43Z")]),
        ("/api/v1/query", &[("query", "up"), ("time", "")]),
    ];
    for (path, params) in same {
        let (prometheus, promlite) = oracle.get(path, params);
        assert_eq!(promlite, prometheus, "{path} {params:?}");
    }
    // 3.x: parseTimeParam says "invalid time value" in lower case (web/api/v1/api.go).
    let lower: &[Expected] = &[
        ("/api/v1/query", &[("query", "up"), ("time", "abc")], "time"),
        ("/api/v1/series", &[("match[]", "up"), ("start", "x")], "start"),
        ("/api/v1/labels", &[("end", "x")], "end"),
        ("/api/v1/label/job/values", &[("start", "x\u{1}é")], "start"),
        ("/api/v1/query_exemplars", &[("query", "up"), ("start", "x")], "start"),
    ];
    for (path, params, name) in lower {
        let (prometheus, promlite) = oracle.get(path, params);
        let expected = prometheus
            .1
            .replace(&format!("Invalid time value for '{name}'"), &format!("invalid time value for '{name}'"));
        assert_ne!(expected, prometheus.1, "{path} {params:?}: {}", prometheus.1);
        assert_eq!(promlite, (prometheus.0, expected), "{path} {params:?}");
    }
    // Parameters 2.42 does not read: 3.x's `limit` (parseLimitParam, strconv.Atoi) and
    // `lookback_delta` (extractQueryOpts), web/api/v1/api.go.
    let new: &[Expected] = &[
        (
            "/api/v1/query",
            &[("query", "up"), ("limit", "x")],
            "invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            "/api/v1/query",
            &[("query", "up"), ("limit", "-1")],
            "invalid parameter \"limit\": limit must be non-negative",
        ),
        (
            "/api/v1/query_range",
            &[("query", "up"), ("start", "x"), ("limit", "99999999999999999999")],
            "invalid parameter \"limit\": strconv.Atoi: parsing \"99999999999999999999\": value out of range",
        ),
        (
            "/api/v1/series",
            &[("match[]", "up"), ("limit", "1.5")],
            "invalid parameter \"limit\": strconv.Atoi: parsing \"1.5\": invalid syntax",
        ),
        ("/api/v1/labels", &[("limit", "-3")], "invalid parameter \"limit\": limit must be non-negative"),
        (
            "/api/v1/query",
            &[("query", "sum("), ("time", "2503"), ("lookback_delta", "x")],
            "error parsing lookback delta duration: cannot parse \"x\" to a valid duration",
        ),
        (
            "/api/v1/query",
            &[("query", "sum("), ("time", "2503"), ("timeout", "x"), ("lookback_delta", "x")],
            "invalid parameter \"timeout\": cannot parse \"x\" to a valid duration",
        ),
    ];
    for (path, params, error) in new {
        let (_, promlite) = oracle.get(path, params);
        assert_eq!(promlite, bad_data(error), "{path} {params:?}");
    }
}

/// `limit` on the query endpoints (3.x, web/api/v1/api.go `truncateResults`): the first
/// samples of a vector or series of a matrix, and a warning; checked against 2.42's whole
/// answer.
#[test]
fn query_limit_truncates_prometheus_s_answer() {
    let Some(oracle) = Oracle::start() else { return };
    let (prometheus, promlite) = oracle.get("/api/v1/query", &[("query", "http_requests_total"), TIME]);
    assert_eq!(promlite, prometheus);
    let whole: serde_json::Value = serde_json::from_str(&prometheus.1).unwrap();
    let (_, limited) = oracle.get("/api/v1/query", &[("query", "http_requests_total"), TIME, ("limit", "2")]);
    let limited: serde_json::Value = serde_json::from_str(&limited.1).unwrap();
    let result = whole["data"]["result"].as_array().unwrap();
    assert!(result.len() > 2, "{whole}");
    assert_eq!(limited["data"]["result"].as_array().unwrap()[..], result[..2]);
    assert_eq!(limited["warnings"], serde_json::json!(["results truncated due to limit"]));
    let mut params = vec![("query", "up")];
    params.extend_from_slice(&RANGE);
    let (prometheus, _) = oracle.get("/api/v1/query_range", &params);
    params.push(("limit", "3"));
    let (_, limited) = oracle.get("/api/v1/query_range", &params);
    let whole: serde_json::Value = serde_json::from_str(&prometheus.1).unwrap();
    let limited: serde_json::Value = serde_json::from_str(&limited.1).unwrap();
    assert_eq!(limited["data"]["result"].as_array().unwrap()[..], whole["data"]["result"].as_array().unwrap()[..3]);
    // At or above the result's size nothing is cut and nothing said.
    params.pop();
    params.push(("limit", "4"));
    let (_, promlite) = oracle.get("/api/v1/query_range", &params);
    assert_eq!(promlite.1, prometheus.1);
}

/// Prometheus 3 writes at most ten warnings and ten infos, then how many it left out
/// (web/api/v1/api.go `respond`, util/annotations `AsStrings(query, 10, 10)`): here one
/// warning per step, each quantile being the step's time.
#[test]
fn annotations_beyond_ten_are_counted() {
    let Some(oracle) = Oracle::start() else { return };
    let mut params = vec![("query", "quantile_over_time(time(), up[2m])")];
    params.extend_from_slice(&RANGE);
    let (_, promlite) = oracle.get("/api/v1/query_range", &params);
    let body: serde_json::Value = serde_json::from_str(&promlite.1).unwrap();
    let warnings: Vec<&str> = body["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    // 61 steps from 1203 to 4803 by 60 s.
    assert_eq!(warnings.len(), 11, "{warnings:?}");
    assert!(warnings[..10].iter().all(|w| w.starts_with("PromQL warning: quantile value should be between 0 and 1")));
    assert_eq!(warnings[10], "51 more warning annotations omitted");
}
