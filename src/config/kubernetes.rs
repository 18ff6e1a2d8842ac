//! `kubernetes_sd_configs` (upstream `discovery/kubernetes/kubernetes.go` `SDConfig`).
//!
//! [`KubernetesSdConfig`] is validated like Prometheus's `SDConfig.UnmarshalYAML`: a role is
//! required, `api_server`, `kubeconfig_file` and `namespaces.own_namespace` exclude each other,
//! a custom HTTP client needs an explicit `api_server`, and selectors must suit the role and
//! parse as Kubernetes label and field selectors. Discovery itself lives in `src/discovery/`.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::http_config::{Http2Default, HttpClientConfig, join_dir, raw_with_http_client};
use super::secret::Url;

/// The kind of Kubernetes object a discovery watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Pods: one target per declared container port.
    Pod,
    /// Services: one target per service port.
    Service,
    /// Endpoints objects.
    Endpoints,
    /// EndpointSlices.
    #[serde(rename = "endpointslice")]
    EndpointSlice,
    /// Nodes: the kubelet address.
    Node,
    /// Ingresses: one target per rule path.
    Ingress,
}

impl Role {
    /// The name used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Pod => "pod",
            Role::Service => "service",
            Role::Endpoints => "endpoints",
            Role::EndpointSlice => "endpointslice",
            Role::Node => "node",
            Role::Ingress => "ingress",
        }
    }

    /// Selector roles this discovery role accepts.
    fn allowed_selectors(self) -> &'static [Role] {
        match self {
            Role::Pod => &[Role::Pod, Role::Node],
            Role::Service => &[Role::Service],
            Role::Endpoints => &[Role::Pod, Role::Service, Role::Endpoints],
            Role::EndpointSlice => &[Role::Pod, Role::Service, Role::EndpointSlice],
            Role::Node => &[Role::Node],
            Role::Ingress => &[Role::Ingress],
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let role = match text.as_str() {
            "pod" => Role::Pod,
            "service" => Role::Service,
            "endpoints" => Role::Endpoints,
            "endpointslice" => Role::EndpointSlice,
            "node" => Role::Node,
            "ingress" => Role::Ingress,
            _ => return Err(serde::de::Error::custom(format!("unknown Kubernetes SD role {text:?}"))),
        };
        Ok(role)
    }
}

/// Which namespaces to watch; all when both fields are empty.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamespaceDiscovery {
    /// Also watch the namespace promlite runs in.
    #[serde(default)]
    pub own_namespace: bool,
    /// Namespaces to watch.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
}

/// A label and field selector applied to the watch of one role.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// The object kind selected.
    pub role: Role,
    /// A Kubernetes label selector (`app=foo,tier!=db`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// A Kubernetes field selector (`metadata.name=foo`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

/// Extra metadata attached to targets.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttachMetadata {
    /// Attach the node's labels (pod, endpoints, endpointslice roles).
    #[serde(default)]
    pub node: bool,
    /// Attach the namespace's labels.
    #[serde(default)]
    pub namespace: bool,
    /// `__meta_kubernetes_pod_deployment_name` from the pod's ReplicaSet's controller (watches
    /// ReplicaSets; pod, endpoints and endpointslice roles, as upstream's code does).
    #[serde(default)]
    pub deployment: bool,
    /// `__meta_kubernetes_pod_job_name`, the pod's controlling Job (watches Jobs, as upstream).
    #[serde(default)]
    pub job: bool,
    /// `__meta_kubernetes_pod_cronjob_name` from the pod's Job's controller (watches Jobs).
    #[serde(default)]
    pub cronjob: bool,
}

/// One Kubernetes discovery.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KubernetesSdConfig {
    /// The API server; `None` means in-cluster (or `kubeconfig_file`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<Url>,
    /// The objects watched.
    pub role: Role,
    /// A kubeconfig file, resolved against the config file's directory.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub kubeconfig_file: String,
    /// How to talk to the API server.
    #[serde(flatten)]
    pub http_client_config: HttpClientConfig,
    /// Namespaces watched.
    pub namespaces: NamespaceDiscovery,
    /// Server-side selectors per role.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<Selector>,
    /// Extra metadata.
    pub attach_metadata: AttachMetadata,
}

impl KubernetesSdConfig {
    pub(crate) fn set_directory(&mut self, dir: &Path) {
        join_dir(dir, &mut self.kubeconfig_file);
        self.http_client_config.set_directory(dir);
    }
}

raw_with_http_client! {
    /// A `kubernetes_sd_configs` entry as written.
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RawKubernetesSdConfigInner {
        #[serde(default)]
        api_server: Option<String>,
        #[serde(default)]
        role: Option<Role>,
        #[serde(default)]
        kubeconfig_file: Option<String>,
        #[serde(default)]
        namespaces: Option<NamespaceDiscovery>,
        #[serde(default)]
        selectors: Option<Vec<Selector>>,
        #[serde(default)]
        attach_metadata: Option<AttachMetadata>,
    }
}

/// A `kubernetes_sd_configs` entry as written, before validation.
#[derive(Deserialize)]
#[serde(transparent)]
pub(crate) struct RawKubernetesSdConfig(RawKubernetesSdConfigInner);

impl RawKubernetesSdConfig {
    /// Validates like upstream's `SDConfig.UnmarshalYAML`, returning its first complaint.
    pub(crate) fn resolve(self) -> Result<KubernetesSdConfig, String> {
        let mut raw = self.0;
        let role = raw.role.ok_or("role missing (one of: pod, service, endpoints, endpointslice, node, ingress)")?;
        let http_client_config = raw.take_http_client().resolve(Http2Default::Enabled)?;
        let api_server = raw.api_server.filter(|s| !s.is_empty()).map(Url::new);
        if let Some(api_server) = &api_server {
            let url = url::Url::parse(api_server.expose())
                .map_err(|err| format!("invalid api_server URL {api_server:?}: {err}"))?;
            if url.host_str().is_none() {
                return Err(format!("invalid api_server URL {api_server:?}: host is missing"));
            }
        }
        let kubeconfig_file = raw.kubeconfig_file.unwrap_or_default();
        let namespaces = raw.namespaces.unwrap_or_default();
        let custom_http = http_client_config != HttpClientConfig::default();
        if api_server.is_some() && !kubeconfig_file.is_empty() {
            return Err("cannot use 'kubeconfig_file' and 'api_server' simultaneously".to_owned());
        }
        if !kubeconfig_file.is_empty() && custom_http {
            return Err("cannot use a custom HTTP client configuration together with 'kubeconfig_file'".to_owned());
        }
        if api_server.is_none() && custom_http {
            return Err(
                "to use custom HTTP client configuration please provide the 'api_server' URL explicitly".to_owned()
            );
        }
        if api_server.is_some() && namespaces.own_namespace {
            return Err("cannot use 'api_server' and 'namespaces.own_namespace' simultaneously".to_owned());
        }
        if !kubeconfig_file.is_empty() && namespaces.own_namespace {
            return Err("cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously".to_owned());
        }
        let selectors = raw.selectors.unwrap_or_default();
        let mut seen = Vec::new();
        for selector in &selectors {
            if seen.contains(&selector.role) {
                return Err(format!("duplicated selector role: {}", selector.role));
            }
            seen.push(selector.role);
            let allowed = role.allowed_selectors();
            if !allowed.contains(&selector.role) {
                let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
                return Err(format!("{role} role supports only {} selectors", names.join(", ")));
            }
            check_field_selector(&selector.field)?;
            check_label_selector(&selector.label)?;
        }
        Ok(KubernetesSdConfig {
            api_server,
            role,
            kubeconfig_file,
            http_client_config,
            namespaces,
            selectors,
            attach_metadata: raw.attach_metadata.unwrap_or_default(),
        })
    }
}

/// Splits on commas that are not escaped with a backslash.
fn split_terms(selector: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            ',' if !escaped => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Checks a field selector the way Kubernetes' `fields.ParseSelector` does: every term is
/// `key=value`, `key==value` or `key!=value`.
fn check_field_selector(selector: &str) -> Result<(), String> {
    if selector.trim().is_empty() {
        return Ok(());
    }
    for term in split_terms(selector) {
        if term.is_empty() {
            continue;
        }
        if !term.contains('=') {
            return Err(format!("invalid selector: '{selector}'; can't understand '{term}'"));
        }
    }
    Ok(())
}

fn is_label_key(key: &str) -> bool {
    !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
}

/// Checks a label selector against Kubernetes' grammar: `key`, `!key`, `key=v`, `key==v`,
/// `key!=v`, `key in (a,b)`, `key notin (a,b)`, `key>1`, `key<1`, joined by commas.
fn check_label_selector(selector: &str) -> Result<(), String> {
    if selector.trim().is_empty() {
        return Ok(());
    }
    let invalid = |term: &str| format!("invalid label selector {selector:?}: unable to parse requirement {term:?}");
    let mut terms = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    for term in terms {
        let term = term.trim();
        if let Some(key) = term.strip_prefix('!') {
            if !is_label_key(key.trim()) {
                return Err(invalid(term));
            }
            continue;
        }
        let set_operator = [" notin ", " in "].iter().find_map(|op| term.split_once(op));
        if let Some((key, values)) = set_operator {
            let values = values.trim();
            if !is_label_key(key.trim()) || !values.starts_with('(') || !values.ends_with(')') {
                return Err(invalid(term));
            }
            continue;
        }
        let operator = ["!=", "==", "=", ">", "<"].iter().find_map(|op| term.split_once(op));
        match operator {
            Some((key, _)) if is_label_key(key.trim()) => {}
            Some(_) => return Err(invalid(term)),
            None if is_label_key(term) => {}
            None => return Err(invalid(term)),
        }
    }
    Ok(())
}
