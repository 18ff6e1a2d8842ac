//! WAL record bodies (upstream `tsdb/record/record.go`, `tsdb/docs/format/wal.md`): Series
//! (type 1: `ref` BE64, label count and strings as uvarint-prefixed bytes) and Samples (type 2:
//! first `ref` and `t` as BE64, then per sample signed-varint deltas from the first and the
//! value's bits as BE64 — upstream writes the first sample's zero deltas too), and Tombstones
//! (type 3: per deleted interval the series `ref` as BE64, then `mint` and `maxt` as signed
//! varints; what Prometheus's admin delete API writes for the head).
//! Invariant: decoding never panics on arbitrary bytes; every error says which record and why.

use crate::chunkenc::{get_uvarint, get_varint, put_uvarint, put_varint};
use crate::labels::{Label, Labels};

pub(crate) const SERIES: u8 = 1;
pub(crate) const SAMPLES: u8 = 2;
pub(crate) const TOMBSTONES: u8 = 3;

/// A sample as the WAL holds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RefSample {
    pub(crate) series_ref: u64,
    pub(crate) t: i64,
    pub(crate) v: f64,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Record {
    Series(Vec<(u64, Labels)>),
    Samples(Vec<RefSample>),
    /// Deleted intervals `(series ref, mint, maxt)`, both ends included.
    Tombstones(Vec<(u64, i64, i64)>),
    /// A type promlite does not replay (exemplars, metadata, histograms, mmap
    /// markers): skipped, as those features do not exist here yet.
    Other(u8),
}

/// A record body that does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The body ends inside a field.
    #[error("record type {record_type}: truncated at byte {offset}")]
    Truncated {
        /// The record's type byte.
        record_type: u8,
        /// Where in the body.
        offset: usize,
    },
    /// A label string is not UTF-8.
    #[error("record type {record_type}: label string at byte {offset} is not UTF-8")]
    NotUtf8 {
        /// The record's type byte.
        record_type: u8,
        /// Where in the body.
        offset: usize,
    },
    /// Zero bytes: no type.
    #[error("empty record")]
    Empty,
}

pub(crate) fn encode_series(out: &mut Vec<u8>, series: &[(u64, &Labels)]) {
    out.push(SERIES);
    for (series_ref, labels) in series {
        out.extend_from_slice(&series_ref.to_be_bytes());
        put_uvarint(out, labels.len() as u64);
        for label in labels.iter() {
            put_uvarint(out, label.name.len() as u64);
            out.extend_from_slice(label.name.as_bytes());
            put_uvarint(out, label.value.len() as u64);
            out.extend_from_slice(label.value.as_bytes());
        }
    }
}

pub(crate) fn encode_samples(out: &mut Vec<u8>, samples: &[RefSample]) {
    out.push(SAMPLES);
    let Some(first) = samples.first() else { return };
    out.extend_from_slice(&first.series_ref.to_be_bytes());
    out.extend_from_slice(&first.t.to_be_bytes());
    for s in samples {
        put_varint(out, (s.series_ref as i64).wrapping_sub(first.series_ref as i64));
        put_varint(out, s.t.wrapping_sub(first.t));
        out.extend_from_slice(&s.v.to_bits().to_be_bytes());
    }
}

pub(crate) fn encode_tombstones(out: &mut Vec<u8>, tombstones: &[(u64, i64, i64)]) {
    out.push(TOMBSTONES);
    for &(series_ref, mint, maxt) in tombstones {
        out.extend_from_slice(&series_ref.to_be_bytes());
        put_varint(out, mint);
        put_varint(out, maxt);
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    record_type: u8,
}

impl<'a> Cursor<'a> {
    fn truncated(&self) -> RecordError {
        RecordError::Truncated { record_type: self.record_type, offset: self.pos }
    }
    fn be64(&mut self) -> Result<u64, RecordError> {
        let bytes = self.buf.get(self.pos..self.pos + 8).ok_or_else(|| self.truncated())?;
        self.pos += 8;
        Ok(u64::from_be_bytes(bytes.try_into().expect("8 bytes")))
    }
    fn uvarint(&mut self) -> Result<u64, RecordError> {
        let (v, n) = get_uvarint(&self.buf[self.pos..]).ok_or_else(|| self.truncated())?;
        self.pos += n;
        Ok(v)
    }
    fn varint(&mut self) -> Result<i64, RecordError> {
        let (v, n) = get_varint(&self.buf[self.pos..]).ok_or_else(|| self.truncated())?;
        self.pos += n;
        Ok(v)
    }
    fn string(&mut self) -> Result<&'a str, RecordError> {
        let len = usize::try_from(self.uvarint()?).map_err(|_| self.truncated())?;
        let end = self.pos.checked_add(len).ok_or_else(|| self.truncated())?;
        let bytes = self.buf.get(self.pos..end).ok_or_else(|| self.truncated())?;
        let s = std::str::from_utf8(bytes)
            .map_err(|_| RecordError::NotUtf8 { record_type: self.record_type, offset: self.pos })?;
        self.pos = end;
        Ok(s)
    }
    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }
}

pub(crate) fn decode(rec: &[u8]) -> Result<Record, RecordError> {
    let (&record_type, _) = rec.split_first().ok_or(RecordError::Empty)?;
    let mut c = Cursor { buf: rec, pos: 1, record_type };
    match record_type {
        SERIES => {
            let mut out = Vec::new();
            while !c.done() {
                let series_ref = c.be64()?;
                let n = c.uvarint()?;
                let mut pairs = Vec::with_capacity(n.min(64) as usize);
                for _ in 0..n {
                    let name = c.string()?.to_owned();
                    let value = c.string()?.to_owned();
                    pairs.push(Label { name, value });
                }
                // Written by us or by Prometheus, both sorted; re-sort through the builder in
                // case a foreign writer was sloppy, so the head's invariant holds.
                let labels =
                    if pairs.windows(2).all(|w| w[0].name < w[1].name) && pairs.iter().all(|l| !l.value.is_empty()) {
                        Labels::from_sorted(pairs)
                    } else {
                        Labels::from_pairs(pairs.into_iter().map(|l| (l.name, l.value)))
                    };
                out.push((series_ref, labels));
            }
            Ok(Record::Series(out))
        }
        SAMPLES => {
            let mut out = Vec::new();
            if c.done() {
                return Ok(Record::Samples(out));
            }
            let base_ref = c.be64()?;
            let base_t = c.be64()? as i64;
            while !c.done() {
                let dref = c.varint()?;
                let dt = c.varint()?;
                let v = f64::from_bits(c.be64()?);
                out.push(RefSample {
                    series_ref: (base_ref as i64).wrapping_add(dref) as u64,
                    t: base_t.wrapping_add(dt),
                    v,
                });
            }
            Ok(Record::Samples(out))
        }
        TOMBSTONES => {
            let mut out = Vec::new();
            while !c.done() {
                let series_ref = c.be64()?;
                out.push((series_ref, c.varint()?, c.varint()?));
            }
            Ok(Record::Tombstones(out))
        }
        other => Ok(Record::Other(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::STALE_NAN;
    use proptest::prelude::*;

    #[test]
    fn samples_layout_matches_the_spec() {
        let samples =
            [RefSample { series_ref: 5, t: 1000, v: 1.0 }, RefSample { series_ref: 3, t: 1015, v: STALE_NAN }];
        let mut out = Vec::new();
        encode_samples(&mut out, &samples);
        let mut expected = vec![2];
        expected.extend_from_slice(&5u64.to_be_bytes());
        expected.extend_from_slice(&1000u64.to_be_bytes());
        expected.extend_from_slice(&[0, 0]);
        expected.extend_from_slice(&1.0f64.to_bits().to_be_bytes());
        // ref delta -2 → zig-zag 3; t delta 15 → 30.
        expected.extend_from_slice(&[3, 30]);
        expected.extend_from_slice(&0x7ff0_0000_0000_0002u64.to_be_bytes());
        assert_eq!(out, expected);
        let Record::Samples(back) = decode(&out).unwrap() else { panic!("not samples") };
        assert_eq!(back[1].v.to_bits(), STALE_NAN.to_bits());
        assert_eq!(back[0], samples[0]);
    }

    #[test]
    fn series_layout_matches_the_spec() {
        let labels = Labels::from_pairs([("__name__", "up"), ("job", "a")]);
        let mut out = Vec::new();
        encode_series(&mut out, &[(7, &labels)]);
        let mut expected = vec![1, 0, 0, 0, 0, 0, 0, 0, 7, 2, 8];
        expected.extend_from_slice(b"__name__");
        expected.extend_from_slice(&[2]);
        expected.extend_from_slice(b"up");
        expected.extend_from_slice(&[3]);
        expected.extend_from_slice(b"job");
        expected.extend_from_slice(&[1]);
        expected.extend_from_slice(b"a");
        assert_eq!(out, expected);
        assert_eq!(decode(&out).unwrap(), Record::Series(vec![(7, labels)]));
    }

    #[test]
    fn tombstones_layout_matches_the_spec() {
        let mut out = Vec::new();
        encode_tombstones(&mut out, &[(7, 1000, 1015), (2, i64::MIN, i64::MAX)]);
        let mut expected = vec![3];
        expected.extend_from_slice(&7u64.to_be_bytes());
        // 1000 → zig-zag 2000 = 0xd0 0x0f; 1015 → 2030 = 0xee 0x0f.
        expected.extend_from_slice(&[0xd0, 0x0f, 0xee, 0x0f]);
        expected.extend_from_slice(&2u64.to_be_bytes());
        expected.extend_from_slice(&[0xff; 9]);
        expected.push(0x01);
        expected.extend_from_slice(&[0xfe]);
        expected.extend_from_slice(&[0xff; 8]);
        expected.push(0x01);
        assert_eq!(out, expected);
        assert_eq!(decode(&out).unwrap(), Record::Tombstones(vec![(7, 1000, 1015), (2, i64::MIN, i64::MAX)]));
        assert_eq!(decode(&out[..out.len() - 1]), Err(RecordError::Truncated { record_type: 3, offset: 31 }));
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..100)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn samples_round_trip(raw in prop::collection::vec((any::<u64>(), any::<i64>(), any::<u64>()), 1..50)) {
            let samples: Vec<RefSample> =
                raw.iter().map(|&(r, t, v)| RefSample { series_ref: r, t, v: f64::from_bits(v) }).collect();
            let mut out = Vec::new();
            encode_samples(&mut out, &samples);
            let Record::Samples(back) = decode(&out).unwrap() else { panic!("not samples") };
            let bits = |s: &[RefSample]| s.iter().map(|s| (s.series_ref, s.t, s.v.to_bits())).collect::<Vec<_>>();
            prop_assert_eq!(bits(&back), bits(&samples));
        }
    }
}
