//! Lifecycle endpoints (upstream `web/web.go`): `/-/healthy`, `/-/ready`, and, only with
//! `--web.enable-lifecycle`, `/-/reload` and `/-/quit` (PUT or POST; 403 otherwise, as Prometheus).

use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::AppState;

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
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "Prometheus Server is Ready.\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
    }
}

const LIFECYCLE_DISABLED: (StatusCode, &str) = (StatusCode::FORBIDDEN, "Lifecycle API is not enabled.\n");

async fn reload(State(state): State<AppState>) -> (StatusCode, String) {
    if !state.options.enable_lifecycle {
        return (LIFECYCLE_DISABLED.0, LIFECYCLE_DISABLED.1.to_owned());
    }
    // Loading reads files and starting pools spawns tasks: run it on the blocking pool, which
    // is inside the runtime.
    let reload = std::sync::Arc::clone(&state.reload);
    match tokio::task::spawn_blocking(move || reload()).await {
        Ok(Ok(())) => (StatusCode::OK, String::new()),
        Ok(Err(err)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {err}\n")),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed to reload config: {err}\n")),
    }
}

async fn quit(State(state): State<AppState>) -> (StatusCode, &'static str) {
    if !state.options.enable_lifecycle {
        return LIFECYCLE_DISABLED;
    }
    state.quit.notify_one();
    (StatusCode::OK, "Requesting termination... Goodbye!\n")
}
