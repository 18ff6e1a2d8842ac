//! The remote-write 1.0 and remote-read protobuf messages (with the streamed response's frames) (upstream `prompb/types.proto` and
//! `prompb/remote.proto`, package `prometheus`), hand-written as prost structs so no `protoc` or
//! build script is needed, and the snappy block framing both protocols use.
//!
//! Invariant: field numbers and wire types are upstream's, so bytes from Prometheus,
//! VictoriaMetrics or any remote-write sender decode here, and ours decode there. Native
//! histograms are kept as opaque bytes: promlite stores no histograms, but a receiver still has
//! to count what it drops. Decoding is bounded: [`decode_snappy`] refuses a body whose declared
//! decoded size is above [`MAX_DECODED_BYTES`] before allocating it.
//!
//! The remote-write receiver decodes 1.0 requests with [`recv`] instead (strings borrowed from
//! the body, same accepted bodies); everything else uses the owned messages here.

use prost::Message;

pub mod recv;
pub mod v2;

/// `Content-Type` of remote-write 1.0 and remote-read bodies.
pub const CONTENT_TYPE: &str = "application/x-protobuf";
/// `X-Prometheus-Remote-Write-Version` a 1.0 sender sends.
pub const REMOTE_WRITE_VERSION_1: &str = "0.1.0";
/// `X-Prometheus-Remote-Read-Version` a remote-read client sends.
pub const REMOTE_READ_VERSION: &str = "0.1.0";
/// The largest decoded body accepted (remote-write bodies are a few MiB at most: upstream's
/// sender caps a request at `max_samples_per_send` samples).
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// `prometheus.WriteRequest`: one remote-write 1.0 request.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series, each with its samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
    /// Metric metadata (type, help, unit) of metric families.
    #[prost(message, repeated, tag = "3")]
    pub metadata: Vec<MetricMetadata>,
}

/// `prometheus.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// The series' labels, sorted by name as senders send them (not relied upon).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Exemplars.
    #[prost(message, repeated, tag = "3")]
    pub exemplars: Vec<Exemplar>,
    /// Native histogram samples, undecoded (`prometheus.Histogram`).
    #[prost(bytes = "vec", repeated, tag = "4")]
    pub histograms: Vec<Vec<u8>>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.Exemplar`.
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
    /// The exemplar's own labels (trace id, ...).
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// The value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `prometheus.MetricMetadata`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct MetricMetadata {
    /// `MetricType` (0 unknown, 1 counter, 2 gauge, 3 histogram, 4 gaugehistogram, 5 summary,
    /// 6 info, 7 stateset).
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// The metric family's name.
    #[prost(string, tag = "2")]
    pub metric_family_name: String,
    /// HELP text.
    #[prost(string, tag = "4")]
    pub help: String,
    /// UNIT.
    #[prost(string, tag = "5")]
    pub unit: String,
}

/// `prometheus.ReadRequest`: one or more queries.
#[derive(Clone, PartialEq, Message)]
pub struct ReadRequest {
    /// The queries, answered in order.
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// Response types the client accepts, in preference order (0 samples, 1 streamed XOR chunks).
    #[prost(int32, repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// `ReadRequest.ResponseType.SAMPLES`.
pub const RESPONSE_TYPE_SAMPLES: i32 = 0;
/// `ReadRequest.ResponseType.STREAMED_XOR_CHUNKS`.
pub const RESPONSE_TYPE_STREAMED_XOR_CHUNKS: i32 = 1;

/// `prometheus.ReadResponse`: one result per query, in request order.
#[derive(Clone, PartialEq, Message)]
pub struct ReadResponse {
    /// Results.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// `prometheus.Query`.
#[derive(Clone, PartialEq, Message)]
pub struct Query {
    /// Start, milliseconds, inclusive.
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// End, milliseconds, inclusive.
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// Series selection.
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
    /// Hints (step, function); informational only.
    #[prost(message, optional, tag = "4")]
    pub hints: Option<ReadHints>,
}

/// `prometheus.QueryResult`.
#[derive(Clone, PartialEq, Message)]
pub struct QueryResult {
    /// The matching series with their samples in the query's range.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.LabelMatcher`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct LabelMatcher {
    /// 0 `=`, 1 `!=`, 2 `=~`, 3 `!~`.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// Label name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Value or regular expression.
    #[prost(string, tag = "3")]
    pub value: String,
}

/// `prometheus.ReadHints`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct ReadHints {
    /// Query step, milliseconds.
    #[prost(int64, tag = "1")]
    pub step_ms: i64,
    /// Surrounding function or aggregation.
    #[prost(string, tag = "2")]
    pub func: String,
    /// Start, milliseconds.
    #[prost(int64, tag = "3")]
    pub start_ms: i64,
    /// End, milliseconds.
    #[prost(int64, tag = "4")]
    pub end_ms: i64,
    /// Grouping labels.
    #[prost(string, repeated, tag = "5")]
    pub grouping: Vec<String>,
    /// `by` (true) or `without`.
    #[prost(bool, tag = "6")]
    pub by: bool,
    /// Range of a range selector, milliseconds.
    #[prost(int64, tag = "7")]
    pub range_ms: i64,
}

/// `Content-Type` of a streamed remote-read response (`STREAMED_XOR_CHUNKS`).
pub const STREAMED_CONTENT_TYPE: &str = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// `prometheus.ChunkedReadResponse`: one frame of a streamed remote-read response.
#[derive(Clone, PartialEq, Message)]
pub struct ChunkedReadResponse {
    /// Series (or parts of series) of one query.
    #[prost(message, repeated, tag = "1")]
    pub chunked_series: Vec<ChunkedSeries>,
    /// Index into `ReadRequest.queries` of the query these series answer.
    #[prost(int64, tag = "2")]
    pub query_index: i64,
}

/// `prometheus.ChunkedSeries`: a series' labels (sorted) and chunks in start-time order. A
/// series may span several frames, each repeating its labels.
#[derive(Clone, PartialEq, Message)]
pub struct ChunkedSeries {
    /// Labels, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Chunks, oldest first; they may overlap.
    #[prost(message, repeated, tag = "2")]
    pub chunks: Vec<Chunk>,
}

/// `prometheus.Chunk`: one encoded chunk; `data` is the chunk's bytes as the TSDB writes them.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Chunk {
    /// Timestamp of the first sample, ms.
    #[prost(int64, tag = "1")]
    pub min_time_ms: i64,
    /// Timestamp of the last sample, ms.
    #[prost(int64, tag = "2")]
    pub max_time_ms: i64,
    /// `Chunk.Encoding`: 1 XOR; the histogram encodings are not produced or read here.
    #[prost(int32, tag = "3")]
    pub r#type: i32,
    /// The encoded chunk.
    #[prost(bytes = "vec", tag = "4")]
    pub data: Vec<u8>,
}

/// `Chunk.Encoding.XOR`.
pub const CHUNK_ENCODING_XOR: i32 = 1;

/// Appends one frame of a streamed response to `out`: `uvarint(len)`, the CRC32 (Castagnoli,
/// big endian) of the message bytes, then the message (upstream `ChunkedWriter`).
pub fn put_frame(out: &mut Vec<u8>, message: &ChunkedReadResponse) {
    let bytes = message.encode_to_vec();
    let mut len = bytes.len() as u64;
    while len >= 0x80 {
        out.push((len as u8) | 0x80);
        len >>= 7;
    }
    out.push(len as u8);
    out.extend_from_slice(&crc32c::crc32c(&bytes).to_be_bytes());
    out.extend_from_slice(&bytes);
}

/// A streamed remote-read response that does not decode.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The body ends inside a frame.
    #[error("streamed response truncated at byte {at}")]
    Truncated {
        /// Offset of the frame that is cut short.
        at: usize,
    },
    /// A frame is larger than the reader's limit (`chunked_read_limit`).
    #[error("frame of {size} bytes at byte {at} is larger than the limit of {limit} bytes")]
    TooLarge {
        /// Offset of the frame.
        at: usize,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The checksum does not match the frame's bytes.
    #[error("frame at byte {at}: checksum mismatch")]
    Checksum {
        /// Offset of the frame.
        at: usize,
    },
    /// The frame is not a `ChunkedReadResponse`.
    #[error("frame at byte {at}: {error}")]
    Protobuf {
        /// Offset of the frame.
        at: usize,
        /// What prost said.
        error: prost::DecodeError,
    },
}

/// Reads the frames of a whole streamed response body (upstream `ChunkedReader`), refusing any
/// frame declared larger than `limit` bytes before allocating it.
pub fn read_frames(mut body: &[u8], limit: u64) -> Result<Vec<ChunkedReadResponse>, FrameError> {
    let mut frames = Vec::new();
    let mut at = 0usize;
    while !body.is_empty() {
        let mut size = 0u64;
        let mut used = 0usize;
        loop {
            let Some(&byte) = body.get(used) else { return Err(FrameError::Truncated { at }) };
            if used == 10 {
                return Err(FrameError::Truncated { at });
            }
            size |= u64::from(byte & 0x7f) << (7 * used as u32);
            used += 1;
            if byte < 0x80 {
                break;
            }
        }
        if size > limit {
            return Err(FrameError::TooLarge { at, size, limit });
        }
        let rest = &body[used..];
        if (rest.len() as u64) < 4 + size {
            return Err(FrameError::Truncated { at });
        }
        let crc = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let message = &rest[4..4 + size as usize];
        if crc32c::crc32c(message) != crc {
            return Err(FrameError::Checksum { at });
        }
        let frame = ChunkedReadResponse::decode(message).map_err(|error| FrameError::Protobuf { at, error })?;
        frames.push(frame);
        let consumed = used + 4 + size as usize;
        at += consumed;
        body = &body[consumed..];
    }
    Ok(frames)
}

/// A body that is not a snappy-framed protobuf message.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not a snappy block.
    #[error("snappy: {0}")]
    Snappy(#[from] snap::Error),
    /// The decoded size is above [`MAX_DECODED_BYTES`].
    #[error("decoded body of {size} bytes is larger than the limit of {MAX_DECODED_BYTES} bytes")]
    TooLarge {
        /// The size the snappy header declares.
        size: usize,
    },
    /// Not the protobuf message expected.
    #[error("{0}")]
    Protobuf(#[from] prost::DecodeError),
    /// [`recv::decode`] refused a body that prost's decode of [`WriteRequest`] accepts: a bug
    /// in the receive-side decoder (the receiver logs it); the body is refused rather than half-read.
    #[error("remote write body refused by the receive-side decoder at byte {at}")]
    RecvDecoder {
        /// Where the decoder stopped.
        at: usize,
    },
}

/// Decodes a snappy block (not the framed stream format) holding an `M`.
pub fn decode_snappy<M: Message + Default>(body: &[u8]) -> Result<M, DecodeError> {
    let raw = decompress_snappy(body)?;
    Ok(M::decode(raw.as_slice())?)
}

/// Decompresses a snappy block, refusing one that declares more than [`MAX_DECODED_BYTES`]
/// before allocating anything.
pub fn decompress_snappy(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let size = snap::raw::decompress_len(body)?;
    if size > MAX_DECODED_BYTES {
        return Err(DecodeError::TooLarge { size });
    }
    Ok(snap::raw::Decoder::new().decompress_vec(body)?)
}

/// Encodes `message` as protobuf in a snappy block, as remote write and read send it.
pub fn encode_snappy<M: Message>(message: &M) -> Vec<u8> {
    let raw = message.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).expect("snappy block encoding of an in-memory buffer cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_refuse_corruption() {
        let frame = ChunkedReadResponse {
            chunked_series: vec![ChunkedSeries {
                labels: vec![Label { name: "__name__".into(), value: "up".into() }],
                chunks: vec![Chunk { min_time_ms: 1, max_time_ms: 2, r#type: CHUNK_ENCODING_XOR, data: vec![0, 1, 2] }],
            }],
            query_index: 1,
        };
        let mut body = Vec::new();
        put_frame(&mut body, &frame);
        put_frame(&mut body, &ChunkedReadResponse { chunked_series: vec![], query_index: 0 });
        let frames = read_frames(&body, 1 << 20).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0], frame);
        assert!(matches!(read_frames(&body, 4), Err(FrameError::TooLarge { at: 0, .. })));
        assert!(matches!(read_frames(&body[..body.len() - 1], 1 << 20), Err(FrameError::Truncated { .. })));
        let mut corrupt = body.clone();
        corrupt[7] ^= 0xff;
        assert_eq!(read_frames(&corrupt, 1 << 20), Err(FrameError::Checksum { at: 0 }));
    }

    /// Bytes written field by field from `types.proto` (tag = field << 3 | wire type), so the
    /// derive's field numbers are checked against the spec rather than against themselves.
    #[test]
    fn write_request_wire_format_is_upstreams() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label { name: "a".into(), value: "b".into() }],
                samples: vec![Sample { value: 1.0, timestamp: 2 }],
                exemplars: vec![],
                histograms: vec![],
            }],
            metadata: vec![MetricMetadata {
                r#type: 1,
                metric_family_name: "m".into(),
                help: "h".into(),
                unit: "".into(),
            }],
        };
        let label = [0x0a, 1, b'a', 0x12, 1, b'b'];
        let mut sample = vec![0x09];
        sample.extend_from_slice(&1.0f64.to_le_bytes());
        sample.extend_from_slice(&[0x10, 2]);
        let mut series = vec![0x0a, label.len() as u8];
        series.extend_from_slice(&label);
        series.extend_from_slice(&[0x12, sample.len() as u8]);
        series.extend_from_slice(&sample);
        let metadata = [0x08, 1, 0x12, 1, b'm', 0x22, 1, b'h'];
        let mut want = vec![0x0a, series.len() as u8];
        want.extend_from_slice(&series);
        want.extend_from_slice(&[0x1a, metadata.len() as u8]);
        want.extend_from_slice(&metadata);
        assert_eq!(req.encode_to_vec(), want);
        assert_eq!(WriteRequest::decode(want.as_slice()).unwrap(), req);
    }

    #[test]
    fn snappy_round_trip_and_limits() {
        let req = ReadRequest {
            queries: vec![Query {
                start_timestamp_ms: 1,
                end_timestamp_ms: 2,
                matchers: vec![LabelMatcher { r#type: 2, name: "job".into(), value: "n.*".into() }],
                hints: None,
            }],
            accepted_response_types: vec![RESPONSE_TYPE_SAMPLES],
        };
        let body = encode_snappy(&req);
        assert_eq!(decode_snappy::<ReadRequest>(&body).unwrap(), req);
        assert!(matches!(decode_snappy::<ReadRequest>(b"not snappy at all"), Err(DecodeError::Snappy(_))));
        // A snappy header that declares 1 GiB: refused before any allocation of that size.
        let mut huge = Vec::new();
        let mut n = 1usize << 30;
        while n >= 0x80 {
            huge.push((n as u8) | 0x80);
            n >>= 7;
        }
        huge.push(n as u8);
        assert!(matches!(decode_snappy::<ReadRequest>(&huge), Err(DecodeError::TooLarge { .. })));
        // Valid snappy around bytes that are not a WriteRequest.
        let junk = snap::raw::Encoder::new().compress_vec(&[0xff, 0xff, 0xff]).unwrap();
        assert!(matches!(decode_snappy::<WriteRequest>(&junk), Err(DecodeError::Protobuf(_))));
    }
}
