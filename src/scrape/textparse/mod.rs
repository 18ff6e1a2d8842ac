//! Exposition parsing (upstream `model/textparse/`): bytes of a scrape body in, entries out.
//!
//! [`PromParser`] reads the Prometheus text format 0.0.4 line by line without copying: a sample
//! yields its raw series text (for the scrape loop's per-target cache, so a series seen before
//! costs one hash lookup) and its labels only when asked for.
//!
//! FIXME(#3): walking skeleton. No OpenMetrics, no quoted UTF-8 names, values parsed with Rust's
//! float syntax rather than Go's ParseFloat, and no content negotiation.

use std::borrow::Cow;

mod promparse;

pub use promparse::PromParser;

/// A metric family's declared type (`# TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// `counter`
    Counter,
    /// `gauge`
    Gauge,
    /// `histogram`
    Histogram,
    /// `summary`
    Summary,
    /// `untyped`, or no `# TYPE` line.
    Unknown,
}

impl MetricType {
    /// The name Prometheus uses in `/api/v1/metadata`.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::Counter => "counter",
            MetricType::Gauge => "gauge",
            MetricType::Histogram => "histogram",
            MetricType::Summary => "summary",
            MetricType::Unknown => "unknown",
        }
    }
}

/// One parsed line that carries information.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text` (text unescaped on demand by the caller if needed).
    Help { name: &'a str, text: &'a str },
    /// `# TYPE name type`.
    Type { name: &'a str, kind: MetricType },
    /// A sample line.
    Sample(SampleLine<'a>),
}

/// A sample line, borrowed from the body.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleLine<'a> {
    /// `name{labels}` exactly as written: the cache key for the series.
    pub series: &'a str,
    /// The metric name.
    pub name: &'a str,
    /// The text between `{` and `}`, already validated.
    labels_text: &'a str,
    /// The sample value.
    pub value: f64,
    /// The explicit timestamp, milliseconds, if the line had one.
    pub timestamp: Option<i64>,
}

impl<'a> SampleLine<'a> {
    /// The labels, in the order written, values unescaped.
    pub fn labels(&self) -> Vec<(&'a str, Cow<'a, str>)> {
        promparse::split_labels(self.labels_text)
    }
}

/// Where and why a body failed to parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {col}: {kind}{}", context.as_deref().map(|c| format!(" in {c:?}")).unwrap_or_default())]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (bytes).
    pub col: u32,
    /// What was wrong.
    pub kind: ParseErrorKind,
    /// The offending line, truncated to 120 bytes.
    pub context: Option<String>,
}

/// The kinds of parse failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseErrorKind {
    /// A metric name was expected.
    #[error("expected metric name, got {got:?}")]
    ExpectedMetricName { got: String },
    /// A label name was expected.
    #[error("expected label name, got {got:?}")]
    ExpectedLabelName { got: String },
    /// `=` must follow a label name.
    #[error("expected '=' after label name {name:?}")]
    ExpectedEquals { name: String },
    /// A label value must be a double-quoted string.
    #[error("expected '\"' to start the value of label {name:?}")]
    ExpectedQuote { name: String },
    /// The label value's closing quote is missing.
    #[error("unterminated value of label {name:?}")]
    UnterminatedValue { name: String },
    /// After a label value, only `,` or `}`.
    #[error("expected ',' or '}}' after label {name:?}, got {got:?}")]
    ExpectedCommaOrBrace { name: String, got: String },
    /// The same label name twice on one line.
    #[error("duplicate label name {name:?}")]
    DuplicateLabel { name: String },
    /// The value is not a float.
    #[error("invalid sample value {text:?}")]
    InvalidValue { text: String },
    /// The timestamp is not an integer.
    #[error("invalid timestamp {text:?}")]
    InvalidTimestamp { text: String },
    /// Something follows the timestamp.
    #[error("unexpected {text:?} after the timestamp")]
    TrailingText { text: String },
    /// A `# TYPE` line names an unknown type.
    #[error("invalid metric type {text:?}")]
    InvalidType { text: String },
    /// The body is not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
}
