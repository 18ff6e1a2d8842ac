//! HTTP clients from `HttpClientConfig` (upstream `common/config/http_config.go`): one per scrape
//! pool now, and for remote write and discovery later.
//!
//! TLS settings are fixed when the client is built. Credentials are not: `*_file` values (basic
//! auth, `authorization.credentials_file`, header files) are read on every request, so a rotated
//! token is picked up at the next scrape, as in Prometheus. This is the only place that calls
//! `Secret::expose`.
//! `tls_config.server_name` verifies the certificate against that name (the SNI sent is still
//! the URL's host) and needs a configured CA.
//! FIXME(#5): `oauth2`, `proxy_from_environment` and `proxy_connect_header` are refused with a
//! clear error at client build time.

use std::path::Path;

use reqwest::header::{AUTHORIZATION, HeaderName, HeaderValue};

use crate::config::{HttpClientConfig, TlsConfig, TlsVersion};

/// A client that applies its config's credentials and headers to every request.
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    config: HttpClientConfig,
}

/// The client cannot be built, or a credential cannot be read: say which setting and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpClientError {
    /// A file named in the config could not be read.
    #[error("unable to read {what} {path}: {reason}")]
    ReadFile { what: &'static str, path: String, reason: String },
    /// A setting is invalid (bad PEM, bad header value, bad proxy URL, ...).
    #[error("{setting}: {reason}")]
    Invalid { setting: &'static str, reason: String },
    /// A setting promlite does not implement yet.
    #[error("{0} is not supported by promlite yet")]
    Unsupported(&'static str),
}

fn read_file(what: &'static str, path: &str) -> Result<String, HttpClientError> {
    std::fs::read_to_string(Path::new(path)).map_err(|err| HttpClientError::ReadFile {
        what,
        path: path.to_owned(),
        reason: err.to_string(),
    })
}

fn invalid(setting: &'static str) -> impl Fn(reqwest::Error) -> HttpClientError {
    move |err| HttpClientError::Invalid { setting, reason: err.to_string() }
}

impl HttpClient {
    /// Builds a client for `config`; the user agent is `promlite/<version>`.
    pub fn new(config: &HttpClientConfig) -> Result<HttpClient, HttpClientError> {
        if config.oauth2.is_some() {
            return Err(HttpClientError::Unsupported("oauth2"));
        }
        if config.proxy.proxy_from_environment {
            return Err(HttpClientError::Unsupported("proxy_from_environment"));
        }
        if !config.proxy.proxy_connect_header.is_empty() {
            return Err(HttpClientError::Unsupported("proxy_connect_header"));
        }
        let redirect = if config.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        };
        let mut builder =
            reqwest::Client::builder().user_agent(concat!("promlite/", env!("CARGO_PKG_VERSION"))).redirect(redirect);
        if !config.enable_http2 {
            builder = builder.http1_only();
        }
        builder = apply_tls(builder, &config.tls_config)?;
        if !config.proxy.proxy_url.is_empty() {
            let mut proxy = reqwest::Proxy::all(config.proxy.proxy_url.expose()).map_err(invalid("proxy_url"))?;
            if !config.proxy.no_proxy.is_empty() {
                proxy = proxy.no_proxy(reqwest::NoProxy::from_string(&config.proxy.no_proxy));
            }
            builder = builder.proxy(proxy);
        } else {
            builder = builder.no_proxy();
        }
        let client = builder.build().map_err(invalid("http client"))?;
        Ok(HttpClient { client, config: config.clone() })
    }

    /// A GET for `url` with this config's credentials and headers, read fresh from their files.
    pub fn get(&self, url: reqwest::Url) -> Result<reqwest::RequestBuilder, HttpClientError> {
        self.authorize(self.client.get(url))
    }

    /// A POST for `url` (remote write, remote read) with credentials and headers as [`HttpClient::get`].
    pub fn post(&self, url: reqwest::Url) -> Result<reqwest::RequestBuilder, HttpClientError> {
        self.authorize(self.client.post(url))
    }

    fn authorize(&self, mut request: reqwest::RequestBuilder) -> Result<reqwest::RequestBuilder, HttpClientError> {
        if let Some(basic_auth) = &self.config.basic_auth {
            let username = if basic_auth.username_file.is_empty() {
                basic_auth.username.clone()
            } else {
                read_file("basic_auth username_file", &basic_auth.username_file)?.trim().to_owned()
            };
            let password = if !basic_auth.password_file.is_empty() {
                read_file("basic_auth password_file", &basic_auth.password_file)?.trim().to_owned()
            } else {
                basic_auth.password.as_ref().map(|p| p.expose().to_owned()).unwrap_or_default()
            };
            request = request.basic_auth(username, Some(password));
        }
        if let Some(authorization) = &self.config.authorization {
            let credentials = if !authorization.credentials_file.is_empty() {
                read_file("authorization credentials_file", &authorization.credentials_file)?.trim().to_owned()
            } else {
                authorization.credentials.as_ref().map(|c| c.expose().to_owned()).unwrap_or_default()
            };
            let kind = if authorization.kind.is_empty() { "Bearer" } else { authorization.kind.as_str() };
            let mut value = HeaderValue::from_str(&format!("{kind} {credentials}"))
                .map_err(|err| HttpClientError::Invalid { setting: "authorization", reason: err.to_string() })?;
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        for (name, header) in &self.config.http_headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|err| HttpClientError::Invalid { setting: "http_headers", reason: err.to_string() })?;
            let mut values: Vec<(String, bool)> = header.values.iter().map(|v| (v.clone(), false)).collect();
            values.extend(header.secrets.iter().map(|s| (s.expose().to_owned(), true)));
            for file in &header.files {
                values.push((read_file("http_headers file", file)?.trim().to_owned(), true));
            }
            for (value, sensitive) in values {
                let mut value = HeaderValue::from_str(&value)
                    .map_err(|err| HttpClientError::Invalid { setting: "http_headers", reason: err.to_string() })?;
                value.set_sensitive(sensitive);
                request = request.header(name.clone(), value);
            }
        }
        Ok(request)
    }
}

/// A rustls config that verifies the target's certificate against `tls_config.server_name`
/// instead of the URL's host (targets addressed by IP with a certificate for a name). The CA
/// must be configured: the system roots are not available to a custom verifier here.
fn named_server_tls(tls: &TlsConfig) -> Result<rustls::ClientConfig, HttpClientError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let pem_error = |setting: &'static str| {
        move |err: rustls::pki_types::pem::Error| HttpClientError::Invalid { setting, reason: err.to_string() }
    };
    let ca = match (tls.ca.is_empty(), tls.ca_file.is_empty()) {
        (false, _) => tls.ca.clone(),
        (true, false) => read_file("tls_config ca_file", &tls.ca_file)?,
        (true, true) => {
            return Err(HttpClientError::Invalid {
                setting: "tls_config.server_name",
                reason: "promlite needs ca or ca_file with server_name".to_owned(),
            });
        }
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        let cert = cert.map_err(pem_error("tls_config ca"))?;
        roots
            .add(cert)
            .map_err(|err| HttpClientError::Invalid { setting: "tls_config ca", reason: err.to_string() })?;
    }
    let name = ServerName::try_from(tls.server_name.clone())
        .map_err(|err| HttpClientError::Invalid { setting: "tls_config.server_name", reason: err.to_string() })?;
    let inner = rustls::client::WebPkiServerVerifier::builder(std::sync::Arc::new(roots))
        .build()
        .map_err(|err| HttpClientError::Invalid { setting: "tls_config ca", reason: err.to_string() })?;
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        [(TlsVersion::Tls12, &rustls::version::TLS12), (TlsVersion::Tls13, &rustls::version::TLS13)]
            .into_iter()
            .filter(|(v, _)| tls.min_version.is_none_or(|min| *v >= min) && tls.max_version.is_none_or(|max| *v <= max))
            .map(|(_, version)| version)
            .collect();
    let builder = rustls::ClientConfig::builder_with_protocol_versions(&versions)
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(NamedServerVerifier { inner, name }));
    let cert = match (tls.cert.is_empty(), tls.cert_file.is_empty()) {
        (false, _) => Some(tls.cert.clone()),
        (true, false) => Some(read_file("tls_config cert_file", &tls.cert_file)?),
        (true, true) => None,
    };
    let mut config = match cert {
        None => builder.with_no_client_auth(),
        Some(cert) => {
            let key = match &tls.key {
                Some(key) if !key.expose().is_empty() => key.expose().to_owned(),
                _ => read_file("tls_config key_file", &tls.key_file)?,
            };
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(pem_error("tls_config cert"))?;
            let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(pem_error("tls_config key"))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|err| HttpClientError::Invalid { setting: "tls_config cert/key", reason: err.to_string() })?
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Verifies certificates against a fixed name rather than the connection's host.
#[derive(Debug)]
struct NamedServerVerifier {
    inner: std::sync::Arc<rustls::client::WebPkiServerVerifier>,
    name: rustls::pki_types::ServerName<'static>,
}

impl rustls::client::danger::ServerCertVerifier for NamedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        self.inner.verify_server_cert(end_entity, intermediates, &self.name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn apply_tls(mut builder: reqwest::ClientBuilder, tls: &TlsConfig) -> Result<reqwest::ClientBuilder, HttpClientError> {
    if !tls.server_name.is_empty() && !tls.insecure_skip_verify {
        return Ok(builder.tls_backend_preconfigured(named_server_tls(tls)?));
    }
    let ca = match (tls.ca.is_empty(), tls.ca_file.is_empty()) {
        (false, _) => Some(tls.ca.clone()),
        (true, false) => Some(read_file("tls_config ca_file", &tls.ca_file)?),
        (true, true) => None,
    };
    if let Some(ca) = ca {
        // As in Prometheus, a configured CA replaces the system roots instead of adding to them.
        let certificates = reqwest::Certificate::from_pem_bundle(ca.as_bytes()).map_err(invalid("tls_config ca"))?;
        builder = builder.tls_certs_only(certificates);
    }
    let cert = match (tls.cert.is_empty(), tls.cert_file.is_empty()) {
        (false, _) => Some(tls.cert.clone()),
        (true, false) => Some(read_file("tls_config cert_file", &tls.cert_file)?),
        (true, true) => None,
    };
    if let Some(cert) = cert {
        let key = match &tls.key {
            Some(key) if !key.expose().is_empty() => key.expose().to_owned(),
            _ => read_file("tls_config key_file", &tls.key_file)?,
        };
        let identity =
            reqwest::Identity::from_pem(format!("{cert}\n{key}").as_bytes()).map_err(invalid("tls_config cert/key"))?;
        builder = builder.identity(identity);
    }
    if tls.insecure_skip_verify {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    let version = |v: TlsVersion| match v {
        TlsVersion::Tls10 => reqwest::tls::Version::TLS_1_0,
        TlsVersion::Tls11 => reqwest::tls::Version::TLS_1_1,
        TlsVersion::Tls12 => reqwest::tls::Version::TLS_1_2,
        TlsVersion::Tls13 => reqwest::tls::Version::TLS_1_3,
    };
    if let Some(min) = tls.min_version {
        builder = builder.tls_version_min(version(min));
    }
    if let Some(max) = tls.max_version {
        builder = builder.tls_version_max(version(max));
    }
    Ok(builder)
}

/// An error with its causes, `a: b: c`: reqwest's own text hides them ("error sending request"
/// without "connection refused").
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}
