//! Runs every upstream promqltest file (read where it lives, never copied) and prints, per
//! file, evals passed / failed / skipped with the skip reasons.
//!
//! The test fails when an eval outside [`KNOWN_FAILING`] fails, and also when a listed eval
//! passes, so the list only shrinks. Whole files are skipped only for the features
//! the issue allows: native histograms and experimental features behind feature flags.
//! `PROMQLTEST_FILE=<name>` runs one file and prints every failure.

use std::collections::BTreeMap;

use super::run::{Outcome, run_script};
use super::script::parse_script;

const TESTDATA: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/upstream/prometheus-v3.14.0/promql/promqltest/testdata");

/// Files skipped whole, with the Prometheus feature flag that gates them.
const SKIPPED_FILES: &[(&str, &str)] = &[
    ("native_histograms.test", "native histograms"),
    ("info.test", "experimental info() function (--enable-feature=promql-experimental-functions)"),
    ("fill-modifier.test", "experimental fill modifiers (--enable-feature=promql-binop-fill-modifiers)"),
    (
        "extended_vectors.test",
        "experimental extended range selectors (--enable-feature=promql-extended-range-selectors)",
    ),
    ("start_timestamps.test", "experimental start timestamps (--enable-feature=st-storage)"),
    ("duration_expression.test", "experimental duration expressions (--enable-feature=promql-duration-expr)"),
    ("type_and_unit.test", "experimental type and unit labels (--enable-feature=type-and-unit-labels)"),
    ("name_label_dropping.test", "experimental delayed name removal (--enable-feature=promql-delayed-name-removal)"),
];

// Evals known to fail, as (file, line, why): none today. The test fails when any other eval
// fails, and when a listed one passes, so an entry added here (with a FIXME naming its issue)
// cannot outlive its fix.
const KNOWN_FAILING: &[(&str, usize, &str)] = &[];

/// Upstream evals that pass today (2026-12-08: 824): fewer is a regression.
const MIN_PASSED: usize = 824;
/// Upstream evals skipped today (native histograms, feature-flagged experiments: 1371).
const MAX_SKIPPED: usize = 1371;
/// Upstream queries (evals not expected to fail) the parser coverage measures today: 2135.
const MIN_MEASURED: usize = 2135;

#[test]
fn upstream_promqltest_files() {
    let Ok(dir) = std::fs::read_dir(TESTDATA) else {
        promlite_testkit::missing(&format!("upstream promqltest data at {TESTDATA} (../shared/upstream)"));
        return;
    };
    let only = std::env::var("PROMQLTEST_FILE").ok();
    let mut names: Vec<String> = dir
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".test"))
        .filter(|n| only.as_ref().is_none_or(|only| only == n))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no .test file in {TESTDATA} (PROMQLTEST_FILE={only:?})");
    let (mut total_passed, mut total_failed, mut total_skipped) = (0, 0, 0);
    let mut failing_evals: Vec<(String, usize)> = Vec::new();
    for name in &names {
        let text = std::fs::read_to_string(format!("{TESTDATA}/{name}")).expect("read test file");
        let evals = text.lines().filter(|l| l.trim_start().starts_with("eval")).count();
        if let Some((_, reason)) = SKIPPED_FILES.iter().find(|(file, _)| file == name) {
            println!("{name}: skipped all {evals} evals: {reason}");
            total_skipped += evals;
            continue;
        }
        let commands = match parse_script(&text) {
            Ok(commands) => commands,
            Err(err) => {
                println!("{name}: FAILED to parse: {err}");
                failing_evals.push((name.clone(), err.line));
                total_failed += evals;
                continue;
            }
        };
        let outcomes = run_script(&commands);
        let (mut passed, mut failed) = (0, 0);
        let mut skip_reasons: BTreeMap<String, usize> = BTreeMap::new();
        let mut failures = Vec::new();
        for (line, outcome) in &outcomes {
            match outcome {
                Outcome::Passed => passed += 1,
                Outcome::Failed(why) => {
                    failed += 1;
                    failing_evals.push((name.clone(), *line));
                    failures.push(format!("    line {line}: {why}"));
                }
                Outcome::Skipped(why) => *skip_reasons.entry(why.clone()).or_default() += 1,
            }
        }
        let skipped: usize = skip_reasons.values().sum();
        let reasons: Vec<String> = skip_reasons.iter().map(|(why, n)| format!("{n} {why}")).collect();
        println!(
            "{name}: passed {passed}, failed {failed}, skipped {skipped}{}",
            if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join("; ")) }
        );
        let shown = if only.is_some() { failures.len() } else { 3 };
        for failure in failures.iter().take(shown) {
            println!("{failure}");
        }
        total_passed += passed;
        total_failed += failed;
        total_skipped += skipped;
    }
    println!("total: passed {total_passed}, failed {total_failed}, skipped {total_skipped}");
    // A path mistake, a parser regression or a new skip rule shows here, not as a quiet pass.
    // Raise the floor (lower the ceiling) as support grows. The bounds are for the whole
    // suite: `PROMQLTEST_FILE` runs one file, which only has to pass.
    if only.is_none() {
        assert!(
            total_passed >= MIN_PASSED,
            "only {total_passed} upstream evals passed; at least {MIN_PASSED} did before"
        );
        assert!(
            total_skipped <= MAX_SKIPPED,
            "{total_skipped} upstream evals skipped; at most {MAX_SKIPPED} were before"
        );
    }
    let known = |file: &str, line: usize| KNOWN_FAILING.iter().any(|(f, l, _)| *f == file && *l == line);
    let unexpected: Vec<&(String, usize)> = failing_evals.iter().filter(|(f, l)| !known(f, *l)).collect();
    let fixed: Vec<_> = KNOWN_FAILING
        .iter()
        .filter(|(f, l, _)| names.iter().any(|n| n == f) && !failing_evals.contains(&(f.to_string(), *l)))
        .collect();
    assert!(unexpected.is_empty(), "failing evals not in KNOWN_FAILING (file, line): {unexpected:?}");
    assert!(fixed.is_empty(), "evals in KNOWN_FAILING that pass now, remove them: {fixed:?}");
}

/// Measures promql-parser on every upstream eval, skipped files included: how many queries it
/// rejects although upstream parses them (upstream marks its expected parse failures with
/// `expect fail`). Prints the count per file; the decision in ARCHITECTURE.md rests on it.
#[test]
fn parser_coverage_of_upstream_queries() {
    let Ok(dir) = std::fs::read_dir(TESTDATA) else {
        promlite_testkit::missing(&format!("upstream promqltest data at {TESTDATA} (../shared/upstream)"));
        return;
    };
    let mut names: Vec<String> =
        dir.filter_map(|e| e.ok()?.file_name().into_string().ok()).filter(|n| n.ends_with(".test")).collect();
    names.sort();
    let (mut total, mut rejected) = (0, 0);
    let mut unreadable = Vec::new();
    for name in &names {
        let text = std::fs::read_to_string(format!("{TESTDATA}/{name}")).expect("read test file");
        let Ok(commands) = parse_script(&text) else {
            unreadable.push(name.as_str());
            continue;
        };
        let (mut evals, mut bad) = (0, 0);
        for command in &commands {
            let super::script::Command::Eval(eval) = command else { continue };
            if eval.fail.is_some() {
                continue;
            }
            evals += 1;
            if let Err(err) = crate::parser::parse_experimental(&eval.expr) {
                println!("{name}:{}: {}: {err}", eval.line, eval.expr);
                bad += 1;
            }
        }
        println!("{name}: the parser rejects {bad} of {evals} queries upstream accepts");
        total += evals;
        rejected += bad;
        if SKIPPED_FILES.iter().all(|(file, _)| file != name) {
            assert_eq!(bad, 0, "{name}: a query of a file we run does not parse");
        }
    }
    println!("total: the parser rejects {rejected} of {total}; scripts not read: {unreadable:?}");
    // The measure covers the whole suite: fewer queries means files went unread. A script the
    // runner cannot read is allowed only among the files skipped whole (start_timestamps.test
    // uses syntax of its experiment).
    let unexpected: Vec<&&str> =
        unreadable.iter().filter(|name| SKIPPED_FILES.iter().all(|(file, _)| file != *name)).collect();
    assert!(unexpected.is_empty(), "upstream scripts the runner cannot read: {unexpected:?}");
    assert!(total >= MIN_MEASURED, "only {total} upstream queries measured; {MIN_MEASURED} were before");
}
