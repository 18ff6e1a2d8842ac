//! Kubernetes discovery: the full rebuild of a role's target groups that follows every batch of
//! watch events (`promlite::discovery::kubernetes::Snapshot::groups`, the same builders `run` uses).
//! Objects are shaped like a Deployment-per-Service cluster: each Service has one EndpointSlice
//! (or Endpoints) of 10 ready pods, each pod with an app and a sidecar container port, so each
//! Service gives 20 targets (10 endpoint targets plus 10 uncovered sidecar ports).
//! Run: `cargo bench --bench kubernetes_sd`. Figures go to BENCHMARKS.md.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use promlite::config::{AttachMetadata, Role};
use promlite::discovery::kubernetes::Snapshot;
use serde_json::{Value, json};

const PODS_PER_SERVICE: usize = 10;

fn cluster(services: usize) -> Vec<Value> {
    let mut objects = Vec::new();
    for s in 0..services {
        let (service, namespace) = (format!("svc-{s}"), format!("ns-{}", s % 20));
        objects.push(json!({"kind": "Service", "metadata": {"name": service, "namespace": namespace,
            "labels": {"app": service, "app.kubernetes.io/part-of": "bench"},
            "annotations": {"prometheus.io/scrape": "true"}},
            "spec": {"type": "ClusterIP", "clusterIP": format!("10.96.{}.{}", s / 250, s % 250),
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}));
        let mut endpoints = Vec::new();
        let mut addresses = Vec::new();
        for p in 0..PODS_PER_SERVICE {
            let (pod, ip) = (format!("{service}-{p}"), format!("10.{}.{}.{}", 1 + s / 250, s % 250, p + 1));
            objects.push(json!({"kind": "Pod", "metadata": {"name": pod, "namespace": namespace, "uid": pod,
                "labels": {"app": service, "pod-template-hash": "5d4f8"},
                "ownerReferences": [{"kind": "ReplicaSet", "name": format!("{service}-5d4f8"), "controller": true}]},
                "spec": {"nodeName": format!("node-{}", p % 5), "containers": [
                    {"name": "app", "image": "example/app:1", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]},
                    {"name": "sidecar", "image": "example/exporter:1", "ports": [{"name": "metrics", "containerPort": 9091, "protocol": "TCP"}]}]},
                "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "192.168.1.20",
                           "conditions": [{"type": "Ready", "status": "True"}]}}));
            endpoints.push(json!({"addresses": [ip], "conditions": {"ready": true, "serving": true, "terminating": false},
                "nodeName": format!("node-{}", p % 5), "targetRef": {"kind": "Pod", "name": pod, "namespace": namespace}}));
            addresses.push(json!({"ip": ip, "nodeName": format!("node-{}", p % 5),
                "targetRef": {"kind": "Pod", "name": pod, "namespace": namespace}}));
        }
        objects.push(
            json!({"kind": "EndpointSlice", "metadata": {"name": format!("{service}-abcde"), "namespace": namespace,
            "labels": {"kubernetes.io/service-name": service}},
            "addressType": "IPv4", "endpoints": endpoints,
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}),
        );
        objects.push(json!({"kind": "Endpoints", "metadata": {"name": service, "namespace": namespace},
            "subsets": [{"addresses": addresses, "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}]}));
    }
    objects
}

fn rebuild(c: &mut Criterion) {
    let mut group = c.benchmark_group("kubernetes_rebuild");
    group.sample_size(20);
    let attach = AttachMetadata::default();
    for services in [100, 1_000] {
        let snapshot = Snapshot::from_objects(&cluster(services)).expect("valid objects");
        let targets = services * PODS_PER_SERVICE * 2;
        for role in [Role::EndpointSlice, Role::Endpoints, Role::Pod] {
            let built: usize = snapshot.groups(role, &attach).iter().map(|g| g.targets.len()).sum();
            assert_eq!(built, targets, "{role}: every pod gives two targets");
            group.throughput(Throughput::Elements(targets as u64));
            group.bench_with_input(BenchmarkId::new(role.as_str(), targets), &snapshot, |b, snapshot| {
                b.iter(|| snapshot.groups(role, &attach))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, rebuild);
criterion_main!(benches);
