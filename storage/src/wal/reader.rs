//! Reads the records of one segment: 32 KiB pages of fragments `type | len BE16 | CRC32-C BE32 |
//! data`, joined and snappy-decompressed (upstream `tsdb/wlog/reader.go`).
//! Invariant: the reader stops at the first damaged byte and reports the end of the last whole
//! record before it, so repair can keep exactly the records that were read; replay may go on
//! from a later record with `read_segment_from`.

use super::{FIRST, FULL, HEADER_SIZE, LAST, MIDDLE, PAGE_SIZE, PAGE_TERM, SNAPPY_FLAG, ZSTD_FLAG};

/// Why a segment stopped decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Damage {
    /// The data ends inside a record: a torn write.
    Torn,
    /// Bytes that cannot be what the writer wrote.
    Corrupt(String),
}

/// How far a segment decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentEnd {
    /// End of the last whole record.
    pub(crate) good_end: usize,
    /// Where decoding stopped and why, if before the end of the data.
    pub(crate) damage: Option<(usize, Damage)>,
}

/// Calls `on_record` with each whole record of `data` in order.
#[cfg(test)]
pub(crate) fn read_segment(data: &[u8], on_record: impl FnMut(&[u8])) -> SegmentEnd {
    read_segment_from(data, 0, on_record)
}

/// [`read_segment`] from byte `start` of the segment, which must be where a fragment starts;
/// offsets in the answer are the segment's.
pub(crate) fn read_segment_from(data: &[u8], start: usize, mut on_record: impl FnMut(&[u8])) -> SegmentEnd {
    let mut offset = start;
    let mut good_end = start;
    let mut record: Vec<u8> = Vec::new();
    let mut in_record = false;
    let mut decompressed = Vec::new();
    let fail = |at: usize, good_end: usize, damage: Damage| SegmentEnd { good_end, damage: Some((at, damage)) };
    while offset < data.len() {
        let page_end = (offset / PAGE_SIZE + 1) * PAGE_SIZE;
        let typ = data[offset];
        if page_end - offset < HEADER_SIZE || typ == PAGE_TERM {
            // The writer zero-fills the rest of a page it cannot or will not use.
            let rest = &data[offset..page_end.min(data.len())];
            if let Some(i) = rest.iter().position(|&b| b != 0) {
                return fail(offset + i, good_end, Damage::Corrupt("non-zero bytes in page padding".into()));
            }
            offset = page_end;
            continue;
        }
        if offset + HEADER_SIZE > data.len() {
            return fail(offset, good_end, Damage::Torn);
        }
        let len = usize::from(u16::from_be_bytes([data[offset + 1], data[offset + 2]]));
        let crc = u32::from_be_bytes(data[offset + 3..offset + 7].try_into().expect("4 bytes"));
        let start = offset + HEADER_SIZE;
        if start + len > page_end {
            return fail(offset, good_end, Damage::Corrupt(format!("fragment of {len} bytes crosses its page")));
        }
        if start + len > data.len() {
            return fail(offset, good_end, Damage::Torn);
        }
        let part = &data[start..start + len];
        if crc32c::crc32c(part) != crc {
            return fail(offset, good_end, Damage::Corrupt("checksum mismatch".into()));
        }
        if typ & ZSTD_FLAG != 0 || typ & 0xe0 != 0 {
            return fail(offset, good_end, Damage::Corrupt(format!("unsupported fragment flags {typ:#04x}")));
        }
        let kind = typ & 0x07;
        match (kind, in_record) {
            (FULL, false) | (FIRST, false) => {
                record.clear();
                record.extend_from_slice(part);
                in_record = kind == FIRST;
            }
            (MIDDLE, true) | (LAST, true) => {
                record.extend_from_slice(part);
                in_record = kind == MIDDLE;
            }
            _ => {
                let what = format!("unexpected fragment type {kind} (inside a record: {in_record})");
                return fail(offset, good_end, Damage::Corrupt(what));
            }
        }
        offset = start + len;
        if in_record {
            continue;
        }
        if typ & SNAPPY_FLAG != 0 {
            let size = match snap::raw::decompress_len(&record) {
                Ok(size) => size,
                Err(err) => return fail(offset, good_end, Damage::Corrupt(format!("snappy: {err}"))),
            };
            decompressed.resize(size, 0);
            if let Err(err) = snap::raw::Decoder::new().decompress(&record, &mut decompressed) {
                return fail(offset, good_end, Damage::Corrupt(format!("snappy: {err}")));
            }
            on_record(&decompressed);
        } else {
            on_record(&record);
        }
        good_end = offset;
    }
    if in_record {
        return fail(data.len(), good_end, Damage::Torn);
    }
    SegmentEnd { good_end, damage: None }
}
