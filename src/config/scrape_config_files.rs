//! `scrape_config_files` (upstream `Config.GetScrapeConfigs`): the globs expanded, each file
//! parsed as a list of scrape configs and resolved against `global`, its relative paths joined
//! with its own directory, every problem reported with its file. Invariant: a job name appears
//! once across the main file and every scrape config file.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use serde_saphyr::Spanned;

use super::GlobalConfig;
use super::error::{self, Problem, position};
use super::list;
use super::scrape::{ScrapeConfig, ScrapeConfigEntry};

/// A file named in `scrape_config_files`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScrapeConfigFile {
    #[serde(default, deserialize_with = "list::scrape_configs")]
    scrape_configs: Vec<Spanned<ScrapeConfigEntry>>,
}

/// Files matching `pattern`, where only the last path element may hold `*` (as `patRulePath`
/// allows); a pattern without `*` names the file itself if it exists, as Go's `filepath.Glob`.
fn glob(pattern: &str) -> Vec<std::path::PathBuf> {
    let path = Path::new(pattern);
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    if !name.contains('*') {
        return if path.is_file() { vec![path.to_owned()] } else { Vec::new() };
    }
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Vec::new();
    };
    let (prefix, rest) = name.split_once('*').unwrap_or((name.as_str(), ""));
    let mut out: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            let file = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            p.is_file() && file.len() >= prefix.len() + rest.len() && file.starts_with(prefix) && file.ends_with(rest)
        })
        .collect();
    out.sort();
    out
}

/// Loads the scrape configs of `scrape_config_files` (upstream `Config.GetScrapeConfigs`):
/// each is validated against `global`, its relative paths resolved against its own directory,
/// and a job name may appear only once across all files.
pub(super) fn load_scrape_config_files(
    patterns: &[String],
    global: &GlobalConfig,
    scrape_configs: &mut Vec<ScrapeConfig>,
    problems: &mut Vec<Problem>,
) {
    let mut origin: BTreeMap<String, String> =
        scrape_configs.iter().map(|s| (s.job_name.clone(), "main config file".to_owned())).collect();
    for pattern in patterns {
        for path in glob(pattern) {
            let file = path.display().to_string();
            let in_file = |mut problem: Problem| {
                problem.file = Some(file.clone());
                problem
            };
            let yaml = match std::fs::read_to_string(&path) {
                Ok(yaml) => yaml,
                Err(err) => {
                    problems.push(in_file(Problem::new(None, err.to_string())));
                    continue;
                }
            };
            error::take_deferred();
            let parsed = serde_saphyr::from_str::<Option<RawScrapeConfigFile>>(&yaml);
            let deferred = error::take_deferred();
            problems.extend(deferred.into_iter().map(in_file));
            let raw = match parsed {
                Ok(raw) => raw,
                Err(err) => {
                    problems.push(in_file(error::from_yaml_error(&err)));
                    continue;
                }
            };
            let dir = path.parent();
            for entry in raw.map(|r| r.scrape_configs).unwrap_or_default() {
                let at = position(&entry);
                let mut found = Vec::new();
                let resolved = entry.value.resolve(at, global, dir, &mut found);
                problems.extend(found.into_iter().map(in_file));
                let Some(scrape_config) = resolved else {
                    continue;
                };
                if let Some(first) = origin.get(&scrape_config.job_name) {
                    problems.push(in_file(Problem::new(
                        at,
                        format!(
                            "found multiple scrape configs with job name {:?}, first found in {first}",
                            scrape_config.job_name
                        ),
                    )));
                    continue;
                }
                origin.insert(scrape_config.job_name.clone(), format!("{file:?}"));
                scrape_configs.push(scrape_config);
            }
        }
    }
}
