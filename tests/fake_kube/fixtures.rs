//! Realistic API objects for the fake API server, shaped like what a kind cluster returns.
//!
//! - `default/web`: a Service over two pods, `web-0` ready and `web-1` not ready, each with an
//!   `app` container serving port 8080 (`http`) and a `sidecar` container with port 9091 that no
//!   Service port covers; Endpoints and one EndpointSlice for it.
//! - `db/pg`: a headless StatefulSet Service with an unnamed port 5432 and hostname `pg-0`.
//! - `default/dual`: a dual-stack Service (IPv4 first) with an IPv4 and an IPv6 EndpointSlice,
//!   no pods behind.
//! - `default/kubernetes`: the API server's own Service, Endpoints and EndpointSlice.
//! - `kube-system`: kube-scheduler and kube-controller-manager leader-election Endpoints with no
//!   subsets and no labels, and the kubelet Endpoints (managed by prometheus-operator) whose
//!   addresses point at a Node.
//! - `default/web` Ingress: TLS by exact and wildcard host, a rule without paths.
//! - `node-1`: the node; the `default` namespace with a label and an annotation.
//! - `default/web-5d4f8`: the ReplicaSet of the `web` pods, controlled by the Deployment `web`.

use serde_json::{Value, json};

/// A pod of the `web` Deployment.
pub fn web_pod(name: &str, ip: &str, ready: bool) -> Value {
    json!({
        "kind": "Pod", "apiVersion": "v1",
        "metadata": {
            "name": name, "namespace": "default", "uid": format!("uid-{name}"),
            "labels": {"app": "web", "pod-template-hash": "5d4f8"},
            "annotations": {"prometheus.io/scrape": "true"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4f8",
                                 "uid": "rs-uid", "controller": true, "blockOwnerDeletion": true}],
            "creationTimestamp": "2026-11-01T10:00:00Z"
        },
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {"name": "app", "image": "example/web:1.2",
                 "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]},
                {"name": "sidecar", "image": "example/exporter:0.9",
                 "ports": [{"name": "metrics", "containerPort": 9091, "protocol": "TCP"}]}
            ]
        },
        "status": {
            "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "192.168.1.20",
            "conditions": [{"type": "Initialized", "status": "True"},
                           {"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "containerStatuses": [
                {"name": "app", "containerID": format!("containerd://{name}-app"), "ready": ready},
                {"name": "sidecar", "containerID": format!("containerd://{name}-sidecar"), "ready": true}
            ]
        }
    })
}

/// The `default/web` Service.
pub fn web_service() -> Value {
    json!({
        "kind": "Service", "apiVersion": "v1",
        "metadata": {"name": "web", "namespace": "default", "uid": "svc-web",
                     "labels": {"app": "web", "app.kubernetes.io/name": "web"},
                     "annotations": {"prometheus.io/scrape": "true"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
                 "selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    })
}

/// The `default/web` Endpoints: web-0 ready, web-1 not ready, port 8080.
pub fn web_endpoints() -> Value {
    json!({
        "kind": "Endpoints", "apiVersion": "v1",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "subsets": [{
            "addresses": [{"ip": "10.1.0.10", "nodeName": "node-1",
                           "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "default", "uid": "uid-web-0"}}],
            "notReadyAddresses": [{"ip": "10.1.0.11", "nodeName": "node-1",
                                   "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "uid-web-1"}}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }]
    })
}

/// The `default/web` EndpointSlice.
pub fn web_slice() -> Value {
    json!({
        "kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
        "metadata": {"name": "web-abc12", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": "web",
                                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"},
                     "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web", "controller": true}]},
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": ["10.1.0.10"], "conditions": {"ready": true, "serving": true, "terminating": false},
             "nodeName": "node-1", "zone": "z1",
             "targetRef": {"kind": "Pod", "name": "web-0", "namespace": "default", "uid": "uid-web-0"}},
            {"addresses": ["10.1.0.11"], "conditions": {"ready": false, "serving": false, "terminating": false},
             "nodeName": "node-1", "zone": "z1",
             "targetRef": {"kind": "Pod", "name": "web-1", "namespace": "default", "uid": "uid-web-1"}}
        ],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}]
    })
}

/// The headless `db/pg` StatefulSet: Service, pod, Endpoints and EndpointSlice.
pub fn headless() -> Vec<Value> {
    vec![
        json!({"kind": "Service", "apiVersion": "v1",
               "metadata": {"name": "pg", "namespace": "db", "labels": {"app": "pg"}},
               "spec": {"type": "ClusterIP", "clusterIP": "None", "selector": {"app": "pg"},
                        "ports": [{"port": 5432, "targetPort": 5432, "protocol": "TCP"}]}}),
        json!({"kind": "Pod", "apiVersion": "v1",
               "metadata": {"name": "pg-0", "namespace": "db", "uid": "uid-pg-0", "labels": {"app": "pg"},
                            "ownerReferences": [{"kind": "StatefulSet", "name": "pg", "controller": true}]},
               "spec": {"nodeName": "node-1", "hostname": "pg-0", "subdomain": "pg",
                        "containers": [{"name": "postgres", "image": "postgres:17",
                                        "ports": [{"containerPort": 5432, "protocol": "TCP"}]}]},
               "status": {"phase": "Running", "podIP": "10.1.1.5", "podIPs": [{"ip": "10.1.1.5"}],
                          "hostIP": "192.168.1.20", "conditions": [{"type": "Ready", "status": "True"}]}}),
        json!({"kind": "Endpoints", "apiVersion": "v1",
               "metadata": {"name": "pg", "namespace": "db", "labels": {"app": "pg", "service.kubernetes.io/headless": ""}},
               "subsets": [{"addresses": [{"ip": "10.1.1.5", "hostname": "pg-0", "nodeName": "node-1",
                                           "targetRef": {"kind": "Pod", "name": "pg-0", "namespace": "db"}}],
                            "ports": [{"port": 5432, "protocol": "TCP"}]}]}),
        json!({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
               "metadata": {"name": "pg-x7k2p", "namespace": "db",
                            "labels": {"kubernetes.io/service-name": "pg", "service.kubernetes.io/headless": ""}},
               "addressType": "IPv4",
               "endpoints": [{"addresses": ["10.1.1.5"], "hostname": "pg-0", "nodeName": "node-1",
                              "conditions": {"ready": true},
                              "targetRef": {"kind": "Pod", "name": "pg-0", "namespace": "db"}}],
               "ports": [{"name": "", "port": 5432, "protocol": "TCP"}]}),
    ]
}

/// The dual-stack `default/dual` Service and its two slices.
pub fn dual_stack() -> Vec<Value> {
    let slice = |name: &str, family: &str, address: &str| {
        json!({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
               "metadata": {"name": name, "namespace": "default", "labels": {"kubernetes.io/service-name": "dual"}},
               "addressType": family,
               "endpoints": [{"addresses": [address], "conditions": {"ready": true}}],
               "ports": [{"name": "metrics", "port": 9000, "protocol": "TCP"}]})
    };
    vec![
        json!({"kind": "Service", "apiVersion": "v1",
               "metadata": {"name": "dual", "namespace": "default"},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20", "fd00:96::20"],
                        "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack",
                        "ports": [{"name": "metrics", "port": 9000, "protocol": "TCP"}]}}),
        slice("dual-v4", "IPv4", "10.1.2.3"),
        slice("dual-v6", "IPv6", "fd00::3"),
    ]
}

/// `default/kubernetes`: Service, Endpoints and EndpointSlice of the API server.
pub fn kubernetes_service() -> Vec<Value> {
    vec![
        json!({"kind": "Service", "apiVersion": "v1",
               "metadata": {"name": "kubernetes", "namespace": "default",
                            "labels": {"component": "apiserver", "provider": "kubernetes"}},
               "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1",
                        "ports": [{"name": "https", "port": 443, "targetPort": 6443, "protocol": "TCP"}]}}),
        json!({"kind": "Endpoints", "apiVersion": "v1",
               "metadata": {"name": "kubernetes", "namespace": "default",
                            "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
               "subsets": [{"addresses": [{"ip": "192.168.1.10"}],
                            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]}),
        json!({"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
               "metadata": {"name": "kubernetes", "namespace": "default",
                            "labels": {"kubernetes.io/service-name": "kubernetes"}},
               "addressType": "IPv4",
               "endpoints": [{"addresses": ["192.168.1.10"], "conditions": {"ready": true}}],
               "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}),
    ]
}

/// kube-system: leader-election Endpoints (no subsets, no labels) and the kubelet Endpoints.
pub fn kube_system() -> Vec<Value> {
    let leader = |name: &str| {
        json!({"kind": "Endpoints", "apiVersion": "v1",
               "metadata": {"name": name, "namespace": "kube-system",
                            "annotations": {"control-plane.alpha.kubernetes.io/leader":
                                format!("{{\"holderIdentity\":\"node-1_{name}\"}}")}}})
    };
    vec![
        leader("kube-scheduler"),
        leader("kube-controller-manager"),
        json!({"kind": "Endpoints", "apiVersion": "v1",
               "metadata": {"name": "kubelet", "namespace": "kube-system",
                            "labels": {"app.kubernetes.io/managed-by": "prometheus-operator", "k8s-app": "kubelet"}},
               "subsets": [{"addresses": [{"ip": "192.168.1.20", "targetRef": {"kind": "Node", "name": "node-1"}}],
                            "ports": [{"name": "https-metrics", "port": 10250, "protocol": "TCP"},
                                      {"name": "http-metrics", "port": 10255, "protocol": "TCP"},
                                      {"name": "cadvisor", "port": 4194, "protocol": "TCP"}]}]}),
    ]
}

/// `node-1`.
pub fn node() -> Value {
    json!({"kind": "Node", "apiVersion": "v1",
           "metadata": {"name": "node-1", "uid": "node-uid",
                        "labels": {"kubernetes.io/hostname": "node-1", "kubernetes.io/os": "linux"},
                        "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
           "spec": {"providerID": "kind://docker/kind/node-1"},
           "status": {"addresses": [{"type": "Hostname", "address": "node-1"},
                                    {"type": "InternalIP", "address": "192.168.1.20"}],
                      "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}}})
}

/// The `default/web` Ingress: an exact TLS host with two paths, a wildcard TLS host with an
/// empty path, and a plain-HTTP host without an `http` section.
pub fn ingress() -> Value {
    json!({"kind": "Ingress", "apiVersion": "networking.k8s.io/v1",
           "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
           "spec": {"ingressClassName": "nginx",
                    "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"},
                            {"hosts": ["*.shop.example.com"], "secretName": "shop-tls"}],
                    "rules": [
                        {"host": "web.example.com", "http": {"paths": [
                            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                            {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}},
                        {"host": "a.shop.example.com", "http": {"paths": [
                            {"pathType": "ImplementationSpecific", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}},
                        {"host": "admin.internal"}]}})
}

/// The `default` namespace, with a label and an annotation.
pub fn default_namespace() -> Value {
    json!({"kind": "Namespace", "apiVersion": "v1",
           "metadata": {"name": "default", "labels": {"kubernetes.io/metadata.name": "default", "team": "platform"},
                        "annotations": {"scheduler.alpha.kubernetes.io/node-selector": "pool=web"}},
           "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})
}

/// The ReplicaSet `web-5d4f8` the `web` pods belong to, controlled by the Deployment `web`.
pub fn web_replica_set() -> Value {
    json!({"kind": "ReplicaSet", "apiVersion": "apps/v1",
           "metadata": {"name": "web-5d4f8", "namespace": "default", "uid": "rs-uid",
                        "labels": {"app": "web", "pod-template-hash": "5d4f8"},
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                             "uid": "deploy-uid", "controller": true, "blockOwnerDeletion": true}]},
           "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}},
           "status": {"replicas": 2, "readyReplicas": 1}})
}

/// Every fixture.
pub fn all() -> Vec<Value> {
    let mut out = vec![
        web_service(),
        web_pod("web-0", "10.1.0.10", true),
        web_pod("web-1", "10.1.0.11", false),
        web_endpoints(),
        web_slice(),
        node(),
        ingress(),
        default_namespace(),
        web_replica_set(),
    ];
    out.extend(headless());
    out.extend(dual_stack());
    out.extend(kubernetes_service());
    out.extend(kube_system());
    out
}
