//! Every case of upstream `template/template_test.go` (`TestTemplateExpansion`, Prometheus
//! 3.14), re-expressed as data: template text, input data, query result, option, and the
//! expected output or error. The seven `html: true` cases exercise `ExpandHTML`
//! (`html/template`), which promlite does not implement; they stay in the table, marked, so the
//! count below covers the whole upstream list.

use std::collections::BTreeMap;

use crate::exec::MissingKey;
use crate::value::{HistogramValue, IntTy, ListTy, Sample, SampleValue, UintTy, Value};
use crate::{Expander, QuerySample};

/// What the case feeds the template as dot.
enum Input {
    None,
    Floats(&'static [f64]),
    Strings(&'static [&'static str]),
    Ints(&'static [i64]),
    Int64s(&'static [i64]),
    Uints(&'static [u64]),
    Uint64s(&'static [u64]),
    /// `&sample{Value: &histogram.FloatHistogram{Count: 3, Sum: 10}}`.
    HistogramSample,
}

enum Want {
    Output(&'static str),
    Error(&'static str),
    /// An `ExpandHTML` case; the reason says what it tests.
    Html(&'static str),
}

struct Case {
    text: &'static str,
    input: Input,
    /// `(labels, value)` pairs; a histogram value is Count 3, Sum 10.
    query: &'static [(&'static [(&'static str, &'static str)], Q)],
    /// Upstream's `options`: `None` is Prometheus's default (`missingkey=zero`).
    options: Option<MissingKey>,
    want: Want,
}

#[derive(Clone, Copy)]
enum Q {
    F(f64),
    H,
}

/// `(&histogram.FloatHistogram{Count: 3, Sum: 10}).String()`.
const HIST_STRING: &str = "{count:3, sum:10}";

fn histogram() -> HistogramValue {
    HistogramValue { count: 3.0, sum: 10.0, display: HIST_STRING.into() }
}

const fn case(text: &'static str, want: Want) -> Case {
    Case { text, input: Input::None, query: &[], options: None, want }
}

const fn with_input(text: &'static str, input: Input, want: Want) -> Case {
    Case { text, input, query: &[], options: None, want }
}

const fn with_query(
    text: &'static str,
    query: &'static [(&'static [(&'static str, &'static str)], Q)],
    want: Want,
) -> Case {
    Case { text, input: Input::None, query, options: None, want }
}

const METRIC_A: &[(&str, &str)] = &[("__name__", "metric"), ("instance", "a")];
const METRIC_B: &[(&str, &str)] = &[("__name__", "metric"), ("instance", "b")];

use Want::{Error, Html, Output};

#[rustfmt::skip]
const CASES: &[Case] = &[
    case("plain text", Output("plain text")),
    case("{{ 1 }}", Output("1")),
    with_input("{{ . | value }}", Input::HistogramSample, Output(HIST_STRING)),
    case("{{\u{a0}}}", Error("error parsing template test: template: test:1: unrecognized character in action: U+00A0")),
    case("{{ \"<b>\" }}", Html("HTML escaping")),
    case("{{ \"<b>\" | safeHtml }}", Html("disabling HTML escaping")),
    case("{{ \"<b>\" }}", Output("<b>")),
    case("{{define \"x\"}}{{.arg0}} {{.arg1}}{{end}}{{template \"x\" (args 1 \"2\")}}", Output("1 2")),
    with_query("{{ query \"1.5\" | first | value }}", &[(&[], Q::F(1.5))], Output("1.5")),
    with_query("{{ query \"metric{instance='a'}\" | first | value }}", &[(METRIC_A, Q::F(11.0))], Output("11")),
    with_query("{{ query \"metric{instance='a'}\" | first | value }}", &[(METRIC_A, Q::H)], Output(HIST_STRING)),
    with_query("{{ query \"metric{instance='a'}\" | first | label \"instance\" }}", &[(METRIC_A, Q::F(11.0))], Output("a")),
    with_query("{{ query \"metric{__value__='a'}\" | first | strvalue }}", &[(&[("__name__", "metric"), ("__value__", "a")], Q::F(11.0))], Output("a")),
    with_query("{{ query \"metric{instance='a'}\" | first | label \"foo\" }}", &[(METRIC_A, Q::F(11.0))], Output("")),
    with_query("{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}", &[(METRIC_A, Q::F(11.0))], Output("")),
    with_query("{{ $x := query \"metric\" | first }}{{ $x.Labels.foo }}", &[(METRIC_A, Q::F(11.0))], Html("missing label in ExpandHTML")),
    with_query("{{ range query \"metric\" | sortByLabel \"instance\" }}{{.Labels.instance}}:{{.Value}}: {{end}}", &[(METRIC_B, Q::F(21.0)), (METRIC_A, Q::F(11.0))], Output("a:11: b:21: ")),
    case("{{ \"foo.example.com\" | stripPort }}", Output("foo.example.com")),
    case("{{ \"foo.example.com:12345\" | stripPort }}", Output("foo.example.com")),
    case("{{ \"192.0.2.1\" | stripPort }}", Output("192.0.2.1")),
    case("{{ \"192.0.2.1:12345\" | stripPort }}", Output("192.0.2.1")),
    case("{{ \"2001:0DB8::1\" | stripPort }}", Output("2001:0DB8::1")),
    case("{{ \"[2001:0DB8::1]:12345\" | stripPort }}", Output("2001:0DB8::1")),
    case("{{ \"[2001:0DB8::1]::12345\" | stripPort }}", Output("[2001:0DB8::1]::12345")),
    case("{{ .Foo }}", Output("<no value>")),
    Case { text: "{{ .Foo }}", input: Input::None, query: &[], options: Some(MissingKey::Default), want: Output("<no value>") },
    Case { text: "{{ .Foo }}", input: Input::None, query: &[], options: Some(MissingKey::Error), want: Error("error executing template test: template: test:1:3: executing \"test\" at <.Foo>: nil data; no entry for key \"Foo\"") },
    case("{{ .Foo }}", Html("missing value in ExpandHTML")),
    Case { text: "{{ .Foo }}", input: Input::None, query: &[], options: Some(MissingKey::Default), want: Html("missing value in ExpandHTML, no options") },
    Case { text: "{{ .Foo }}", input: Input::None, query: &[], options: Some(MissingKey::Error), want: Html("missingkey=error in ExpandHTML") },
    case("{{", Error("error parsing template test: template: test:1: unclosed action")),
    with_query("{{ query \"missing\" | first }}", &[], Error("error executing template test: template: test:1:21: executing \"test\" at <first>: error calling first: first() called on vector with no elements")),
    with_query("{{ (query \"missing\").banana }}", &[], Error("error executing template test: template: test:1:10: executing \"test\" at <\"missing\">: can't evaluate field banana in type template.queryResult")),
    case("{{ reReplaceAll \"(a)b\" \"x$1\" \"ab\" }}", Output("xa")),
    with_input("{{ range . }}{{ humanize . }}:{{ end }}", Input::Floats(&[0.0, 1.0, 1234567.0, 0.12]), Output("0:1:1.235M:120m:")),
    with_input("{{ range . }}{{ humanize . }}:{{ end }}", Input::Strings(&["0.0", "1.0", "1234567.0", ".12"]), Output("0:1:1.235M:120m:")),
    case("{{ humanize \"one\" }}", Error("error executing template test: template: test:1:3: executing \"test\" at <humanize \"one\">: error calling humanize: strconv.ParseFloat: parsing \"one\": invalid syntax")),
    with_input("{{ range . }}{{ humanize . }}:{{ end }}", Input::Int64s(&[0, -1, 1, 1234567, i64::MAX]), Output("0:-1:1:1.235M:9.223E:")),
    with_input("{{ range . }}{{ humanize . }}:{{ end }}", Input::Uint64s(&[0, 1, 1234567, u64::MAX]), Output("0:1:1.235M:18.45E:")),
    with_input("{{ range . }}{{ humanize1024 . }}:{{ end }}", Input::Floats(&[0.0, 1.0, 1048576.0, 0.12]), Output("0:1:1Mi:0.12:")),
    with_input("{{ range . }}{{ humanize1024 . }}:{{ end }}", Input::Strings(&["0.0", "1.0", "1048576.0", ".12"]), Output("0:1:1Mi:0.12:")),
    case("{{ humanize1024 \"one\" }}", Error("error executing template test: template: test:1:3: executing \"test\" at <humanize1024 \"one\">: error calling humanize1024: strconv.ParseFloat: parsing \"one\": invalid syntax")),
    with_input("{{ range . }}{{ humanize1024 . }}:{{ end }}", Input::Int64s(&[0, -1, 1, 1234567, i64::MAX]), Output("0:-1:1:1.177Mi:8Ei:")),
    with_input("{{ range . }}{{ humanize1024 . }}:{{ end }}", Input::Uint64s(&[0, 1, 1234567, u64::MAX]), Output("0:1:1.177Mi:16Ei:")),
    with_input("{{ range . }}{{ humanizeDuration . }}:{{ end }}", Input::Floats(&[0.0, 1.0, 60.0, 3600.0, 86400.0, 86400.0 + 3600.0, -(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0), 899.99]), Output("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:1d 1h 0m 0s:-2d 3h 4m 5s:14m 59s:")),
    with_input("{{ range . }}{{ humanizeDuration . }}:{{ end }}", Input::Strings(&["0", "1", "60", "3600", "86400"]), Output("0s:1s:1m 0s:1h 0m 0s:1d 0h 0m 0s:")),
    with_input("{{ range . }}{{ humanizeDuration . }}:{{ end }}", Input::Floats(&[0.1, 0.0001, 0.12345, 60.1, 60.5, 1.2345, 12.345]), Output("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:")),
    with_input("{{ range . }}{{ humanizeDuration . }}:{{ end }}", Input::Strings(&[".1", ".0001", ".12345", "60.1", "60.5", "1.2345", "12.345"]), Output("100ms:100us:123.5ms:1m 0s:1m 0s:1.234s:12.35s:")),
    case("{{ humanizeDuration \"one\" }}", Error("error executing template test: template: test:1:3: executing \"test\" at <humanizeDuration \"one\">: error calling humanizeDuration: strconv.ParseFloat: parsing \"one\": invalid syntax")),
    with_input("{{ range . }}{{ humanizeDuration . }}:{{ end }}", Input::Ints(&[0, -1, 1, 1234567]), Output("0s:-1s:1s:14d 6h 56m 7s:")),
    with_input("{{ range . }}{{ humanizeDuration . }}:{{ end }}", Input::Uints(&[0, 1, 1234567]), Output("0s:1s:14d 6h 56m 7s:")),
    with_input("{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}", Input::Floats(&[f64::INFINITY, f64::NEG_INFINITY, f64::NAN]), Output("+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:")),
    with_input("{{ range . }}{{ humanize . }}:{{ humanize1024 . }}:{{ humanizeDuration . }}:{{humanizeTimestamp .}}:{{ end }}", Input::Strings(&["+Inf", "-Inf", "NaN"]), Output("+Inf:+Inf:+Inf:+Inf:-Inf:-Inf:-Inf:-Inf:NaN:NaN:NaN:NaN:")),
    case("{{ -0.22222 | humanizePercentage }}:{{ 0.0 | humanizePercentage }}:{{ 0.1234567 | humanizePercentage }}:{{ 1.23456 | humanizePercentage }}", Output("-22.22%:0%:12.35%:123.5%")),
    with_input("{{ range . }}{{ humanizePercentage . }}:{{ end }}", Input::Int64s(&[0, -1, 1, 1234567, i64::MAX]), Output("0%:-100%:100%:1.235e+08%:9.223e+20%:")),
    with_input("{{ range . }}{{ humanizePercentage . }}:{{ end }}", Input::Uint64s(&[0, 1, 1234567, u64::MAX]), Output("0%:100%:1.235e+08%:1.845e+21%:")),
    case("{{ \"-0.22222\" | humanizePercentage }}:{{ \"0.0\" | humanizePercentage }}:{{ \"0.1234567\" | humanizePercentage }}:{{ \"1.23456\" | humanizePercentage }}", Output("-22.22%:0%:12.35%:123.5%")),
    case("{{ \"one\" | humanizePercentage }}", Error("error executing template test: template: test:1:11: executing \"test\" at <humanizePercentage>: error calling humanizePercentage: strconv.ParseFloat: parsing \"one\": invalid syntax")),
    with_input("{{ range . }}{{ humanizeTimestamp . }}:{{ end }}", Input::Int64s(&[0, -1, 1, 1234567, 9223372036]), Output("1970-01-01 00:00:00 +0000 UTC:1969-12-31 23:59:59 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:")),
    with_input("{{ range . }}{{ humanizeTimestamp . }}:{{ end }}", Input::Uint64s(&[0, 1, 1234567, 9223372036]), Output("1970-01-01 00:00:00 +0000 UTC:1970-01-01 00:00:01 +0000 UTC:1970-01-15 06:56:07 +0000 UTC:2262-04-11 23:47:16 +0000 UTC:")),
    with_input("{{ range . }}{{ humanizeTimestamp . }}:{{ end }}", Input::Int64s(&[i64::MIN, i64::MAX]), Error("error executing template test: template: test:1:16: executing \"test\" at <humanizeTimestamp .>: error calling humanizeTimestamp: -9.223372036854776e+18 cannot be represented as a nanoseconds timestamp since it overflows int64")),
    with_input("{{ range . }}{{ humanizeTimestamp . }}:{{ end }}", Input::Uint64s(&[u64::MAX]), Error("error executing template test: template: test:1:16: executing \"test\" at <humanizeTimestamp .>: error calling humanizeTimestamp: 1.8446744073709552e+19 cannot be represented as a nanoseconds timestamp since it overflows int64")),
    case("{{ 1435065584.128 | humanizeTimestamp }}", Output("2015-06-23 13:19:44.128 +0000 UTC")),
    case("{{ \"1435065584.128\" | humanizeTimestamp }}", Output("2015-06-23 13:19:44.128 +0000 UTC")),
    case("{{ (1435065584.128 | toTime).Format \"2006\" }}", Output("2015")),
    case("{{ (\"1435065584.128\" | toTime).Format \"2006\" }}", Output("2015")),
    case("{{ (1800 | toDuration).String }}", Output("30m0s")),
    case("{{ (\"1800\" | toDuration).String }}", Output("30m0s")),
    case("{{ now }}", Output("1.353755652e+09")),
    case("{{ (now | toTime).Format \"Mon Jan 2 15:04:05 2006\" }}", Output("Sat Nov 24 11:14:12 2012")),
    case("{{ (\"-30m\" | parseDuration | toDuration | (now | toTime).Add).UnixMilli }}", Output("1353753852000")),
    case("{{ \"aa bb CC\" | title }}", Output("Aa Bb CC")),
    case("{{ \"aa bb CC\" | toUpper }}", Output("AA BB CC")),
    case("{{ \"aA bB CC\" | toLower }}", Output("aa bb cc")),
    case("{{ match \"a+\" \"aa\" }} {{ match \"a+\" \"b\" }}", Output("true false")),
    case("{{ graphLink \"up\" }}", Output("/graph?g0.expr=up&g0.tab=0")),
    case("{{ tableLink \"up\" }}", Output("/graph?g0.expr=up&g0.tab=1")),
    case("{{ define \"a\" }}x{{ end }}{{ $name := \"a\"}}{{ tmpl $name . }}", Html("tmpl, a console-only function")),
    case("{{ pathPrefix }}", Output("/path/prefix")),
    case("{{ externalURL }}", Output("http://testhost:9090/path/prefix")),
    case("{{ printf \"%0.2f\" (parseDuration \"1h2m10ms\") }}", Output("3720.01")),
    case("{{ printf \"%0.2f\" (parseDuration \"-1h2m10ms\") }}", Output("-3720.01")),
    case("{{ \"foo.example.com\" | stripDomain }}", Output("foo")),
    case("{{ \"foo.example.com:12345\" | stripDomain }}", Output("foo:12345")),
    case("{{ \"192.0.2.1\" | stripDomain }}", Output("192.0.2.1")),
    case("{{ \"192.0.2.1:12345\" | stripDomain }}", Output("192.0.2.1:12345")),
    case("{{ \"2001:0DB8::1\" | stripDomain }}", Output("2001:0DB8::1")),
    case("{{ \"[2001:0DB8::1]:12345\" | stripDomain }}", Output("[2001:0DB8::1]:12345")),
    case("{{ \"[2001:0DB8::1]::12345\" | stripDomain }}", Output("[2001:0DB8::1]::12345")),
];

fn input_value(input: &Input) -> Value {
    match input {
        Input::None => Value::Nil,
        Input::Floats(v) => Value::list(ListTy::Float64, v.iter().map(|f| Value::Float(*f)).collect()),
        Input::Strings(v) => Value::list(ListTy::String, v.iter().map(|s| Value::string(s)).collect()),
        Input::Ints(v) => Value::list(ListTy::Int, v.iter().map(|i| Value::Int(*i, IntTy::Int)).collect()),
        Input::Int64s(v) => Value::list(ListTy::Int64, v.iter().map(|i| Value::Int(*i, IntTy::Int64)).collect()),
        Input::Uints(v) => Value::list(ListTy::Uint, v.iter().map(|u| Value::Uint(*u, UintTy::Uint)).collect()),
        Input::Uint64s(v) => Value::list(ListTy::Uint64, v.iter().map(|u| Value::Uint(*u, UintTy::Uint64)).collect()),
        Input::HistogramSample => Value::Sample(std::rc::Rc::new(Sample {
            labels: crate::value::MapValue::labels(&BTreeMap::new()),
            value: Value::Histogram(std::rc::Rc::new(histogram())),
        })),
    }
}

/// Runs one case as upstream's `testTemplateExpansion` does: name "test", evaluation time
/// 1353755652000 ms, external URL `http://testhost:9090/path/prefix`.
fn run(case: &Case) -> Result<String, String> {
    let samples: Vec<QuerySample> = case
        .query
        .iter()
        .map(|(labels, v)| QuerySample {
            labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            value: match v {
                Q::F(f) => SampleValue::Float(*f),
                Q::H => SampleValue::Histogram(histogram()),
            },
        })
        .collect();
    let query = move |_: &str| -> Result<Vec<QuerySample>, String> { Ok(samples.clone()) };
    let mut expander = Expander::new(&query, 1_353_755_652_000, "http://testhost:9090/path/prefix");
    if let Some(option) = case.options {
        expander.missing_key = option;
    }
    expander.expand_value("test", case.text, input_value(&case.input)).map_err(|e| e.to_string())
}

#[test]
fn upstream_template_expansion_cases() {
    // template_test.go's TestTemplateExpansion has 89 scenarios; a dropped one fails here.
    assert_eq!(CASES.len(), 89);
    let mut failures = Vec::new();
    let mut passed = 0;
    let mut html = 0;
    for (i, case) in CASES.iter().enumerate() {
        let got = run(case);
        let ok = match (&case.want, &got) {
            (Output(want), Ok(got)) => want == got,
            (Error(want), Err(got)) => want == got,
            (Html(_), _) => {
                html += 1;
                continue;
            }
            _ => false,
        };
        if ok {
            passed += 1;
        } else {
            failures.push(format!(
                "case {i} {:?}:\n  want {:?}\n  got  {got:?}",
                case.text,
                match &case.want {
                    Output(s) | Error(s) | Html(s) => s,
                }
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} upstream cases fail:\n{}",
        failures.len(),
        CASES.len() - html,
        failures.join("\n")
    );
    assert_eq!((passed, html), (82, 7));
}
