//! The `endpoints` role (upstream `discovery/kubernetes/endpoints.go`).
//!
//! One group per Endpoints object (`endpoints/<namespace>/<name>`), even one without subsets
//! (then with no targets). Per subset, per port: the ready `addresses`, then `notReadyAddresses`
//! with `endpoint_ready="false"`. An address whose `targetRef` is a Pod we hold gets the pod's
//! labels and, when a container (init containers included) declares the endpoint's port, that
//! container's labels; then every container port of such a pod that no endpoint port covered
//! becomes one more target carrying only pod and container labels. The group carries the Service's namespace, name, labels and
//! annotations (found by the same name) and the Endpoints object's own.

use std::collections::BTreeMap;

use super::objects::{EndpointAddress, EndpointPort, Endpoints, Pod};
use super::pod::{add_container_port_labels, pod_labels, uncovered_port_targets};
use super::service::service_labels;
use super::{Labels, META, Stores, add_namespace_labels, add_node_labels, add_object_meta, join_host_port};
use crate::config::AttachMetadata;
use crate::discovery::TargetGroup;

/// A pod behind an address, with the endpoint ports that already gave it a target.
type SeenPod = (std::sync::Arc<Pod>, Vec<i32>);

/// The Endpoints object's target group.
pub(crate) fn build(endpoints: &Endpoints, stores: &Stores, attach: &AttachMetadata) -> TargetGroup {
    let meta = &endpoints.metadata;
    let mut labels = Labels::from([(format!("{META}namespace"), meta.namespace.clone())]);
    if let Some(service) = stores.services.get(&meta.namespace, &meta.name) {
        labels.extend(service_labels(&service));
    }
    add_object_meta(&mut labels, meta, "endpoints");
    add_namespace_labels(&mut labels, stores, attach, &meta.namespace);
    let mut group =
        TargetGroup { source: format!("endpoints/{}/{}", meta.namespace, meta.name), targets: Vec::new(), labels };

    // Pods seen behind addresses, with the endpoint ports that already gave them a target.
    let mut seen_pods: BTreeMap<(String, String), SeenPod> = BTreeMap::new();
    let mut add = |address: &EndpointAddress, port: &EndpointPort, ready: &str| {
        let mut target = Labels::from([
            ("__address__".to_owned(), join_host_port(&address.ip, &port.port.to_string())),
            (format!("{META}endpoint_port_name"), port.name.clone()),
            (format!("{META}endpoint_port_protocol"), port.protocol.clone()),
            (format!("{META}endpoint_ready"), ready.to_owned()),
        ]);
        if let Some(target_ref) = &address.target_ref {
            target.insert(format!("{META}endpoint_address_target_kind"), target_ref.kind.clone());
            target.insert(format!("{META}endpoint_address_target_name"), target_ref.name.clone());
        }
        if let Some(node_name) = &address.node_name {
            target.insert(format!("{META}endpoint_node_name"), node_name.clone());
        }
        if !address.hostname.is_empty() {
            target.insert(format!("{META}endpoint_hostname"), address.hostname.clone());
        }
        if attach.node {
            match (&address.node_name, &address.target_ref) {
                (Some(node_name), _) => add_node_labels(&mut target, stores, node_name),
                (None, Some(r)) if r.kind == "Node" => add_node_labels(&mut target, stores, &r.name),
                _ => {}
            }
        }
        let pod = address
            .target_ref
            .as_ref()
            .filter(|r| r.kind == "Pod")
            .and_then(|r| stores.pods.get(&r.namespace, &r.name));
        let Some(pod) = pod else {
            group.targets.push(target);
            return;
        };
        target.extend(pod_labels(&pod, stores, attach));
        add_container_port_labels(&mut target, &pod, port.port, |_| port.protocol.clone());
        let key = (pod.metadata.namespace.clone(), pod.metadata.name.clone());
        seen_pods.entry(key).or_insert_with(|| (pod.clone(), Vec::new())).1.push(port.port);
        group.targets.push(target);
    };
    for subset in &endpoints.subsets {
        for port in &subset.ports {
            for address in &subset.addresses {
                add(address, port, "true");
            }
            for address in &subset.not_ready_addresses {
                add(address, port, "false");
            }
        }
    }

    for (pod, covered) in seen_pods.values() {
        group.targets.extend(uncovered_port_targets(pod, stores, attach, |port| covered.contains(&port)));
    }
    group
}
