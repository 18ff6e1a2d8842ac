//! Kubernetes discovery against the fake API server (`fake_kube`), a module per behaviour:
//! - `roles`: the exact target label sets of every role for the fixtures, and the offline
//!   `Snapshot` building the same;
//! - `metadata`: `attach_metadata` (node, namespace, deployment, job, cronjob) and selectors;
//! - `watch`: watch robustness (add/modify/delete, 410 in-stream and as HTTP, bookmarks,
//!   chunking, pagination);
//! - `api_server`: reaching the API server (TLS, kubeconfig, token rotation, 401, 403, 429/5xx,
//!   Warning headers);
//! - `upstream_cases`: every case of Prometheus 3.14's role tests, as data in `upstream/*.yaml`;
//! - `e2e`: through the real binary (a Service + EndpointSlice in the fake API → a real HTTP
//!   target scraped → `up` queryable; Prometheus's example Kubernetes config yielding the
//!   expected targets; an empty pool explaining its selector).
//!
//! This file holds what they share: starting a discovery on its own runtime, waiting for its
//! publishes, and the label sets of the fixtures.

mod api_server;
mod e2e;
mod metadata;
mod roles;
mod upstream_cases;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use promlite::discovery::TargetGroup;
use promlite::discovery::kubernetes::{self, SdRegistry, SdState, WatchOptions};

use crate::fake_kube::{FakeKube, fixtures};
use crate::util::eventually;

type Labels = BTreeMap<String, String>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// Prefixes every name with `__meta_kubernetes_`.
fn meta(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (format!("__meta_kubernetes_{k}"), (*v).to_owned())).collect()
}

fn merge(parts: &[&Labels]) -> Labels {
    parts.iter().flat_map(|p| p.iter().map(|(k, v)| (k.clone(), v.clone()))).collect()
}

/// A discovery running on its own runtime; stopped on drop.
struct Sd {
    groups: Arc<Mutex<Option<Vec<TargetGroup>>>>,
    /// Total targets of every publish, in order.
    history: Arc<Mutex<Vec<usize>>>,
    state: Arc<SdState>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Sd {
    /// Waits for published groups satisfying `check`.
    fn wait(&self, what: &str, check: impl Fn(&[TargetGroup]) -> bool) -> Vec<TargetGroup> {
        eventually(Duration::from_secs(60), || match &*self.groups.lock().unwrap() {
            Some(groups) if check(groups) => Ok(groups.clone()),
            other => Err(format!("{what}: {other:#?}\nstate: {:#?}", self.state.snapshot())),
        })
    }

    fn synced(&self) -> Vec<TargetGroup> {
        self.wait("first publish", |_| true)
    }
}

impl Drop for Sd {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn test_options() -> WatchOptions {
    WatchOptions {
        initial_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(500),
        debounce: Duration::from_millis(20),
        min_rebuild_interval: Duration::from_millis(50),
        ..WatchOptions::default()
    }
}

/// Starts discovery for one `kubernetes_sd_configs` entry given as YAML (`api_server` is added).
fn start_sd(fake: &FakeKube, sd_yaml: &str, options: WatchOptions) -> Sd {
    start_sd_entry(&format!("api_server: {}\n{sd_yaml}", fake.url()), options)
}

/// Starts discovery for one `kubernetes_sd_configs` entry given as YAML, as is.
fn start_sd_entry(sd_yaml: &str, options: WatchOptions) -> Sd {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut lines = sd_yaml.lines();
    let first = lines.next().unwrap_or_default();
    let yaml = format!(
        "scrape_configs:\n  - job_name: k8s\n    kubernetes_sd_configs:\n      - {first}\n{}",
        lines.map(|l| format!("        {l}\n")).collect::<String>()
    );
    let config = promlite::config::load_str(&yaml, "test.yml").unwrap_or_else(|err| panic!("{err}\n{yaml}"));
    let sd_config = config.scrape_configs[0].kubernetes_sd_configs[0].clone();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let state = Arc::new(SdRegistry::default()).register("k8s", 0, sd_config.role);
    let groups = Arc::new(Mutex::new(None));
    let history = Arc::new(Mutex::new(Vec::new()));
    let (g, h) = (Arc::clone(&groups), Arc::clone(&history));
    runtime.spawn(kubernetes::run(sd_config, options, Arc::clone(&state), move |published: Vec<TargetGroup>| {
        h.lock().unwrap().push(published.iter().map(|g| g.targets.len()).sum());
        *g.lock().unwrap() = Some(published);
    }));
    Sd { groups, history, state, runtime: Some(runtime) }
}

fn group<'a>(groups: &'a [TargetGroup], source: &str) -> &'a TargetGroup {
    groups
        .iter()
        .find(|g| g.source == source)
        .unwrap_or_else(|| panic!("no group {source}; have {:?}", groups.iter().map(|g| &g.source).collect::<Vec<_>>()))
}

/// Asserts a group's targets as a set (upstream's order within a group is map order).
fn assert_targets(group: &TargetGroup, want: Vec<Labels>) {
    let have: BTreeSet<&Labels> = group.targets.iter().collect();
    let want_set: BTreeSet<&Labels> = want.iter().collect();
    assert_eq!(group.targets.len(), want.len(), "target count of {}: {:#?}", group.source, group.targets);
    if let Some(missing) = want_set.difference(&have).next() {
        let closest = group.targets.iter().find(|t| t.get("__address__") == missing.get("__address__"));
        panic!("{}: missing target {missing:#?}\nclosest: {closest:#?}", group.source);
    }
}

fn apply_all(fake: &FakeKube) {
    for object in fixtures::all() {
        fake.apply(object);
    }
}

/// Labels every target backed by a `web` pod carries.
fn web_pod_labels(name: &str, ip: &str, ready: bool) -> Labels {
    meta(&[
        ("pod_name", name),
        ("pod_ip", ip),
        ("pod_ready", if ready { "true" } else { "false" }),
        ("pod_phase", "Running"),
        ("pod_node_name", "node-1"),
        ("pod_host_ip", "192.168.1.20"),
        ("pod_uid", &format!("uid-{name}")),
        ("pod_label_app", "web"),
        ("pod_labelpresent_app", "true"),
        ("pod_label_pod_template_hash", "5d4f8"),
        ("pod_labelpresent_pod_template_hash", "true"),
        ("pod_annotation_prometheus_io_scrape", "true"),
        ("pod_annotationpresent_prometheus_io_scrape", "true"),
        ("pod_controller_kind", "ReplicaSet"),
        ("pod_controller_name", "web-5d4f8"),
    ])
}

fn web_service_labels() -> Labels {
    meta(&[
        ("namespace", "default"),
        ("service_name", "web"),
        ("service_label_app", "web"),
        ("service_labelpresent_app", "true"),
        ("service_label_app_kubernetes_io_name", "web"),
        ("service_labelpresent_app_kubernetes_io_name", "true"),
        ("service_annotation_prometheus_io_scrape", "true"),
        ("service_annotationpresent_prometheus_io_scrape", "true"),
    ])
}

fn container(name: &str, image: &str, port_name: &str, port: &str, init: Option<&str>) -> Labels {
    let mut out = meta(&[
        ("pod_container_name", name),
        ("pod_container_image", image),
        ("pod_container_port_name", port_name),
        ("pod_container_port_number", port),
        ("pod_container_port_protocol", "TCP"),
    ]);
    if let Some(init) = init {
        out.extend(meta(&[("pod_container_init", init)]));
    }
    out
}
