//! File-based discovery (upstream `discovery/file/file.go`): target groups in JSON or YAML files
//! matched by `files` globs, each target labelled `__meta_filepath`.
//!
//! Files are watched by polling their modification times every second (cheap `stat` calls, and
//! it works on every filesystem, including Kubernetes ConfigMap volumes whose files are
//! symlink swaps), and fully re-read every `refresh_interval`. A file that fails to parse keeps
//! its last good groups and its error is kept for the UI; a file that disappears takes its groups
//! with it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use super::TargetGroup;
use crate::config::FileSdConfig;

/// A target group as written in a file.
#[derive(Debug, Deserialize)]
struct RawGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// Why one file's groups could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct FileSdError {
    /// The file.
    pub path: String,
    /// What is wrong, with line and column where the parser gives them.
    pub reason: String,
}

/// Parses one file's text (JSON for `.json`, YAML otherwise) into groups sourced `path:index`.
pub fn parse_file(path: &Path, text: &str) -> Result<Vec<TargetGroup>, FileSdError> {
    let error = |reason: String| FileSdError { path: path.display().to_string(), reason };
    let is_json = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let raw: Vec<RawGroup> = if text.trim().is_empty() {
        Vec::new()
    } else if is_json {
        serde_json::from_str(text).map_err(|err| error(err.to_string()))?
    } else {
        serde_saphyr::from_str::<Option<Vec<RawGroup>>>(text).map_err(|err| error(err.to_string()))?.unwrap_or_default()
    };
    let filepath = path.display().to_string();
    let mut groups = Vec::with_capacity(raw.len());
    for (index, group) in raw.into_iter().enumerate() {
        for name in group.labels.keys() {
            if name.is_empty() {
                return Err(error(format!("group {index}: invalid label name {name:?}")));
            }
        }
        for target in &group.targets {
            if target.contains('/') {
                return Err(error(format!("group {index}: {target:?} is not a valid hostname")));
            }
        }
        let mut labels = group.labels;
        labels.insert("__meta_filepath".to_owned(), filepath.clone());
        groups.push(TargetGroup {
            source: format!("{filepath}:{index}"),
            targets: group
                .targets
                .into_iter()
                .map(|address| BTreeMap::from([("__address__".to_owned(), address)]))
                .collect(),
            labels,
        });
    }
    Ok(groups)
}

/// Expands one `files` entry: a path, or a glob with `*`, `?` or `[…]` in its last element.
fn expand(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !name.contains(['*', '?', '[']) {
        return if path.exists() { vec![path.to_owned()] } else { Vec::new() };
    }
    let Ok(glob) = glob::Pattern::new(&name) else { return Vec::new() };
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| glob.matches(&entry.file_name().to_string_lossy()))
        .map(|entry| entry.path())
        .collect();
    out.sort();
    out
}

struct FileState {
    modified: Option<SystemTime>,
    groups: Vec<TargetGroup>,
    error: Option<FileSdError>,
}

/// The groups of one job's `file_sd_configs`, kept up to date by [`FileSd::refresh`].
pub struct FileSd {
    patterns: Vec<String>,
    refresh_interval: Duration,
    last_full_read: Option<Instant>,
    files: BTreeMap<PathBuf, FileState>,
}

impl FileSd {
    /// Discovery over every `files` pattern of `configs`; re-reads at the shortest interval.
    pub fn new(configs: &[FileSdConfig]) -> FileSd {
        FileSd {
            patterns: configs.iter().flat_map(|c| c.files.iter().cloned()).collect(),
            refresh_interval: configs
                .iter()
                .map(|c| c.refresh_interval.as_std())
                .min()
                .unwrap_or(Duration::from_secs(300)),
            last_full_read: None,
            files: BTreeMap::new(),
        }
    }

    /// Re-reads files that are new, gone or modified, or all of them once `refresh_interval` has
    /// passed. Returns whether any group changed.
    pub fn refresh(&mut self) -> bool {
        let full = self.last_full_read.is_none_or(|at| at.elapsed() >= self.refresh_interval);
        if full {
            self.last_full_read = Some(Instant::now());
        }
        let present: BTreeSet<PathBuf> = self.patterns.iter().flat_map(|p| expand(p)).collect();
        let mut changed = false;
        let before = self.files.len();
        self.files.retain(|path, _| present.contains(path));
        changed |= self.files.len() != before;
        for path in present {
            let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
            let known = self.files.get(&path);
            if !full && known.is_some_and(|state| state.modified == modified) {
                continue;
            }
            let result = std::fs::read_to_string(&path)
                .map_err(|err| FileSdError { path: path.display().to_string(), reason: err.to_string() })
                .and_then(|text| parse_file(&path, &text));
            match result {
                Ok(groups) => {
                    changed |= known.is_none_or(|state| state.groups != groups);
                    self.files.insert(path, FileState { modified, groups, error: None });
                }
                Err(error) => {
                    tracing::warn!(file = %error.path, error = %error.reason, "error reading file_sd file; keeping its last good targets");
                    let groups = known.map(|state| state.groups.clone()).unwrap_or_default();
                    self.files.insert(path, FileState { modified, groups, error: Some(error) });
                }
            }
        }
        changed
    }

    /// Every group of every file, in path order.
    pub fn groups(&self) -> Vec<TargetGroup> {
        self.files.values().flat_map(|state| state.groups.iter().cloned()).collect()
    }

    /// The errors of files that failed their last read.
    pub fn errors(&self) -> Vec<FileSdError> {
        self.files.values().filter_map(|state| state.error.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd(dir: &Path, pattern: &str) -> FileSd {
        let config = FileSdConfig {
            files: vec![dir.join(pattern).display().to_string()],
            refresh_interval: crate::config::Duration::from_secs(300),
        };
        FileSd::new(&[config])
    }

    #[test]
    fn json_and_yaml_files_become_groups_with_filepath() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("a.json");
        std::fs::write(&json, r#"[{"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod"}}]"#).unwrap();
        std::fs::write(dir.path().join("b.yml"), "- targets: ['h3:80']\n").unwrap();
        std::fs::write(dir.path().join("ignored.txt"), "x").unwrap();
        let mut json_sd = sd(dir.path(), "*.json");
        assert!(json_sd.refresh());
        let groups = json_sd.groups();
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].source, format!("{}:0", json.display()));
        assert_eq!(groups[0].targets[1]["__address__"], "h2:9100");
        assert_eq!(groups[0].labels["env"], "prod");
        assert_eq!(groups[0].labels["__meta_filepath"], json.display().to_string());
        let mut yaml_sd = sd(dir.path(), "*.yml");
        yaml_sd.refresh();
        assert_eq!(yaml_sd.groups()[0].targets[0]["__address__"], "h3:80");
        assert!(!yaml_sd.refresh(), "an unchanged file is not re-read");
    }

    #[test]
    fn a_bad_file_keeps_its_last_good_groups_and_a_removed_file_drops_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.yaml");
        std::fs::write(&path, "- targets: ['a:1']\n").unwrap();
        let mut file_sd = sd(dir.path(), "t.yaml");
        file_sd.refresh();
        std::fs::write(&path, "- targets: ['a:1'\n").unwrap();
        file_sd.last_full_read = None;
        assert!(!file_sd.refresh());
        assert_eq!(file_sd.groups()[0].targets[0]["__address__"], "a:1");
        assert_eq!(file_sd.errors().len(), 1);
        std::fs::remove_file(&path).unwrap();
        assert!(file_sd.refresh());
        assert!(file_sd.groups().is_empty());
    }

    #[test]
    fn invalid_contents_say_what_and_where() {
        let err = parse_file(Path::new("t.json"), r#"[{"targets": ["http://a:1/x"]}]"#).unwrap_err();
        assert_eq!(err.to_string(), r#"t.json: group 0: "http://a:1/x" is not a valid hostname"#);
        let err = parse_file(Path::new("t.json"), r#"[{"targets": ["a:1"],}]"#).unwrap_err();
        assert!(err.to_string().starts_with("t.json: trailing comma at line 1"), "{err}");
    }
}
