//! Reads a version 1 or 2 index through a memory map (upstream `tsdb/index/index.go`, `Reader`).
//! Opening checks the header, the TOC's CRC and the CRC of every section: symbols, each series
//! entry, each label index and its offset table (files written by Prometheus 2), each postings
//! list and the postings offset table, which is then held in memory sorted by name and value.
//! Invariant: after `open`, any read still checks bounds (a series' CRC too), so a bad
//! reference from a caller or from the file is an error, never a panic.

use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::head::postings::{difference, intersect, union};

use super::{Crc, FORMAT_V1, FORMAT_V2, HEADER_LEN, MAGIC, SERIES_ALIGN, TOC_LEN, Toc, section};
use crate::block::decode::{Decbuf, Reason};
use crate::block::{BlockError, ChunkMeta, ChunkRef};
use crate::labels::{Label, Labels};
use crate::matcher::{MatchOp, Matcher};
use crate::mmap::MappedFile;

/// A label name's values, sorted, each with the offset of its postings list.
struct LabelName {
    name: String,
    /// (byte range of the value in the map, postings list offset).
    values: Vec<(Range<usize>, usize)>,
}

/// An opened, verified index.
pub(crate) struct IndexReader {
    path: PathBuf,
    map: MappedFile,
    version: u8,
    /// Offset of each symbol's uvarint length prefix, in table order. A v2 symbol ref is an
    /// index here; a v1 ref is one of these offsets.
    symbols: Vec<usize>,
    /// Sorted by name, without the all-postings key `""`.
    names: Vec<LabelName>,
    /// Offset of the postings list of every series.
    all_postings: usize,
}

fn usize_of(v: u64) -> Result<usize, Reason> {
    usize::try_from(v).map_err(|_| "offset does not fit in memory")
}

impl IndexReader {
    /// Maps and verifies the index at `path`.
    pub(crate) fn open(path: &Path) -> Result<IndexReader, BlockError> {
        let io = |error| BlockError::Io { path: path.to_owned(), error };
        let corrupt = |reason: String| BlockError::Corrupt { path: path.to_owned(), reason };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len < (HEADER_LEN + TOC_LEN) as u64 {
            return Err(corrupt(format!("{len} bytes, shorter than header and TOC")));
        }
        let map = MappedFile::map(&file).map_err(io)?;
        let mut d = Decbuf::new(&map);
        let magic = d.be32().map_err(|r| corrupt(r.into()))?;
        if magic != MAGIC {
            return Err(corrupt(format!("invalid magic number {magic:#x}")));
        }
        let version = d.byte().map_err(|r| corrupt(r.into()))?;
        if version != FORMAT_V1 && version != FORMAT_V2 {
            return Err(corrupt(format!("unknown index file version {version}")));
        }
        let toc_start = map.len() - TOC_LEN;
        let toc = Toc::decode(map.get(toc_start..).unwrap_or_default()).map_err(|r| corrupt(r.into()))?;
        for (what, off) in [
            ("symbols", toc.symbols),
            ("series", toc.series),
            ("label indices", toc.label_indices),
            ("label offset table", toc.label_indices_table),
            ("postings", toc.postings),
            ("postings offset table", toc.postings_table),
        ] {
            if off > toc_start as u64 || (off != 0 && off < HEADER_LEN as u64) {
                return Err(corrupt(format!("TOC: {what} offset {off} outside the file")));
            }
        }
        let mut reader = IndexReader {
            path: path.to_owned(),
            map,
            version,
            symbols: Vec::new(),
            names: Vec::new(),
            all_postings: 0,
        };
        reader.symbols = reader.read_symbols(toc.symbols)?;
        (reader.names, reader.all_postings) = reader.read_postings_table(toc.postings_table)?;
        if toc.label_indices_table != 0 && toc.label_indices_table != toc.postings_table {
            reader.check_label_indices(toc.label_indices_table)?;
        }
        let series_end = [toc.label_indices, toc.postings, toc.label_indices_table, toc.postings_table]
            .into_iter()
            // An offset equal to the series' own means no series (an empty block).
            .filter(|&off| off >= toc.series)
            .min()
            .unwrap_or(toc_start as u64);
        reader.check_series(toc.series, series_end)?;
        Ok(reader)
    }

    fn corrupt(&self, at: usize, what: &str, reason: impl std::fmt::Display) -> BlockError {
        BlockError::Corrupt { path: self.path.clone(), reason: format!("{what} at offset {at}: {reason}") }
    }

    /// Offsets of all symbols, after checking the table's CRC and that each is UTF-8.
    fn read_symbols(&self, off: u64) -> Result<Vec<usize>, BlockError> {
        if off == 0 {
            return Ok(Vec::new());
        }
        let off = off as usize;
        let err = |reason: Reason| self.corrupt(off, "symbol table", reason);
        let body = section(&self.map, off, Crc::Check).map_err(err)?;
        let mut d = Decbuf::new(body);
        let count = d.be32().map_err(err)?;
        // Each symbol takes at least its length byte, so a count beyond the body is corrupt
        // and must not size an allocation.
        if count as usize > d.remaining() {
            return Err(err("more symbols than bytes"));
        }
        let mut symbols = Vec::with_capacity(count as usize);
        for _ in 0..count {
            // Body starts after the 4-byte length.
            symbols.push(off + 4 + d.pos());
            d.uvarint_str().map_err(err)?;
        }
        Ok(symbols)
    }

    /// The symbol `symbol_ref` names (an index in v2, a file offset in v1).
    fn symbol(&self, symbol_ref: u64) -> Result<&str, Reason> {
        let off = if self.version == FORMAT_V1 {
            let off = usize_of(symbol_ref)?;
            self.symbols.binary_search(&off).map_err(|_| "symbol ref is not a symbol's offset")?;
            off
        } else {
            *usize_of(symbol_ref).ok().and_then(|i| self.symbols.get(i)).ok_or("symbol ref out of range")?
        };
        Decbuf::new(self.map.get(off..).ok_or("symbol past end of file")?).uvarint_str()
    }

    /// Loads the postings offset table, checking its CRC and that of every list it names:
    /// the label names with their values, and the all-postings list's offset.
    fn read_postings_table(&self, off: u64) -> Result<(Vec<LabelName>, usize), BlockError> {
        if off == 0 {
            return Err(self.corrupt(0, "TOC", "no postings offset table"));
        }
        let off = off as usize;
        let err = |reason: Reason| self.corrupt(off, "postings offset table", reason);
        let body = section(&self.map, off, Crc::Check).map_err(err)?;
        let body_start = off + 4;
        let mut d = Decbuf::new(body);
        let count = d.be32().map_err(err)?;
        let mut entries: Vec<(&str, &str, Range<usize>, usize)> = Vec::new();
        for _ in 0..count {
            let entry_at = body_start + d.pos();
            let entry_err = |reason: Reason| self.corrupt(entry_at, "postings offset table entry", reason);
            let keys = d.uvarint().map_err(entry_err)?;
            if keys != 2 {
                return Err(entry_err("expected 2 keys"));
            }
            let name = d.uvarint_str().map_err(entry_err)?;
            let value = d.uvarint_str().map_err(entry_err)?;
            let value_end = body_start + d.pos();
            let list = d.uvarint().and_then(usize_of).map_err(entry_err)?;
            let list_body = section(&self.map, list, Crc::Check).map_err(|r| self.corrupt(list, "postings list", r))?;
            check_postings(list_body).map_err(|r| self.corrupt(list, "postings list", r))?;
            entries.push((name, value, value_end - value.len()..value_end, list));
        }
        // Version 1 tables are unsorted; sorting always costs little and keeps lookups uniform.
        entries.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        if entries.windows(2).any(|w| (w[0].0, w[0].1) == (w[1].0, w[1].1)) {
            return Err(err("duplicate label pair"));
        }
        let mut names: Vec<LabelName> = Vec::new();
        let mut all = None;
        for (name, value, range, list) in entries {
            if name.is_empty() {
                if !value.is_empty() {
                    return Err(err("entry with an empty label name and a value"));
                }
                all = Some(list);
                continue;
            }
            match names.last_mut() {
                Some(last) if last.name == name => last.values.push((range, list)),
                _ => names.push(LabelName { name: name.to_owned(), values: vec![(range, list)] }),
            }
        }
        let all = all.ok_or_else(|| err("no all-postings list"))?;
        Ok((names, all))
    }

    /// Checks the label offset table and every label index it points to (written by
    /// Prometheus 2; Prometheus 3 and promlite write none).
    fn check_label_indices(&self, off: u64) -> Result<(), BlockError> {
        let off = off as usize;
        let err = |reason: Reason| self.corrupt(off, "label offset table", reason);
        let body = section(&self.map, off, Crc::Check).map_err(err)?;
        let mut d = Decbuf::new(body);
        let count = d.be32().map_err(err)?;
        for _ in 0..count {
            let names = d.uvarint().map_err(err)?;
            for _ in 0..names {
                d.uvarint_bytes().map_err(err)?;
            }
            let index = d.uvarint().and_then(usize_of).map_err(err)?;
            let body = section(&self.map, index, Crc::Check).map_err(|r| self.corrupt(index, "label index", r))?;
            let mut li = Decbuf::new(body);
            let names = li.be32().map_err(|r| self.corrupt(index, "label index", r))?;
            let entries = li.be32().map_err(|r| self.corrupt(index, "label index", r))?;
            if (names as u64 == 0 && entries != 0) || li.remaining() as u64 != u64::from(entries) * 4 {
                return Err(self.corrupt(index, "label index", "entry count does not match its length"));
            }
        }
        Ok(())
    }

    /// Walks the series section `[start, end)`, checking each entry's CRC (and alignment in v2).
    fn check_series(&self, start: u64, end: u64) -> Result<(), BlockError> {
        if start == 0 {
            return Ok(());
        }
        let (start, end) = (start as usize, end as usize);
        let region =
            self.map.get(start..end).ok_or_else(|| self.corrupt(start, "series", "section past end of file"))?;
        let mut pos = 0;
        while pos < region.len() {
            // Zero bytes pad between entries; an entry's uvarint length never starts with one.
            if region[pos] == 0 {
                pos += 1;
                continue;
            }
            let at = start + pos;
            if self.version == FORMAT_V2 && !(at as u64).is_multiple_of(SERIES_ALIGN) {
                return Err(self.corrupt(at, "series", "entry not 16-byte aligned"));
            }
            let entry = series_entry(&region[pos..]).map_err(|r| self.corrupt(at, "series", r))?;
            pos += entry.total_len;
        }
        Ok(())
    }

    /// A series' labels and chunk metas.
    pub(crate) fn series(&self, series_ref: u64) -> Result<(Labels, Vec<ChunkMeta>), BlockError> {
        let off = if self.version == FORMAT_V1 { Some(series_ref) } else { series_ref.checked_mul(SERIES_ALIGN) };
        let off = off.and_then(|o| usize::try_from(o).ok()).unwrap_or(usize::MAX);
        let err = |reason: Reason| self.corrupt(off, &format!("series {series_ref}"), reason);
        let bytes = self.map.get(off..).filter(|_| off >= HEADER_LEN).ok_or_else(|| err("ref outside the file"))?;
        let entry = series_entry(bytes).map_err(err)?;
        let mut d = Decbuf::new(entry.body);
        let count = d.uvarint_usize().map_err(err)?;
        if count > d.remaining() / 2 {
            return Err(err("more labels than bytes"));
        }
        let mut labels: Vec<Label> = Vec::with_capacity(count);
        for _ in 0..count {
            let name = self.symbol(d.uvarint().map_err(err)?).map_err(err)?;
            let value = self.symbol(d.uvarint().map_err(err)?).map_err(err)?;
            // Labels' invariant: names strictly ascending, values non-empty.
            if labels.last().is_some_and(|last| last.name.as_str() >= name) {
                return Err(err("label names not strictly ascending"));
            }
            if name.is_empty() || value.is_empty() {
                return Err(err("empty label name or value"));
            }
            labels.push(Label { name: name.to_owned(), value: value.to_owned() });
        }
        let count = d.uvarint_usize().map_err(err)?;
        if count > d.remaining() / 3 {
            return Err(err("more chunks than bytes"));
        }
        let mut chunks: Vec<ChunkMeta> = Vec::with_capacity(count);
        for _ in 0..count {
            // Decoded with wrapping arithmetic, the writer's inverse (index.md's deltas).
            let chunk = match chunks.last() {
                None => {
                    let min_time = d.varint().map_err(err)?;
                    let max_time = min_time.wrapping_add(d.uvarint().map_err(err)? as i64);
                    ChunkMeta { min_time, max_time, chunk_ref: ChunkRef::from_raw(d.uvarint().map_err(err)?) }
                }
                Some(prev) => {
                    let min_time = prev.max_time.wrapping_add(d.uvarint().map_err(err)? as i64);
                    let max_time = min_time.wrapping_add(d.uvarint().map_err(err)? as i64);
                    let chunk_ref =
                        ChunkRef::from_raw(prev.chunk_ref.raw().wrapping_add(d.varint().map_err(err)? as u64));
                    ChunkMeta { min_time, max_time, chunk_ref }
                }
            };
            chunks.push(chunk);
        }
        Ok((Labels::from_sorted(labels), chunks))
    }

    /// The refs in the postings list at `off` (its CRC was checked at open).
    fn postings(&self, off: usize) -> Result<Vec<u64>, BlockError> {
        let err = |reason: Reason| self.corrupt(off, "postings list", reason);
        let body = section(&self.map, off, Crc::Checked).map_err(err)?;
        check_postings(body).map_err(err)?;
        Ok(body[4..].chunks_exact(4).map(|b| u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))).collect())
    }

    fn value(&self, range: &Range<usize>) -> &str {
        // Checked as UTF-8 and in bounds at open; the map never changes.
        self.map.get(range.clone()).and_then(|b| std::str::from_utf8(b).ok()).unwrap_or_default()
    }

    fn label(&self, name: &str) -> Option<&LabelName> {
        self.names.binary_search_by(|n| n.name.as_str().cmp(name)).ok().map(|i| &self.names[i])
    }

    /// Label names of all series, sorted.
    pub(crate) fn label_names(&self) -> Vec<String> {
        self.names.iter().map(|n| n.name.clone()).collect()
    }

    /// Values of `name` over all series, sorted.
    pub(crate) fn label_values(&self, name: &str) -> Vec<String> {
        self.label(name).map_or_else(Vec::new, |n| n.values.iter().map(|(v, _)| self.value(v).to_owned()).collect())
    }

    /// Refs of series that have `matcher.name` with a value for which `matcher.matches` is
    /// `want`. A finite set (`a="x"`, `a=~"x|y"`) is looked up, not scanned.
    fn with_values(&self, matcher: &Matcher, want: bool) -> Result<Vec<u64>, BlockError> {
        let Some(label) = self.label(&matcher.name) else {
            return Ok(Vec::new());
        };
        let positive_op = matches!(matcher.op, MatchOp::Equal | MatchOp::Regex);
        let lists: Vec<usize> = match matcher.set_matches() {
            // The set is what the positive form accepts: wanted for `=`/`=~`, rejected for `!=`/`!~`.
            Some(set) if want == positive_op => set
                .iter()
                .filter_map(|value| {
                    let i = label.values.binary_search_by(|(v, _)| self.value(v).cmp(value)).ok()?;
                    Some(label.values[i].1)
                })
                .collect(),
            _ => label
                .values
                .iter()
                .filter(|(value, _)| matcher.matches(self.value(value)) == want)
                .map(|(_, list)| *list)
                .collect(),
        };
        let lists: Vec<Vec<u64>> = lists.into_iter().map(|off| self.postings(off)).collect::<Result<_, _>>()?;
        Ok(match <[Vec<u64>; 1]>::try_from(lists) {
            Ok([one]) => one,
            Err(lists) => union(&lists.iter().map(Vec::as_slice).collect::<Vec<_>>()),
        })
    }

    /// Refs of series satisfying every matcher, ascending (upstream `PostingsForMatchers`, as
    /// the head's `MemPostings::select`): matchers that reject the empty value narrow by
    /// intersection; those that accept it remove the series whose value they reject, so series
    /// without the label pass.
    pub(crate) fn select(&self, matchers: &[Matcher]) -> Result<Vec<u64>, BlockError> {
        let mut result: Option<Vec<u64>> = None;
        let mut subtract = Vec::new();
        for matcher in matchers {
            if matcher.matches_empty() {
                // `a=~".*"` selects everything: nothing to remove.
                if matcher.op == MatchOp::Regex && matcher.matches_everything_positive() {
                    continue;
                }
                subtract.push(self.with_values(matcher, false)?);
                continue;
            }
            let refs = self.with_values(matcher, true)?;
            let narrowed = match result {
                None => refs,
                Some(prev) => intersect(&prev, &refs),
            };
            if narrowed.is_empty() {
                return Ok(Vec::new());
            }
            result = Some(narrowed);
        }
        let mut result = match result {
            Some(result) => result,
            None => self.postings(self.all_postings)?,
        };
        for refs in subtract {
            result = difference(&result, &refs);
        }
        Ok(result)
    }
}

/// Checks that a postings list body is `count <4b>` then exactly `count` 4-byte refs, ascending.
fn check_postings(body: &[u8]) -> Result<(), Reason> {
    let mut d = Decbuf::new(body);
    let count = d.be32()?;
    if d.remaining() as u64 != u64::from(count) * 4 {
        return Err("entry count does not match its length");
    }
    let refs = body[4..].chunks_exact(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let mut prev = None;
    for r in refs {
        if prev.is_some_and(|p| p >= r) {
            return Err("refs not strictly ascending");
        }
        prev = Some(r);
    }
    Ok(())
}

/// A series entry: `len <uvarint> | body | CRC32-C <4b>`.
struct SeriesEntry<'a> {
    body: &'a [u8],
    total_len: usize,
}

fn series_entry(bytes: &[u8]) -> Result<SeriesEntry<'_>, Reason> {
    let mut d = Decbuf::new(bytes);
    let len = d.uvarint_usize()?;
    let body = d.bytes(len).map_err(|_| "entry runs past its section")?;
    let crc = d.be32().map_err(|_| "entry CRC past its section")?;
    if crc32c::crc32c(body) != crc {
        return Err("CRC mismatch");
    }
    Ok(SeriesEntry { body, total_len: d.pos() })
}
