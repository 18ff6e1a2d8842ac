//! Every upstream `config/testdata` file (Prometheus 3.14), loaded where it lives: each bad
//! file refused for the defect it was written for, each good file loaded or refused only for
//! what promlite does not run (the tables in `upstream_files.rs`).

use std::collections::BTreeSet;
use std::path::Path;

use super::super::load_file;
use super::upstream_files::{BAD_FILES, Expect, REFUSED_GOOD_FILES, TESTDATA};

/// The names of the files in the test data directory ending in `suffix`, or `None` (after
/// saying so) when `../shared/upstream` is absent.
fn files(suffix: &str) -> Option<BTreeSet<String>> {
    let dir = Path::new(TESTDATA);
    if !dir.is_dir() {
        promlite_testkit::missing(&format!("upstream testdata at {} (../shared/upstream)", dir.display()));
        return None;
    }
    let names = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(suffix))
        .collect();
    Some(names)
}

/// Every line of a rendered error says where: `FILE:LINE:COL: message`.
fn assert_positions(name: &str, error: &str) {
    for line in error.lines() {
        let (place, message) = line.split_once(": ").unwrap_or((line, ""));
        let parts: Vec<&str> = place.rsplitn(3, ':').collect();
        let numbered = parts.len() == 3 && parts[..2].iter().all(|n| n.parse::<u32>().is_ok_and(|n| n > 0));
        assert!(numbered && !message.is_empty(), "{name}: a problem without line:col: {line:?}");
    }
}

#[test]
fn every_bad_file_is_refused_for_its_defect() {
    let Some(on_disk) = files(".bad.yml") else { return };
    let listed: BTreeSet<String> = BAD_FILES.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(listed.len(), BAD_FILES.len(), "a file is listed twice");
    assert_eq!(
        listed,
        on_disk,
        "the table and the directory differ: only listed {:?}, only on disk {:?}",
        listed.difference(&on_disk).collect::<Vec<_>>(),
        on_disk.difference(&listed).collect::<Vec<_>>()
    );
    let mut failures = Vec::new();
    for (name, expect) in &BAD_FILES {
        let error = match load_file(&Path::new(TESTDATA).join(name)) {
            Ok(_) => {
                failures.push(format!("{name}: loaded"));
                continue;
            }
            Err(err) => err.to_string(),
        };
        assert_positions(name, &error);
        match expect {
            Expect::Defect(defect) => {
                if !error.contains(defect) {
                    failures.push(format!("{name}: expected {defect:?} in\n  {}", error.replace('\n', "\n  ")));
                }
            }
            Expect::SdField { sd, defect } => {
                let not_supported = format!("{sd} is not supported by promlite yet");
                if !error.contains(&not_supported) {
                    failures.push(format!("{name} ({defect}, in {sd}): expected {not_supported:?} in\n  {error}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} bad files:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn every_good_file_loads_or_is_refused_only_as_not_supported() {
    let Some(on_disk) = files(".good.yml") else { return };
    assert!(on_disk.len() >= 50, "only {} good files: was the directory misread?", on_disk.len());
    let mut failures = Vec::new();
    let mut refused = BTreeSet::new();
    for name in &on_disk {
        let Err(err) = load_file(&Path::new(TESTDATA).join(name)) else { continue };
        let error = err.to_string();
        assert_positions(name, &error);
        refused.insert(name.clone());
        let Some((_, what)) = REFUSED_GOOD_FILES.iter().find(|(refused, _)| refused == name) else {
            failures.push(format!("{name}: refused\n  {}", error.replace('\n', "\n  ")));
            continue;
        };
        for line in error.lines().filter(|line| !line.ends_with(" is not supported by promlite yet")) {
            failures.push(format!("{name} (refused for {what}): a problem besides what promlite does not run: {line}"));
        }
    }
    let listed: BTreeSet<String> = REFUSED_GOOD_FILES.iter().map(|(name, _)| (*name).to_owned()).collect();
    for name in listed.difference(&refused) {
        failures.push(format!("{name} loads: take it out of REFUSED_GOOD_FILES"));
    }
    assert!(failures.is_empty(), "{} good files:\n{}", failures.len(), failures.join("\n"));
}
