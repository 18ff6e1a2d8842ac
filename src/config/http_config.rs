//! HTTP client settings shared by scrape configs, service discovery and remote storage
//! (upstream `prometheus/common` `config/http_config.go`).
//!
//! In YAML these fields sit inline in their owner (`basic_auth:` directly under a scrape
//! config). serde cannot combine `flatten` with `deny_unknown_fields`, so each owner's private
//! raw struct gets the fields from [`raw_with_http_client!`] and turns them into an
//! [`HttpClientConfig`] with [`RawHttpClientConfig::resolve`], which applies Prometheus's checks
//! (`HTTPClientConfig.Validate`) and moves `bearer_token`/`bearer_token_file` into
//! `authorization` as Prometheus does. Every secret is a [`Secret`].

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::secret::{Secret, Url};

/// Credentials for HTTP basic authentication.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    /// The user name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// A file holding the user name, resolved against the config file's directory.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username_file: String,
    /// The password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<Secret>,
    /// A file holding the password, resolved against the config file's directory.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password_file: String,
}

/// The `Authorization` header: `type` and credentials.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Authorization {
    /// The scheme, `Bearer` when unset.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Secret>,
    /// A file holding the credentials, resolved against the config file's directory.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credentials_file: String,
}

/// TLS versions Prometheus accepts in `min_version`/`max_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub enum TlsVersion {
    /// TLS 1.0.
    #[serde(rename = "TLS10")]
    Tls10,
    /// TLS 1.1.
    #[serde(rename = "TLS11")]
    Tls11,
    /// TLS 1.2.
    #[serde(rename = "TLS12")]
    Tls12,
    /// TLS 1.3.
    #[serde(rename = "TLS13")]
    Tls13,
}

/// TLS settings of a client.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM CA certificates, inline.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca: String,
    /// A file of PEM CA certificates.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_file: String,
    /// The client certificate, inline PEM.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert: String,
    /// A file holding the client certificate.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cert_file: String,
    /// The client key, inline PEM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret>,
    /// A file holding the client key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key_file: String,
    /// The server name to verify (SNI).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    /// Skip verifying the server's certificate.
    #[serde(default)]
    pub insecure_skip_verify: bool,
    /// The lowest TLS version offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_version: Option<TlsVersion>,
    /// The highest TLS version offered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_version: Option<TlsVersion>,
}

impl TlsConfig {
    fn validate(&self) -> Result<(), String> {
        if !self.ca.is_empty() && !self.ca_file.is_empty() {
            return Err("at most one of ca and ca_file must be configured".to_owned());
        }
        if !self.cert.is_empty() && !self.cert_file.is_empty() {
            return Err("at most one of cert and cert_file must be configured".to_owned());
        }
        let has_key = self.key.as_ref().is_some_and(|k| !k.is_empty());
        if has_key && !self.key_file.is_empty() {
            return Err("at most one of key and key_file must be configured".to_owned());
        }
        let using_cert = !self.cert.is_empty() || !self.cert_file.is_empty();
        let using_key = has_key || !self.key_file.is_empty();
        if using_cert && !using_key {
            return Err(
                "exactly one of key or key_file must be configured when a client certificate is configured".to_owned()
            );
        }
        if using_key && !using_cert {
            return Err(
                "exactly one of cert or cert_file must be configured when a client key is configured".to_owned()
            );
        }
        Ok(())
    }

    fn set_directory(&mut self, dir: &Path) {
        join_dir(dir, &mut self.ca_file);
        join_dir(dir, &mut self.cert_file);
        join_dir(dir, &mut self.key_file);
    }
}

/// Proxy settings, as in `prometheus/common`'s `ProxyConfig`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// The proxy's URL.
    #[serde(default, skip_serializing_if = "Url::is_empty")]
    pub proxy_url: Url,
    /// Hosts (comma-separated) that bypass the proxy.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
    /// Use `HTTP_PROXY`/`HTTPS_PROXY`/`NO_PROXY` from the environment.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// Headers sent to the proxy on CONNECT.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

impl ProxyConfig {
    fn validate(&self) -> Result<(), String> {
        if !self.proxy_url.is_empty() {
            url::Url::parse(self.proxy_url.expose())
                .map_err(|err| format!("invalid proxy_url {:?}: {err}", self.proxy_url))?;
        }
        if !self.proxy_connect_header.is_empty() && !self.proxy_from_environment && self.proxy_url.is_empty() {
            return Err(
                "if proxy_connect_header is configured, proxy_url or proxy_from_environment must also be configured"
                    .to_owned(),
            );
        }
        if self.proxy_from_environment && !self.proxy_url.is_empty() {
            return Err("if proxy_from_environment is configured, proxy_url must not be configured".to_owned());
        }
        if self.proxy_from_environment && !self.no_proxy.is_empty() {
            return Err("if proxy_from_environment is configured, no_proxy must not be configured".to_owned());
        }
        if self.proxy_url.is_empty() && !self.no_proxy.is_empty() {
            return Err("if no_proxy is configured, proxy_url must also be configured".to_owned());
        }
        Ok(())
    }
}

/// OAuth 2.0 client-credentials settings. Parsed and validated; whether the scraper uses them
/// is up to the HTTP client builder.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OAuth2 {
    /// The client id.
    #[serde(default)]
    pub client_id: String,
    /// The client secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<Secret>,
    /// A file holding the client secret.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_secret_file: String,
    /// Scopes requested.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// The token endpoint.
    #[serde(default)]
    pub token_url: Url,
    /// Extra parameters sent to the token endpoint.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoint_params: BTreeMap<String, String>,
    /// TLS settings for the token endpoint.
    #[serde(default)]
    pub tls_config: TlsConfig,
    /// The proxy for the token endpoint.
    #[serde(default, skip_serializing_if = "Url::is_empty")]
    pub proxy_url: Url,
    /// Hosts that bypass that proxy.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
    /// Use the environment's proxy settings for the token endpoint.
    #[serde(default)]
    pub proxy_from_environment: bool,
    /// Headers sent to that proxy on CONNECT.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub proxy_connect_header: BTreeMap<String, Vec<Secret>>,
}

/// Values of one custom header (`http_headers`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeader {
    /// Plain values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    /// Secret values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
    /// Files whose contents are values, resolved against the config file's directory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// How to talk HTTP to a target, an API server or a remote endpoint.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HttpClientConfig {
    /// Basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// The `Authorization` header; also holds a `bearer_token`/`bearer_token_file` after loading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// OAuth 2.0.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,
    /// TLS.
    pub tls_config: TlsConfig,
    /// Proxy.
    #[serde(flatten)]
    pub proxy: ProxyConfig,
    /// Follow HTTP 3xx redirects.
    pub follow_redirects: bool,
    /// Allow HTTP/2.
    pub enable_http2: bool,
    /// Extra headers.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub http_headers: BTreeMap<String, HttpHeader>,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        HttpClientConfig {
            basic_auth: None,
            authorization: None,
            oauth2: None,
            tls_config: TlsConfig::default(),
            proxy: ProxyConfig::default(),
            follow_redirects: true,
            enable_http2: true,
            http_headers: BTreeMap::new(),
        }
    }
}

impl HttpClientConfig {
    /// Joins every relative `*_file` path with `dir`, as Prometheus's `SetDirectory`.
    pub(crate) fn set_directory(&mut self, dir: &Path) {
        if let Some(basic_auth) = &mut self.basic_auth {
            join_dir(dir, &mut basic_auth.username_file);
            join_dir(dir, &mut basic_auth.password_file);
        }
        if let Some(authorization) = &mut self.authorization {
            join_dir(dir, &mut authorization.credentials_file);
        }
        if let Some(oauth2) = &mut self.oauth2 {
            join_dir(dir, &mut oauth2.client_secret_file);
            oauth2.tls_config.set_directory(dir);
        }
        self.tls_config.set_directory(dir);
        for header in self.http_headers.values_mut() {
            for file in &mut header.files {
                join_dir(dir, file);
            }
        }
    }
}

/// Joins a relative path with the config file's directory (upstream `config.JoinDir`).
pub(crate) fn join_dir(dir: &Path, path: &mut String) {
    if path.is_empty() || Path::new(path.as_str()).is_absolute() {
        return;
    }
    *path = dir.join(path.as_str()).to_string_lossy().into_owned();
}

/// The inline HTTP client fields as written, before validation.
#[derive(Debug, Default)]
pub(crate) struct RawHttpClientConfig {
    pub basic_auth: Option<BasicAuth>,
    pub authorization: Option<Authorization>,
    pub oauth2: Option<OAuth2>,
    pub bearer_token: Option<Secret>,
    pub bearer_token_file: Option<String>,
    pub tls_config: Option<TlsConfig>,
    pub proxy_url: Option<String>,
    pub no_proxy: Option<String>,
    pub proxy_from_environment: Option<bool>,
    pub proxy_connect_header: Option<BTreeMap<String, Vec<Secret>>>,
    pub follow_redirects: Option<bool>,
    pub enable_http2: Option<bool>,
    pub http_headers: Option<BTreeMap<String, HttpHeader>>,
}

/// What `enable_http2` is when the section leaves it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Http2Default {
    /// On: every HTTP client but remote write's.
    Enabled,
    /// Off: remote write (upstream's `DefaultRemoteWriteHTTPClientConfig`).
    Disabled,
}

impl RawHttpClientConfig {
    /// Applies `HTTPClientConfig.Validate`; `enable_http2` defaults to `http2_default`.
    pub(crate) fn resolve(self, http2_default: Http2Default) -> Result<HttpClientConfig, String> {
        let bearer_token = self.bearer_token.filter(|t| !t.is_empty());
        let bearer_token_file = self.bearer_token_file.filter(|f| !f.is_empty());
        if bearer_token.is_some() && bearer_token_file.is_some() {
            return Err("at most one of bearer_token & bearer_token_file must be configured".to_owned());
        }
        let has_bearer = bearer_token.is_some() || bearer_token_file.is_some();
        if (self.basic_auth.is_some() || self.oauth2.is_some()) && has_bearer {
            return Err(
                "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured".to_owned()
            );
        }
        if let Some(basic_auth) = &self.basic_auth {
            if !basic_auth.username.is_empty() && !basic_auth.username_file.is_empty() {
                return Err("at most one of basic_auth username & username_file must be configured".to_owned());
            }
            let has_password = basic_auth.password.as_ref().is_some_and(|p| !p.is_empty());
            if has_password && !basic_auth.password_file.is_empty() {
                return Err("at most one of basic_auth password & password_file must be configured".to_owned());
            }
        }
        let mut authorization = self.authorization;
        if let Some(auth) = &mut authorization {
            if has_bearer {
                return Err("authorization is not compatible with bearer_token & bearer_token_file".to_owned());
            }
            let has_credentials = auth.credentials.as_ref().is_some_and(|c| !c.is_empty());
            if has_credentials && !auth.credentials_file.is_empty() {
                return Err("at most one of authorization credentials & credentials_file must be configured".to_owned());
            }
            auth.kind = auth.kind.trim().to_owned();
            if auth.kind.is_empty() {
                auth.kind = "Bearer".to_owned();
            }
            if auth.kind.eq_ignore_ascii_case("basic") {
                return Err(r#"authorization type cannot be set to "basic", use "basic_auth" instead"#.to_owned());
            }
            if self.basic_auth.is_some() || self.oauth2.is_some() {
                return Err("at most one of basic_auth, oauth2 & authorization must be configured".to_owned());
            }
        } else if has_bearer {
            authorization = Some(Authorization {
                kind: "Bearer".to_owned(),
                credentials: bearer_token,
                credentials_file: bearer_token_file.unwrap_or_default(),
            });
        }
        if let Some(oauth2) = &self.oauth2 {
            if self.basic_auth.is_some() {
                return Err("at most one of oauth2 & basic_auth must be configured".to_owned());
            }
            if oauth2.client_id.is_empty() {
                return Err("oauth2 client_id must be configured".to_owned());
            }
            if oauth2.token_url.is_empty() {
                return Err("oauth2 token_url must be configured".to_owned());
            }
            let has_secret = oauth2.client_secret.as_ref().is_some_and(|s| !s.is_empty());
            if has_secret && !oauth2.client_secret_file.is_empty() {
                return Err("at most one of oauth2 client_secret & client_secret_file must be configured".to_owned());
            }
            oauth2.tls_config.validate()?;
        }
        let tls_config = self.tls_config.unwrap_or_default();
        tls_config.validate()?;
        let proxy = ProxyConfig {
            proxy_url: Url::new(self.proxy_url.unwrap_or_default()),
            no_proxy: self.no_proxy.unwrap_or_default(),
            proxy_from_environment: self.proxy_from_environment.unwrap_or(false),
            proxy_connect_header: self.proxy_connect_header.unwrap_or_default(),
        };
        proxy.validate()?;
        Ok(HttpClientConfig {
            basic_auth: self.basic_auth,
            authorization,
            oauth2: self.oauth2,
            tls_config,
            proxy,
            follow_redirects: self.follow_redirects.unwrap_or(true),
            enable_http2: self.enable_http2.unwrap_or(http2_default == Http2Default::Enabled),
            http_headers: self.http_headers.unwrap_or_default(),
        })
    }
}

/// Declares a private raw config struct with the inline HTTP client fields appended, and a
/// `take_http_client` method that moves them out as a [`RawHttpClientConfig`].
macro_rules! raw_with_http_client {
    (
        $(#[$meta:meta])*
        struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        struct $name {
            $( $(#[$fmeta])* $field: $ty, )*
            #[serde(default)]
            basic_auth: Option<$crate::config::http_config::BasicAuth>,
            #[serde(default)]
            authorization: Option<$crate::config::http_config::Authorization>,
            #[serde(default)]
            oauth2: Option<$crate::config::http_config::OAuth2>,
            #[serde(default)]
            bearer_token: Option<$crate::config::Secret>,
            #[serde(default)]
            bearer_token_file: Option<String>,
            #[serde(default)]
            tls_config: Option<$crate::config::http_config::TlsConfig>,
            #[serde(default)]
            proxy_url: Option<String>,
            #[serde(default)]
            no_proxy: Option<String>,
            #[serde(default)]
            proxy_from_environment: Option<bool>,
            #[serde(default)]
            proxy_connect_header:
                Option<std::collections::BTreeMap<String, Vec<$crate::config::Secret>>>,
            #[serde(default)]
            follow_redirects: Option<bool>,
            #[serde(default)]
            enable_http2: Option<bool>,
            #[serde(default)]
            http_headers:
                Option<std::collections::BTreeMap<String, $crate::config::http_config::HttpHeader>>,
        }

        impl $name {
            fn take_http_client(&mut self) -> $crate::config::http_config::RawHttpClientConfig {
                $crate::config::http_config::RawHttpClientConfig {
                    basic_auth: self.basic_auth.take(),
                    authorization: self.authorization.take(),
                    oauth2: self.oauth2.take(),
                    bearer_token: self.bearer_token.take(),
                    bearer_token_file: self.bearer_token_file.take(),
                    tls_config: self.tls_config.take(),
                    proxy_url: self.proxy_url.take(),
                    no_proxy: self.no_proxy.take(),
                    proxy_from_environment: self.proxy_from_environment.take(),
                    proxy_connect_header: self.proxy_connect_header.take(),
                    follow_redirects: self.follow_redirects.take(),
                    enable_http2: self.enable_http2.take(),
                    http_headers: self.http_headers.take(),
                }
            }
        }
    };
}
pub(crate) use raw_with_http_client;
