//! Parse errors: where (1-based line and byte column), what, and the offending line (truncated),
//! so a person can find the line in the exporter's output. An error fails that scrape only.

/// Where and why a body failed to parse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}, column {col}: {kind}{}", context.as_deref().map(|c| format!(" in {c:?}")).unwrap_or_default())]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in bytes.
    pub col: u32,
    /// What was wrong.
    pub kind: ParseErrorKind,
    /// The offending line, truncated to [`CONTEXT_BYTES`] bytes.
    pub context: Option<String>,
}

/// How much of the offending line an error keeps.
pub const CONTEXT_BYTES: usize = 120;

impl ParseError {
    /// An error at byte `col0` (0-based) of `line_text`, which is line `line`.
    pub(super) fn at(line: u32, line_text: &str, col0: usize, kind: ParseErrorKind) -> ParseError {
        let context = (!line_text.is_empty()).then(|| truncate(line_text, CONTEXT_BYTES).to_owned());
        ParseError { line, col: col0 as u32 + 1, kind, context }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
pub(super) fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A short excerpt of what was found instead of what was expected.
pub(super) fn got(rest: &str) -> String {
    let excerpt: String = rest.chars().take(12).collect();
    excerpt
}

/// The kinds of parse failure; the messages name what was expected and what was found.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseErrorKind {
    /// A metric name was expected.
    #[error("expected metric name, got {got:?}")]
    ExpectedMetricName {
        /// What was there instead.
        got: String,
    },
    /// A label set names its metric twice (`foo{"bar"}`).
    #[error("metric name already set")]
    MetricNameTwice,
    /// A label set starting with `{` never names its metric.
    #[error("metric name not set: a series starting with '{{' needs a quoted name inside the braces")]
    MetricNameMissing,
    /// A label name was expected.
    #[error("expected label name, got {got:?}")]
    ExpectedLabelName {
        /// What was there instead.
        got: String,
    },
    /// A quoted label or metric name is empty.
    #[error("empty label name")]
    EmptyLabelName,
    /// `=` must follow a label name.
    #[error("expected '=' after label name {name:?}")]
    ExpectedEquals {
        /// The label name.
        name: String,
    },
    /// A label value must be a double-quoted string.
    #[error("expected '\"' to start the value of label {name:?}")]
    ExpectedQuote {
        /// The label name.
        name: String,
    },
    /// A quoted string's closing quote is missing.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// The label set's closing `}` is missing.
    #[error("expected '}}' to close the label set")]
    UnterminatedLabels,
    /// After a label value, only `,` or `}`.
    #[error("expected ',' or '}}' after label {name:?}, got {got:?}")]
    ExpectedCommaOrBrace {
        /// The label name.
        name: String,
        /// What was there instead.
        got: String,
    },
    /// The same label name twice in one series.
    #[error("duplicate label name {name:?}")]
    DuplicateLabel {
        /// The label name.
        name: String,
    },
    /// A single space must separate the parts of an OpenMetrics line.
    #[error("expected a single space before the {what}, got {got:?}")]
    ExpectedSpace {
        /// What should follow the space.
        what: &'static str,
        /// What was there instead.
        got: String,
    },
    /// The value is not a float (Prometheus accepts Go's decimal syntax, `NaN` and `±Inf`).
    #[error("invalid sample value {text:?}")]
    InvalidValue {
        /// The value as written.
        text: String,
    },
    /// The timestamp is not an integer (text format) or a finite float (OpenMetrics).
    #[error("invalid timestamp {text:?}")]
    InvalidTimestamp {
        /// The timestamp as written.
        text: String,
    },
    /// Something follows the sample.
    #[error("unexpected {text:?} at the end of the sample")]
    TrailingText {
        /// What follows.
        text: String,
    },
    /// A `# TYPE` line names an unknown type.
    #[error("invalid metric type {text:?}")]
    InvalidType {
        /// The type as written.
        text: String,
    },
    /// A `# UNIT` whose unit is not the metric name's suffix.
    #[error("unit {unit:?} is not a suffix of metric {name:?}")]
    UnitNotSuffix {
        /// The unit.
        unit: String,
        /// The metric family name.
        name: String,
    },
    /// An OpenMetrics `# HELP`/`# TYPE`/`# UNIT` line without the space and text after the name.
    #[error("expected text after the metric name in # {keyword}")]
    ExpectedText {
        /// `HELP`, `TYPE` or `UNIT`.
        keyword: &'static str,
    },
    /// OpenMetrics allows no blank lines.
    #[error("blank line (OpenMetrics allows none)")]
    BlankLine,
    /// OpenMetrics allows only `# HELP`, `# TYPE`, `# UNIT` and `# EOF` comments.
    #[error("invalid comment: OpenMetrics allows only # HELP, # TYPE, # UNIT and # EOF")]
    InvalidComment,
    /// The exemplar after ` # ` is malformed.
    #[error("invalid exemplar: {why}")]
    InvalidExemplar {
        /// What is wrong with it.
        why: &'static str,
    },
    /// An OpenMetrics body must end with `# EOF`.
    #[error("data does not end with # EOF")]
    MissingEof,
    /// Nothing may follow `# EOF`.
    #[error("unexpected data after # EOF")]
    DataAfterEof,
    /// The body is not UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
}
