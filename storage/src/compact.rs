//! Compaction (upstream `tsdb/compact.go`): the head's oldest block range becomes a level-1
//! block, and the leveled planner merges blocks into bigger ones (2h → 6h → 18h → …), or
//! overlapping blocks into one (vertical compaction).
//!
//! Both write one series at a time: memory holds the series list and symbol table of the new
//! block and one series' chunks, never a whole block.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, PoisonError};

use crate::block::{Block, BlockCompaction, BlockDesc, BlockError, BlockMeta, BlockWriter, ChunkMeta, new_ulid};
use crate::chunkenc::{XorChunk, XorIterator};
use crate::head::{ChunkData, Head};
use crate::labels::{Label, Labels};
use crate::matcher::{MatchOp, Matcher};
use crate::sample::Sample;

/// Samples per chunk when compaction re-encodes one (upstream's target, 120).
const SAMPLES_PER_CHUNK: usize = 120;

/// Upstream `ExponentialBlockRanges(min, 10, 3)`, cut where a range would exceed `max`.
pub(crate) fn block_ranges(min: i64, max: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let mut range = min;
    for _ in 0..10 {
        if range > max {
            break;
        }
        out.push(range);
        range = range.saturating_mul(3);
    }
    if out.is_empty() {
        out.push(min);
    }
    out
}

/// Which blocks to compact next, as indices into `metas` (sorted by min time), or none
/// (upstream `LeveledCompactor.plan`): the first run of overlapping blocks; otherwise, leaving
/// out the newest block, the first aligned group of a larger range that is complete or lies
/// wholly before the newest block.
pub(crate) fn plan(metas: &[&BlockMeta], ranges: &[i64]) -> Vec<usize> {
    if metas.len() < 2 {
        return Vec::new();
    }
    let mut overlapping = Vec::new();
    let mut global_max = metas[0].max_time;
    for (i, meta) in metas.iter().enumerate().skip(1) {
        if meta.min_time < global_max {
            if overlapping.is_empty() {
                overlapping.push(i - 1);
            }
            overlapping.push(i);
        } else if !overlapping.is_empty() {
            break;
        }
        global_max = global_max.max(meta.max_time);
    }
    if !overlapping.is_empty() {
        return overlapping;
    }
    let candidates = &metas[..metas.len() - 1];
    let Some(newest) = candidates.last() else { return Vec::new() };
    let high = newest.min_time;
    for &range in ranges.iter().skip(1) {
        for group in split_by_range(candidates, range) {
            let (mint, maxt) = (candidates[group[0]].min_time, candidates[group[group.len() - 1]].max_time);
            if group.len() > 1 && (maxt - mint == range || maxt <= high) {
                return group;
            }
        }
    }
    Vec::new()
}

/// Groups of consecutive blocks that fall in the same `range`-aligned window; a block wider
/// than its window is in none (upstream `splitByRange`).
fn split_by_range(metas: &[&BlockMeta], range: i64) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut i = 0;
    while i < metas.len() {
        let start = metas[i].min_time.div_euclid(range) * range;
        if metas[i].max_time > start + range {
            i += 1;
            continue;
        }
        let mut group = Vec::new();
        while i < metas.len() && metas[i].min_time >= start && metas[i].max_time <= start + range {
            group.push(i);
            i += 1;
        }
        if !group.is_empty() {
            out.push(group);
        }
    }
    out
}

/// Writes the head's samples in `[mint, maxt)` as a level-1 block in `parent`; `None` when the
/// head has none there (no empty block is written).
pub(crate) fn write_head_block(
    head: &Head,
    parent: &Path,
    mint: i64,
    maxt: i64,
) -> Result<Option<BlockMeta>, BlockError> {
    let series = head.series_overlapping(mint, maxt);
    if series.is_empty() {
        return Ok(None);
    }
    // Symbols by rank: comparing ranks orders label sets as comparing their strings does, so
    // the series sort without building a label set each.
    let mut syms: Vec<u32> = series.iter().flat_map(|s| s.pairs.iter().copied()).collect();
    syms.sort_unstable();
    syms.dedup();
    let strings = head.resolve_symbols(&syms);
    let mut order: Vec<usize> = (0..syms.len()).collect();
    order.sort_unstable_by(|a, b| strings[*a].cmp(&strings[*b]));
    let mut rank: HashMap<u32, u32, foldhash::fast::RandomState> = HashMap::default();
    for (r, &i) in order.iter().enumerate() {
        rank.insert(syms[i], r as u32);
    }
    let sorted: Vec<&str> = order.iter().map(|&i| strings[i].as_str()).collect();
    let mut ranked: Vec<(Box<[u32]>, &Arc<crate::head::MemSeries>)> =
        series.iter().map(|s| (s.pairs.iter().map(|p| rank[p]).collect(), s)).collect();
    ranked.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let ulid = new_ulid();
    let mut writer = BlockWriter::create(parent, &ulid, &sorted)?;
    let mapper = head.mapper.as_ref();
    for (pairs, series) in &ranked {
        let labels = Labels::from_sorted(
            pairs
                .chunks_exact(2)
                .map(|p| Label { name: sorted[p[0] as usize].to_owned(), value: sorted[p[1] as usize].to_owned() })
                .collect(),
        );
        let chunks = head_chunks(series, mint, maxt, mapper)?;
        let refs: Vec<(i64, i64, &[u8])> = chunks.iter().map(|(a, b, c)| (*a, *b, c.as_slice())).collect();
        writer.add_series(&labels, &refs)?;
    }
    let meta = writer.finish(
        mint,
        maxt,
        BlockCompaction { level: 1, sources: vec![ulid.clone()], ..BlockCompaction::default() },
    )?;
    unless_empty(parent, meta)
}

/// `meta`, or `None` with its block removed again when it holds no sample (every one deleted):
/// upstream writes no empty block, and one left here would be loaded at the next start.
fn unless_empty(parent: &Path, meta: BlockMeta) -> Result<Option<BlockMeta>, BlockError> {
    if meta.stats.num_samples > 0 {
        return Ok(Some(meta));
    }
    let dir = parent.join(&meta.ulid);
    std::fs::remove_dir_all(&dir).map_err(|error| BlockError::Io { path: dir, error })?;
    Ok(None)
}

/// One head series' chunks in `[mint, maxt)`, as `(min, max, XOR bytes)`. A chunk wholly inside
/// is copied as it is; one reaching outside (never, with aligned chunk cuts) or holding deleted
/// samples (the series' tombstones) is re-encoded without them.
fn head_chunks(
    series: &crate::head::MemSeries,
    mint: i64,
    maxt: i64,
    mapper: Option<&crate::chunks_head::ChunkDiskMapper>,
) -> Result<Vec<(i64, i64, Vec<u8>)>, BlockError> {
    enum Source {
        Disk(crate::chunks_head::ChunkDiskMapperRef),
        Bytes(Vec<u8>),
    }
    let mut deleted: Vec<(i64, i64)> = Vec::new();
    let picked: Vec<(i64, i64, Source)> = {
        let state = series.state.lock().unwrap_or_else(PoisonError::into_inner);
        let mut picked = Vec::new();
        for c in state.sealed.iter().filter(|c| c.max_time >= mint && c.min_time < maxt) {
            let source = match &c.data {
                ChunkData::Disk(r) => Source::Disk(*r),
                ChunkData::Memory(bytes) => Source::Bytes(bytes.to_vec()),
            };
            picked.push((c.min_time, c.max_time, source));
        }
        if let Some(c) = state.head_chunk.as_ref().filter(|c| c.max_time >= mint && c.min_time < maxt) {
            picked.push((c.min_time, c.max_time, Source::Bytes(c.chunk.bytes().to_vec())));
        }
        deleted.extend_from_slice(state.deleted());
        picked
    };
    let is_deleted = |t: i64| deleted.iter().any(|&(a, b)| a <= t && t <= b);
    let mut out = Vec::with_capacity(picked.len());
    for (min, max, source) in picked {
        let bytes = match source {
            Source::Bytes(bytes) => bytes,
            Source::Disk(r) => match mapper.map(|m| m.chunk(r)) {
                Some(Ok(bytes)) => bytes.to_vec(),
                Some(Err(err)) => {
                    return Err(BlockError::Corrupt { path: "chunks_head".into(), reason: err.to_string() });
                }
                None => unreachable!("disk chunks only exist in a head with a mapper"),
            },
        };
        let has_deleted = deleted.iter().any(|&(a, b)| a <= max && b >= min);
        if min >= mint && max < maxt && !has_deleted {
            out.push((min, max, bytes));
        } else {
            let samples: Vec<Sample> =
                decode(&bytes).into_iter().filter(|s| s.t >= mint && s.t < maxt && !is_deleted(s.t)).collect();
            out.extend(encode(&samples));
        }
    }
    Ok(out)
}

fn decode(bytes: &[u8]) -> Vec<Sample> {
    match XorIterator::new(bytes) {
        Ok(it) => it.map_while(Result::ok).collect(),
        Err(_) => Vec::new(),
    }
}

/// Samples (time-ordered, unique times) as chunks of [`SAMPLES_PER_CHUNK`].
fn encode(samples: &[Sample]) -> Vec<(i64, i64, Vec<u8>)> {
    samples
        .chunks(SAMPLES_PER_CHUNK)
        .map(|part| {
            let mut chunk = XorChunk::new();
            for s in part {
                chunk.append(s.t, s.v);
            }
            (part[0].t, part[part.len() - 1].t, chunk.bytes().to_vec())
        })
        .collect()
}

/// A block's series one at a time, in label order.
struct Cursor<'a> {
    block: &'a Block,
    refs: std::vec::IntoIter<u64>,
    current: Option<(Labels, Vec<ChunkMeta>, u64)>,
}

impl<'a> Cursor<'a> {
    fn new(block: &'a Block) -> Result<Cursor<'a>, BlockError> {
        let all = Matcher::new(MatchOp::Regex, crate::labels::METRIC_NAME, ".*").expect("a valid regex");
        let mut cursor = Cursor { block, refs: block.select_refs(&[all])?.into_iter(), current: None };
        cursor.advance()?;
        Ok(cursor)
    }

    fn advance(&mut self) -> Result<(), BlockError> {
        self.current = match self.refs.next() {
            Some(r) => {
                let (labels, chunks) = self.block.series(r)?;
                Some((labels, chunks, r))
            }
            None => None,
        };
        Ok(())
    }
}

/// Merges `blocks` into one block in `parent` (level one above the highest, sources and parents
/// joined); chunks of the same series that overlap in time are merged sample by sample, the
/// first block's sample winning on equal timestamps; tombstoned samples are left out. `None`
/// when nothing is left (every sample deleted).
pub(crate) fn compact_blocks(parent: &Path, blocks: &[Arc<Block>]) -> Result<Option<BlockMeta>, BlockError> {
    let compaction = BlockCompaction {
        level: blocks.iter().map(|b| b.meta().compaction.level).max().unwrap_or(0) + 1,
        sources: {
            let mut sources: Vec<String> =
                blocks.iter().flat_map(|b| b.meta().compaction.sources.iter().cloned()).collect();
            sources.sort();
            sources.dedup();
            sources
        },
        parents: blocks.iter().map(|b| parent_desc(b)).collect(),
        ..BlockCompaction::default()
    };
    write_merged(parent, blocks, compaction)
}

/// Writes `block` again without its tombstoned samples, as a new block in `parent` over the
/// same range (upstream `Block.CleanTombstones`), naming the old one its parent, so a start
/// after a crash deletes whichever of the two is obsolete. Level, sources and hints stay the
/// old block's (upstream's `Compactor.Write` resets them to a level-1 block of its own; no
/// reader tells the difference). `None` when every sample was deleted.
pub(crate) fn rewrite_block(parent: &Path, block: &Arc<Block>) -> Result<Option<BlockMeta>, BlockError> {
    let old = &block.meta().compaction;
    let compaction = BlockCompaction {
        level: old.level,
        sources: old.sources.clone(),
        parents: vec![parent_desc(block)],
        hints: old.hints.clone(),
        ..BlockCompaction::default()
    };
    write_merged(parent, std::slice::from_ref(block), compaction)
}

fn parent_desc(block: &Block) -> BlockDesc {
    BlockDesc { ulid: block.meta().ulid.clone(), min_time: block.meta().min_time, max_time: block.meta().max_time }
}

/// The series of `blocks` merged into one new block over their whole range, with `compaction`.
fn write_merged(
    parent: &Path,
    blocks: &[Arc<Block>],
    compaction: BlockCompaction,
) -> Result<Option<BlockMeta>, BlockError> {
    let mut symbols: Vec<String> = Vec::new();
    for block in blocks {
        for name in block.label_names() {
            symbols.extend(block.label_values(&name));
            symbols.push(name);
        }
    }
    symbols.sort_unstable();
    symbols.dedup();
    let symbol_refs: Vec<&str> = symbols.iter().map(String::as_str).collect();
    let mint = blocks.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
    let maxt = blocks.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
    let ulid = new_ulid();
    let mut writer = BlockWriter::create(parent, &ulid, &symbol_refs)?;
    let mut cursors: Vec<Cursor<'_>> = blocks.iter().map(|b| Cursor::new(b)).collect::<Result<_, _>>()?;
    while let Some(labels) = cursors.iter().filter_map(|c| c.current.as_ref().map(|(l, _, _)| l)).min().cloned() {
        let mut parts: Vec<(&Block, Vec<ChunkMeta>, u64)> = Vec::new();
        let mut taken = Vec::new();
        for (i, cursor) in cursors.iter_mut().enumerate() {
            if cursor.current.as_ref().is_some_and(|(l, _, _)| *l == labels) {
                let (_, chunks, r) = cursor.current.take().expect("checked above");
                parts.push((cursor.block, chunks, r));
                taken.push(i);
            }
        }
        let chunks = merge_series_chunks(&parts)?;
        let refs: Vec<(i64, i64, &[u8])> = chunks.iter().map(|(a, b, c)| (*a, *b, c.as_ref())).collect();
        writer.add_series(&labels, &refs)?;
        drop(parts);
        for i in taken {
            cursors[i].advance()?;
        }
    }
    let meta = writer.finish(mint, maxt, compaction)?;
    unless_empty(parent, meta)
}

/// The chunks of one series gathered from several blocks. Chunks that do not overlap and have
/// no tombstones are copied as they are; the rest are decoded, merged and re-encoded.
fn merge_series_chunks<'a>(parts: &[(&'a Block, Vec<ChunkMeta>, u64)]) -> Result<Vec<(i64, i64, Cow<'a>)>, BlockError> {
    let mut all: Vec<(usize, &ChunkMeta)> = Vec::new();
    for (i, (_, chunks, _)) in parts.iter().enumerate() {
        all.extend(chunks.iter().map(|c| (i, c)));
    }
    all.sort_by_key(|(i, c)| (c.min_time, *i));
    let clean = all.windows(2).all(|w| w[0].1.max_time < w[1].1.min_time)
        && parts.iter().all(|(block, _, r)| block.tombstones(*r).is_empty());
    if clean {
        let mut out = Vec::with_capacity(all.len());
        for (i, c) in all {
            out.push((c.min_time, c.max_time, Cow::Borrowed(parts[i].0.chunk(c.chunk_ref)?)));
        }
        return Ok(out);
    }
    let mut samples: Vec<(i64, usize, f64)> = Vec::new();
    for (i, c) in all {
        let (block, _, r) = &parts[i];
        let deleted = block.tombstones(*r);
        for s in decode(block.chunk(c.chunk_ref)?) {
            if !deleted.iter().any(|(a, b)| s.t >= *a && s.t <= *b) {
                samples.push((s.t, i, s.v));
            }
        }
    }
    samples.sort_by_key(|(t, i, _)| (*t, *i));
    samples.dedup_by_key(|(t, _, _)| *t);
    let merged: Vec<Sample> = samples.into_iter().map(|(t, _, v)| Sample { t, v }).collect();
    Ok(encode(&merged).into_iter().map(|(a, b, bytes)| (a, b, Cow::Owned(bytes))).collect())
}

/// Chunk bytes borrowed from a block's map or re-encoded.
type Cow<'a> = std::borrow::Cow<'a, [u8]>;

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(min: i64, max: i64) -> BlockMeta {
        BlockMeta {
            ulid: String::new(),
            min_time: min,
            max_time: max,
            stats: Default::default(),
            compaction: BlockCompaction::default(),
            version: 1,
        }
    }

    const H: i64 = 3_600_000;

    #[test]
    fn ranges_grow_by_three_up_to_the_max() {
        assert_eq!(block_ranges(2 * H, 36 * H), vec![2 * H, 6 * H, 18 * H]);
        assert_eq!(block_ranges(2 * H, 2 * H), vec![2 * H]);
    }

    #[test]
    fn plan_picks_overlaps_first_then_complete_ranges_leaving_the_newest_out() {
        let ranges = block_ranges(2 * H, 36 * H);
        let plan_of = |blocks: &[BlockMeta]| plan(&blocks.iter().collect::<Vec<_>>(), &ranges);
        // Three 2h blocks of one 6h window and a newer one: the three merge.
        let blocks = [meta(0, 2 * H), meta(2 * H, 4 * H), meta(4 * H, 6 * H), meta(6 * H, 8 * H)];
        assert_eq!(plan_of(&blocks), vec![0, 1, 2]);
        // Only two of the window, and the newest is the third: not yet.
        assert!(plan_of(&blocks[..3]).is_empty());
        // Two of the window, then a newer block past it: the window is done.
        let blocks = [meta(0, 2 * H), meta(2 * H, 4 * H), meta(6 * H, 8 * H), meta(8 * H, 10 * H)];
        assert_eq!(plan_of(&blocks), vec![0, 1]);
        // Overlap wins.
        let blocks = [meta(0, 2 * H), meta(H, 3 * H), meta(6 * H, 8 * H)];
        assert_eq!(plan_of(&blocks), vec![0, 1]);
        // A single block, or min = max range: nothing.
        assert!(plan_of(&blocks[..1]).is_empty());
        let blocks = [meta(0, 2 * H), meta(2 * H, 4 * H), meta(4 * H, 6 * H), meta(6 * H, 8 * H)];
        assert!(plan(&blocks.iter().collect::<Vec<_>>(), &block_ranges(2 * H, 2 * H)).is_empty());
    }
}
