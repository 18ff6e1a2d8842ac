//! Prometheus 3.14's own Kubernetes SD test cases (`discovery/kubernetes/*_test.go`), restated as
//! data in `tests/kubernetes/upstream/<role>.yaml` and run against the fake API server.
//!
//! A case lists the objects the API holds when discovery starts, the changes made once it has
//! synced (`steps`), and the target groups it must end up publishing, by source, each with its
//! exact group labels and its exact targets in order (upstream compares the same JSON). Where
//! upstream publishes an empty group for a deleted object, promlite publishes the full list
//! without it: such a case names the source under `gone`, and it must be there before the steps
//! and absent after them. A case may also name the collections discovery lists (`watches`).
//! A case whose expectation differs from upstream's says why in `deviation`.
//!
//! Each role's test checks that its file holds exactly the number of cases ported, and (with
//! `../shared/upstream` present) that every `Test…` function of the upstream file is among them,
//! so neither a dropped case nor a new upstream test goes unnoticed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::{Labels, Sd, start_sd_entry, test_options};
use crate::fake_kube::FakeKube;
use crate::util::eventually;

/// One `<role>.yaml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseFile {
    /// The upstream test file the cases come from.
    upstream_file: String,
    /// Anchored objects and label sets the cases share; read only through aliases.
    #[serde(default)]
    #[expect(dead_code, reason = "holds YAML anchors, which the cases use through aliases")]
    shared: Value,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// The upstream test (and subtest) this case restates.
    upstream: String,
    /// The `kubernetes_sd_configs` entry, without `api_server`.
    config: Value,
    /// What the API holds before discovery starts.
    #[serde(default)]
    objects: Vec<Value>,
    /// Changes once discovery has published its first groups.
    #[serde(default)]
    steps: Vec<Step>,
    /// The groups finally published, by source.
    expect: BTreeMap<String, Group>,
    /// Sources published at first and no more after the steps (upstream's empty groups).
    #[serde(default)]
    gone: Vec<String>,
    /// The collections discovery lists, when the case is about which ones.
    #[serde(default)]
    watches: Option<BTreeSet<String>>,
    /// Why this expectation differs from upstream's, if it does.
    #[serde(default)]
    deviation: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
enum Step {
    /// Create or replace an object.
    Apply(Value),
    /// Delete an object.
    Delete {
        kind: String,
        #[serde(default)]
        namespace: String,
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    #[serde(default)]
    labels: Labels,
    #[serde(default)]
    targets: Vec<Labels>,
}

const UPSTREAM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/upstream/prometheus-v3.14.0");

fn load(role: &str) -> CaseFile {
    let path = format!("{}/tests/kubernetes/upstream/{role}.yaml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_saphyr::from_str(&text).unwrap_or_else(|err| panic!("{path}: {err}"))
}

/// The `Test…` functions of an upstream test file.
fn upstream_tests(file: &str) -> Option<BTreeSet<String>> {
    let path = Path::new(UPSTREAM).join(file);
    if !promlite_testkit::have(&path, "../shared/upstream, the upstream Kubernetes SD tests") {
        return None;
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let names = text
        .lines()
        .filter_map(|line| line.strip_prefix("func Test")?.split_once('(').map(|(name, _)| format!("Test{name}")))
        .collect();
    Some(names)
}

fn published(sd: &Sd) -> Option<BTreeMap<String, Group>> {
    let groups = sd.groups.lock().unwrap().clone()?;
    Some(
        groups
            .into_iter()
            .map(|g| (g.source, Group { labels: g.labels.into_iter().collect(), targets: g.targets }))
            .collect(),
    )
}

/// What differs between the groups published and those expected, one line or block per difference.
fn diff(have: &BTreeMap<String, Group>, want: &BTreeMap<String, Group>) -> String {
    let mut out = String::new();
    let sources: BTreeSet<&String> = have.keys().chain(want.keys()).collect();
    for source in sources {
        match (have.get(source), want.get(source)) {
            (None, Some(_)) => out.push_str(&format!("\n  {source}: not published")),
            (Some(group), None) => out.push_str(&format!("\n  {source}: published but not expected: {group:#?}")),
            (Some(have), Some(want)) if have != want => {
                out.push_str(&format!("\n  {source}:"));
                let labels = label_diff(&have.labels, &want.labels);
                if !labels.is_empty() {
                    out.push_str(&format!("\n    group labels:{labels}"));
                }
                if have.targets.len() != want.targets.len() {
                    out.push_str(&format!(
                        "\n    {} targets, want {}: {:#?}",
                        have.targets.len(),
                        want.targets.len(),
                        have.targets
                    ));
                }
                for (i, (h, w)) in have.targets.iter().zip(&want.targets).enumerate() {
                    let labels = label_diff(h, w);
                    if !labels.is_empty() {
                        out.push_str(&format!("\n    target {i}:{labels}"));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn label_diff(have: &Labels, want: &Labels) -> String {
    let mut out = String::new();
    let names: BTreeSet<&String> = have.keys().chain(want.keys()).collect();
    for name in names {
        match (have.get(name), want.get(name)) {
            (Some(h), Some(w)) if h == w => {}
            (h, w) => out.push_str(&format!("\n      {name}: have {h:?}, want {w:?}")),
        }
    }
    out
}

fn run_case(case: &Case) {
    let fake = FakeKube::start();
    for object in &case.objects {
        fake.apply(object.clone());
    }
    let mut config = case.config.clone();
    config["api_server"] = Value::String(fake.url());
    // One line of JSON is a YAML flow mapping, which `start_sd_entry` nests as the list entry.
    let sd = start_sd_entry(&config.to_string(), test_options());
    let first = eventually(Duration::from_secs(60), || published(&sd).ok_or_else(|| "nothing published".to_owned()));
    for source in &case.gone {
        assert!(first.contains_key(source), "{source} is not among the first groups: {first:#?}");
    }
    for step in &case.steps {
        match step {
            Step::Apply(object) => {
                fake.apply(object.clone());
            }
            Step::Delete { kind, namespace, name } => {
                assert!(fake.delete(kind, namespace, name), "no {kind} {namespace}/{name} to delete");
            }
        }
    }
    let gone: BTreeSet<&String> = case.gone.iter().collect();
    assert!(gone.iter().all(|source| !case.expect.contains_key(*source)), "a source both gone and expected");
    eventually(Duration::from_secs(60), || match published(&sd) {
        Some(groups) if groups == case.expect => Ok(()),
        Some(groups) => Err(diff(&groups, &case.expect)),
        None => Err("nothing published".to_owned()),
    });
    if let Some(watches) = &case.watches {
        let listed: BTreeSet<String> = fake.requests().into_iter().filter(|r| !r.is_watch()).map(|r| r.path).collect();
        assert_eq!(&listed, watches, "collections listed");
    }
    drop(sd);
    // Ends the fake's watch threads, which would otherwise wait for their timeout.
    fake.close_watches();
}

/// Runs every case of `role.yaml`, after checking there are `count` of them and that they cover
/// every test of the upstream file.
fn check_role(role: &str, count: usize) {
    let file = load(role);
    let names: Vec<&str> = file.cases.iter().map(|c| c.upstream.as_str()).collect();
    assert_eq!(file.cases.len(), count, "{role}.yaml: {names:#?}");
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "{role}.yaml names a case twice");
    if let Some(tests) = upstream_tests(&file.upstream_file) {
        let ported: BTreeSet<String> =
            names.iter().map(|n| n.split_once('/').map_or(*n, |(test, _)| test).to_owned()).collect();
        assert_eq!(ported, tests, "{role}.yaml against {}", file.upstream_file);
    }
    for case in &file.cases {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_case(case)));
        if let Err(panic) = outcome {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            let deviation = case.deviation.as_deref().map(|d| format!(" (deviation: {d})")).unwrap_or_default();
            panic!("{role}.yaml case {}{deviation}: {message}", case.upstream);
        }
    }
}

#[test]
fn node_cases() {
    check_role("node", 9);
}

#[test]
fn service_cases() {
    check_role("service", 8);
}

#[test]
fn pod_cases() {
    check_role("pod", 19);
}

#[test]
fn endpoints_cases() {
    check_role("endpoints", 16);
}

#[test]
fn endpointslice_cases() {
    check_role("endpointslice", 22);
}

#[test]
fn ingress_cases() {
    check_role("ingress", 7);
}
