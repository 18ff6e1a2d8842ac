//! promlite's HTTP surface: the Prometheus v1 API, lifecycle endpoints, `/metrics` and pages.
//!
//! [`router`] builds the axum `Router` from an [`AppState`]: storage ([`Db`]), the PromQL
//! [`Engine`], and the scrape manager seen through [`TargetsView`]. Handlers take the state,
//! parse parameters like Prometheus (URL query and form body merged), and answer with
//! Prometheus's JSON envelope and status codes. Queries run on the blocking pool, bounded by
//! `--query.max-concurrency`.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod alertmanagers_view;
mod api;
mod federate;
mod lifecycle;
pub mod metrics;
mod pages;
mod redact;
mod rules_view;
mod security;
mod server;
mod targets_view;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::SystemTime;

use axum::Router;
use promlite_prompb as prompb;
use promlite_prompb::v2 as prompb_v2;
use promlite_promql::Engine;
use promlite_storage::Db;
use tokio::sync::Semaphore;

pub use alertmanagers_view::{AlertmanagerUrls, AlertmanagersView, NoAlertmanagers};
pub use api::v1::RemoteWriteReceiver;
pub use lifecycle::{ConfigReloads, ReloadError};
pub use redact::{redact_password_in, redact_url};
pub use rules_view::{AlertSnapshot, AlertingSnapshot, NoRules, RuleGroupSnapshot, RuleSnapshot, RulesView};
pub use security::ServerSecurity;
pub use server::{ConnectionLimits, bind};
pub use targets_view::{ActiveTarget, DroppedTarget, TargetHealth, TargetMetadata, TargetsView};

/// Settings from `--web.*` flags that handlers need.
#[derive(Debug, Clone)]
pub struct WebOptions {
    /// `--web.route-prefix`, normalised to start with `/` and not end with one (`""` for root).
    pub route_prefix: String,
    /// `--web.external-url`, used for links and targets' `globalUrl`.
    pub external_url: String,
    /// `--web.listen-address`: a loopback target on its port is promlite itself.
    pub listen_address: String,
    /// `--web.enable-lifecycle`.
    pub enable_lifecycle: bool,
    /// `--web.enable-admin-api`.
    pub enable_admin_api: bool,
    /// `--web.enable-remote-write-receiver`: serve `POST /api/v1/write`.
    pub enable_remote_write_receiver: bool,
    /// `--storage.remote.read-sample-limit`: most samples a SAMPLES remote-read answer may
    /// hold (0: no limit).
    pub remote_read_sample_limit: usize,
    /// `--storage.remote.read-max-bytes-in-frame`: where a streamed remote-read frame is cut.
    pub remote_read_max_bytes_in_frame: usize,
    /// Every flag and its value, for `/api/v1/status/flags`.
    pub flags: Vec<(String, String)>,
}

/// The Prometheus version promlite answers as in `/api/v1/status/buildinfo` and
/// `prometheus_build_info`. Grafana picks its API calls by this version when it detects the
/// datasource: below 2.24 it lists a metric's label values through `/api/v1/series` (the whole
/// series set) instead of `/api/v1/label/<name>/values?match[]=`, which makes dashboard
/// variables far slower on large installations. promlite follows Prometheus 3's API and PromQL,
/// so it answers 3.0.0: the lowest version with those semantics, so Grafana asks for nothing a
/// later 3.x added. promlite's own version is in `promliteVersion` and `promlite_build_info`.
pub const PROMETHEUS_COMPATIBLE_VERSION: &str = "3.0.0";

/// Everything a handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The TSDB.
    pub db: Db,
    /// The PromQL engine.
    pub engine: Arc<Engine>,
    /// Scrape and discovery state.
    pub targets: Arc<dyn TargetsView>,
    /// Rule groups, rules and alerts.
    pub rules: Arc<dyn RulesView>,
    /// The notifier's Alertmanagers.
    pub alertmanagers: Arc<dyn AlertmanagersView>,
    /// Web settings.
    pub options: Arc<WebOptions>,
    /// The running config as YAML, secrets already redacted.
    pub config_yaml: Arc<std::sync::RwLock<String>>,
    /// True once storage is open and replayed.
    pub ready: Arc<AtomicBool>,
    /// One permit per concurrent query (`--query.max-concurrency`).
    pub query_slots: Arc<Semaphore>,
    /// Remote-read requests served at once (`--storage.remote.read-concurrent-limit`; `None`
    /// for no limit).
    pub remote_read_slots: Option<Arc<Semaphore>>,
    /// When the server started.
    pub start_time: SystemTime,
    /// Re-reads and applies the config file (`/-/reload`, SIGHUP). It logs nothing on failure:
    /// the caller shows and logs the error.
    pub reload: Arc<dyn Fn() -> Result<(), ReloadError> + Send + Sync>,
    /// Notified by `/-/quit` to shut the server down gracefully.
    pub quit: Arc<tokio::sync::Notify>,
    /// `global.external_labels` of the running config, for `/federate`.
    pub external_labels: Arc<std::sync::RwLock<Vec<(String, String)>>>,
    /// The process's metrics registry, which `/metrics` writes.
    pub registry: Arc<promlite_metrics::Registry>,
    /// The HTTP server's and the PromQL engine's families in it.
    pub metrics: Arc<metrics::ServerMetrics>,
    /// The remote-write receiver's series-ref cache and counters.
    pub remote_write: Arc<RemoteWriteReceiver>,
    /// How the config's reloads went; main's reload closure records each.
    pub config_reloads: Arc<lifecycle::ConfigReloads>,
}

/// The whole HTTP surface, served under `--web.route-prefix`.
pub fn router(state: AppState) -> Router {
    let prefix = state.options.route_prefix.clone();
    let routes = Router::new()
        .nest("/api/v1", api::v1::routes())
        .merge(lifecycle::routes())
        .merge(metrics::routes())
        .merge(pages::routes())
        .merge(federate::routes())
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::instrument))
        .with_state(state)
        .layer(tower_http::compression::CompressionLayer::new().gzip(true));
    if prefix.is_empty() {
        return routes;
    }
    // `nest` serves `/prom` but not `/prom/`; send both to the targets page.
    let to_targets = axum::response::Redirect::to(&format!("{prefix}/targets"));
    Router::new()
        .route(&format!("{prefix}/"), axum::routing::get(move || async move { to_targets }))
        .nest(&prefix, routes)
}

/// Serves [`router`] on `listener` until `shutdown` resolves, then finishes open requests:
/// HTTPS when `security.tls` is set, behind basic auth when users are configured, with at most
/// `limits.max_connections` connections open and `limits.read_timeout` to read a request.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    security: ServerSecurity,
    limits: ConnectionLimits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let guard = security::Guard::new(&security);
    let app = router(state).layer(axum::middleware::from_fn_with_state(guard, security::guard));
    let tls = security.tls.map(tokio_rustls::TlsAcceptor::from);
    server::run(listener, app, tls, limits, shutdown).await
}
