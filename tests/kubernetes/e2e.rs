//! Kubernetes discovery through the real binary: a discovered target is scraped and queryable,
//! Prometheus's example Kubernetes config yields the targets Prometheus would build, and an empty
//! pool explains which selector matched nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use super::apply_all;
use crate::fake_kube::FakeKube;
use crate::util::{FakeTarget, enc, eventually, get_json, start};

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
        promlite_testkit::missing(&format!("{path} (../shared/upstream)"));
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
