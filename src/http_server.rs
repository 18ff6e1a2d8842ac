//! The web server's security from `--web.config.file`: a rustls server config (ring provider,
//! TLS 1.2+, optional client-certificate verification) and the basic-auth users, handed to the
//! web crate as a [`promlite_web::ServerSecurity`].

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::config::{ClientAuth, TlsServerConfig, TlsVersion, WebConfig};

/// The TLS settings cannot be turned into a server: which file or setting, and why.
#[derive(Debug, thiserror::Error)]
pub enum ServerTlsError {
    /// A PEM file is missing or holds nothing usable.
    #[error("{what} {path}: {reason}")]
    Pem { what: &'static str, path: String, reason: String },
    /// rustls refused the combination.
    #[error("TLS server config: {0}")]
    Rustls(String),
    /// A client-auth mode promlite does not implement.
    #[error("client_auth_type {0:?} is not supported by promlite yet")]
    Unsupported(ClientAuth),
}

fn pem_error(what: &'static str, path: &str) -> impl Fn(rustls::pki_types::pem::Error) -> ServerTlsError {
    let path = path.to_owned();
    move |err| ServerTlsError::Pem { what, path: path.clone(), reason: err.to_string() }
}

/// Builds the web server's security settings.
pub fn server_security(config: &WebConfig) -> Result<promlite_web::ServerSecurity, ServerTlsError> {
    let tls = config.tls_server_config.as_ref().map(server_tls).transpose()?;
    Ok(promlite_web::ServerSecurity {
        tls,
        basic_auth_users: config
            .basic_auth_users
            .iter()
            .map(|(user, hash)| (user.clone(), hash.expose().to_owned()))
            .collect(),
        headers: config.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
    })
}

fn server_tls(tls: &TlsServerConfig) -> Result<Arc<rustls::ServerConfig>, ServerTlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(Path::new(&tls.cert_file))
        .map_err(pem_error("cert_file", &tls.cert_file))?
        .collect::<Result<_, _>>()
        .map_err(pem_error("cert_file", &tls.cert_file))?;
    let key = PrivateKeyDer::from_pem_file(Path::new(&tls.key_file)).map_err(pem_error("key_file", &tls.key_file))?;
    // rustls speaks TLS 1.2 and 1.3 only; Prometheus's default minimum is 1.2 too.
    let min = tls.min_version.unwrap_or(TlsVersion::Tls12);
    let max = tls.max_version.unwrap_or(TlsVersion::Tls13);
    let mut versions = Vec::new();
    if min <= TlsVersion::Tls12 && max >= TlsVersion::Tls12 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= TlsVersion::Tls13 {
        versions.push(&rustls::version::TLS13);
    }
    let builder = rustls::ServerConfig::builder_with_protocol_versions(&versions);
    let builder = match tls.client_auth_type {
        ClientAuth::NoClientCert => builder.with_no_client_auth(),
        mode @ (ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(Path::new(&tls.client_ca_file))
                .map_err(pem_error("client_ca_file", &tls.client_ca_file))?
            {
                let cert = cert.map_err(pem_error("client_ca_file", &tls.client_ca_file))?;
                roots.add(cert).map_err(|err| ServerTlsError::Rustls(err.to_string()))?;
            }
            let verifier = WebPkiClientVerifier::builder(Arc::new(roots));
            let verifier =
                if mode == ClientAuth::VerifyClientCertIfGiven { verifier.allow_unauthenticated() } else { verifier };
            builder.with_client_cert_verifier(verifier.build().map_err(|err| ServerTlsError::Rustls(err.to_string()))?)
        }
        mode => return Err(ServerTlsError::Unsupported(mode)),
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|err| ServerTlsError::Rustls(err.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
