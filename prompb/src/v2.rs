//! The remote-write 2.0 protobuf messages (upstream `prompb/io/prometheus/write/v2/types.proto`,
//! package `io.prometheus.write.v2`), hand-written as prost structs like [`crate`], and
//! the symbol table that 2.0 strings go through.
//!
//! Invariant: field numbers and wire types are upstream's (checked byte by byte in the tests), so
//! a `Request` from Prometheus 3 decodes here and ours decode there. Every string of a request
//! lives once in `Request.symbols`; series, exemplars and metadata name them by index. An index
//! is only trusted after [`Request::resolve`] checked it: a bad one is a [`SymbolError`] naming
//! the series and the reference, never a panic. Native histograms are kept as opaque bytes, as
//! in the 1.0 messages: promlite stores none, but a receiver has to count what it drops. Bodies
//! go through [`crate::decode_snappy`], which bounds the decoded size.

use std::collections::HashMap;

use prost::Message;

/// The `proto=` parameter that names this message in a `Content-Type`.
pub const PROTO_MESSAGE: &str = "io.prometheus.write.v2.Request";
/// The full `Content-Type` a 2.0 sender sends.
pub const CONTENT_TYPE: &str = "application/x-protobuf;proto=io.prometheus.write.v2.Request";
/// `X-Prometheus-Remote-Write-Version` a 2.0 sender sends.
pub const REMOTE_WRITE_VERSION_2: &str = "2.0.0";
/// Response header: float samples the receiver wrote.
pub const SAMPLES_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Samples-Written";
/// Response header: native histogram samples the receiver wrote.
pub const HISTOGRAMS_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Histograms-Written";
/// Response header: exemplars the receiver wrote.
pub const EXEMPLARS_WRITTEN_HEADER: &str = "X-Prometheus-Remote-Write-Exemplars-Written";

/// `io.prometheus.write.v2.Request`: one remote-write 2.0 request. Fields 1 to 3 are reserved
/// upstream so a 1.0 `WriteRequest` decodes as an empty 2.0 request rather than as garbage.
#[derive(Clone, PartialEq, Message)]
pub struct Request {
    /// Every string the request uses, de-duplicated; senders start it with `""`.
    #[prost(string, repeated, tag = "4")]
    pub symbols: Vec<String>,
    /// The series, each with its samples.
    #[prost(message, repeated, tag = "5")]
    pub timeseries: Vec<TimeSeries>,
}

/// `io.prometheus.write.v2.TimeSeries`.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Label name and value pairs as indices into `Request.symbols`: name, value, name, ...
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// Float samples, oldest first.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Native histogram samples, undecoded (`io.prometheus.write.v2.Histogram`).
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub histograms: Vec<Vec<u8>>,
    /// Exemplars attached to this series' samples.
    #[prost(message, repeated, tag = "4")]
    pub exemplars: Vec<Exemplar>,
    /// Type, help and unit of the series' metric. Upstream always sends it (a non-nullable
    /// field); absent means all zero.
    #[prost(message, optional, tag = "5")]
    pub metadata: Option<Metadata>,
}

/// `io.prometheus.write.v2.Exemplar`.
#[derive(Clone, PartialEq, Message)]
pub struct Exemplar {
    /// The exemplar's own labels (trace id, ...), as symbol references in pairs.
    #[prost(uint32, repeated, tag = "1")]
    pub labels_refs: Vec<u32>,
    /// The value.
    #[prost(double, tag = "2")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "3")]
    pub timestamp: i64,
}

/// `io.prometheus.write.v2.Sample`.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
    /// When the counter started counting, milliseconds; 0 means unset (formerly "created
    /// timestamp").
    #[prost(int64, tag = "3")]
    pub start_timestamp: i64,
}

/// `io.prometheus.write.v2.Metadata`.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Metadata {
    /// `MetricType`: 0 unspecified, 1 counter, 2 gauge, 3 histogram, 4 gaugehistogram,
    /// 5 summary, 6 info, 7 stateset.
    #[prost(int32, tag = "1")]
    pub r#type: i32,
    /// HELP text, as a symbol reference (0, the empty string, when there is none).
    #[prost(uint32, tag = "3")]
    pub help_ref: u32,
    /// UNIT, as a symbol reference.
    #[prost(uint32, tag = "4")]
    pub unit_ref: u32,
}

/// A series of a [`Request`] whose references do not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SymbolError {
    /// `labels_refs` must hold name/value pairs.
    #[error("series {series}: {field} refs have odd length {len}; they must come in name/value pairs")]
    OddLength {
        /// Index of the series in the request.
        series: usize,
        /// Which refs: `"labels"` or `"exemplar labels"`.
        field: &'static str,
        /// The length found.
        len: usize,
    },
    /// A reference past the end of `symbols`.
    #[error("series {series}: {field} ref {reference} is out of range; the request has {symbols} symbols")]
    OutOfRange {
        /// Index of the series in the request.
        series: usize,
        /// Which reference: `"label"`, `"exemplar label"`, `"metadata help"` or `"metadata unit"`.
        field: &'static str,
        /// The reference.
        reference: u32,
        /// How many symbols the request has.
        symbols: usize,
    },
}

/// One series of a request with every reference resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedSeries<'a> {
    /// Label names and values in the order the sender gave them.
    pub labels: Vec<(&'a str, &'a str)>,
    /// The metadata's `MetricType`.
    pub metric_type: i32,
    /// HELP text (`""` when none).
    pub help: &'a str,
    /// UNIT (`""` when none).
    pub unit: &'a str,
}

impl Request {
    /// Resolves every reference of series `index` (labels, exemplar labels, metadata help and
    /// unit) against `symbols`. `index` must be below `timeseries.len()`.
    pub fn resolve(&self, index: usize) -> Result<ResolvedSeries<'_>, SymbolError> {
        let series = &self.timeseries[index];
        let symbol = |field: &'static str, reference: u32| {
            self.symbols.get(reference as usize).map(String::as_str).ok_or(SymbolError::OutOfRange {
                series: index,
                field,
                reference,
                symbols: self.symbols.len(),
            })
        };
        if !series.labels_refs.len().is_multiple_of(2) {
            return Err(SymbolError::OddLength { series: index, field: "labels", len: series.labels_refs.len() });
        }
        let mut labels = Vec::with_capacity(series.labels_refs.len() / 2);
        for pair in series.labels_refs.chunks_exact(2) {
            labels.push((symbol("label", pair[0])?, symbol("label", pair[1])?));
        }
        // Exemplars are dropped, but a bad reference in one is still a bad request.
        for exemplar in &series.exemplars {
            if !exemplar.labels_refs.len().is_multiple_of(2) {
                let len = exemplar.labels_refs.len();
                return Err(SymbolError::OddLength { series: index, field: "exemplar labels", len });
            }
            for &reference in &exemplar.labels_refs {
                symbol("exemplar label", reference)?;
            }
        }
        let metadata = series.metadata.unwrap_or_default();
        Ok(ResolvedSeries {
            labels,
            metric_type: metadata.r#type,
            help: symbol("metadata help", metadata.help_ref)?,
            unit: symbol("metadata unit", metadata.unit_ref)?,
        })
    }
}

/// Builds a request's `symbols`: each distinct string once, `""` first as the spec requires.
#[derive(Debug, Clone)]
pub struct SymbolTable {
    symbols: Vec<String>,
    refs: HashMap<String, u32>,
}

impl Default for SymbolTable {
    fn default() -> Self {
        SymbolTable::new()
    }
}

impl SymbolTable {
    /// A table holding only `""` (reference 0).
    pub fn new() -> SymbolTable {
        SymbolTable { symbols: vec![String::new()], refs: HashMap::from([(String::new(), 0)]) }
    }

    /// The reference of `symbol`, adding it if new.
    pub fn symbolize(&mut self, symbol: &str) -> u32 {
        if let Some(&reference) = self.refs.get(symbol) {
            return reference;
        }
        let reference = self.symbols.len() as u32;
        self.symbols.push(symbol.to_owned());
        self.refs.insert(symbol.to_owned(), reference);
        reference
    }

    /// `labels_refs` for name/value pairs.
    pub fn symbolize_labels<'a>(&mut self, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<u32> {
        let mut refs = Vec::new();
        for (name, value) in labels {
            refs.push(self.symbolize(name));
            refs.push(self.symbolize(value));
        }
        refs
    }

    /// The symbols, in reference order, for `Request.symbols`.
    pub fn into_symbols(self) -> Vec<String> {
        self.symbols
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate as prompb;

    /// Bytes written field by field from `types.proto` (tag = field << 3 | wire type; proto3
    /// packs repeated scalars), so the derive's field numbers are checked against the spec.
    #[test]
    fn request_wire_format_is_upstreams() {
        let req = Request {
            symbols: vec!["".into(), "a".into(), "b".into()],
            timeseries: vec![TimeSeries {
                labels_refs: vec![1, 2],
                samples: vec![Sample { value: 1.0, timestamp: 2, start_timestamp: 3 }],
                histograms: vec![vec![0x18, 0x07]],
                exemplars: vec![Exemplar { labels_refs: vec![2, 1], value: 0.5, timestamp: 4 }],
                metadata: Some(Metadata { r#type: 2, help_ref: 1, unit_ref: 2 }),
            }],
        };
        // Request.symbols (4, length-delimited) three times.
        let mut want = vec![0x22, 0, 0x22, 1, b'a', 0x22, 1, b'b'];
        let mut series = vec![0x0a, 2, 1, 2]; // labels_refs (1), packed
        let mut sample = vec![0x09]; // value (1, fixed64)
        sample.extend_from_slice(&1.0f64.to_le_bytes());
        sample.extend_from_slice(&[0x10, 2, 0x18, 3]); // timestamp (2), start_timestamp (3)
        series.extend_from_slice(&[0x12, sample.len() as u8]);
        series.extend_from_slice(&sample);
        series.extend_from_slice(&[0x1a, 2, 0x18, 0x07]); // histograms (3), opaque
        let mut exemplar = vec![0x0a, 2, 2, 1, 0x11]; // labels_refs (1), value (2, fixed64)
        exemplar.extend_from_slice(&0.5f64.to_le_bytes());
        exemplar.extend_from_slice(&[0x18, 4]); // timestamp (3)
        series.extend_from_slice(&[0x22, exemplar.len() as u8]);
        series.extend_from_slice(&exemplar);
        series.extend_from_slice(&[0x2a, 6, 0x08, 2, 0x18, 1, 0x20, 2]); // metadata (5): type, help_ref, unit_ref
        want.extend_from_slice(&[0x2a, series.len() as u8]); // Request.timeseries (5)
        want.extend_from_slice(&series);
        assert_eq!(req.encode_to_vec(), want);
        assert_eq!(Request::decode(want.as_slice()).unwrap(), req);
    }

    /// Upstream reserves fields 1 to 3 so a 1.0 body read as 2.0 is an empty request
    /// (upstream `types_test.go` checks the same interop).
    #[test]
    fn a_1_0_write_request_decodes_as_an_empty_request() {
        let v1 = prompb::WriteRequest {
            timeseries: vec![prompb::TimeSeries {
                labels: vec![prompb::Label { name: "__name__".into(), value: "up".into() }],
                samples: vec![prompb::Sample { value: 1.0, timestamp: 1 }],
                exemplars: vec![],
                histograms: vec![],
            }],
            metadata: vec![],
        };
        let req = Request::decode(v1.encode_to_vec().as_slice()).unwrap();
        assert_eq!(req, Request::default());
    }

    #[test]
    fn references_resolve_or_say_which_series_and_ref() {
        let mut table = SymbolTable::new();
        let good = table.symbolize_labels([("__name__", "up"), ("job", "a")]);
        let help = table.symbolize("Whether the target is up.");
        assert_eq!(table.symbolize("up"), good[1]);
        let symbols = table.into_symbols();
        assert_eq!(symbols[0], "");
        let series = |labels_refs: Vec<u32>, metadata: Option<Metadata>, exemplars: Vec<Exemplar>| TimeSeries {
            labels_refs,
            samples: vec![],
            histograms: vec![],
            exemplars,
            metadata,
        };
        let exemplar = |labels_refs: Vec<u32>| Exemplar { labels_refs, value: 1.0, timestamp: 1 };
        let req = Request {
            symbols: symbols.clone(),
            timeseries: vec![
                series(good.clone(), Some(Metadata { r#type: 1, help_ref: help, unit_ref: 0 }), vec![]),
                series(vec![good[0], 99], None, vec![]),
                series(vec![good[0]], None, vec![]),
                series(good.clone(), Some(Metadata { r#type: 0, help_ref: 0, unit_ref: 7 }), vec![]),
                series(good.clone(), None, vec![exemplar(vec![1, 50])]),
                series(good.clone(), None, vec![exemplar(vec![1])]),
            ],
        };
        let resolved = req.resolve(0).unwrap();
        assert_eq!(resolved.labels, vec![("__name__", "up"), ("job", "a")]);
        assert_eq!((resolved.metric_type, resolved.help, resolved.unit), (1, "Whether the target is up.", ""));
        let errors: Vec<String> = (1..6).map(|i| req.resolve(i).unwrap_err().to_string()).collect();
        assert_eq!(
            errors,
            [
                "series 1: label ref 99 is out of range; the request has 6 symbols",
                "series 2: labels refs have odd length 1; they must come in name/value pairs",
                "series 3: metadata unit ref 7 is out of range; the request has 6 symbols",
                "series 4: exemplar label ref 50 is out of range; the request has 6 symbols",
                "series 5: exemplar labels refs have odd length 1; they must come in name/value pairs",
            ]
        );
    }

    #[test]
    fn snappy_round_trip() {
        let req = Request {
            symbols: vec!["".into(), "__name__".into(), "x".into()],
            timeseries: vec![TimeSeries {
                labels_refs: vec![1, 2],
                samples: vec![Sample { value: f64::INFINITY, timestamp: -5, start_timestamp: 0 }],
                histograms: vec![],
                exemplars: vec![],
                metadata: None,
            }],
        };
        let body = prompb::encode_snappy(&req);
        assert_eq!(prompb::decode_snappy::<Request>(&body).unwrap(), req);
    }
}
