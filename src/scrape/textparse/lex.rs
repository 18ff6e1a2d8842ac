//! Byte-level pieces both text formats share: name character classes, quoted strings and their
//! escapes, label sets, and numbers with Prometheus's accepted syntax.
//!
//! Invariant: every function here takes a line without its `\n` and never panics on any input;
//! positions it returns are char boundaries of that line.

use std::borrow::Cow;

use super::error::{ParseError, ParseErrorKind, got};

/// Which grammar a label set follows: the text format skips spaces and tabs between tokens and
/// needs no comma between labels; OpenMetrics allows neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    Prom,
    OpenMetrics,
}

const fn class_table(extra: &[u8], digits: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphabetic() || c == b'_' || (digits && c.is_ascii_digit());
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// `[a-zA-Z_:]`: the first byte of a metric name.
pub(super) static METRIC_START: [bool; 256] = class_table(b":", false);
/// `[a-zA-Z0-9_:]`: the other bytes of a metric name.
pub(super) static METRIC_CONT: [bool; 256] = class_table(b":", true);
/// `[a-zA-Z_]`: the first byte of a label name.
static LABEL_START: [bool; 256] = class_table(b"", false);
/// `[a-zA-Z0-9_]`: the other bytes of a label name.
static LABEL_CONT: [bool; 256] = class_table(b"", true);

/// The end of the metric name starting at `start` (which must hold a [`METRIC_START`] byte).
pub(super) fn metric_name_end(bytes: &[u8], start: usize) -> usize {
    let mut pos = start + 1;
    while pos < bytes.len() && METRIC_CONT[bytes[pos] as usize] {
        pos += 1;
    }
    pos
}

/// The position after the closing quote of the string opening at `open` (`bytes[open] == b'"'`),
/// or `None` when the line ends first. A backslash escapes the next byte.
pub(super) fn quoted_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut pos = open + 1;
    loop {
        let found = memchr::memchr2(b'"', b'\\', bytes.get(pos..)?)?;
        pos += found;
        if bytes[pos] == b'"' {
            return Some(pos + 1);
        }
        pos += 2;
    }
}

/// The position after the `}` closing the label set that opens at `open`, skipping quoted
/// strings, without validating what is between: the cheap scan that finds a sample's series
/// text. [`LineCtx::parse_label_set`] validates it when the labels are asked for. A plain byte
/// loop: label values are short, and it measured 1.4x faster than one `memchr2` call per value
/// on the kube-state-metrics-like input (`benches/textparse.rs`, `parse_only` vs the baseline).
pub(super) fn label_set_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut pos = open + 1;
    let mut quoted = false;
    while pos < bytes.len() {
        match bytes[pos] {
            b'"' => quoted = !quoted,
            b'\\' if quoted => pos += 1,
            b'}' if !quoted => return Some(pos + 1),
            _ => {}
        }
        pos += 1;
    }
    None
}

/// Undoes the label value escapes `\\`, `\"` and `\n`; any other escape stays as written
/// (upstream's replacer does the same).
pub(super) fn unescape_label(raw: &str) -> Cow<'_, str> {
    unescape(raw, true)
}

/// Undoes the text format's HELP escapes, `\\` and `\n` only.
pub(super) fn unescape_help(raw: &str) -> Cow<'_, str> {
    unescape(raw, false)
}

fn unescape(raw: &str, quotes: bool) -> Cow<'_, str> {
    if !raw.as_bytes().contains(&b'\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        match rest.as_bytes().get(i + 1) {
            Some(b'\\') => out.push('\\'),
            Some(b'n') => out.push('\n'),
            Some(b'"') if quotes => out.push('"'),
            Some(_) => {
                // Kept as written: the backslash now, the escaped char with the rest.
                out.push('\\');
                rest = &rest[i + 1..];
                continue;
            }
            None => {
                out.push('\\');
                return Cow::Owned(out);
            }
        }
        rest = &rest[i + 2..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The labels of one series, validated and unescaped.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LabelSet<'a> {
    /// The quoted metric name written inside the braces, if any.
    pub name: Option<Cow<'a, str>>,
    /// The labels in the order written.
    pub labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The position after the closing `}`.
    pub end: usize,
}

/// Where a label set is parsed: the line, its number, and the grammar to follow.
pub(super) struct LineCtx<'a> {
    pub line: &'a str,
    pub line_no: u32,
    pub dialect: Dialect,
}

/// Whose label set [`LineCtx::parse_label_set`] reads: a sample's may hold the metric name
/// (`{"name", ...}`), an exemplar's may not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LabelSetOf {
    /// A sample's series.
    Series,
    /// An exemplar (OpenMetrics `# {...}`).
    Exemplar,
}

impl<'a> LineCtx<'a> {
    pub fn err(&self, col0: usize, kind: ParseErrorKind) -> ParseError {
        ParseError::at(self.line_no, self.line, col0, kind)
    }

    fn skip_ws(&self, mut pos: usize) -> usize {
        if self.dialect == Dialect::Prom {
            let bytes = self.line.as_bytes();
            while pos < bytes.len() && (bytes[pos] == b' ' || bytes[pos] == b'\t') {
                pos += 1;
            }
        }
        pos
    }

    fn rest(&self, pos: usize) -> String {
        got(self.line.get(pos..).unwrap_or(""))
    }

    /// Parses the label set whose `{` is at `open`. An exemplar's label set may not hold a
    /// metric name.
    pub fn parse_label_set(&self, open: usize, of: LabelSetOf) -> Result<LabelSet<'a>, ParseError> {
        let line = self.line;
        let bytes = line.as_bytes();
        let mut set = LabelSet { name: None, labels: Vec::new(), end: 0 };
        let mut pos = self.skip_ws(open + 1);
        loop {
            // A label name (plain or quoted), a quoted metric name, or the end of the set.
            let name_start = pos;
            let (name, quoted) = match bytes.get(pos) {
                Some(b'}') => {
                    set.end = pos + 1;
                    return Ok(set);
                }
                Some(b'"') => {
                    let end = quoted_end(bytes, pos).ok_or_else(|| self.err(pos, ParseErrorKind::UnterminatedQuote))?;
                    pos = end;
                    (unescape_label(&line[name_start + 1..end - 1]), true)
                }
                Some(b) if LABEL_START[*b as usize] => {
                    pos += 1;
                    while pos < bytes.len() && LABEL_CONT[bytes[pos] as usize] {
                        pos += 1;
                    }
                    (Cow::Borrowed(&line[name_start..pos]), false)
                }
                _ => return Err(self.err(pos, ParseErrorKind::ExpectedLabelName { got: self.rest(pos) })),
            };
            pos = self.skip_ws(pos);
            if quoted && matches!(bytes.get(pos), Some(b',' | b'}')) {
                if of == LabelSetOf::Exemplar {
                    return Err(self.err(name_start, ParseErrorKind::ExpectedEquals { name: name.into_owned() }));
                }
                if set.name.is_some() {
                    return Err(self.err(name_start, ParseErrorKind::MetricNameTwice));
                }
                if name.is_empty() {
                    return Err(self.err(name_start, ParseErrorKind::ExpectedMetricName { got: "\"\"".to_owned() }));
                }
                set.name = Some(name);
                if bytes[pos] == b',' {
                    pos = self.skip_ws(pos + 1);
                }
                continue;
            }
            if name.is_empty() {
                return Err(self.err(name_start, ParseErrorKind::EmptyLabelName));
            }
            if bytes.get(pos) != Some(&b'=') {
                return Err(self.err(pos, ParseErrorKind::ExpectedEquals { name: name.into_owned() }));
            }
            pos = self.skip_ws(pos + 1);
            if bytes.get(pos) != Some(&b'"') {
                return Err(self.err(pos, ParseErrorKind::ExpectedQuote { name: name.into_owned() }));
            }
            let value_end = quoted_end(bytes, pos).ok_or_else(|| self.err(pos, ParseErrorKind::UnterminatedQuote))?;
            let value = unescape_label(&line[pos + 1..value_end - 1]);
            if set.labels.iter().any(|(existing, _)| *existing == name) {
                return Err(self.err(name_start, ParseErrorKind::DuplicateLabel { name: name.into_owned() }));
            }
            set.labels.push((name, value));
            pos = self.skip_ws(value_end);
            match bytes.get(pos) {
                Some(b',') => pos = self.skip_ws(pos + 1),
                Some(b'}') => {}
                // The text format needs no comma between labels (upstream accepts `{a="1" b="2"}`).
                Some(b) if self.dialect == Dialect::Prom && (*b == b'"' || LABEL_START[*b as usize]) => {}
                _ => {
                    let name = set.labels.last().map(|(n, _)| n.to_string()).unwrap_or_default();
                    return Err(self.err(pos, ParseErrorKind::ExpectedCommaOrBrace { name, got: self.rest(pos) }));
                }
            }
        }
    }
}

/// Parses a sample value like upstream's `parseFloat`: Go's `strconv.ParseFloat` restricted to
/// decimal syntax (no hex, no `_`), `NaN`, and `Inf`/`Infinity` with an optional sign, any case.
/// Out of range (`1e400`) is an error, as in Go. NaN comes back as Prometheus's normal NaN.
pub(super) fn parse_value(text: &str) -> Option<f64> {
    let bytes = text.as_bytes();
    // Integers up to 15 digits are exact in an f64: the common case for counters.
    if !bytes.is_empty() && bytes.len() <= 15 && bytes.iter().all(u8::is_ascii_digit) {
        return Some(bytes.iter().fold(0u64, |acc, b| acc * 10 + u64::from(b - b'0')) as f64);
    }
    if bytes.iter().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        // std's decimal grammar is Go's: sign, digits with one optional '.', optional exponent.
        let value: f64 = text.parse().ok()?;
        return value.is_finite().then_some(value);
    }
    parse_special(text)
}

/// Prometheus stores every scraped NaN with these bits (upstream `value.NormalNaN`), so that
/// none is mistaken for a staleness marker.
pub const NORMAL_NAN: f64 = f64::from_bits(0x7ff8_0000_0000_0001);

fn parse_special(text: &str) -> Option<f64> {
    let (negative, body) = match text.as_bytes().first()? {
        b'+' => (false, &text[1..]),
        b'-' => (true, &text[1..]),
        _ => (false, text),
    };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Some(if negative { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    // Go accepts no sign on NaN.
    if body.len() == text.len() && text.eq_ignore_ascii_case("nan") {
        return Some(NORMAL_NAN);
    }
    None
}

/// An OpenMetrics timestamp (float seconds) as milliseconds; NaN and infinities are errors.
/// Truncates toward zero like upstream's `int64(ts * 1000)`.
pub(super) fn parse_om_timestamp(text: &str) -> Option<i64> {
    let seconds = parse_value(text)?;
    if !seconds.is_finite() {
        return None;
    }
    Some((seconds * 1000.0) as i64)
}

/// Formats `value` as upstream's `formatOpenMetricsFloat`: Go's `%g` with the shortest
/// round-trip digits, `.0` added to integers, `NaN`, `+Inf`, `-Inf`. Prometheus rewrites `le`
/// and `quantile` label values this way, so `le="1"` and `le="1.0"` are one series.
pub fn format_openmetrics_float(value: f64) -> String {
    let mut out = promlite_storage::format_go_g(value);
    if !value.is_finite() {
        return out;
    }
    if !out.contains(['e', '.']) {
        out.push_str(".0");
    }
    out
}
