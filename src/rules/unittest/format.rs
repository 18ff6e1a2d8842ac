//! Text as promtool prints it: Go's `strconv.Quote`, `FormatFloat(v, 'E', -1, 64)`,
//! `time.Duration.String()`, Prometheus's `labels.Labels.String()`, and the alert lists of
//! `promtool test rules` (upstream `cmd/promtool/unittest.go`). Pure functions, no I/O.

use std::fmt::Write as _;

/// Go's `strconv.Quote`: `"..."` with Go's escapes; printable Unicode stays as it is.
pub fn go_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune` (`%q` of a rune): `'x'`.
pub fn go_quote_rune(c: char) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c, '\'');
    out.push('\'');
    out
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        '\\' => out.push_str("\\\\"),
        c if c == quote => {
            out.push('\\');
            out.push(c);
        }
        c if (c as u32) < 0x20 || c == '\x7f' => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if !is_go_printable(c) => {
            if (c as u32) < 0x10000 {
                let _ = write!(out, "\\u{:04x}", c as u32);
            } else {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
        c => out.push(c),
    }
}

/// An approximation of Go's `strconv.IsPrint` for what label values hold: control, format
/// and separator characters other than the ASCII space are not printable.
fn is_go_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !(c.is_control()
        || c.is_whitespace()
        || matches!(c, '\u{ad}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}')
        || c == '\u{feff}')
}

/// A label set as Prometheus's `labels.Labels.String()` writes it: `{a="1", b="2"}`, sorted
/// by name, `__name__` as a label; a name that is not a legacy label name is quoted.
pub fn labels_string<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if is_legacy_label_name(name) {
            out.push_str(name);
        } else {
            out.push_str(&go_quote(name));
        }
        out.push('=');
        out.push_str(&go_quote(value));
    }
    out.push('}');
    out
}

fn is_legacy_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: the shortest digits that read back as `v`, as
/// `d.dddE±dd`; `NaN`, `+Inf`, `-Inf`.
pub fn format_float_e(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    // Rust's `{:e}` prints the shortest round-tripping digits too: `1.5e-7`.
    let rust = format!("{v:e}");
    let (mantissa, exponent) = rust.split_once('e').unwrap_or((&rust, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}E{sign}{:02}", exponent.unsigned_abs())
}

/// Go's `time.Duration.String()` of `ns` nanoseconds: `0s`, `1.5µs`, `2m0s`, `26h3m4.5s`.
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_owned();
    }
    let negative = ns < 0;
    let u = ns.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        let (unit, precision) = match u {
            0..1_000 => ("ns", 0),
            1_000..1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        let scale = 10u64.pow(precision);
        let _ = write!(out, "{}{}{unit}", u / scale, fraction(u % scale, precision));
    } else {
        let secs = u / 1_000_000_000;
        let frac = fraction(u % 1_000_000_000, 9);
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        if h > 0 {
            let _ = write!(out, "{h}h{m}m");
        } else if m > 0 {
            let _ = write!(out, "{m}m");
        }
        let _ = write!(out, "{s}{frac}s");
    }
    if negative { format!("-{out}") } else { out }
}

/// `.ddd` of `value` out of `10^precision`, trailing zeros trimmed; empty when zero.
fn fraction(value: u64, precision: u32) -> String {
    if value == 0 || precision == 0 {
        return String::new();
    }
    let digits = format!("{value:0width$}", width = precision as usize);
    format!(".{}", digits.trim_end_matches('0'))
}

/// promtool's `indentLines`: every line but the first prefixed with `indent`.
pub fn indent_lines(lines: &str, indent: &str) -> String {
    lines.split('\n').collect::<Vec<_>>().join(&format!("\n{indent}"))
}

/// An alert as the unit test compares it: sorted labels and sorted annotations.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LabelsAndAnnotations {
    /// The alert's labels, `alertname` included, sorted by name.
    pub labels: Vec<(String, String)>,
    /// Its annotations, expanded, sorted by name.
    pub annotations: Vec<(String, String)>,
}

/// A list of alerts as promtool's `labelsAndAnnotations.String()` writes it: `[]`, or
/// `[\n0:\n  Labels:{...}\n  Annotations:{...},\n1:...\n]`.
pub fn alerts_string(alerts: &[LabelsAndAnnotations]) -> String {
    if alerts.is_empty() {
        return "[]".to_owned();
    }
    let pairs = |list: &[(String, String)]| labels_string(list.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut out = String::from("[");
    for (i, alert) in alerts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let body = format!("\nLabels:{}\nAnnotations:{}", pairs(&alert.labels), pairs(&alert.annotations));
        let _ = write!(out, "\n{i}:{}", indent_lines(&body, "  "));
    }
    out.push_str("\n]");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_formats_them_with_e() {
        let cases = [
            (1.0, "1E+00"),
            (0.0, "0E+00"),
            (-0.0, "-0E+00"),
            (3.0000000000000004, "3.0000000000000004E+00"),
            (9218880000.0, "9.21888E+09"),
            (1.5e-7, "1.5E-07"),
            (1e100, "1E+100"),
            (-2.5, "-2.5E+00"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_float_e(v), want, "{v}");
        }
    }

    #[test]
    fn durations_as_go_prints_them() {
        let s = 1_000_000_000;
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (2_000_000, "2ms"),
            (s, "1s"),
            (60 * s, "1m0s"),
            (3600 * s, "1h0m0s"),
            (106_700 * 86_400 * s, "2560800h0m0s"),
            (179 * s + 999_000_000, "2m59.999s"),
            (-90 * s, "-1m30s"),
        ];
        for (ns, want) in cases {
            assert_eq!(go_duration(ns), want, "{ns}");
        }
    }

    #[test]
    fn quoting_as_go_quotes() {
        assert_eq!(go_quote("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\x01é""#);
        assert_eq!(go_quote_rune('0'), "'0'");
        assert_eq!(go_quote_rune('\''), r"'\''");
        assert_eq!(labels_string([("__name__", "up"), ("a.b", "x")]), r#"{__name__="up", "a.b"="x"}"#);
    }

    #[test]
    fn alert_lists_as_promtool_prints_them() {
        let alert = |name: &str| LabelsAndAnnotations {
            labels: vec![("alertname".into(), name.into())],
            annotations: vec![("summary".into(), "s".into())],
        };
        assert_eq!(alerts_string(&[]), "[]");
        assert_eq!(
            alerts_string(&[alert("A"), alert("B")]),
            "[\n0:\n  Labels:{alertname=\"A\"}\n  Annotations:{summary=\"s\"},\n1:\n  Labels:{alertname=\"B\"}\n  Annotations:{summary=\"s\"}\n]"
        );
    }
}
