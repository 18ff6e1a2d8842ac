//! The Prometheus text format: lines, values and timestamps, errors that say line, column and
//! what, and `le`/`quantile` normalised by family type.

use super::*;

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
