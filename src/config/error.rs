//! Configuration errors: every problem found in a file, each as `FILE:LINE:COL: message`.
//!
//! Parsing stops at the first YAML or type error (serde cannot go on), but validation after it
//! reports every problem it finds. Null entries in lists (`- ` with nothing after it) are found
//! while parsing and kept aside in a per-thread list, so they too carry their own position.
//! An unknown field that Prometheus knows (another service discovery, `tracing`, ...) is
//! reported as not supported by promlite yet, not as unknown.

use std::cell::RefCell;
use std::fmt;

/// A 1-based line and column in the config file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
}

impl Position {
    pub(crate) fn from_location(location: serde_saphyr::Location) -> Option<Position> {
        if location.line() == 0 {
            return None;
        }
        Some(Position {
            line: u32::try_from(location.line()).unwrap_or(u32::MAX),
            column: u32::try_from(location.column()).unwrap_or(u32::MAX),
        })
    }
}

/// One thing wrong with a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file it is in, when not the file that was loaded (an included scrape config file).
    pub file: Option<String>,
    /// Where it is, when known.
    pub position: Option<Position>,
    /// What is wrong, in Prometheus's words where Prometheus has words for it.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(position: Option<Position>, message: impl Into<String>) -> Problem {
        Problem { file: None, position, message: message.into() }
    }
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read. The IO error is part of the message and not also a
    /// `source()`, so a caller printing the cause chain says it once.
    #[error("{file}: {cause}")]
    Read {
        /// The path as given.
        file: String,
        /// The IO error.
        cause: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error("{}", render(file, problems))]
    Invalid {
        /// The path or name the problems refer to.
        file: String,
        /// Every problem found, in file order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems found, empty for a read error.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

fn render(file: &str, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, problem) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&RenderProblem { file, problem }.to_string());
    }
    out
}

struct RenderProblem<'a> {
    file: &'a str,
    problem: &'a Problem,
}

impl fmt::Display for RenderProblem<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let file = self.problem.file.as_deref().unwrap_or(self.file);
        match self.problem.position {
            Some(Position { line, column }) => write!(f, "{file}:{line}:{column}: {}", self.problem.message),
            None => write!(f, "{file}: {}", self.problem.message),
        }
    }
}

/// Turns a serde-saphyr error into a problem with Prometheus-style wording.
pub(crate) fn from_yaml_error(err: &serde_saphyr::Error) -> Problem {
    use serde_saphyr::MessageFormatter;
    let inner = err.without_snippet();
    let raw = serde_saphyr::DefaultMessageFormatter.format_message(inner);
    let message = if let Some(rest) = raw.strip_prefix("unknown field `") {
        let name = rest.split('`').next().unwrap_or_default();
        match unsupported_hint(name) {
            Some(hint) => hint,
            None => format!("unknown field {name:?}"),
        }
    } else if let Some(rest) = raw.strip_prefix("duplicate mapping key: ") {
        let key = rest.split(", set DuplicateKeyPolicy").next().unwrap_or(rest);
        format!("field {key} already set")
    } else if let Some(rest) = raw.strip_prefix("cannot deserialize null into ") {
        // serde's wording ends in advice to the Rust programmer ("use Option<String>").
        let kind = rest.split(';').next().unwrap_or(rest);
        format!("null where a {kind} value is expected (write \"\" for an empty string)")
    } else if raw.starts_with("!!binary scalar is not valid UTF-8") {
        "!!binary value is not valid UTF-8".to_owned()
    } else if raw.starts_with("invalid !!binary base64") {
        // Go's YAML library's words, which Prometheus prints.
        "!!binary value contains invalid base64 data".to_owned()
    } else {
        escape_control(&raw)
    };
    let position = err.location().and_then(Position::from_location);
    Problem::new(position, message)
}

/// Whether a YAML error is about the document's structure (what the parser found), rather than
/// about a value not fitting its field.
pub(crate) fn is_syntax_error(err: &serde_saphyr::Error) -> bool {
    use serde_saphyr::{Error, ExternalMessageSource};
    match err.without_snippet() {
        Error::ExternalMessage { source, .. } => matches!(**source, ExternalMessageSource::Parser(_)),
        Error::Eof { .. } | Error::MultipleDocuments { .. } | Error::UnknownAnchor { .. } => true,
        _ => false,
    }
}

/// Escapes control characters (a message stays one line) and nothing else: a pattern or value
/// quoted in a message reads as the user wrote it, backslashes included.
fn escape_control(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

thread_local! {
    /// Problems found while deserializing, where serde has no way to return them with a position.
    static DEFERRED: RefCell<Vec<Problem>> = const { RefCell::new(Vec::new()) };
}

/// Records a problem found during deserialization; [`take_deferred`] collects it.
pub(crate) fn defer(problem: Problem) {
    DEFERRED.with(|deferred| deferred.borrow_mut().push(problem));
}

/// Takes every problem deferred on this thread so far.
pub(crate) fn take_deferred() -> Vec<Problem> {
    DEFERRED.with(|deferred| std::mem::take(&mut *deferred.borrow_mut()))
}

/// The position of a spanned value, if the parser knew it.
pub(crate) fn position<T>(spanned: &serde_saphyr::Spanned<T>) -> Option<Position> {
    Position::from_location(spanned.referenced)
}

/// Fields Prometheus has that promlite does not model, besides the service discoveries.
const UNSUPPORTED_FIELDS: [&str; 3] = ["sigv4", "azuread", "google_iam"];

/// The message for a field Prometheus knows but promlite does not model yet, if `name` is one.
pub(crate) fn unsupported_hint(name: &str) -> Option<String> {
    let known = UNSUPPORTED_FIELDS.contains(&name) || super::unsupported::UNSUPPORTED_SD_CONFIGS.contains(&name);
    known.then(|| format!("{name} is not supported by promlite yet"))
}
