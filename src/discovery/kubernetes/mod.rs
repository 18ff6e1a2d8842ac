//! `kubernetes_sd_configs` (upstream `discovery/kubernetes/`): targets from the Kubernetes API.
//!
//! [`run`] drives one SD config: it resolves the API server ([`client`]), starts one
//! [`watch::Reflector`] per resource the role needs and per namespace (endpoints: Endpoints,
//! Services, Pods; endpointslice: EndpointSlices, Services, Pods; pod: Pods; service: Services;
//! node: Nodes; ingress: Ingresses; plus Nodes with `attach_metadata.node`, Namespaces with
//! `attach_metadata.namespace`, and for the roles with pods ReplicaSets with
//! `attach_metadata.deployment` and Jobs with `attach_metadata.job` or `.cronjob`), waits until
//! every one of them has
//! listed, then publishes the role's target groups and republishes after each batch of events.
//! Groups are rebuilt from the stores as a whole (an O(targets) pass per batch, batches gathered
//! for [`WatchOptions::debounce`], at most one rebuild per [`WatchOptions::min_rebuild_interval`]):
//! simple, and a relist can never leave a stale group behind.
//! The labels are Prometheus 3's `__meta_kubernetes_*`, built in one module per role.
//! [`state`] keeps what a person needs to understand an empty pool. [`Snapshot`] runs the same
//! builders over a fixed set of objects.
//!
//! Invariant: nothing is published before every resource of the role has synced, so a pool
//! never sees a partial picture (an endpoint without its Service's labels) at start-up.

mod client;
mod endpoints;
mod endpointslice;
mod ingress;
mod node;
pub mod objects;
mod pod;
mod service;
pub mod state;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::mpsc;

pub use self::client::ClientError;
use self::objects::{
    EndpointSlice, Endpoints, Ingress, Job, KubeObject, Namespace, ObjectMeta, Pod, ReplicaSet, Service,
};
pub use self::state::{InformerStatus, SdRegistry, SdState, SdStatus};
use self::watch::{Kind, Notice, Reflector, Store};
pub use self::watch::{WatchError, WatchOptions};
use super::TargetGroup;
use crate::config::{AttachMetadata, KubernetesSdConfig, NamespaceDiscovery, Role};

type Labels = BTreeMap<String, String>;

/// The prefix of every label this discovery sets.
const META: &str = "__meta_kubernetes_";

/// Go's `strutil.SanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`.
pub(crate) fn sanitize(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect()
}

/// Go's `net.JoinHostPort`: IPv6 hosts in brackets.
pub(crate) fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") }
}

/// `<role>_name`, `<role>_label_*`, `<role>_labelpresent_*`, `<role>_annotation_*` and
/// `<role>_annotationpresent_*` for an object's metadata.
pub(crate) fn add_object_meta(labels: &mut Labels, meta: &ObjectMeta, role: &str) {
    labels.insert(format!("{META}{role}_name"), meta.name.clone());
    for (key, value) in &meta.labels {
        let name = sanitize(key);
        labels.insert(format!("{META}{role}_label_{name}"), value.clone());
        labels.insert(format!("{META}{role}_labelpresent_{name}"), "true".to_owned());
    }
    for (key, value) in &meta.annotations {
        let name = sanitize(key);
        labels.insert(format!("{META}{role}_annotation_{name}"), value.clone());
        labels.insert(format!("{META}{role}_annotationpresent_{name}"), "true".to_owned());
    }
}

/// With `attach_metadata.node`: the named node's name, labels and annotations, if we hold it.
pub(crate) fn add_node_labels(labels: &mut Labels, stores: &Stores, node_name: &str) {
    if let Some(node) = stores.nodes.get("", node_name) {
        add_object_meta(labels, &node.metadata, "node");
    }
}

/// With `attach_metadata.namespace`: the namespace's labels and annotations
/// (`namespace_label_*`, `namespace_labelpresent_*`, `namespace_annotation_*`,
/// `namespace_annotationpresent_*`), if we hold it. Its name is already `__meta_kubernetes_namespace`.
pub(crate) fn add_namespace_labels(labels: &mut Labels, stores: &Stores, attach: &AttachMetadata, namespace: &str) {
    if !attach.namespace {
        return;
    }
    let Some(object) = stores.namespaces.get("", namespace) else { return };
    for (key, value) in &object.metadata.labels {
        let name = sanitize(key);
        labels.insert(format!("{META}namespace_label_{name}"), value.clone());
        labels.insert(format!("{META}namespace_labelpresent_{name}"), "true".to_owned());
    }
    for (key, value) in &object.metadata.annotations {
        let name = sanitize(key);
        labels.insert(format!("{META}namespace_annotation_{name}"), value.clone());
        labels.insert(format!("{META}namespace_annotationpresent_{name}"), "true".to_owned());
    }
}

/// Every store a role may read.
#[derive(Default)]
pub(crate) struct Stores {
    pods: Arc<Store<Pod>>,
    services: Arc<Store<Service>>,
    endpoints: Arc<Store<Endpoints>>,
    endpoint_slices: Arc<Store<EndpointSlice>>,
    nodes: Arc<Store<objects::Node>>,
    ingresses: Arc<Store<Ingress>>,
    namespaces: Arc<Store<Namespace>>,
    replica_sets: Arc<Store<ReplicaSet>>,
    jobs: Arc<Store<Job>>,
}

/// A fixed set of API objects, and the target groups each role builds from them exactly as a
/// synced discovery does after every batch of watch events: for offline checks of a config
/// against saved objects, and for benchmarking that rebuild (`benches/kubernetes_sd.rs`).
pub struct Snapshot {
    stores: Stores,
}

/// An object given to [`Snapshot::from_objects`] is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Its `kind` is not one discovery reads.
    #[error("object {index}: kind {kind:?} is not one Kubernetes discovery reads")]
    UnknownKind {
        /// Position in the input.
        index: usize,
        /// The kind found.
        kind: String,
    },
    /// It does not decode as its kind.
    #[error("object {index}: {reason}")]
    Decode {
        /// Position in the input.
        index: usize,
        /// The decoder's complaint.
        reason: String,
    },
}

impl Snapshot {
    /// Holds `objects`, each as the API serves it with its `kind` (`Pod`, `EndpointSlice`, ...).
    pub fn from_objects(objects: &[serde_json::Value]) -> Result<Snapshot, SnapshotError> {
        fn insert<T: KubeObject>(
            store: &Store<T>,
            index: usize,
            object: &serde_json::Value,
        ) -> Result<(), SnapshotError> {
            let item =
                T::deserialize(object).map_err(|err| SnapshotError::Decode { index, reason: err.to_string() })?;
            store.insert(item);
            Ok(())
        }
        let stores = Stores::default();
        for (index, object) in objects.iter().enumerate() {
            match object["kind"].as_str().unwrap_or_default() {
                "Pod" => insert(&stores.pods, index, object)?,
                "Service" => insert(&stores.services, index, object)?,
                "Endpoints" => insert(&stores.endpoints, index, object)?,
                "EndpointSlice" => insert(&stores.endpoint_slices, index, object)?,
                "Node" => insert(&stores.nodes, index, object)?,
                "Ingress" => insert(&stores.ingresses, index, object)?,
                "Namespace" => insert(&stores.namespaces, index, object)?,
                "ReplicaSet" => insert(&stores.replica_sets, index, object)?,
                "Job" => insert(&stores.jobs, index, object)?,
                kind => return Err(SnapshotError::UnknownKind { index, kind: kind.to_owned() }),
            }
        }
        Ok(Snapshot { stores })
    }

    /// The target groups `role` builds from these objects, ordered by source.
    pub fn groups(&self, role: Role, attach: &AttachMetadata) -> Vec<TargetGroup> {
        build(role, &self.stores, attach)
    }
}

/// The namespaces to list and watch (upstream's `getNamespaces`): the named ones plus the pod's
/// own with `own_namespace`; `""` (all) when that leaves none.
fn watched_namespaces(config: &NamespaceDiscovery, own: Option<String>) -> BTreeSet<String> {
    let mut namespaces: BTreeSet<String> = config.names.iter().cloned().collect();
    namespaces.extend(own);
    if namespaces.is_empty() {
        namespaces.insert(String::new());
    }
    namespaces
}

/// The resources `role` watches.
fn kinds(role: Role, attach: &AttachMetadata) -> Vec<Kind> {
    let mut kinds = match role {
        Role::Endpoints => vec![Kind::Endpoints, Kind::Service, Kind::Pod],
        Role::EndpointSlice => vec![Kind::EndpointSlice, Kind::Service, Kind::Pod],
        Role::Pod => vec![Kind::Pod],
        Role::Service => vec![Kind::Service],
        Role::Node => vec![Kind::Node],
        Role::Ingress => vec![Kind::Ingress],
    };
    let with_pods = matches!(role, Role::Endpoints | Role::EndpointSlice | Role::Pod);
    if attach.node && with_pods {
        kinds.push(Kind::Node);
    }
    // Upstream's docs name only the pod role, but its endpoints and endpointslice roles attach
    // the same pod labels and start the same informers.
    if attach.deployment && with_pods {
        kinds.push(Kind::ReplicaSet);
    }
    if (attach.job || attach.cronjob) && with_pods {
        kinds.push(Kind::Job);
    }
    if attach.namespace && role != Role::Node {
        kinds.push(Kind::Namespace);
    }
    kinds
}

/// The target groups of `role` from the stores, ordered by source.
fn build(role: Role, stores: &Stores, attach: &AttachMetadata) -> Vec<TargetGroup> {
    match role {
        Role::Endpoints => stores.endpoints.all().iter().map(|e| endpoints::build(e, stores, attach)).collect(),
        Role::EndpointSlice => {
            stores.endpoint_slices.all().iter().map(|s| endpointslice::build(s, stores, attach)).collect()
        }
        Role::Pod => stores.pods.all().iter().map(|p| pod::build(p, stores, attach)).collect(),
        Role::Service => stores.services.all().iter().map(|s| service::build(s, stores, attach)).collect(),
        Role::Node => stores.nodes.all().iter().filter_map(|n| node::build(n)).collect(),
        Role::Ingress => stores.ingresses.all().iter().map(|i| ingress::build(i, stores, attach)).collect(),
    }
}

/// What every reflector of one SD config shares.
struct Spawner<'a> {
    tasks: tokio::task::JoinSet<()>,
    client: &'a client::ApiClient,
    config: &'a KubernetesSdConfig,
    state: &'a Arc<SdState>,
    notify: mpsc::UnboundedSender<Notice>,
    options: &'a WatchOptions,
    next_id: usize,
}

impl Spawner<'_> {
    fn spawn<T: KubeObject>(&mut self, kind: Kind, namespace: &str, store: &Arc<Store<T>>) {
        let selector = self.config.selectors.iter().find(|s| Some(s.role) == kind.selector_role());
        let label_selector = selector.map(|s| s.label.clone()).unwrap_or_default();
        let field_selector = selector.map(|s| s.field.clone()).unwrap_or_default();
        self.state.add_informer(kind.resource(), namespace, &label_selector, &field_selector);
        let reflector = Reflector {
            id: self.next_id,
            client: self.client.clone(),
            kind,
            namespace: namespace.to_owned(),
            label_selector,
            field_selector,
            store: Arc::clone(store),
            state: Arc::clone(self.state),
            notify: self.notify.clone(),
            options: self.options.clone(),
        };
        self.next_id += 1;
        self.tasks.spawn(reflector.run());
    }
}

/// Runs one Kubernetes SD config until the future is dropped (which stops every watch), calling
/// `publish` with the complete list of its target groups whenever it changes. A configuration
/// that cannot work (no API server reachable by config, bad kubeconfig) is logged and recorded
/// in `state`, and nothing is published.
pub async fn run(
    config: KubernetesSdConfig,
    options: WatchOptions,
    state: Arc<SdState>,
    publish: impl Fn(Vec<TargetGroup>) + Send,
) {
    let fail = |error: String| {
        tracing::error!(role = %config.role, error = %error, "kubernetes discovery cannot start");
        state.set_config_error(error);
    };
    let attach = config.attach_metadata.clone();
    let kinds = kinds(config.role, &attach);
    let client = match client::ApiClient::new(&config) {
        Ok(client) => client,
        Err(error) => return fail(error.to_string()),
    };
    state.set_api_server(client.base.as_str());
    let own = match config.namespaces.own_namespace.then(client::own_namespace).transpose() {
        Ok(own) => own,
        Err(error) => return fail(error.to_string()),
    };
    let namespaces = watched_namespaces(&config.namespaces, own);

    let stores = Stores::default();
    let (notify, mut notices) = mpsc::unbounded_channel();
    let mut spawner = Spawner {
        tasks: tokio::task::JoinSet::new(),
        client: &client,
        config: &config,
        state: &state,
        notify,
        options: &options,
        next_id: 0,
    };
    for kind in kinds {
        let scoped: Vec<&str> = if matches!(kind, Kind::Node | Kind::Namespace) {
            vec![""]
        } else {
            namespaces.iter().map(String::as_str).collect()
        };
        for namespace in scoped {
            match kind {
                Kind::Pod => spawner.spawn(kind, namespace, &stores.pods),
                Kind::Service => spawner.spawn(kind, namespace, &stores.services),
                Kind::Endpoints => spawner.spawn(kind, namespace, &stores.endpoints),
                Kind::EndpointSlice => spawner.spawn(kind, namespace, &stores.endpoint_slices),
                Kind::Node => spawner.spawn(kind, namespace, &stores.nodes),
                Kind::Ingress => spawner.spawn(kind, namespace, &stores.ingresses),
                Kind::Namespace => spawner.spawn(kind, namespace, &stores.namespaces),
                Kind::ReplicaSet => spawner.spawn(kind, namespace, &stores.replica_sets),
                Kind::Job => spawner.spawn(kind, namespace, &stores.jobs),
            }
        }
    }
    // Dropping the JoinSet (when this future is dropped) aborts every reflector.
    let Spawner { tasks: _tasks, next_id: reflectors, .. } = spawner;

    let mut synced = BTreeSet::new();
    while synced.len() < reflectors {
        match notices.recv().await {
            Some(Notice::Synced(reflector)) => {
                synced.insert(reflector);
            }
            Some(Notice::Changed) => {}
            None => return,
        }
    }
    let mut last: Option<Vec<TargetGroup>> = None;
    loop {
        let built_at = tokio::time::Instant::now();
        let groups = build(config.role, &stores, &attach);
        if last.as_ref() != Some(&groups) {
            let targets = groups.iter().map(|g| g.targets.len()).sum();
            if targets == 0 && last.is_none() {
                tracing::info!(role = %config.role, groups = groups.len(), "kubernetes discovery synced but found no targets");
            }
            state.published(groups.len(), targets);
            publish(groups.clone());
            last = Some(groups);
        }
        if notices.recv().await.is_none() {
            return;
        }
        // Gather the rest of the batch; under constant churn, rebuild at most once per
        // `min_rebuild_interval` (a rebuild is O(targets): see BENCHMARKS.md).
        let wait = options.debounce.max(options.min_rebuild_interval.saturating_sub(built_at.elapsed()));
        tokio::time::sleep(wait).await;
        while notices.try_recv().is_ok() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_and_join() {
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(sanitize("ünï"), "_n_");
        assert_eq!(join_host_port("10.0.0.1", "80"), "10.0.0.1:80");
        assert_eq!(join_host_port("fd00::1", "80"), "[fd00::1]:80");
    }

    /// Upstream's `TestServiceDiscoveryOwnNamespace` and its pod, endpoints, endpointslice and
    /// ingress twins run with the pod's namespace `own-ns`; the end-to-end ports of those cases
    /// (`tests/kubernetes/upstream_cases.rs`) name it, since a test cannot be a pod.
    #[test]
    fn own_namespace_joins_the_named_ones_and_all_is_the_default() {
        let names = |list: &[&str], own_namespace: bool| NamespaceDiscovery {
            own_namespace,
            names: list.iter().map(|n| (*n).to_owned()).collect(),
        };
        let set = |list: &[&str]| list.iter().map(|n| (*n).to_owned()).collect::<BTreeSet<_>>();
        assert_eq!(watched_namespaces(&names(&[], true), Some("own-ns".into())), set(&["own-ns"]));
        assert_eq!(watched_namespaces(&names(&["ns1"], true), Some("own-ns".into())), set(&["ns1", "own-ns"]));
        assert_eq!(watched_namespaces(&names(&["ns1", "ns2"], false), None), set(&["ns1", "ns2"]));
        assert_eq!(watched_namespaces(&names(&[], false), None), set(&[""]));
    }
}
