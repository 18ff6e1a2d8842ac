//! `promlite test rules`: promtool's unit tests for rules (upstream `cmd/promtool/unittest.go`,
//! format in `docs/configuration/unit_testing_rules.md`), with promtool 3's output and exit
//! status.
//!
//! - `test_file`: the unit test file, read strictly.
//! - `series`: the series notation and its expanding notation (`a+bxn`, `_`, `stale`, ...).
//! - `run`: one test group over a fresh temporary TSDB, the real rule groups and the engine.
//! - `format`: Go's and promtool's ways of writing labels, floats, durations and alert lists.
//!
//! Per file, as Prometheus 3 prints it: `  SUCCESS` on stdout, or `  FAILED:` and each failure on
//! stderr (an empty line on stdout after each); then an empty line on stdout. Since 2.55
//! promtool no longer prints `Unit Testing:  FILE` first (upstream #14506), so neither does
//! promlite. Not built: `--junit` and `--diff`'s JSON diff, `--ignore-unknown-fields`, native
//! histograms.

mod format;
mod run;
mod series;
mod test_file;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use super::template::Templates;
use crate::config::Duration;

/// How `promlite test rules` runs, from its flags.
#[derive(Debug, Clone, Default)]
pub struct TestOptions {
    /// `--run`: only test groups whose name matches one of these (unanchored) regexes.
    pub run: Option<regex::Regex>,
    /// `--debug`: say when each test group starts and ends, and dump its series.
    pub debug: bool,
}

/// Runs the unit tests of every file in `files`, printing as promtool prints to `stdout` and
/// `stderr`; false when any failed.
pub fn test_rule_files(
    files: &[String],
    options: &TestOptions,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> bool {
    let templates = super::template::engine();
    let mut ok = true;
    for file in files {
        let errors = test_file(file, options, &templates, stderr);
        if errors.is_empty() {
            let _ = writeln!(stdout, "  SUCCESS");
        } else {
            let _ = writeln!(stderr, "  FAILED:");
            for error in &errors {
                let _ = writeln!(stderr, "{error}");
                let _ = writeln!(stdout);
            }
            ok = false;
        }
        let _ = writeln!(stdout);
    }
    ok
}

/// The failures of one unit test file.
fn test_file(path: &str, options: &TestOptions, templates: &Arc<dyn Templates>, stderr: &mut dyn Write) -> Vec<String> {
    let file = match test_file::load(path) {
        Ok(file) => file,
        Err(err) => return vec![err.to_string()],
    };
    let rule_files = match resolve_rule_files(path, &file.rule_files, stderr) {
        Ok(files) => files,
        Err(err) => return vec![err],
    };
    let eval_interval =
        if file.evaluation_interval.is_zero() { Duration::from_secs(60) } else { file.evaluation_interval };
    let mut group_order = HashMap::new();
    for (i, name) in file.group_eval_order.iter().enumerate() {
        if group_order.insert(name.clone(), i).is_some() {
            return vec![format!("group name repeated in evaluation order: {name}")];
        }
    }
    let settings = run::Settings {
        eval_interval_ns: i64::try_from(eval_interval.as_std().as_nanos()).unwrap_or(i64::MAX),
        group_order: &group_order,
        rule_files: &rule_files,
        fuzzy_compare: file.fuzzy_compare,
        debug: options.debug,
        templates,
    };
    let mut errors = Vec::new();
    for (i, test) in file.tests.iter().enumerate() {
        if options.run.as_ref().is_some_and(|run| !run.is_match(&test.name)) {
            continue;
        }
        let name = if test.name.is_empty() { format!("unnamed#{i}") } else { test.name.clone() };
        let mut test = test.clone();
        if test.interval.is_zero() {
            test.interval = eval_interval;
        }
        errors.extend(run::run_group(&test, &name, &settings, stderr));
    }
    errors
}

/// The rule files of a test file: each pattern relative to the test file's directory unless
/// absolute, then globbed; a pattern matching nothing is a warning (on `stderr`), as upstream.
fn resolve_rule_files(test_file: &str, patterns: &[String], stderr: &mut dyn Write) -> Result<Vec<String>, String> {
    let dir = match std::path::Path::new(test_file).parent().map(|p| p.to_string_lossy().into_owned()) {
        Some(dir) if !dir.is_empty() => dir,
        _ => ".".to_owned(),
    };
    let mut files = Vec::new();
    for pattern in patterns {
        let pattern = if pattern.is_empty() || pattern.starts_with('/') {
            pattern.clone()
        } else {
            clean_path(&format!("{dir}/{pattern}"))
        };
        let paths = glob::glob(&pattern).map_err(|_| "syntax error in pattern".to_owned())?;
        let mut matched: Vec<String> = paths.filter_map(Result::ok).map(|p| p.to_string_lossy().into_owned()).collect();
        matched.sort();
        if matched.is_empty() {
            let _ = writeln!(stderr, "  WARNING: no file match pattern {pattern}");
        }
        files.extend(matched);
    }
    Ok(files)
}

/// Go's `filepath.Clean`: `.` and empty elements dropped, `..` applied lexically.
fn clean_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_as_go_cleans_them() {
        assert_eq!(clean_path("./rules.yml"), "rules.yml");
        assert_eq!(clean_path("a/b/../c.yml"), "a/c.yml");
        assert_eq!(clean_path("../x/./y"), "../x/y");
        assert_eq!(clean_path("/../a"), "/a");
        assert_eq!(clean_path("/a//b/"), "/a/b");
    }
}
