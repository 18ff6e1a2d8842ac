//! OpenMetrics 1.0 text (upstream `model/textparse/openmetricsparse.go` and `openmetricslex.l`
//! for semantics; the spec's ABNF for the grammar).
//!
//! Stricter than the text format: single spaces only, no blank lines, no comments other than
//! `# HELP`, `# TYPE`, `# UNIT` and a final `# EOF`, nothing after `# EOF`, timestamps in float
//! seconds, exemplars as ` # {labels} value [timestamp]` after a sample. `_created` series are
//! yielded as ordinary samples, as Prometheus does unless created-timestamp ingestion is on.

use std::borrow::Cow;

use super::error::{ParseError, ParseErrorKind, got};
use super::lex::{self, Dialect, LabelSetOf, LineCtx, METRIC_START};
use super::{Entry, Exemplar, MetricType, Parser, SampleLine};

/// Parses one line (without its `\n`); `has_newline` is false only for the body's last line.
pub(super) fn parse_line<'a>(
    parser: &mut Parser<'a>,
    line: &'a str,
    has_newline: bool,
) -> Result<Option<Entry<'a>>, ParseError> {
    let err = |col: usize, kind| ParseError::at(parser.line_no, line, col, kind);
    if line == "# EOF" {
        parser.saw_eof = true;
        return Ok(None);
    }
    if !has_newline {
        return Err(err(line.len(), ParseErrorKind::MissingEof));
    }
    match line.as_bytes().first() {
        None => Err(err(0, ParseErrorKind::BlankLine)),
        Some(b'#') => parse_metadata(parser, line),
        Some(_) => parse_sample(parser, line).map(|sample| Some(Entry::Sample(sample))),
    }
}

fn parse_metadata<'a>(parser: &mut Parser<'a>, line: &'a str) -> Result<Option<Entry<'a>>, ParseError> {
    let err = |col: usize, kind| ParseError::at(parser.line_no, line, col, kind);
    let keyword: &'static str = match line.get(..7) {
        Some("# HELP ") => "HELP",
        Some("# TYPE ") => "TYPE",
        Some("# UNIT ") => "UNIT",
        _ => return Err(err(0, ParseErrorKind::InvalidComment)),
    };
    let bytes = line.as_bytes();
    let (name, name_end) = match bytes.get(7) {
        Some(b'"') => {
            let end = lex::quoted_end(bytes, 7).ok_or_else(|| err(7, ParseErrorKind::UnterminatedQuote))?;
            (lex::unescape_label(&line[8..end - 1]), end)
        }
        Some(b) if METRIC_START[*b as usize] => {
            let end = lex::metric_name_end(bytes, 7);
            (Cow::Borrowed(&line[7..end]), end)
        }
        _ => return Err(err(7, ParseErrorKind::ExpectedMetricName { got: got(&line[7..]) })),
    };
    if bytes.get(name_end) != Some(&b' ') {
        return Err(err(name_end, ParseErrorKind::ExpectedText { keyword }));
    }
    let text = &line[name_end + 1..];
    match keyword {
        "HELP" => Ok(Some(Entry::Help { name, text: lex::unescape_label(text) })),
        "TYPE" => {
            let kind = match text {
                "counter" => MetricType::Counter,
                "gauge" => MetricType::Gauge,
                "histogram" => MetricType::Histogram,
                "gaugehistogram" => MetricType::GaugeHistogram,
                "summary" => MetricType::Summary,
                "info" => MetricType::Info,
                "stateset" => MetricType::StateSet,
                "unknown" => MetricType::Unknown,
                _ => return Err(err(name_end + 1, ParseErrorKind::InvalidType { text: text.to_owned() })),
            };
            parser.family_type = kind;
            Ok(Some(Entry::Type { name, kind }))
        }
        _ => {
            let unit = text;
            let suffix_ok =
                name.len() > unit.len() && name.ends_with(unit) && name.as_bytes()[name.len() - unit.len() - 1] == b'_';
            if !unit.is_empty() && !suffix_ok {
                let kind = ParseErrorKind::UnitNotSuffix { unit: unit.to_owned(), name: name.into_owned() };
                return Err(err(name_end + 1, kind));
            }
            Ok(Some(Entry::Unit { name, unit }))
        }
    }
}

/// The end of the token starting at `start`: the next space or the end of the line.
fn token_end(bytes: &[u8], start: usize) -> usize {
    memchr::memchr(b' ', &bytes[start..]).map_or(bytes.len(), |i| start + i)
}

fn parse_sample<'a>(parser: &Parser<'a>, line: &'a str) -> Result<SampleLine<'a>, ParseError> {
    let bytes = line.as_bytes();
    let line_no = parser.line_no;
    let err = |col: usize, kind| ParseError::at(line_no, line, col, kind);
    // A malformed label set explains a failure better than what the cheap scan tripped on.
    let series_err = |end: usize, fallback: ParseError| {
        super::series_error(line, line_no, 0, end, Dialect::OpenMetrics).unwrap_or(fallback)
    };
    let series_end = if bytes[0] == b'{' {
        lex::label_set_end(bytes, 0)
            .ok_or_else(|| series_err(line.len(), err(0, ParseErrorKind::UnterminatedLabels)))?
    } else if METRIC_START[bytes[0] as usize] {
        let name_end = lex::metric_name_end(bytes, 0);
        if bytes.get(name_end) == Some(&b'{') {
            lex::label_set_end(bytes, name_end)
                .ok_or_else(|| series_err(line.len(), err(name_end, ParseErrorKind::UnterminatedLabels)))?
        } else {
            name_end
        }
    } else {
        return Err(err(0, ParseErrorKind::ExpectedMetricName { got: got(line) }));
    };
    let (value, timestamp, exemplar) =
        after_series(line, line_no, series_end).map_err(|e| series_err(series_end, e))?;
    Ok(SampleLine {
        series: &line[..series_end],
        value,
        timestamp,
        exemplar,
        line,
        line_no,
        series_start: 0,
        family_type: parser.family_type,
        dialect: Dialect::OpenMetrics,
    })
}

type AfterSeries<'a> = (f64, Option<i64>, Option<Exemplar<'a>>);

/// Reads ` value [ timestamp][ # exemplar]` after the series, which ends at `series_end`.
fn after_series(line: &str, line_no: u32, series_end: usize) -> Result<AfterSeries<'_>, ParseError> {
    let bytes = line.as_bytes();
    let err = |col: usize, kind| ParseError::at(line_no, line, col, kind);
    let (value, mut pos) = space_then_value(line, series_end, "value", line_no)?;
    let mut timestamp = None;
    if pos < bytes.len() && !line[pos..].starts_with(" # ") {
        let start = pos + 1;
        let end = token_end(bytes, start);
        let text = &line[start..end];
        if text.is_empty() {
            return Err(err(start, ParseErrorKind::ExpectedSpace { what: "timestamp", got: got(&line[pos..]) }));
        }
        let ts = lex::parse_om_timestamp(text)
            .ok_or_else(|| err(start, ParseErrorKind::InvalidTimestamp { text: text.to_owned() }))?;
        timestamp = Some(ts);
        pos = end;
    }
    let mut exemplar = None;
    if pos < bytes.len() {
        if !line[pos..].starts_with(" # ") {
            return Err(err(pos, ParseErrorKind::TrailingText { text: got(&line[pos..]) }));
        }
        exemplar = Some(parse_exemplar(line, line_no, pos + 3)?);
    }
    Ok((value, timestamp, exemplar))
}

/// Reads `' ' value` at `pos`; returns the value and the position after it.
fn space_then_value(line: &str, pos: usize, what: &'static str, line_no: u32) -> Result<(f64, usize), ParseError> {
    let bytes = line.as_bytes();
    let err = |col: usize, kind| ParseError::at(line_no, line, col, kind);
    if bytes.get(pos) != Some(&b' ') || bytes.get(pos + 1).is_none_or(|b| *b == b' ') {
        return Err(err(pos, ParseErrorKind::ExpectedSpace { what, got: got(&line[pos..]) }));
    }
    let end = token_end(bytes, pos + 1);
    let text = &line[pos + 1..end];
    let value =
        lex::parse_value(text).ok_or_else(|| err(pos + 1, ParseErrorKind::InvalidValue { text: text.to_owned() }))?;
    Ok((value, end))
}

fn parse_exemplar(line: &str, line_no: u32, open: usize) -> Result<Exemplar<'_>, ParseError> {
    let bytes = line.as_bytes();
    let err = |col: usize, kind| ParseError::at(line_no, line, col, kind);
    if bytes.get(open) != Some(&b'{') {
        return Err(err(open, ParseErrorKind::InvalidExemplar { why: "expected '{' after \" # \"" }));
    }
    let ctx = LineCtx { line, line_no, dialect: Dialect::OpenMetrics };
    let set = ctx.parse_label_set(open, LabelSetOf::Exemplar)?;
    let (value, pos) = space_then_value(line, set.end, "exemplar value", line_no)?;
    let mut timestamp = None;
    if pos < bytes.len() {
        let start = pos + 1;
        let end = token_end(bytes, start);
        let text = &line[start..end];
        let ts = lex::parse_om_timestamp(text)
            .ok_or_else(|| err(start, ParseErrorKind::InvalidTimestamp { text: text.to_owned() }))?;
        if end < bytes.len() {
            return Err(err(end, ParseErrorKind::TrailingText { text: got(&line[end..]) }));
        }
        timestamp = Some(ts);
    }
    Ok(Exemplar { labels: set.labels, value, timestamp })
}
