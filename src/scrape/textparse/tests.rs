//! Tests for the exposition parsers: one table per grammar rule and error, the upstream corpus
//! (read from `../shared/upstream` at test time, skipped with a message when absent), a
//! round-trip property test, a never-panics property test, and content negotiation.

use std::fmt::Write as _;

use proptest::prelude::*;

use super::*;
use crate::config::{DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS, DEFAULT_SCRAPE_PROTOCOLS, ScrapeProtocol};

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

#[test]
fn text_format_lines() {
    check_table(
        Format::PrometheusText,
        &[
            (
                "# HELP http_requests_total The total.\n# TYPE http_requests_total counter\n\
                 http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n",
                "HELP http_requests_total \"The total.\"\nTYPE http_requests_total counter\n\
                 http_requests_total{method=\"post\",code=\"200\"} 1027.0 @1395066363000",
            ),
            ("# a plain comment\n\n   \nup 1\n", "up{} 1.0"),
            ("#HELP up not metadata\n# HELPER x\n# HELP\nup 1", "up{} 1.0"),
            ("up 1\r\nx 2\r\n", "up{} 1.0\nx{} 2.0"),
            ("  up \t 1 \t 5 \t \n", "up{} 1.0 @5"),
            ("up{} 1\n", "up{} 1.0"),
            ("up{a=\"1\",} 1\n", "up{a=\"1\"} 1.0"),
            ("up { a = \"1\" , b=\"2\" } 1\n", "up{a=\"1\",b=\"2\"} 1.0"),
            ("up{a=\"1\" b=\"2\"} 1\n", "up{a=\"1\",b=\"2\"} 1.0"),
            ("up{a=\"1\"}1\n", "up{a=\"1\"} 1.0"),
            ("rule:sum_rate5m 3\n", "rule:sum_rate5m{} 3.0"),
            ("up{a=\"\"} 1\n", "up{a=\"\"} 1.0"),
            // Label value escapes: \\ \" \n; any other escape stays as written.
            (
                r#"m{p="C:\\dir",q="say \"hi\"",n="a\nb",o="\t"} 1"#,
                r#"m{p="C:\\dir",q="say \"hi\"",n="a\nb",o="\\t"} 1.0"#,
            ),
            // HELP unescapes only \\ and \n.
            ("# HELP m a\\\\b\\nc \\\"q\\\"\n", "HELP m \"a\\\\b\\nc \\\\\\\"q\\\\\\\"\""),
            ("# HELP m\n", "HELP m \"\""),
            ("# HELP m  two spaces\n", "HELP m \" two spaces\""),
            ("# TYPE m untyped\n", "TYPE m unknown"),
            // Quoted UTF-8 names (text format 1.0.0).
            ("{\"my.metric\",\"http.status\"=\"200\"} 1\n", "my.metric{http.status=\"200\"} 1.0"),
            ("{\"a\"=\"b\", \"my.metric\"} 1\n", "my.metric{a=\"b\"} 1.0"),
            ("{\"quote\\\"d\"} 1\n", "quote\"d{} 1.0"),
            (
                "# HELP \"my.metric\" Dots.\n# TYPE \"my.metric\" gauge\n",
                "HELP my.metric \"Dots.\"\nTYPE my.metric gauge",
            ),
            ("up{\"ünïcødé\"=\"✓\"} 1\n", "up{ünïcødé=\"✓\"} 1.0"),
        ],
    );
}

#[test]
fn text_format_values_and_timestamps() {
    check_table(
        Format::PrometheusText,
        &[
            (
                "a NaN\nb nan\nc +Inf\nd -inf\ne Infinity\nf -INFINITY\ng inf",
                "a{} NaN\nb{} NaN\nc{} inf\nd{} -inf\ne{} inf\nf{} -inf\ng{} inf",
            ),
            (
                "a 1e3\nb .5\nc 5.\nd -0\ne +7\nf 1.5E-3\ng 0.1",
                "a{} 1000.0\nb{} 0.5\nc{} 5.0\nd{} -0.0\ne{} 7.0\nf{} 0.0015\ng{} 0.1",
            ),
            ("a 123456789012345678\n", "a{} 1.2345678901234568e17"),
            ("a 1 0\n", "a{} 1.0 @0"),
            ("a 1 9223372036854775807\n", "a{} 1.0 @9223372036854775807"),
            ("a 1_000\n", "error: line 1, column 3: invalid sample value \"1_000\" in \"a 1_000\""),
            ("a 0x1p3\n", "error: line 1, column 3: invalid sample value \"0x1p3\" in \"a 0x1p3\""),
            ("a 0x10\n", "error: line 1, column 3: invalid sample value \"0x10\" in \"a 0x10\""),
            ("a 1e400\n", "error: line 1, column 3: invalid sample value \"1e400\" in \"a 1e400\""),
            ("a +nan\n", "error: line 1, column 3: invalid sample value \"+nan\" in \"a +nan\""),
            ("a infinit\n", "error: line 1, column 3: invalid sample value \"infinit\" in \"a infinit\""),
            ("a .\n", "error: line 1, column 3: invalid sample value \".\" in \"a .\""),
            ("a\n", "error: line 1, column 2: invalid sample value \"\" in \"a\""),
            ("a 1 -5\n", "error: line 1, column 5: invalid timestamp \"-5\" in \"a 1 -5\""),
            ("a 1 1.5\n", "error: line 1, column 5: invalid timestamp \"1.5\" in \"a 1 1.5\""),
            (
                "a 1 99999999999999999999\n",
                "error: line 1, column 5: invalid timestamp \"99999999999999999999\" in \"a 1 99999999999999999999\"",
            ),
            ("a 1 2 3\n", "error: line 1, column 7: unexpected \"3\" at the end of the sample in \"a 1 2 3\""),
            ("a 1{\n", "error: line 1, column 4: invalid timestamp \"{\" in \"a 1{\""),
        ],
    );
    let nan = Parser::new(b"a NaN\n", Format::PrometheusText).next().unwrap().unwrap();
    let Entry::Sample(sample) = nan else { panic!("expected a sample, got {nan:?}") };
    assert_eq!(sample.value.to_bits(), NORMAL_NAN.to_bits(), "NaN is stored as Prometheus's normal NaN");
}

#[test]
fn text_format_errors_say_line_column_and_what() {
    check_table(
        Format::PrometheusText,
        &[
            (
                "up 1\nfoo{le 1}\n",
                "up{} 1.0\nerror: line 2, column 8: expected '=' after label name \"le\" in \"foo{le 1}\"",
            ),
            (
                "a{b=\"1\",b=\"2\"} 1",
                "error: line 1, column 9: duplicate label name \"b\" in \"a{b=\\\"1\\\",b=\\\"2\\\"} 1\"",
            ),
            (
                "a{__name__=\"b\"} 1",
                "error: line 1, column 1: duplicate label name \"__name__\" in \"a{__name__=\\\"b\\\"} 1\"",
            ),
            ("a{\"\"=\"b\"} 1", "error: line 1, column 3: empty label name in \"a{\\\"\\\"=\\\"b\\\"} 1\""),
            (
                "{a=\"b\"} 1",
                "error: line 1, column 1: metric name not set: a series starting with '{' needs a quoted name inside the braces in \"{a=\\\"b\\\"} 1\"",
            ),
            ("a{\"b\"} 1", "error: line 1, column 2: metric name already set in \"a{\\\"b\\\"} 1\""),
            ("{\"a\",\"b\"} 1", "error: line 1, column 6: metric name already set in \"{\\\"a\\\",\\\"b\\\"} 1\""),
            (
                "a{b=\"1\" 1",
                "error: line 1, column 9: expected ',' or '}' after label \"b\", got \"1\" in \"a{b=\\\"1\\\" 1\"",
            ),
            ("a{b=\"1} 1", "error: line 1, column 5: unterminated quoted string in \"a{b=\\\"1} 1\""),
            ("a{b=\"1\",", "error: line 1, column 9: expected label name, got \"\" in \"a{b=\\\"1\\\",\""),
            ("a{b=1} 1", "error: line 1, column 5: expected '\"' to start the value of label \"b\" in \"a{b=1} 1\""),
            ("a{,} 1", "error: line 1, column 3: expected label name, got \",} 1\" in \"a{,} 1\""),
            (
                "a{b=\"1\";} 1",
                "error: line 1, column 8: expected ',' or '}' after label \"b\", got \";} 1\" in \"a{b=\\\"1\\\";} 1\"",
            ),
            (
                "a{b-c=\"1\"} 1",
                "error: line 1, column 4: expected '=' after label name \"b\" in \"a{b-c=\\\"1\\\"} 1\"",
            ),
            ("# TYPE a countr", "error: line 1, column 10: invalid metric type \"countr\" in \"# TYPE a countr\""),
            (
                "# TYPE a  counter",
                "error: line 1, column 10: invalid metric type \" counter\" in \"# TYPE a  counter\"",
            ),
            (
                "# TYPE a gaugehistogram",
                "error: line 1, column 10: invalid metric type \"gaugehistogram\" in \"# TYPE a gaugehistogram\"",
            ),
            ("# HELP 9a x", "error: line 1, column 8: expected metric name, got \"9a x\" in \"# HELP 9a x\""),
            ("9a 1", "error: line 1, column 1: expected metric name, got \"9a 1\" in \"9a 1\""),
            ("ok 1\n\n  -a 1", "ok{} 1.0\nerror: line 3, column 3: expected metric name, got \"-a 1\" in \"  -a 1\""),
        ],
    );
}

#[test]
fn invalid_utf8_is_located() {
    let body = b"up 1\nbad{a=\"\xff\"} 1\n";
    let err = Parser::new(body, Format::PrometheusText).find_map(Result::err).expect("an error");
    assert_eq!(err.to_string(), "line 2, column 8: invalid UTF-8 in \"bad{a=\\\"\u{fffd}\\\"} 1\"");
}

#[test]
fn long_lines_are_truncated_in_errors() {
    let body = format!("a{{b=\"{}\"}} x", "v".repeat(500));
    let err = Parser::new(body.as_bytes(), Format::PrometheusText).find_map(Result::err).expect("an error");
    assert_eq!(err.col, 509);
    assert_eq!(err.context.as_deref().map(str::len), Some(CONTEXT_BYTES));
}

#[test]
fn le_and_quantile_are_normalized_by_family_type() {
    check_table(
        Format::PrometheusText,
        &[
            (
                "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+inf\"} 1\nh_bucket{le=\"1e6\"} 1\nh_bucket{le=\"x\"} 1",
                "TYPE h histogram\nh_bucket{le=\"1.0\"} 1.0\nh_bucket{le=\"+Inf\"} 1.0\nh_bucket{le=\"1e+06\"} 1.0\nh_bucket{le=\"x\"} 1.0",
            ),
            ("# TYPE s summary\ns{quantile=\"0.50\"} 1", "TYPE s summary\ns{quantile=\"0.5\"} 1.0"),
            ("# TYPE g gauge\ng{le=\"1\"} 1", "TYPE g gauge\ng{le=\"1\"} 1.0"),
            ("h_bucket{le=\"1\"} 1", "h_bucket{le=\"1\"} 1.0"),
        ],
    );
}

#[test]
fn openmetrics_float_formatting_matches_go() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1.0"),
        (0.5, "0.5"),
        (0.0, "0.0"),
        (-2.5, "-2.5"),
        (100000.0, "100000.0"),
        (1e6, "1e+06"),
        (123456789.0, "1.23456789e+08"),
        (1234.5, "1234.5"),
        (0.001, "0.001"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (1e21, "1e+21"),
        (2.5e-310, "2.5e-310"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (f64::INFINITY, "+Inf"),
        (f64::NEG_INFINITY, "-Inf"),
        (f64::NAN, "NaN"),
    ];
    for (value, expected) in cases {
        assert_eq!(format_openmetrics_float(*value), *expected, "formatting {value:?}");
    }
}

const OM_FAMILY: &str = "# HELP rpc_seconds RPC latency.\n# TYPE rpc_seconds histogram\n# UNIT rpc_seconds seconds\n\
    rpc_seconds_bucket{le=\"0.5\"} 3 # {trace_id=\"abc\"} 0.3 1726839814.5\n\
    rpc_seconds_bucket{le=\"+Inf\"} 4 1726839815.25 # {} 7\n\
    rpc_seconds_count 4\nrpc_seconds_sum 2.5\nrpc_seconds_created 1726839813.016\n# EOF\n";

#[test]
fn openmetrics_lines() {
    check_table(
        Format::OpenMetrics,
        &[
            (
                OM_FAMILY,
                "HELP rpc_seconds \"RPC latency.\"\nTYPE rpc_seconds histogram\nUNIT rpc_seconds seconds\n\
                 rpc_seconds_bucket{le=\"0.5\"} 3.0 # {trace_id=\"abc\"} 0.3 Some(1726839814500)\n\
                 rpc_seconds_bucket{le=\"+Inf\"} 4.0 @1726839815250 # {} 7.0 None\n\
                 rpc_seconds_count{} 4.0\nrpc_seconds_sum{} 2.5\nrpc_seconds_created{} 1726839813.016",
            ),
            ("# EOF", ""),
            ("# EOF\n", ""),
            (
                "# TYPE a gaugehistogram\n# TYPE b stateset\n# TYPE c info\n# TYPE d unknown\n# EOF\n",
                "TYPE a gaugehistogram\nTYPE b stateset\nTYPE c info\nTYPE d unknown",
            ),
            ("# HELP a \n# UNIT a \n# EOF\n", "HELP a \"\"\nUNIT a "),
            ("# HELP a x \\\"y\\\" \\\\ \\n\n# EOF\n", "HELP a \"x \\\"y\\\" \\\\ \\n\""),
            ("a{b=\"c\",} 1 -1.5\n# EOF\n", "a{b=\"c\"} 1.0 @-1500"),
            ("{\"a.b\",\"c.d\"=\"e\"} 1\n# EOF\n", "a.b{c.d=\"e\"} 1.0"),
            ("a 1\n", "a{} 1.0\nerror: line 2, column 1: data does not end with # EOF"),
            ("a 1", "error: line 1, column 4: data does not end with # EOF in \"a 1\""),
            ("# EOF\na 1\n", "error: line 2, column 1: unexpected data after # EOF"),
            ("# EOF\n\n", "error: line 2, column 1: unexpected data after # EOF"),
            ("a 1\n\n# EOF\n", "a{} 1.0\nerror: line 2, column 1: blank line (OpenMetrics allows none)"),
            (
                "# a comment\n# EOF\n",
                "error: line 1, column 1: invalid comment: OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF in \"# a comment\"",
            ),
            (
                "# TYPE a untyped\n# EOF\n",
                "error: line 1, column 10: invalid metric type \"untyped\" in \"# TYPE a untyped\"",
            ),
            (
                "# HELP a\n# EOF\n",
                "error: line 1, column 9: expected text after the metric name in # HELP in \"# HELP a\"",
            ),
            (
                "# UNIT a_bytes seconds\n# EOF\n",
                "error: line 1, column 16: unit \"seconds\" is not a suffix of metric \"a_bytes\" in \"# UNIT a_bytes seconds\"",
            ),
            (
                "# UNIT abytes bytes\n# EOF\n",
                "error: line 1, column 15: unit \"bytes\" is not a suffix of metric \"abytes\" in \"# UNIT abytes bytes\"",
            ),
            (
                "a  1\n# EOF\n",
                "error: line 1, column 2: expected a single space before the value, got \"  1\" in \"a  1\"",
            ),
            (
                "a\t1\n# EOF\n",
                "error: line 1, column 2: expected a single space before the value, got \"\\t1\" in \"a\\t1\"",
            ),
            (
                "a 1 \n# EOF\n",
                "error: line 1, column 5: expected a single space before the timestamp, got \" \" in \"a 1 \"",
            ),
            (
                "a {b=\"c\"} 1\n# EOF\n",
                "error: line 1, column 3: invalid sample value \"{b=\\\"c\\\"}\" in \"a {b=\\\"c\\\"} 1\"",
            ),
            (
                "a{b=\"c\", d=\"e\"} 1\n# EOF\n",
                "error: line 1, column 9: expected label name, got \" d=\\\"e\\\"} 1\" in \"a{b=\\\"c\\\", d=\\\"e\\\"} 1\"",
            ),
            (
                "a{b=\"c\" } 1\n# EOF\n",
                "error: line 1, column 8: expected ',' or '}' after label \"b\", got \" } 1\" in \"a{b=\\\"c\\\" } 1\"",
            ),
            ("a 1 NaN\n# EOF\n", "error: line 1, column 5: invalid timestamp \"NaN\" in \"a 1 NaN\""),
            ("a 1 2 3\n# EOF\n", "error: line 1, column 6: unexpected \" 3\" at the end of the sample in \"a 1 2 3\""),
            (
                "a 1 # x\n# EOF\n",
                "error: line 1, column 7: invalid exemplar: expected '{' after \" # \" in \"a 1 # x\"",
            ),
            (
                "a 1 # {\"x\"} 1\n# EOF\n",
                "error: line 1, column 8: expected '=' after label name \"x\" in \"a 1 # {\\\"x\\\"} 1\"",
            ),
            (
                "a 1 # {x=\"y\"}\n# EOF\n",
                "error: line 1, column 14: expected a single space before the exemplar value, got \"\" in \"a 1 # {x=\\\"y\\\"}\"",
            ),
            (
                "a 1 # {x=\"y\"} 1 2 3\n# EOF\n",
                "error: line 1, column 18: unexpected \" 3\" at the end of the sample in \"a 1 # {x=\\\"y\\\"} 1 2 3\"",
            ),
        ],
    );
}

/// The upstream test data directory, or `None` (with a message) when `../shared` is absent.
fn upstream_testdata() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/upstream/prometheus-v3.14.0/model/textparse/testdata"
    ));
    if dir.is_dir() {
        Some(dir.to_owned())
    } else {
        eprintln!("skipped: upstream test data not found at {}", dir.display());
        None
    }
}

/// Every upstream test file parses completely, labels included, and yields one sample per
/// line that is neither blank nor a comment (counted independently of the parser).
#[test]
fn upstream_corpus_parses_completely() {
    let Some(dir) = upstream_testdata() else { return };
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).expect("listing the upstream test data") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let format = if name.ends_with(".prom.txt") {
            Format::PrometheusText
        } else if name.ends_with(".om.txt") {
            Format::OpenMetrics
        } else {
            continue;
        };
        let body = std::fs::read(&path).expect("reading an upstream test file");
        let text = String::from_utf8_lossy(&body);
        let expected = text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).count();
        let mut samples = 0;
        let mut families = 0;
        for entry in Parser::new(&body, format) {
            match entry {
                Ok(Entry::Sample(sample)) => {
                    sample.labels().unwrap_or_else(|err| panic!("{name}: {err}"));
                    samples += 1;
                }
                Ok(Entry::Type { .. }) => families += 1,
                Ok(_) => {}
                Err(err) => panic!("{name}: {err}"),
            }
        }
        assert_eq!(samples, expected, "{name}: samples");
        assert!(samples > 0, "{name}: no samples");
        if !name.contains("nometa") {
            assert!(families > 0, "{name}: no families");
        }
        files += 1;
    }
    assert!(files >= 4, "expected the four upstream files, found {files}");
}

/// The exemplars of the upstream OpenMetrics histogram come out with their labels and values.
#[test]
fn upstream_exemplars_are_exposed() {
    let Some(dir) = upstream_testdata() else { return };
    let body = std::fs::read(dir.join("alltypes.5mfs.om.txt")).expect("reading alltypes.5mfs.om.txt");
    let text = String::from_utf8_lossy(&body);
    let expected = text.lines().filter(|l| l.contains(" # {")).count();
    let exemplars: Vec<Exemplar<'_>> = Parser::new(&body, Format::OpenMetrics)
        .filter_map(|e| match e.expect("valid OpenMetrics") {
            Entry::Sample(sample) => sample.exemplar,
            _ => None,
        })
        .collect();
    assert_eq!(exemplars.len(), expected);
    assert!(expected > 0);
    assert!(exemplars.iter().all(|e| e.labels.len() == 1 && e.labels[0].0 == "dummyID" && e.timestamp.is_some()));
}

/// One generated sample: name, labels, value, timestamp.
#[derive(Debug, Clone)]
struct GenSample {
    name: String,
    quoted_name: bool,
    labels: Vec<(String, String)>,
    value: f64,
    timestamp: Option<i64>,
}

fn escape_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn gen_sample() -> impl Strategy<Value = GenSample> {
    let name = prop_oneof![
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}".prop_map(|n| (n, false)),
        "[a-z.\\-/ é✓]{1,10}".prop_map(|n| (n, true)),
    ];
    let labels = proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", any::<String>(), 0..5);
    let value = prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (0u64..1_000_000).prop_map(|v| v as f64)
    ];
    (name, labels, value, proptest::option::of(0i64..4_000_000_000)).prop_map(
        |((name, quoted_name), labels, value, timestamp)| GenSample {
            name,
            quoted_name,
            labels: labels.into_iter().filter(|(n, _)| n != "__name__").collect(),
            value,
            timestamp,
        },
    )
}

/// Writes `samples` in `format`; OpenMetrics timestamps are whole seconds so that the
/// seconds-to-milliseconds conversion is exact.
fn expose(format: Format, samples: &[GenSample]) -> String {
    let mut out = String::new();
    for sample in samples {
        let labels: Vec<String> = sample.labels.iter().map(|(n, v)| format!("{n}=\"{}\"", escape_value(v))).collect();
        let quoted_type_name = if sample.quoted_name { format!("\"{}\"", sample.name) } else { sample.name.clone() };
        let _ = writeln!(out, "# TYPE {quoted_type_name} gauge");
        if sample.quoted_name {
            let mut parts = vec![format!("\"{}\"", sample.name)];
            parts.extend(labels);
            let _ = write!(out, "{{{}}}", parts.join(","));
        } else {
            let _ = write!(out, "{}{{{}}}", sample.name, labels.join(","));
        }
        let _ = write!(out, " {:?}", sample.value);
        match (format, sample.timestamp) {
            (Format::PrometheusText, Some(ts)) => {
                let _ = write!(out, " {ts}");
            }
            (Format::OpenMetrics, Some(ts)) => {
                let _ = write!(out, " {}", ts / 1000);
            }
            (_, None) => {}
        }
        out.push('\n');
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn round_trip(format: Format, samples: &[GenSample]) -> Result<(), TestCaseError> {
    let body = expose(format, samples);
    let mut parsed = Vec::new();
    for entry in Parser::new(body.as_bytes(), format) {
        let entry = entry.map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
        if let Entry::Sample(sample) = entry {
            let series = sample.labels().map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
            let labels: Vec<(String, String)> =
                series.labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            parsed.push((series.name.to_string(), labels, sample.value, sample.timestamp));
        }
    }
    prop_assert_eq!(parsed.len(), samples.len());
    for (sample, (name, labels, value, timestamp)) in samples.iter().zip(parsed) {
        prop_assert_eq!(&name, &sample.name);
        prop_assert_eq!(&labels, &sample.labels);
        prop_assert!(value.to_bits() == sample.value.to_bits() || (value.is_nan() && sample.value.is_nan()));
        let expected_ts = match format {
            Format::PrometheusText => sample.timestamp,
            Format::OpenMetrics => sample.timestamp.map(|ts| ts / 1000 * 1000),
        };
        prop_assert_eq!(timestamp, expected_ts);
    }
    Ok(())
}

proptest! {
    #[test]
    fn text_format_round_trips(samples in proptest::collection::vec(gen_sample(), 0..8)) {
        round_trip(Format::PrometheusText, &samples)?;
    }

    #[test]
    fn openmetrics_round_trips(samples in proptest::collection::vec(gen_sample(), 0..8)) {
        round_trip(Format::OpenMetrics, &samples)?;
    }

    /// Arbitrary bytes, and mutations of a valid body, give entries or an error, never a panic.
    #[test]
    fn any_input_parses_or_fails_cleanly(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        cut in 0usize..400,
        byte in any::<u8>(),
    ) {
        let mut mutated = OM_FAMILY.as_bytes().to_vec();
        let at = cut % mutated.len();
        mutated[at] = byte;
        for input in [&body[..], &mutated[..], &OM_FAMILY.as_bytes()[..cut.min(OM_FAMILY.len())]] {
            for format in [Format::PrometheusText, Format::OpenMetrics] {
                for entry in Parser::new(input, format) {
                    if let Ok(Entry::Sample(sample)) = entry {
                        let _ = sample.labels();
                    }
                }
            }
            let _ = sniff(input);
        }
    }
}

#[test]
fn accept_header_is_prometheus_3s() {
    assert_eq!(
        accept_header(&DEFAULT_SCRAPE_PROTOCOLS, "allow-utf-8"),
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,\
         application/openmetrics-text;version=0.0.1;q=0.4,\
         text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,\
         text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    );
    assert_eq!(
        accept_header(&DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS, "underscores"),
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,\
         application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,\
         application/openmetrics-text;version=0.0.1;q=0.4,\
         text/plain;version=1.0.0;escaping=underscores;q=0.3,\
         text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    );
    assert_eq!(
        accept_header(&[ScrapeProtocol::PrometheusText0_0_4], "allow-utf-8"),
        "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    );
}

#[test]
fn parser_is_chosen_like_prometheus_3() {
    let text_body = b"# TYPE up gauge\nup 1\n";
    let om_body = b"up 1\n# EOF\n";
    let html = b"<!DOCTYPE html><html><body>Not found</body></html>";
    // Content-Type, body, fallback_scrape_protocol, and the outcome.
    type Case<'a> = (Option<&'a str>, &'a [u8], Option<ScrapeProtocol>, String);
    let cases: Vec<Case<'_>> = vec![
        (Some("text/plain; version=0.0.4; charset=utf-8"), text_body, None, "PrometheusText".into()),
        (Some("TEXT/PLAIN"), text_body, None, "PrometheusText".into()),
        (Some("text/plain;version=1.0.0;escaping=allow-utf-8"), text_body, None, "PrometheusText".into()),
        (Some("application/openmetrics-text; version=1.0.0; charset=utf-8"), om_body, None, "OpenMetrics".into()),
        (
            Some("application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"),
            b"",
            None,
            "error: Content-Type application/vnd.google.protobuf (PrometheusProto) is not supported yet; remove PrometheusProto from scrape_protocols and fallback_scrape_protocol".into(),
        ),
        (
            None,
            om_body,
            Some(ScrapeProtocol::PrometheusText0_0_4),
            "PrometheusText, warning: non-compliant scrape target sending blank Content-Type, using fallback_scrape_protocol \"PrometheusText0.0.4\"".into(),
        ),
        (
            Some("text/html"),
            text_body,
            Some(ScrapeProtocol::OpenMetricsText1_0_0),
            "OpenMetrics, warning: received unsupported Content-Type \"text/html\", using fallback_scrape_protocol \"OpenMetricsText1.0.0\"".into(),
        ),
        (
            Some("text/plain; version"),
            text_body,
            Some(ScrapeProtocol::PrometheusText1_0_0),
            "PrometheusText, warning: could not parse received Content-Type \"text/plain; version\", using fallback_scrape_protocol \"PrometheusText1.0.0\"".into(),
        ),
        (
            Some("text/html; charset=utf-8"),
            text_body,
            None,
            "PrometheusText, warning: received unsupported Content-Type \"text/html; charset=utf-8\"; the body looks like text/plain, parsed as such (set fallback_scrape_protocol, or fix the target's Content-Type)".into(),
        ),
        (
            Some(""),
            om_body,
            None,
            "OpenMetrics, warning: non-compliant scrape target sending blank Content-Type; the body looks like application/openmetrics-text, parsed as such (set fallback_scrape_protocol, or fix the target's Content-Type)".into(),
        ),
        (
            Some("text/html"),
            html,
            None,
            "error: received unsupported Content-Type \"text/html\" and no fallback_scrape_protocol specified for target; the body is in no exposition format either".into(),
        ),
        (
            None,
            b"{\"status\":\"ok\"}",
            None,
            "error: non-compliant scrape target sending blank Content-Type and no fallback_scrape_protocol specified for target; the body is in no exposition format either".into(),
        ),
        (
            None,
            b"",
            Some(ScrapeProtocol::PrometheusProto),
            "error: Content-Type application/vnd.google.protobuf (PrometheusProto) is not supported yet; remove PrometheusProto from scrape_protocols and fallback_scrape_protocol".into(),
        ),
    ];
    for (content_type, body, fallback, expected) in cases {
        let got = match parser_for(content_type, body, fallback) {
            Ok((format, None)) => format!("{format:?}"),
            Ok((format, Some(warning))) => format!("{format:?}, warning: {warning}"),
            Err(err) => format!("error: {err}"),
        };
        assert_eq!(got, expected, "Content-Type {content_type:?}");
    }
}

#[test]
fn sniffing_tells_formats_apart() {
    assert_eq!(sniff(b""), Some(Format::PrometheusText));
    assert_eq!(sniff(b"# HELP a b\n# TYPE a gauge\na{b=\"c\"} 1\n"), Some(Format::PrometheusText));
    assert_eq!(sniff(b"a 1\n# EOF\n\n"), Some(Format::OpenMetrics));
    assert_eq!(sniff(b"# EOF"), Some(Format::OpenMetrics));
    assert_eq!(sniff(b"Not Found\n"), None);
    assert_eq!(sniff(b"<html></html>"), None);
    assert_eq!(sniff(b"\x0a\x0b\x00\xff protobuf"), None);
    assert_eq!(sniff(b"a{b=\"1\",b=\"2\"} 1\n"), None);
    // Only the head is read: a bad line far down is the parser's business, not the sniffer's.
    let mut long = "up 1\n".repeat(1000);
    long.push_str("bad line\n");
    assert_eq!(sniff(long.as_bytes()), Some(Format::PrometheusText));
}

/// Real exporter output: Debian's `prometheus-node-exporter`, when installed (nothing here
/// installs it), served on loopback and fetched over HTTP; its Content-Type picks the parser and
/// every sample's labels parse. Skipped with a message when the binary is absent.
#[test]
fn node_exporter_output_parses() {
    use std::io::{Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    let Some(binary) = ["prometheus-node-exporter", "node_exporter"].iter().find_map(|name| {
        std::env::var_os("PATH")?
            .to_str()?
            .split(':')
            .map(|dir| std::path::Path::new(dir).join(name))
            .find(|path| path.is_file())
    }) else {
        eprintln!("skipped: no prometheus-node-exporter or node_exporter on PATH");
        return;
    };
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let address = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(&binary)
        .arg(format!("--web.listen-address={address}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting node exporter");
    let deadline = Instant::now() + Duration::from_secs(10);
    let response = loop {
        let attempt = TcpStream::connect(&address).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream
                .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\nAccept: text/plain;version=0.0.4\r\n\r\n")?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response)?;
            Ok(response)
        });
        match attempt {
            Ok(response) => break response,
            Err(err) if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("node exporter at {address} did not answer within 10s: {err}");
            }
            Err(_) => std::thread::yield_now(),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let body = &response[split + 4..];
    let content_type = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim()));
    let (format, warning) = parser_for(content_type, body, None).expect("a text exposition format");
    assert_eq!(warning, None, "node exporter sends a proper Content-Type: {head}");
    let mut samples = 0;
    for entry in Parser::new(body, format) {
        if let Entry::Sample(sample) = entry.expect("node exporter output parses") {
            sample.labels().expect("node exporter labels parse");
            samples += 1;
        }
    }
    assert!(samples > 50, "only {samples} samples from node exporter");
}
