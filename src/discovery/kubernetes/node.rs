//! The `node` role (upstream `discovery/kubernetes/node.go`): one target per node, the kubelet.
//!
//! The address is the node's first address by Prometheus's priority (InternalIP, InternalDNS,
//! ExternalIP, ExternalDNS, LegacyHostIP, Hostname) with the kubelet port; `instance` is the
//! node name. Each status condition becomes `node_condition_<type>` (type and status in lower
//! case). A node with no address yields no group (upstream logs and skips it).

use super::objects::Node;
use super::{Labels, META, add_object_meta, join_host_port, sanitize};
use crate::discovery::TargetGroup;

const ADDRESS_PRIORITY: [&str; 6] =
    ["InternalIP", "InternalDNS", "ExternalIP", "ExternalDNS", "LegacyHostIP", "Hostname"];

/// The node's target group, or `None` when it has no usable address.
pub(crate) fn build(node: &Node) -> Option<TargetGroup> {
    let addresses = &node.status.addresses;
    let Some(address) =
        ADDRESS_PRIORITY.iter().find_map(|kind| addresses.iter().find(|a| a.kind == *kind).map(|a| a.address.clone()))
    else {
        tracing::warn!(node = %node.metadata.name, "kubernetes discovery: no node address found");
        return None;
    };
    let mut labels = Labels::from([(format!("{META}node_provider_id"), node.spec.provider_id.clone())]);
    for condition in &node.status.conditions {
        let name = sanitize(&condition.kind.to_lowercase());
        labels.insert(format!("{META}node_condition_{name}"), condition.status.to_lowercase());
    }
    add_object_meta(&mut labels, &node.metadata, "node");
    let port = node.status.daemon_endpoints.kubelet_endpoint.port.to_string();
    let mut target = Labels::from([
        ("__address__".to_owned(), join_host_port(&address, &port)),
        ("instance".to_owned(), node.metadata.name.clone()),
    ]);
    for a in addresses {
        target.entry(format!("{META}node_address_{}", sanitize(&a.kind))).or_insert_with(|| a.address.clone());
    }
    Some(TargetGroup { source: format!("node/{}", node.metadata.name), targets: vec![target], labels })
}
