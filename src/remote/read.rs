//! The `remote_read` client (upstream `storage/remote/read.go` and `client.go`): one
//! [`RemoteReadClient`] per `remote_read` entry, a [`SecondaryQueryable`] whose series the TSDB
//! merges into every PromQL selector and `/api/v1/series` lookup.
//!
//! Per selector, as upstream:
//! - `required_matchers`: the endpoint is asked only when the selector has an equality matcher
//!   for every required `name: value`.
//! - `read_recent: false` (the default): only the time before local storage's start (plus two
//!   evaluation intervals of margin) is asked for; a range after it asks nothing.
//! - `filter_external_labels` (the default): each external label the selector has no matcher
//!   for becomes an equality matcher, and is removed from the series that come back, so they
//!   merge with local series, which never carry external labels.
//!
//! Requests accept `[STREAMED_XOR_CHUNKS, SAMPLES]`, as Prometheus 3's client does, and either
//! response is read. A failure (network, HTTP status, decoding, `remote_timeout`) becomes the
//! query's warning `remote_read: ...`; the query goes on with local data.
//!
//! Deviation: upstream's local start is the oldest block's start, or the current time while
//! there is no block, plus a margin of twice the block range; promlite's is the oldest sample
//! it holds (the oldest block's start, else the head's oldest sample), without the margin. No read hints are sent (upstream sends step, function
//! and grouping; servers use them for optimisation only).

use std::sync::Arc;

use promlite_metrics::{Encoder, FamilyEncoder, MetricType};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use promlite_prompb as prompb;
use promlite_storage::chunkenc::XorIterator;
use promlite_storage::{
    Labels, LabelsBuilder, MatchOp, Matcher, Sample, SecondaryError, SecondaryQueryable, SecondarySelect, Series,
};
use prost::Message as _;

use crate::config::RemoteReadConfig;
use crate::http_client::{HttpClient, HttpClientError, error_chain};

/// A `remote_read` entry that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ReadClientError {
    /// The HTTP client settings are invalid.
    #[error("remote_read {url}: {source}")]
    Client {
        /// The endpoint.
        url: String,
        /// What is wrong.
        source: HttpClientError,
    },
    /// The URL does not parse.
    #[error("remote_read {url}: invalid URL: {reason}")]
    Url {
        /// The endpoint.
        url: String,
        /// Why.
        reason: String,
    },
}

/// The most text of an error answer quoted in a warning.
const MAX_ERROR_CHARS: usize = 1024;

/// The largest decoded SAMPLES answer read (upstream reads any size; a streamed answer is
/// bounded per frame by `chunked_read_limit` instead).
const MAX_SAMPLES_RESPONSE_BYTES: usize = 1 << 30;

/// Why one remote read failed; its text is the query's warning (after `remote_read: `).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The request could not be built (a credential file could not be read, ...).
    #[error("{0}")]
    Request(HttpClientError),
    /// No answer: connection refused, DNS, TLS, timeout while sending (causes joined).
    #[error("error sending request: {0}")]
    Send(String),
    /// The answer's body could not be read.
    #[error("error reading response: {0}")]
    Receive(String),
    /// A non-2xx answer, with the start of its body.
    #[error("remote server {url} returned http status {status}: {body}")]
    Status {
        /// The endpoint, password redacted.
        url: String,
        /// The HTTP status.
        status: reqwest::StatusCode,
        /// At most [`MAX_ERROR_CHARS`] of the body.
        body: String,
    },
    /// A `Content-Type` that is neither response type.
    #[error("unsupported content type: {0}")]
    ContentType(String),
    /// A SAMPLES answer that does not decode, is too large, or holds other than one result.
    #[error("error decoding response: {0}")]
    Samples(SamplesError),
    /// A streamed answer whose frames or chunks do not decode.
    #[error("error reading chunked response: {0}")]
    Chunked(ChunkedError),
    /// No answer within `remote_timeout` or the query's deadline.
    #[error("no answer within {wait:?} (remote_timeout {remote_timeout}, or the query's timeout)")]
    Timeout {
        /// How long the query waited.
        wait: Duration,
        /// The configured request timeout.
        remote_timeout: crate::config::Duration,
    },
    /// The request task went away (the server is shutting down).
    #[error("the request was abandoned (the server is shutting down)")]
    Abandoned,
}

/// Why a SAMPLES answer is unusable.
#[derive(Debug, thiserror::Error)]
pub enum SamplesError {
    /// Not a snappy block.
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
    /// Larger decoded than [`MAX_SAMPLES_RESPONSE_BYTES`].
    #[error("response of {size} bytes decoded is larger than the limit of {MAX_SAMPLES_RESPONSE_BYTES} bytes")]
    TooLarge {
        /// The decoded size the block announces.
        size: usize,
    },
    /// Not a `prometheus.ReadResponse`.
    #[error("{0}")]
    Protobuf(#[from] prost::DecodeError),
    /// One query was sent, so one result must come back.
    #[error("responses: want 1, got {got}")]
    Results {
        /// How many came.
        got: usize,
    },
}

/// Why a STREAMED_XOR_CHUNKS answer is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ChunkedError {
    /// The framing (length, CRC, message) is broken or a frame is over the limit.
    #[error("{0}")]
    Frames(#[from] prompb::FrameError),
    /// A chunk of an encoding other than XOR.
    #[error("unsupported chunk encoding {encoding} (promlite reads XOR chunks only)")]
    Encoding {
        /// The chunk's encoding number.
        encoding: i32,
    },
    /// An XOR chunk that does not decode.
    #[error("series {series}: chunk {min_time_ms}..{max_time_ms}: {source}")]
    Chunk {
        /// The series it belongs to.
        series: Labels,
        /// The chunk's claimed first sample time.
        min_time_ms: i64,
        /// The chunk's claimed last sample time.
        max_time_ms: i64,
        /// What is wrong with it.
        source: promlite_storage::chunkenc::ChunkError,
    },
}

/// Reads series from one `remote_read` endpoint.
pub struct RemoteReadClient {
    inner: Arc<Inner>,
    runtime: tokio::runtime::Handle,
}

struct Inner {
    name: String,
    url: reqwest::Url,
    /// `url` with any password redacted: what logs, metrics and query warnings show.
    shown_url: String,
    client: HttpClient,
    config: RemoteReadConfig,
    /// External labels added as matchers (empty when `filter_external_labels` is off).
    external_labels: Vec<(String, String)>,
    /// Two evaluation intervals, ms: added to local storage's start for `read_recent: false`.
    start_margin_ms: i64,
    metrics: ReadMetrics,
}

/// `prometheus_remote_read_client_*` for one endpoint.
#[derive(Default)]
struct ReadMetrics {
    in_flight: AtomicI64,
    /// `(response_type, code)` → queries.
    totals: std::sync::Mutex<std::collections::BTreeMap<(&'static str, String), u64>>,
    /// `response_type` → time to the answer's head (upstream's `request_duration_seconds`:
    /// a streamed answer's reading is not in it).
    durations: std::sync::Mutex<std::collections::BTreeMap<&'static str, promlite_metrics::Histogram>>,
    failed: AtomicU64,
}

/// Upper bounds of `prometheus_remote_read_client_request_duration_seconds`: client_golang's
/// default buckets plus 25 and 60, as upstream.
const DURATION_BUCKETS: [f64; 13] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 60.0];

impl RemoteReadClient {
    /// A client for `config`, adding `external_labels` as matchers unless the config turns
    /// that off. Must be called inside a tokio runtime: requests run on it.
    pub fn new(
        config: &RemoteReadConfig,
        external_labels: &[(String, String)],
        evaluation_interval: std::time::Duration,
    ) -> Result<RemoteReadClient, ReadClientError> {
        let client = HttpClient::new(&config.http_client_config)
            .map_err(|source| ReadClientError::Client { url: config.url.to_string(), source })?;
        let url = reqwest::Url::parse(config.url.expose())
            .map_err(|err| ReadClientError::Url { url: config.url.to_string(), reason: err.to_string() })?;
        let name = super::remote_name(&config.name, config.url.expose());
        let external_labels = if config.filter_external_labels { external_labels.to_vec() } else { Vec::new() };
        let inner = Inner {
            name,
            shown_url: promlite_web::redact_url(url.as_str()).into_owned(),
            url,
            client,
            config: config.clone(),
            external_labels,
            start_margin_ms: 2 * evaluation_interval.as_millis() as i64,
            metrics: ReadMetrics::default(),
        };
        Ok(RemoteReadClient { inner: Arc::new(inner), runtime: tokio::runtime::Handle::current() })
    }

    /// The config this client was made from.
    pub fn config(&self) -> &RemoteReadConfig {
        &self.inner.config
    }

    /// Appends this endpoint's samples of the `prometheus_remote_read_client_*` families (their
    /// HELP/TYPE lines come from [`write_metric_families`]).
    fn write_samples(&self, name: &str, family: &mut FamilyEncoder<'_>) {
        let m = &self.inner.metrics;
        let base = [("remote_name", self.inner.name.as_str()), ("endpoint", self.inner.shown_url.as_str())];
        match name {
            "prometheus_remote_read_client_queries" => {
                family.sample(&base, m.in_flight.load(Ordering::Relaxed));
            }
            "prometheus_remote_read_client_queries_total" => {
                for ((kind, code), n) in m.totals.lock().expect("read metrics lock").iter() {
                    family.sample(&[base[0], base[1], ("response_type", kind), ("code", code)], *n);
                }
            }
            "prometheus_remote_read_client_request_duration_seconds" => {
                for (kind, histogram) in m.durations.lock().expect("read metrics lock").iter() {
                    family.histogram(&[base[0], base[1], ("response_type", kind)], &histogram.snapshot());
                }
            }
            "promlite_remote_read_client_failed_queries_total" => {
                family.sample(&base, m.failed.load(Ordering::Relaxed));
            }
            _ => {}
        }
    }
}

/// The metric families of the remote-read clients.
pub fn write_metric_families(clients: &[Arc<RemoteReadClient>], enc: &mut Encoder) {
    if clients.is_empty() {
        return;
    }
    let families = [
        ("prometheus_remote_read_client_queries", MetricType::Gauge, "The number of in-flight remote read queries."),
        (
            "prometheus_remote_read_client_queries_total",
            MetricType::Counter,
            "The total number of remote read queries.",
        ),
        (
            "prometheus_remote_read_client_request_duration_seconds",
            MetricType::Histogram,
            "Histogram of the latency for remote read requests. Note that for streamed responses this is only the duration of the initial call and does not include the processing of the stream.",
        ),
        (
            "promlite_remote_read_client_failed_queries_total",
            MetricType::Counter,
            "Remote read queries that failed and became a query warning.",
        ),
    ];
    for (name, kind, help) in families {
        let mut family = enc.family(name, help, kind);
        for client in clients {
            client.write_samples(name, &mut family);
        }
    }
}

impl SecondaryQueryable for RemoteReadClient {
    fn select(&self, request: &SecondarySelect<'_>) -> Result<Vec<Series>, SecondaryError> {
        let inner = &self.inner;
        let required = &inner.config.required_matchers;
        let has_required = required.iter().all(|(name, value)| {
            request.matchers.iter().any(|m| m.op == MatchOp::Equal && m.name == *name && m.value == *value)
        });
        if !has_required {
            return Ok(Vec::new());
        }
        let mut maxt = request.maxt;
        if !inner.config.read_recent {
            let local_start =
                request.local_min_time.unwrap_or_else(super::now_ms).saturating_add(inner.start_margin_ms);
            if request.mint > local_start {
                return Ok(Vec::new());
            }
            maxt = maxt.min(local_start);
        }
        let (matchers, added) = with_external_labels(request.matchers, &inner.external_labels);
        let query = prompb::Query { start_timestamp_ms: request.mint, end_timestamp_ms: maxt, matchers, hints: None };
        let (tx, rx) = std::sync::mpsc::channel();
        let task = Arc::clone(inner);
        // Run on the server's runtime and wait here: callers are blocking threads (queries run
        // in spawn_blocking), and the reqwest client is async.
        self.runtime.spawn(async move {
            let _ = tx.send(task.read(query).await);
        });
        // The request's own timeout is `remote_timeout`; this wait adds a second for the
        // answer to arrive, and is cut short by the query's deadline.
        let mut wait = inner.config.remote_timeout.as_std() + Duration::from_secs(1);
        if let Some(deadline) = request.deadline {
            wait = wait.min(deadline.saturating_duration_since(std::time::Instant::now()));
        }
        let outcome = match rx.recv_timeout(wait) {
            Ok(outcome) => outcome,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                Err(ReadError::Timeout { wait, remote_timeout: inner.config.remote_timeout })
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(ReadError::Abandoned),
        };
        match outcome {
            Ok(series) => Ok(series.into_iter().map(|s| without(s, &added)).collect()),
            Err(err) => {
                inner.metrics.failed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(remote_name = %inner.name, url = %inner.shown_url, error = %err, "remote read failed");
                Err(format!("remote_read: {err}").into())
            }
        }
    }
}

impl Inner {
    async fn read(&self, query: prompb::Query) -> Result<Vec<Series>, ReadError> {
        self.metrics.in_flight.fetch_add(1, Ordering::Relaxed);
        let result = self.request(&query).await;
        self.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        result
    }

    async fn request(&self, query: &prompb::Query) -> Result<Vec<Series>, ReadError> {
        let read = prompb::ReadRequest {
            queries: vec![query.clone()],
            accepted_response_types: vec![prompb::RESPONSE_TYPE_STREAMED_XOR_CHUNKS, prompb::RESPONSE_TYPE_SAMPLES],
        };
        let mut request = self
            .client
            .post(self.url.clone())
            .map_err(ReadError::Request)?
            .header(reqwest::header::CONTENT_TYPE, prompb::CONTENT_TYPE)
            .header(reqwest::header::CONTENT_ENCODING, "snappy")
            .header(reqwest::header::ACCEPT_ENCODING, "snappy")
            .header("X-Prometheus-Remote-Read-Version", prompb::REMOTE_READ_VERSION)
            .timeout(self.config.remote_timeout.as_std())
            .body(prompb::encode_snappy(&read));
        for (name, value) in &self.config.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let redact = |text: String| super::redact_password(text, &self.url);
        let started = std::time::Instant::now();
        let response = request.send().await.map_err(|err| ReadError::Send(redact(error_chain(&err))))?;
        let status = response.status();
        if !status.is_success() {
            self.count("unsupported", status.as_u16().to_string());
            let body = response.text().await.unwrap_or_default();
            // Upstream's writer keeps 1 KiB of an error body; a page of HTML says no more.
            let body: String = body.trim_end().chars().take(MAX_ERROR_CHARS).collect();
            return Err(ReadError::Status { url: self.shown_url.clone(), status, body });
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let kind = if content_type.starts_with(prompb::STREAMED_CONTENT_TYPE) {
            "chunked"
        } else if content_type.starts_with(prompb::CONTENT_TYPE) {
            "sampled"
        } else {
            "unsupported"
        };
        self.metrics
            .durations
            .lock()
            .expect("read metrics lock")
            .entry(kind)
            .or_insert_with(|| promlite_metrics::Histogram::new(Arc::from(DURATION_BUCKETS)))
            .observe(started.elapsed().as_secs_f64());
        let body = response.bytes().await.map_err(|err| ReadError::Receive(redact(error_chain(&err))))?;
        let code = status.as_u16().to_string();
        if content_type.starts_with(prompb::STREAMED_CONTENT_TYPE) {
            self.count("chunked", code);
            series_from_frames(&body, self.config.chunked_read_limit, query).map_err(ReadError::Chunked)
        } else if content_type.starts_with(prompb::CONTENT_TYPE) {
            self.count("sampled", code);
            series_from_samples(&body).map_err(ReadError::Samples)
        } else {
            self.count("unsupported", code);
            Err(ReadError::ContentType(content_type))
        }
    }

    fn count(&self, kind: &'static str, code: String) {
        *self.metrics.totals.lock().expect("read metrics lock").entry((kind, code)).or_default() += 1;
    }
}

/// The selector's matchers on the wire, plus an equality matcher for each external label it
/// does not mention; also returns the names of those added.
fn with_external_labels(
    matchers: &[Matcher],
    external_labels: &[(String, String)],
) -> (Vec<prompb::LabelMatcher>, Vec<String>) {
    let mut wire: Vec<prompb::LabelMatcher> = matchers
        .iter()
        .map(|m| prompb::LabelMatcher { r#type: wire_op(m.op), name: m.name.clone(), value: m.value.clone() })
        .collect();
    let mut added = Vec::new();
    for (name, value) in external_labels {
        if matchers.iter().any(|m| m.name == *name) {
            continue;
        }
        wire.push(prompb::LabelMatcher { r#type: wire_op(MatchOp::Equal), name: name.clone(), value: value.clone() });
        added.push(name.clone());
    }
    (wire, added)
}

fn wire_op(op: MatchOp) -> i32 {
    match op {
        MatchOp::Equal => 0,
        MatchOp::NotEqual => 1,
        MatchOp::Regex => 2,
        MatchOp::NotRegex => 3,
    }
}

fn without(mut series: Series, names: &[String]) -> Series {
    if names.iter().any(|name| series.labels.has(name)) {
        let mut builder = LabelsBuilder::new(&series.labels);
        for name in names {
            builder.del(name);
        }
        series.labels = builder.labels();
    }
    series
}

fn labels_of(wire: &[prompb::Label]) -> Labels {
    Labels::from_pairs(wire.iter().map(|l| (l.name.as_str(), l.value.as_str())))
}

/// The series of a `SAMPLES` response, which must hold one result (one query was sent).
fn series_from_samples(body: &[u8]) -> Result<Vec<Series>, SamplesError> {
    let size = snap::raw::decompress_len(body)?;
    if size > MAX_SAMPLES_RESPONSE_BYTES {
        return Err(SamplesError::TooLarge { size });
    }
    let raw = snap::raw::Decoder::new().decompress_vec(body)?;
    let response = prompb::ReadResponse::decode(raw.as_slice())?;
    if response.results.len() != 1 {
        return Err(SamplesError::Results { got: response.results.len() });
    }
    Ok(response
        .results
        .into_iter()
        .flat_map(|result| result.timeseries)
        .map(|ts| {
            let samples = ts.samples.iter().map(|s| Sample { t: s.timestamp, v: s.value }).collect();
            Series::from_samples(labels_of(&ts.labels), samples)
        })
        .collect())
}

/// The series of a `STREAMED_XOR_CHUNKS` response; samples outside the query's range (whole
/// chunks are sent) are left out.
fn series_from_frames(body: &[u8], limit: u64, query: &prompb::Query) -> Result<Vec<Series>, ChunkedError> {
    let frames = prompb::read_frames(body, limit)?;
    let mut out = Vec::new();
    for frame in frames {
        for chunked in frame.chunked_series {
            let mut samples = Vec::new();
            for chunk in &chunked.chunks {
                if chunk.r#type != prompb::CHUNK_ENCODING_XOR {
                    return Err(ChunkedError::Encoding { encoding: chunk.r#type });
                }
                let bad_chunk = |source| ChunkedError::Chunk {
                    series: labels_of(&chunked.labels),
                    min_time_ms: chunk.min_time_ms,
                    max_time_ms: chunk.max_time_ms,
                    source,
                };
                let mut iter = XorIterator::new(&chunk.data).map_err(bad_chunk)?;
                while let Some(sample) = iter.next_sample().map_err(bad_chunk)? {
                    if sample.t >= query.start_timestamp_ms && sample.t <= query.end_timestamp_ms {
                        samples.push(sample);
                    }
                }
            }
            out.push(Series::from_samples(labels_of(&chunked.labels), samples));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn external_labels_become_matchers_unless_the_selector_names_them() {
        let matchers = [
            Matcher::new(MatchOp::Equal, "__name__", "up").unwrap(),
            Matcher::new(MatchOp::Regex, "region", "eu.*").unwrap(),
        ];
        let external = [("region".to_owned(), "eu-1".to_owned()), ("replica".to_owned(), "a".to_owned())];
        let (wire, added) = with_external_labels(&matchers, &external);
        assert_eq!(added, vec!["replica".to_owned()]);
        assert_eq!(wire.len(), 3);
        assert_eq!(wire[1], prompb::LabelMatcher { r#type: 2, name: "region".into(), value: "eu.*".into() });
        assert_eq!(wire[2], prompb::LabelMatcher { r#type: 0, name: "replica".into(), value: "a".into() });
        let series = Series::from_samples(Labels::from_pairs([("__name__", "up"), ("replica", "a")]), vec![]);
        assert_eq!(without(series, &added).labels, Labels::from_pairs([("__name__", "up")]));
    }

    #[test]
    fn chunked_response_is_cut_to_the_query_range() {
        let mut chunk = promlite_storage::chunkenc::XorChunk::new();
        for t in 0..10 {
            chunk.append(t * 1000, t as f64);
        }
        let frame = prompb::ChunkedReadResponse {
            chunked_series: vec![prompb::ChunkedSeries {
                labels: vec![prompb::Label { name: "__name__".into(), value: "up".into() }],
                chunks: vec![prompb::Chunk {
                    min_time_ms: 0,
                    max_time_ms: 9000,
                    r#type: prompb::CHUNK_ENCODING_XOR,
                    data: chunk.bytes().to_vec(),
                }],
            }],
            query_index: 0,
        };
        let mut body = Vec::new();
        prompb::put_frame(&mut body, &frame);
        let query = prompb::Query { start_timestamp_ms: 2000, end_timestamp_ms: 4000, matchers: vec![], hints: None };
        let series = series_from_frames(&body, 1 << 20, &query).unwrap();
        let times: Vec<i64> = series[0].samples().iter().map(|s| s.t).collect();
        assert_eq!(times, vec![2000, 3000, 4000]);
    }
}
