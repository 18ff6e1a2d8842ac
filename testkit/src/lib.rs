//! What promlite's tests share across crates (a dev-dependency only).
//!
//! [`missing`] is the one rule for a test that needs something outside the repo (a Debian
//! package such as Prometheus 2.42 or promtool, `../shared/upstream`, a tmpfs mount): under CI
//! (`CI` set, as `.ci/run` runs) its absence fails the test, naming it, so nothing is skipped
//! silently where the suite is meant to prove everything; elsewhere the test is skipped and
//! says so on the terminal, even while cargo captures test output.

use std::io::Write as _;
use std::path::Path;

/// Says that `what` is missing, so the calling test cannot run: a panic naming it under CI,
/// else a `SKIPPED:` line on stderr that cargo's output capture does not swallow. The caller
/// returns right after.
#[track_caller]
pub fn missing(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("CI: {what}; .ci/run installs every dependency the tests use");
    }
    // Written to the stream itself, not through `eprintln!`, which the test harness captures.
    let _ = writeln!(std::io::stderr().lock(), "SKIPPED {}: {what}", std::panic::Location::caller());
}

/// True when `path` exists; otherwise [`missing`] with `what` (e.g. the Debian package).
#[track_caller]
pub fn have(path: &Path, what: &str) -> bool {
    if path.exists() {
        return true;
    }
    missing(&format!("{} is absent ({what})", path.display()));
    false
}

/// The first of `names` found on `PATH`.
pub fn on_path(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |name| dir.join(name))).find(|p| p.is_file())
}
