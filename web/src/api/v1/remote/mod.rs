//! The remote-storage endpoints: `POST /api/v1/write` (the receiver, [`write`]) and
//! `POST /api/v1/read` ([`read`]). Status codes and error texts are Prometheus's, because
//! senders and readers decide on them whether to retry.

pub(crate) mod read;
pub(crate) mod write;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use write::RemoteWriteReceiver;

/// The largest compressed body read (axum's default of 2 MiB is below what a sender with a
/// large `max_samples_per_send` posts).
pub(crate) const MAX_BODY_BYTES: usize = 32 << 20;

/// Go's `http.Error`: a plain-text line.
fn text_error(status: StatusCode, message: &str) -> Response {
    let mut response = (status, format!("{message}\n")).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}
