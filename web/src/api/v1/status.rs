//! `/api/v1/status/*`: build info, flags, the running config (secrets already redacted by the
//! config module) and runtime info.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::envelope::success;
use super::time::format_rfc3339;
use crate::AppState;

pub(crate) async fn buildinfo() -> Response {
    success(
        &json!({
            "version": env!("CARGO_PKG_VERSION"),
            "revision": "",
            "branch": "",
            "buildUser": "",
            "buildDate": "",
            "goVersion": "",
        }),
        &[],
    )
}

pub(crate) async fn flags(State(state): State<AppState>) -> Response {
    let flags: Map<String, Value> =
        state.options.flags.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    success(&flags, &[])
}

pub(crate) async fn config(State(state): State<AppState>) -> Response {
    let yaml = state.config_yaml.read().expect("config lock").clone();
    success(&json!({ "yaml": yaml }), &[])
}

pub(crate) async fn runtimeinfo(State(state): State<AppState>) -> Response {
    let cwd = std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default();
    success(
        &json!({
            "startTime": format_rfc3339(Some(state.start_time)),
            "CWD": cwd,
            "reloadConfigSuccess": true,
            "lastConfigTime": format_rfc3339(Some(state.start_time)),
            "corruptionCount": 0,
            "goroutineCount": 0,
            "GOMAXPROCS": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            "GOMEMLIMIT": i64::MAX,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": "",
        }),
        &[],
    )
}
