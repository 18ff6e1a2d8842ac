//! Go text/template semantics that upstream's template tests do not cover, checked through the
//! public API with alert data, as rules use it. Expected values follow Go's documented behaviour
//! (`text/template`, `fmt`, `time` package docs) and Prometheus's alert template defs.

use std::collections::BTreeMap;

use crate::{ALERT_TEMPLATE_DEFS, Data, Expander, QuerySample, SampleValue, check, check_alert};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn query(q: &str) -> Result<Vec<QuerySample>, String> {
    match q {
        "fail" => Err("boom".into()),
        "none" => Ok(vec![]),
        _ => Ok(vec![
            QuerySample {
                labels: labels(&[("__name__", "metric"), ("instance", "b")]),
                value: SampleValue::Float(21.0),
            },
            QuerySample {
                labels: labels(&[("__name__", "metric"), ("instance", "a")]),
                value: SampleValue::Float(11.0),
            },
        ]),
    }
}

fn data(value: f64) -> Data {
    Data {
        labels: labels(&[("alertname", "X"), ("instance", "a:9100"), ("job", "node"), ("sev", "warn")]),
        external_labels: labels(&[("cluster", "eu1")]),
        external_url: "http://prom:9090/p".into(),
        value: SampleValue::Float(value),
    }
}

/// Expands `text` as an alert template of alert `X` with value 95.
fn alert(text: &str) -> Result<String, String> {
    alert_with(text, &data(95.0))
}

fn alert_with(text: &str, d: &Data) -> Result<String, String> {
    let q = query;
    Expander::new(&q, 1_353_755_652_000, "http://prom:9090/p").expand_alert("X", text, d).map_err(|e| e.to_string())
}

/// Expands `text` as the plain template "test" (no alert defs) with the alert data as dot.
fn plain(text: &str) -> Result<String, String> {
    let q = query;
    Expander::new(&q, 1_353_755_652_000, "http://prom:9090/p")
        .expand("test", text, &data(95.0))
        .map_err(|e| e.to_string())
}

fn ok(text: &str) -> String {
    plain(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn exec_err(text: &str) -> String {
    plain(text).expect_err(text)
}

#[test]
fn alert_variables_and_fields() {
    let text = "{{ $labels.instance }} {{ .Labels.job }} {{ $externalLabels.cluster }} {{ $externalURL }} {{ $value }} {{ .Value }}";
    assert_eq!(alert(text).unwrap(), "a:9100 node eu1 http://prom:9090/p 95 95");
}

#[test]
fn missing_labels_are_empty_strings() {
    // Prometheus sets missingkey=zero and labels are map[string]string.
    assert_eq!(alert("[{{ $labels.nope }}][{{ .Labels.nope }}][{{ index $labels \"nope\" }}]").unwrap(), "[][][]");
    // A map[string]interface{} has no zero string: a missing key prints <no value>.
    assert_eq!(alert("{{ (args 1).arg5 }}").unwrap(), "<no value>");
}

#[test]
fn values_print_as_go_prints_float64() {
    let cases =
        [(0.1 + 0.2, "0.30000000000000004"), (5.0, "5"), (1e21, "1e+21"), (1234567.0, "1.234567e+06"), (-0.5, "-0.5")];
    for (v, want) in cases {
        assert_eq!(alert_with("{{ $value }}", &data(v)).unwrap(), want);
    }
    assert_eq!(alert_with("{{ printf \"%.2f\" $value }}", &data(0.12345)).unwrap(), "0.12");
    assert_eq!(alert_with("{{ printf \"%d\" $value }}", &data(5.0)).unwrap(), "%!d(float64=5)");
    assert_eq!(alert_with("{{ $value | humanize }}B", &data(2048.0)).unwrap(), "2.048kB");
}

#[test]
fn histogram_values_print_their_string() {
    let mut d = data(0.0);
    d.value =
        SampleValue::Histogram(crate::HistogramValue { count: 2.0, sum: 3.0, display: "{count:2, sum:3}".into() });
    assert_eq!(alert_with("{{ $value }} {{ $value.Count }} {{ .Value.Sum }}", &d).unwrap(), "{count:2, sum:3} 2 3");
    let err = alert_with("{{ $value | humanize }}", &d).unwrap_err();
    assert!(err.ends_with("error calling humanize: can't convert *histogram.FloatHistogram to float"), "{err}");
}

#[test]
fn trim_markers() {
    assert_eq!(ok("a  {{- 1 -}}  b"), "a1b");
    assert_eq!(ok("a \n{{- /* comment */ -}}\n b"), "ab");
    assert_eq!(ok("x\n{{- if true }}\ny\n{{- end }}\n"), "x\ny\n");
    assert_eq!(
        ok("{{ range $k, $v := .Labels -}}\n{{ $k }}={{ $v }}\n{{ end -}}\n"),
        "alertname=X\ninstance=a:9100\njob=node\nsev=warn\n"
    );
    // "{{-3}}" is the number -3, not a trim marker.
    assert_eq!(ok("1 {{-3}}"), "1 -3");
}

#[test]
fn comments_and_literals() {
    assert_eq!(ok("a{{/* a\ncomment */}}b"), "ab");
    assert_eq!(ok("{{ `a\\nb` }}|{{ \"a\\tb\" }}"), "a\\nb|a\tb");
    assert_eq!(
        ok("{{ 0x10 }} {{ 1e3 }} {{ 'a' }} {{ 1_000 }} {{ -5 }} {{ 3.0 }} {{ 0o17 }} {{ true }}"),
        "16 1000 97 1000 -5 3 15 true"
    );
}

#[test]
fn range_over_maps_is_sorted_by_key() {
    assert_eq!(
        ok("{{ range $k, $v := .ExternalLabels }}{{ $k }}{{ end }}{{ range .Labels }}{{ . }},{{ end }}"),
        "clusterX,a:9100,node,warn,"
    );
    assert_eq!(ok("{{ range $v := args \"z\" \"y\" }}{{ $v }}{{ end }}"), "zy");
}

#[test]
fn range_forms() {
    assert_eq!(
        ok("{{ range $i, $s := query \"x\" }}{{ $i }}:{{ $s.Labels.instance }}={{ $s.Value }} {{ end }}"),
        "0:b=21 1:a=11 "
    );
    assert_eq!(ok("{{ range query \"none\" }}x{{ else }}none{{ end }}"), "none");
    assert_eq!(ok("{{ range 3 }}{{ . }}{{ end }}"), "012");
    assert_eq!(
        ok(
            "{{ range args 1 2 3 4 }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ if eq . 4 }}{{ break }}{{ end }}{{ . }}{{ end }}"
        ),
        "13"
    );
    // `$` is always the data the template started with.
    assert_eq!(ok("{{ range query \"x\" }}{{ $.ExternalURL }} {{ end }}"), "http://prom:9090/p http://prom:9090/p ");
    assert_eq!(
        exec_err("{{ range .ExternalURL }}{{ end }}"),
        "error executing template test: template: test:1:9: executing \"test\" at <.ExternalURL>: range can't iterate over http://prom:9090/p"
    );
}

#[test]
fn if_else_if_chains() {
    let text = "{{ if eq $labels.sev \"crit\" }}C{{ else if eq $labels.sev \"warn\" }}W{{ else }}I{{ end }}";
    assert_eq!(alert(text).unwrap(), "W");
    let mut d = data(1.0);
    d.labels.remove("sev");
    assert_eq!(alert_with(text, &d).unwrap(), "I");
    assert_eq!(alert("{{ if gt $value 80.0 }}hot{{ else if gt $value 50.0 }}warm{{ end }}").unwrap(), "hot");
}

#[test]
fn with_and_else_with() {
    assert_eq!(ok("{{ with .Labels.instance }}i={{ . }}{{ else }}none{{ end }}"), "i=a:9100");
    assert_eq!(ok("{{ with .Labels.nope }}i={{ . }}{{ else }}none{{ end }}"), "none");
    assert_eq!(ok("{{ with .Labels.nope }}A{{ else with .Labels.job }}B{{ . }}{{ end }}"), "Bnode");
    assert_eq!(ok("{{ with query \"x\" }}{{ (index . 1).Labels.instance }}{{ end }}"), "a");
}

#[test]
fn variable_scoping() {
    assert_eq!(ok("{{ $x := 1 }}{{ if true }}{{ $x := 2 }}{{ $x }}{{ end }}{{ $x }}"), "21");
    assert_eq!(ok("{{ $x := 1 }}{{ if true }}{{ $x = 2 }}{{ end }}{{ $x }}"), "2");
    assert_eq!(ok("{{ $x := 1 }}{{ $x = \"s\" }}{{ $x }}"), "s");
    assert_eq!(ok("{{ $n := 0 }}{{ range $i, $v := query \"x\" }}{{ $n = $i }}{{ end }}{{ $n }}"), "1");
    assert_eq!(
        plain("{{ range .Labels }}{{ $y := . }}{{ end }}{{ $y }}").unwrap_err(),
        "error parsing template test: template: test:1: undefined variable \"$y\""
    );
    // A template sees only its own `$`, never the caller's variables.
    assert_eq!(
        plain("{{ $x := 1 }}{{ define \"t\" }}{{ $x }}{{ end }}").unwrap_err(),
        "error parsing template test: template: test:1: undefined variable \"$x\""
    );
}

#[test]
fn define_template_block() {
    assert_eq!(
        ok("{{ define \"t\" }}[{{ . }}]{{ end }}{{ template \"t\" \"x\" }}{{ block \"b\" 2 }}<{{ . }}>{{ end }}"),
        "[x]<2>"
    );
    assert_eq!(
        ok("{{ define \"t\" }}{{ .arg0 }}-{{ .arg1 }}{{ end }}{{ template \"t\" args $.Labels.job 7 }}"),
        "node-7"
    );
    assert_eq!(ok("{{ define \"t\" }}{{ . }}{{ end }}{{ template \"t\" }}"), "<no value>");
    assert_eq!(
        exec_err("{{ template \"nope\" }}"),
        "error executing template test: template: test:1:12: executing \"test\" at <{{template \"nope\"}}>: template \"nope\" not defined"
    );
    assert_eq!(
        exec_err("{{ define \"t\" }}{{ .X.Y }}{{ end }}{{ template \"t\" 1 }}"),
        "error executing template test: template: test:1:21: executing \"t\" at <.X.Y>: can't evaluate field X in type int"
    );
}

#[test]
fn comparisons_follow_go_rules() {
    assert_eq!(
        ok("{{ gt 1.5 1.0 }} {{ eq 1 2 1 }} {{ lt \"a\" \"b\" }} {{ ne 1 2 }} {{ le 2 2 }} {{ ge 1 2 }}"),
        "true true true true true false"
    );
    assert_eq!(ok("{{ eq (len \"ab\") 2 }} {{ eq (args).x \"x\" }} {{ eq .Labels.nope \"\" }}"), "true false true");
    assert_eq!(
        exec_err("{{ gt 1.5 1 }}"),
        "error executing template test: template: test:1:3: executing \"test\" at <gt 1.5 1>: error calling gt: incompatible types for comparison: float64 and int"
    );
    assert_eq!(
        exec_err("{{ lt true false }}"),
        "error executing template test: template: test:1:3: executing \"test\" at <lt true false>: error calling lt: invalid type for comparison"
    );
    assert_eq!(
        exec_err("{{ eq 1 }}"),
        "error executing template test: template: test:1:3: executing \"test\" at <eq 1>: error calling eq: missing argument for comparison"
    );
    assert_eq!(
        exec_err("{{ eq .Labels .Labels }}"),
        "error executing template test: template: test:1:3: executing \"test\" at <eq .Labels .Labels>: error calling eq: non-comparable type map[alertname:X instance:a:9100 job:node sev:warn]: map[string]string"
    );
}

#[test]
fn and_or_not_short_circuit() {
    assert_eq!(ok("{{ or \"\" \"default\" }} {{ and 1 0 }} {{ not \"\" }} {{ or 0 \"\" }}|"), "default 0 true |");
    // The query that fails is never run.
    assert_eq!(ok("{{ and 0 (query \"fail\") }} {{ or 1 (query \"fail\") }}"), "0 1");
    assert_eq!(ok("{{ if and .Labels.job (eq .Labels.sev \"warn\") }}yes{{ end }}"), "yes");
}

#[test]
fn print_functions() {
    assert_eq!(ok("{{ print 1 2 \"a\" \"b\" 3 }}"), "1 2ab3");
    assert_eq!(ok("{{ println \"a\" 1 }}"), "a 1\n");
    assert_eq!(ok("{{ \"x\" | printf \"%s-%s\" \"a\" }} {{ 1 | print 2 }}"), "a-x 2 1");
    assert_eq!(ok("{{ printf \"%v\" .Labels }}"), "map[alertname:X instance:a:9100 job:node sev:warn]");
    assert_eq!(
        ok("{{ printf \"%q %5.1f%% %-4s| %03d %x\" .Labels.job 99.44 \"ab\" 7 255 }}"),
        "\"node\"  99.4% ab  | 007 ff"
    );
    assert_eq!(ok("{{ printf \"%s %d\" \"a\" }}"), "a %!d(MISSING)");
    assert_eq!(ok("{{ printf \"%T %T %T\" 1 .Labels (query \"x\") }}"), "int map[string]string template.queryResult");
}

#[test]
fn query_results_print_like_go_structs() {
    assert_eq!(ok("{{ query \"x\" | first }}"), "{map[__name__:metric instance:b] 21}");
    assert_eq!(ok("{{ printf \"%v\" (query \"x\" | first) }}"), "&{map[__name__:metric instance:b] 21}");
    assert_eq!(ok("{{ printf \"%+v\" (query \"x\" | first) }}"), "&{Labels:map[__name__:metric instance:b] Value:21}");
    assert_eq!(ok("{{ range query \"x\" | sortByLabel \"nope\" }}{{ .Labels.instance }}{{ end }}"), "ba");
}

#[test]
fn escaping_functions() {
    assert_eq!(
        ok("{{ html \"<a href='x'>\" }} {{ js \"a'b\" }} {{ urlquery \"a b&c\" }} {{ \"a&\" | html }}"),
        "&lt;a href=&#39;x&#39;&gt; a\\'b a+b%26c a&amp;"
    );
    assert_eq!(ok("{{ html (args).x }}"), "&lt;no value&gt;");
}

#[test]
fn builtins_index_slice_len() {
    assert_eq!(
        ok("{{ slice \"abcdef\" 1 3 }} {{ len .Labels }} {{ index \"abc\" 1 }} {{ len (query \"x\") }}"),
        "bc 4 98 2"
    );
    assert_eq!(ok("{{ range slice (query \"x\") 1 }}{{ .Value }}{{ end }}"), "11");
    let cases = [
        ("{{ index .Labels 1 }}", "error calling index: value has type int; should be string"),
        ("{{ index (query \"x\") 5 }}", "error calling index: index out of range: 5"),
        ("{{ index (query \"x\") 2 }}", "error calling index: reflect: slice index out of range"),
        ("{{ len 3 }}", "error calling len: len of type int"),
        ("{{ slice \"abc\" 2 1 }}", "error calling slice: invalid slice index: 2 > 1"),
        ("{{ slice \"abc\" 1 2 3 }}", "error calling slice: cannot 3-index slice a string"),
    ];
    for (text, want) in cases {
        let err = exec_err(text);
        assert!(err.ends_with(want), "{text}: {err}");
    }
}

#[test]
fn execution_errors_name_the_node() {
    let cases = [
        ("{{ toUpper 1 }}", "test:1:11: executing \"test\" at <1>: expected string; found 1"),
        (
            "{{ $v := 1 }}{{ toUpper $v }}",
            "test:1:24: executing \"test\" at <$v>: wrong type for value; expected string; got int",
        ),
        ("{{ 1 2 }}", "test:1:3: executing \"test\" at <1>: can't give argument to non-function 1"),
        ("{{ nil }}", "test:1:3: executing \"test\" at <nil>: nil is not a command"),
        (
            "{{ .Labels.job 1 }}",
            "test:1:10: executing \"test\" at <.Labels.job>: job is not a method but has arguments",
        ),
        ("{{ query \"fail\" }}", "test:1:3: executing \"test\" at <query \"fail\">: error calling query: boom"),
        (
            "{{ humanize 1 2 }}",
            "test:1:3: executing \"test\" at <humanize>: wrong number of args for humanize: want 1 got 2",
        ),
        (
            "{{ printf }}",
            "test:1:3: executing \"test\" at <printf>: wrong number of args for printf: want at least 1 got 0",
        ),
        (
            "{{ \"x\" | first }}",
            "test:1:9: executing \"test\" at <first>: wrong type for value; expected template.queryResult; got string",
        ),
        ("{{ first 1 }}", "test:1:9: executing \"test\" at <1>: can't handle 1 for arg of type template.queryResult"),
        (
            "{{ humanize true }}",
            "test:1:3: executing \"test\" at <humanize true>: error calling humanize: can't convert bool to float",
        ),
        (
            "{{ humanize (args).x }}",
            "test:1:3: executing \"test\" at <humanize (args).x>: error calling humanize: can't convert <nil> to float",
        ),
        // Go blames the last node it evaluated: `args`, inside the chain.
        ("{{ toUpper (args).x }}", "test:1:12: executing \"test\" at <args>: invalid value; expected string"),
        ("{{ (args).x.y }}", ""),
        (
            "{{ .ExternalURL.x }}",
            "test:1:15: executing \"test\" at <.ExternalURL.x>: can't evaluate field x in type string",
        ),
        (
            "{{ \"NaN\" | toTime }}",
            "test:1:11: executing \"test\" at <toTime>: error calling toTime: value is NaN or Inf",
        ),
        (
            "{{ .Foo }}",
            "test:1:3: executing \"test\" at <.Foo>: can't evaluate field Foo in type struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }",
        ),
    ];
    for (text, want) in cases {
        match plain(text) {
            Ok(out) if want.is_empty() => assert_eq!(out, "<no value>", "{text}"),
            Ok(out) => panic!("{text}: expected an error, got {out:?}"),
            Err(err) => assert_eq!(err, format!("error executing template test: template: {want}"), "{text}"),
        }
    }
}

#[test]
fn alert_error_columns_count_the_prepended_defs() {
    let col = ALERT_TEMPLATE_DEFS.len() + 10;
    assert_eq!(
        alert("{{ .Labels.foo.bar }}").unwrap_err(),
        format!(
            "error executing template __alert_X: template: __alert_X:1:{col}: executing \"__alert_X\" at <.Labels.foo.bar>: can't evaluate field bar in type string"
        )
    );
    let col = ALERT_TEMPLATE_DEFS.len() + 6;
    assert_eq!(
        alert("{{ if gt $value 80 }}hot{{ end }}").unwrap_err(),
        format!(
            "error executing template __alert_X: template: __alert_X:1:{col}: executing \"__alert_X\" at <gt $value 80>: error calling gt: incompatible types for comparison: float64 and int"
        )
    );
    // The second line is not shifted; a field chain is placed at its first field, as Go does.
    assert_eq!(
        alert("ok\n  {{ $value.x }}").unwrap_err(),
        "error executing template __alert_X: template: __alert_X:2:11: executing \"__alert_X\" at <$value.x>: can't evaluate field x in type float64"
    );
}

#[test]
fn parse_checks_like_promtool() {
    // upstream cmd/promtool/testdata/rules-bad.yml's broken annotation.
    assert_eq!(
        check_alert("InstanceDown", "Instance {{ $label.foo }} down").unwrap_err().to_string(),
        "template: __alert_InstanceDown:1: undefined variable \"$label\""
    );
    assert!(check_alert("InstanceDown", "{{ $labels.instance }} of job {{ $labels.job }} has been down").is_ok());
    assert_eq!(check("t", "{{ nope }}").unwrap_err().to_string(), "template: t:1: function \"nope\" not defined");
    assert_eq!(check("t", "a\nb {{ if }}").unwrap_err().to_string(), "template: t:2: missing value for if");
}

#[test]
fn time_and_duration_methods() {
    assert_eq!(
        ok(
            "{{ (1435065584.128 | toTime).Year }} {{ (1435065584 | toTime).Month }} {{ (1435065584 | toTime).Weekday }}"
        ),
        "2015 June Tuesday"
    );
    assert_eq!(ok("{{ (0 | toTime).Format \"2006-01-02T15:04:05.000Z07:00\" }}"), "1970-01-01T00:00:00.000Z");
    assert_eq!(ok("{{ ((1435065584 | toTime).Sub (0 | toTime)).Hours }}"), "398629.3288888889");
    assert_eq!(
        ok("{{ (90 | toDuration).Seconds }} {{ (1.5 | toDuration).Milliseconds }} {{ 1.5 | toDuration }}"),
        "90 1500 1.5s"
    );
    assert_eq!(
        ok("{{ ((3661 | toDuration).Round 3600000000000).String }} {{ (0 | toTime) }}"),
        "1h0m0s 1970-01-01 00:00:00 +0000 UTC"
    );
    assert_eq!(ok("{{ ((now | toTime).AddDate 0 1 0).Format \"Jan 2\" }}"), "Dec 24");
}

#[test]
fn prometheus_string_functions() {
    assert_eq!(
        alert(
            "{{ $labels.instance | reReplaceAll \":.*\" \"\" }} {{ match \"^\\\\d+$\" \"42\" }} {{ title \"foo bar\" }}"
        )
        .unwrap(),
        "a true Foo Bar"
    );
    let err = exec_err("{{ reReplaceAll \"(\" \"\" \"a\" }}");
    assert!(err.contains("error calling reReplaceAll: regexp: Compile(`(`): error parsing regexp: "), "{err}");
    assert_eq!(ok("{{ graphLink \"rate(x[5m]) > 1\" }}"), "/graph?g0.expr=rate%28x%5B5m%5D%29+%3E+1&g0.tab=0");
    assert_eq!(
        ok("{{ urlQueryEscape \"a=b c\" }} {{ safeHtml \"<b>\" }} {{ toUpper \"straße\" }}"),
        "a%3Db+c <b> STRAßE"
    );
    assert_eq!(ok("{{ \"x\" | safeHtml | printf \"%T\" }}"), "template.HTML");
}

#[test]
fn query_errors_and_values() {
    assert_eq!(ok("{{ with query \"x\" }}{{ . | first | value | humanize }}{{ end }}"), "21");
    assert_eq!(ok("{{ with query \"none\" }}{{ . | first | value }}{{ else }}no data{{ end }}"), "no data");
    assert_eq!(ok("{{ label \"instance\" (query \"x\" | first) }} {{ strvalue (query \"x\" | first) }}|"), "b |");
    assert_eq!(ok("{{ pathPrefix }} {{ externalURL }} {{ now }}"), "/p http://prom:9090/p 1.353755652e+09");
}

/// Runs `text` on a thread with a 2 MiB stack (tokio's and std's default) and says whether it
/// expanded; a stack overflow would abort the whole test binary instead.
fn on_small_stack(text: String) -> Result<String, String> {
    std::thread::Builder::new().stack_size(2 << 20).spawn(move || plain(&text)).unwrap().join().unwrap()
}

#[test]
fn hostile_nesting_is_an_error_not_a_stack_overflow() {
    let recursive = "{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}".to_owned();
    assert!(on_small_stack(recursive).unwrap_err().ends_with("exceeded maximum template depth (50)"));
    let parens = |n: usize| format!("{{{{ {}1{} }}}}", "(".repeat(n), ")".repeat(n));
    assert_eq!(on_small_stack(parens(49)).unwrap(), "1");
    assert!(on_small_stack(parens(51)).unwrap_err().ends_with("max expression depth exceeded"));
    let ifs = |n: usize| format!("{}x{}", "{{ if 1 }}".repeat(n), "{{ end }}".repeat(n));
    assert_eq!(on_small_stack(ifs(50)).unwrap(), "x");
    assert!(on_small_stack(ifs(51)).unwrap_err().ends_with("if nested more than 50 deep"));
    // The worst mix: template calls down to the limit, each level as deep as parsing allows.
    let deep_body = format!("{}{}{}", "{{ with 1 }}".repeat(25), parens(24), "{{ end }}".repeat(25));
    let mix = format!(
        "{{{{ define \"r\" }}}}{{{{ if lt (len .) 50 }}}}{deep_body}{{{{ template \"r\" (printf \"%sx\" .) }}}}{{{{ end }}}}{{{{ end }}}}{{{{ template \"r\" \"\" }}}}"
    );
    assert!(on_small_stack(mix).unwrap_err().ends_with("exceeded maximum template depth (50)"));
}
