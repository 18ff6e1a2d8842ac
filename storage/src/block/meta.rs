//! A block's `meta.json` (upstream `tsdb/block.go`: `BlockMeta`, `readMetaFile`, `writeMetaFile`).
//! Field names, the tab indent and which fields are left out when empty are Prometheus's, so
//! either program reads the other's blocks. Reading ignores fields it does not know.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::BlockError;
use super::ulid;

/// The name of the file in a block directory.
pub(crate) const META_FILENAME: &str = "meta.json";

/// The only `version` Prometheus writes and reads.
pub(crate) const META_VERSION: u32 = 1;

/// What a block holds and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockMeta {
    /// The block's id, also its directory name.
    pub(crate) ulid: String,
    /// First millisecond covered, inclusive.
    #[serde(rename = "minTime")]
    pub(crate) min_time: i64,
    /// End of the covered range, exclusive.
    #[serde(rename = "maxTime")]
    pub(crate) max_time: i64,
    /// Counts over the block's contents.
    #[serde(default)]
    pub(crate) stats: BlockStats,
    /// Compaction history.
    pub(crate) compaction: BlockCompaction,
    /// Format version of this file, always [`META_VERSION`].
    pub(crate) version: u32,
}

/// Counts over a block's contents; zero fields are left out as Go's `omitempty` does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockStats {
    /// Samples of every kind.
    #[serde(rename = "numSamples", default, skip_serializing_if = "is_zero")]
    pub(crate) num_samples: u64,
    /// Float samples (Prometheus 3 writes it beside `numSamples`).
    #[serde(rename = "numFloatSamples", default, skip_serializing_if = "is_zero")]
    pub(crate) num_float_samples: u64,
    /// Native histogram samples; promlite writes none but keeps the count of a Prometheus block.
    #[serde(rename = "numHistogramSamples", default, skip_serializing_if = "is_zero")]
    pub(crate) num_histogram_samples: u64,
    /// Series with at least one chunk.
    #[serde(rename = "numSeries", default, skip_serializing_if = "is_zero")]
    pub(crate) num_series: u64,
    /// Chunks.
    #[serde(rename = "numChunks", default, skip_serializing_if = "is_zero")]
    pub(crate) num_chunks: u64,
    /// Deletion intervals in `tombstones`.
    #[serde(rename = "numTombstones", default, skip_serializing_if = "is_zero")]
    pub(crate) num_tombstones: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A parent block of a compacted one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockDesc {
    /// The parent's id.
    pub(crate) ulid: String,
    /// The parent's first millisecond, inclusive.
    #[serde(rename = "minTime")]
    pub(crate) min_time: i64,
    /// The parent's end, exclusive.
    #[serde(rename = "maxTime")]
    pub(crate) max_time: i64,
}

/// How a block was made (upstream `BlockMetaCompaction`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct BlockCompaction {
    /// 1 for a block cut from the head, one more than its highest parent's after compaction.
    pub(crate) level: u32,
    /// Ids of the level-1 blocks whose data this one holds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) sources: Vec<String>,
    /// Set on a block that only awaits deletion (its data was compacted into another).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) deletable: bool,
    /// The blocks compacted into this one (level > 1).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) parents: Vec<BlockDesc>,
    /// Set when compacting this block failed, so it is not picked again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) failed: bool,
    /// Prometheus's compaction hints (`from-out-of-order`, …), kept as read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) hints: Vec<String>,
}

/// Reads and checks `<dir>/meta.json`: valid JSON, version 1, ULIDs well formed.
pub(crate) fn read(dir: &Path) -> Result<BlockMeta, BlockError> {
    let path = dir.join(META_FILENAME);
    let bytes = std::fs::read(&path).map_err(|error| BlockError::Io { path: path.clone(), error })?;
    let meta: BlockMeta =
        serde_json::from_slice(&bytes).map_err(|error| BlockError::Meta { path: path.clone(), error })?;
    let corrupt = |reason: String| BlockError::Corrupt { path: path.clone(), reason };
    if meta.version != META_VERSION {
        return Err(corrupt(format!("unexpected meta file version {}", meta.version)));
    }
    let ids = std::iter::once(&meta.ulid)
        .chain(&meta.compaction.sources)
        .chain(meta.compaction.parents.iter().map(|p| &p.ulid));
    for id in ids {
        if !ulid::is_valid(id) {
            return Err(corrupt(format!("invalid ULID {id:?}")));
        }
    }
    Ok(meta)
}

/// Writes `<dir>/meta.json` the way Prometheus formats it (tab-indented): into `meta.json.tmp`,
/// fsynced, then renamed over the old one (upstream `writeMetaFile`), so a block whose
/// `meta.json` is rewritten (a delete counting its tombstones) never shows half a file, and a
/// snapshot's hard link keeps the file it linked. The directory's fsync is the caller's.
pub(crate) fn write(dir: &Path, meta: &BlockMeta) -> Result<(), BlockError> {
    let path = dir.join(META_FILENAME);
    let tmp = dir.join(format!("{META_FILENAME}.tmp"));
    let mut json = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut serializer = serde_json::Serializer::with_formatter(&mut json, formatter);
    meta.serialize(&mut serializer).map_err(|error| BlockError::Meta { path: path.clone(), error })?;
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    result.map_err(|error| {
        let _ = std::fs::remove_file(&tmp);
        BlockError::Io { path, error }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_prometheus_meta_with_extra_fields_and_writes_it_back() {
        let text = r#"{
	"ulid": "01DXXFZDYD1MQW6079WK0K6EDQ",
	"minTime": 0,
	"maxTime": 7200000,
	"stats": {"numSamples": 102, "numFloatSamples": 102, "numSeries": 102, "numChunks": 102, "numTombstones": 3},
	"compaction": {"level": 2, "sources": ["01DXXFZDYD1MQW6079WK0K6EDQ"],
		"parents": [{"ulid": "01DXXFZDYD1MQW6079WK0K6EDQ", "minTime": 0, "maxTime": 7200000}],
		"hints": ["from-out-of-order"], "somethingNew": true},
	"version": 1,
	"thanos": {"labels": {}}
}"#;
        let meta: BlockMeta = serde_json::from_str(text).unwrap();
        assert_eq!(meta.stats.num_tombstones, 3);
        assert_eq!(meta.compaction.parents[0].max_time, 7_200_000);
        let back: BlockMeta = serde_json::from_str(&serde_json::to_string(&meta).unwrap()).unwrap();
        assert_eq!(back, meta);
    }

    #[test]
    fn leaves_out_empty_fields_like_go() {
        let meta = BlockMeta {
            ulid: "01DXXFZDYD1MQW6079WK0K6EDQ".into(),
            min_time: 0,
            max_time: 10,
            stats: BlockStats { num_samples: 5, num_series: 1, num_chunks: 1, ..BlockStats::default() },
            compaction: BlockCompaction {
                level: 1,
                sources: vec!["01DXXFZDYD1MQW6079WK0K6EDQ".into()],
                ..Default::default()
            },
            version: 1,
        };
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &meta).unwrap();
        let text = std::fs::read_to_string(dir.path().join(META_FILENAME)).unwrap();
        assert_eq!(
            text,
            "{\n\t\"ulid\": \"01DXXFZDYD1MQW6079WK0K6EDQ\",\n\t\"minTime\": 0,\n\t\"maxTime\": 10,\n\t\"stats\": {\n\t\t\"numSamples\": 5,\n\t\t\"numSeries\": 1,\n\t\t\"numChunks\": 1\n\t},\n\t\"compaction\": {\n\t\t\"level\": 1,\n\t\t\"sources\": [\n\t\t\t\"01DXXFZDYD1MQW6079WK0K6EDQ\"\n\t\t]\n\t},\n\t\"version\": 1\n}"
        );
        assert_eq!(read(dir.path()).unwrap(), meta);
    }
}
