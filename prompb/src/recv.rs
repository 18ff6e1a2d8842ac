//! The remote-write 1.0 receiver's decode of `prometheus.WriteRequest`: label names and values
//! are `&str` slices of the decompressed body, and all labels and samples of a request sit in
//! two request-wide vectors, so decoding allocates a handful of vectors per request instead of
//! two `String`s per label and two vectors per series ([`super::WriteRequest`]'s derive).
//! `web/benches/remote_write.rs` measures both.
//!
//! Invariant: this decoder accepts exactly the bodies prost's decode of [`super::WriteRequest`]
//! accepts, with the same content: every field of every message is read by upstream's wire
//! rules as prost reads it (varints of at most 10 bytes, keys, wire types checked for known
//! fields, unknown fields skipped including groups, a `string` checked for UTF-8 at each
//! occurrence, prost's recursion limit of 100). Metadata and exemplars are decoded in full for
//! that check and then only counted, as the receiver only counts them. A body this decoder
//! refuses is decoded again by prost, so the error a sender reads is prost's; should prost
//! accept it, that is a bug here, logged and answered as
//! [`super::DecodeError::RecvDecoder`]. The unit tests compare both decoders on mutated bodies.

use std::ops::Range;

use super::{DecodeError, Sample};
use prost::Message;

/// prost's `RECURSION_LIMIT`: nested messages and groups deeper than this are refused.
const RECURSION_LIMIT: u32 = 100;

/// A decoded `prometheus.WriteRequest` borrowing its strings from the body.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct WriteRequest<'a> {
    /// The series, in request order.
    pub timeseries: Vec<TimeSeries>,
    /// How many `MetricMetadata` the request carried.
    pub metadata: usize,
    labels: Vec<Label<'a>>,
    samples: Vec<Sample>,
}

/// One `prometheus.TimeSeries`: ranges into its request's labels and samples.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TimeSeries {
    labels: Range<usize>,
    samples: Range<usize>,
    /// How many exemplars it carried.
    pub exemplars: usize,
    /// How many native histogram samples it carried.
    pub histograms: usize,
}

/// One `prometheus.Label`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Label<'a> {
    /// Label name.
    pub name: &'a str,
    /// Label value.
    pub value: &'a str,
}

impl<'a> WriteRequest<'a> {
    /// The labels of `series` (one of [`WriteRequest::timeseries`]), in the sender's order.
    pub fn labels(&self, series: &TimeSeries) -> &[Label<'a>] {
        &self.labels[series.labels.clone()]
    }

    /// The samples of `series`, in the sender's order.
    pub fn samples(&self, series: &TimeSeries) -> &[Sample] {
        &self.samples[series.samples.clone()]
    }
}

/// Decodes an uncompressed `prometheus.WriteRequest` (see the module doc for how it relates to
/// prost's decode).
pub fn decode(raw: &[u8]) -> Result<WriteRequest<'_>, DecodeError> {
    let mut request = WriteRequest::default();
    let mut reader = Reader { buf: raw, pos: 0 };
    match reader.write_request(&mut request) {
        Ok(()) => Ok(request),
        Err(Refused) => match super::WriteRequest::decode(raw) {
            Err(err) => Err(err.into()),
            Ok(_) => Err(DecodeError::RecvDecoder { at: reader.pos }),
        },
    }
}

/// The body breaks a wire rule; prost's decode says which.
struct Refused;

type Step<T> = Result<T, Refused>;

/// Wire types (upstream `encoding/protowire`).
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

/// A cursor over one message's bytes; `pos` is absolute in the body, for the log line.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn advance(&mut self, n: usize) -> Step<&'a [u8]> {
        if n > self.buf.len() {
            return Err(Refused);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        self.pos += n;
        Ok(head)
    }

    /// A varint of at most 10 bytes whose 10th byte is 0 or 1, as prost reads it.
    fn varint(&mut self) -> Step<u64> {
        let mut value = 0u64;
        for (i, &byte) in self.buf.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    return Err(Refused);
                }
                self.advance(i + 1)?;
                return Ok(value);
            }
        }
        Err(Refused)
    }

    /// A field key: (field number, wire type).
    fn key(&mut self) -> Step<(u32, u8)> {
        let key = self.varint()?;
        let wire_type = (key & 7) as u8;
        if key > u64::from(u32::MAX) || wire_type > FIXED32 || key >> 3 == 0 {
            return Err(Refused);
        }
        Ok(((key >> 3) as u32, wire_type))
    }

    /// The bytes of a length-delimited field, as a reader of their own.
    fn delimited(&mut self) -> Step<Reader<'a>> {
        let len = self.varint()?;
        let pos = self.pos;
        let len = usize::try_from(len).map_err(|_| Refused)?;
        Ok(Reader { buf: self.advance(len)?, pos })
    }

    fn string(&mut self) -> Step<&'a str> {
        std::str::from_utf8(self.delimited()?.buf).map_err(|_| Refused)
    }

    fn fixed64(&mut self) -> Step<u64> {
        let bytes = self.advance(8)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    /// Skips a field no message here knows (prost's `skip_field`, recursion limit included).
    fn skip(&mut self, wire_type: u8, field: u32, depth: u32) -> Step<()> {
        if depth == 0 {
            return Err(Refused);
        }
        match wire_type {
            VARINT => self.varint().map(drop),
            FIXED64 => self.advance(8).map(drop),
            FIXED32 => self.advance(4).map(drop),
            LEN => self.delimited().map(drop),
            START_GROUP => loop {
                let (inner, inner_type) = self.key()?;
                if inner_type == END_GROUP {
                    return if inner == field { Ok(()) } else { Err(Refused) };
                }
                self.skip(inner_type, inner, depth - 1)?;
            },
            _ => Err(Refused),
        }
    }

    /// Reads the fields of the message this reader holds, `depth` being prost's recursion
    /// count when it merges the message: refused at 0, fields read at `depth - 1`.
    fn message(mut self, depth: u32, mut field: impl FnMut(&mut Reader<'a>, u32, u8, u32) -> Step<()>) -> Step<()> {
        if depth == 0 {
            return Err(Refused);
        }
        while !self.is_empty() {
            let (number, wire_type) = self.key()?;
            field(&mut self, number, wire_type, depth - 1)?;
        }
        Ok(())
    }

    /// A known field's wire type must be the one its type has.
    fn expect(wire_type: u8, want: u8) -> Step<()> {
        if wire_type == want { Ok(()) } else { Err(Refused) }
    }

    /// The top-level message: fields at prost's initial recursion count.
    fn write_request(&mut self, request: &mut WriteRequest<'a>) -> Step<()> {
        let depth = RECURSION_LIMIT;
        while !self.is_empty() {
            let (number, wire_type) = self.key()?;
            match number {
                1 => {
                    Self::expect(wire_type, LEN)?;
                    let series = self.delimited()?;
                    series_message(series, depth, request)?;
                }
                3 => {
                    Self::expect(wire_type, LEN)?;
                    metadata_message(self.delimited()?, depth)?;
                    request.metadata += 1;
                }
                _ => self.skip(wire_type, number, depth)?,
            }
        }
        Ok(())
    }
}

/// `prometheus.TimeSeries`: labels and samples go to the request's vectors (a series' repeated
/// fields may interleave, but series do not nest, so each series' labels stay contiguous).
fn series_message<'a>(reader: Reader<'a>, depth: u32, request: &mut WriteRequest<'a>) -> Step<()> {
    let mut series = TimeSeries {
        labels: request.labels.len()..request.labels.len(),
        samples: request.samples.len()..request.samples.len(),
        exemplars: 0,
        histograms: 0,
    };
    reader.message(depth, |r, number, wire_type, depth| match number {
        1 => {
            Reader::expect(wire_type, LEN)?;
            request.labels.push(label_message(r.delimited()?, depth)?);
            Ok(())
        }
        2 => {
            Reader::expect(wire_type, LEN)?;
            request.samples.push(sample_message(r.delimited()?, depth)?);
            Ok(())
        }
        3 => {
            Reader::expect(wire_type, LEN)?;
            exemplar_message(r.delimited()?, depth)?;
            series.exemplars += 1;
            Ok(())
        }
        4 => {
            Reader::expect(wire_type, LEN)?;
            r.delimited()?;
            series.histograms += 1;
            Ok(())
        }
        _ => r.skip(wire_type, number, depth),
    })?;
    series.labels.end = request.labels.len();
    series.samples.end = request.samples.len();
    request.timeseries.push(series);
    Ok(())
}

/// `prometheus.Label`; a repeated field keeps its last occurrence, each one checked.
fn label_message<'a>(reader: Reader<'a>, depth: u32) -> Step<Label<'a>> {
    let mut label = Label::default();
    reader.message(depth, |r, number, wire_type, depth| match number {
        1 => {
            Reader::expect(wire_type, LEN)?;
            label.name = r.string()?;
            Ok(())
        }
        2 => {
            Reader::expect(wire_type, LEN)?;
            label.value = r.string()?;
            Ok(())
        }
        _ => r.skip(wire_type, number, depth),
    })?;
    Ok(label)
}

/// `prometheus.Sample`.
fn sample_message(reader: Reader<'_>, depth: u32) -> Step<Sample> {
    let mut sample = Sample { value: 0.0, timestamp: 0 };
    reader.message(depth, |r, number, wire_type, depth| match number {
        1 => {
            Reader::expect(wire_type, FIXED64)?;
            sample.value = f64::from_bits(r.fixed64()?);
            Ok(())
        }
        2 => {
            Reader::expect(wire_type, VARINT)?;
            sample.timestamp = r.varint()? as i64;
            Ok(())
        }
        _ => r.skip(wire_type, number, depth),
    })?;
    Ok(sample)
}

/// `prometheus.Exemplar`, checked and dropped.
fn exemplar_message(reader: Reader<'_>, depth: u32) -> Step<()> {
    reader.message(depth, |r, number, wire_type, depth| match number {
        1 => {
            Reader::expect(wire_type, LEN)?;
            label_message(r.delimited()?, depth).map(drop)
        }
        2 => {
            Reader::expect(wire_type, FIXED64)?;
            r.fixed64().map(drop)
        }
        3 => {
            Reader::expect(wire_type, VARINT)?;
            r.varint().map(drop)
        }
        _ => r.skip(wire_type, number, depth),
    })
}

/// `prometheus.MetricMetadata`, checked and dropped.
fn metadata_message(reader: Reader<'_>, depth: u32) -> Step<()> {
    reader.message(depth, |r, number, wire_type, depth| match number {
        1 => {
            Reader::expect(wire_type, VARINT)?;
            r.varint().map(drop)
        }
        2 | 4 | 5 => {
            Reader::expect(wire_type, LEN)?;
            r.string().map(drop)
        }
        _ => r.skip(wire_type, number, depth),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Exemplar, MetricMetadata};

    /// What the receiver reads of a request, from either decoder: per series the labels, the
    /// samples (value bits) and the exemplar and histogram counts; then the metadata count.
    type Summary = (Vec<(Vec<(String, String)>, Vec<(u64, i64)>, usize, usize)>, usize);

    fn ours(request: &WriteRequest<'_>) -> Summary {
        let series = request
            .timeseries
            .iter()
            .map(|s| {
                let labels = request.labels(s).iter().map(|l| (l.name.to_owned(), l.value.to_owned())).collect();
                let samples = request.samples(s).iter().map(|x| (x.value.to_bits(), x.timestamp)).collect();
                (labels, samples, s.exemplars, s.histograms)
            })
            .collect();
        (series, request.metadata)
    }

    fn prosts(request: &super::super::WriteRequest) -> Summary {
        let series = request
            .timeseries
            .iter()
            .map(|s| {
                let labels = s.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
                let samples = s.samples.iter().map(|x| (x.value.to_bits(), x.timestamp)).collect();
                (labels, samples, s.exemplars.len(), s.histograms.len())
            })
            .collect();
        (series, request.metadata.len())
    }

    /// Decodes `raw` both ways: both accept with the same content, or both refuse with prost's
    /// error. Returns whether they accepted.
    fn agree(raw: &[u8]) -> bool {
        let theirs = super::super::WriteRequest::decode(raw);
        match (decode(raw), theirs) {
            (Ok(request), Ok(theirs)) => {
                assert_eq!(ours(&request), prosts(&theirs), "{raw:02x?}");
                true
            }
            (Err(DecodeError::Protobuf(err)), Err(theirs)) => {
                assert_eq!(err.to_string(), theirs.to_string());
                false
            }
            (ours, theirs) => panic!("decoders disagree on {raw:02x?}: ours {ours:?}, prost's {theirs:?}"),
        }
    }

    fn varint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push(v as u8 | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
        varint(out, u64::from(field) << 3 | u64::from(wire_type));
    }

    fn delimited(out: &mut Vec<u8>, field: u32, bytes: &[u8]) {
        key(out, field, LEN);
        varint(out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }

    /// One unknown field of every wire type, a group holding fields and a nested group.
    fn unknown_fields() -> Vec<u8> {
        let mut out = Vec::new();
        key(&mut out, 9, VARINT);
        varint(&mut out, u64::MAX);
        key(&mut out, 10, FIXED64);
        out.extend_from_slice(&[1; 8]);
        key(&mut out, 11, FIXED32);
        out.extend_from_slice(&[2; 4]);
        delimited(&mut out, 12, b"\xff not text");
        key(&mut out, 13, START_GROUP);
        key(&mut out, 1, VARINT);
        varint(&mut out, 5);
        key(&mut out, 14, START_GROUP);
        key(&mut out, 14, END_GROUP);
        key(&mut out, 13, END_GROUP);
        out
    }

    /// A request that uses every field, unknown fields at every level and repeated fields that
    /// interleave, written by hand from `types.proto`.
    fn rich_request() -> Vec<u8> {
        let label = |name: &str, value: &str| {
            let mut out = Vec::new();
            delimited(&mut out, 1, name.as_bytes());
            delimited(&mut out, 2, value.as_bytes());
            out
        };
        let sample = |value: f64, t: i64| {
            let mut out = Vec::new();
            key(&mut out, 1, FIXED64);
            out.extend_from_slice(&value.to_le_bytes());
            key(&mut out, 2, VARINT);
            varint(&mut out, t as u64);
            out
        };
        let mut series = Vec::new();
        delimited(&mut series, 1, &label("__name__", "up"));
        delimited(&mut series, 2, &sample(1.5, 1_700_000_000_000));
        // A label after a sample, with an unknown field and its name given twice (last wins).
        let mut odd_label = label("first", "x");
        odd_label.extend_from_slice(&unknown_fields());
        delimited(&mut odd_label, 1, "jöb".as_bytes());
        delimited(&mut series, 1, &odd_label);
        delimited(&mut series, 2, &sample(f64::NAN, -5));
        delimited(&mut series, 1, &label("", ""));
        let exemplar = Exemplar {
            labels: vec![crate::Label { name: "trace_id".into(), value: "abc".into() }],
            value: 2.0,
            timestamp: 7,
        };
        delimited(&mut series, 3, &exemplar.encode_to_vec());
        delimited(&mut series, 4, &[0x18, 0x01]);
        series.extend_from_slice(&unknown_fields());
        let mut out = Vec::new();
        delimited(&mut out, 1, &series);
        out.extend_from_slice(&unknown_fields());
        delimited(&mut out, 1, &[]);
        let metadata = MetricMetadata { r#type: 2, metric_family_name: "up".into(), help: "h".into(), unit: "".into() };
        delimited(&mut out, 3, &metadata.encode_to_vec());
        delimited(&mut out, 1, &series);
        out
    }

    #[test]
    fn reads_every_field_as_prost_does() {
        let raw = rich_request();
        assert!(agree(&raw));
        let request = decode(&raw).unwrap();
        assert_eq!(request.timeseries.len(), 3);
        let labels: Vec<(&str, &str)> =
            request.labels(&request.timeseries[0]).iter().map(|l| (l.name, l.value)).collect();
        assert_eq!(labels, [("__name__", "up"), ("jöb", "x"), ("", "")]);
        assert_eq!(request.samples(&request.timeseries[0]).len(), 2);
        assert_eq!((request.timeseries[0].exemplars, request.timeseries[0].histograms), (1, 1));
        assert_eq!(request.timeseries[1], TimeSeries { labels: 3..3, samples: 2..2, exemplars: 0, histograms: 0 });
        assert_eq!(request.labels(&request.timeseries[2]).len(), 3);
        assert_eq!(request.metadata, 1);
        // What the sender encodes, too.
        let sent = crate::WriteRequest {
            timeseries: vec![crate::TimeSeries {
                labels: vec![crate::Label { name: "__name__".into(), value: "m".into() }],
                samples: vec![
                    Sample { value: -0.0, timestamp: i64::MIN },
                    Sample { value: 1e300, timestamp: i64::MAX },
                ],
                exemplars: vec![],
                histograms: vec![],
            }],
            metadata: vec![],
        };
        assert!(agree(&sent.encode_to_vec()));
        assert!(agree(&[]));
    }

    #[test]
    fn refuses_what_prost_refuses_with_its_error() {
        let mut cases: Vec<Vec<u8>> = Vec::new();
        // Invalid UTF-8 in a label name that a later occurrence would replace: prost checks each.
        let mut label = Vec::new();
        delimited(&mut label, 1, b"\xff");
        delimited(&mut label, 1, b"ok");
        let mut series = Vec::new();
        delimited(&mut series, 1, &label);
        let mut raw = Vec::new();
        delimited(&mut raw, 1, &series);
        cases.push(raw);
        // Invalid UTF-8 in exemplar labels and metadata text.
        let mut exemplar = Vec::new();
        delimited(&mut exemplar, 1, &label);
        let mut series = Vec::new();
        delimited(&mut series, 3, &exemplar);
        let mut raw = Vec::new();
        delimited(&mut raw, 1, &series);
        cases.push(raw);
        let mut metadata = Vec::new();
        delimited(&mut metadata, 4, b"\xc3");
        let mut raw = Vec::new();
        delimited(&mut raw, 3, &metadata);
        cases.push(raw);
        // A known field with the wrong wire type, at each level.
        let mut raw = Vec::new();
        key(&mut raw, 1, VARINT);
        varint(&mut raw, 1);
        cases.push(raw);
        let mut sample = Vec::new();
        key(&mut sample, 2, FIXED64);
        sample.extend_from_slice(&[0; 8]);
        let mut series = Vec::new();
        delimited(&mut series, 2, &sample);
        let mut raw = Vec::new();
        delimited(&mut raw, 1, &series);
        cases.push(raw);
        // Varints: 11 bytes, a 10th byte of 2, wire types 6 and 7, field 0, an end group alone,
        // a group closed by another field's end.
        cases.push([[0x80u8; 10].as_slice(), &[0x00]].concat());
        cases.push([&[0x48u8][..], &[0xff; 9], &[0x02]].concat());
        cases.push(vec![0x4e, 0x00]);
        cases.push(vec![0x4f, 0x00]);
        cases.push(vec![0x00, 0x00]);
        cases.push(vec![0x4c]);
        cases.push(vec![0x4b, 0x54]);
        // A length past the end, and a sample whose double runs past its message.
        cases.push(vec![0x0a, 0x05, 0x0a]);
        cases.push(vec![0x0a, 0x04, 0x12, 0x02, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
        for raw in cases {
            assert!(!agree(&raw), "{raw:02x?} decoded");
        }
        // A 10-byte varint with a 10th byte of 1 is fine.
        assert!(agree(&[&[0x48u8][..], &[0xff; 9], &[0x01]].concat()));
    }

    /// Groups nested `n` deep in an unknown field, at the top level and inside a label: prost's
    /// recursion limit decides, here as there.
    #[test]
    fn group_nesting_stops_where_prosts_does() {
        let nested = |n: usize| {
            let mut out = Vec::new();
            for _ in 0..n {
                key(&mut out, 7, START_GROUP);
            }
            for _ in 0..n {
                key(&mut out, 7, END_GROUP);
            }
            out
        };
        let (mut top, mut inner) = (Vec::new(), Vec::new());
        for n in 90..105 {
            top.push(agree(&nested(n)));
            let mut series = Vec::new();
            delimited(&mut series, 1, &nested(n));
            let mut raw = Vec::new();
            delimited(&mut raw, 1, &series);
            inner.push(agree(&raw));
        }
        // Both limits fall inside the range tried.
        assert!(top.contains(&true) && top.contains(&false), "{top:?}");
        assert!(inner.contains(&true) && inner.contains(&false), "{inner:?}");
    }

    /// Deterministic mutations of a valid request (bytes flipped, set to varint-significant
    /// values, cut, inserted, removed): the two decoders agree on every one.
    #[test]
    fn mutated_bodies_decode_as_prost_decodes_them() {
        let original = rich_request();
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let special = [0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x1a, 0x22, 0x09, 0x0b, 0x0c, 0xc3];
        let mut accepted = 0;
        for _ in 0..20_000 {
            let mut raw = original.clone();
            for _ in 0..1 + next() % 3 {
                let at = (next() as usize) % raw.len().max(1);
                match next() % 6 {
                    0 => raw[at] ^= 1 << (next() % 8),
                    1 => raw[at] = special[next() as usize % special.len()],
                    2 => raw.truncate(at),
                    3 => raw.insert(at, special[next() as usize % special.len()]),
                    4 if at < raw.len() => {
                        raw.remove(at);
                    }
                    _ => raw[at] = next() as u8,
                }
                if raw.is_empty() {
                    raw.push(0x0a);
                }
            }
            accepted += usize::from(agree(&raw));
        }
        // Enough mutations still decode for the comparison of contents to mean something.
        assert!(accepted > 1000, "only {accepted} mutated bodies decoded");
    }
}
