//! The few Kubernetes API objects discovery reads, as minimal serde structs.
//!
//! Only the fields Prometheus's labels need are declared; everything else is ignored, so newer
//! API servers with extra fields decode fine. Every collection accepts `null` as empty, because
//! the API server writes `"endpoints": null` for an empty EndpointSlice and BOOKMARK objects carry
//! nulls, and omits `subsets` entirely for an Endpoints object with no addresses.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

/// `null` or missing decodes as the type's default.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// `metadata` of any object.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    /// The object's name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Its namespace; empty for cluster-scoped objects (nodes).
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
    /// Its UID.
    #[serde(deserialize_with = "nullable")]
    pub uid: String,
    /// The version of this object, which is also the collection's version after this event.
    #[serde(deserialize_with = "nullable")]
    pub resource_version: String,
    /// Labels.
    #[serde(deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
    /// Owners; the one with `controller: true` names the pod's controller.
    #[serde(deserialize_with = "nullable")]
    pub owner_references: Vec<OwnerReference>,
}

impl ObjectMeta {
    /// The owner with `controller: true`, as apimachinery's `GetControllerOf` finds it.
    pub fn controller(&self) -> Option<&OwnerReference> {
        self.owner_references.iter().find(|o| o.controller == Some(true))
    }
}

/// One entry of `metadata.ownerReferences`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct OwnerReference {
    /// The owner's kind (`ReplicaSet`, `StatefulSet`, ...).
    #[serde(deserialize_with = "nullable")]
    pub kind: String,
    /// The owner's name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Whether this owner is the managing controller.
    pub controller: Option<bool>,
}

/// A reference from an endpoint address to the object behind it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ObjectReference {
    /// `Pod`, `Node`, ...
    #[serde(deserialize_with = "nullable")]
    pub kind: String,
    /// The object's name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// The object's namespace.
    #[serde(deserialize_with = "nullable")]
    pub namespace: String,
}

/// A core/v1 Pod.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Pod {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: PodSpec,
    /// Status.
    pub status: PodStatus,
}

/// The parts of a pod's spec discovery reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    /// The node the pod is scheduled on.
    #[serde(deserialize_with = "nullable")]
    pub node_name: String,
    /// App containers.
    #[serde(deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    /// Init containers (sidecars included).
    #[serde(deserialize_with = "nullable")]
    pub init_containers: Vec<Container>,
}

/// A container of a pod.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Container {
    /// Its name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Its image.
    #[serde(deserialize_with = "nullable")]
    pub image: String,
    /// Declared ports.
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<ContainerPort>,
}

/// A declared container port.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerPort {
    /// The port's name, maybe empty.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// The port number.
    pub container_port: i32,
    /// `TCP`, `UDP` or `SCTP`.
    #[serde(deserialize_with = "nullable")]
    pub protocol: String,
}

/// The parts of a pod's status discovery reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PodStatus {
    /// `Pending`, `Running`, ...
    #[serde(deserialize_with = "nullable")]
    pub phase: String,
    /// The primary pod IP; empty while starting or after eviction.
    #[serde(rename = "podIP", deserialize_with = "nullable")]
    pub pod_ip: String,
    /// All pod IPs (dual-stack).
    #[serde(rename = "podIPs", deserialize_with = "nullable")]
    pub pod_ips: Vec<PodIp>,
    /// The node's IP.
    #[serde(rename = "hostIP", deserialize_with = "nullable")]
    pub host_ip: String,
    /// Conditions, `Ready` among them.
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
    /// App container statuses (container IDs).
    #[serde(deserialize_with = "nullable")]
    pub container_statuses: Vec<ContainerStatus>,
    /// Init container statuses.
    #[serde(deserialize_with = "nullable")]
    pub init_container_statuses: Vec<ContainerStatus>,
}

/// One of `status.podIPs`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct PodIp {
    /// The address.
    #[serde(deserialize_with = "nullable")]
    pub ip: String,
}

/// A status condition.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Condition {
    /// `Ready`, ...
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    #[serde(deserialize_with = "nullable")]
    pub status: String,
}

/// A container's status.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStatus {
    /// The container's name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// `containerd://…`, empty until started.
    #[serde(rename = "containerID", deserialize_with = "nullable")]
    pub container_id: String,
}

/// A core/v1 Service.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Service {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: ServiceSpec,
}

/// The parts of a service's spec discovery reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSpec {
    /// Ports.
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<ServicePort>,
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub kind: String,
    /// The cluster IP (`None` for headless services).
    #[serde(rename = "clusterIP", deserialize_with = "nullable")]
    pub cluster_ip: String,
    /// The DNS name of an `ExternalName` service.
    #[serde(deserialize_with = "nullable")]
    pub external_name: String,
    /// The requested load balancer IP (deprecated field, still read by Prometheus).
    #[serde(rename = "loadBalancerIP", deserialize_with = "nullable")]
    pub load_balancer_ip: String,
    /// `SingleStack`, `PreferDualStack` or `RequireDualStack`; absent on old servers.
    pub ip_family_policy: Option<String>,
    /// `IPv4` and/or `IPv6`, the primary family first (the API never changes the first).
    #[serde(deserialize_with = "nullable")]
    pub ip_families: Vec<String>,
}

/// A service port.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ServicePort {
    /// Name, maybe empty.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Protocol.
    #[serde(deserialize_with = "nullable")]
    pub protocol: String,
    /// The service port number.
    pub port: i32,
}

/// A core/v1 Endpoints object.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Endpoints {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Subsets; absent when the service has no addresses.
    #[serde(deserialize_with = "nullable")]
    pub subsets: Vec<EndpointSubset>,
}

/// One subset of an Endpoints object.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointSubset {
    /// Ready addresses.
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<EndpointAddress>,
    /// Addresses not ready yet.
    #[serde(deserialize_with = "nullable")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// Ports served by every address of the subset.
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<EndpointPort>,
}

/// An address of an Endpoints subset.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointAddress {
    /// The IP.
    #[serde(deserialize_with = "nullable")]
    pub ip: String,
    /// Hostname (headless services).
    #[serde(deserialize_with = "nullable")]
    pub hostname: String,
    /// The node hosting the address.
    pub node_name: Option<String>,
    /// The object behind the address.
    pub target_ref: Option<ObjectReference>,
}

/// A port of an Endpoints subset.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointPort {
    /// Name, maybe empty.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Port number.
    pub port: i32,
    /// Protocol.
    #[serde(deserialize_with = "nullable")]
    pub protocol: String,
}

/// A discovery.k8s.io/v1 EndpointSlice.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointSlice {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// `IPv4`, `IPv6` or `FQDN`.
    #[serde(deserialize_with = "nullable")]
    pub address_type: String,
    /// Endpoints; `null` when the slice is empty.
    #[serde(deserialize_with = "nullable")]
    pub endpoints: Vec<SliceEndpoint>,
    /// Ports; each field is optional on the wire.
    #[serde(deserialize_with = "nullable")]
    pub ports: Vec<SlicePort>,
}

/// One endpoint of a slice.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SliceEndpoint {
    /// Addresses (usually one).
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<String>,
    /// Conditions, each possibly absent.
    pub conditions: SliceConditions,
    /// Hostname.
    pub hostname: Option<String>,
    /// The object behind the endpoint.
    pub target_ref: Option<ObjectReference>,
    /// The node hosting it.
    pub node_name: Option<String>,
    /// Its zone.
    pub zone: Option<String>,
    /// The deprecated topology map.
    #[serde(deserialize_with = "nullable")]
    pub deprecated_topology: BTreeMap<String, String>,
}

/// The conditions of a slice endpoint.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SliceConditions {
    /// Ready.
    pub ready: Option<bool>,
    /// Serving.
    pub serving: Option<bool>,
    /// Terminating.
    pub terminating: Option<bool>,
}

/// A port of a slice; a nil port number means "all ports".
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SlicePort {
    /// Name.
    pub name: Option<String>,
    /// Protocol.
    pub protocol: Option<String>,
    /// Port number.
    pub port: Option<i32>,
    /// Application protocol.
    pub app_protocol: Option<String>,
}

/// A core/v1 Node.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Node {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: NodeSpec,
    /// Status.
    pub status: NodeStatus,
}

/// The parts of a node's spec discovery reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeSpec {
    /// The cloud provider's ID.
    #[serde(rename = "providerID", deserialize_with = "nullable")]
    pub provider_id: String,
}

/// The parts of a node's status discovery reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeStatus {
    /// Addresses by type.
    #[serde(deserialize_with = "nullable")]
    pub addresses: Vec<NodeAddress>,
    /// Conditions (`Ready`, `MemoryPressure`, ...).
    #[serde(deserialize_with = "nullable")]
    pub conditions: Vec<Condition>,
    /// Where the kubelet listens.
    pub daemon_endpoints: DaemonEndpoints,
}

/// A node address.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeAddress {
    /// `InternalIP`, `ExternalIP`, `Hostname`, ...
    #[serde(rename = "type", deserialize_with = "nullable")]
    pub kind: String,
    /// The address.
    #[serde(deserialize_with = "nullable")]
    pub address: String,
}

/// `status.daemonEndpoints`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct DaemonEndpoints {
    /// The kubelet's endpoint.
    pub kubelet_endpoint: DaemonEndpoint,
}

/// A daemon endpoint; the API spells its one field `Port`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct DaemonEndpoint {
    /// The port.
    #[serde(rename = "Port")]
    pub port: i32,
}

/// A networking.k8s.io/v1 Ingress.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Ingress {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: IngressSpec,
}

/// The parts of an ingress's spec discovery reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct IngressSpec {
    /// The ingress class.
    pub ingress_class_name: Option<String>,
    /// Host rules.
    #[serde(deserialize_with = "nullable")]
    pub rules: Vec<IngressRule>,
    /// TLS hosts (patterns like `*.example.com`).
    #[serde(deserialize_with = "nullable")]
    pub tls: Vec<IngressTls>,
}

/// One host rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct IngressRule {
    /// The host, maybe empty.
    #[serde(deserialize_with = "nullable")]
    pub host: String,
    /// HTTP paths; absent means every path.
    pub http: Option<HttpIngressRule>,
}

/// The HTTP paths of a rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HttpIngressRule {
    /// The paths.
    #[serde(deserialize_with = "nullable")]
    pub paths: Vec<HttpIngressPath>,
}

/// One path of a rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct HttpIngressPath {
    /// The path, maybe empty.
    #[serde(deserialize_with = "nullable")]
    pub path: String,
}

/// One TLS entry of an ingress.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct IngressTls {
    /// Hosts served over TLS.
    #[serde(deserialize_with = "nullable")]
    pub hosts: Vec<String>,
}

/// A core/v1 Namespace.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Namespace {
    /// Metadata: its labels and annotations are what `attach_metadata.namespace` attaches.
    pub metadata: ObjectMeta,
}

/// An apps/v1 ReplicaSet: only its metadata, whose controller names the Deployment
/// (`attach_metadata.deployment`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ReplicaSet {
    /// Metadata.
    pub metadata: ObjectMeta,
}

/// A batch/v1 Job: only its metadata, whose controller names the CronJob
/// (`attach_metadata.cronjob`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Job {
    /// Metadata.
    pub metadata: ObjectMeta,
}

/// A `Status` object: the body of API errors and of in-stream `ERROR` events.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Status {
    /// `Failure` or `Success`.
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    /// A message for people (names the verb, resource and namespace for a 403).
    #[serde(deserialize_with = "nullable")]
    pub message: String,
    /// A machine reason (`Expired`, `Gone`, `Forbidden`, ...).
    #[serde(deserialize_with = "nullable")]
    pub reason: String,
    /// The HTTP code.
    pub code: u16,
}

/// `metadata` of a list.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListMeta {
    /// The collection's version, to watch from.
    #[serde(deserialize_with = "nullable")]
    pub resource_version: String,
    /// The token for the next page; empty on the last page.
    #[serde(rename = "continue", deserialize_with = "nullable")]
    pub continue_token: String,
}

/// A list response; its items carry no `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct List<T> {
    /// List metadata.
    #[serde(default)]
    pub metadata: ListMeta,
    /// The items.
    #[serde(default = "Vec::new", deserialize_with = "nullable")]
    pub items: Vec<T>,
}

/// A watch event line: `{"type": "ADDED", "object": {...}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct WatchEvent {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The object, or a `Status` for `ERROR`.
    pub object: serde_json::Value,
}

/// What every watched object exposes.
pub trait KubeObject: for<'de> Deserialize<'de> + Send + Sync + 'static {
    /// The object's metadata.
    fn metadata(&self) -> &ObjectMeta;
}

macro_rules! kube_object {
    ($($ty:ty),*) => {$(
        impl KubeObject for $ty {
            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }
        }
    )*};
}
kube_object!(Pod, Service, Endpoints, EndpointSlice, Node, Ingress, Namespace, ReplicaSet, Job);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quirks_decode() {
        let slice: EndpointSlice = serde_json::from_str(
            r#"{"metadata":{"name":"a","namespace":"b","creationTimestamp":null,"labels":null},"addressType":"IPv4","endpoints":null,"ports":null}"#,
        )
        .unwrap();
        assert!(slice.endpoints.is_empty() && slice.ports.is_empty() && slice.metadata.labels.is_empty());
        let endpoints: Endpoints =
            serde_json::from_str(r#"{"metadata":{"name":"kube-scheduler","namespace":"kube-system"}}"#).unwrap();
        assert!(endpoints.subsets.is_empty());
        assert_eq!(endpoints.metadata.name, "kube-scheduler");
        let node: Node = serde_json::from_str(
            r#"{"metadata":{"name":"n"},"status":{"daemonEndpoints":{"kubeletEndpoint":{"Port":10250}}}}"#,
        )
        .unwrap();
        assert_eq!(node.status.daemon_endpoints.kubelet_endpoint.port, 10250);
        let list: List<Pod> =
            serde_json::from_str(r#"{"metadata":{"resourceVersion":"7","continue":"x"},"items":null}"#).unwrap();
        assert_eq!((list.metadata.resource_version.as_str(), list.metadata.continue_token.as_str()), ("7", "x"));
    }
}
