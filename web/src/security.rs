//! Serving securely (`--web.config.file`): HTTPS through a TLS listener, basic auth checked
//! against bcrypt hashes, and configured response headers.
//!
//! TLS handshakes run in their own tasks and finished connections queue for axum, so a client
//! that stalls mid-handshake never blocks others. bcrypt is slow by design, so a successful
//! check is remembered (by a hash of user, password and stored hash) as exporter-toolkit does;
//! the remembered set is bounded.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

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

/// Accepts TCP connections and completes TLS handshakes concurrently.
pub(crate) struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
}

impl TlsListener {
    pub(crate) fn new(tcp: TcpListener, config: Arc<rustls::ServerConfig>) -> std::io::Result<TlsListener> {
        let local_addr = tcp.local_addr()?;
        let acceptor = TlsAcceptor::from(config);
        let (sender, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let (stream, addr) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: wait instead of spinning.
                        tracing::warn!(error = %err, "accepting a connection failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (acceptor, connection_sender) = (acceptor.clone(), sender.clone());
                tokio::spawn(async move {
                    let handshake = tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(stream));
                    match handshake.await {
                        Ok(Ok(tls)) => {
                            let _ = connection_sender.send((tls, addr)).await;
                        }
                        Ok(Err(err)) => tracing::debug!(client = %addr, error = %err, "TLS handshake failed"),
                        Err(_) => tracing::debug!(client = %addr, "TLS handshake timed out"),
                    }
                });
                if sender.is_closed() {
                    return;
                }
            }
        });
        Ok(TlsListener { ready, local_addr })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept task only ends when this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
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
