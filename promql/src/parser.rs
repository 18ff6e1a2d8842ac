//! The PromQL front end: promql-parser's AST, with its errors and matchers translated to
//! Prometheus's wording and to storage's [`Matcher`].
//!
//! promql-parser (GreptimeTeam) does the lexing, parsing and type checking; nothing here walks
//! the grammar. It does not report error positions: `parse_error.rs` recovers them and
//! Prometheus's wording where it can. Matchers are recompiled by storage so that regexes get Go RE2's meaning of
//! `\d \w \s`, not the Rust regex the parser checked them with.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promlite_storage::{METRIC_NAME, MatchOp, Matcher};
use promql_parser::label::MatchOp as ParserMatchOp;
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};

use crate::error::QueryError;
use crate::parse_error::{ParseError, locate};

/// Parses a PromQL expression.
pub(crate) fn parse(query: &str) -> Result<Expr, QueryError> {
    let rewritten = byte_escapes_as_unicode(query);
    promql_parser::parser::parse(&rewritten)
        .map_err(|message| QueryError::Parse(locate(query, prometheus_wording(&message))))
}

/// Parses a series selector such as `up{job="a"}` or `{__name__=~"x.*"}`, as the HTTP API's
/// `match[]` parameter takes it, into storage matchers.
///
/// Like Prometheus, a selector in which every matcher matches the empty string is rejected,
/// since it would select every series.
pub fn parse_matchers(selector: &str) -> Result<Vec<Matcher>, QueryError> {
    let expr = parse(selector)?;
    let Expr::VectorSelector(vs) = &expr else {
        return Err(QueryError::Parse(ParseError::new(format!(
            "expected a series selector, got {}",
            type_name(&expr)
        ))));
    };
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(QueryError::Parse(ParseError::new("a series selector takes no offset or @ modifier")));
    }
    let matchers = selector_matchers(vs)?;
    if matchers.iter().all(Matcher::matches_empty) {
        return Err(QueryError::BadData("match[] must contain at least one non-empty matcher".to_owned()));
    }
    Ok(matchers)
}

/// The storage matchers of a vector selector: its metric name, if written outside the braces,
/// plus every matcher inside them.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>, QueryError> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(QueryError::NotSupported("the \"or\" operator inside a vector selector".to_owned()));
    }
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name.as_str()).map_err(bad_regex)?);
    }
    for m in &vs.matchers.matchers {
        let op = match m.op {
            ParserMatchOp::Equal => MatchOp::Equal,
            ParserMatchOp::NotEqual => MatchOp::NotEqual,
            ParserMatchOp::Re(_) => MatchOp::Regex,
            ParserMatchOp::NotRe(_) => MatchOp::NotRegex,
        };
        out.push(Matcher::new(op, m.name.as_str(), m.value.as_str()).map_err(bad_regex)?);
    }
    Ok(out)
}

fn bad_regex(err: promlite_storage::BadRegex) -> QueryError {
    QueryError::Parse(ParseError::new(err.to_string()))
}

/// The type of an expression as Prometheus's messages name it (`DocumentedType`).
pub(crate) fn type_name(expr: &Expr) -> &'static str {
    use promql_parser::parser::value::ValueType;
    match expr.value_type() {
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
    }
}

/// Milliseconds of a duration, saturating (durations this long are meaningless anyway).
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The signed offset in milliseconds; a positive offset looks into the past.
pub(crate) fn offset_ms(offset: Option<&Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(*d),
        Some(Offset::Neg(d)) => -duration_ms(*d),
    }
}

/// The time an `@` modifier pins evaluation to, or `None` without one.
pub(crate) fn at_ms(at: Option<&AtModifier>, start: i64, end: i64) -> Option<i64> {
    match at? {
        AtModifier::Start => Some(start),
        AtModifier::End => Some(end),
        AtModifier::At(time) => Some(system_time_ms(*time)),
    }
}

fn system_time_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => duration_ms(after),
        Err(before) => -duration_ms(before.duration()),
    }
}

/// Go reads `\xHH` and octal `\NNN` escapes in quoted strings as bytes, so `"\xc3\xbf"` is
/// `ÿ`; promql-parser reads each as the code point U+00HH. Runs of such escapes are rewritten
/// as the `\u` escapes of the characters their bytes spell, and bytes that are not UTF-8 as
/// U+FFFD, which label names then refuse as Go refuses invalid UTF-8. Positions after a
/// rewritten escape may be off by a few columns.
fn byte_escapes_as_unicode(query: &str) -> std::borrow::Cow<'_, str> {
    if !query.contains('\\') {
        return std::borrow::Cow::Borrowed(query);
    }
    let bytes = query.as_bytes();
    let mut out = String::with_capacity(query.len());
    let mut quote: Option<u8> = None;
    let mut i = 0;
    let mut run: Vec<u8> = Vec::new();
    let flush = |run: &mut Vec<u8>, out: &mut String| {
        for chunk in run.utf8_chunks() {
            for c in chunk.valid().chars() {
                out.push_str(&format!("\\U{:08x}", u32::from(c)));
            }
            if !chunk.invalid().is_empty() {
                out.push_str("\\ufffd");
            }
        }
        run.clear();
    };
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            None => {
                if matches!(c, b'"' | b'\'' | b'`') {
                    quote = Some(c);
                }
            }
            Some(b'`') => {
                if c == b'`' {
                    quote = None;
                }
            }
            Some(q) => {
                if c == b'\\' && i + 1 < bytes.len() {
                    let escape = &query[i + 1..];
                    let byte = if let Some(hex) = escape.strip_prefix('x').and_then(|h| h.get(..2)) {
                        u8::from_str_radix(hex, 16).ok().map(|b| (b, 4))
                    } else {
                        escape.get(..3).and_then(|oct| u8::from_str_radix(oct, 8).ok()).map(|b| (b, 4))
                    };
                    if let Some((byte, len)) = byte {
                        run.push(byte);
                        i += len;
                        continue;
                    }
                    // Any other escape passes through whole, whatever the width of its character.
                    flush(&mut run, &mut out);
                    let len = 1 + query[i + 1..].chars().next().map_or(0, char::len_utf8);
                    out.push_str(&query[i..i + len]);
                    i += len;
                    continue;
                }
                if c == q {
                    quote = None;
                }
            }
        }
        flush(&mut run, &mut out);
        let len = query[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&query[i..i + len]);
        i += len;
    }
    flush(&mut run, &mut out);
    std::borrow::Cow::Owned(out)
}

// promql-parser names types by their Go type (`matrix`, `vector`) and quotes names with `'`;
// Prometheus says `range vector`, `instant vector` and uses `"`. Only the message shapes known
// to differ are rewritten, so an unknown message passes through untouched.
fn prometheus_wording(message: &str) -> String {
    if let Some(name) = message.strip_prefix("unknown function with name '").and_then(|m| m.strip_suffix('\'')) {
        return format!("unknown function with name \"{name}\"");
    }
    if !message.starts_with("expected type ") {
        return message.to_owned();
    }
    let mut out = Vec::new();
    for word in message.split(' ') {
        let (core, tail) = word.split_at(word.trim_end_matches(',').len());
        let core = match core {
            "vector" => "instant vector".to_owned(),
            "matrix" => "range vector".to_owned(),
            quoted if quoted.len() > 1 && quoted.starts_with('\'') && quoted.ends_with('\'') => {
                format!("\"{}\"", &quoted[1..quoted.len() - 1])
            }
            other => other.to_owned(),
        };
        out.push(format!("{core}{tail}"));
    }
    out.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_use_prometheus_wording() {
        let err = |q: &str| parse(q).unwrap_err().to_string();
        assert_eq!(
            err("rate(up)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"
        );
        assert_eq!(err("nosuchfn(up)"), "1:1: parse error: unknown function with name \"nosuchfn\"");
        assert_eq!(
            err("abs(1)"),
            "1:5: parse error: expected type instant vector in call to function \"abs\", got scalar"
        );
        assert_eq!(parse("up +").unwrap_err().error_type(), "bad_data");
    }

    #[test]
    fn byte_escapes_read_as_go_does() {
        let string = |q: &str| match parse(q) {
            Ok(Expr::StringLiteral(s)) => s.val,
            other => panic!("{other:?}"),
        };
        assert_eq!(string(r#""\xc3\xbf""#), "ÿ");
        assert_eq!(string(r#""a\x41\101\n""#), "aAA\n");
        assert_eq!(string(r#""\xff""#), "\u{fffd}");
        assert_eq!(string(r#"`\xff`"#), "\\xff");
        assert_eq!(string(r#"'\u00ff'"#), "ÿ");
        // A backslash before a multi-byte character must not split it.
        assert!(matches!(parse(r#""\é""#), Ok(_) | Err(QueryError::Parse(_))));
        assert_eq!(string(r#""é\\x""#), "é\\x");
    }

    #[test]
    fn parse_matchers_takes_selectors_only() {
        let show = |s: &str| match parse_matchers(s) {
            Ok(ms) => ms.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            Err(err) => format!("{}: {err}", err.error_type()),
        };
        assert_eq!(show(r#"up{job="a"}"#), r#"__name__="up",job="a""#);
        assert_eq!(show(r#"{__name__=~"x.*"}"#), r#"__name__=~"x.*""#);
        assert_eq!(show("sum(up)"), "bad_data: parse error: expected a series selector, got instant vector");
        assert_eq!(show("up[5m]"), "bad_data: parse error: expected a series selector, got range vector");
        assert_eq!(show("up offset 5m"), "bad_data: parse error: a series selector takes no offset or @ modifier");
        assert!(show(r#"{a=~".*"}"#).starts_with("bad_data: "), "{}", show(r#"{a=~".*"}"#));
        assert!(show(r#"{a=~"("}"#).starts_with("bad_data: parse error: "));
    }
}
