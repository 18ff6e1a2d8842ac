//! Serving securely (`--web.config.file`): the TLS server config (each connection's handshake
//! runs in its own task, in `server.rs`), basic auth checked against bcrypt hashes, and
//! configured response headers.
//!
//! bcrypt is slow by design, so a successful check is remembered (by a hash of user, password
//! and stored hash) as exporter-toolkit does; the remembered set is bounded.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

/// How the server authenticates clients and what it adds to responses.
#[derive(Clone, Default)]
pub struct ServerSecurity {
    /// Serve HTTPS with this config; plain HTTP when `None`.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// User name → bcrypt hash; empty means no authentication.
    pub basic_auth_users: BTreeMap<String, String>,
    /// Headers added to every response.
    pub headers: Vec<(String, String)>,
}

/// Checks basic auth and adds the configured headers.
#[derive(Clone)]
pub(crate) struct Guard {
    users: Arc<BTreeMap<String, String>>,
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
    verified: Arc<Mutex<HashSet<u64>>>,
}

const VERIFIED_CAPACITY: usize = 1024;

impl Guard {
    pub(crate) fn new(security: &ServerSecurity) -> Guard {
        let headers = security
            .headers
            .iter()
            .filter_map(|(name, value)| Some((HeaderName::try_from(name).ok()?, HeaderValue::try_from(value).ok()?)))
            .collect();
        Guard {
            users: Arc::new(security.basic_auth_users.clone()),
            headers: Arc::new(headers),
            verified: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Whether the request may pass. bcrypt runs on the blocking pool: it takes tens of
    /// milliseconds by design.
    async fn authorized(&self, authorization: Option<String>) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some(credentials) = authorization
            .as_deref()
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok())
            .and_then(|raw| String::from_utf8(raw).ok())
        else {
            return false;
        };
        let Some((user, password)) = credentials.split_once(':') else { return false };
        let Some(hash) = self.users.get(user).cloned() else { return false };
        let key = xxhash_rust::xxh3::xxh3_64(format!("{user}\0{password}\0{hash}").as_bytes());
        if self.verified.lock().expect("auth cache lock").contains(&key) {
            return true;
        }
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
            .await
            .unwrap_or(false);
        if ok {
            let mut verified = self.verified.lock().expect("auth cache lock");
            if verified.len() >= VERIFIED_CAPACITY {
                verified.clear();
            }
            verified.insert(key);
        }
        ok
    }
}

pub(crate) async fn guard(
    axum::extract::State(guard): axum::extract::State<Guard>,
    request: Request,
    next: Next,
) -> Response {
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut response = if guard.authorized(authorization).await {
        next.run(request).await
    } else {
        (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Basic")], "Unauthorized\n").into_response()
    };
    for (name, value) in guard.headers.iter() {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}
