//! Errors, rendered exactly as Prometheus renders them: an alert annotation that fails to expand
//! becomes `<error expanding template: {TemplateError}>`, and `promtool check rules` prints the
//! bare [`ParseError`], so users compare these strings with Prometheus's.

/// A template that does not parse. Go reports the line of the token it stopped at, no column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template: {name}:{line}: {message}")]
pub struct ParseError {
    /// The name the template was parsed under.
    pub name: String,
    /// 1-based line of the last token read.
    pub line: usize,
    /// What is wrong, in Go's words (`unclosed action`, `function "x" not defined`, ...).
    pub message: String,
}

/// Where in the source an execution error happened: Go's `name:line:col`, with a 0-based byte
/// column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The top-level template's name (also for errors inside a `define`d template).
    pub name: String,
    /// 1-based line.
    pub line: usize,
    /// 0-based byte offset in the line, as Go counts it.
    pub col: usize,
}

/// A template that failed while executing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ExecError {
    /// Where it failed; `None` when no node was being evaluated.
    pub location: Option<Location>,
    /// The template that was executing (a `define`d one, or the top-level template).
    pub template: String,
    /// The failing node as Go prints it (`humanize "one"`, `.Foo`).
    pub context: String,
    /// What went wrong (`error calling first: ...`, `can't evaluate field x in type string`).
    pub message: String,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Some(l) => write!(
                f,
                "template: {}:{}:{}: executing {} at <{}>: {}",
                l.name,
                l.line,
                l.col,
                crate::gofmt::quote(&self.template),
                self.context,
                self.message
            ),
            None => write!(f, "template: {}: {}", self.template, self.message),
        }
    }
}

/// Why [`Expander::expand`](crate::Expander::expand) produced no text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is not a valid template.
    #[error("error parsing template {name}: {source}")]
    Parse {
        /// The template's name.
        name: String,
        /// The parse failure.
        source: ParseError,
    },
    /// The template parsed but failed while running.
    #[error("error executing template {name}: {source}")]
    Exec {
        /// The template's name.
        name: String,
        /// The execution failure.
        source: Box<ExecError>,
    },
}
