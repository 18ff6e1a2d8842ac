//! Exposition parsing (upstream `model/textparse/`): bytes of a scrape body in, entries out.
//!
//! One [`Parser`] reads either text format, chosen by [`Format`]: the Prometheus text format
//! (0.0.4, and 1.0.0's quoted UTF-8 names; `promparse.rs`) or OpenMetrics 1.0 text
//! (`openmetricsparse.rs`). [`parser_for`] picks the format from the response's Content-Type
//! the way Prometheus 3 does (and sniffs the body where Prometheus would fail), and
//! [`accept_header`] builds the `Accept` header from `scrape_protocols`.
//!
//! Zero-copy and lazy: a sample borrows its series text from the body, which is the scrape
//! loop's per-target cache key, so a series seen before costs a hash lookup; its labels are
//! split, unescaped and validated only when [`SampleLine::labels`] is called. Text identical to
//! a cached series was validated when it entered the cache, so skipping the label parse on a
//! cache hit never lets a malformed line through.
//!
//! ```
//! use promlite::scrape::textparse::{Entry, Format, Parser};
//! let body = b"# TYPE up gauge\nup{job=\"node\"} 1 1700000000000\n";
//! let mut samples = Vec::new();
//! for entry in Parser::new(body, Format::PrometheusText) {
//!     if let Entry::Sample(sample) = entry.unwrap() {
//!         let labels = sample.labels().unwrap();
//!         samples.push((labels.name.to_string(), labels.labels.len(), sample.value, sample.timestamp));
//!     }
//! }
//! assert_eq!(samples, [("up".to_owned(), 1, 1.0, Some(1_700_000_000_000))]);
//! ```
//!
//! Where this deviates from upstream (all lenient, none changes a series): the whole body must
//! be UTF-8 (upstream checks only label values and HELP text); a `\r` before `\n` is accepted in
//! the text format; a label value cannot hold a raw newline (upstream's text lexer allows one).

use std::borrow::Cow;

mod error;
mod lex;
mod negotiate;
mod openmetricsparse;
mod promparse;
#[cfg(test)]
mod tests;

pub use error::{CONTEXT_BYTES, ParseError, ParseErrorKind};
pub use lex::{NORMAL_NAN, format_openmetrics_float};
pub use negotiate::{ContentTypeError, ContentTypeProblem, Warning, accept_header, parser_for, sniff};

use lex::{Dialect, LabelSetOf, LineCtx};

/// An exposition format this module parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// `text/plain`: the Prometheus text format, 0.0.4 or 1.0.0.
    PrometheusText,
    /// `application/openmetrics-text`: OpenMetrics 1.0 (and 0.0.1, the same grammar).
    OpenMetrics,
}

impl Format {
    /// The media type this format is served as.
    pub fn media_type(self) -> &'static str {
        match self {
            Format::PrometheusText => "text/plain",
            Format::OpenMetrics => "application/openmetrics-text",
        }
    }
}

/// A metric family's declared type (`# TYPE`), named as in `/api/v1/metadata`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `gaugehistogram` (OpenMetrics only).
    GaugeHistogram,
    /// `summary`
    Summary,
    /// `info` (OpenMetrics only).
    Info,
    /// `stateset` (OpenMetrics only).
    StateSet,
    /// `untyped` in the text format, `unknown` in OpenMetrics, or no `# TYPE` line.
    Unknown,
}

impl MetricType {
    /// The name Prometheus uses in `/api/v1/metadata`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::GaugeHistogram => "gaugehistogram",
            MetricType::Summary => "summary",
            MetricType::Info => "info",
            MetricType::StateSet => "stateset",
            MetricType::Unknown => "unknown",
        }
    }
}

/// One parsed line that carries information. Plain comments and blank lines yield nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text`, text unescaped.
    Help {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The help text.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The declared type.
        kind: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics only).
    Unit {
        /// The metric family name.
        name: Cow<'a, str>,
        /// The unit, a suffix of the name (or empty).
        unit: &'a str,
    },
    /// A sample line.
    Sample(SampleLine<'a>),
}

/// A sample line, borrowed from the body. Its labels are parsed on demand.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleLine<'a> {
    /// `name{labels}` exactly as written: the cache key for the series.
    pub series: &'a str,
    /// The sample value (NaN as [`NORMAL_NAN`]).
    pub value: f64,
    /// The explicit timestamp in milliseconds, if the line has one.
    pub timestamp: Option<i64>,
    /// The OpenMetrics exemplar after ` # `, if any.
    pub exemplar: Option<Exemplar<'a>>,
    /// The whole line, for errors found when the labels are parsed.
    line: &'a str,
    line_no: u32,
    /// Where `series` starts in `line`.
    series_start: usize,
    /// The type of the last `# TYPE`: `le` and `quantile` values are normalized by it.
    family_type: MetricType,
    dialect: Dialect,
}

/// A series' metric name and labels, unescaped.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesLabels<'a> {
    /// The metric name.
    pub name: Cow<'a, str>,
    /// The labels in the order written; `le` of histograms and `quantile` of summaries are
    /// rewritten as [`format_openmetrics_float`] (Prometheus 3 does so). Empty values are kept
    /// (storage drops them, as Prometheus does).
    pub labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// An OpenMetrics exemplar: `# {labels} value [timestamp]` after a sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Exemplar<'a> {
    /// The exemplar's labels, unescaped.
    pub labels: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// The exemplar value.
    pub value: f64,
    /// The exemplar timestamp in milliseconds, if given.
    pub timestamp: Option<i64>,
}

const METRIC_NAME_LABEL: &str = "__name__";

impl<'a> SampleLine<'a> {
    /// Validates and splits the series text: the metric name and the labels. Fails with the
    /// line and column of the first problem (a malformed label, a duplicate label name, an
    /// empty label name, a missing metric name).
    pub fn labels(&self) -> Result<SeriesLabels<'a>, ParseError> {
        let ctx = LineCtx { line: self.line, line_no: self.line_no, dialect: self.dialect };
        let bytes = self.line.as_bytes();
        let start = self.series_start;
        let (name, mut labels) = if bytes[start] == b'{' {
            let set = ctx.parse_label_set(start, LabelSetOf::Series)?;
            let name = set.name.ok_or_else(|| ctx.err(start, ParseErrorKind::MetricNameMissing))?;
            (name, set.labels)
        } else {
            let name_end = lex::metric_name_end(bytes, start);
            let name = Cow::Borrowed(&self.line[start..name_end]);
            let series_end = start + self.series.len();
            // Between the name and the `{` only spaces or tabs (the text format) can stand.
            match self.line[name_end..series_end].find('{') {
                None => (name, Vec::new()),
                Some(offset) => {
                    let open = name_end + offset;
                    let set = ctx.parse_label_set(open, LabelSetOf::Series)?;
                    if set.name.is_some() {
                        return Err(ctx.err(open, ParseErrorKind::MetricNameTwice));
                    }
                    (name, set.labels)
                }
            }
        };
        if labels.iter().any(|(label, _)| label == METRIC_NAME_LABEL) {
            return Err(ctx.err(start, ParseErrorKind::DuplicateLabel { name: METRIC_NAME_LABEL.to_owned() }));
        }
        let normalized = match self.family_type {
            MetricType::Histogram => Some("le"),
            MetricType::Summary => Some("quantile"),
            _ => None,
        };
        if let Some(normalized) = normalized {
            for (label, value) in &mut labels {
                if label == normalized
                    && let Some(number) = lex::parse_value(value)
                {
                    *value = Cow::Owned(format_openmetrics_float(number));
                }
            }
        }
        Ok(SeriesLabels { name, labels })
    }

    /// The 1-based line number of this sample in the body.
    pub fn line_number(&self) -> u32 {
        self.line_no
    }
}

/// The error of the series `line[start..end]`, if its labels are malformed. A line whose value
/// or timestamp is bad reports this first: `foo{le 1}` is about the label, not the value.
fn series_error(line: &str, line_no: u32, start: usize, end: usize, dialect: Dialect) -> Option<ParseError> {
    let probe = SampleLine {
        series: &line[start..end],
        value: 0.0,
        timestamp: None,
        exemplar: None,
        line,
        line_no,
        series_start: start,
        family_type: MetricType::Unknown,
        dialect,
    };
    probe.labels().err()
}

/// Iterates over the entries of a body in one [`Format`]. Stops at the first error, which it
/// yields; an OpenMetrics body without `# EOF` ends with [`ParseErrorKind::MissingEof`].
pub struct Parser<'a> {
    text: &'a str,
    pos: usize,
    line_no: u32,
    format: Format,
    family_type: MetricType,
    finished: bool,
    /// Set when `# EOF` was read (OpenMetrics).
    saw_eof: bool,
    pending: Option<ParseError>,
}

impl<'a> Parser<'a> {
    /// A parser over `body` in `format`; a body that is not UTF-8 fails on the first `next`
    /// with the position of the first bad byte.
    pub fn new(body: &'a [u8], format: Format) -> Parser<'a> {
        let (text, pending) = match std::str::from_utf8(body) {
            Ok(text) => (text, None),
            Err(err) => {
                let valid = &body[..err.valid_up_to()];
                let line_start = memchr::memrchr(b'\n', valid).map_or(0, |i| i + 1);
                let line = valid.iter().filter(|b| **b == b'\n').count() as u32 + 1;
                let line_end = memchr::memchr(b'\n', &body[line_start..]).map_or(body.len(), |i| line_start + i);
                let context = String::from_utf8_lossy(&body[line_start..line_end]);
                let err = ParseError::at(line, &context, valid.len() - line_start, ParseErrorKind::InvalidUtf8);
                ("", Some(err))
            }
        };
        Parser {
            text,
            pos: 0,
            line_no: 0,
            format,
            family_type: MetricType::Unknown,
            finished: false,
            saw_eof: false,
            pending,
        }
    }

    /// The format this parser reads.
    pub fn format(&self) -> Format {
        self.format
    }

    fn fail(&mut self, err: ParseError) -> Option<Result<Entry<'a>, ParseError>> {
        self.finished = true;
        Some(Err(err))
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        if let Some(err) = self.pending.take() {
            return self.fail(err);
        }
        let text = self.text;
        while self.pos < text.len() {
            let rest = &text[self.pos..];
            let (line, has_newline) = match memchr::memchr(b'\n', rest.as_bytes()) {
                Some(end) => (&rest[..end], true),
                None => (rest, false),
            };
            self.pos += line.len() + usize::from(has_newline);
            self.line_no += 1;
            let parsed = match self.format {
                Format::PrometheusText => promparse::parse_line(self, line),
                Format::OpenMetrics => openmetricsparse::parse_line(self, line, has_newline),
            };
            match parsed {
                Ok(None) if self.saw_eof => {
                    if self.pos < text.len() {
                        let err = ParseError::at(self.line_no + 1, "", 0, ParseErrorKind::DataAfterEof);
                        return self.fail(err);
                    }
                    self.finished = true;
                    return None;
                }
                Ok(None) => continue,
                Ok(Some(entry)) => return Some(Ok(entry)),
                Err(err) => return self.fail(err),
            }
        }
        self.finished = true;
        if self.format == Format::OpenMetrics {
            let err = ParseError { line: self.line_no + 1, col: 1, kind: ParseErrorKind::MissingEof, context: None };
            return Some(Err(err));
        }
        None
    }
}
