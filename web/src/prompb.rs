//! The remote-write 1.0 and remote-read protobuf messages (upstream `prompb/types.proto` and
//! `prompb/remote.proto`, package `prometheus`), hand-written as prost structs so no `protoc` or
//! build script is needed, and the snappy block framing both protocols use.
//!
//! Invariant: field numbers and wire types are upstream's, so bytes from Prometheus,
//! VictoriaMetrics or any remote-write sender decode here, and ours decode there. Native
//! histograms are kept as opaque bytes: promlite stores no histograms, but a receiver still has
//! to count what it drops. Decoding is bounded: [`decode_snappy`] refuses a body whose declared
//! decoded size is above [`MAX_DECODED_BYTES`] before allocating it.

use prost::Message;

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
}

/// Decodes a snappy block (not the framed stream format) holding an `M`.
pub fn decode_snappy<M: Message + Default>(body: &[u8]) -> Result<M, DecodeError> {
    let size = snap::raw::decompress_len(body)?;
    if size > MAX_DECODED_BYTES {
        return Err(DecodeError::TooLarge { size });
    }
    let raw = snap::raw::Decoder::new().decompress_vec(body)?;
    Ok(M::decode(raw.as_slice())?)
}

/// Encodes `message` as protobuf in a snappy block, as remote write and read send it.
pub fn encode_snappy<M: Message>(message: &M) -> Vec<u8> {
    let raw = message.encode_to_vec();
    snap::raw::Encoder::new().compress_vec(&raw).expect("snappy block encoding of an in-memory buffer cannot fail")
}

#[cfg(test)]
mod tests {
    use super::*;

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
