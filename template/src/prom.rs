//! Prometheus's template functions (upstream `template/template.go`, 3.14): queries, sample
//! accessors, `humanize*`, time conversions, string helpers and links. Each keeps Prometheus's
//! argument handling (the `humanize*` family take numbers or numeric strings through
//! `ConvertToFloat`) and its exact output formats (`%.4g` with metric prefixes, `+Inf`, `NaN`).

use std::rc::Rc;

use crate::funcs::{Env, args_map};
use crate::gofmt::{format_float, quote};
use crate::gotime::Time;
use crate::value::{IntTy, ListTy, MapValue, Sample, UintTy, Value};

type FuncResult = Result<Value, String>;

/// Go's message for a nil `*sample` dereferenced inside a function.
const NIL_DEREF: &str = "runtime error: invalid memory address or nil pointer dereference";

pub(crate) fn call(env: &Env<'_>, name: &str, args: Vec<Value>) -> FuncResult {
    let s = |i: usize| match &args[i] {
        Value::String(s) => s.to_string(),
        _ => unreachable!("checked string argument"),
    };
    let string = |v: String| Ok(Value::string(&v));
    match name {
        "query" => query(env, &s(0)),
        "first" => match &args[0] {
            Value::List(l) if !l.items.is_empty() => Ok(l.items[0].clone()),
            _ => Err("first() called on vector with no elements".into()),
        },
        "label" => match &args[1] {
            Value::Sample(sample) => Ok(sample.labels.entries.get(&s(0)).cloned().unwrap_or_else(|| Value::string(""))),
            _ => Err(NIL_DEREF.into()),
        },
        "value" => match &args[0] {
            Value::Sample(sample) => Ok(sample.value.clone()),
            _ => Err(NIL_DEREF.into()),
        },
        "strvalue" => match &args[0] {
            Value::Sample(sample) => {
                Ok(sample.labels.entries.get("__value__").cloned().unwrap_or_else(|| Value::string("")))
            }
            _ => Err(NIL_DEREF.into()),
        },
        "args" => Ok(args_map(args)),
        "reReplaceAll" => {
            let pattern = s(0);
            // Prometheus uses MustCompile: the panic text reaches the template error.
            let re = crate::goregex::compile(&pattern)
                .map_err(|e| format!("regexp: Compile({}): {e}", backquote_or_quote(&pattern)))?;
            string(re.replace_all(&s(2), s(1).as_str()).into_owned())
        }
        "safeHtml" => Ok(Value::Html(Rc::from(s(0).as_str()))),
        "match" => Ok(Value::Bool(crate::goregex::compile(&s(0))?.is_match(&s(1)))),
        "title" => string(title(&s(0))),
        "toUpper" => string(s(0).chars().map(upper).collect()),
        "toLower" => string(s(0).chars().map(lower).collect()),
        "graphLink" => string(format!("/graph?g0.expr={}&g0.tab=0", query_escape(&s(0)))),
        "tableLink" => string(format!("/graph?g0.expr={}&g0.tab=1", query_escape(&s(0)))),
        "sortByLabel" => sort_by_label(&s(0), &args[1]),
        "stripPort" => {
            let host_port = s(0);
            string(split_host_port(&host_port).map_or(host_port.clone(), |(host, _)| host))
        }
        "stripDomain" => string(strip_domain(&s(0))),
        "humanize" => string(humanize(convert_to_float(&args[0])?)),
        "humanize1024" => string(humanize_1024(convert_to_float(&args[0])?)),
        "humanizeDuration" => string(humanize_duration(convert_to_float(&args[0])?)),
        "humanizePercentage" => string(format!("{}%", format_float(convert_to_float(&args[0])? * 100.0, 'g', 4))),
        "humanizeTimestamp" => {
            let v = convert_to_float(&args[0])?;
            match float_to_time(v)? {
                Some(t) => string(t.go_string()),
                None => string(format_float(v, 'g', 4)),
            }
        }
        "toTime" => match float_to_time(convert_to_float(&args[0])?)? {
            Some(t) => Ok(Value::TimePtr(t)),
            None => Err("value is NaN or Inf".into()),
        },
        "toDuration" => Ok(Value::DurationPtr(go_f64_to_i64(convert_to_float(&args[0])? * 1e9))),
        "now" => Ok(Value::Float(env.now_ms as f64 / 1000.0)),
        "pathPrefix" => string(url_path(env.external_url)),
        "externalURL" => string(env.external_url.to_owned()),
        "parseDuration" => Ok(Value::Float(parse_duration(&s(0))? as f64 / 1e9)),
        "urlQueryEscape" => string(query_escape(&s(0))),
        _ => unreachable!("funcs::signature lists every function: {name}"),
    }
}

fn query(env: &Env<'_>, q: &str) -> FuncResult {
    let samples = env.query.query(q)?;
    let items = samples
        .into_iter()
        .map(|s| Value::Sample(Rc::new(Sample { labels: MapValue::labels(&s.labels), value: s.value.to_value() })))
        .collect();
    Ok(Value::list(ListTy::QueryResult, items))
}

fn sort_by_label(label: &str, v: &Value) -> FuncResult {
    let Value::List(list) = v else { unreachable!("checked queryResult argument") };
    let key = |s: &Value| match s {
        Value::Sample(s) => s.labels.entries.get(label).map(|v| match v {
            Value::String(s) => s.to_string(),
            _ => String::new(),
        }),
        _ => None,
    };
    let mut items = list.items.clone();
    // Stable, as Prometheus's sort.Stable; a missing label sorts as "".
    items.sort_by_key(|s| key(s).unwrap_or_default());
    Ok(Value::list(ListTy::QueryResult, items))
}

/// Go's `strconv.Quote` unless the text can be backquoted (regexp's `quote`).
fn backquote_or_quote(s: &str) -> String {
    if !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control()) && !s.contains('\u{FEFF}') {
        format!("`{s}`")
    } else {
        quote(s)
    }
}

/// Go's `unicode.ToUpper` per rune: simple case mapping, so `ß` stays `ß`.
fn upper(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Go's `unicode.ToLower` per rune.
fn lower(c: char) -> char {
    if c == 'İ' {
        return 'i';
    }
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// `cases.Title(language.AmericanEnglish, cases.NoLower)`: the first letter of each word in
/// upper case, the rest untouched. Apostrophes and dots between letters stay inside a word.
fn title(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for (i, &c) in chars.iter().enumerate() {
        let word_char = c.is_alphanumeric() || c == '_';
        let mid = matches!(c, '\'' | '’' | '.' | ':' | '·')
            && in_word
            && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        if word_char && !in_word {
            out.push(upper(c));
        } else {
            out.push(c);
        }
        in_word = word_char || mid;
    }
    out
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `net.SplitHostPort`; `None` where Go returns an error.
fn split_host_port(host_port: &str) -> Option<(String, String)> {
    let i = host_port.rfind(':')?;
    let (host, j, k) = if host_port.starts_with('[') {
        let end = host_port.find(']')?;
        if end + 1 != i {
            return None;
        }
        (&host_port[1..end], 1, end + 1)
    } else {
        let host = &host_port[..i];
        if host.contains(':') {
            return None;
        }
        (host, 0, 0)
    };
    if host_port[j..].contains('[') || host_port[k..].contains(']') {
        return None;
    }
    Some((host.to_owned(), host_port[i + 1..].to_owned()))
}

fn strip_domain(host_port: &str) -> String {
    let (host, port) = split_host_port(host_port).unwrap_or_else(|| (host_port.to_owned(), String::new()));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return host_port.to_owned();
    }
    let host = host.split('.').next().unwrap_or_default();
    match (port.is_empty(), host.contains(':')) {
        (true, _) => host.to_owned(),
        (false, true) => format!("[{host}]:{port}"),
        (false, false) => format!("{host}:{port}"),
    }
}

/// Prometheus's `ConvertToFloat`: float64, numeric strings, Go's integer types and
/// `time.Duration` (as seconds); anything else is an error naming the Go type.
fn convert_to_float(v: &Value) -> Result<f64, String> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::String(s) => parse_float(s),
        Value::Int(i, IntTy::Int | IntTy::Int64) => Ok(*i as f64),
        Value::Uint(u, UintTy::Uint | UintTy::Uint64) => Ok(*u as f64),
        Value::Int(d, IntTy::Duration) => Ok((d / 1_000_000_000) as f64 + (d % 1_000_000_000) as f64 / 1e9),
        other => Err(format!("can't convert {} to float", other.type_name())),
    }
}

/// Go's `strconv.ParseFloat(s, 64)`, with its error texts.
fn parse_float(s: &str) -> Result<f64, String> {
    let invalid = || format!("strconv.ParseFloat: parsing {}: invalid syntax", quote(s));
    let body = s.trim_start_matches(['+', '-']);
    // Rust accepts forms Go rejects: only digits, one '.', an exponent, or inf/nan words.
    let word = body.to_ascii_lowercase();
    if word.starts_with("0x") {
        // Hexadecimal floats need a p exponent, as in Go.
        if !word.contains('p') || s.len() - body.len() > 1 {
            return Err(invalid());
        }
        return crate::parse::go_float(s).ok_or_else(invalid);
    }
    let is_word = matches!(word.as_str(), "inf" | "infinity" | "nan");
    if s.len() - body.len() > 1 || (!is_word && !body.bytes().all(|b| b.is_ascii_digit() || b".eE+-".contains(&b))) {
        return Err(invalid());
    }
    let v: f64 = s.parse().map_err(|_| invalid())?;
    if v.is_infinite() && !is_word {
        return Err(format!("strconv.ParseFloat: parsing {}: value out of range", quote(s)));
    }
    Ok(v)
}

/// A float to `int64` the way Go does on amd64: NaN and out-of-range values become the
/// minimum int64 (Rust's `as` would saturate).
fn go_f64_to_i64(v: f64) -> i64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if v.is_nan() || !(-TWO_63..TWO_63).contains(&v) {
        return i64::MIN;
    }
    v as i64
}

/// Prometheus's `floatToTime`: seconds to a time with millisecond precision (it goes through
/// `model.Time`); `Ok(None)` for NaN and infinities.
fn float_to_time(v: f64) -> Result<Option<Time>, String> {
    if v.is_nan() || v.is_infinite() {
        return Ok(None);
    }
    let nanos = v * 1e9;
    if nanos > i64::MAX as f64 || nanos < i64::MIN as f64 {
        return Err(format!(
            "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
            format_float(v, 'g', -1)
        ));
    }
    let millis = (nanos as i64) / 1_000_000;
    Ok(Some(Time::from_unix_nanos(i128::from(millis) * 1_000_000)))
}

fn humanize(mut v: f64) -> String {
    if v == 0.0 || v.is_nan() || v.is_infinite() {
        return format_float(v, 'g', 4);
    }
    let mut prefix = "";
    if v.abs() >= 1.0 {
        for p in ["k", "M", "G", "T", "P", "E", "Z", "Y"] {
            if v.abs() < 1000.0 {
                break;
            }
            prefix = p;
            v /= 1000.0;
        }
    } else {
        for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
            if v.abs() >= 1.0 {
                break;
            }
            prefix = p;
            v *= 1000.0;
        }
    }
    format!("{}{prefix}", format_float(v, 'g', 4))
}

fn humanize_1024(mut v: f64) -> String {
    if v.abs() <= 1.0 || v.is_nan() || v.is_infinite() {
        return format_float(v, 'g', 4);
    }
    let mut prefix = "";
    for p in ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"] {
        if v.abs() < 1024.0 {
            break;
        }
        prefix = p;
        v /= 1024.0;
    }
    format!("{}{prefix}", format_float(v, 'g', 4))
}

fn humanize_duration(mut v: f64) -> String {
    if v.is_nan() || v.is_infinite() {
        return format_float(v, 'g', 4);
    }
    if v == 0.0 {
        return format!("{}s", format_float(v, 'g', 4));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let duration = v as i64;
        let (seconds, minutes, hours, days) =
            (duration % 60, duration / 60 % 60, duration / 60 / 60 % 24, duration / 60 / 60 / 24);
        if days != 0 {
            return format!("{sign}{days}d {hours}h {minutes}m {seconds}s");
        }
        if hours != 0 {
            return format!("{sign}{hours}h {minutes}m {seconds}s");
        }
        if minutes != 0 {
            return format!("{sign}{minutes}m {seconds}s");
        }
        return format!("{sign}{}s", format_float(v, 'g', 4));
    }
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    format!("{}{prefix}s", format_float(v, 'g', 4))
}

/// Prometheus's duration syntax (`1h30m`, `-5m`, `0`), in nanoseconds, with its error texts.
fn parse_duration(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Err("empty duration string".into());
    }
    if let Some(rest) = s.strip_prefix('-') {
        return parse_duration_unsigned(rest).map(|d| -d);
    }
    parse_duration_unsigned(s)
}

fn parse_duration_unsigned(s: &str) -> Result<i64, String> {
    match s {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", quote(s));
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 24 * 3_600_000_000_000),
        ("w", 7 * 24 * 3_600_000_000_000),
        ("d", 24 * 3_600_000_000_000),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
    ];
    let mut rest = s;
    let mut total: u64 = 0;
    let mut last_unit = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        if unit_len == 0 {
            return Err(invalid());
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(pos) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(format!("unknown unit {} in duration {}", quote(unit), quote(s)));
        };
        // Units go from biggest to smallest, each at most once.
        if last_unit.is_some_and(|last| pos <= last) {
            return Err(invalid());
        }
        last_unit = Some(pos);
        let mult = UNITS[pos].1;
        if n > (1u64 << 63) / mult {
            return Err("duration out of range".into());
        }
        total += n * mult;
        if total > i64::MAX as u64 {
            return Err("duration out of range".into());
        }
    }
    Ok(total as i64)
}

/// The path of a URL, percent-decoded like Go's `url.URL.Path`.
fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = match after_scheme.find('/') {
        Some(i) if url.contains("://") => &after_scheme[i..],
        _ if url.contains("://") => "",
        _ => after_scheme,
    };
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(b) = path.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn humanize_family() {
        assert_eq!(humanize(1234567.0), "1.235M");
        assert_eq!(humanize(-0.00012), "-120u");
        assert_eq!(humanize(1e30), "1e+06Y");
        assert_eq!(humanize_1024(1048576.0), "1Mi");
        assert_eq!(humanize_duration(-(86400.0 * 2.0 + 3600.0 * 3.0 + 60.0 * 4.0 + 5.0)), "-2d 3h 4m 5s");
        assert_eq!(humanize_duration(0.0001), "100us");
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("1h2m10ms"), Ok(3_720_010_000_000));
        assert_eq!(parse_duration("-30m"), Ok(-1_800_000_000_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1y1w1d"), Ok((365 + 7 + 1) * 24 * 3_600_000_000_000));
        assert_eq!(parse_duration(""), Err("empty duration string".into()));
        assert_eq!(parse_duration("5m1h"), Err("not a valid duration string: \"5m1h\"".into()));
        assert_eq!(parse_duration("5x"), Err("unknown unit \"x\" in duration \"5x\"".into()));
        assert_eq!(parse_duration("300y"), Err("duration out of range".into()));
    }

    #[test]
    fn host_port_helpers() {
        assert_eq!(split_host_port("[::1]:80"), Some(("::1".into(), "80".into())));
        assert_eq!(split_host_port("a:b:c"), None);
        assert_eq!(strip_domain("foo.example.com:12345"), "foo:12345");
        assert_eq!(strip_domain("[2001:0DB8::1]:12345"), "[2001:0DB8::1]:12345");
    }

    #[test]
    fn strings() {
        assert_eq!(title("aa bb CC it's foo-bar x.y"), "Aa Bb CC It's Foo-Bar X.y");
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(url_path("http://h:9090/path/prefix?x#y"), "/path/prefix");
        assert_eq!(url_path("http://h:9090"), "");
        assert_eq!(parse_float("one"), Err("strconv.ParseFloat: parsing \"one\": invalid syntax".into()));
        assert_eq!(parse_float("1e400"), Err("strconv.ParseFloat: parsing \"1e400\": value out of range".into()));
        assert_eq!(parse_float("-Inf"), Ok(f64::NEG_INFINITY));
        assert_eq!(parse_float("0x1p-2"), Ok(0.25));
        assert_eq!(parse_float("0x10"), Err("strconv.ParseFloat: parsing \"0x10\": invalid syntax".into()));
    }
}
