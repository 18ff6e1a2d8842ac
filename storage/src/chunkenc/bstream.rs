//! A bit stream over bytes, most significant bit first (upstream `tsdb/chunkenc/bstream.go`).
//!
//! Invariant: `count` is the number of bits still free in the last byte of `stream` (0 when the
//! last byte is full or the stream is empty), so the encoded bytes are exactly what a reader of
//! Prometheus's chunks expects: no padding beyond the last partly used byte.

/// An append-only bit writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BitWriter {
    pub(crate) stream: Vec<u8>,
    count: u8,
}

impl BitWriter {
    /// Continues writing after `stream`, whose last byte has `free_bits` unused low bits.
    pub(crate) fn from_parts(stream: Vec<u8>, free_bits: u8) -> BitWriter {
        BitWriter { stream, count: free_bits }
    }

    pub(crate) fn write_bit(&mut self, bit: bool) {
        if self.count == 0 {
            self.stream.push(0);
            self.count = 8;
        }
        if bit {
            *self.stream.last_mut().expect("a byte was pushed") |= 1 << (self.count - 1);
        }
        self.count -= 1;
    }

    pub(crate) fn write_byte(&mut self, byte: u8) {
        if self.count == 0 {
            self.stream.push(byte);
            return;
        }
        let last = self.stream.last_mut().expect("count > 0 implies a byte");
        *last |= byte >> (8 - self.count);
        self.stream.push(byte << self.count);
    }

    /// Writes the low `nbits` bits of `value`, highest first, filling the free bits of the
    /// last byte in one step and whole bytes after it.
    pub(crate) fn write_bits(&mut self, value: u64, nbits: u8) {
        debug_assert!(nbits <= 64);
        let mut left = u32::from(nbits);
        while left > 0 {
            if self.count == 0 {
                self.stream.push(0);
                self.count = 8;
            }
            let take = left.min(u32::from(self.count));
            let bits = ((value >> (left - take)) & ((1u64 << take) - 1)) as u8;
            *self.stream.last_mut().expect("a byte was pushed") |= bits << (u32::from(self.count) - take);
            self.count -= take as u8;
            left -= take;
        }
    }

    #[cfg(test)]
    pub(crate) fn free_bits(&self) -> u8 {
        self.count
    }
}

/// Reads bits from a byte slice; running past the end is an error, never a panic.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    stream: &'a [u8],
    /// Index of the next bit to read, from the start of `stream`.
    pos: usize,
}

/// The stream ended before the bits asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EndOfStream;

impl<'a> BitReader<'a> {
    pub(crate) fn new(stream: &'a [u8]) -> BitReader<'a> {
        BitReader { stream, pos: 0 }
    }

    /// Bits consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn read_bit(&mut self) -> Result<bool, EndOfStream> {
        let byte = *self.stream.get(self.pos / 8).ok_or(EndOfStream)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Ok(bit)
    }

    pub(crate) fn read_bits(&mut self, nbits: u8) -> Result<u64, EndOfStream> {
        if self.pos + usize::from(nbits) > self.stream.len() * 8 {
            return Err(EndOfStream);
        }
        let mut value = 0u64;
        let mut left = nbits;
        while left > 0 {
            let byte = self.stream[self.pos / 8];
            let offset = (self.pos % 8) as u8;
            let available = 8 - offset;
            let take = available.min(left);
            let bits = (byte >> (available - take)) & (((1u16 << take) - 1) as u8);
            value = (value << take) | u64::from(bits);
            self.pos += usize::from(take);
            left -= take;
        }
        Ok(value)
    }

    /// Reads a Go `binary.Uvarint` from the bit stream (bytes need not be aligned).
    pub(crate) fn read_uvarint(&mut self) -> Result<u64, EndOfStream> {
        let mut value = 0u64;
        let mut shift = 0u32;
        for _ in 0..10 {
            let byte = self.read_bits(8)? as u8;
            if shift == 63 && byte > 1 {
                return Err(EndOfStream);
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
            shift += 7;
        }
        Err(EndOfStream)
    }

    /// Reads a Go `binary.Varint` (zig-zag) from the bit stream.
    pub(crate) fn read_varint(&mut self) -> Result<i64, EndOfStream> {
        let u = self.read_uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_at_every_alignment() {
        let mut w = BitWriter::default();
        let items: Vec<(u64, u8)> =
            (0..200u64).map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15), (i % 65) as u8)).collect();
        for &(v, n) in &items {
            w.write_bits(v, n);
        }
        w.write_bit(true);
        let mut r = BitReader::new(&w.stream);
        for &(v, n) in &items {
            let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            assert_eq!(r.read_bits(n).unwrap(), v & mask, "{n} bits");
        }
        assert!(r.read_bit().unwrap());
        assert_eq!(r.read_bits(w.free_bits()).unwrap(), 0);
        assert_eq!(r.read_bit(), Err(EndOfStream));
    }

    #[test]
    fn msb_first_layout() {
        let mut w = BitWriter::default();
        w.write_bit(true);
        w.write_bits(0b01, 2);
        w.write_byte(0xff);
        assert_eq!(w.stream, [0b1011_1111, 0b1110_0000]);
        assert_eq!(w.free_bits(), 5);
    }
}
