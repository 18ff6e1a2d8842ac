//! The database: one data directory, its head, and (later) its blocks (upstream `tsdb/db.go`).
//!
//! FIXME(#4): the data directory is created and locked, but nothing is written to it yet: the
//! head lives in memory only until the WAL, `chunks_head/` and blocks land.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::head::{Appender, Head, HeadStats};
use crate::querier::Querier;

/// Settings from `--storage.tsdb.*`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--storage.tsdb.retention.time`, milliseconds; 0 means the default (15d).
    pub retention_ms: i64,
    /// `--storage.tsdb.retention.size`, bytes; 0 means no size limit.
    pub retention_bytes: u64,
}

/// Opening the data directory failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The directory could not be created or the lock file written.
    #[error("{path}: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

/// An open TSDB. Cheap to clone; clones share the head.
#[derive(Clone)]
pub struct Db {
    dir: PathBuf,
    options: Options,
    head: Arc<Head>,
    // Held for the life of the Db so the lock file stays ours.
    _lock: Arc<File>,
}

impl Db {
    /// Opens (creating if needed) the data directory `dir`.
    pub fn open(dir: &Path, options: Options) -> Result<Db, DbError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| DbError::Io { path, source }
        };
        fs::create_dir_all(dir).map_err(io(dir))?;
        let lock_path = dir.join("lock");
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io(&lock_path))?;
        Ok(Db { dir: dir.to_owned(), options, head: Arc::new(Head::new()), _lock: Arc::new(lock) })
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The options the database was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// A new appender for one batch of samples.
    pub fn appender(&self) -> Appender {
        Appender::new(Arc::clone(&self.head))
    }

    /// A querier over `[mint, maxt]`, milliseconds, both inclusive.
    pub fn querier(&self, mint: i64, maxt: i64) -> Querier {
        Querier::new(Arc::clone(&self.head), mint, maxt)
    }

    /// Head counters for self-metrics and the status API.
    pub fn head_stats(&self) -> HeadStats {
        self.head.stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Labels, MatchOp, Matcher};

    fn db() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        (dir, db)
    }

    fn up(job: &str) -> Labels {
        Labels::from_pairs([("__name__", "up"), ("job", job)])
    }

    #[test]
    fn commit_makes_samples_visible_and_rollback_does_not() {
        let (_dir, db) = db();
        let mut app = db.appender();
        app.append(&up("a"), 1000, 1.0).unwrap();
        app.append(&up("b"), 1000, 0.0).unwrap();
        assert!(app.commit().is_empty());
        let mut app = db.appender();
        app.append(&up("a"), 2000, 5.0).unwrap();
        app.rollback();

        let all = db.querier(0, 10_000).select(&[Matcher::new(MatchOp::Equal, "__name__", "up").unwrap()]);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].labels, up("a"));
        assert_eq!(all[0].samples.len(), 1);
        assert_eq!(db.head_stats().samples_appended, 2);
    }

    #[test]
    fn rejects_out_of_order_and_conflicting_duplicates_but_keeps_the_rest() {
        let (_dir, db) = db();
        let mut app = db.appender();
        app.append(&up("a"), 2000, 1.0).unwrap();
        app.commit();
        let mut app = db.appender();
        app.append(&up("a"), 1000, 1.0).unwrap();
        app.append(&up("a"), 2000, 1.0).unwrap();
        app.append(&up("a"), 2000, 2.0).unwrap();
        app.append(&up("b"), 2000, 2.0).unwrap();
        let rejected: Vec<String> = app.commit().into_iter().map(|(_, e)| e.to_string()).collect();
        assert_eq!(rejected, ["out of order sample", "duplicate sample for timestamp"]);
        assert_eq!(db.head_stats().samples_appended, 2);
        assert_eq!(db.head_stats().out_of_order_samples, 1);
    }

    #[test]
    fn select_by_regex_negation_and_absent_label_and_range() {
        let (_dir, db) = db();
        let mut app = db.appender();
        app.append(&up("api"), 1000, 1.0).unwrap();
        app.append(&up("db"), 1000, 1.0).unwrap();
        app.append(&Labels::from_pairs([("__name__", "up"), ("job", "web"), ("env", "prod")]), 5000, 1.0).unwrap();
        app.commit();
        let q = db.querier(0, 10_000);
        let names = |ms: &[Matcher]| q.select(ms).iter().map(|s| s.labels.get("job").to_owned()).collect::<Vec<_>>();
        let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
        assert_eq!(names(&[m(MatchOp::Regex, "job", "a.*|d.")]), ["api", "db"]);
        // Sorted like Prometheus's labels.Compare: pairwise, so `env` sorts before `job`.
        assert_eq!(names(&[m(MatchOp::NotEqual, "job", "api")]), ["web", "db"]);
        assert_eq!(names(&[m(MatchOp::Equal, "env", ""), m(MatchOp::Equal, "__name__", "up")]), ["api", "db"]);
        assert_eq!(db.querier(2000, 10_000).select(&[m(MatchOp::Equal, "__name__", "up")]).len(), 1);
        assert_eq!(q.label_values("job", &[]), ["api", "db", "web"]);
        assert_eq!(q.label_names(&[m(MatchOp::Equal, "job", "web")]), ["__name__", "env", "job"]);
    }
}
