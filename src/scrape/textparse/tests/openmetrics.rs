//! OpenMetrics: float formatting as Go's, and one table of lines (exemplars, `_created`, units,
//! `# EOF`) and errors.

use super::*;

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
