//! The Prometheus text format, 0.0.4 and 1.0.0 (upstream `model/textparse/promparse.go` and
//! `promlex.l` for semantics; one grammar serves both versions, as upstream's does).
//!
//! Per line: blank; `#` comments (`# HELP name text` and `# TYPE name type` when the keyword
//! follows `#` and whitespace, anything else is a plain comment); or a sample
//! `name[{labels}] value [timestamp]`. Spaces and tabs separate tokens and may trail; a `\r`
//! before `\n` is dropped. Names may be quoted (`{"my.metric", "a.b"="c"}`, 1.0.0). The value
//! is Go's decimal float syntax, `NaN` or `±Inf`; the timestamp is integer milliseconds.
//! Label sets are only located here; [`super::SampleLine::labels`] validates them.

use std::borrow::Cow;

use super::error::{ParseError, ParseErrorKind, got};
use super::lex::{self, Dialect, METRIC_START};
use super::{Entry, MetricType, Parser, SampleLine};

fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while pos < bytes.len() && (bytes[pos] == b' ' || bytes[pos] == b'\t') {
        pos += 1;
    }
    pos
}

/// Parses one line (without its `\n`).
pub(super) fn parse_line<'a>(parser: &mut Parser<'a>, line: &'a str) -> Result<Option<Entry<'a>>, ParseError> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let bytes = line.as_bytes();
    let start = skip_ws(bytes, 0);
    match bytes.get(start) {
        None => Ok(None),
        Some(b'#') => parse_comment(parser, line, start),
        Some(_) => parse_sample(parser, line, start).map(|sample| Some(Entry::Sample(sample))),
    }
}

fn parse_comment<'a>(parser: &mut Parser<'a>, line: &'a str, hash: usize) -> Result<Option<Entry<'a>>, ParseError> {
    let bytes = line.as_bytes();
    let keyword_start = skip_ws(bytes, hash + 1);
    if keyword_start == hash + 1 {
        return Ok(None);
    }
    let keyword = line.get(keyword_start..keyword_start + 4);
    let is_help = keyword == Some("HELP");
    if !is_help && keyword != Some("TYPE") {
        return Ok(None);
    }
    let name_start = skip_ws(bytes, keyword_start + 4);
    if name_start == keyword_start + 4 {
        // `# HELPER` or `# HELP` alone: a plain comment.
        return Ok(None);
    }
    let err = |col: usize, kind| ParseError::at(parser.line_no, line, col, kind);
    let (name, name_end) = match bytes.get(name_start) {
        Some(b'"') => {
            let end =
                lex::quoted_end(bytes, name_start).ok_or_else(|| err(name_start, ParseErrorKind::UnterminatedQuote))?;
            (lex::unescape_label(&line[name_start + 1..end - 1]), end)
        }
        Some(b) if METRIC_START[*b as usize] => {
            let end = lex::metric_name_end(bytes, name_start);
            (Cow::Borrowed(&line[name_start..end]), end)
        }
        _ => return Err(err(name_start, ParseErrorKind::ExpectedMetricName { got: got(&line[name_start..]) })),
    };
    // Upstream drops exactly one character after the name: `# TYPE a  counter` is an error.
    let mut rest = line[name_end..].chars();
    rest.next();
    let text = rest.as_str();
    if is_help {
        return Ok(Some(Entry::Help { name, text: lex::unescape_help(text) }));
    }
    let kind = match text {
        "counter" => MetricType::Counter,
        "gauge" => MetricType::Gauge,
        "histogram" => MetricType::Histogram,
        "summary" => MetricType::Summary,
        "untyped" => MetricType::Unknown,
        _ => {
            let col = line.len() - text.len();
            return Err(err(col, ParseErrorKind::InvalidType { text: text.to_owned() }));
        }
    };
    parser.family_type = kind;
    Ok(Some(Entry::Type { name, kind }))
}

fn parse_sample<'a>(parser: &Parser<'a>, line: &'a str, start: usize) -> Result<SampleLine<'a>, ParseError> {
    let bytes = line.as_bytes();
    let line_no = parser.line_no;
    let err = |col: usize, kind| ParseError::at(line_no, line, col, kind);
    // A malformed label set explains a failure better than what the cheap scan tripped on.
    let series_err = |end: usize, fallback: ParseError| {
        super::series_error(line, line_no, start, end, Dialect::Prom).unwrap_or(fallback)
    };
    let series_end = if bytes[start] == b'{' {
        lex::label_set_end(bytes, start)
            .ok_or_else(|| series_err(line.len(), err(start, ParseErrorKind::UnterminatedLabels)))?
    } else if METRIC_START[bytes[start] as usize] {
        let name_end = lex::metric_name_end(bytes, start);
        let open = skip_ws(bytes, name_end);
        if bytes.get(open) == Some(&b'{') {
            lex::label_set_end(bytes, open)
                .ok_or_else(|| series_err(line.len(), err(open, ParseErrorKind::UnterminatedLabels)))?
        } else {
            name_end
        }
    } else {
        return Err(err(start, ParseErrorKind::ExpectedMetricName { got: got(&line[start..]) }));
    };
    let (value, timestamp) = value_and_timestamp(line, line_no, series_end).map_err(|e| series_err(series_end, e))?;
    Ok(SampleLine {
        series: &line[start..series_end],
        value,
        timestamp,
        exemplar: None,
        line,
        line_no,
        series_start: start,
        family_type: parser.family_type,
        dialect: Dialect::Prom,
    })
}

/// Reads `value [timestamp]` after the series, which ends at `series_end`.
fn value_and_timestamp(line: &str, line_no: u32, series_end: usize) -> Result<(f64, Option<i64>), ParseError> {
    let bytes = line.as_bytes();
    let err = |col: usize, kind| ParseError::at(line_no, line, col, kind);
    // Upstream's value token is any run without space, tab or `{`; no space is needed before it.
    let value_start = skip_ws(bytes, series_end);
    let mut value_end = value_start;
    while value_end < bytes.len() && !matches!(bytes[value_end], b' ' | b'\t' | b'{') {
        value_end += 1;
    }
    let value_text = &line[value_start..value_end];
    let value = lex::parse_value(value_text).ok_or_else(|| {
        let text = if value_text.is_empty() { got(&line[value_start..]) } else { value_text.to_owned() };
        err(value_start, ParseErrorKind::InvalidValue { text })
    })?;

    let ts_start = skip_ws(bytes, value_end);
    if ts_start == bytes.len() {
        return Ok((value, None));
    }
    let mut ts_end = ts_start;
    while ts_end < bytes.len() && !matches!(bytes[ts_end], b' ' | b'\t') {
        ts_end += 1;
    }
    let ts_text = &line[ts_start..ts_end];
    // Digits only: upstream's lexer takes no sign, so negative timestamps are errors.
    let ts = if ts_text.bytes().all(|b| b.is_ascii_digit()) { ts_text.parse::<i64>().ok() } else { None };
    let ts = ts.ok_or_else(|| err(ts_start, ParseErrorKind::InvalidTimestamp { text: ts_text.to_owned() }))?;
    let trailing = skip_ws(bytes, ts_end);
    if trailing < bytes.len() {
        return Err(err(trailing, ParseErrorKind::TrailingText { text: got(&line[trailing..]) }));
    }
    Ok((value, Some(ts)))
}
