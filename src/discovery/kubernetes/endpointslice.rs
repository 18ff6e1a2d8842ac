//! The `endpointslice` role (upstream `discovery/kubernetes/endpointslice.go`).
//!
//! One group per EndpointSlice (`endpointslice/<namespace>/<name>`), even an empty one
//! (`endpoints: null`). Per endpoint, per port, per address, one target; no filtering on
//! conditions (the `conditions_*` labels appear only when the API sets them); a port with no
//! number gives the bare address. Pod and container labels as in the endpoints role, plus one
//! target per uncovered container port of each seen pod.
//! The Service comes from the slice's `kubernetes.io/service-name` label. Of a dual-stack
//! Service (`ipFamilyPolicy` `PreferDualStack` or `RequireDualStack`), only the slices of its
//! primary family (the first of `ipFamilies`) yield targets: the others would duplicate them, so
//! their groups keep their labels and have no targets, as upstream's `nonPrimaryIPFamilySlice`
//! decides. Without the Service in the store, every slice yields targets (an IPv6 address is
//! bracketed in `__address__`).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::objects::{EndpointSlice, Pod, Service, SliceEndpoint, SlicePort};
use super::pod::{add_container_port_labels, pod_labels, uncovered_port_targets};
use super::service::service_labels;
use super::{Labels, META, Stores, add_namespace_labels, add_node_labels, add_object_meta, join_host_port, sanitize};
use crate::config::AttachMetadata;
use crate::discovery::TargetGroup;

/// A pod behind the slice, with the slice ports that already gave it a target.
type SeenPod = (Arc<Pod>, Vec<Option<i32>>);

const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Whether `slice` holds the secondary address family of its dual-stack `service`. The API lets
/// a Service gain or lose its second family but never change its first.
fn non_primary_family(service: &Service, slice: &EndpointSlice) -> bool {
    let dual_stack = matches!(service.spec.ip_family_policy.as_deref(), Some("PreferDualStack" | "RequireDualStack"));
    match service.spec.ip_families.first() {
        Some(primary) if dual_stack => *primary != slice.address_type,
        _ => false,
    }
}

/// The slice's target group.
pub(crate) fn build(slice: &EndpointSlice, stores: &Stores, attach: &AttachMetadata) -> TargetGroup {
    let meta = &slice.metadata;
    let mut labels = Labels::from([
        (format!("{META}namespace"), meta.namespace.clone()),
        (format!("{META}endpointslice_address_type"), slice.address_type.clone()),
    ]);
    add_object_meta(&mut labels, meta, "endpointslice");
    let service = meta.labels.get(SERVICE_NAME_LABEL).and_then(|name| stores.services.get(&meta.namespace, name));
    if let Some(service) = &service {
        labels.extend(service_labels(service));
    }
    add_namespace_labels(&mut labels, stores, attach, &meta.namespace);
    let mut group =
        TargetGroup { source: format!("endpointslice/{}/{}", meta.namespace, meta.name), targets: Vec::new(), labels };
    if service.is_some_and(|service| non_primary_family(&service, slice)) {
        return group;
    }

    let mut seen_pods: BTreeMap<(String, String), SeenPod> = BTreeMap::new();
    let mut add = |address: &str, endpoint: &SliceEndpoint, port: &SlicePort| {
        let host_port = match port.port {
            Some(number) => join_host_port(address, &number.to_string()),
            None => address.to_owned(),
        };
        let mut target = Labels::from([("__address__".to_owned(), host_port)]);
        let mut set = |name: &str, value: Option<String>| {
            if let Some(value) = value {
                target.insert(format!("{META}{name}"), value);
            }
        };
        set("endpointslice_port_name", port.name.clone());
        set("endpointslice_port_protocol", port.protocol.clone());
        set("endpointslice_port", port.port.map(|p| p.to_string()));
        set("endpointslice_port_app_protocol", port.app_protocol.clone());
        set("endpointslice_endpoint_conditions_ready", endpoint.conditions.ready.map(|b| b.to_string()));
        set("endpointslice_endpoint_conditions_serving", endpoint.conditions.serving.map(|b| b.to_string()));
        set("endpointslice_endpoint_conditions_terminating", endpoint.conditions.terminating.map(|b| b.to_string()));
        set("endpointslice_endpoint_hostname", endpoint.hostname.clone());
        set("endpointslice_address_target_kind", endpoint.target_ref.as_ref().map(|r| r.kind.clone()));
        set("endpointslice_address_target_name", endpoint.target_ref.as_ref().map(|r| r.name.clone()));
        set("endpointslice_endpoint_node_name", endpoint.node_name.clone());
        set("endpointslice_endpoint_zone", endpoint.zone.clone());
        for (key, value) in &endpoint.deprecated_topology {
            let name = sanitize(key);
            target.insert(format!("{META}endpointslice_endpoint_topology_{name}"), value.clone());
            target.insert(format!("{META}endpointslice_endpoint_topology_present_{name}"), "true".to_owned());
        }
        if attach.node {
            match (&endpoint.target_ref, &endpoint.node_name) {
                (Some(r), _) if r.kind == "Node" => add_node_labels(&mut target, stores, &r.name),
                (_, Some(node_name)) => add_node_labels(&mut target, stores, node_name),
                _ => {}
            }
        }
        let pod = endpoint
            .target_ref
            .as_ref()
            .filter(|r| r.kind == "Pod")
            .and_then(|r| stores.pods.get(&r.namespace, &r.name));
        let Some(pod) = pod else {
            group.targets.push(target);
            return;
        };
        target.extend(pod_labels(&pod, stores, attach));
        if let Some(number) = port.port {
            add_container_port_labels(&mut target, &pod, number, |container_port| container_port.protocol.clone());
        }
        let key = (pod.metadata.namespace.clone(), pod.metadata.name.clone());
        seen_pods.entry(key).or_insert_with(|| (pod.clone(), Vec::new())).1.push(port.port);
        group.targets.push(target);
    };
    for endpoint in &slice.endpoints {
        for port in &slice.ports {
            for address in &endpoint.addresses {
                add(address, endpoint, port);
            }
        }
    }

    for (pod, covered) in seen_pods.values() {
        group.targets.extend(uncovered_port_targets(pod, stores, attach, |port| covered.contains(&Some(port))));
    }
    group
}
