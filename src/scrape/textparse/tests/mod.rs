//! Tests for the exposition parsers, a module per behaviour:
//! - `text`: one table per grammar rule and error of the Prometheus text format;
//! - `openmetrics`: the same for OpenMetrics, and Go's float formatting;
//! - `corpus`: the upstream corpus (read from `../shared/upstream` at test time, skipped with a
//!   message when absent) and real node-exporter output;
//! - `properties`: a round-trip property test and a never-panics property test;
//! - `negotiate`: the Accept header, the parser chosen for a Content-Type, and sniffing.
//!
//! This file holds the `check` helper they share: a body in, its entries rendered one a line.

mod corpus;
mod negotiate;
mod openmetrics;
mod properties;
mod text;

use std::fmt::Write as _;

use super::*;

/// Renders every entry of `body` (samples with their parsed labels), or the first error.
fn check(format: Format, body: &str) -> String {
    let mut out = Vec::new();
    for entry in Parser::new(body.as_bytes(), format) {
        let line = match entry {
            Err(err) => format!("error: {err}"),
            Ok(Entry::Help { name, text }) => format!("HELP {name} {text:?}"),
            Ok(Entry::Type { name, kind }) => format!("TYPE {name} {}", kind.as_str()),
            Ok(Entry::Unit { name, unit }) => format!("UNIT {name} {unit}"),
            Ok(Entry::Sample(sample)) => match sample.labels() {
                Err(err) => format!("error: {err}"),
                Ok(series) => {
                    let mut text = format!("{}{{{}}} {:?}", series.name, render_labels(&series.labels), sample.value);
                    if let Some(ts) = sample.timestamp {
                        let _ = write!(text, " @{ts}");
                    }
                    if let Some(ex) = &sample.exemplar {
                        let _ = write!(text, " # {{{}}} {:?} {:?}", render_labels(&ex.labels), ex.value, ex.timestamp);
                    }
                    text
                }
            },
        };
        out.push(line);
    }
    out.join("\n")
}

fn render_labels(labels: &[(Cow<'_, str>, Cow<'_, str>)]) -> String {
    labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect::<Vec<_>>().join(",")
}

fn check_table(format: Format, cases: &[(&str, &str)]) {
    let mut failures = String::new();
    for (input, expected) in cases {
        let got = check(format, input);
        if got != *expected {
            let _ = writeln!(failures, "input:    {input:?}\nexpected: {expected}\ngot:      {got}\n");
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

const OM_FAMILY: &str = "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds histogram\n# UNIT rpc_seconds seconds\n\
    rpc_seconds_bucket{le=\"0.5\"} 3 # {trace_id=\"abc\"} 0.3 1726839814.5\n\
    rpc_seconds_bucket{le=\"+Inf\"} 4 1726839815.25 # {} 7\n\
    rpc_seconds_count 4\nrpc_seconds_sum 2.5\nrpc_seconds_created 1726839813.016\n# EOF\n";
