//! promlite's PromQL engine: parse a query, evaluate it over a [`promlite_storage::Db`].
//!
//! [`Engine::instant_query`] evaluates an expression at one time, [`Engine::range_query`] at
//! every step of a range; both return a [`QueryResult`] holding a [`Value`], or a
//! [`QueryError`] that knows its Prometheus API `errorType`. The parser is ours and answers as
//! Prometheus 3's does, errors included, building GreptimeTeam's promql-parser syntax tree; the
//! evaluator follows Prometheus 3 semantics (left-open range and lookback windows, staleness
//! markers, rate extrapolation). [`parse_matchers`] turns the
//! API's `match[]` selectors into storage matchers. The engine reads storage only through a
//! `Querier` and knows nothing of HTTP. [`parse`] refuses expressions nested deeper than
//! [`MAX_DEPTH`], and a thread with [`QUERY_STACK_SIZE`] of stack can parse, evaluate, format
//! and drop any expression it accepts.
//!
//! ```
//! use promlite_promql::{Engine, EngineOptions, Value};
//! use promlite_storage::{Db, Labels, Options};
//! # let dir = std::env::temp_dir().join(format!("promlite-promql-doc-{}", std::process::id()));
//! let db = Db::open(&dir, Options::default()).unwrap();
//! let mut app = db.appender();
//! app.append(&Labels::from_pairs([("__name__", "up"), ("job", "node")]), 1_000, 1.0).unwrap();
//! app.commit().unwrap();
//! let engine = Engine::new(EngineOptions::default());
//! let result = engine.instant_query(&db, "sum by (job) (up)", 2_000).unwrap();
//! let Value::Vector(vector) = result.value else { panic!("a vector") };
//! assert_eq!(vector[0].labels.to_string(), r#"{job="node"}"#);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod aggregation;
pub mod calendar;
mod engine;
mod error;
mod functions;
mod go_math;
mod operators;

mod parser;
mod value;

#[cfg(test)]
mod promqltest;
#[cfg(test)]
mod tests;

pub use engine::{Engine, EngineOptions, QueryOptions};
pub use error::QueryError;
pub use parser::{MAX_DEPTH, QUERY_STACK_SIZE, parse, parse_matchers};
pub use parser::{ParseError, Position, go_quote, parse_model_duration};
pub use value::{InstantSample, QueryResult, QuerySamples, QueryTimings, RangeSeries, Value};
