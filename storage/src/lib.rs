//! promlite's time-series storage, meant to keep Prometheus's on-disk format.
//!
//! A [`Db`] owns one data directory. Samples enter through an [`Appender`], reach the head (an
//! open XOR chunk per series, sealed chunks behind it) and the WAL on `commit`, and are visible
//! to a [`Querier`] from then on. Opening a `Db` replays its WAL. Series are identified by
//! [`Labels`] and selected by [`Matcher`]s through the head's postings index.
//! No HTTP, PromQL or tokio here.
//!
//! Sealed chunks live in `chunks_head/` and are read back through memory maps, so memory holds
//! the open chunks. Once the head spans 1.5 block ranges its oldest range is written as a block
//! in Prometheus's format (`block/`), and the head, `chunks_head/` and the WAL are truncated
//! (`db/compaction.rs`); blocks are compacted into bigger ones and deleted by retention.
//!
//! ```
//! use promlite_storage::{Db, Labels, MatchOp, Matcher, Options};
//! # let dir = std::env::temp_dir().join(format!("promlite-doc-{}", std::process::id()));
//! let db = Db::open(&dir, Options::default()).unwrap();
//! let mut app = db.appender();
//! app.append(&Labels::from_pairs([("__name__", "up"), ("job", "node")]), 1_000, 1.0).unwrap();
//! app.commit().unwrap();
//! let series = db.querier(0, 2_000).select(&[Matcher::new(MatchOp::Equal, "job", "node").unwrap()]);
//! assert_eq!(series[0].samples()[0].v, 1.0);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub(crate) mod block;
pub mod chunkenc;
mod chunks_head;
mod compact;
mod db;
pub mod fanout;
mod float;
mod head;
mod labels;
mod matcher;
mod memory;
mod mmap;
mod querier;
mod sample;
mod series;
mod wal;

pub use block::BlockError;
pub use chunks_head::{ChunkDiskError, ChunkRepair};
pub use db::{
    AdminError, BlockInfo, COMPACTION_DURATION_BUCKETS, CompactionError, Db, DbError, Histogram, Options, TsdbMetrics,
};
pub use fanout::{SecondaryError, SecondaryQueryable, SecondarySelect};
pub use float::{format_api_value, format_go_e, format_go_f, format_go_g};
pub use head::{AppendError, Appender, CommitError, HeadStats, ReplayProgress, ReplayStats, SeriesRef, TsdbStatus};
pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME, escape_label_value};
pub use matcher::{BadRegex, MatchOp, Matcher, anchored_regex_source, compile_anchored};
pub use memory::release_free_memory;
pub use querier::{Querier, SelectLimit};
pub use sample::{STALE_NAN, Sample, is_stale_nan};
pub use series::{PartIter, Series, SeriesIter};
pub use wal::tail::{TailRecord, WalPosition, WalTail};
pub use wal::{Repair, WalError};
