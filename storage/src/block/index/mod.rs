//! A block's `index` file (upstream `tsdb/docs/format/index.md`, `tsdb/index/index.go`):
//! `magic 0xBAAAD700 <4b> | version <1b>`, the symbol table, the series, label indices, postings
//! lists, the postings offset table and a TOC of six big-endian `u64` offsets with its CRC.
//! Every section but the series is `len <4b> | body | CRC32-C(body) <4b>`; a series entry is
//! `len <uvarint> | body | CRC32-C(body) <4b>`.
//! Version 2 (what we write, as Prometheus 2 and 3 do) aligns each series to 16 bytes and
//! names it by `offset / 16`, symbol refs are indices into the table. Version 1 (read only)
//! names series and symbols by their byte offsets in the file.

mod reader;
mod writer;

pub(crate) use reader::IndexReader;
pub(crate) use writer::IndexWriter;

use super::decode::{Decbuf, Reason, be32_at};

/// The name of the file in a block directory.
pub(crate) const INDEX_FILENAME: &str = "index";

const MAGIC: u32 = 0xBAAA_D700;
const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;
/// Magic and version.
const HEADER_LEN: usize = 5;
/// Six offsets and a CRC.
const TOC_LEN: usize = 6 * 8 + 4;
/// Version 2 series alignment: a series ref is its offset divided by this.
const SERIES_ALIGN: u64 = 16;

/// Where each section starts; 0 means absent.
#[derive(Debug, Default, Clone, Copy)]
struct Toc {
    symbols: u64,
    series: u64,
    label_indices: u64,
    label_indices_table: u64,
    postings: u64,
    postings_table: u64,
}

impl Toc {
    fn encode(&self) -> [u8; TOC_LEN] {
        let mut out = [0u8; TOC_LEN];
        let fields = [
            self.symbols,
            self.series,
            self.label_indices,
            self.label_indices_table,
            self.postings,
            self.postings_table,
        ];
        for (i, field) in fields.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&field.to_be_bytes());
        }
        let crc = crc32c::crc32c(&out[..TOC_LEN - 4]);
        out[TOC_LEN - 4..].copy_from_slice(&crc.to_be_bytes());
        out
    }

    fn decode(bytes: &[u8]) -> Result<Toc, Reason> {
        let (body, crc) = bytes.split_at_checked(TOC_LEN - 4).ok_or("TOC truncated")?;
        if crc32c::crc32c(body) != be32_at(crc, 0)? {
            return Err("TOC CRC mismatch");
        }
        let mut d = Decbuf::new(body);
        Ok(Toc {
            symbols: d.be64()?,
            series: d.be64()?,
            label_indices: d.be64()?,
            label_indices_table: d.be64()?,
            postings: d.be64()?,
            postings_table: d.be64()?,
        })
    }
}

/// Whether a read checks a section's CRC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Crc {
    /// Check it: the first read of the section (at open).
    Check,
    /// Checked at open already.
    Checked,
}

/// The body of the `len <4b> | body | CRC <4b>` section at `off` of `file`, its CRC checked
/// when `crc` is [`Crc::Check`] (sections are checked once, at open).
fn section(file: &[u8], off: usize, crc: Crc) -> Result<&[u8], Reason> {
    let mut d = Decbuf::new(file.get(off..).ok_or("section offset past end of file")?);
    let len = d.be32()? as usize;
    let body = d.bytes(len).map_err(|_| "section runs past end of file")?;
    let stored = d.be32().map_err(|_| "section CRC past end of file")?;
    if crc == Crc::Check && crc32c::crc32c(body) != stored {
        return Err("section CRC mismatch");
    }
    Ok(body)
}
