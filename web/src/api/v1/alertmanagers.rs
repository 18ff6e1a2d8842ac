//! `/api/v1/alertmanagers`: the notifier's active and dropped Alertmanagers, each as `{url}`.

use axum::extract::State;
use axum::response::Response;
use serde::Serialize;

use super::envelope::success;
use crate::AppState;

#[derive(Serialize)]
struct AlertmanagerDiscovery {
    #[serde(rename = "activeAlertmanagers")]
    active: Vec<AlertmanagerTarget>,
    #[serde(rename = "droppedAlertmanagers")]
    dropped: Vec<AlertmanagerTarget>,
}

#[derive(Serialize)]
struct AlertmanagerTarget {
    url: String,
}

pub(crate) async fn alertmanagers(State(state): State<AppState>) -> Response {
    let urls = state.alertmanagers.alertmanagers();
    let targets = |urls: Vec<String>| urls.into_iter().map(|url| AlertmanagerTarget { url }).collect();
    success(&AlertmanagerDiscovery { active: targets(urls.active), dropped: targets(urls.dropped) }, &[])
}
