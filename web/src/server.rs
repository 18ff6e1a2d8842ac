//! The HTTP server's connections (upstream `web/web.go`: `netutil.LimitListener` and
//! `http.Server{ReadTimeout}`): an accept loop that keeps at most `--web.max-connections`
//! open, TLS handshakes, HTTP/1 and HTTP/2 through hyper, timeouts, and graceful shutdown.
//!
//! Invariants: every connection holds one slot from accept until its socket is closed. A
//! connection with no request in flight (still in its TLS handshake, still sending its first
//! header, or idle between keep-alive requests) is closed once it has been so for
//! `--web.read-timeout`, as Go's `ReadTimeout` bounds a header read and, with no
//! `IdleTimeout` set, an idle connection; a request's body must arrive within that time of its
//! head. A connection with a request in flight is never closed by this module except at
//! shutdown, and then only after its response.
//!
//! When every slot is taken, a new connection is not refused: the connection with no request
//! in flight that has been quiet longest is closed to make room (so a slowloris or idle flood
//! churns through its own connections while `/-/healthy` and `/-/ready` still get a slot).
//! Only when every slot has a request in flight does a new connection wait in the accept
//! backlog, as behind Prometheus's `LimitListener`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Bytes, HttpBody};
use axum::extract::Request;
use axum::response::Response;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// How many connections the server keeps and how long it waits for a client.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// `--web.max-connections`: connections open at once (at least 1).
    pub max_connections: u32,
    /// `--web.read-timeout`: the longest a connection may go without a request in flight, and
    /// the longest a request's body may take after its head; zero for no limit, as in Go.
    pub read_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// Prometheus's defaults: 512 connections, 5m.
    fn default() -> Self {
        ConnectionLimits { max_connections: 512, read_timeout: Duration::from_secs(300) }
    }
}

/// A TLS handshake takes milliseconds; a client that takes longer than this (or than the read
/// timeout, if shorter) is closed.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the accept loop waits for an evicted connection to let go of its slot before it
/// looks for another one to close (the chosen one may have started a request meanwhile).
const EVICTION_RETRY: Duration = Duration::from_millis(100);

/// What a read timeout of 0 (none) becomes: a year is as good as never, and stays far from
/// `Instant` overflow.
const NO_TIMEOUT: Duration = Duration::from_secs(365 * 86_400);

/// A listening socket on `addr` with the kernel's largest accept backlog, as Go's `net.Listen`
/// uses (`net.core.somaxconn`, capped at 65535), rather than the 128 of std and tokio: a burst
/// of connections past a short backlog has its SYNs dropped, and each such client (a probe
/// among them) waits a second for its retransmit.
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    let backlog = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .unwrap_or(4096)
        .min(65_535);
    socket.listen(backlog)
}

/// Serves `app` on `listener` (over TLS when `tls` is set) within `limits` until `shutdown`
/// resolves; then stops accepting, closes connections with no request in flight, lets the
/// others finish their responses, and returns when every connection is closed.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.max(1);
    let read_timeout = if limits.read_timeout.is_zero() { NO_TIMEOUT } else { limits.read_timeout };
    let slots = Arc::new(Slots::new(max));
    let (stop, stopped) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, client) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let permit = tokio::select! {
            permit = slots.make_room() => permit,
            () = &mut shutdown => break,
        };
        // As Go does for every TCP connection: a small response is not held back by Nagle.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(client = %client, error = %err, "setting TCP_NODELAY failed");
        }
        let connection = Connection {
            app: app.clone(),
            tracked: slots.register(),
            slots: Arc::clone(&slots),
            read_timeout,
            stopped: stopped.clone(),
            client,
        };
        tokio::spawn(connection.serve(stream, tls.clone(), permit));
    }
    drop(listener);
    let _ = stop.send(true);
    // Every slot back means every connection is closed.
    let _ = slots.permits.acquire_many(max).await;
    Ok(())
}

/// The connection slots and what each open connection is doing.
struct Slots {
    permits: Arc<Semaphore>,
    open: Mutex<HashMap<u64, Arc<Tracked>>>,
    next_id: AtomicU64,
    /// Woken when a connection's last request in flight ends: it may now be closed to make room.
    became_idle: Notify,
}

/// One open connection, as the accept loop and its own task see it.
struct Tracked {
    id: u64,
    in_flight: AtomicUsize,
    /// When the last request in flight ended, or when the connection was accepted.
    quiet_since: Mutex<Instant>,
    /// Set (and `evict` notified) when the accept loop wants this connection's slot.
    evicting: AtomicBool,
    evict: Notify,
}

impl Slots {
    fn new(max: u32) -> Slots {
        Slots {
            permits: Arc::new(Semaphore::new(max as usize)),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            became_idle: Notify::new(),
        }
    }

    fn register(&self) -> Arc<Tracked> {
        let tracked = Arc::new(Tracked {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            in_flight: AtomicUsize::new(0),
            quiet_since: Mutex::new(Instant::now()),
            evicting: AtomicBool::new(false),
            evict: Notify::new(),
        });
        self.open.lock().expect("connection slots lock").insert(tracked.id, Arc::clone(&tracked));
        tracked
    }

    fn unregister(&self, tracked: &Tracked) {
        self.open.lock().expect("connection slots lock").remove(&tracked.id);
    }

    /// A free slot; when there is none, closes the connection with no request in flight that
    /// has been quiet longest and takes its slot, or waits for one to free up.
    async fn make_room(&self) -> OwnedSemaphorePermit {
        loop {
            if let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() {
                return permit;
            }
            let evicted = self.evict_quietest();
            let permits = Arc::clone(&self.permits);
            tokio::select! {
                permit = permits.acquire_owned() => return permit.expect("the slots semaphore is never closed"),
                () = self.became_idle.notified() => {}
                () = tokio::time::sleep(EVICTION_RETRY), if evicted => {}
            }
        }
    }

    /// Asks the quietest connection with no request in flight to close; false when every
    /// connection has one (or is already closing).
    fn evict_quietest(&self) -> bool {
        let open = self.open.lock().expect("connection slots lock");
        let quietest = open
            .values()
            .filter(|t| t.in_flight.load(Ordering::Acquire) == 0 && !t.evicting.load(Ordering::Acquire))
            .min_by_key(|t| *t.quiet_since.lock().expect("connection state lock"));
        match quietest {
            Some(tracked) => {
                tracked.evicting.store(true, Ordering::Release);
                tracked.evict.notify_one();
                true
            }
            None => false,
        }
    }
}

impl Tracked {
    fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// When this connection will have gone `timeout` without a request in flight; while one
    /// is in flight, a time to look again.
    fn quiet_deadline(&self, timeout: Duration) -> Instant {
        if self.in_flight() > 0 {
            return Instant::now() + timeout;
        }
        *self.quiet_since.lock().expect("connection state lock") + timeout
    }
}

/// Counts a request in flight from its head until its response body is dropped (sent, or the
/// connection gone).
struct InFlight {
    tracked: Arc<Tracked>,
    slots: Arc<Slots>,
}

impl InFlight {
    fn enter(tracked: &Arc<Tracked>, slots: &Arc<Slots>) -> InFlight {
        tracked.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight { tracked: Arc::clone(tracked), slots: Arc::clone(slots) }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.tracked.quiet_since.lock().expect("connection state lock") = Instant::now();
        if self.tracked.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.slots.became_idle.notify_one();
        }
    }
}

/// One accepted connection and what it needs to serve it.
struct Connection {
    app: Router,
    tracked: Arc<Tracked>,
    slots: Arc<Slots>,
    read_timeout: Duration,
    stopped: watch::Receiver<bool>,
    client: SocketAddr,
}

/// Why a connection ended early.
enum Cut {
    Quiet,
    Evicted,
    Stopping,
}

impl Connection {
    async fn serve(mut self, stream: TcpStream, tls: Option<TlsAcceptor>, _permit: OwnedSemaphorePermit) {
        match tls {
            None => self.serve_http(TokioIo::new(stream)).await,
            Some(acceptor) => {
                let handshake_timeout = HANDSHAKE_TIMEOUT.min(self.read_timeout);
                let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(stream));
                let tls_stream = tokio::select! {
                    done = handshake => match done {
                        Ok(Ok(tls_stream)) => Some(tls_stream),
                        Ok(Err(err)) => {
                            tracing::debug!(client = %self.client, error = %err, "TLS handshake failed");
                            None
                        }
                        Err(_) => {
                            tracing::debug!(client = %self.client, "TLS handshake timed out");
                            None
                        }
                    },
                    cut = self.cut(false) => {
                        self.log_cut(&cut);
                        None
                    }
                };
                if let Some(tls_stream) = tls_stream {
                    self.serve_http(TokioIo::new(tls_stream)).await;
                }
            }
        }
        self.slots.unregister(&self.tracked);
    }

    async fn serve_http<I>(&mut self, io: I)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let service = ConnectionService {
            app: self.app.clone(),
            tracked: Arc::clone(&self.tracked),
            slots: Arc::clone(&self.slots),
            read_timeout: self.read_timeout,
        };
        let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        // `cut` bounds header reads for both protocols (and the protocol sniffing before them,
        // which hyper's HTTP/1 timer does not see), so hyper's own header timer stays off.
        builder.http1().header_read_timeout(None);
        let connection = builder.serve_connection(io, service);
        tokio::pin!(connection);
        let mut stopping = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(err) = result {
                        tracing::debug!(client = %self.client, error = %err, "HTTP connection ended with an error");
                    }
                    return;
                }
                cut = self.cut(stopping) => match cut {
                    Cut::Stopping if self.tracked.in_flight() > 0 => {
                        // Finish the responses in flight, then close.
                        stopping = true;
                        connection.as_mut().graceful_shutdown();
                    }
                    cut => {
                        self.log_cut(&cut);
                        return;
                    }
                },
            }
        }
    }

    /// Resolves when this connection should be closed: quiet for the read timeout, chosen to
    /// make room, or (unless already `stopping`) the server shutting down. Eviction of a
    /// connection whose request started meanwhile is refused.
    async fn cut(&mut self, stopping: bool) -> Cut {
        loop {
            let deadline = self.tracked.quiet_deadline(self.read_timeout);
            tokio::select! {
                () = tokio::time::sleep_until(deadline) => {
                    if self.tracked.in_flight() == 0 && Instant::now() >= self.tracked.quiet_deadline(self.read_timeout) {
                        return Cut::Quiet;
                    }
                }
                () = self.tracked.evict.notified() => {
                    if self.tracked.in_flight() == 0 {
                        return Cut::Evicted;
                    }
                    self.tracked.evicting.store(false, Ordering::Release);
                }
                _ = self.stopped.changed(), if !stopping => return Cut::Stopping,
            }
        }
    }

    fn log_cut(&self, cut: &Cut) {
        let why = match cut {
            Cut::Quiet => "no request within --web.read-timeout",
            Cut::Evicted => "closed to make room: every --web.max-connections slot was taken",
            Cut::Stopping => "server shutting down",
        };
        tracing::debug!(client = %self.client, why, "closing connection");
    }
}

/// The per-connection hyper service: counts requests in flight and bounds request bodies.
#[derive(Clone)]
struct ConnectionService {
    app: Router,
    tracked: Arc<Tracked>,
    slots: Arc<Slots>,
    read_timeout: Duration,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let in_flight = InFlight::enter(&self.tracked, &self.slots);
        let deadline = Instant::now() + self.read_timeout;
        let request: Request = request.map(|body| {
            axum::body::Body::new(DeadlineBody { inner: body, deadline: Box::pin(tokio::time::sleep_until(deadline)) })
        });
        // A `Router` is always ready, so it is called without `poll_ready`.
        let response = tower_service::Service::call(&mut self.app.clone(), request);
        Box::pin(async move {
            let response = response.await?;
            Ok(response.map(|body| axum::body::Body::new(GuardedBody { inner: body, _in_flight: in_flight })))
        })
    }
}

/// A request body that fails once `--web.read-timeout` has passed since the request's head,
/// as Go's `ReadTimeout` fails a read of the body.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

/// The request body did not arrive within `--web.read-timeout`.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within --web.read-timeout")]
struct BodyTimeout;

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyTimeout.into()))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that keeps its request counted in flight until hyper drops it.
struct GuardedBody {
    inner: axum::body::Body,
    _in_flight: InFlight,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
