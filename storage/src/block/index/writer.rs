//! Writes a version 2 index as Prometheus 3 does (upstream `tsdb/index/index.go`, `Writer`):
//! header and symbol table first, then the series one by one, and on `finish` the postings
//! lists (the all-postings list under `"", ""` first), the postings offset table and the TOC.
//! Like Prometheus 3 it writes no label indices: the TOC's label index offset is where the
//! section would start and its label offset table entry repeats the postings offset table's;
//! Prometheus 2.x readers, promtool 2.42 among them, never read either.
//! Invariant: series arrive in strictly ascending label-set order, so refs (offset/16) ascend
//! with the labels and every postings list is built already sorted.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use super::{FORMAT_V2, HEADER_LEN, MAGIC, SERIES_ALIGN, Toc};
use crate::block::{BlockError, ChunkMeta};
use crate::chunkenc::{put_uvarint, put_varint};
use crate::labels::Labels;

/// Length in bytes of `value` as a Go uvarint.
fn uvarint_len(value: u64) -> usize {
    (64 - value.max(1).leading_zeros() as usize).div_ceil(7)
}

/// A version 2 index being written.
pub(crate) struct IndexWriter {
    path: PathBuf,
    file: BufWriter<File>,
    pos: u64,
    toc: Toc,
    symbols: Vec<Box<str>>,
    /// (name symbol, value symbol) → series refs. Symbols are sorted, so the map's order is the
    /// order of the postings offset table.
    postings: BTreeMap<(u32, u32), Vec<u32>>,
    /// Every series ref, ascending: the all-postings list.
    all: Vec<u32>,
    last_labels: Option<Labels>,
    /// Reused per series.
    buf: Vec<u8>,
}

impl IndexWriter {
    /// Creates the file at `path`, writing header and symbol table. `symbols` must be sorted
    /// ascending without duplicates and hold every name and value of the series to come.
    pub(crate) fn create(path: PathBuf, symbols: &[&str]) -> Result<IndexWriter, BlockError> {
        let invalid = |reason: String| BlockError::Invalid { path: path.clone(), reason };
        if let Some(pair) = symbols.windows(2).find(|w| w[0] >= w[1]) {
            return Err(invalid(format!("symbols not sorted and unique: {:?} then {:?}", pair[0], pair[1])));
        }
        let count = u32::try_from(symbols.len()).map_err(|_| invalid("more than 2^32 symbols".into()))?;
        let body_len: usize = 4 + symbols.iter().map(|s| uvarint_len(s.len() as u64) + s.len()).sum::<usize>();
        let body_len = u32::try_from(body_len).map_err(|_| invalid("symbol table exceeds 4 GiB".into()))?;

        let file = File::create(&path).map_err(|error| BlockError::Io { path: path.clone(), error })?;
        let mut writer = IndexWriter {
            path,
            file: BufWriter::with_capacity(1 << 20, file),
            pos: 0,
            toc: Toc::default(),
            symbols: symbols.iter().map(|&s| Box::from(s)).collect(),
            postings: BTreeMap::new(),
            all: Vec::new(),
            last_labels: None,
            buf: Vec::new(),
        };
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(&MAGIC.to_be_bytes());
        header.push(FORMAT_V2);
        writer.write(&header)?;

        writer.toc.symbols = writer.pos;
        let mut crc = crc32c::crc32c(&count.to_be_bytes());
        writer.write(&body_len.to_be_bytes())?;
        writer.write(&count.to_be_bytes())?;
        let mut entry = Vec::new();
        for symbol in symbols {
            entry.clear();
            put_uvarint(&mut entry, symbol.len() as u64);
            entry.extend_from_slice(symbol.as_bytes());
            crc = crc32c::crc32c_append(crc, &entry);
            writer.write(&entry)?;
        }
        writer.write(&crc.to_be_bytes())?;
        writer.toc.series = writer.pos;
        Ok(writer)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), BlockError> {
        self.file.write_all(bytes).map_err(|error| BlockError::Io { path: self.path.clone(), error })?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn pad_to(&mut self, align: u64) -> Result<(), BlockError> {
        let rem = self.pos % align;
        if rem != 0 {
            self.write(&vec![0; (align - rem) as usize])?;
        }
        Ok(())
    }

    fn symbol(&self, s: &str) -> Result<u32, BlockError> {
        match self.symbols.binary_search_by(|sym| (**sym).cmp(s)) {
            Ok(i) => Ok(i as u32),
            Err(_) => Err(BlockError::Invalid {
                path: self.path.clone(),
                reason: format!("symbol {s:?} not in the symbol table"),
            }),
        }
    }

    /// Adds a series with its chunk metas (time-ordered, refs ascending), after every series
    /// with smaller labels.
    pub(crate) fn add_series(&mut self, labels: &Labels, chunks: &[ChunkMeta]) -> Result<(), BlockError> {
        let path = self.path.clone();
        let invalid = move |reason: String| BlockError::Invalid { path: path.clone(), reason };
        if labels.is_empty() {
            return Err(invalid("series without labels".into()));
        }
        if let Some(last) = &self.last_labels
            && labels <= last
        {
            return Err(invalid(format!("out-of-order series {labels}, after {last}")));
        }
        let mut body = std::mem::take(&mut self.buf);
        body.clear();
        put_uvarint(&mut body, labels.len() as u64);
        let mut pairs = Vec::with_capacity(labels.len());
        for label in labels {
            let pair = (self.symbol(&label.name)?, self.symbol(&label.value)?);
            put_uvarint(&mut body, u64::from(pair.0));
            put_uvarint(&mut body, u64::from(pair.1));
            pairs.push(pair);
        }
        put_uvarint(&mut body, chunks.len() as u64);
        // The first chunk is absolute; each later one is a delta to the one before, mint to
        // the previous maxt (index.md). Wrapping keeps the bits for any i64 input.
        let mut prev: Option<&ChunkMeta> = None;
        for chunk in chunks {
            match prev {
                None => {
                    put_varint(&mut body, chunk.min_time);
                    put_uvarint(&mut body, chunk.max_time.wrapping_sub(chunk.min_time) as u64);
                    put_uvarint(&mut body, chunk.chunk_ref.raw());
                }
                Some(prev) => {
                    put_uvarint(&mut body, chunk.min_time.wrapping_sub(prev.max_time) as u64);
                    put_uvarint(&mut body, chunk.max_time.wrapping_sub(chunk.min_time) as u64);
                    put_varint(&mut body, chunk.chunk_ref.raw().wrapping_sub(prev.chunk_ref.raw()) as i64);
                }
            }
            prev = Some(chunk);
        }

        self.pad_to(SERIES_ALIGN)?;
        let series_ref = u32::try_from(self.pos / SERIES_ALIGN)
            .map_err(|_| invalid("index exceeds 64 GiB: series refs no longer fit 32 bits".into()))?;
        let mut head = Vec::with_capacity(5);
        put_uvarint(&mut head, body.len() as u64);
        let crc = crc32c::crc32c(&body);
        let written = self.write(&head).and_then(|()| self.write(&body)).and_then(|()| self.write(&crc.to_be_bytes()));
        self.buf = body;
        written?;

        for pair in pairs {
            self.postings.entry(pair).or_default().push(series_ref);
        }
        self.all.push(series_ref);
        self.last_labels = Some(labels.clone());
        Ok(())
    }

    /// Writes one postings list (4-byte aligned, as upstream) and returns its offset.
    fn write_postings(&mut self, refs: &[u32]) -> Result<u64, BlockError> {
        self.pad_to(4)?;
        let offset = self.pos;
        let mut body = Vec::with_capacity(4 + refs.len() * 4);
        body.extend_from_slice(&(refs.len() as u32).to_be_bytes());
        for r in refs {
            body.extend_from_slice(&r.to_be_bytes());
        }
        let len = u32::try_from(body.len()).map_err(|_| BlockError::Invalid {
            path: self.path.clone(),
            reason: "postings list exceeds 4 GiB".into(),
        })?;
        self.write(&len.to_be_bytes())?;
        self.write(&body)?;
        self.write(&crc32c::crc32c(&body).to_be_bytes())?;
        Ok(offset)
    }

    /// Writes postings, the postings offset table and the TOC, then flushes and fsyncs.
    pub(crate) fn finish(mut self) -> Result<(), BlockError> {
        self.toc.label_indices = self.pos;
        self.toc.postings = self.pos;

        let mut table = Vec::new();
        let mut entries: u32 = 0;
        let mut add_entry = |table: &mut Vec<u8>, name: &str, value: &str, offset: u64| {
            put_uvarint(table, 2);
            put_uvarint(table, name.len() as u64);
            table.extend_from_slice(name.as_bytes());
            put_uvarint(table, value.len() as u64);
            table.extend_from_slice(value.as_bytes());
            put_uvarint(table, offset);
            entries += 1;
        };
        let all = std::mem::take(&mut self.all);
        let offset = self.write_postings(&all)?;
        add_entry(&mut table, "", "", offset);
        let postings = std::mem::take(&mut self.postings);
        for ((name, value), refs) in &postings {
            let offset = self.write_postings(refs)?;
            let (name, value) = (&*self.symbols[*name as usize], &*self.symbols[*value as usize]);
            add_entry(&mut table, name, value, offset);
        }
        drop(postings);

        self.toc.label_indices_table = self.pos;
        self.toc.postings_table = self.pos;
        let mut body = Vec::with_capacity(4 + table.len());
        body.extend_from_slice(&entries.to_be_bytes());
        body.extend_from_slice(&table);
        let len = u32::try_from(body.len()).map_err(|_| BlockError::Invalid {
            path: self.path.clone(),
            reason: "postings offset table exceeds 4 GiB".into(),
        })?;
        self.write(&len.to_be_bytes())?;
        self.write(&body)?;
        self.write(&crc32c::crc32c(&body).to_be_bytes())?;
        let toc = self.toc.encode();
        self.write(&toc)?;

        let path = self.path.clone();
        let io = |error| BlockError::Io { path: path.clone(), error };
        let file = self.file.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::uvarint_len;

    #[test]
    fn uvarint_len_matches_the_encoder() {
        for value in [0u64, 1, 127, 128, 16_383, 16_384, u64::from(u32::MAX), u64::MAX] {
            let mut buf = Vec::new();
            crate::chunkenc::put_uvarint(&mut buf, value);
            assert_eq!(uvarint_len(value), buf.len(), "{value}");
        }
    }
}
