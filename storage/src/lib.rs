//! promlite's time-series storage, meant to keep Prometheus's on-disk format.
//!
//! A [`Db`] owns one data directory. Samples enter through an [`Appender`] and become visible to
//! a [`Querier`] on `commit`. Series are identified by [`Labels`] and selected by [`Matcher`]s.
//! No HTTP, PromQL or tokio here.
//!
//! FIXME(#4): the head is an in-memory walking skeleton (no WAL, chunks or blocks yet).
//!
//! ```
//! use promlite_storage::{Db, Labels, MatchOp, Matcher, Options};
//! # let dir = std::env::temp_dir().join(format!("promlite-doc-{}", std::process::id()));
//! let db = Db::open(&dir, Options::default()).unwrap();
//! let mut app = db.appender();
//! app.append(&Labels::from_pairs([("__name__", "up"), ("job", "node")]), 1_000, 1.0).unwrap();
//! app.commit();
//! let series = db.querier(0, 2_000).select(&[Matcher::new(MatchOp::Equal, "job", "node").unwrap()]);
//! assert_eq!(series[0].samples[0].v, 1.0);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod db;
mod head;
mod labels;
mod matcher;
mod querier;

pub use db::{Db, DbError, Options};
pub use head::{AppendError, Appender, HeadStats, STALE_NAN, Sample, SeriesRef, is_stale_nan};
pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME};
pub use matcher::{BadRegex, MatchOp, Matcher, compile_anchored};
pub use querier::{Querier, Series};
