//! The `pod` role (upstream `discovery/kubernetes/pod.go`), and the pod labels the endpoints and
//! endpointslice roles attach to targets backed by a pod.
//!
//! One group per pod (`pod/<namespace>/<name>`), empty while the pod has no IP, and empty with
//! `attach_metadata.node` while its node is not among the watched nodes (a node selector filtered
//! it out); one target per declared container port, or one target per container without ports
//! addressed by the bare pod IP, as upstream writes it (init containers included, flagged by
//! `__meta_kubernetes_pod_container_init`).
//! The owner chain of `attach_metadata`: a pod's controlling ReplicaSet's controlling Deployment
//! (`pod_deployment_name`), its controlling Job (`pod_job_name`) and that Job's controlling
//! CronJob (`pod_cronjob_name`); a ReplicaSet or Job not (yet) in its store adds nothing.

use super::objects::{Container, ContainerPort, ContainerStatus, Pod};
use super::{Labels, META, Stores, add_namespace_labels, add_node_labels, add_object_meta, join_host_port};
use crate::config::AttachMetadata;
use crate::discovery::TargetGroup;

/// The pod's containers, app containers first, each with whether it is an init container.
fn containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    let app = pod.spec.containers.iter().map(|c| (c, false));
    app.chain(pod.spec.init_containers.iter().map(|c| (c, true)))
}

/// Adds the labels of the pod's container that declares `port` to an endpoint's target, with
/// `protocol` as its port protocol (the endpoints role takes the endpoint port's, the
/// endpointslice role the container port's). Where several containers declare the port, the
/// last (init containers after app containers) wins, as upstream's loop overwrites.
pub(crate) fn add_container_port_labels(
    target: &mut Labels,
    pod: &Pod,
    port: i32,
    protocol: impl Fn(&ContainerPort) -> String,
) {
    for (container, is_init) in containers(pod) {
        if let Some(container_port) = container.ports.iter().find(|p| p.container_port == port) {
            target.insert(format!("{META}pod_container_name"), container.name.clone());
            target.insert(format!("{META}pod_container_image"), container.image.clone());
            target.insert(format!("{META}pod_container_port_name"), container_port.name.clone());
            target.insert(format!("{META}pod_container_port_number"), port.to_string());
            target.insert(format!("{META}pod_container_port_protocol"), protocol(container_port));
            target.insert(format!("{META}pod_container_init"), is_init.to_string());
        }
    }
}

/// One target per container port of a pod seen behind an endpoint that no endpoint port
/// covered (`covered` says which were), carrying the pod's and the container's labels.
pub(crate) fn uncovered_port_targets(
    pod: &Pod,
    stores: &Stores,
    attach: &AttachMetadata,
    covered: impl Fn(i32) -> bool,
) -> Vec<Labels> {
    if pod.status.pod_ip.is_empty() {
        // Starting or evicted: nothing to address.
        return Vec::new();
    }
    let mut targets = Vec::new();
    for (container, is_init) in containers(pod) {
        for container_port in container.ports.iter().filter(|p| !covered(p.container_port)) {
            let number = container_port.container_port.to_string();
            let mut target = Labels::from([
                ("__address__".to_owned(), join_host_port(&pod.status.pod_ip, &number)),
                (format!("{META}pod_container_name"), container.name.clone()),
                (format!("{META}pod_container_image"), container.image.clone()),
                (format!("{META}pod_container_port_name"), container_port.name.clone()),
                (format!("{META}pod_container_port_number"), number),
                (format!("{META}pod_container_port_protocol"), container_port.protocol.clone()),
                (format!("{META}pod_container_init"), is_init.to_string()),
            ]);
            target.extend(pod_labels(pod, stores, attach));
            targets.push(target);
        }
    }
    targets
}

/// The labels describing a pod, shared by every target it backs.
pub(crate) fn pod_labels(pod: &Pod, stores: &Stores, attach: &AttachMetadata) -> Labels {
    let mut labels = Labels::new();
    let ready = pod
        .status
        .conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".to_owned());
    for (name, value) in [
        ("pod_ip", pod.status.pod_ip.clone()),
        ("pod_ready", ready),
        ("pod_phase", pod.status.phase.clone()),
        ("pod_node_name", pod.spec.node_name.clone()),
        ("pod_host_ip", pod.status.host_ip.clone()),
        ("pod_uid", pod.metadata.uid.clone()),
    ] {
        labels.insert(format!("{META}{name}"), value);
    }
    add_object_meta(&mut labels, &pod.metadata, "pod");
    let Some(owner) = pod.metadata.controller() else { return labels };
    if !owner.kind.is_empty() {
        labels.insert(format!("{META}pod_controller_kind"), owner.kind.clone());
    }
    if !owner.name.is_empty() {
        labels.insert(format!("{META}pod_controller_name"), owner.name.clone());
    }
    let namespace = &pod.metadata.namespace;
    match owner.kind.as_str() {
        "ReplicaSet" if attach.deployment => {
            let replica_set = stores.replica_sets.get(namespace, &owner.name);
            if let Some(deployment) = replica_set.as_ref().and_then(|rs| rs.metadata.controller())
                && deployment.kind == "Deployment"
            {
                labels.insert(format!("{META}pod_deployment_name"), deployment.name.clone());
            }
        }
        "Job" => {
            // The Job's name needs no lookup; its CronJob needs the Job.
            if attach.job {
                labels.insert(format!("{META}pod_job_name"), owner.name.clone());
            }
            if attach.cronjob {
                let job = stores.jobs.get(namespace, &owner.name);
                if let Some(cronjob) = job.as_ref().and_then(|job| job.metadata.controller())
                    && cronjob.kind == "CronJob"
                {
                    labels.insert(format!("{META}pod_cronjob_name"), cronjob.name.clone());
                }
            }
        }
        _ => {}
    }
    labels
}

fn container_id(statuses: &[ContainerStatus], name: &str) -> String {
    statuses.iter().find(|s| s.name == name).map(|s| s.container_id.clone()).unwrap_or_default()
}

/// The pod's target group.
pub(crate) fn build(pod: &Pod, stores: &Stores, attach: &AttachMetadata) -> TargetGroup {
    let source = format!("pod/{}/{}", pod.metadata.namespace, pod.metadata.name);
    let mut group = TargetGroup { source, targets: Vec::new(), labels: Labels::new() };
    if pod.status.pod_ip.is_empty() {
        return group;
    }
    // Upstream: a node selector keeps the pod's node out of the store, and so the pod's targets.
    if attach.node && stores.nodes.get("", &pod.spec.node_name).is_none() {
        return group;
    }
    group.labels = pod_labels(pod, stores, attach);
    group.labels.insert(format!("{META}namespace"), pod.metadata.namespace.clone());
    if attach.node {
        add_node_labels(&mut group.labels, stores, &pod.spec.node_name);
    }
    add_namespace_labels(&mut group.labels, stores, attach, &pod.metadata.namespace);
    let app = pod.spec.containers.iter().map(|c| (c, false));
    let init = pod.spec.init_containers.iter().map(|c| (c, true));
    for (container, is_init) in app.chain(init) {
        let statuses = if is_init { &pod.status.init_container_statuses } else { &pod.status.container_statuses };
        let mut common = Labels::from([
            (format!("{META}pod_container_name"), container.name.clone()),
            (format!("{META}pod_container_id"), container_id(statuses, &container.name)),
            (format!("{META}pod_container_image"), container.image.clone()),
            (format!("{META}pod_container_init"), is_init.to_string()),
        ]);
        if container.ports.is_empty() {
            // No port: the pod IP as is, an IPv6 one unbracketed too (upstream's pod.go); a
            // relabeling adds the port.
            common.insert("__address__".to_owned(), pod.status.pod_ip.clone());
            group.targets.push(common);
            continue;
        }
        for port in &container.ports {
            let mut target = common.clone();
            let number = port.container_port.to_string();
            target.insert("__address__".to_owned(), join_host_port(&pod.status.pod_ip, &number));
            target.insert(format!("{META}pod_container_port_number"), number);
            target.insert(format!("{META}pod_container_port_name"), port.name.clone());
            target.insert(format!("{META}pod_container_port_protocol"), port.protocol.clone());
            group.targets.push(target);
        }
    }
    group
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns"},
            "spec": {
                "containers": [{"name": "app", "image": "app:1", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]}],
                "initContainers": [{"name": "proxy", "image": "proxy:1", "ports": [
                    {"name": "proxied", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "admin", "containerPort": 15000, "protocol": "TCP"}
                ]}]
            },
            "status": {"podIP": "10.0.0.1"}
        }))
        .unwrap()
    }

    #[test]
    fn the_last_container_declaring_an_endpoint_port_labels_its_target_as_upstream() {
        let mut target = Labels::new();
        add_container_port_labels(&mut target, &pod(), 8080, |_| "UDP".to_owned());
        let get = |name: &str| target.get(&format!("{META}{name}")).cloned().unwrap_or_default();
        // Upstream's loop over containers then init containers overwrites on every match.
        assert_eq!(get("pod_container_name"), "proxy");
        assert_eq!(get("pod_container_port_name"), "proxied");
        assert_eq!(get("pod_container_init"), "true");
        assert_eq!(get("pod_container_port_protocol"), "UDP", "the caller picks whose protocol");
    }

    #[test]
    fn ports_no_endpoint_covered_become_targets_of_their_own() {
        let (stores, attach) = (Stores::default(), AttachMetadata::default());
        let targets = uncovered_port_targets(&pod(), &stores, &attach, |port| port == 8080);
        let addresses: Vec<_> = targets.iter().map(|t| t["__address__"].as_str()).collect();
        assert_eq!(addresses, ["10.0.0.1:15000"]);
        assert_eq!(targets[0][&format!("{META}pod_container_init")], "true");
        let mut starting = pod();
        starting.status.pod_ip.clear();
        assert!(uncovered_port_targets(&starting, &stores, &attach, |_| false).is_empty());
    }
}
