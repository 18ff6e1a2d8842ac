//! Lifecycle endpoints (upstream `web/web.go`): `/-/healthy`, `/-/ready`, and, only with
//! `--web.enable-lifecycle`, `/-/reload` and `/-/quit` (PUT or POST; 403 otherwise, as Prometheus).

use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::AppState;

/// Why a reload (`/-/reload`, SIGHUP) failed. The texts are Prometheus's. Defined here, where
/// the reload is asked for; the binary fills it with its own config and start-up errors.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The file did not load; the running config is untouched.
    #[error("couldn't load configuration (--config.file={file:?}): {source}")]
    Load {
        /// `--config.file`.
        file: String,
        /// Why it did not load.
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The file loaded and is running, but these parts of it could not start.
    #[error(
        "one or more errors occurred while applying the new configuration (--config.file={file:?}): {}",
        join(errors)
    )]
    Apply {
        /// `--config.file`.
        file: String,
        /// One per job, remote-write queue or remote-read client that did not start.
        errors: Vec<Box<dyn std::error::Error + Send + Sync>>,
    },
}

fn join(errors: &[Box<dyn std::error::Error + Send + Sync>]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/-/healthy", get(healthy).head(healthy))
        .route("/-/ready", get(ready).head(ready))
        .route("/-/reload", post(reload).put(reload))
        .route("/-/quit", post(quit).put(quit))
}

async fn healthy() -> &'static str {
    "Prometheus Server is Healthy.\n"
}

async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    not_ready(&state).unwrap_or((StatusCode::OK, "Prometheus Server is Ready.\n"))
}

/// Upstream's `readyf` (and the API's `ready`): the 503 an endpoint that reads storage answers
/// until it is open and its WAL replayed, `None` once ready. A partial head would answer wrong.
pub(crate) fn not_ready(state: &AppState) -> Option<(StatusCode, &'static str)> {
    (!state.ready.load(Ordering::Acquire)).then_some((StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable"))
}

const LIFECYCLE_DISABLED: (StatusCode, &str) = (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n");

async fn reload(State(state): State<AppState>) -> (StatusCode, String) {
    if !state.options.enable_lifecycle {
        return (LIFECYCLE_DISABLED.0, LIFECYCLE_DISABLED.1.to_owned());
    }
    // Loading reads files and starting pools spawns tasks: run it on the blocking pool, which
    // is inside the runtime.
    let reload = std::sync::Arc::clone(&state.reload);
    // The client gets the text; the log gets it once, here, as for a SIGHUP reload.
    match tokio::task::spawn_blocking(move || reload()).await {
        Ok(Ok(())) => (StatusCode::OK, String::new()),
        Ok(Err(err)) => {
            tracing::error!(error = %err, "error reloading config (/-/reload)");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {err}\n"))
        }
        Err(err) => {
            tracing::error!(error = %err, "reload task failed (/-/reload)");
            (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {err}\n"))
        }
    }
}

async fn quit(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if !state.options.enable_lifecycle {
        return LIFECYCLE_DISABLED;
    }
    state.quit.notify_one();
    (StatusCode::OK, "Requesting termination... Goodbye!\n")
}

/// How the config's reloads went, for `/api/v1/status/runtimeinfo` (`reloadConfigSuccess`,
/// `lastConfigTime`) and `/metrics` (`prometheus_config_last_reload_*`). The load at start
/// counts as the first reload, as upstream's does.
#[derive(Debug)]
pub struct ConfigReloads {
    successful: std::sync::atomic::AtomicBool,
    last_success_nanos: std::sync::atomic::AtomicU64,
}

impl ConfigReloads {
    /// The state after the config loaded at `loaded`.
    pub fn new(loaded: std::time::SystemTime) -> ConfigReloads {
        ConfigReloads {
            successful: std::sync::atomic::AtomicBool::new(true),
            last_success_nanos: std::sync::atomic::AtomicU64::new(unix_nanos(loaded)),
        }
    }

    /// Records a reload's outcome (SIGHUP or `/-/reload`).
    pub fn record(&self, succeeded: bool) {
        self.successful.store(succeeded, Ordering::Release);
        if succeeded {
            self.last_success_nanos.store(unix_nanos(std::time::SystemTime::now()), Ordering::Release);
        }
    }

    /// Whether the last reload succeeded.
    pub fn successful(&self) -> bool {
        self.successful.load(Ordering::Acquire)
    }

    /// When the config last loaded successfully.
    pub fn last_success(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_nanos(self.last_success_nanos.load(Ordering::Acquire))
    }
}

fn unix_nanos(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
