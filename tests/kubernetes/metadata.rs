//! `attach_metadata` (node and namespace labels, the pod owner chain) and `namespaces` and
//! `selectors`, which narrow what is listed and watched.

use serde_json::json;

use super::{Labels, apply_all, group, meta, start_sd, test_options};
use crate::fake_kube::{FakeKube, fixtures};

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

/// A Job `report-1` made by the CronJob `report`, and its pod.
fn cronjob_objects() -> Vec<serde_json::Value> {
    let job = json!({"kind": "Job", "apiVersion": "batch/v1",
        "metadata": {"name": "report-1", "namespace": "default", "uid": "job-uid",
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "report",
                                          "uid": "cronjob-uid", "controller": true}]},
        "spec": {"completions": 1}});
    let pod = json!({"kind": "Pod", "apiVersion": "v1",
        "metadata": {"name": "report-1-x9z", "namespace": "default", "uid": "uid-report",
                     "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": "report-1",
                                          "uid": "job-uid", "controller": true}]},
        "spec": {"nodeName": "node-1", "containers": [{"name": "report", "image": "example/report:1",
                 "ports": [{"name": "metrics", "containerPort": 9100, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": "10.1.0.30", "hostIP": "192.168.1.20"}});
    vec![job, pod]
}

/// The owner-chain labels of `attach_metadata` (deployment, job, cronjob) on pod targets, and
/// ReplicaSets and Jobs listed and watched only when asked for.
#[test]
fn attach_deployment_job_and_cronjob_metadata() {
    let fake = FakeKube::start();
    apply_all(&fake);
    for object in cronjob_objects() {
        fake.apply(object);
    }
    let owner_labels = |groups: &[promlite::discovery::TargetGroup], source: &str| -> Labels {
        group(groups, source)
            .labels
            .iter()
            .filter(|(k, _)| {
                k.ends_with("_deployment_name") || k.ends_with("_job_name") || k.ends_with("_cronjob_name")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };

    let plain = start_sd(&fake, "role: pod\nnamespaces: {names: [default]}", test_options()).synced();
    assert_eq!(owner_labels(&plain, "pod/default/web-0"), Labels::new());
    assert_eq!(owner_labels(&plain, "pod/default/report-1-x9z"), Labels::new());
    let listed = |fake: &FakeKube| -> Vec<String> {
        fake.requests().into_iter().filter(|r| !r.is_watch()).map(|r| r.path).collect()
    };
    assert!(listed(&fake).iter().all(|p| !p.contains("replicasets") && !p.contains("jobs")), "{:#?}", listed(&fake));

    let config =
        "role: pod\nnamespaces: {names: [default]}\nattach_metadata: {deployment: true, job: true, cronjob: true}";
    let sd = start_sd(&fake, config, test_options());
    let groups = sd.synced();
    assert_eq!(owner_labels(&groups, "pod/default/web-0"), meta(&[("pod_deployment_name", "web")]));
    assert_eq!(
        owner_labels(&groups, "pod/default/report-1-x9z"),
        meta(&[("pod_job_name", "report-1"), ("pod_cronjob_name", "report")])
    );
    let paths = listed(&fake);
    for path in ["/apis/apps/v1/namespaces/default/replicasets", "/apis/batch/v1/namespaces/default/jobs"] {
        assert!(paths.iter().any(|p| p == path), "{path} not listed: {paths:#?}");
    }
    // A ReplicaSet handed to another Deployment: the pods' label follows.
    let mut replica_set = fixtures::web_replica_set();
    replica_set["metadata"]["ownerReferences"][0]["name"] = json!("web-v2");
    fake.apply(replica_set);
    sd.wait("deployment renamed", |groups| {
        owner_labels(groups, "pod/default/web-0") == meta(&[("pod_deployment_name", "web-v2")])
    });

    // `job` alone needs no Job object; `cronjob` alone gives only the CronJob.
    let job_only = start_sd(&fake, "role: pod\nattach_metadata: {job: true}", test_options()).synced();
    assert_eq!(owner_labels(&job_only, "pod/default/report-1-x9z"), meta(&[("pod_job_name", "report-1")]));
    let cron_only = start_sd(&fake, "role: pod\nattach_metadata: {cronjob: true}", test_options()).synced();
    assert_eq!(owner_labels(&cron_only, "pod/default/report-1-x9z"), meta(&[("pod_cronjob_name", "report")]));

    // The endpointslice role attaches the same pod labels (upstream's code; its docs say pod only).
    let slices = start_sd(&fake, "role: endpointslice\nattach_metadata: {deployment: true}", test_options()).synced();
    let web = group(&slices, "endpointslice/default/web-abc12");
    assert!(
        web.targets
            .iter()
            .all(|t| t.get("__meta_kubernetes_pod_deployment_name").map(String::as_str) == Some("web-v2"))
    );
}
