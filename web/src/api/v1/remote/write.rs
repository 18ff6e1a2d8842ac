//! `POST /api/v1/write`: the remote-write receiver, 1.0 and 2.0 (upstream
//! `storage/remote/write_handler.go`).
//!
//! The `Content-Type`'s `proto=` parameter picks the message: none or `prometheus.WriteRequest`
//! is 1.0, `io.prometheus.write.v2.Request` is 2.0, anything else 415 listing both. Status
//! codes: 204 when the request was stored, 400 for a body that does not decode or data the
//! head refuses (out of order, duplicate, out of bounds, more than 10 minutes in the future:
//! retrying cannot help), 415 for an unsupported `Content-Type`/`Content-Encoding`, 404 while
//! the receiver is disabled.
//!
//! 1.0 deviation: Prometheus rolls a 1.0 request back entirely on the first refused sample; the
//! head here refuses samples at commit one by one, so the other samples of the request are kept
//! (what Prometheus does for 2.0). The answer is the same 400 either way, so a sender behaves
//! the same. A 1.0 series without a metric name is skipped and counted, as upstream.
//!
//! 2.0, as upstream: every answer after negotiation carries the
//! `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written` headers with what was
//! actually stored, 400 answers included (partial writes: the valid rest of the request is
//! kept). A series with invalid labels or a symbol reference outside `symbols` is a 400 naming
//! the series (and the reference); the rest still lands. `start_timestamp` is ignored, which is
//! upstream's default (its zero-sample ingestion is behind a feature flag). Deviations: the 400
//! text lists at most 20 problems and counts the rest (upstream joins them all, which can run to
//! megabytes), and the head's refusals come one line per series and reason, after the others; a
//! body that does not decode also gets the headers (all 0; upstream sends none there).
//!
//! 1.0 decodes into [`prompb::recv`] (label strings borrowed from the body) and remembers, in
//! the server's [`RemoteWriteReceiver`], the head ref of every series it stored by a 128-bit hash of its labels as they came
//! on the wire ([`SeriesRefCache`]): senders put each sample in its own `TimeSeries`, so every
//! sample repeats its full label set, and a known series then costs a hash and a map lookup
//! instead of a `Labels` build and the head's label-set lookup (`web/benches/remote_write.rs`).
//!
//! Both versions: metadata is decoded and counted, not stored (the head has no metadata
//! store); exemplars and native histograms are counted and dropped, so 2.0 answers
//! `Histograms-Written: 0` and `Exemplars-Written: 0`.
//! FIXME(#9): metadata, exemplars and native histograms are not stored (they need head
//! support); upstream's `prometheus_api_remote_write_without_metadata_appended_samples_total`
//! is not kept.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promlite_storage::{AppendError, Labels, SeriesRef};

use super::text_error;
use crate::AppState;
use crate::prompb::{self, recv};
use crate::prompb_v2;

/// How far ahead of the wall clock a sample may be (upstream `maxAheadTime`).
const MAX_AHEAD_MS: i64 = 10 * 60 * 1000;
/// The 1.0 message's name in a `Content-Type`'s `proto=`.
const PROTO_MESSAGE_V1: &str = "prometheus.WriteRequest";
/// How many problems a 2.0 400 answer lists; the rest are counted. A request of thousands of
/// out-of-order samples would otherwise answer megabytes of text.
const MAX_REPORTED_ERRORS: usize = 20;

/// The receiver's own state, one per server ([`AppState::remote_write`]): the 1.0 series-ref
/// cache, shared by every request, and the counters of what it refused or dropped.
#[derive(Default)]
pub struct RemoteWriteReceiver {
    refs: RwLock<SeriesRefCache>,
    invalid_labels_samples: AtomicU64,
    exemplars_dropped: AtomicU64,
    histograms_dropped: AtomicU64,
    metadata_dropped: AtomicU64,
}

/// The fewest entries [`SeriesRefCache`] may hold before it is emptied; past it, the limit is
/// twice the head's series (a series may come with its labels in more than one order).
const SERIES_REFS_MIN_LIMIT: usize = 1 << 16;

/// Wire label set → head ref of the series the 1.0 receiver stored it as. Keys are the xxh3-128
/// of the labels in wire order as `name 0xff value 0xff ...` (0xff is never in UTF-8, so the
/// bytes name one pair sequence), as the scrape loop's series cache keys on its series text: a
/// 16-byte key, and a 128-bit collision is not a practical risk. The same pairs always make the
/// same `Labels` and are always equally valid, so only series that passed the checks and were
/// appended are kept, and a hit skips both.
///
/// Refs belong to the server's one `Db`. Head truncation removes series that have no sample
/// left: a cached ref of one fails the commit with `UnknownSeriesRef`, which empties the cache
/// and answers 500 so the sender retries (the samples the commit did store come back as exact
/// resends, which the head accepts silently). That happens only to a series that came back
/// after more than the head's span without samples.
#[derive(Default)]
struct SeriesRefCache {
    refs: HashMap<u128, SeriesRef, BuildHasherDefault<KeyHasher>>,
}

/// Hashes a [`SeriesRefCache`] key, already an xxh3 hash, by folding it to 64 bits.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }

    fn write_u128(&mut self, key: u128) {
        self.0 = (key as u64) ^ ((key >> 64) as u64);
    }
}

/// The [`SeriesRefCache`] key of a series' wire labels; `buf` is scratch space.
fn series_key(labels: &[recv::Label], buf: &mut Vec<u8>) -> u128 {
    buf.clear();
    for label in labels {
        buf.extend_from_slice(label.name.as_bytes());
        buf.push(0xff);
        buf.extend_from_slice(label.value.as_bytes());
        buf.push(0xff);
    }
    xxhash_rust::xxh3::xxh3_128(buf)
}

/// The `Labels` a series' wire labels make: sorted, empty values dropped.
fn labels_of(labels: &[recv::Label]) -> Labels {
    Labels::from_pairs(labels.iter().map(|l| (l.name, l.value)))
}

/// The message a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ProtoMsg {
    /// `prometheus.WriteRequest`.
    V1,
    /// `io.prometheus.write.v2.Request`.
    V2,
}

/// Headers a write request is refused for (415); the texts are upstream's.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum WriteHeaderError {
    /// The media type is not `application/x-protobuf`.
    #[error("expected {} as the first (media) part, got {content_type} content-type", prompb::CONTENT_TYPE)]
    MediaType {
        /// The `Content-Type` as sent.
        content_type: String,
    },
    /// `proto=` names neither message.
    #[error(
        "{proto} protobuf message is not accepted by this server; accepted [{PROTO_MESSAGE_V1}, {}]",
        prompb_v2::PROTO_MESSAGE
    )]
    ProtoMessage {
        /// The `proto=` value.
        proto: String,
    },
    /// A `Content-Encoding` other than snappy.
    #[error("{encoding} encoding (compression) is not accepted by this server; only snappy is acceptable")]
    Encoding {
        /// The `Content-Encoding` as sent.
        encoding: String,
    },
}

/// Negotiates as upstream's `parseProtoMsg` does: no `Content-Type` or no `proto=` means 1.0;
/// `proto=` must name one of the two messages; the encoding must be snappy (or absent).
fn check_write_headers(headers: &HeaderMap) -> Result<ProtoMsg, WriteHeaderError> {
    let mut proto_msg = ProtoMsg::V1;
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        let content_type = content_type.to_str().unwrap_or("");
        let mut parts = content_type.split(';').map(str::trim);
        if parts.next() != Some(prompb::CONTENT_TYPE) {
            return Err(WriteHeaderError::MediaType { content_type: content_type.to_owned() });
        }
        for part in parts {
            let Some(proto) = part.strip_prefix("proto=") else { continue };
            proto_msg = match proto {
                PROTO_MESSAGE_V1 => ProtoMsg::V1,
                prompb_v2::PROTO_MESSAGE => ProtoMsg::V2,
                other => return Err(WriteHeaderError::ProtoMessage { proto: other.to_owned() }),
            };
        }
    }
    match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?")) {
        None | Some("") | Some("snappy") => Ok(proto_msg),
        Some(other) => Err(WriteHeaderError::Encoding { encoding: other.to_owned() }),
    }
}

/// Why a series of a request cannot be stored, if it cannot.
fn invalid_labels(labels: &[(&str, &str)]) -> Option<&'static str> {
    if !labels.iter().any(|&(name, value)| name == "__name__" && !value.is_empty()) {
        return Some("no metric name");
    }
    if labels.iter().any(|(name, _)| name.is_empty()) {
        return Some("empty label name");
    }
    // Sorted once, so a series of many labels costs n log n, not n² (80k labels took 19.6 s).
    let mut names: Vec<&str> = labels.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Some("duplicate label name");
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
    let proto_msg = match check_write_headers(&headers) {
        Ok(proto_msg) => proto_msg,
        Err(err) => return text_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, &err.to_string()),
    };
    // Upstream refuses every API call with 503 until the TSDB is ready; appending mid-replay
    // would lose the replay's older samples as out of order.
    if !state.db.ready() {
        let response = text_error(StatusCode::SERVICE_UNAVAILABLE, NOT_READY);
        return if proto_msg == ProtoMsg::V2 { with_written_headers(response, 0) } else { response };
    }
    if proto_msg == ProtoMsg::V2 {
        return write_v2(state, &body).await;
    }
    let raw = match prompb::decompress_snappy(&body) {
        Ok(raw) => raw,
        Err(err) => {
            tracing::debug!(error = %err, "error decoding remote write request");
            return text_error(StatusCode::BAD_REQUEST, &err.to_string());
        }
    };
    let db = state.db.clone();
    // Decoding and appending are CPU work, take locks and may write the WAL: off the async
    // workers. The request borrows `raw`, so both happen there.
    let outcome = tokio::task::spawn_blocking(move || {
        recv::decode(&raw).map(|request| append_request(&state.remote_write, &db, &request))
    })
    .await;
    match outcome {
        Ok(Ok(V1Outcome::Stored)) => StatusCode::NO_CONTENT.into_response(),
        Ok(Ok(V1Outcome::Refused(refused))) => text_error(StatusCode::BAD_REQUEST, &refused),
        Ok(Ok(V1Outcome::Retry(reason))) => text_error(StatusCode::INTERNAL_SERVER_ERROR, &reason),
        Ok(Ok(V1Outcome::Unavailable(reason))) => text_error(StatusCode::SERVICE_UNAVAILABLE, &reason),
        Ok(Err(err)) => {
            if let prompb::DecodeError::RecvDecoder { at } = err {
                // A bug in our decoder, not in the sender: for an operator to report.
                tracing::error!(at, "the receive-side remote write decoder refused a body prost accepts");
            } else {
                tracing::debug!(error = %err, "error decoding remote write request");
            }
            text_error(StatusCode::BAD_REQUEST, &err.to_string())
        }
        Err(err) => text_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("appending remote write: {err}")),
    }
}

/// How a 1.0 request went.
#[derive(Debug, PartialEq)]
enum V1Outcome {
    /// Everything valid was stored (204).
    Stored,
    /// The first refusal (400; the rest of the request was stored).
    Refused(String),
    /// A cached series ref was gone from the head (500, so the sender retries).
    Retry(String),
    /// Nothing was stored: the TSDB is not ready or cannot write its WAL (503, retried).
    Unavailable(String),
}

/// The 503 text while the WAL replay runs.
const NOT_READY: &str = "TSDB not ready: the WAL replay is still running; retry later";

/// The 503 text for a commit that stored nothing.
fn unavailable(err: &promlite_storage::CommitError) -> String {
    match err {
        promlite_storage::CommitError::NotReady => NOT_READY.to_owned(),
        promlite_storage::CommitError::Wal(err) => format!("storing the samples failed, nothing was stored: {err}"),
    }
}

/// Where a 1.0 series' samples go.
enum Target {
    /// A series the head has: append by ref.
    Known(SeriesRef),
    /// Not seen yet: the first sample appends by labels.
    New(Labels),
}

/// Appends every valid series' samples in one commit; says what the answer is.
fn append_request(
    receiver: &RemoteWriteReceiver,
    db: &promlite_storage::Db,
    request: &recv::WriteRequest,
) -> V1Outcome {
    receiver.metadata_dropped.fetch_add(request.metadata as u64, Ordering::Relaxed);
    let max_t = now_ms().saturating_add(MAX_AHEAD_MS);
    let mut buf = Vec::new();
    let keys: Vec<u128> = request.timeseries.iter().map(|s| series_key(request.labels(s), &mut buf)).collect();
    let cached: Vec<Option<SeriesRef>> = {
        let cache = receiver.refs.read().expect("series ref cache lock");
        keys.iter().map(|key| cache.refs.get(key).copied()).collect()
    };
    let mut app = db.appender();
    let mut first_refusal: Option<String> = None;
    let mut refuse = |err: AppendError, labels: &[recv::Label], t: i64| {
        if first_refusal.is_none() {
            first_refusal = Some(format!("{err} for series {} at timestamp {t}", labels_of(labels)));
        }
    };
    let mut resolved: Vec<(u128, SeriesRef)> = Vec::new();
    for ((series, &key), &cached) in request.timeseries.iter().zip(&keys).zip(&cached) {
        receiver.exemplars_dropped.fetch_add(series.exemplars as u64, Ordering::Relaxed);
        receiver.histograms_dropped.fetch_add(series.histograms as u64, Ordering::Relaxed);
        let (labels, samples) = (request.labels(series), request.samples(series));
        let mut target = match cached {
            Some(r) => Target::Known(r),
            None => {
                let pairs: Vec<(&str, &str)> = labels.iter().map(|l| (l.name, l.value)).collect();
                if let Some(reason) = invalid_labels(&pairs) {
                    tracing::warn!(reason, labels = ?pairs, "invalid metric name or labels in remote write");
                    receiver.invalid_labels_samples.fetch_add(samples.len() as u64, Ordering::Relaxed);
                    continue;
                }
                Target::New(Labels::from_pairs(pairs))
            }
        };
        for sample in samples {
            if sample.timestamp > max_t {
                refuse(AppendError::OutOfBounds, labels, sample.timestamp);
                continue;
            }
            match &mut target {
                Target::Known(r) => app.append_ref(*r, sample.timestamp, sample.value),
                // The first sample hands the labels over; the rest go by ref.
                Target::New(labels) => match app.append_owned(std::mem::take(labels), sample.timestamp, sample.value) {
                    Ok(r) => {
                        resolved.push((key, r));
                        target = Target::Known(r);
                    }
                    Err(err) => {
                        receiver.invalid_labels_samples.fetch_add(samples.len() as u64, Ordering::Relaxed);
                        tracing::warn!(error = %err, "remote write series refused");
                        break;
                    }
                },
            }
        }
    }
    let rejected = match app.commit() {
        Ok(rejected) => rejected,
        Err(err) => return V1Outcome::Unavailable(unavailable(&err)),
    };
    let lost = rejected.iter().find_map(|(r, err)| matches!(err, AppendError::UnknownSeriesRef(_)).then_some(*r));
    receiver.remember(db, resolved, lost.is_some());
    if let Some(lost) = lost {
        tracing::warn!(series_ref = lost.0, "remote write: a cached series ref is gone from the head; asking to retry");
        return V1Outcome::Retry(format!(
            "series ref {} of the receiver's cache is gone from the head; retrying the request stores its samples",
            lost.0
        ));
    }
    if let Some((_, err)) = rejected.first() {
        tracing::error!(error = %err, refused = rejected.len(), "out of order sample from remote write");
        if first_refusal.is_none() {
            first_refusal = Some(err.to_string());
        }
    }
    first_refusal.map_or(V1Outcome::Stored, V1Outcome::Refused)
}

impl RemoteWriteReceiver {
    /// Adds the series a request resolved to the cache (emptied first when `stale` or when it
    /// outgrew its limit).
    fn remember(&self, db: &promlite_storage::Db, resolved: Vec<(u128, SeriesRef)>, stale: bool) {
        if resolved.is_empty() && !stale {
            return;
        }
        let limit = SERIES_REFS_MIN_LIMIT.max(2 * db.head_stats().series as usize);
        let mut cache = self.refs.write().expect("series ref cache lock");
        if stale || cache.refs.len() + resolved.len() > limit {
            cache.refs = HashMap::default();
        }
        cache.refs.extend(resolved);
    }

    /// The receiver's counters, for `/metrics`.
    pub(crate) fn collect(&self, enc: &mut promlite_metrics::Encoder) {
        let counters = [
            (
                "prometheus_api_remote_write_invalid_labels_samples_total",
                "The total number of received remote write samples and histogram samples which were rejected due to invalid labels.",
                &self.invalid_labels_samples,
            ),
            (
                "promlite_api_remote_write_exemplars_dropped_total",
                "Exemplars received by remote write and dropped: promlite stores no exemplars.",
                &self.exemplars_dropped,
            ),
            (
                "promlite_api_remote_write_histograms_dropped_total",
                "Native histogram samples received by remote write and dropped: promlite stores no native histograms.",
                &self.histograms_dropped,
            ),
            (
                "promlite_api_remote_write_metadata_dropped_total",
                "Metric metadata entries received by remote write and not stored.",
                &self.metadata_dropped,
            ),
        ];
        for (name, help, counter) in counters {
            enc.single(name, help, promlite_metrics::MetricType::Counter, counter.load(Ordering::Relaxed));
        }
    }
}

/// What a 2.0 request stored (the `*-Written` headers) and why the rest was refused.
#[derive(Debug, Default, PartialEq)]
struct WriteV2Outcome {
    /// Float samples stored, including exact resends of a stored sample (upstream counts those
    /// as written too).
    samples_written: u64,
    /// One line per problem: the series and samples refused before the commit in request
    /// order, then the head's refusals, one line per series and reason; non-empty means 400.
    errors: Vec<String>,
    /// Nothing was stored, and why (503).
    unavailable: Option<String>,
}

/// The 2.0 half of [`write`]: decode, append, answer with the `*-Written` headers.
async fn write_v2(state: AppState, body: &[u8]) -> Response {
    let request: prompb_v2::Request = match prompb::decode_snappy(body) {
        Ok(request) => request,
        Err(err) => {
            tracing::debug!(error = %err, "error decoding remote write 2.0 request");
            return with_written_headers(text_error(StatusCode::BAD_REQUEST, &err.to_string()), 0);
        }
    };
    // Appending takes locks and may write the WAL: off the async workers.
    let outcome = match tokio::task::spawn_blocking(move || append_v2(&state.remote_write, &state.db, &request)).await {
        Ok(outcome) => outcome,
        Err(err) => {
            let response = text_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("appending remote write 2.0: {err}"));
            return with_written_headers(response, 0);
        }
    };
    if let Some(reason) = &outcome.unavailable {
        return with_written_headers(text_error(StatusCode::SERVICE_UNAVAILABLE, reason), 0);
    }
    if outcome.errors.is_empty() {
        return with_written_headers(StatusCode::NO_CONTENT.into_response(), outcome.samples_written);
    }
    with_written_headers(text_error(StatusCode::BAD_REQUEST, &error_text(&outcome.errors)), outcome.samples_written)
}

/// The text of a 2.0 400 answer: the first [`MAX_REPORTED_ERRORS`] problems, one per line,
/// then how many more there were.
fn error_text(errors: &[String]) -> String {
    let mut text = errors.iter().take(MAX_REPORTED_ERRORS).cloned().collect::<Vec<_>>().join("\n");
    if errors.len() > MAX_REPORTED_ERRORS {
        text.push_str(&format!("\nand {} more errors", errors.len() - MAX_REPORTED_ERRORS));
    }
    text
}

/// Adds the three `X-Prometheus-Remote-Write-*-Written` headers 2.0 requires on every answer.
fn with_written_headers(mut response: Response, samples_written: u64) -> Response {
    let headers = response.headers_mut();
    headers.insert(prompb_v2::SAMPLES_WRITTEN_HEADER, HeaderValue::from(samples_written));
    // promlite stores no native histograms or exemplars: none are ever written.
    headers.insert(prompb_v2::HISTOGRAMS_WRITTEN_HEADER, HeaderValue::from(0u64));
    headers.insert(prompb_v2::EXEMPLARS_WRITTEN_HEADER, HeaderValue::from(0u64));
    response
}

/// Appends a 2.0 request in one commit, skipping series whose references or labels are bad;
/// every refusal becomes an error line and the rest is stored (2.0's partial write).
fn append_v2(
    receiver: &RemoteWriteReceiver,
    db: &promlite_storage::Db,
    request: &prompb_v2::Request,
) -> WriteV2Outcome {
    let max_t = now_ms().saturating_add(MAX_AHEAD_MS);
    let mut app = db.appender();
    let mut outcome = WriteV2Outcome::default();
    let mut queued = 0u64;
    // The labels of each series with queued samples, to name it if the commit refuses some.
    let mut appended: HashMap<SeriesRef, Labels> = HashMap::new();
    for (index, series) in request.timeseries.iter().enumerate() {
        receiver.exemplars_dropped.fetch_add(series.exemplars.len() as u64, Ordering::Relaxed);
        receiver.histograms_dropped.fetch_add(series.histograms.len() as u64, Ordering::Relaxed);
        let resolved = match request.resolve(index) {
            Ok(resolved) => resolved,
            Err(err) => {
                receiver.invalid_labels_samples.fetch_add(series.samples.len() as u64, Ordering::Relaxed);
                outcome.errors.push(err.to_string());
                continue;
            }
        };
        if resolved.metric_type != 0 || !resolved.help.is_empty() || !resolved.unit.is_empty() {
            receiver.metadata_dropped.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(reason) = invalid_labels(&resolved.labels) {
            receiver.invalid_labels_samples.fetch_add(series.samples.len() as u64, Ordering::Relaxed);
            let labels = Labels::from_pairs(resolved.labels.iter().copied());
            outcome.errors.push(format!("series {index}: invalid metric name or labels ({reason}), got {labels}"));
            continue;
        }
        let labels = Labels::from_pairs(resolved.labels.iter().copied());
        let mut series_ref = None;
        for sample in &series.samples {
            if sample.timestamp > max_t {
                let t = sample.timestamp;
                outcome.errors.push(format!(
                    "{}: timestamp {t} is too far in the future for series {labels}",
                    AppendError::OutOfBounds
                ));
                continue;
            }
            match series_ref {
                Some(r) => app.append_ref(r, sample.timestamp, sample.value),
                None => match app.append(&labels, sample.timestamp, sample.value) {
                    Ok(r) => series_ref = Some(r),
                    Err(err) => {
                        receiver.invalid_labels_samples.fetch_add(series.samples.len() as u64, Ordering::Relaxed);
                        outcome.errors.push(format!("series {index}: {err}"));
                        break;
                    }
                },
            }
            queued += 1;
        }
        if let Some(r) = series_ref {
            appended.entry(r).or_insert(labels);
        }
    }
    let rejected = match app.commit() {
        Ok(rejected) => rejected,
        Err(err) => {
            outcome.unavailable = Some(unavailable(&err));
            return outcome;
        }
    };
    outcome.samples_written = queued - rejected.len() as u64;
    if !rejected.is_empty() {
        tracing::error!(refused = rejected.len(), "out of order samples from remote write 2.0");
    }
    // One line per series and reason, with how many samples it cost.
    let mut line_of: HashMap<(SeriesRef, String), usize> = HashMap::new();
    let mut counts: Vec<u64> = Vec::new();
    let first_line = outcome.errors.len();
    for (series_ref, err) in rejected {
        let reason = err.to_string();
        let key = (series_ref, reason.clone());
        if let Some(&line) = line_of.get(&key) {
            counts[line - first_line] += 1;
            continue;
        }
        let labels = appended.get(&series_ref).map_or_else(|| format!("ref {}", series_ref.0), Labels::to_string);
        line_of.insert(key, outcome.errors.len());
        outcome.errors.push(format!("{reason} for series {labels}"));
        counts.push(1);
    }
    for (line, count) in outcome.errors[first_line..].iter_mut().zip(counts) {
        if count > 1 {
            line.push_str(&format!(" ({count} samples)"));
        }
    }
    outcome
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;
    use promlite_storage::{Db, MatchOp, Matcher, Options};

    use super::*;
    use crate::prompb_v2::{Metadata, Request, Sample, SymbolTable, TimeSeries};

    #[test]
    fn labels_without_name_or_with_duplicates_are_invalid() {
        assert_eq!(invalid_labels(&[("job", "a")]), Some("no metric name"));
        assert_eq!(invalid_labels(&[("__name__", "up"), ("", "x")]), Some("empty label name"));
        assert_eq!(invalid_labels(&[("__name__", "up"), ("a", "1"), ("a", "2")]), Some("duplicate label name"));
        assert_eq!(invalid_labels(&[("__name__", "up"), ("a", "1")]), None);
    }

    #[test]
    fn content_headers_negotiate_the_message_as_upstream() {
        let check = |content_type: Option<&'static str>, encoding: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(content_type) = content_type {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            }
            if let Some(encoding) = encoding {
                headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
            }
            check_write_headers(&headers).map_err(|err| err.to_string())
        };
        assert_eq!(check(None, None), Ok(ProtoMsg::V1));
        assert_eq!(check(Some("application/x-protobuf"), Some("snappy")), Ok(ProtoMsg::V1));
        assert_eq!(check(Some("application/x-protobuf;proto=prometheus.WriteRequest"), None), Ok(ProtoMsg::V1));
        assert_eq!(check(Some(prompb_v2::CONTENT_TYPE), Some("snappy")), Ok(ProtoMsg::V2));
        assert_eq!(check(Some("application/x-protobuf; proto=io.prometheus.write.v2.Request"), None), Ok(ProtoMsg::V2));
        assert_eq!(
            check(Some("application/x-protobuf;proto=io.prometheus.write.v3.Request"), None),
            Err("io.prometheus.write.v3.Request protobuf message is not accepted by this server; \
                 accepted [prometheus.WriteRequest, io.prometheus.write.v2.Request]"
                .into())
        );
        // Each refusal names what was sent and what is accepted instead.
        assert_eq!(
            check(Some("application/json"), None),
            Err("expected application/x-protobuf as the first (media) part, got application/json content-type".into())
        );
        let only_snappy = "gzip encoding (compression) is not accepted by this server; only snappy is acceptable";
        assert_eq!(check(Some(prompb_v2::CONTENT_TYPE), Some("gzip")), Err(only_snappy.into()));
        assert_eq!(check(Some("application/x-protobuf"), Some("gzip")), Err(only_snappy.into()));
    }

    #[test]
    fn a_2_0_error_text_lists_the_first_problems_and_counts_the_rest() {
        let errors: Vec<String> = (0..25).map(|i| format!("problem {i}")).collect();
        let text = error_text(&errors);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), MAX_REPORTED_ERRORS + 1);
        assert_eq!((lines[0], lines[19], lines[20]), ("problem 0", "problem 19", "and 5 more errors"));
        assert_eq!(error_text(&errors[..2]), "problem 0\nproblem 1");
    }

    /// A throwaway data directory, removed on drop (the crate has no `tempfile`).
    struct TempDb {
        db: Db,
        receiver: RemoteWriteReceiver,
        dir: std::path::PathBuf,
    }

    impl TempDb {
        fn open(name: &str) -> TempDb {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let dir = std::env::temp_dir().join(format!("promlite-web-{name}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDb { db: Db::open(&dir, Options::default()).unwrap(), receiver: RemoteWriteReceiver::default(), dir }
        }

        /// Every sample of metric `name`: (labels, [(t, value bits)]).
        fn samples(&self, name: &str) -> Vec<(String, Vec<(i64, u64)>)> {
            let matcher = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
            let mut out: Vec<_> = self
                .db
                .querier(i64::MIN, i64::MAX)
                .select(&[matcher])
                .into_iter()
                .map(|s| (s.labels.to_string(), s.samples().iter().map(|x| (x.t, x.v.to_bits())).collect()))
                .collect();
            out.sort();
            out
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A series of a test request: labels in wire order, then (t, v) samples.
    type V1Series<'a> = (&'a [(&'a str, &'a str)], &'a [(i64, f64)]);

    /// An uncompressed 1.0 request of `series`.
    fn v1_request(series: &[V1Series]) -> Vec<u8> {
        use prost::Message;
        let timeseries = series
            .iter()
            .map(|(labels, samples)| prompb::TimeSeries {
                labels: labels.iter().map(|&(n, v)| prompb::Label { name: n.into(), value: v.into() }).collect(),
                samples: samples.iter().map(|&(timestamp, value)| prompb::Sample { value, timestamp }).collect(),
                exemplars: vec![],
                histograms: vec![],
            })
            .collect();
        prompb::WriteRequest { timeseries, metadata: vec![] }.encode_to_vec()
    }

    fn append_v1(temp: &TempDb, raw: &[u8]) -> V1Outcome {
        append_request(&temp.receiver, &temp.db, &recv::decode(raw).unwrap())
    }

    fn cached(temp: &TempDb, labels: &[(&str, &str)]) -> Option<SeriesRef> {
        let labels: Vec<recv::Label> = labels.iter().map(|&(name, value)| recv::Label { name, value }).collect();
        temp.receiver.refs.read().unwrap().refs.get(&series_key(&labels, &mut Vec::new())).copied()
    }

    #[test]
    fn v1_requests_store_valid_series_and_known_ones_go_by_ref() {
        let temp = TempDb::open("v1-append");
        let t0 = now_ms() - 60_000;
        let a: &[(&str, &str)] = &[("job", "a"), ("__name__", "m")];
        let b: &[(&str, &str)] = &[("__name__", "m"), ("empty", ""), ("job", "b")];
        let nameless: &[(&str, &str)] = &[("job", "x")];
        let twice: &[(&str, &str)] = &[("__name__", "m"), ("job", "y"), ("job", "z")];
        let first =
            v1_request(&[(a, &[(t0, 1.0)]), (b, &[(t0, 2.0)]), (nameless, &[(t0, 3.0)]), (twice, &[(t0, 4.0)])]);
        assert_eq!(append_v1(&temp, &first), V1Outcome::Stored);
        assert!(cached(&temp, a).is_some() && cached(&temp, b).is_some());
        assert_eq!((cached(&temp, nameless), cached(&temp, twice)), (None, None));

        // Known series, by ref: several samples each, and the empty label still dropped.
        let second = v1_request(&[(a, &[(t0 + 10, 1.5), (t0 + 20, 1.75)]), (b, &[(t0 + 10, f64::NAN)])]);
        assert_eq!(append_v1(&temp, &second), V1Outcome::Stored);
        let bits = |v: f64| v.to_bits();
        assert_eq!(
            temp.samples("m"),
            [
                (r#"m{job="a"}"#.into(), vec![(t0, bits(1.0)), (t0 + 10, bits(1.5)), (t0 + 20, bits(1.75))]),
                (r#"m{job="b"}"#.into(), vec![(t0, bits(2.0)), (t0 + 10, bits(f64::NAN))]),
            ]
        );
        assert_eq!(temp.db.head_stats().series, 2);

        // Refusals of known series name them as before: too far ahead, then out of order.
        let future = now_ms() + 3_600_000;
        let late = v1_request(&[(a, &[(future, 9.0)]), (b, &[(t0 + 5, 9.0)])]);
        let outcome = append_v1(&temp, &late);
        assert_eq!(
            outcome,
            V1Outcome::Refused(format!(r#"out of bounds for series m{{job="a"}} at timestamp {future}"#))
        );
        let late = v1_request(&[(b, &[(t0 + 5, 9.0)])]);
        assert_eq!(append_v1(&temp, &late), V1Outcome::Refused("out of order sample".into()));
        assert_eq!(temp.samples("m")[1].1.len(), 2);
    }

    #[test]
    fn v1_each_receiver_keeps_the_refs_of_its_own_db() {
        let (one, two) = (TempDb::open("v1-db-one"), TempDb::open("v1-db-two"));
        let t0 = now_ms() - 60_000;
        let x: &[(&str, &str)] = &[("__name__", "x")];
        let y: &[(&str, &str)] = &[("__name__", "y")];
        assert_eq!(append_v1(&one, &v1_request(&[(x, &[(t0, 1.0)])])), V1Outcome::Stored);
        // In `two`, `y` takes the ref `x` has in `one`.
        assert_eq!(append_v1(&two, &v1_request(&[(y, &[(t0, 2.0)])])), V1Outcome::Stored);
        assert_eq!(append_v1(&two, &v1_request(&[(x, &[(t0, 3.0)])])), V1Outcome::Stored);
        assert_eq!(append_v1(&one, &v1_request(&[(x, &[(t0 + 1, 4.0)])])), V1Outcome::Stored);
        assert_eq!(two.samples("x"), [("x{}".into(), vec![(t0, 3.0f64.to_bits())])]);
        assert_eq!(two.samples("y"), [("y{}".into(), vec![(t0, 2.0f64.to_bits())])]);
        assert_eq!(one.samples("x"), [("x{}".into(), vec![(t0, 1.0f64.to_bits()), (t0 + 1, 4.0f64.to_bits())])]);
    }

    #[test]
    fn v1_a_cached_ref_the_head_lost_asks_for_a_retry_that_stores() {
        let temp = TempDb::open("v1-lost-ref");
        let t0 = now_ms() - 60_000;
        let x: &[(&str, &str)] = &[("__name__", "x")];
        let y: &[(&str, &str)] = &[("__name__", "y")];
        assert_eq!(append_v1(&temp, &v1_request(&[(x, &[(t0, 1.0)]), (y, &[(t0, 1.0)])])), V1Outcome::Stored);
        // What a head that dropped the series would leave: a ref it does not know.
        let key = series_key(&[recv::Label { name: "__name__", value: "x" }], &mut Vec::new());
        temp.receiver.refs.write().unwrap().refs.insert(key, SeriesRef(1_000_000));
        let request = v1_request(&[(x, &[(t0 + 1, 2.0)]), (y, &[(t0 + 1, 2.0)])]);
        let V1Outcome::Retry(reason) = append_v1(&temp, &request) else { panic!("no retry") };
        assert!(reason.contains("series ref 1000000"), "{reason}");
        assert_eq!(cached(&temp, y), None, "the cache starts over");
        // The retry stores `x`; `y`'s sample, stored the first time, is an exact resend.
        assert_eq!(append_v1(&temp, &request), V1Outcome::Stored);
        assert_eq!(temp.samples("x")[0].1, [(t0, 1.0f64.to_bits()), (t0 + 1, 2.0f64.to_bits())]);
        assert_eq!(temp.samples("y")[0].1, [(t0, 1.0f64.to_bits()), (t0 + 1, 2.0f64.to_bits())]);
    }

    fn series(table: &mut SymbolTable, labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
        TimeSeries {
            labels_refs: table.symbolize_labels(labels.iter().copied()),
            samples: samples
                .iter()
                .map(|&(timestamp, value)| Sample { value, timestamp, start_timestamp: 0 })
                .collect(),
            histograms: vec![],
            exemplars: vec![],
            metadata: Some(Metadata::default()),
        }
    }

    #[test]
    fn v2_requests_append_like_1_0_and_count_what_was_written() {
        let temp = TempDb::open("v2-append");
        let t0 = now_ms() - 60_000;
        let mut table = SymbolTable::new();
        let a = series(&mut table, &[("__name__", "m"), ("job", "a")], &[(t0, 1.5), (t0 + 10, f64::NAN)]);
        // Labels given unsorted: the head sorts them.
        let b = series(&mut table, &[("job", "b"), ("__name__", "m")], &[(t0, -2.0)]);
        let mut with_dropped = series(&mut table, &[("__name__", "m"), ("job", "c")], &[(t0, 3.0)]);
        with_dropped.histograms = vec![vec![0x18, 0x01]];
        with_dropped.exemplars = vec![prompb_v2::Exemplar { labels_refs: vec![], value: 1.0, timestamp: t0 }];
        let request = Request { symbols: table.into_symbols(), timeseries: vec![a, b, with_dropped] };
        let outcome = append_v2(&temp.receiver, &temp.db, &request);
        assert_eq!(outcome, WriteV2Outcome { samples_written: 4, errors: vec![], unavailable: None });
        assert_eq!(
            temp.samples("m"),
            [
                (r#"m{job="a"}"#.into(), vec![(t0, 1.5f64.to_bits()), (t0 + 10, f64::NAN.to_bits())]),
                (r#"m{job="b"}"#.into(), vec![(t0, (-2.0f64).to_bits())]),
                (r#"m{job="c"}"#.into(), vec![(t0, 3.0f64.to_bits())]),
            ]
        );
        // Resending the request: each series' newest sample is an exact resend, written (as
        // upstream counts it) but stored once; the older sample of `a` is out of order.
        let outcome = append_v2(&temp.receiver, &temp.db, &request);
        let refused = vec![r#"out of order sample for series m{job="a"}"#.to_owned()];
        assert_eq!(outcome, WriteV2Outcome { samples_written: 3, errors: refused, unavailable: None });
        assert_eq!(temp.samples("m")[0].1.len(), 2);
    }

    #[test]
    fn v2_partial_writes_name_every_refused_series() {
        let temp = TempDb::open("v2-partial");
        let t0 = now_ms() - 60_000;
        let mut table = SymbolTable::new();
        let first = series(&mut table, &[("__name__", "p"), ("job", "a")], &[(t0 + 100, 1.0)]);
        let request = Request { symbols: table.clone().into_symbols(), timeseries: vec![first] };
        assert_eq!(append_v2(&temp.receiver, &temp.db, &request).samples_written, 1);

        let late = series(&mut table, &[("__name__", "p"), ("job", "a")], &[(t0, 2.0), (t0 + 1, 2.0), (t0 + 200, 5.0)]);
        let new = series(&mut table, &[("__name__", "p"), ("job", "new")], &[(t0, 3.0)]);
        let nameless = series(&mut table, &[("job", "x")], &[(t0, 4.0)]);
        let future = series(&mut table, &[("__name__", "p"), ("job", "f")], &[(now_ms() + 3_600_000, 6.0)]);
        let mut bad_ref = series(&mut table, &[("__name__", "p")], &[(t0, 7.0)]);
        bad_ref.labels_refs[1] = 1000;
        let symbols = table.into_symbols();
        let request = Request { symbols: symbols.clone(), timeseries: vec![late, new, nameless, future, bad_ref] };
        let outcome = append_v2(&temp.receiver, &temp.db, &request);
        assert_eq!(outcome.samples_written, 2, "{outcome:?}");
        let future_t = request.timeseries[3].samples[0].timestamp;
        assert_eq!(
            outcome.errors,
            [
                r#"series 2: invalid metric name or labels (no metric name), got {job="x"}"#.to_owned(),
                format!(r#"out of bounds: timestamp {future_t} is too far in the future for series p{{job="f"}}"#),
                format!("series 4: label ref 1000 is out of range; the request has {} symbols", symbols.len()),
                r#"out of order sample for series p{job="a"} (2 samples)"#.to_owned(),
            ]
        );
        assert_eq!(
            temp.samples("p"),
            [
                (r#"p{job="a"}"#.into(), vec![(t0 + 100, 1.0f64.to_bits()), (t0 + 200, 5.0f64.to_bits())]),
                (r#"p{job="new"}"#.into(), vec![(t0, 3.0f64.to_bits())]),
            ]
        );
    }
}
