//! Remote storage (upstream `storage/remote/`): the `remote_write` sender in [`write`], the
//! `remote_read` client in [`read`] (installed as the TSDB's secondaries); the receiving side
//! (`POST /api/v1/write`, `POST /api/v1/read`) lives in `promlite-web`, and the protobuf
//! messages both sides use in [`prompb`] (the `promlite-prompb` crate, which neither side's
//! transport owns; storage stays free of wire formats).
//!
//! Invariant: [`RemoteStorage::apply_config`] keeps a queue whose config and external labels did
//! not change running untouched, so a reload does not resend or skip anything for it.

pub mod metadata;
pub mod read;
pub mod write;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use promlite_storage::{Db, SecondaryQueryable};

pub use promlite_prompb as prompb;

use crate::config::Config;
use metadata::MetadataSource;
use read::{ReadClientError, RemoteReadClient};
use write::{QueueError, QueueManager};

/// The running remote-write queues and remote-read clients.
pub struct RemoteStorage {
    wal_dir: PathBuf,
    db: Db,
    metadata: Option<MetadataSource>,
    queues: Mutex<Running>,
    readers: Mutex<Vec<Arc<RemoteReadClient>>>,
}

#[derive(Default)]
struct Running {
    queues: Vec<QueueManager>,
    external_labels: Vec<(String, String)>,
}

impl RemoteStorage {
    /// Remote storage for `db`, whose WAL is `wal_dir` (`<data dir>/wal`), sending the metric
    /// metadata `metadata` lists; no queue runs and no remote is read until
    /// [`RemoteStorage::apply_config`].
    pub fn new(db: Db, wal_dir: PathBuf, metadata: Option<MetadataSource>) -> RemoteStorage {
        RemoteStorage { wal_dir, db, metadata, queues: Mutex::new(Running::default()), readers: Mutex::new(Vec::new()) }
    }

    /// Replaces the remote-read clients with `config.remote_read`'s and installs them as the
    /// TSDB's secondaries. An entry whose client cannot be built is left out and returned, unlogged
    /// (the caller logs it); the
    /// others are read.
    pub fn apply_read_config(&self, config: &Config) -> Vec<ReadClientError> {
        let external = config.global.external_label_pairs();
        let mut readers = Vec::new();
        let mut errors = Vec::new();
        for rr in &config.remote_read {
            match RemoteReadClient::new(rr, &external, config.global.evaluation_interval.as_std()) {
                Ok(client) => readers.push(Arc::new(client)),
                Err(err) => errors.push(err),
            }
        }
        let secondaries: Vec<Arc<dyn SecondaryQueryable>> =
            readers.iter().map(|r| Arc::clone(r) as Arc<dyn SecondaryQueryable>).collect();
        self.db.set_secondaries(secondaries);
        *self.readers.lock().expect("remote readers lock") = readers;
        errors
    }

    /// Starts, keeps or stops queues to match `config.remote_write`. A new queue sends samples
    /// from now on. Returns the queues that could not start, unlogged (the others run).
    pub fn apply_config(&self, config: &Config) -> Vec<QueueError> {
        let external = config.global.external_label_pairs();
        let mut running = self.queues.lock().expect("remote storage lock");
        let mut old = std::mem::take(&mut running.queues);
        let same_external = running.external_labels == external;
        let now = now_ms();
        let mut errors = Vec::new();
        for rw in &config.remote_write {
            if same_external && let Some(i) = old.iter().position(|q| q.config() == rw) {
                running.queues.push(old.swap_remove(i));
                continue;
            }
            let position_dir = self.wal_dir.parent().unwrap_or(&self.wal_dir).join("remote_write");
            match QueueManager::start(rw, &external, &self.wal_dir, now, &position_dir, self.metadata.clone()) {
                Ok(queue) => running.queues.push(queue),
                Err(err) => errors.push(err),
            }
        }
        running.external_labels = external;
        // Dropping the queues left in `old` stops them.
        drop(old);
        errors
    }
}

impl promlite_metrics::Collector for RemoteStorage {
    /// The queues' `prometheus_remote_storage_*` and the readers' `prometheus_remote_read_*`.
    fn collect(&self, enc: &mut promlite_metrics::Encoder) {
        let running = self.queues.lock().expect("remote storage lock");
        write::write_metric_families(&running.queues, enc);
        read::write_metric_families(&self.readers.lock().expect("remote readers lock"), enc);
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The `remote_name` label of an endpoint: its config's `name`, or (as upstream names an
/// unnamed endpoint by a hash of its config) six hex digits of a hash of its URL.
fn remote_name(name: &str, url: &str) -> String {
    if name.is_empty() {
        format!("{:06x}", xxhash_rust::xxh3::xxh3_64(url.as_bytes()) & 0xff_ffff)
    } else {
        name.to_owned()
    }
}

/// `text` with the password of `url`, if it has one, replaced by `xxxxx` (for error texts of
/// the HTTP client, which may quote the URL).
fn redact_password(text: String, url: &reqwest::Url) -> String {
    promlite_web::redact_password_in(&text, url.as_str()).into_owned()
}
