//! The exact target label sets of every role (endpointslice, endpoints, pod, service, ingress,
//! node) for the fixtures, and the offline `Snapshot` building what a live discovery publishes.

use promlite::discovery::kubernetes;
use serde_json::json;

use super::{
    apply_all, assert_targets, container, group, labels, merge, meta, start_sd, test_options, web_pod_labels,
    web_service_labels,
};
use crate::fake_kube::{FakeKube, fixtures};

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

    // Dual stack (PreferDualStack, IPv4 first): the IPv6 slice would duplicate the IPv4 one's
    // targets, so its group keeps its labels and has none.
    for (source, family) in [("dual-v4", "IPv4"), ("dual-v6", "IPv6")] {
        let g = group(&groups, &format!("endpointslice/default/{source}"));
        assert_eq!(g.labels["__meta_kubernetes_endpointslice_address_type"], family);
        assert_eq!(g.labels["__meta_kubernetes_service_name"], "dual");
    }
    let mut want = labels(&[("__address__", "10.1.2.3:9000")]);
    want.extend(meta(&[
        ("endpointslice_port_name", "metrics"),
        ("endpointslice_port_protocol", "TCP"),
        ("endpointslice_port", "9000"),
        ("endpointslice_endpoint_conditions_ready", "true"),
    ]));
    assert_targets(group(&groups, "endpointslice/default/dual-v4"), vec![want]);
    assert_targets(group(&groups, "endpointslice/default/dual-v6"), vec![]);
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

/// `Snapshot` (offline, from objects) builds exactly what a live discovery publishes.
#[test]
fn snapshot_matches_live_discovery() {
    let fake = FakeKube::start();
    apply_all(&fake);
    let snapshot = kubernetes::Snapshot::from_objects(&fixtures::all()).unwrap();
    let attach =
        promlite::config::AttachMetadata { node: true, namespace: true, deployment: true, job: true, cronjob: true };
    for role in ["endpointslice", "endpoints", "pod", "service", "node", "ingress"] {
        let yaml = format!(
            "role: {role}\nattach_metadata: {{node: {0}, namespace: {0}, deployment: {0}, job: {0}, cronjob: {0}}}",
            role != "node"
        );
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
