//! The JSON envelope `{status, data, errorType, error, warnings, infos}` and Prometheus's error
//! types with their status codes. Grafana reads bodies of 400, 422 and 503 only, so user-facing
//! errors use those. Keys come in the order of upstream's `Response` struct, which is the
//! order Go writes them (`web/api/v1/api.go`), and every string is escaped as Go escapes it.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::json;

/// An API error, rendered once here.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// Bad parameters or an invalid query: 400.
    #[error("{0}")]
    BadData(String),
    /// The query failed while running: 422.
    #[error("{0}")]
    Execution(String),
    /// The query ran out of time: 503.
    #[error("{0}")]
    Timeout(String),
    /// The query was canceled: 499.
    #[error("{0}")]
    Canceled(String),
    /// Storage is not ready yet: 503, the status of upstream's readiness gate in front of the API.
    #[error("{0}")]
    NotReady(String),
    /// A disabled API (the admin endpoints): 500, because upstream's `errorUnavailable` has no
    /// status of its own and takes the default (Prometheus 3.14 `web/api/v1/api.go`,
    /// `getDefaultErrorCode`; 2.42 answers the same).
    #[error("{0}")]
    Unavailable(String),
    /// A bug: 500.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    fn kind(&self) -> (&'static str, StatusCode) {
        match self {
            ApiError::BadData(_) => ("bad_data", StatusCode::BAD_REQUEST),
            ApiError::Execution(_) => ("execution", StatusCode::UNPROCESSABLE_ENTITY),
            ApiError::Timeout(_) => ("timeout", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::Canceled(_) => ("canceled", StatusCode::from_u16(499).expect("499 is a valid status")),
            ApiError::NotReady(_) => ("unavailable", StatusCode::SERVICE_UNAVAILABLE),
            ApiError::Unavailable(_) => ("unavailable", StatusCode::INTERNAL_SERVER_ERROR),
            ApiError::Internal(_) => ("internal", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl From<promlite_promql::QueryError> for ApiError {
    fn from(err: promlite_promql::QueryError) -> ApiError {
        let text = err.to_string();
        match err.error_type() {
            "bad_data" => ApiError::BadData(text),
            "execution" => ApiError::Execution(text),
            "timeout" => ApiError::Timeout(text),
            "canceled" => ApiError::Canceled(text),
            _ => ApiError::Internal(text),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (error_type, status) = self.kind();
        if matches!(self, ApiError::Internal(_)) {
            tracing::error!(error = %self, "internal API error");
        }
        let mut body = String::from(r#"{"status":"error","errorType":"#);
        json::write_string(&mut body, error_type);
        body.push_str(r#","error":"#);
        json::write_string(&mut body, &self.to_string());
        body.push('}');
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// A success envelope around `data`, which is already JSON text.
/// Upstream's `respond` writes at most this many warnings and as many infos, then says how
/// many it left out (`annotations.AsStrings(query, 10, 10)`).
const MAX_ANNOTATIONS: usize = 10;

pub(crate) fn success_raw(data: &str, warnings: &[String], infos: &[String]) -> Response {
    let mut body = String::with_capacity(data.len() + 64);
    body.push_str(r#"{"status":"success","data":"#);
    body.push_str(data);
    for (key, kind, list) in [("warnings", "warning", warnings), ("infos", "info", infos)] {
        if list.is_empty() {
            continue;
        }
        let mut shown = list[..list.len().min(MAX_ANNOTATIONS)].to_vec();
        if list.len() > MAX_ANNOTATIONS {
            shown.push(format!("{} more {kind} annotations omitted", list.len() - MAX_ANNOTATIONS));
        }
        body.push_str(&format!(",\"{key}\":{}", json::to_string(&shown)));
    }
    body.push('}');
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A success envelope around a serializable `data`.
pub(crate) fn success<T: serde::Serialize>(data: &T, warnings: &[String]) -> Response {
    success_raw(&json::to_string(data), warnings, &[])
}
