//! Fuzzes the PromQL parser, printer and engine with arbitrary text.
//!
//! What must hold: no panic and no stack overflow, whatever the text; an error never quotes
//! more than a few hundred bytes of it; no accepted expression is deeper than `MAX_DEPTH` (the
//! token count in `parser/depth.rs` is an upper bound of the tree's depth); an accepted expression,
//! printed (`Display`) or pretty-printed (`prettify`), parses again and prints the same; and it
//! evaluates, at an instant and over a range, against a small database with a small sample
//! budget and timeout, to a result or to a query error.

#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use promlite_promql::{Engine, EngineOptions, MAX_DEPTH, parse};
use promlite_storage::{Db, Labels, Options};
use promql_parser::parser::Expr;

/// Series to select: a counter, a gauge and a classic histogram, one sample every 15 s for
/// 10 minutes from t=0, with a gap and a stale marker.
fn db() -> &'static Db {
    static DB: OnceLock<Db> = OnceLock::new();
    DB.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("promlite-fuzz-promql-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Db::open(&dir, Options::default()).expect("opening the fuzz database");
        let mut app = db.appender();
        let series = [
            vec![("__name__", "http_requests_total"), ("job", "api"), ("code", "200")],
            vec![("__name__", "http_requests_total"), ("job", "api"), ("code", "500")],
            vec![("__name__", "up"), ("job", "api"), ("instance", "a:9090")],
            vec![("__name__", "up"), ("job", "node"), ("instance", "b:9100")],
            vec![("__name__", "latency_seconds_bucket"), ("job", "api"), ("le", "0.1")],
            vec![("__name__", "latency_seconds_bucket"), ("job", "api"), ("le", "1")],
            vec![("__name__", "latency_seconds_bucket"), ("job", "api"), ("le", "+Inf")],
        ];
        for (n, pairs) in series.iter().enumerate() {
            let labels = Labels::from_pairs(pairs.iter().copied());
            for i in 0..40i64 {
                if n == 3 && (10..15).contains(&i) {
                    continue;
                }
                let v = if n == 2 && i == 30 { promlite_storage::STALE_NAN } else { (i * (n as i64 + 1)) as f64 };
                app.append(&labels, i * 15_000, v).expect("appending a fuzz sample");
            }
        }
        app.commit().expect("committing the fuzz samples");
        db
    })
}

/// The depth of a tree, counted without recursing.
fn depth(expr: &Expr) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(expr, 0)];
    while let Some((expr, level)) = stack.pop() {
        deepest = deepest.max(level);
        let children: Vec<&Expr> = match expr {
            Expr::Aggregate(a) => a.param.iter().map(|p| &**p).chain([&*a.expr]).collect(),
            Expr::Unary(u) => vec![&u.expr],
            Expr::Binary(b) => vec![&b.lhs, &b.rhs],
            Expr::Paren(p) => vec![&p.expr],
            Expr::Subquery(s) => vec![&s.expr],
            Expr::Call(c) => c.args.args.iter().map(|a| &**a).collect(),
            _ => vec![],
        };
        stack.extend(children.into_iter().map(|child| (child, level + 1)));
    }
    deepest
}

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let expr = match parse(&query) {
        Ok(expr) => expr,
        Err(err) => {
            let text = err.to_string();
            assert!(text.len() < 400, "an error of {} bytes", text.len());
            return;
        }
    };
    assert!(depth(&expr) <= MAX_DEPTH, "a tree {} deep was accepted", depth(&expr));
    let printed = expr.to_string();
    for (how, text) in [("printed", printed.clone()), ("prettified", expr.prettify())] {
        let again = parse(&text).unwrap_or_else(|err| panic!("{how} {text:?} does not parse: {err}"));
        assert_eq!(again.to_string(), printed, "{how} {text:?} parses to something else");
    }
    let engine = Engine::new(EngineOptions {
        lookback_delta_ms: 300_000,
        max_samples: 5_000,
        timeout: Duration::from_millis(50),
    });
    let _ = engine.instant_query(db(), &query, 300_000);
    let _ = engine.range_query(db(), &query, 0, 600_000, 60_000);
});
