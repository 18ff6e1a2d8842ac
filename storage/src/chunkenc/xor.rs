//! The XOR chunk (upstream `tsdb/chunkenc/xor.go`): a 2-byte big-endian sample count, then a bit
//! stream. Sample 0 is `varint(t)` and 64 raw value bits; sample 1 is `uvarint(t - t0)` and an
//! XOR-encoded value; later samples encode the delta-of-delta of the timestamp in 1, 16, 20, 24
//! or 68 bits and the value as an XOR against the previous one with a leading/trailing-zero window.
//! Invariant: the bytes are exactly Prometheus's for the same samples, NaN payloads included (a
//! staleness marker comes back bit-exact), and decoding arbitrary bytes never panics.

use super::bstream::{BitReader, BitWriter, EndOfStream};
use super::put_uvarint;
use super::put_varint;
use crate::sample::Sample;

/// A chunk could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChunkError {
    /// The bytes end before the sample count in the header says they should.
    #[error("XOR chunk truncated at sample {sample} of {count}")]
    Truncated {
        /// Index of the sample that could not be read.
        sample: u16,
        /// Samples the header announced.
        count: u16,
    },
    /// Fewer than 2 bytes: no sample count.
    #[error("XOR chunk shorter than its 2-byte header ({len} bytes)")]
    NoHeader {
        /// Bytes given.
        len: usize,
    },
}

/// An XOR chunk being appended to (the head's open chunk), or a sealed one.
#[derive(Debug, Clone, PartialEq)]
pub struct XorChunk {
    bits: BitWriter,
    num: u16,
    t: i64,
    v_bits: u64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
}

// Prometheus starts with 128 bytes of capacity: a full 120-sample chunk of scraped data fits.
const INITIAL_CAPACITY: usize = 128;

impl Default for XorChunk {
    fn default() -> Self {
        XorChunk::new()
    }
}

impl XorChunk {
    /// An empty chunk.
    pub fn new() -> XorChunk {
        let mut stream = Vec::with_capacity(INITIAL_CAPACITY);
        stream.extend_from_slice(&[0, 0]);
        XorChunk {
            bits: BitWriter::from_parts(stream, 0),
            num: 0,
            t: 0,
            v_bits: 0,
            t_delta: 0,
            // 0xff: no window yet, so the first XOR value always writes its own.
            leading: 0xff,
            trailing: 0,
        }
    }

    /// Reopens encoded bytes for appending, recovering the encoder state by decoding them.
    pub fn from_bytes(bytes: &[u8]) -> Result<XorChunk, ChunkError> {
        let mut it = XorIterator::new(bytes)?;
        while it.next_sample()?.is_some() {}
        let free_bits = ((8 - it.reader_pos_bits() % 8) % 8) as u8;
        let mut stream = Vec::with_capacity(bytes.len().max(INITIAL_CAPACITY));
        // Bytes past the last sample's bits are not part of the stream.
        stream.extend_from_slice(&bytes[..2 + it.reader_pos_bits().div_ceil(8)]);
        Ok(XorChunk {
            bits: BitWriter::from_parts(stream, free_bits),
            num: it.count,
            t: it.t,
            v_bits: it.v_bits,
            t_delta: it.t_delta,
            // As upstream's `Appender()`: only an empty chunk starts without a window.
            leading: if it.count == 0 { 0xff } else { it.leading },
            trailing: it.trailing,
        })
    }

    /// The encoded bytes, header included: what goes to disk.
    pub fn bytes(&self) -> &[u8] {
        &self.bits.stream
    }

    /// Number of samples.
    pub fn num_samples(&self) -> u16 {
        self.num
    }

    /// Heap bytes held (capacity, not length), for memory accounting.
    pub fn allocated_bytes(&self) -> usize {
        self.bits.stream.capacity()
    }

    /// Gives back spare capacity once the chunk is sealed.
    pub fn shrink_to_fit(&mut self) {
        self.bits.stream.shrink_to_fit();
    }

    /// Appends a sample. The caller keeps timestamps increasing; the codec itself accepts any.
    pub fn append(&mut self, t: i64, v: f64) {
        let v_bits = v.to_bits();
        match self.num {
            0 => {
                // The stream is byte-aligned here (only the header precedes it).
                put_varint(&mut self.bits.stream, t);
                self.bits.write_bits(v_bits, 64);
            }
            1 => {
                let t_delta = t.wrapping_sub(self.t) as u64;
                let mut buf = Vec::with_capacity(10);
                put_uvarint(&mut buf, t_delta);
                for byte in buf {
                    self.bits.write_byte(byte);
                }
                self.write_value(v_bits);
                self.t_delta = t_delta;
            }
            _ => {
                let t_delta = t.wrapping_sub(self.t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                if dod == 0 {
                    self.bits.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.bits.write_bits(0b10, 2);
                    self.bits.write_bits(dod as u64, 14);
                } else if bit_range(dod, 17) {
                    self.bits.write_bits(0b110, 3);
                    self.bits.write_bits(dod as u64, 17);
                } else if bit_range(dod, 20) {
                    self.bits.write_bits(0b1110, 4);
                    self.bits.write_bits(dod as u64, 20);
                } else {
                    self.bits.write_bits(0b1111, 4);
                    self.bits.write_bits(dod as u64, 64);
                }
                self.write_value(v_bits);
                self.t_delta = t_delta;
            }
        }
        self.t = t;
        self.v_bits = v_bits;
        self.num += 1;
        self.bits.stream[..2].copy_from_slice(&self.num.to_be_bytes());
    }

    fn write_value(&mut self, v_bits: u64) {
        let delta = v_bits ^ self.v_bits;
        if delta == 0 {
            self.bits.write_bit(false);
            return;
        }
        self.bits.write_bit(true);
        // The 5-bit field holds at most 31 leading zeros.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.bits.write_bit(false);
            self.bits.write_bits(delta >> self.trailing, 64 - self.leading - self.trailing);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        self.bits.write_bit(true);
        self.bits.write_bits(u64::from(leading), 5);
        // 64 significant bits are written as 0 in the 6-bit field; the reader maps 0 back to 64.
        let significant = 64 - leading - trailing;
        self.bits.write_bits(u64::from(significant), 6);
        self.bits.write_bits(delta >> trailing, significant);
    }

    /// Iterates the samples.
    pub fn iter(&self) -> XorIterator<'_> {
        XorIterator::new(self.bytes()).expect("an XorChunk always has its header")
    }
}

// Whether `x` fits Prometheus's `bitRange`: -(2^(n-1)-1) ..= 2^(n-1). The asymmetry is
// upstream's; it decides which width a delta-of-delta takes, so it must be kept.
fn bit_range(x: i64, nbits: u32) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= x && x <= 1i64 << (nbits - 1)
}

/// Decodes an XOR chunk's samples in order.
#[derive(Debug, Clone)]
pub struct XorIterator<'a> {
    reader: BitReader<'a>,
    count: u16,
    read: u16,
    t: i64,
    v_bits: u64,
    t_delta: u64,
    leading: u8,
    trailing: u8,
    pos_bits: usize,
}

impl<'a> XorIterator<'a> {
    /// Starts decoding `bytes` (header included).
    pub fn new(bytes: &'a [u8]) -> Result<XorIterator<'a>, ChunkError> {
        if bytes.len() < 2 {
            return Err(ChunkError::NoHeader { len: bytes.len() });
        }
        Ok(XorIterator {
            reader: BitReader::new(&bytes[2..]),
            count: u16::from_be_bytes([bytes[0], bytes[1]]),
            read: 0,
            t: 0,
            v_bits: 0,
            t_delta: 0,
            leading: 0,
            trailing: 0,
            pos_bits: 0,
        })
    }

    /// Samples the header announces.
    pub fn num_samples(&self) -> u16 {
        self.count
    }

    fn reader_pos_bits(&self) -> usize {
        self.pos_bits
    }

    /// The next sample, `None` after the last, or an error if the bytes are cut short (after
    /// which the iterator is finished).
    pub fn next_sample(&mut self) -> Result<Option<Sample>, ChunkError> {
        let result = self.decode_next();
        if result.is_err() {
            self.read = self.count;
        }
        result
    }

    fn decode_next(&mut self) -> Result<Option<Sample>, ChunkError> {
        if self.read >= self.count {
            return Ok(None);
        }
        let (sample, count) = (self.read, self.count);
        let truncated = move |_: EndOfStream| ChunkError::Truncated { sample, count };
        let mut reader = self.reader.clone();
        match self.read {
            0 => {
                self.t = reader.read_varint().map_err(truncated)?;
                self.v_bits = reader.read_bits(64).map_err(truncated)?;
            }
            1 => {
                self.t_delta = reader.read_uvarint().map_err(truncated)?;
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value(&mut reader).map_err(truncated)?;
            }
            _ => {
                let mut prefix = 0u8;
                for _ in 0..4 {
                    prefix <<= 1;
                    if !reader.read_bit().map_err(truncated)? {
                        break;
                    }
                    prefix |= 1;
                }
                let size = match prefix {
                    0b0 => 0,
                    0b10 => 14,
                    0b110 => 17,
                    0b1110 => 20,
                    _ => 64,
                };
                let dod = match size {
                    0 => 0,
                    64 => reader.read_bits(64).map_err(truncated)? as i64,
                    _ => {
                        let mut bits = reader.read_bits(size).map_err(truncated)?;
                        if bits > 1 << (size - 1) {
                            bits = bits.wrapping_sub(1 << size);
                        }
                        bits as i64
                    }
                };
                self.t_delta = self.t_delta.wrapping_add(dod as u64);
                self.t = self.t.wrapping_add(self.t_delta as i64);
                self.read_value(&mut reader).map_err(truncated)?;
            }
        }
        self.pos_bits = reader.position();
        self.reader = reader;
        self.read += 1;
        Ok(Some(Sample { t: self.t, v: f64::from_bits(self.v_bits) }))
    }

    fn read_value(&mut self, reader: &mut BitReader<'_>) -> Result<(), EndOfStream> {
        if !reader.read_bit()? {
            return Ok(());
        }
        if reader.read_bit()? {
            self.leading = reader.read_bits(5)? as u8;
            let mut significant = reader.read_bits(6)? as u8;
            if significant == 0 {
                significant = 64;
            }
            // A corrupt window (leading + significant > 64) must not underflow.
            self.trailing = 64u8.saturating_sub(self.leading).saturating_sub(significant);
        }
        let significant = 64u8.saturating_sub(self.leading).saturating_sub(self.trailing);
        let bits = reader.read_bits(significant)?;
        self.v_bits ^= if self.trailing >= 64 { 0 } else { bits << self.trailing };
        Ok(())
    }
}

impl Iterator for XorIterator<'_> {
    type Item = Result<Sample, ChunkError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_sample().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::{STALE_NAN, is_stale_nan};
    use proptest::prelude::*;

    fn encode(samples: &[(i64, f64)]) -> XorChunk {
        let mut chunk = XorChunk::new();
        for &(t, v) in samples {
            chunk.append(t, v);
        }
        chunk
    }

    fn decode(bytes: &[u8]) -> Vec<(i64, u64)> {
        XorIterator::new(bytes).unwrap().map(|s| s.map(|s| (s.t, s.v.to_bits()))).collect::<Result<_, _>>().unwrap()
    }

    // Vectors derived by hand from the layout in upstream `xor.go` / `chunks.md`, bit by bit.
    #[test]
    fn first_sample_is_varint_time_and_raw_value() {
        // t=1000 → zig-zag 2000 → uvarint d0 0f; v=1.0 → 3ff0000000000000.
        let chunk = encode(&[(1000, 1.0)]);
        assert_eq!(chunk.bytes(), [0x00, 0x01, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn second_and_third_samples_bit_exact() {
        // s1: t delta 15000 → uvarint 98 75; value equal → bit 0.
        // s2: dod 0 → bit 0; value 2.0 xor 1.0 = 0x7ff0000000000000: leading 1, trailing 52,
        //     11 significant: '1' '1' 00001 001011 11111111111 → 20 bits.
        let chunk = encode(&[(1000, 1.0), (16000, 1.0), (31000, 2.0)]);
        let mut expected = vec![0x00, 0x03, 0xd0, 0x0f, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0, 0x98, 0x75];
        // bits: 0 | 0 11 00001 001011 11111111111 → 0011 0000 1001 0111 1111 1111 11(000000)
        expected.extend_from_slice(&[0b0011_0000, 0b1001_0111, 0b1111_1111, 0b1100_0000]);
        assert_eq!(chunk.bytes(), expected.as_slice());
    }

    #[test]
    fn delta_of_delta_widths_follow_bit_range() {
        // dod = 8192 = 2^13 fits the 14-bit form (upper bound inclusive); -8192 does not.
        let mut base = vec![(0i64, 0.0), (10, 0.0)];
        base.push((20 + 8192, 0.0));
        let chunk = encode(&base);
        let tail = &chunk.bytes()[2 + 1 + 8 + 1..];
        // value bit 0 of s1, then '10' + 14 bits of 8192 (10_0000_0000_0000), then value bit 0.
        assert_eq!(tail, [0b0101_0000, 0b0000_0000, 0b0000_0000]);
        let chunk = encode(&[(0, 0.0), (10_000, 0.0), (20_000 - 8192, 0.0)]);
        assert_eq!(decode(chunk.bytes())[2].0, 20_000 - 8192);
        // -8192 needs the 17-bit form: '0' value, '110', 17 bits.
        let tail = &chunk.bytes()[2 + 1 + 8 + 2..];
        assert_eq!(tail[0] >> 4, 0b0110);
    }

    #[test]
    fn stale_nan_and_other_nans_round_trip_bit_exact() {
        let odd_nan = f64::from_bits(0x7ff8_0000_0000_0001);
        let samples = [(0, 1.0), (15, STALE_NAN), (30, 2.5), (45, odd_nan), (60, STALE_NAN), (75, -0.0)];
        let chunk = encode(&samples);
        let got = decode(chunk.bytes());
        assert_eq!(got, samples.iter().map(|&(t, v)| (t, v.to_bits())).collect::<Vec<_>>());
        assert!(is_stale_nan(f64::from_bits(got[1].1)));
    }

    #[test]
    fn truncated_bytes_are_an_error_not_a_panic() {
        let chunk = encode(&(0..50).map(|i| (i * 15_000 + i % 7, i as f64 * 1.5)).collect::<Vec<_>>());
        for len in 0..chunk.bytes().len() {
            let bytes = &chunk.bytes()[..len];
            match XorIterator::new(bytes) {
                Err(err) => assert!(len < 2, "{err}"),
                Ok(it) => {
                    let results: Vec<_> = it.collect();
                    assert!(results.last().is_some_and(Result::is_err), "len {len} decoded fully");
                }
            }
        }
    }

    #[test]
    fn reopened_chunk_appends_the_same_bytes() {
        let samples: Vec<(i64, f64)> = (0..40).map(|i| (i * 15_000, (i as f64).sin())).collect();
        let whole = encode(&samples);
        let mut reopened = XorChunk::from_bytes(encode(&samples[..25]).bytes()).unwrap();
        for &(t, v) in &samples[25..] {
            reopened.append(t, v);
        }
        assert_eq!(reopened.bytes(), whole.bytes());
    }

    fn sample_strategy() -> impl Strategy<Value = Vec<(i64, u64)>> {
        let value = prop_oneof![
            any::<u64>(),
            (0u64..1000).prop_map(|v| (v as f64).to_bits()),
            Just(STALE_NAN.to_bits()),
            Just(0u64),
        ];
        let step = prop_oneof![Just(15_000i64), -1_000_000i64..1_000_000, any::<i32>().prop_map(i64::from)];
        (any::<i64>(), prop::collection::vec((step, value), 0..300)).prop_map(|(start, steps)| {
            let mut t = start >> 2;
            steps
                .into_iter()
                .map(|(step, v)| {
                    t = t.wrapping_add(step);
                    (t, v)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn round_trip(samples in sample_strategy()) {
            let mut chunk = XorChunk::new();
            for &(t, v) in &samples {
                chunk.append(t, f64::from_bits(v));
            }
            prop_assert_eq!(decode(chunk.bytes()), samples);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(it) = XorIterator::new(&bytes) {
                for _ in it {}
            }
        }
    }
}
