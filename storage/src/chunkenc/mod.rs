//! Chunk encodings (upstream `tsdb/chunkenc/`). Only XOR (Gorilla) floats today, encoded so that
//! Prometheus reads the bytes unchanged (`tsdb/docs/format/chunks.md`, encoding 1).

mod bstream;
mod xor;

pub use xor::{ChunkError, XorChunk, XorIterator};

/// The `encoding` byte Prometheus writes for an XOR chunk (`chunkenc.EncXOR`).
pub const ENCODING_XOR: u8 = 1;

/// Writes a Go `binary.PutUvarint` into `out`.
pub(crate) fn put_uvarint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Writes a Go `binary.PutVarint` (zig-zag) into `out`.
pub(crate) fn put_varint(out: &mut Vec<u8>, value: i64) {
    put_uvarint(out, ((value << 1) ^ (value >> 63)) as u64);
}

/// Reads a Go `binary.Uvarint` from the front of `buf`: `(value, bytes used)`, `None` when
/// truncated or longer than 10 bytes.
pub(crate) fn get_uvarint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    let mut shift = 0u32;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        if i == 9 && byte > 1 {
            return None;
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some((value, i + 1));
        }
        shift += 7;
    }
    None
}

/// Reads a Go `binary.Varint` from the front of `buf`.
pub(crate) fn get_varint(buf: &[u8]) -> Option<(i64, usize)> {
    let (u, n) = get_uvarint(buf)?;
    Some((((u >> 1) as i64) ^ -((u & 1) as i64), n))
}
