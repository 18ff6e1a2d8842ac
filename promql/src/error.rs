//! The one error type of query parsing and evaluation (upstream `promql/engine.go` errors and
//! `promql/parser/parse.go` `ParseErr`).
//!
//! Each variant maps to one Prometheus API `errorType` through [`QueryError::error_type`], so the
//! web layer never has to guess from the text. The texts follow Prometheus's wording.

use crate::parser::ParseError;

/// Why a query could not be parsed or evaluated.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    /// The query text is not valid PromQL: `1:7: parse error: ...`, or without the position
    /// when it could not be located.
    #[error("{0}")]
    Parse(ParseError),
    /// The query or its parameters are valid PromQL but not acceptable here, e.g. a range vector
    /// as the result of a range query.
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed on the data, e.g. many-to-many matching or duplicate label sets.
    #[error("{0}")]
    Execution(String),
    /// The query uses a PromQL feature the engine does not implement yet. Never a wrong answer.
    #[error("{0} is not supported by promlite yet")]
    NotSupported(String),
    /// The query would hold more than `max_samples` samples in memory.
    #[error("query processing would load too many samples into memory in query execution")]
    TooManySamples,
    /// The query ran longer than the engine's timeout.
    #[error("query timed out in query execution")]
    Timeout,
    /// The query was canceled by its caller.
    #[error("query was canceled in query execution")]
    Canceled,
}

impl QueryError {
    /// Prometheus's HTTP API `errorType` for this error: `bad_data`, `execution`, `timeout` or
    /// `canceled` (upstream `web/api/v1/api.go`, `returnAPIError`).
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) | QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) | QueryError::NotSupported(_) | QueryError::TooManySamples => "execution",
            QueryError::Timeout => "timeout",
            QueryError::Canceled => "canceled",
        }
    }
}
