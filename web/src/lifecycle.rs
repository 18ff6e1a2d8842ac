//! Lifecycle endpoints (upstream `web/web.go`): `/-/healthy` and `/-/ready`.
//! FIXME(#8): `/-/reload` and `/-/quit` behind `--web.enable-lifecycle`.

use std::sync::atomic::Ordering;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

use crate::AppState;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/-/healthy", get(healthy).head(healthy)).route("/-/ready", get(ready).head(ready))
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
