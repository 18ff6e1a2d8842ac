//! `attach_metadata` (node and namespace labels on targets) and `namespaces`/`selectors`, which
//! narrow what is listed and watched.

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
