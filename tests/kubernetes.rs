//! Kubernetes discovery against the fake API server (`fake_kube`): the exact target label sets
//! of every role for the fixtures, watch robustness (add/modify/delete, 410 in-stream and as
//! HTTP, bookmarks, chunking, pagination, token rotation, 403, Warning headers), and end to end
//! through the real binary (a Service + EndpointSlice in the fake API → a real HTTP target
//! scraped → `up` queryable; Prometheus's example Kubernetes config yielding the expected targets).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use promlite::discovery::TargetGroup;
use promlite::discovery::kubernetes::{self, SdRegistry, SdState, WatchOptions};
use serde_json::json;

use crate::fake_kube::{Expiry, FakeKube, fixtures};
use crate::util::{FakeTarget, enc, eventually, get_json, start};

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

impl Sd {
    /// Waits for published groups satisfying `check`.
    fn wait(&self, what: &str, check: impl Fn(&[TargetGroup]) -> bool) -> Vec<TargetGroup> {
        eventually(Duration::from_secs(5), || match &*self.groups.lock().unwrap() {
            Some(groups) if check(groups) => Ok(groups.clone()),
            other => Err(format!("{what}: {other:#?}\nstate: {:#?}", self.state.snapshot())),
        })
    }

    fn synced(&self) -> Vec<TargetGroup> {
        self.wait("first publish", |_| true)
    }
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
        ("pod_ipv4", ip),
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

#[test]
fn endpointslice_role_exact_labels() {
    let fake = FakeKube::start();
    apply_all(&fake);
    let sd = start_sd(&fake, "role: endpointslice", test_options());
    let groups = sd.synced();
    assert_eq!(
        groups.iter().map(|g| g.source.as_str()).collect::<Vec<_>>(),
        [
            "endpointslice/db/pg-x7k2p",
            "endpointslice/default/dual-v4",
            "endpointslice/default/dual-v6",
            "endpointslice/default/kubernetes",
            "endpointslice/default/web-abc12",
        ]
    );

    let web = group(&groups, "endpointslice/default/web-abc12");
    let slice_labels = meta(&[
        ("namespace", "default"),
        ("endpointslice_address_type", "IPv4"),
        ("endpointslice_name", "web-abc12"),
        ("endpointslice_label_kubernetes_io_service_name", "web"),
        ("endpointslice_labelpresent_kubernetes_io_service_name", "true"),
        ("endpointslice_label_endpointslice_kubernetes_io_managed_by", "endpointslice-controller.k8s.io"),
        ("endpointslice_labelpresent_endpointslice_kubernetes_io_managed_by", "true"),
    ]);
    assert_eq!(web.labels, merge(&[&slice_labels, &web_service_labels()]));
    let endpoint = |address: &str, pod: &str, ready: &str| {
        let mut out = labels(&[("__address__", address)]);
        out.extend(meta(&[
            ("endpointslice_port_name", "http"),
            ("endpointslice_port_protocol", "TCP"),
            ("endpointslice_port", "8080"),
            ("endpointslice_port_app_protocol", "http"),
            ("endpointslice_endpoint_conditions_ready", ready),
            ("endpointslice_endpoint_conditions_serving", ready),
            ("endpointslice_endpoint_conditions_terminating", "false"),
            ("endpointslice_address_target_kind", "Pod"),
            ("endpointslice_address_target_name", pod),
            ("endpointslice_endpoint_node_name", "node-1"),
            ("endpointslice_endpoint_zone", "z1"),
        ]));
        out
    };
    let app = container("app", "example/web:1.2", "http", "8080", Some("false"));
    let sidecar = container("sidecar", "example/exporter:0.9", "metrics", "9091", Some("false"));
    let (web0, web1) = (web_pod_labels("web-0", "10.1.0.10", true), web_pod_labels("web-1", "10.1.0.11", false));
    assert_targets(
        web,
        vec![
            merge(&[&endpoint("10.1.0.10:8080", "web-0", "true"), &web0, &app]),
            merge(&[&endpoint("10.1.0.11:8080", "web-1", "false"), &web1, &app]),
            // The sidecar port no Service port covers: pod and container labels only.
            merge(&[&labels(&[("__address__", "10.1.0.10:9091")]), &web0, &sidecar]),
            merge(&[&labels(&[("__address__", "10.1.0.11:9091")]), &web1, &sidecar]),
        ],
    );

    // Headless StatefulSet: unnamed port (empty name, still present), hostname, one condition.
    let pg = group(&groups, "endpointslice/db/pg-x7k2p");
    assert_eq!(
        pg.labels,
        meta(&[
            ("namespace", "db"),
            ("endpointslice_address_type", "IPv4"),
            ("endpointslice_name", "pg-x7k2p"),
            ("endpointslice_label_kubernetes_io_service_name", "pg"),
            ("endpointslice_labelpresent_kubernetes_io_service_name", "true"),
            ("endpointslice_label_service_kubernetes_io_headless", ""),
            ("endpointslice_labelpresent_service_kubernetes_io_headless", "true"),
            ("service_name", "pg"),
            ("service_label_app", "pg"),
            ("service_labelpresent_app", "true"),
        ])
    );
    let mut pg_target = labels(&[("__address__", "10.1.1.5:5432")]);
    pg_target.extend(meta(&[
        ("endpointslice_port_name", ""),
        ("endpointslice_port_protocol", "TCP"),
        ("endpointslice_port", "5432"),
        ("endpointslice_endpoint_conditions_ready", "true"),
        ("endpointslice_endpoint_hostname", "pg-0"),
        ("endpointslice_address_target_kind", "Pod"),
        ("endpointslice_address_target_name", "pg-0"),
        ("endpointslice_endpoint_node_name", "node-1"),
        ("pod_name", "pg-0"),
        ("pod_ip", "10.1.1.5"),
        ("pod_ipv4", "10.1.1.5"),
        ("pod_ready", "true"),
        ("pod_phase", "Running"),
        ("pod_node_name", "node-1"),
        ("pod_host_ip", "192.168.1.20"),
        ("pod_uid", "uid-pg-0"),
        ("pod_label_app", "pg"),
        ("pod_labelpresent_app", "true"),
        ("pod_controller_kind", "StatefulSet"),
        ("pod_controller_name", "pg"),
    ]));
    pg_target.extend(container("postgres", "postgres:17", "", "5432", Some("false")));
    assert_targets(pg, vec![pg_target]);

    // Dual stack: both families yield targets; IPv6 in brackets.
    for (source, family, address) in [("dual-v4", "IPv4", "10.1.2.3:9000"), ("dual-v6", "IPv6", "[fd00::3]:9000")] {
        let g = group(&groups, &format!("endpointslice/default/{source}"));
        assert_eq!(g.labels["__meta_kubernetes_endpointslice_address_type"], family);
        assert_eq!(g.labels["__meta_kubernetes_service_name"], "dual");
        let mut want = labels(&[("__address__", address)]);
        want.extend(meta(&[
            ("endpointslice_port_name", "metrics"),
            ("endpointslice_port_protocol", "TCP"),
            ("endpointslice_port", "9000"),
            ("endpointslice_endpoint_conditions_ready", "true"),
        ]));
        assert_targets(g, vec![want]);
    }
}

#[test]
fn endpoints_role_exact_labels() {
    let fake = FakeKube::start();
    apply_all(&fake);
    let sd = start_sd(&fake, "role: endpoints", test_options());
    let groups = sd.synced();
    assert_eq!(
        groups.iter().map(|g| (g.source.as_str(), g.targets.len())).collect::<Vec<_>>(),
        [
            ("endpoints/db/pg", 1),
            ("endpoints/default/kubernetes", 1),
            ("endpoints/default/web", 4),
            ("endpoints/kube-system/kube-controller-manager", 0),
            ("endpoints/kube-system/kube-scheduler", 0),
            ("endpoints/kube-system/kubelet", 3),
        ]
    );
    let web = group(&groups, "endpoints/default/web");
    let endpoints_labels =
        meta(&[("endpoints_name", "web"), ("endpoints_label_app", "web"), ("endpoints_labelpresent_app", "true")]);
    assert_eq!(web.labels, merge(&[&web_service_labels(), &endpoints_labels]));
    let address = |address: &str, pod: &str, ready: &str| {
        let mut out = labels(&[("__address__", address)]);
        out.extend(meta(&[
            ("endpoint_port_name", "http"),
            ("endpoint_port_protocol", "TCP"),
            ("endpoint_ready", ready),
            ("endpoint_address_target_kind", "Pod"),
            ("endpoint_address_target_name", pod),
            ("endpoint_node_name", "node-1"),
        ]));
        out
    };
    let app = container("app", "example/web:1.2", "http", "8080", Some("false"));
    let sidecar = container("sidecar", "example/exporter:0.9", "metrics", "9091", Some("false"));
    let (web0, web1) = (web_pod_labels("web-0", "10.1.0.10", true), web_pod_labels("web-1", "10.1.0.11", false));
    assert_targets(
        web,
        vec![
            merge(&[&address("10.1.0.10:8080", "web-0", "true"), &web0, &app]),
            merge(&[&address("10.1.0.11:8080", "web-1", "false"), &web1, &app]),
            merge(&[&labels(&[("__address__", "10.1.0.10:9091")]), &web0, &sidecar]),
            merge(&[&labels(&[("__address__", "10.1.0.11:9091")]), &web1, &sidecar]),
        ],
    );

    // Leader-election Endpoints: a group with no targets, no Service, no labels.
    let scheduler = group(&groups, "endpoints/kube-system/kube-scheduler");
    assert_eq!(
        scheduler.labels,
        meta(&[
            ("namespace", "kube-system"),
            ("endpoints_name", "kube-scheduler"),
            (
                "endpoints_annotation_control_plane_alpha_kubernetes_io_leader",
                "{\"holderIdentity\":\"node-1_kube-scheduler\"}"
            ),
            ("endpoints_annotationpresent_control_plane_alpha_kubernetes_io_leader", "true"),
        ])
    );
    // The kubelet: addresses pointing at a Node get no pod labels.
    let kubelet = group(&groups, "endpoints/kube-system/kubelet");
    let node_port = |port: &str, name: &str| {
        let mut out = labels(&[("__address__", &format!("192.168.1.20:{port}"))]);
        out.extend(meta(&[
            ("endpoint_port_name", name),
            ("endpoint_port_protocol", "TCP"),
            ("endpoint_ready", "true"),
            ("endpoint_address_target_kind", "Node"),
            ("endpoint_address_target_name", "node-1"),
        ]));
        out
    };
    assert_targets(
        kubelet,
        vec![node_port("10250", "https-metrics"), node_port("10255", "http-metrics"), node_port("4194", "cadvisor")],
    );
    // The API server's own Endpoints: Service labels attached, no pod.
    let api = group(&groups, "endpoints/default/kubernetes");
    assert_eq!(api.labels["__meta_kubernetes_service_label_component"], "apiserver");
    assert_eq!(api.targets[0]["__address__"], "192.168.1.10:6443");
    assert!(!api.targets[0].contains_key("__meta_kubernetes_endpoint_address_target_kind"));

    // Kubernetes ≥ 1.33 warns that Endpoints are deprecated: kept in the SD state.
    let state = sd.state.snapshot();
    let endpoints_informer = state.informers.iter().find(|i| i.resource == "endpoints").unwrap();
    assert!(endpoints_informer.warnings.iter().any(|w| w.contains("deprecated")), "{state:#?}");
}

#[test]
fn pod_service_ingress_node_roles_exact_labels() {
    let fake = FakeKube::start();
    apply_all(&fake);

    let pods = start_sd(&fake, "role: pod", test_options()).synced();
    assert_eq!(pods.len(), 3);
    let web0 = group(&pods, "pod/default/web-0");
    assert_eq!(web0.labels, merge(&[&web_pod_labels("web-0", "10.1.0.10", true), &meta(&[("namespace", "default")])]));
    let container_target = |address: &str, name: &str, image: &str, port_name: &str, port: &str| {
        let mut out = labels(&[("__address__", address)]);
        out.extend(container(name, image, port_name, port, Some("false")));
        out.extend(meta(&[("pod_container_id", &format!("containerd://web-0-{name}"))]));
        out
    };
    assert_targets(
        web0,
        vec![
            container_target("10.1.0.10:8080", "app", "example/web:1.2", "http", "8080"),
            container_target("10.1.0.10:9091", "sidecar", "example/exporter:0.9", "metrics", "9091"),
        ],
    );

    let services = start_sd(&fake, "role: service", test_options()).synced();
    assert_eq!(services.len(), 4);
    let web = group(&services, "svc/default/web");
    assert_eq!(web.labels, web_service_labels());
    let mut want = labels(&[("__address__", "web.default.svc:80")]);
    want.extend(meta(&[
        ("service_port_name", "http"),
        ("service_port_number", "80"),
        ("service_port_protocol", "TCP"),
        ("service_type", "ClusterIP"),
        ("service_cluster_ip", "10.96.0.10"),
    ]));
    assert_targets(web, vec![want]);

    let ingresses = start_sd(&fake, "role: ingress", test_options()).synced();
    let web = group(&ingresses, "ingress/default/web");
    assert_eq!(
        web.labels,
        meta(&[
            ("namespace", "default"),
            ("ingress_name", "web"),
            ("ingress_class_name", "nginx"),
            ("ingress_label_app", "web"),
            ("ingress_labelpresent_app", "true"),
        ])
    );
    let rule = |host: &str, scheme: &str, path: &str| {
        let mut out = labels(&[("__address__", host)]);
        out.extend(meta(&[("ingress_scheme", scheme), ("ingress_host", host), ("ingress_path", path)]));
        out
    };
    assert_targets(
        web,
        vec![
            rule("web.example.com", "https", "/"),
            rule("web.example.com", "https", "/api"),
            rule("a.shop.example.com", "https", "/"),
            rule("admin.internal", "http", "/"),
        ],
    );

    let nodes = start_sd(&fake, "role: node", test_options()).synced();
    let node = group(&nodes, "node/node-1");
    assert_eq!(
        node.labels,
        meta(&[
            ("node_name", "node-1"),
            ("node_provider_id", "kind://docker/kind/node-1"),
            ("node_label_kubernetes_io_hostname", "node-1"),
            ("node_labelpresent_kubernetes_io_hostname", "true"),
            ("node_label_kubernetes_io_os", "linux"),
            ("node_labelpresent_kubernetes_io_os", "true"),
            ("node_annotation_node_alpha_kubernetes_io_ttl", "0"),
            ("node_annotationpresent_node_alpha_kubernetes_io_ttl", "true"),
        ])
    );
    let mut want = labels(&[("__address__", "192.168.1.20:10250"), ("instance", "node-1")]);
    want.extend(meta(&[("node_address_InternalIP", "192.168.1.20"), ("node_address_Hostname", "node-1")]));
    assert_targets(node, vec![want]);
}

#[test]
fn attach_node_metadata_and_selectors() {
    let fake = FakeKube::start();
    apply_all(&fake);
    let sd = start_sd(
        &fake,
        "role: endpointslice\nattach_metadata: {node: true}\nnamespaces: {names: [default]}\nselectors:\n  - role: endpointslice\n    label: kubernetes.io/service-name=web\n",
        test_options(),
    );
    let groups = sd.synced();
    assert_eq!(groups.iter().map(|g| g.source.as_str()).collect::<Vec<_>>(), ["endpointslice/default/web-abc12"]);
    let target = &group(&groups, "endpointslice/default/web-abc12").targets[0];
    assert_eq!(target["__meta_kubernetes_node_name"], "node-1");
    assert_eq!(target["__meta_kubernetes_node_label_kubernetes_io_os"], "linux");
    let requests = fake.requests();
    assert!(
        requests.iter().any(|r| r.path == "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
            && r.query.get("labelSelector").map(String::as_str) == Some("kubernetes.io/service-name=web")),
        "{requests:#?}"
    );
    // Nodes are cluster-scoped even when namespaces are set.
    assert!(requests.iter().any(|r| r.path == "/api/v1/nodes"));
}

/// `Snapshot` (offline, from objects) builds exactly what a live discovery publishes.
#[test]
fn snapshot_matches_live_discovery() {
    let fake = FakeKube::start();
    apply_all(&fake);
    let snapshot = kubernetes::Snapshot::from_objects(&fixtures::all()).unwrap();
    let attach = promlite::config::AttachMetadata { node: true, namespace: true };
    for role in ["endpointslice", "endpoints", "pod", "service", "node", "ingress"] {
        let yaml = format!("role: {role}\nattach_metadata: {{node: {0}, namespace: {0}}}", role != "node");
        let live = start_sd(&fake, &yaml, test_options()).synced();
        let role = promlite::config::load_str(
            &format!("scrape_configs: [{{job_name: x, kubernetes_sd_configs: [{{role: {role}}}]}}]"),
            "x.yml",
        )
        .unwrap()
        .scrape_configs[0]
            .kubernetes_sd_configs[0]
            .role;
        assert_eq!(snapshot.groups(role, &attach), live, "{role}");
    }
    let err = kubernetes::Snapshot::from_objects(&[json!({"kind": "ConfigMap"})]).err().unwrap();
    assert_eq!(err.to_string(), "object 0: kind \"ConfigMap\" is not one Kubernetes discovery reads");
}

#[test]
fn attach_namespace_metadata() {
    let fake = FakeKube::start();
    apply_all(&fake);
    let namespace_labels = meta(&[
        ("namespace_label_kubernetes_io_metadata_name", "default"),
        ("namespace_labelpresent_kubernetes_io_metadata_name", "true"),
        ("namespace_label_team", "platform"),
        ("namespace_labelpresent_team", "true"),
        ("namespace_annotation_scheduler_alpha_kubernetes_io_node_selector", "pool=web"),
        ("namespace_annotationpresent_scheduler_alpha_kubernetes_io_node_selector", "true"),
    ]);
    for role in ["endpointslice", "endpoints", "pod", "service", "ingress"] {
        let sd = start_sd(&fake, &format!("role: {role}\nattach_metadata: {{namespace: true}}"), test_options());
        let groups = sd.synced();
        for group in &groups {
            let attached: Labels = group
                .labels
                .iter()
                .filter(|(k, _)| k.starts_with("__meta_kubernetes_namespace_"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            // Only `default` exists as a Namespace object; objects elsewhere get nothing.
            let in_default = group.labels["__meta_kubernetes_namespace"] == "default";
            let want = if in_default { namespace_labels.clone() } else { Labels::new() };
            assert_eq!(attached, want, "{role}: {}", group.source);
        }
        assert!(groups.iter().any(|g| g.labels["__meta_kubernetes_namespace"] == "default"), "{role}");
    }
    assert!(fake.requests().iter().any(|r| r.path == "/api/v1/namespaces" && r.is_watch()));

    // A namespace label change reaches the groups.
    let sd = start_sd(&fake, "role: service\nattach_metadata: {namespace: true}", test_options());
    sd.synced();
    let mut namespace = fixtures::default_namespace();
    namespace["metadata"]["labels"]["team"] = json!("web");
    fake.apply(namespace);
    sd.wait("namespace label updated", |groups| {
        groups.iter().any(|g| g.labels.get("__meta_kubernetes_namespace_label_team").map(String::as_str) == Some("web"))
    });
}

#[test]
fn add_modify_delete_propagate() {
    let fake = FakeKube::start();
    fake.apply(fixtures::web_service());
    let sd = start_sd(&fake, "role: endpointslice", test_options());
    assert!(sd.synced().is_empty());

    fake.apply(fixtures::web_slice());
    sd.wait("slice added", |g| g.len() == 1 && g[0].targets.len() == 2);
    // The pods arrive after the slice: their labels and sidecar targets follow.
    fake.apply(fixtures::web_pod("web-0", "10.1.0.10", true));
    sd.wait("pod joined", |g| g.len() == 1 && g[0].targets.len() == 3);
    let mut slice = fixtures::web_slice();
    slice["endpoints"][0]["addresses"] = json!(["10.1.0.99"]);
    fake.apply(slice);
    sd.wait("slice modified", |g| g[0].targets.iter().any(|t| t["__address__"] == "10.1.0.99:8080"));
    let mut service = fixtures::web_service();
    service["metadata"]["labels"]["tier"] = json!("frontend");
    fake.apply(service);
    sd.wait("service label", |g| g[0].labels.contains_key("__meta_kubernetes_service_label_tier"));
    fake.delete("EndpointSlice", "default", "web-abc12");
    sd.wait("slice deleted", |g| g.is_empty());
    // A slice with `endpoints: null` (no ready backends) is still a group, with no targets.
    fake.apply(json!({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"name": "web-empty", "namespace": "default", "labels": {"kubernetes.io/service-name": "web"}},
        "addressType": "IPv4", "endpoints": null, "ports": null}));
    let groups = sd.wait("empty slice", |g| g.len() == 1);
    assert_eq!(groups[0].source, "endpointslice/default/web-empty");
    assert!(groups[0].targets.is_empty());
    assert_eq!(groups[0].labels["__meta_kubernetes_service_label_tier"], "frontend");
}

#[test]
fn watch_expiry_relists_without_a_gap() {
    for mode in [Expiry::InStream, Expiry::Http] {
        let fake = FakeKube::start();
        apply_all(&fake);
        let sd = start_sd(&fake, "role: endpointslice", test_options());
        let before: usize = sd.synced().iter().map(|g| g.targets.len()).sum();
        let lists = || fake.requests().iter().filter(|r| r.path.ends_with("/endpointslices") && !r.is_watch()).count();
        eventually(Duration::from_secs(5), || {
            let watching = fake.requests().iter().any(|r| r.is_watch() && r.path.ends_with("/endpointslices"));
            if watching { Ok(()) } else { Err("no watch yet".to_owned()) }
        });
        let lists_before = lists();
        fake.expire(mode);
        eventually(Duration::from_secs(5), || {
            if lists() > lists_before { Ok(()) } else { Err(format!("{mode:?}: no relist; {:#?}", fake.requests())) }
        });
        // The watch works again after the relist, and no publish ever lost the old targets.
        let mut slice = fixtures::web_slice();
        slice["metadata"]["labels"]["after"] = json!("expiry");
        fake.apply(slice);
        sd.wait("change after relist", |g| {
            g.iter().any(|g| g.labels.contains_key("__meta_kubernetes_endpointslice_label_after"))
        });
        let history = sd.history.lock().unwrap().clone();
        assert!(history.iter().all(|n| *n == before), "{mode:?}: a publish dropped targets: {history:?}");
        let errors = sd.state.snapshot();
        assert!(errors.informers.iter().all(|i| i.synced), "{errors:#?}");
    }
}

#[test]
fn bookmarks_chunking_and_pages() {
    let fake = FakeKube::start();
    apply_all(&fake);
    // Events split across HTTP chunks at every 7 bytes.
    fake.set_chunk_size(7);
    let options = WatchOptions { page_size: 2, ..test_options() };
    let sd = start_sd(&fake, "role: endpointslice", options);
    assert_eq!(sd.synced().len(), 5);
    // 5 slices in pages of 2: three list requests, the later ones with a continue token.
    let requests = fake.requests();
    let slice_lists: Vec<_> =
        requests.iter().filter(|r| r.path.ends_with("/endpointslices") && !r.is_watch()).collect();
    assert_eq!(slice_lists.len(), 3, "{slice_lists:#?}");
    assert!(slice_lists[1..].iter().all(|r| r.query.contains_key("continue")));
    assert!(slice_lists.iter().all(|r| r.query.get("limit").map(String::as_str) == Some("2")));

    // Events still apply when split mid-line and coalesced.
    fake.apply(fixtures::web_pod("web-2", "10.1.0.12", true));
    let mut slice = fixtures::web_slice();
    slice["endpoints"][0]["targetRef"]["name"] = json!("web-2");
    fake.apply(slice);
    sd.wait("split event applied", |g| {
        g.iter()
            .any(|g| g.targets.iter().any(|t| t.get("__meta_kubernetes_pod_name").map(String::as_str) == Some("web-2")))
    });

    // A bookmark moves the resource version: the next watch starts from it.
    let bookmark = fake.bookmark().to_string();
    std::thread::sleep(Duration::from_millis(300));
    fake.close_watches();
    eventually(Duration::from_secs(5), || {
        let requests = fake.requests();
        let rewatch = requests.iter().any(|r| {
            r.is_watch()
                && r.path.ends_with("/endpointslices")
                && r.query.get("resourceVersion") == Some(&bookmark)
                && r.query.get("allowWatchBookmarks").map(String::as_str) == Some("true")
        });
        if rewatch { Ok(()) } else { Err(format!("no watch from bookmark {bookmark}: {requests:#?}")) }
    });
    let watch = fake.requests().into_iter().find(|r| r.is_watch()).unwrap();
    let timeout: u64 = watch.query["timeoutSeconds"].parse().unwrap();
    assert!((300..=600).contains(&timeout), "timeoutSeconds={timeout}");
}

#[test]
fn forbidden_shows_in_state_then_recovers() {
    let fake = FakeKube::start();
    apply_all(&fake);
    fake.set_forbidden("pods", true);
    let sd = start_sd(&fake, "role: endpoints\nnamespaces: {names: [default]}", test_options());
    let message = eventually(Duration::from_secs(5), || {
        let state = sd.state.snapshot();
        let pods = state.informers.iter().find(|i| i.resource == "pods");
        pods.and_then(|p| p.last_error.clone()).ok_or_else(|| format!("{state:#?}"))
    });
    assert!(
        message.contains("HTTP 403 Forbidden")
            && message.contains("cannot list resource \"pods\" in API group \"\" in the namespace \"default\""),
        "{message}"
    );
    // Nothing is published while one of the role's resources cannot sync.
    assert!(sd.groups.lock().unwrap().is_none());
    assert!(!sd.state.snapshot().synced);
    let mut metrics = String::new();
    sd.state.registry().write_metrics(&mut metrics);
    assert!(
        metrics.contains("promlite_sd_kubernetes_watch_errors_total{reason=\"forbidden\",role=\"pod\"}"),
        "{metrics}"
    );

    fake.set_forbidden("pods", false);
    let groups = sd.wait("synced after RBAC fix", |g| g.len() == 2);
    assert_eq!(group(&groups, "endpoints/default/web").targets.len(), 4);
    let state = sd.state.snapshot();
    assert!(state.synced && state.informers.iter().all(|i| i.last_error.is_none()), "{state:#?}");
    assert_eq!(state.targets, 5);
}

#[test]
fn rotated_token_is_used_for_the_next_watch() {
    let fake = FakeKube::start();
    apply_all(&fake);
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "first\n").unwrap();
    fake.set_tokens(Some(vec!["first"]));
    let sd = start_sd(
        &fake,
        &format!("role: service\nauthorization:\n  credentials_file: {}", token.display()),
        test_options(),
    );
    assert_eq!(sd.synced().len(), 4);

    std::fs::write(&token, "second\n").unwrap();
    fake.set_tokens(Some(vec!["second"]));
    fake.close_watches();
    eventually(Duration::from_secs(5), || {
        let requests = fake.requests();
        let rotated = requests.iter().any(|r| r.is_watch() && r.authorization.as_deref() == Some("Bearer second"));
        if rotated { Ok(()) } else { Err(format!("{requests:#?}")) }
    });
    fake.delete("Service", "db", "pg");
    sd.wait("change seen with the rotated token", |g| g.len() == 3);

    // A wrong token is a 401 whose Status shows up in the state.
    fake.set_tokens(Some(vec!["third"]));
    fake.close_watches();
    let error = eventually(Duration::from_secs(5), || {
        let state = sd.state.snapshot();
        state.informers.first().and_then(|i| i.last_error.clone()).ok_or_else(|| format!("{state:#?}"))
    });
    assert!(error.contains("HTTP 401 Unauthorized"), "{error}");
}

#[test]
fn tls_api_server_with_ca_file_or_kubeconfig() {
    use base64::Engine as _;
    let (fake, ca) = FakeKube::start_tls();
    apply_all(&fake);
    fake.set_tokens(Some(vec!["tls-token"]));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.crt"), &ca).unwrap();
    std::fs::write(dir.path().join("token"), "tls-token").unwrap();
    let sd = start_sd(
        &fake,
        &format!(
            "role: node\ntls_config:\n  ca_file: {0}/ca.crt\nauthorization:\n  credentials_file: {0}/token",
            dir.path().display()
        ),
        test_options(),
    );
    assert_eq!(sd.synced()[0].targets[0]["__address__"], "192.168.1.20:10250");

    // The same through a kubeconfig: CA data and a token file relative to the kubeconfig.
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: fake\nclusters:\n- name: fake\n  cluster:\n    server: {}\n    certificate-authority-data: {}\ncontexts:\n- name: fake\n  context: {{cluster: fake, user: sd}}\nusers:\n- name: sd\n  user: {{token-file: token}}\n",
            fake.url(),
            base64::engine::general_purpose::STANDARD.encode(&ca)
        ),
    )
    .unwrap();
    let sd = start_sd_entry(&format!("role: service\nkubeconfig_file: {}", kubeconfig.display()), test_options());
    assert_eq!(sd.synced().len(), 4);
    assert!(fake.requests().iter().all(|r| r.authorization.as_deref() == Some("Bearer tls-token")));

    // Without the CA the server is not trusted, and the state says so.
    let sd = start_sd(&fake, "role: node", test_options());
    let error = eventually(Duration::from_secs(5), || {
        let state = sd.state.snapshot();
        state.informers.first().and_then(|i| i.last_error.clone()).ok_or_else(|| format!("{state:#?}"))
    });
    assert!(error.contains("certificate"), "{error}");
}

#[test]
fn throttling_and_server_errors_are_retried() {
    let fake = FakeKube::start();
    apply_all(&fake);
    fake.fail_next("services", 429, Some(1));
    fake.fail_next("services", 503, None);
    let sd = start_sd(&fake, "role: service", test_options());
    assert_eq!(sd.synced().len(), 4);
    let lists: Vec<_> = fake.requests().into_iter().filter(|r| r.path == "/api/v1/services").collect();
    assert_eq!(lists.iter().filter(|r| !r.is_watch()).count(), 3, "{lists:#?}");
}

/// Service + EndpointSlice in the fake API → a real HTTP target scraped → `up` queryable.
#[test]
fn e2e_endpointslice_target_is_scraped() {
    let target = FakeTarget::start(|_| "k8s_discovered_metric 42\n".to_owned());
    let fake = FakeKube::start();
    fake.apply(json!({"kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "app", "namespace": "prod", "labels": {"team": "core"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.1.1", "ports": [{"name": "metrics", "port": 80, "protocol": "TCP"}]}}));
    fake.apply(json!({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"name": "app-1", "namespace": "prod", "labels": {"kubernetes.io/service-name": "app"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
        "ports": [{"name": "metrics", "port": target.addr.port(), "protocol": "TCP"}]}));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "scrape_configs:\n  - job_name: k8s\n    scrape_interval: 1s\n    kubernetes_sd_configs:\n      - role: endpointslice\n        api_server: {}\n    relabel_configs:\n      - source_labels: [__meta_kubernetes_service_label_team]\n        target_label: team\n      - source_labels: [__meta_kubernetes_namespace]\n        target_label: namespace\n",
            fake.url()
        ),
    )
    .unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", config.display())]);
    let query = format!("/api/v1/query?query={}", enc("up{job=\"k8s\",team=\"core\",namespace=\"prod\"}"));
    eventually(Duration::from_secs(15), || {
        let (_, body) = get_json(server.addr, &query);
        match body["data"]["result"][0]["value"][1].as_str() {
            Some("1") => Ok(()),
            _ => Err(body.to_string()),
        }
    });
    let (_, body) = get_json(server.addr, "/api/v1/query?query=k8s_discovered_metric");
    assert_eq!(body["data"]["result"][0]["value"][1], "42", "{body}");
    assert_eq!(body["data"]["result"][0]["metric"]["instance"], format!("127.0.0.1:{}", target.addr.port()));

    // Self-metrics: events per role, from the real binary's /metrics.
    let metrics = crate::util::http(server.addr, "GET", "/metrics", None).body;
    for line in [
        "prometheus_sd_kubernetes_events_total{event=\"add\",role=\"endpointslice\"} 1",
        "prometheus_sd_kubernetes_events_total{event=\"add\",role=\"service\"} 1",
        "prometheus_sd_discovered_targets{config=\"k8s\",name=\"scrape\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} not in\n{metrics}");
    }

    // Deleting the slice removes the target.
    fake.delete("EndpointSlice", "prod", "app-1");
    eventually(Duration::from_secs(10), || {
        let (_, body) = get_json(server.addr, "/api/v1/targets?state=active");
        let active = body["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
        if active.is_empty() { Ok(()) } else { Err(body.to_string()) }
    });
}

/// Prometheus's documentation/examples/prometheus-kubernetes.yml, pointed at the fake API
/// server (the changes: `api_server` under each `role:`, and the scrape-side service-account CA
/// and token paths moved to a temporary directory), yields the targets Prometheus would build for
/// the fixtures.
#[test]
fn upstream_example_config_yields_expected_targets() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/upstream/prometheus-v3.14.0/documentation/examples/prometheus-kubernetes.yml"
    );
    let Ok(example) = std::fs::read_to_string(path) else {
        eprintln!("skipping: {path} is absent");
        return;
    };
    let fake = FakeKube::start();
    apply_all(&fake);
    // The example's scrape-side credentials are the pod's service account: stand them in.
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    std::fs::write(dir.path().join("ca.crt"), ca_params.self_signed(&ca_key).unwrap().pem()).unwrap();
    std::fs::write(dir.path().join("token"), "scrape-token\n").unwrap();
    let service_account = format!("{}/", dir.path().display());
    let mut config = String::new();
    for line in example.lines() {
        config.push_str(&line.replace("/var/run/secrets/kubernetes.io/serviceaccount/", &service_account));
        config.push('\n');
        if let Some(indent) = line.find("- role: ") {
            config.push_str(&format!("{}api_server: {}\n", " ".repeat(indent + 2), fake.url()));
        }
    }
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, &config).unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", file.display())]);

    let want: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("kubernetes-apiservers", vec!["https://192.168.1.10:6443/metrics"]),
        ("kubernetes-nodes", vec!["https://192.168.1.20:10250/metrics"]),
        ("kubernetes-cadvisor", vec!["https://192.168.1.20:10250/metrics/cadvisor"]),
        (
            "kubernetes-service-endpoints",
            vec![
                "http://10.1.0.10:8080/metrics",
                "http://10.1.0.10:9091/metrics",
                "http://10.1.0.11:8080/metrics",
                "http://10.1.0.11:9091/metrics",
                "http://10.1.1.5:5432/metrics",
                "http://192.168.1.10:6443/metrics",
                "http://192.168.1.20:10250/metrics",
                "http://192.168.1.20:10255/metrics",
                "http://192.168.1.20:4194/metrics",
            ],
        ),
        (
            "kubernetes-services",
            vec![
                "http://blackbox-exporter.example.com:9115/probe?module=http_2xx&target=dual.default.svc%3A9000",
                "http://blackbox-exporter.example.com:9115/probe?module=http_2xx&target=kubernetes.default.svc%3A443",
                "http://blackbox-exporter.example.com:9115/probe?module=http_2xx&target=pg.db.svc%3A5432",
                "http://blackbox-exporter.example.com:9115/probe?module=http_2xx&target=web.default.svc%3A80",
            ],
        ),
        (
            "kubernetes-ingresses",
            vec![
                "http://blackbox-exporter.example.com:9115/probe?module=http_2xx&target=http%3A%2F%2Fadmin.internal%2F",
                "http://blackbox-exporter.example.com:9115/probe?module=http_2xx&target=https%3A%2F%2Fa.shop.example.com%2F",
                "http://blackbox-exporter.example.com:9115/probe?module=http_2xx&target=https%3A%2F%2Fweb.example.com%2F",
                "http://blackbox-exporter.example.com:9115/probe?module=http_2xx&target=https%3A%2F%2Fweb.example.com%2Fapi",
            ],
        ),
        (
            "kubernetes-pods",
            vec![
                "http://10.1.0.10:8080/metrics",
                "http://10.1.0.10:9091/metrics",
                "http://10.1.0.11:8080/metrics",
                "http://10.1.0.11:9091/metrics",
                "http://10.1.1.5:5432/metrics",
            ],
        ),
    ]);
    let targets = eventually(Duration::from_secs(20), || {
        let (_, body) = get_json(server.addr, "/api/v1/targets?state=active");
        let mut have: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for target in body["data"]["activeTargets"].as_array().cloned().unwrap_or_default() {
            let pool = target["scrapePool"].as_str().unwrap_or("").to_owned();
            have.entry(pool).or_default().push(target["scrapeUrl"].as_str().unwrap_or("").to_owned());
        }
        for urls in have.values_mut() {
            urls.sort();
        }
        let want: BTreeMap<String, Vec<String>> =
            want.iter().map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect())).collect();
        if have == want { Ok(body) } else { Err(format!("have {have:#?}\nwant {want:#?}")) }
    });
    // Spot-check relabeled labels as Prometheus computes them.
    let active = targets["data"]["activeTargets"].as_array().unwrap();
    let node = active.iter().find(|t| t["scrapePool"] == "kubernetes-nodes").unwrap();
    assert_eq!(node["labels"]["instance"], "node-1");
    assert_eq!(node["labels"]["kubernetes_io_os"], "linux");
    let web = active
        .iter()
        .find(|t| t["scrapePool"] == "kubernetes-service-endpoints" && t["labels"]["instance"] == "10.1.0.10:8080")
        .unwrap();
    assert_eq!(web["labels"]["service"], "web");
    assert_eq!(web["labels"]["namespace"], "default");
    assert_eq!(web["labels"]["app_kubernetes_io_name"], "web");
    let pod = active
        .iter()
        .find(|t| t["scrapePool"] == "kubernetes-pods" && t["labels"]["instance"] == "10.1.1.5:5432")
        .unwrap();
    assert_eq!(pod["labels"]["pod"], "pg-0");
    assert_eq!(pod["labels"]["app"], "pg");
    let probe =
        active.iter().find(|t| t["scrapePool"] == "kubernetes-services" && t["labels"]["service"] == "web").unwrap();
    assert_eq!(probe["labels"]["instance"], "web.default.svc:80");
}

/// The classic "0/0" pool: a selector that matches nothing in kube-system. The targets page says
/// which resource, namespace and selector came back empty.
#[test]
fn empty_pool_explains_its_selector() {
    let fake = FakeKube::start();
    apply_all(&fake);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "scrape_configs:\n  - job_name: kube-scheduler\n    kubernetes_sd_configs:\n      - role: endpoints\n        api_server: {}\n        namespaces: {{names: [kube-system]}}\n        selectors:\n          - role: endpoints\n            label: component=kube-scheduler\n",
            fake.url()
        ),
    )
    .unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", config.display())]);
    let page = eventually(Duration::from_secs(15), || {
        let page = crate::util::http(server.addr, "GET", "/targets", None).body;
        if page.contains("no endpoints in namespace kube-system") { Ok(page) } else { Err(page) }
    });
    assert!(page.contains("kube-scheduler (0/0 up)"), "{page}");
    assert!(
        page.contains("kubernetes_sd_configs[0] (role endpoints): no endpoints in namespace kube-system matching label selector &quot;component=kube-scheduler&quot;: check the namespace and the selectors"),
        "{page}"
    );
}
