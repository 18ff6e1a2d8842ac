//! Bounds-checked reads of the integers a block's files hold: big-endian fixed widths and Go
//! varints (upstream `tsdb/encoding/encoding.go`, `Decbuf`).
//! Invariant: nothing here indexes past the end of its slice; a read that would is an `Err`
//! with a short reason the caller puts into `BlockError::Corrupt` with the file and offset.

use crate::chunkenc::{get_uvarint, get_varint};

/// Why a read failed; the caller adds the file and the offset.
pub(super) type Reason = &'static str;

/// A cursor over bytes read from disk.
pub(super) struct Decbuf<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Decbuf<'a> {
    /// Starts at the first byte of `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Decbuf<'a> {
        Decbuf { bytes, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(super) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub(super) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// The next `n` bytes.
    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Reason> {
        let end = self.pos.checked_add(n).ok_or("length overflows")?;
        let out = self.bytes.get(self.pos..end).ok_or("truncated")?;
        self.pos = end;
        Ok(out)
    }

    /// One byte.
    pub(super) fn byte(&mut self) -> Result<u8, Reason> {
        Ok(self.bytes(1)?[0])
    }

    /// A big-endian `u32`.
    pub(super) fn be32(&mut self) -> Result<u32, Reason> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A big-endian `u64`.
    pub(super) fn be64(&mut self) -> Result<u64, Reason> {
        let b = self.bytes(8)?;
        Ok(u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    /// A Go `Uvarint`.
    pub(super) fn uvarint(&mut self) -> Result<u64, Reason> {
        let (value, n) = get_uvarint(&self.bytes[self.pos..]).ok_or("truncated or overlong uvarint")?;
        self.pos += n;
        Ok(value)
    }

    /// A Go `Varint` (zig-zag).
    pub(super) fn varint(&mut self) -> Result<i64, Reason> {
        let (value, n) = get_varint(&self.bytes[self.pos..]).ok_or("truncated or overlong varint")?;
        self.pos += n;
        Ok(value)
    }

    /// A uvarint used as a length or count that must fit in memory.
    pub(super) fn uvarint_usize(&mut self) -> Result<usize, Reason> {
        usize::try_from(self.uvarint()?).map_err(|_| "length does not fit in memory")
    }

    /// A uvarint length, then that many bytes.
    pub(super) fn uvarint_bytes(&mut self) -> Result<&'a [u8], Reason> {
        let len = self.uvarint_usize()?;
        self.bytes(len)
    }

    /// A uvarint length, then that many bytes of UTF-8.
    pub(super) fn uvarint_str(&mut self) -> Result<&'a str, Reason> {
        std::str::from_utf8(self.uvarint_bytes()?).map_err(|_| "string is not UTF-8")
    }
}

/// Reads a big-endian `u32` at `off` of `bytes`.
pub(super) fn be32_at(bytes: &[u8], off: usize) -> Result<u32, Reason> {
    let mut d = Decbuf::new(bytes.get(off..).ok_or("offset past end of file")?);
    d.be32()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_past_the_end_are_errors() {
        let mut d = Decbuf::new(&[0x80]);
        assert!(d.uvarint().is_err());
        let mut d = Decbuf::new(&[5, b'a']);
        assert!(d.uvarint_bytes().is_err());
        let mut d = Decbuf::new(&[1, 2, 3]);
        assert!(d.be32().is_err());
        assert!(be32_at(&[1, 2, 3, 4], 1).is_err());
        assert!(be32_at(&[1, 2, 3, 4], 9).is_err());
        let mut d = Decbuf::new(&[2, 0xff, 0xfe]);
        assert!(d.uvarint_str().is_err());
        let mut d = Decbuf::new(&[0, 0, 0, 7, 0x8e, 0x02]);
        assert_eq!(d.be32(), Ok(7));
        assert_eq!(d.uvarint(), Ok(270));
        assert_eq!(d.remaining(), 0);
    }
}
