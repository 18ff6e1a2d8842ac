//! The `pod` role (upstream `discovery/kubernetes/pod.go`), and the pod labels the endpoints and
//! endpointslice roles attach to targets backed by a pod.
//!
//! One group per pod (`pod/<namespace>/<name>`), empty while the pod has no IP; one target per
//! declared container port, or one bare-IP target per container without ports (init containers
//! included, flagged by `__meta_kubernetes_pod_container_init`).

use std::net::IpAddr;

use super::objects::{ContainerStatus, Pod};
use super::{Labels, META, Stores, add_namespace_labels, add_node_labels, add_object_meta, join_host_port};
use crate::config::AttachMetadata;
use crate::discovery::TargetGroup;

/// The labels describing a pod, shared by every target it backs.
pub(crate) fn pod_labels(pod: &Pod) -> Labels {
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
    // The first address of each family, like the primary pod IP; an IPv4-mapped IPv6 counts as IPv4.
    for pod_ip in &pod.status.pod_ips {
        let family = match pod_ip.ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => "pod_ipv4",
            Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_some() => "pod_ipv4",
            Ok(IpAddr::V6(_)) => "pod_ipv6",
            Err(_) => continue,
        };
        labels.entry(format!("{META}{family}")).or_insert_with(|| pod_ip.ip.clone());
    }
    add_object_meta(&mut labels, &pod.metadata, "pod");
    if let Some(owner) = pod.metadata.owner_references.iter().find(|o| o.controller == Some(true)) {
        if !owner.kind.is_empty() {
            labels.insert(format!("{META}pod_controller_kind"), owner.kind.clone());
        }
        if !owner.name.is_empty() {
            labels.insert(format!("{META}pod_controller_name"), owner.name.clone());
        }
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
    group.labels = pod_labels(pod);
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
            // No port: the bare IP, bracketed for IPv6 (RFC 3986 allows no trailing ':').
            let address = match pod.status.pod_ip.parse::<IpAddr>() {
                Ok(IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => format!("[{v6}]"),
                _ => pod.status.pod_ip.clone(),
            };
            common.insert("__address__".to_owned(), address);
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
