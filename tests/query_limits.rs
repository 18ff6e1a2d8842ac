//! Queries built to exhaust the stack (issue 13): a long `1+1+…` chain, deeply nested
//! aggregations and deeply nested parentheses, sent to every endpoint that parses PromQL. Each
//! must be refused as `bad_data` naming promlite's nesting limit, without quoting the query back,
//! and the server must still answer afterwards; a query at the limit must still be answered.

use serde_json::Value;

use crate::util::{Server, enc, http, start};

/// promlite-promql's nesting limit, as its error message names it.
const LIMIT: usize = 1000;

fn chain(terms: usize) -> String {
    let mut query = "1".to_owned();
    query.push_str(&"+1".repeat(terms - 1));
    query
}

fn nested(open: &str, inner: &str, levels: usize) -> String {
    format!("{}{inner}{}", open.repeat(levels), ")".repeat(levels))
}

fn post(server: &Server, path: &str, form: &str) -> (u16, String) {
    let response = http(server.addr, "POST", path, Some(("application/x-www-form-urlencoded", form)));
    (response.status, response.body)
}

/// The form bodies that send `query` to each endpoint that parses PromQL.
fn requests(query: &str) -> Vec<(&'static str, String)> {
    let query = enc(query);
    vec![
        ("/api/v1/query", format!("query={query}&time=100")),
        ("/api/v1/query_range", format!("query={query}&start=100&end=160&step=15")),
        ("/api/v1/parse_query", format!("query={query}")),
        ("/api/v1/format_query", format!("query={query}")),
        ("/api/v1/series", format!("match[]={query}")),
    ]
}

#[test]
fn queries_nested_too_deeply_are_refused_and_the_server_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let hostile = [
        ("a 4,250-term 1+1+… chain", chain(4_250)),
        ("sum( nested 3,700 deep", nested("sum(", "up", 3_700)),
        ("50,000 nested parentheses", nested("(", "1", 50_000)),
        ("the limit plus one parentheses", nested("(", "1", LIMIT + 1)),
        ("the limit plus one operators", chain(LIMIT + 2)),
    ];
    for (what, query) in &hostile {
        for (path, form) in requests(query) {
            let (status, body) = post(&server, path, &form);
            let json: Value =
                serde_json::from_str(&body).unwrap_or_else(|err| panic!("{what} to {path}: {err}: {body}"));
            assert_eq!((status, json["errorType"].as_str()), (400, Some("bad_data")), "{what} to {path}: {body}");
            let error = json["error"].as_str().unwrap();
            assert!(
                error.contains(&format!("query is nested too deeply: more than {LIMIT} levels")),
                "{what} to {path}: {error}"
            );
            assert!(body.len() < 1_000, "{what} to {path}: the answer quotes the query back: {} bytes", body.len());
            assert_eq!(http(server.addr, "GET", "/-/healthy", None).status, 200, "after {what} to {path}");
        }
    }
    // The chain as the 8.5 KB GET that first crashed the process.
    let response = http(server.addr, "GET", &format!("/api/v1/query?query={}", chain(4_250).replace('+', "%2B")), None);
    assert_eq!(response.status, 400, "{}", response.body);
    assert_eq!(http(server.addr, "GET", "/-/healthy", None).status, 200);
}

#[test]
fn queries_at_the_nesting_limit_are_answered() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let at_limit = [
        (nested("(", "1", LIMIT), "1"),
        (chain(LIMIT + 1), "1001"),
        (nested("abs(", "vector(1)", LIMIT - 1), ""),
        (nested("sum(", "up", LIMIT), ""),
    ];
    for (query, value) in &at_limit {
        let head = &query[..20];
        for (path, form) in requests(query) {
            let (status, body) = post(&server, path, &form);
            if path == "/api/v1/series" {
                // Not a series selector: refused at the first token that cannot go on with one,
                // as Prometheus 2.42 and 3.x refuse it (ParseMetricSelector).
                let error = match query.as_bytes()[0] {
                    b'(' => r#"1:1: parse error: unexpected \"(\""#,
                    b'1' => r#"1:1: parse error: unexpected number \"1\""#,
                    _ => r#"1:4: parse error: unexpected \"(\""#,
                };
                assert_eq!(status, 400, "{head}… to {path}: {body}");
                assert!(body.contains(error), "{head}… to {path}: {body}");
                continue;
            }
            assert_eq!(status, 200, "{head}… to {path}: {}", &body[..body.len().min(500)]);
            assert!(body.starts_with(r#"{"status":"success""#), "{head}… to {path}");
            if path == "/api/v1/query" && !value.is_empty() {
                let json: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(json["data"]["result"][1], *value, "{head}… to {path}");
            }
        }
    }
    assert_eq!(http(server.addr, "GET", "/-/healthy", None).status, 200);
}
