//! How to reach the API server: explicit `api_server`, a kubeconfig file, or in-cluster.
//!
//! All three end as an [`ApiClient`]: a base URL plus promlite's [`HttpClient`], so TLS is rustls
//! with ring and credentials come from the same code as scrapes. In-cluster, the service-account
//! token is configured as a credentials *file*, which the HTTP client reads on every request: a
//! token rotated by the kubelet is used from the next list or watch (watches last at most
//! 10 minutes, so well within the token's lifetime). Kubeconfig supports the current context's
//! server, CA (file or data), token (inline or file), client certificate and key (file or data),
//! basic auth and `insecure-skip-tls-verify`; exec and auth-provider plugins are refused with a
//! clear error.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use crate::config::{Authorization, BasicAuth, HttpClientConfig, KubernetesSdConfig, Secret};
use crate::http_client::{HttpClient, HttpClientError};

/// Where in-cluster credentials live.
const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// The API server cannot be configured: says which source and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// `namespaces.own_namespace` is set but the pod's namespace file cannot be read.
    #[error("cannot read own namespace from {path}: {reason}")]
    OwnNamespace {
        /// The service account's `namespace` file.
        path: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// Neither `api_server` nor `kubeconfig_file` is set and we are not in a pod.
    #[error(
        "unable to load in-cluster configuration: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined (or set api_server or kubeconfig_file)"
    )]
    NotInCluster,
    /// The kubeconfig file is unreadable or incomplete.
    #[error("kubeconfig {path}: {reason}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The API server URL is unusable.
    #[error("invalid API server URL {url:?}: {reason}")]
    Url {
        /// The URL as configured, its password redacted.
        url: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client cannot be built.
    #[error("{0}")]
    Http(#[from] HttpClientError),
}

/// A configured connection to one API server.
#[derive(Clone)]
pub(crate) struct ApiClient {
    /// The server's base URL, always ending in `/`.
    pub base: reqwest::Url,
    /// The HTTP client with the server's TLS settings and credentials.
    pub http: HttpClient,
}

impl ApiClient {
    /// Resolves the connection for `config` the way Prometheus does: `api_server` with the
    /// job's HTTP settings, else `kubeconfig_file`, else in-cluster.
    pub fn new(config: &KubernetesSdConfig) -> Result<ApiClient, ClientError> {
        if let Some(api_server) = &config.api_server {
            return ApiClient::with(api_server.expose(), &config.http_client_config);
        }
        if !config.kubeconfig_file.is_empty() {
            let (server, http_config) = from_kubeconfig(Path::new(&config.kubeconfig_file))?;
            return ApiClient::with(&server, &http_config);
        }
        let host = std::env::var("KUBERNETES_SERVICE_HOST").map_err(|_| ClientError::NotInCluster)?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT").map_err(|_| ClientError::NotInCluster)?;
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let mut http_config = HttpClientConfig {
            authorization: Some(Authorization {
                kind: "Bearer".to_owned(),
                credentials: None,
                credentials_file: format!("{SERVICE_ACCOUNT_DIR}/token"),
            }),
            ..HttpClientConfig::default()
        };
        http_config.tls_config.ca_file = format!("{SERVICE_ACCOUNT_DIR}/ca.crt");
        ApiClient::with(&format!("https://{host}:{port}"), &http_config)
    }

    fn with(server: &str, http_config: &HttpClientConfig) -> Result<ApiClient, ClientError> {
        let url_error =
            |reason: String| ClientError::Url { url: promlite_web::redact_url(server).into_owned(), reason };
        let mut base = reqwest::Url::parse(server).map_err(|err| url_error(err.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(url_error("scheme must be http or https".to_owned()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(ApiClient { base, http: HttpClient::new(http_config)? })
    }
}

/// The namespace this pod runs in, for `namespaces.own_namespace`.
pub(crate) fn own_namespace() -> Result<String, ClientError> {
    let path = format!("{SERVICE_ACCOUNT_DIR}/namespace");
    match std::fs::read_to_string(&path) {
        Ok(ns) => Ok(ns.trim().to_owned()),
        Err(err) => Err(ClientError::OwnNamespace { path, reason: err.to_string() }),
    }
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct Kubeconfig {
    current_context: String,
    clusters: Vec<Named<KubeCluster>>,
    users: Vec<Named<KubeUser>>,
    contexts: Vec<Named<KubeContext>>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "user", alias = "context")]
    value: T,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct KubeCluster {
    server: String,
    certificate_authority: String,
    certificate_authority_data: String,
    insecure_skip_tls_verify: bool,
    tls_server_name: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "kebab-case")]
struct KubeUser {
    token: String,
    token_file: String,
    client_certificate: String,
    client_certificate_data: String,
    client_key: String,
    client_key_data: String,
    username: String,
    password: String,
    exec: Option<serde_json::Value>,
    auth_provider: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KubeContext {
    cluster: String,
    user: String,
}

/// Reads the current context of a kubeconfig into a server URL and an HTTP client config.
fn from_kubeconfig(path: &Path) -> Result<(String, HttpClientConfig), ClientError> {
    let error = |reason: String| ClientError::Kubeconfig { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|err| error(err.to_string()))?;
    let kubeconfig: Kubeconfig =
        serde_saphyr::from_str::<Option<Kubeconfig>>(&text).map_err(|err| error(err.to_string()))?.unwrap_or_default();
    let context = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == kubeconfig.current_context)
        .ok_or_else(|| error(format!("current-context {:?} not found", kubeconfig.current_context)))?;
    let cluster = kubeconfig
        .clusters
        .iter()
        .find(|c| c.name == context.value.cluster)
        .ok_or_else(|| error(format!("cluster {:?} not found", context.value.cluster)))?;
    let user = kubeconfig.users.iter().find(|u| u.name == context.value.user).map(|u| &u.value);
    let dir = path.parent().unwrap_or(Path::new("."));
    // Relative paths in a kubeconfig are relative to the kubeconfig itself.
    let resolve = |file: &str| -> String {
        if file.is_empty() {
            return String::new();
        }
        let p = PathBuf::from(file);
        if p.is_absolute() { file.to_owned() } else { dir.join(p).display().to_string() }
    };
    let decode = |what: &str, data: &str| -> Result<String, ClientError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map_err(|err| error(format!("{what}: invalid base64: {err}")))?;
        String::from_utf8(bytes).map_err(|_| error(format!("{what}: not PEM text")))
    };
    let cluster = &cluster.value;
    if cluster.server.is_empty() {
        return Err(error(format!("cluster {:?} has no server", context.value.cluster)));
    }
    if !cluster.tls_server_name.is_empty() {
        return Err(error("tls-server-name is not supported by promlite yet".to_owned()));
    }
    let mut http = HttpClientConfig::default();
    http.tls_config.insecure_skip_verify = cluster.insecure_skip_tls_verify;
    if !cluster.certificate_authority_data.is_empty() {
        http.tls_config.ca = decode("certificate-authority-data", &cluster.certificate_authority_data)?;
    } else {
        http.tls_config.ca_file = resolve(&cluster.certificate_authority);
    }
    if let Some(user) = user {
        if user.exec.is_some() || user.auth_provider.is_some() {
            return Err(error("exec and auth-provider credential plugins are not supported by promlite".to_owned()));
        }
        if !user.token.is_empty() || !user.token_file.is_empty() {
            http.authorization = Some(Authorization {
                kind: "Bearer".to_owned(),
                credentials: (!user.token.is_empty()).then(|| Secret::new(user.token.clone())),
                credentials_file: if user.token.is_empty() { resolve(&user.token_file) } else { String::new() },
            });
        } else if !user.username.is_empty() {
            http.basic_auth = Some(BasicAuth {
                username: user.username.clone(),
                password: Some(Secret::new(user.password.clone())),
                ..BasicAuth::default()
            });
        }
        if !user.client_certificate_data.is_empty() {
            http.tls_config.cert = decode("client-certificate-data", &user.client_certificate_data)?;
        } else {
            http.tls_config.cert_file = resolve(&user.client_certificate);
        }
        if !user.client_key_data.is_empty() {
            http.tls_config.key = Some(Secret::new(decode("client-key-data", &user.client_key_data)?));
        } else {
            http.tls_config.key_file = resolve(&user.client_key);
        }
    }
    Ok((cluster.server.clone(), http))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_current_context() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        let ca = base64::engine::general_purpose::STANDARD.encode("-----BEGIN CERTIFICATE-----\nX\n");
        std::fs::write(
            &path,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: b\nclusters:\n- name: c1\n  cluster:\n    server: https://one:6443\n- name: c2\n  cluster:\n    server: https://two:6443\n    certificate-authority-data: {ca}\ncontexts:\n- name: a\n  context: {{cluster: c1, user: u1}}\n- name: b\n  context: {{cluster: c2, user: u2, namespace: x}}\nusers:\n- name: u1\n  user: {{token: one}}\n- name: u2\n  user:\n    tokenFile: ignored-camel-case\n    token-file: tok\n"
            ),
        )
        .unwrap();
        let (server, http) = from_kubeconfig(&path).unwrap();
        assert_eq!(server, "https://two:6443");
        assert_eq!(http.tls_config.ca, "-----BEGIN CERTIFICATE-----\nX\n");
        let auth = http.authorization.unwrap();
        assert_eq!(auth.credentials_file, dir.path().join("tok").display().to_string());
        assert!(auth.credentials.is_none());

        std::fs::write(&path, "current-context: a\ncontexts: [{name: a, context: {cluster: c, user: u}}]\nclusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n").unwrap();
        let err = from_kubeconfig(&path).unwrap_err().to_string();
        assert!(err.contains("exec and auth-provider"), "{err}");
    }
}
