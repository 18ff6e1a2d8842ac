//! `POST /api/v1/write`: the remote-write 1.0 receiver (upstream `storage/remote/write_handler.go`).
//!
//! Status codes: 204 when the
//! request was stored, 400 for a body that does not decode or a sample the head refuses (out of
//! order, duplicate, out of bounds, more than 10 minutes in the future: retrying cannot help),
//! 415 for an unsupported `Content-Type`/`Content-Encoding`, 404 while the receiver is disabled.
//! Deviation: Prometheus rolls a 1.0 request back entirely on the first refused sample; the
//! head here refuses samples at commit one by one, so the other samples of the request are
//! kept (what Prometheus does for remote write 2.0). The answer is the same 400 either way, so
//! a sender behaves the same.
//! FIXME(#9): remote write 2.0 (`io.prometheus.write.v2.Request`) answers 415; metadata is
//! decoded and ignored (the head stores none); exemplars and native histograms are counted and
//! dropped.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promlite_storage::{AppendError, Labels};

use super::text_error;
use crate::AppState;
use crate::prompb::{self, WriteRequest};

/// How far ahead of the wall clock a sample may be (upstream `maxAheadTime`).
const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;

static INVALID_LABELS_SAMPLES: AtomicU64 = AtomicU64::new(0);
static EXEMPLARS_DROPPED: AtomicU64 = AtomicU64::new(0);
static HISTOGRAMS_DROPPED: AtomicU64 = AtomicU64::new(0);
static METADATA_DROPPED: AtomicU64 = AtomicU64::new(0);

/// Checks `Content-Type` and `Content-Encoding` as upstream does for a receiver that accepts
/// 1.0 only: no `Content-Type` means 1.0; `proto=` must name `prometheus.WriteRequest`.
/// The error is the text of a 415 answer.
fn check_write_headers(headers: &HeaderMap) -> Result<(), String> {
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let content_type = content_type.to_str().unwrap_or("");
        let mut parts = content_type.split(';').map(str::trim);
        if parts.next() != Some(prompb::CONTENT_TYPE) {
            let msg =
                format!("expected {} as the first (media) part, got {content_type} content-type", prompb::CONTENT_TYPE);
            return Err(msg);
        }
        for part in parts {
            if let Some(proto) = part.strip_prefix("proto=")
                && proto != "prometheus.WriteRequest"
            {
                let msg = format!(
                    "{proto} protobuf message is not accepted by this server; accepted [prometheus.WriteRequest]"
                );
                return Err(msg);
            }
        }
    }
    match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?")) {
        None | Some("") | Some("snappy") => Ok(()),
        Some(other) => {
            let msg =
                format!("{other} encoding (compression) is not accepted by this server; only snappy is acceptable");
            Err(msg)
        }
    }
}

/// Why a series of a request was skipped rather than appended.
fn invalid_labels(labels: &[prompb::Label]) -> Option<&'static str> {
    if !labels.iter().any(|l| l.name == "__name__" && !l.value.is_empty()) {
        return Some("no metric name");
    }
    if labels.iter().any(|l| l.name.is_empty()) {
        return Some("empty label name");
    }
    for (i, label) in labels.iter().enumerate() {
        if labels[i + 1..].iter().any(|other| other.name == label.name) {
            return Some("duplicate label name");
        }
    }
    None
}

/// `POST /api/v1/write`.
pub(crate) async fn write(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    if !state.options.enable_remote_write_receiver {
        return text_error(
            StatusCode::NOT_FOUND,
            "remote write receiver needs to be enabled with --web.enable-remote-write-receiver",
        );
    }
    if let Err(msg) = check_write_headers(&headers) {
        return text_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &msg);
    }
    let request: WriteRequest = match prompb::decode_snappy(&body) {
        Ok(request) => request,
        Err(err) => {
            tracing::debug!(error = %err, "error decoding remote write request");
            return text_error(StatusCode::BAD_REQUEST, &err.to_string());
        }
    };
    let db = state.db.clone();
    // Appending takes locks and may write the WAL: off the async workers.
    let outcome = tokio::task::spawn_blocking(move || append_request(&db, request)).await;
    match outcome {
        Ok(None) => StatusCode::NO_CONTENT.into_response(),
        Ok(Some(refused)) => text_error(StatusCode::BAD_REQUEST, &refused),
        Err(err) => text_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("appending remote write: {err}")),
    }
}

/// Appends every valid series' samples in one commit; returns the first refusal, if any.
fn append_request(db: &promlite_storage::Db, request: WriteRequest) -> Option<String> {
    METADATA_DROPPED.fetch_add(request.metadata.len() as u64, Ordering::Relaxed);
    let max_t = now_ms().saturating_add(MAX_AHEAD_MS);
    let mut app = db.appender();
    let mut first_refusal: Option<String> = None;
    let mut refuse = |err: AppendError, labels: &Labels, t: i64| {
        if first_refusal.is_none() {
            first_refusal = Some(format!("{err} for series {labels} at timestamp {t}"));
        }
    };
    for series in &request.timeseries {
        EXEMPLARS_DROPPED.fetch_add(series.exemplars.len() as u64, Ordering::Relaxed);
        HISTOGRAMS_DROPPED.fetch_add(series.histograms.len() as u64, Ordering::Relaxed);
        if let Some(reason) = invalid_labels(&series.labels) {
            tracing::warn!(reason, labels = ?series.labels, "invalid metric name or labels in remote write");
            INVALID_LABELS_SAMPLES.fetch_add(series.samples.len() as u64, Ordering::Relaxed);
            continue;
        }
        let labels = Labels::from_pairs(series.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())));
        let mut series_ref = None;
        for sample in &series.samples {
            if sample.timestamp > max_t {
                refuse(AppendError::OutOfBounds, &labels, sample.timestamp);
                continue;
            }
            match series_ref {
                Some(r) => app.append_ref(r, sample.timestamp, sample.value),
                None => match app.append(&labels, sample.timestamp, sample.value) {
                    Ok(r) => series_ref = Some(r),
                    Err(err) => {
                        INVALID_LABELS_SAMPLES.fetch_add(series.samples.len() as u64, Ordering::Relaxed);
                        tracing::warn!(error = %err, "remote write series refused");
                        break;
                    }
                },
            }
        }
    }
    let rejected = app.commit();
    if let Some((_, err)) = rejected.first() {
        tracing::error!(error = %err, refused = rejected.len(), "out of order sample from remote write");
        if first_refusal.is_none() {
            first_refusal = Some(err.to_string());
        }
    }
    first_refusal
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The receiver's counters, for `/metrics`.
pub(crate) fn write_metrics(out: &mut String) {
    use std::fmt::Write as _;
    let counters = [
        (
            "prometheus_api_remote_write_invalid_labels_samples_total",
            "The total number of received remote write samples and histogram samples which were rejected due to invalid labels.",
            &INVALID_LABELS_SAMPLES,
        ),
        (
            "promlite_api_remote_write_exemplars_dropped_total",
            "Exemplars received by remote write and dropped: promlite stores no exemplars.",
            &EXEMPLARS_DROPPED,
        ),
        (
            "promlite_api_remote_write_histograms_dropped_total",
            "Native histogram samples received by remote write and dropped: promlite stores no native histograms.",
            &HISTOGRAMS_DROPPED,
        ),
        (
            "promlite_api_remote_write_metadata_dropped_total",
            "Metric metadata entries received by remote write and not stored.",
            &METADATA_DROPPED,
        ),
    ];
    for (name, help, counter) in counters {
        let _ =
            writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", counter.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn label(name: &str, value: &str) -> prompb::Label {
        prompb::Label { name: name.into(), value: value.into() }
    }

    #[test]
    fn labels_without_name_or_with_duplicates_are_invalid() {
        assert_eq!(invalid_labels(&[label("job", "a")]), Some("no metric name"));
        assert_eq!(invalid_labels(&[label("__name__", "up"), label("", "x")]), Some("empty label name"));
        assert_eq!(
            invalid_labels(&[label("__name__", "up"), label("a", "1"), label("a", "2")]),
            Some("duplicate label name")
        );
        assert_eq!(invalid_labels(&[label("__name__", "up"), label("a", "1")]), None);
    }

    #[test]
    fn content_headers_as_upstream() {
        let mut headers = HeaderMap::new();
        assert!(check_write_headers(&headers).is_ok());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
        assert!(check_write_headers(&headers).is_ok());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf;proto=io.prometheus.write.v2.Request"),
        );
        assert!(check_write_headers(&headers).is_err());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(check_write_headers(&headers).is_err());
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-protobuf"));
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        assert!(check_write_headers(&headers).is_err());
    }
}
