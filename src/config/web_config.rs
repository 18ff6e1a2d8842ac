//! `--web.config.file` (the exporter-toolkit web configuration Prometheus reads): TLS for the
//! server, HTTP response headers, and basic-auth users with bcrypt password hashes.
//!
//! Parsed strictly like `prometheus.yml` (unknown fields are `FILE:LINE:COL` errors); relative
//! file paths resolve against the file's directory. Unsupported settings (`cipher_suites`,
//! `curve_preferences`, `client_allowed_sans`, ...) are refused with a clear error instead of
//! silently ignored.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::error::{ConfigError, Problem, from_yaml_error};
use super::http_config::join_dir;
use super::{Secret, TlsVersion};

/// The whole web configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebConfig {
    /// Serve HTTPS with these settings.
    pub tls_server_config: Option<TlsServerConfig>,
    /// Extra response headers.
    pub headers: BTreeMap<String, String>,
    /// Users and their bcrypt password hashes.
    pub basic_auth_users: BTreeMap<String, Secret>,
}

/// Which client certificates the server asks for and checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub enum ClientAuth {
    /// No client certificate is requested.
    #[default]
    NoClientCert,
    /// A certificate is requested but not required or verified.
    RequestClientCert,
    /// A certificate is required but not verified.
    RequireAnyClientCert,
    /// A certificate, if sent, is verified against `client_ca_file`.
    VerifyClientCertIfGiven,
    /// A certificate is required and verified against `client_ca_file`.
    RequireAndVerifyClientCert,
}

/// `tls_server_config`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsServerConfig {
    /// The server certificate chain (PEM).
    pub cert_file: String,
    /// The server's private key (PEM).
    pub key_file: String,
    /// Client certificate policy.
    #[serde(default)]
    pub client_auth_type: ClientAuth,
    /// CAs that sign client certificates (PEM).
    #[serde(default)]
    pub client_ca_file: String,
    /// Lowest TLS version; TLS 1.2 by default.
    #[serde(default)]
    pub min_version: Option<TlsVersion>,
    /// Highest TLS version.
    #[serde(default)]
    pub max_version: Option<TlsVersion>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttpServerConfig {
    #[serde(default)]
    http2: Option<bool>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    #[serde(default)]
    tls_server_config: Option<TlsServerConfig>,
    #[serde(default)]
    http_server_config: Option<RawHttpServerConfig>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, Secret>,
}

/// Reads and validates a web configuration file.
pub fn load_web_config(path: &Path) -> Result<WebConfig, ConfigError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read { file: file.clone(), cause })?;
    let invalid =
        |message: String| ConfigError::Invalid { file: file.clone(), problems: vec![Problem::new(None, message)] };
    let raw: RawWebConfig = match serde_saphyr::from_str::<Option<RawWebConfig>>(&text) {
        Ok(raw) => raw.unwrap_or(RawWebConfig {
            tls_server_config: None,
            http_server_config: None,
            basic_auth_users: BTreeMap::new(),
        }),
        Err(err) => return Err(ConfigError::Invalid { file: file.clone(), problems: vec![from_yaml_error(&err)] }),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tls = raw.tls_server_config;
    if let Some(tls) = &mut tls {
        if tls.cert_file.is_empty() || tls.key_file.is_empty() {
            return Err(invalid("tls_server_config needs both cert_file and key_file".to_owned()));
        }
        let verifies = matches!(
            tls.client_auth_type,
            ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert
        );
        if verifies && tls.client_ca_file.is_empty() {
            return Err(invalid("client_ca_file must be set when client_auth_type verifies certificates".to_owned()));
        }
        if !verifies && !tls.client_ca_file.is_empty() {
            return Err(invalid(
                "client_ca_file is set but client_auth_type does not verify client certificates".to_owned(),
            ));
        }
        for file in [&mut tls.cert_file, &mut tls.key_file, &mut tls.client_ca_file] {
            join_dir(dir, file);
        }
    }
    let http = raw.http_server_config;
    if http.as_ref().and_then(|h| h.http2) == Some(false) {
        return Err(invalid("http_server_config.http2: false is not supported by promlite yet".to_owned()));
    }
    for (user, hash) in &raw.basic_auth_users {
        if !hash.expose().starts_with("$2") {
            return Err(invalid(format!("basic_auth_users: the password of {user:?} is not a bcrypt hash")));
        }
    }
    Ok(WebConfig {
        tls_server_config: tls,
        headers: http.map(|h| h.headers).unwrap_or_default(),
        basic_auth_users: raw.basic_auth_users,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<WebConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("web.yml");
        std::fs::write(&path, text).unwrap();
        load_web_config(&path).map_err(|err| err.to_string().replace(&dir.path().display().to_string(), "DIR"))
    }

    #[test]
    fn parses_tls_headers_and_users() {
        let config = load(
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  min_version: TLS13\nhttp_server_config:\n  headers: {X-Frame-Options: deny}\nbasic_auth_users:\n  admin: $2y$10$abcdefghijklmnopqrstuv\n",
        )
        .unwrap();
        let tls = config.tls_server_config.unwrap();
        assert!(tls.cert_file.ends_with("/c.pem"));
        assert_eq!(tls.min_version, Some(TlsVersion::Tls13));
        assert_eq!(config.headers["X-Frame-Options"], "deny");
        assert_eq!(format!("{:?}", config.basic_auth_users["admin"]), "<secret>");
    }

    #[test]
    fn errors_say_what_and_where() {
        insta::assert_snapshot!(load("tls_server_config:\n  cert_file: c\n  key_file: k\n  cipher_suites: [x]\n").unwrap_err(), @r#"DIR/web.yml:4:3: unknown field "cipher_suites""#);
        insta::assert_snapshot!(load("basic_auth_users:\n  admin: plain\n").unwrap_err(), @r#"DIR/web.yml: basic_auth_users: the password of "admin" is not a bcrypt hash"#);
        insta::assert_snapshot!(load("tls_server_config:\n  cert_file: c\n  key_file: k\n  client_auth_type: RequireAndVerifyClientCert\n").unwrap_err(), @"DIR/web.yml: client_ca_file must be set when client_auth_type verifies certificates");
    }
}
