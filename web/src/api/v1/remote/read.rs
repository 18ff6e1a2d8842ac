//! `POST /api/v1/read`: remote read (upstream `storage/remote/read_handler.go` and `codec.go`).
//! The client lists the response types it accepts; the first one this server supports wins
//! (an empty list means SAMPLES, none supported is a 400):
//! - SAMPLES: one snappy-compressed `ReadResponse` with every sample of every query.
//! - STREAMED_XOR_CHUNKS: a body of frames ([`prompb::put_frame`]), each a `ChunkedReadResponse`
//!   holding one series of one query as XOR chunks; a series whose chunks do not fit in
//!   `--storage.remote.read-max-bytes-in-frame` goes on in the next frame, its labels repeated.
//!   The chunks are the query range's samples re-encoded (upstream sends the stored chunks that
//!   overlap the range, samples outside it included, and lets the client trim them).
//!
//! Both answer from local storage only, never from the remote-read endpoints of this server's
//! own config, as upstream does, and both present a series the same way: external labels added
//! (a series' own label wins), labels sorted; an `=` matcher asking for an external label's
//! value asks for series without the label, as upstream's `filterExtLabelsFromMatchers`.
//!
//! The streamed body is sent as it is made: a blocking task encodes series by series into a
//! small channel the response body drains, and, as upstream, `--storage.remote.read-sample-limit`
//! applies to SAMPLES only. Matchers are checked before the first byte (a bad one is upstream's
//! 500). `--storage.remote.read-concurrent-limit` bounds the requests served at once.
//! A query's series are selected as their stored chunks and decoded one series at a time, so
//! memory holds the selection's compressed chunks plus one decoded series.
//! FIXME(#9): the streamed answer re-encodes the samples instead of sending the stored chunks,
//! and SAMPLES builds its whole answer before sending it (the limit bounds that).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use promlite_storage::chunkenc::XorChunk;
use promlite_storage::{BadRegex, MatchOp, Matcher, Sample, Series};
use prost::Message;

use super::text_error;
use crate::AppState;
use crate::prompb::{self, ReadRequest, ReadResponse};

/// Frames handed to the response body at most this many bytes at a time, and at most
/// [`STREAM_BUFFERS`] of them waiting: what one streamed answer holds in memory.
const STREAM_FLUSH_BYTES: usize = 256 << 10;
const STREAM_BUFFERS: usize = 4;

/// Samples per chunk of a streamed response: the head's chunk size, so a client sees chunks
/// shaped like the ones Prometheus sends.
const SAMPLES_PER_CHUNK: usize = 120;

/// The response types this server answers with (`ReadRequest.ResponseType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ResponseType {
    Samples,
    StreamedXorChunks,
}

/// `POST /api/v1/read`: every query answered from the head in the negotiated response type.
pub(crate) async fn read(State(state): State<AppState>, body: Bytes) -> Response {
    if let Some(unavailable) = crate::lifecycle::not_ready(&state) {
        return unavailable.into_response();
    }
    let request: ReadRequest = match prompb::decode_snappy(&body) {
        Ok(request) => request,
        Err(err) => return text_error(StatusCode::BAD_REQUEST, &err.to_string()),
    };
    let response_type = match negotiate_response_type(&request.accepted_response_types) {
        Ok(response_type) => response_type,
        Err(err) => return text_error(err.status(), &err.to_string()),
    };
    let external: Vec<(String, String)> = state.external_labels.read().expect("external labels lock").clone();
    let selections = match request
        .queries
        .iter()
        .map(|query| matchers_of(query, &external).map(|matchers| (query.clone(), matchers)))
        .collect::<Result<Vec<_>, ReadRequestError>>()
    {
        Ok(selections) => selections,
        Err(err) => return text_error(err.status(), &err.to_string()),
    };
    // Held until the answer is made (SAMPLES) or sent (streamed).
    let permit = match &state.remote_read_slots {
        Some(slots) => {
            Some(Arc::clone(slots).acquire_owned().await.expect("the remote read semaphore is never closed"))
        }
        None => None,
    };
    let db = state.db.clone();
    let options = Arc::clone(&state.options);
    match response_type {
        ResponseType::Samples => {
            let limit = options.remote_read_sample_limit;
            let answer = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                answer_samples(&db, &selections, &external, limit)
            })
            .await;
            match answer {
                Ok(Ok(response)) => {
                    let mut out = prompb::encode_snappy(&response).into_response();
                    let headers = out.headers_mut();
                    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(prompb::CONTENT_TYPE));
                    headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("snappy"));
                    out
                }
                Ok(Err(err)) => text_error(err.status(), &err.to_string()),
                Err(err) => text_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("remote read: {err}")),
            }
        }
        ResponseType::StreamedXorChunks => {
            let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(STREAM_BUFFERS);
            let max_bytes_in_frame = options.remote_read_max_bytes_in_frame;
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                stream_frames(&db, &selections, &external, max_bytes_in_frame, &tx);
            });
            let frames = futures_util::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|bytes| (Ok::<Bytes, std::convert::Infallible>(bytes), rx))
            });
            let mut out = axum::body::Body::from_stream(frames).into_response();
            // Frames are not snappy-compressed: no Content-Encoding, as upstream.
            out.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(prompb::STREAMED_CONTENT_TYPE));
            out
        }
    }
}

/// Why a read request gets no answer; the texts are upstream's, since a client shows them to
/// its user.
#[derive(Debug, PartialEq, thiserror::Error)]
enum ReadRequestError {
    /// None of the client's accepted response types is one this server sends.
    #[error(
        "server does not support any of the requested response types: [{}]; supported: map[SAMPLES:{{}} STREAMED_XOR_CHUNKS:{{}}]",
        // Only unknown values are left, which Go's enum String() prints as numbers.
        accepted.iter().map(i32::to_string).collect::<Vec<_>>().join(" ")
    )]
    UnsupportedResponseTypes {
        /// The client's list.
        accepted: Vec<i32>,
    },
    /// A matcher's type is none of the four.
    #[error("invalid matcher type")]
    InvalidMatcherType,
    /// A regex matcher does not compile.
    #[error("{0}")]
    Matcher(#[from] BadRegex),
    /// A SAMPLES answer would hold more than `--storage.remote.read-sample-limit`.
    #[error("exceeded sample limit ({limit})")]
    SampleLimit {
        /// The flag's value.
        limit: usize,
    },
}

impl ReadRequestError {
    fn status(&self) -> StatusCode {
        match self {
            ReadRequestError::UnsupportedResponseTypes { .. } | ReadRequestError::SampleLimit { .. } => {
                StatusCode::BAD_REQUEST
            }
            // Upstream answers a matcher it cannot build with 500, before anything is sent.
            ReadRequestError::InvalidMatcherType | ReadRequestError::Matcher(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The first accepted type this server supports; SAMPLES when the client lists none (clients
/// older than the streamed response send an empty list). The error is upstream's text, Go's
/// formatting included, since it is what a client shows its user.
fn negotiate_response_type(accepted: &[i32]) -> Result<ResponseType, ReadRequestError> {
    if accepted.is_empty() {
        return Ok(ResponseType::Samples);
    }
    for &response_type in accepted {
        match response_type {
            prompb::RESPONSE_TYPE_SAMPLES => return Ok(ResponseType::Samples),
            prompb::RESPONSE_TYPE_STREAMED_XOR_CHUNKS => return Ok(ResponseType::StreamedXorChunks),
            _ => {}
        }
    }
    Err(ReadRequestError::UnsupportedResponseTypes { accepted: accepted.to_vec() })
}

/// The matchers selecting `query`'s local series, as upstream's `filterExtLabelsFromMatchers`:
/// an equality matcher asking for an external label's value asks for series without that label
/// (local series do not carry it; the answer adds it). Every other matcher is kept as sent.
fn matchers_of(query: &prompb::Query, external: &[(String, String)]) -> Result<Vec<Matcher>, ReadRequestError> {
    let mut matchers = Vec::with_capacity(query.matchers.len());
    for m in &query.matchers {
        let op = match m.r#type {
            0 => MatchOp::Equal,
            1 => MatchOp::NotEqual,
            2 => MatchOp::Regex,
            3 => MatchOp::NotRegex,
            _ => return Err(ReadRequestError::InvalidMatcherType),
        };
        let external_value = external.iter().find(|(name, _)| *name == m.name).map_or("", |(_, v)| v.as_str());
        let value = if op == MatchOp::Equal && m.value == external_value { "" } else { m.value.as_str() };
        matchers.push(Matcher::new(op, m.name.clone(), value)?);
    }
    Ok(matchers)
}

/// The series answering `query` from local storage, sorted by their own labels.
fn select(db: &promlite_storage::Db, query: &prompb::Query, matchers: &[Matcher]) -> Vec<Series> {
    db.local_querier(query.start_timestamp_ms, query.end_timestamp_ms).select(matchers)
}

/// A series' labels as a remote-read client sees them: external labels added where the series
/// has no label of that name, sorted by name.
fn remote_labels(series: &Series, external: &[(String, String)]) -> Vec<prompb::Label> {
    let mut labels: Vec<prompb::Label> =
        series.labels.iter().map(|l| prompb::Label { name: l.name.clone(), value: l.value.clone() }).collect();
    for (name, value) in external {
        if !series.labels.has(name) {
            labels.push(prompb::Label { name: name.clone(), value: value.clone() });
        }
    }
    labels.sort_by(|a, b| a.name.cmp(&b.name));
    labels
}

/// The SAMPLES answer; more than `sample_limit` samples in all (0: no limit) is an error.
fn answer_samples(
    db: &promlite_storage::Db,
    selections: &[(prompb::Query, Vec<Matcher>)],
    external: &[(String, String)],
    sample_limit: usize,
) -> Result<ReadResponse, ReadRequestError> {
    let mut results = Vec::with_capacity(selections.len());
    let mut samples_total = 0usize;
    for (query, matchers) in selections {
        let mut timeseries = Vec::new();
        for series in select(db, query, matchers) {
            let samples: Vec<prompb::Sample> =
                series.iter().map(|s| prompb::Sample { value: s.v, timestamp: s.t }).collect();
            if samples.is_empty() {
                continue;
            }
            samples_total += samples.len();
            if sample_limit > 0 && samples_total > sample_limit {
                return Err(ReadRequestError::SampleLimit { limit: sample_limit });
            }
            let labels = remote_labels(&series, external);
            timeseries.push(prompb::TimeSeries { labels, samples, exemplars: vec![], histograms: vec![] });
        }
        results.push(prompb::QueryResult { timeseries });
    }
    Ok(ReadResponse { results })
}

/// Sends the frames of every series of every query, in query order, to `tx` in pieces of
/// about [`STREAM_FLUSH_BYTES`]; stops early when the client has gone.
fn stream_frames(
    db: &promlite_storage::Db,
    selections: &[(prompb::Query, Vec<Matcher>)],
    external: &[(String, String)],
    max_bytes_in_frame: usize,
    tx: &tokio::sync::mpsc::Sender<Bytes>,
) {
    let mut body = Vec::new();
    for (query_index, (query, matchers)) in selections.iter().enumerate() {
        for series in select(db, query, matchers) {
            let samples = series.samples();
            if samples.is_empty() {
                continue;
            }
            let labels = remote_labels(&series, external);
            put_series_frames(&mut body, query_index as i64, &labels, &samples, max_bytes_in_frame);
            if body.len() >= STREAM_FLUSH_BYTES && tx.blocking_send(Bytes::from(std::mem::take(&mut body))).is_err() {
                return;
            }
        }
    }
    if !body.is_empty() {
        let _ = tx.blocking_send(Bytes::from(body));
    }
}

/// Appends the frames of one series: its samples re-encoded as XOR chunks of at most
/// [`SAMPLES_PER_CHUNK`], in time order, one series per frame. A frame is cut once its labels
/// and chunks reach `max_bytes_in_frame` (sizes as upstream counts them: each label's and each
/// chunk's message size), after the chunk that reached it, so every frame holds at least one
/// chunk even when the labels alone are over the limit. Samples are never shared between
/// chunks, so each sample arrives exactly once.
fn put_series_frames(
    out: &mut Vec<u8>,
    query_index: i64,
    labels: &[prompb::Label],
    samples: &[Sample],
    max_bytes_in_frame: usize,
) {
    let labels_size: usize = labels.iter().map(Message::encoded_len).sum();
    let chunk_budget = max_bytes_in_frame as i64 - labels_size as i64;
    let mut budget_left = chunk_budget;
    let mut chunks = Vec::new();
    let mut runs = samples.chunks(SAMPLES_PER_CHUNK).peekable();
    while let Some(run) = runs.next() {
        let mut xor = XorChunk::new();
        for sample in run {
            xor.append(sample.t, sample.v);
        }
        let chunk = prompb::Chunk {
            min_time_ms: run[0].t,
            max_time_ms: run[run.len() - 1].t,
            r#type: prompb::CHUNK_ENCODING_XOR,
            data: xor.bytes().to_vec(),
        };
        budget_left -= chunk.encoded_len() as i64;
        chunks.push(chunk);
        if budget_left > 0 && runs.peek().is_some() {
            continue;
        }
        let frame = prompb::ChunkedReadResponse {
            chunked_series: vec![prompb::ChunkedSeries {
                labels: labels.to_vec(),
                chunks: std::mem::take(&mut chunks),
            }],
            query_index,
        };
        prompb::put_frame(out, &frame);
        budget_left = chunk_budget;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--storage.remote.read-max-bytes-in-frame`'s default.
    const DEFAULT_MAX_BYTES_IN_FRAME: usize = 1 << 20;
    use promlite_storage::chunkenc::XorIterator;

    #[test]
    fn negotiation_takes_the_first_supported_type() {
        let cases: [(&[i32], ResponseType); 5] = [
            (&[], ResponseType::Samples),
            (&[0], ResponseType::Samples),
            (&[1], ResponseType::StreamedXorChunks),
            (&[7, 1, 0], ResponseType::StreamedXorChunks),
            (&[0, 1], ResponseType::Samples),
        ];
        for (accepted, want) in cases {
            assert_eq!(negotiate_response_type(accepted), Ok(want), "{accepted:?}");
        }
        assert_eq!(
            negotiate_response_type(&[7, -2]).unwrap_err().to_string(),
            "server does not support any of the requested response types: [7 -2]; supported: \
             map[SAMPLES:{} STREAMED_XOR_CHUNKS:{}]"
        );
    }

    fn labels(pairs: &[(&str, &str)]) -> Vec<prompb::Label> {
        pairs.iter().map(|(name, value)| prompb::Label { name: (*name).into(), value: (*value).into() }).collect()
    }

    /// Samples whose values change in every bit position, so chunks are near their largest
    /// (a frame then holds few of them), with a staleness marker and infinities among them.
    fn noisy_samples(n: usize) -> Vec<Sample> {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|i| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let v = match i % 97 {
                    13 => f64::from_bits(promlite_storage::STALE_NAN.to_bits()),
                    14 => f64::INFINITY,
                    15 => f64::NEG_INFINITY,
                    _ => f64::from_bits(state >> 2),
                };
                // Irregular steps exercise every delta-of-delta width.
                Sample { t: 1_700_000_000_000 + (i as i64) * 15_000 + (state % 7_000) as i64, v }
            })
            .collect()
    }

    /// One decoded frame: query index, labels, and the samples as `(t, value bits)`.
    type DecodedFrame = (i64, Vec<prompb::Label>, Vec<(i64, u64)>);

    /// Decodes a body, checking every frame's shape.
    fn decode(body: &[u8]) -> Vec<DecodedFrame> {
        let frames = prompb::read_frames(body, u64::MAX).unwrap();
        frames
            .into_iter()
            .map(|frame| {
                assert_eq!(frame.chunked_series.len(), 1, "one series per frame");
                let series = &frame.chunked_series[0];
                assert!(!series.chunks.is_empty());
                let mut samples = Vec::new();
                for chunk in &series.chunks {
                    assert_eq!(chunk.r#type, prompb::CHUNK_ENCODING_XOR);
                    let decoded: Vec<Sample> = XorIterator::new(&chunk.data).unwrap().map(Result::unwrap).collect();
                    assert!((1..=SAMPLES_PER_CHUNK).contains(&decoded.len()), "{} samples", decoded.len());
                    assert_eq!(chunk.min_time_ms, decoded[0].t);
                    assert_eq!(chunk.max_time_ms, decoded[decoded.len() - 1].t);
                    samples.extend(decoded.iter().map(|s| (s.t, s.v.to_bits())));
                }
                (frame.query_index, series.labels.clone(), samples)
            })
            .collect()
    }

    #[test]
    fn a_long_series_is_split_across_frames_with_every_sample_once_in_order() {
        let labels = labels(&[("__name__", "noisy"), ("job", "a")]);
        let samples = noisy_samples(10_000);
        let want: Vec<(i64, u64)> = samples.iter().map(|s| (s.t, s.v.to_bits())).collect();
        let max_bytes_in_frame = 8_000;
        let mut body = Vec::new();
        put_series_frames(&mut body, 3, &labels, &samples, max_bytes_in_frame);

        let frames = decode(&body);
        assert!(frames.len() > 5, "{} frames", frames.len());
        let mut got = Vec::new();
        for (query_index, frame_labels, frame_samples) in &frames {
            assert_eq!(*query_index, 3);
            assert_eq!(frame_labels, &labels, "every frame repeats the labels");
            got.extend_from_slice(frame_samples);
        }
        assert_eq!(got, want);

        // Cut as upstream cuts: every frame but the last reached the limit, and none went on
        // past the chunk that reached it.
        let labels_size: usize = labels.iter().map(Message::encoded_len).sum();
        let parsed = prompb::read_frames(&body, u64::MAX).unwrap();
        for (i, frame) in parsed.iter().enumerate() {
            let sizes: Vec<usize> = frame.chunked_series[0].chunks.iter().map(Message::encoded_len).collect();
            let all: usize = labels_size + sizes.iter().sum::<usize>();
            let before_last = all - sizes[sizes.len() - 1];
            assert!(before_last < max_bytes_in_frame, "frame {i}: {before_last} bytes before its last chunk");
            if i + 1 < parsed.len() {
                assert!(all >= max_bytes_in_frame, "frame {i} cut early at {all} bytes");
            }
        }

        // The default limit keeps this series in one frame.
        let mut body = Vec::new();
        put_series_frames(&mut body, 0, &labels, &samples, DEFAULT_MAX_BYTES_IN_FRAME);
        let frames = decode(&body);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].2, want);
    }

    #[test]
    fn every_sample_arrives_once_in_order_whatever_the_limit() {
        let labels = labels(&[("__name__", "m")]);
        for n in [1, 119, 120, 121, 241, 5_000] {
            let samples = noisy_samples(n);
            let want: Vec<(i64, u64)> = samples.iter().map(|s| (s.t, s.v.to_bits())).collect();
            for max_bytes_in_frame in [0, 1, 1_200, 5_000, DEFAULT_MAX_BYTES_IN_FRAME] {
                let mut body = Vec::new();
                put_series_frames(&mut body, 1, &labels, &samples, max_bytes_in_frame);
                let frames = decode(&body);
                let got: Vec<(i64, u64)> = frames.iter().flat_map(|f| f.2.iter().copied()).collect();
                assert_eq!(got, want, "{n} samples, frames of {max_bytes_in_frame} bytes");
                assert!(frames.iter().all(|f| f.0 == 1 && f.1 == labels));
                let chunks = n.div_ceil(SAMPLES_PER_CHUNK);
                assert!((1..=chunks).contains(&frames.len()), "{n} samples: {} frames", frames.len());
            }
        }
    }

    #[test]
    fn labels_larger_than_the_frame_still_send_one_chunk_per_frame() {
        let labels = labels(&[("__name__", "long"), ("pad", &"x".repeat(200))]);
        let samples = noisy_samples(250);
        let mut body = Vec::new();
        put_series_frames(&mut body, 0, &labels, &samples, 64);
        let frames = decode(&body);
        let per_frame: Vec<usize> = frames.iter().map(|f| f.2.len()).collect();
        assert_eq!(per_frame, [120, 120, 10]);
    }

    #[test]
    fn an_equality_matcher_on_an_external_value_asks_for_series_without_the_label() {
        let external = [("replica".to_owned(), "r1".to_owned())];
        let wire = |r#type: i32, name: &str, value: &str| prompb::LabelMatcher {
            r#type,
            name: name.into(),
            value: value.into(),
        };
        let query = prompb::Query {
            start_timestamp_ms: 0,
            end_timestamp_ms: 1,
            matchers: vec![wire(0, "replica", "r1"), wire(2, "replica", "r.*"), wire(0, "job", "")],
            hints: None,
        };
        let got: Vec<(MatchOp, String, String)> =
            matchers_of(&query, &external).unwrap().into_iter().map(|m| (m.op, m.name, m.value)).collect();
        let want = [(MatchOp::Equal, "replica", ""), (MatchOp::Regex, "replica", "r.*"), (MatchOp::Equal, "job", "")]
            .map(|(op, n, v)| (op, n.to_owned(), v.to_owned()));
        assert_eq!(got, want);
        let bad = prompb::Query { matchers: vec![wire(9, "job", "x")], ..query };
        assert_eq!(matchers_of(&bad, &external).unwrap_err().to_string(), "invalid matcher type");
    }

    #[test]
    fn external_labels_are_added_unless_the_series_has_them_and_sorted() {
        let series = Series::from_samples(
            promlite_storage::Labels::from_pairs([("__name__", "up"), ("region", "local"), ("zone", "z")]),
            vec![],
        );
        let external = [("region".to_owned(), "eu".to_owned()), ("cluster".to_owned(), "lab".to_owned())];
        let got: Vec<(String, String)> =
            remote_labels(&series, &external).into_iter().map(|l| (l.name, l.value)).collect();
        let want = [("__name__", "up"), ("cluster", "lab"), ("region", "local"), ("zone", "z")];
        assert_eq!(got, want.map(|(n, v)| (n.to_owned(), v.to_owned())));
    }
}
