//! A selected series and the iterator over its samples (upstream `storage.Series`,
//! `chunkenc.Iterator` and the chained merge of `storage/merge.go`).
//!
//! A select does not decode: a [`Series`] holds its chunks as they are stored (a range of a
//! mapped block or `chunks_head/` file, or a copy of a chunk held in memory), clipped to the
//! querier's range, and [`Series::iter`] decodes one chunk at a time. A series found in several
//! places (head, blocks, a remote) has one part per place; the iterator merges the parts by
//! timestamp, and where two hold the same timestamp the earlier part wins (local before
//! remote, head before blocks). So what a query holds is its series' compressed chunks plus,
//! while one series is walked, one decoded chunk per part, not the decoded input range.

use crate::chunkenc::XorIterator;
use crate::labels::Labels;
use crate::mmap::ChunkBytes;
use crate::sample::Sample;

/// One selected series: its labels and its samples in the querier's range, read through
/// [`Series::iter`].
#[derive(Clone)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// Where the samples are, in priority order (the first wins on equal timestamps).
    parts: Vec<Part>,
}

/// The samples of a series from one place.
#[derive(Clone)]
pub(crate) enum Part {
    /// Decoded already (a remote's answer, the newest sample of an instant select), oldest
    /// first, one sample per timestamp.
    Samples(Vec<Sample>),
    /// Stored chunks, in time order and not overlapping, and the range to clip them to.
    Chunks(ChunkPart),
}

/// Chunks of one series from one place (the head or one block).
#[derive(Clone)]
pub(crate) struct ChunkPart {
    /// XOR chunk data, oldest first.
    pub(crate) chunks: Vec<ChunkBytes>,
    /// Samples before this are left out.
    pub(crate) mint: i64,
    /// Samples after this are left out.
    pub(crate) maxt: i64,
    /// Deleted ranges (tombstones), inclusive; usually none.
    pub(crate) deleted: Box<[(i64, i64)]>,
    /// Samples after the chunks, decoded already, in range and not deleted: the head's open
    /// chunk when the range starts inside it (a few samples cost less than a copy of it).
    pub(crate) tail: Vec<Sample>,
}

impl Series {
    /// A series of decoded samples. Iteration yields them as given: a querier's own series are
    /// in time order with one per timestamp; a secondary's answer may be in any order (the
    /// querier sorts it before merging).
    pub fn from_samples(labels: Labels, samples: Vec<Sample>) -> Series {
        Series { labels, parts: vec![Part::Samples(samples)] }
    }

    pub(crate) fn from_part(labels: Labels, part: Part) -> Series {
        Series { labels, parts: vec![part] }
    }

    /// Adds `other`'s samples (same labels) to this series'; where both have a timestamp,
    /// this series' sample wins.
    pub(crate) fn merge(&mut self, other: Series) {
        self.parts.extend(other.parts);
    }

    /// The samples, oldest first, decoded as they are read.
    pub fn iter(&self) -> SeriesIter<'_> {
        let mut parts: Vec<PartIter<'_>> = self.parts.iter().map(PartIter::new).collect();
        match parts.len() {
            1 => SeriesIter::One(parts.pop().expect("one part")),
            _ => {
                let heads = parts.iter_mut().map(PartIter::next).collect();
                SeriesIter::Merge { parts, heads }
            }
        }
    }

    /// All the samples, decoded. Prefer [`Series::iter`] where one pass does.
    pub fn samples(&self) -> Vec<Sample> {
        self.iter().collect()
    }

    /// The samples, decoded, if the series holds them so (a remote's answer, an instant
    /// select's newest sample): no copy.
    pub fn decoded(&self) -> Option<&[Sample]> {
        match self.parts.as_slice() {
            [Part::Samples(samples)] => Some(samples),
            _ => None,
        }
    }

    /// Turns the series into decoded samples, without a copy when it holds them so.
    pub fn into_samples(mut self) -> (Labels, Vec<Sample>) {
        if let [Part::Samples(_)] = self.parts.as_slice()
            && let Some(Part::Samples(samples)) = self.parts.pop()
        {
            return (self.labels, samples);
        }
        let samples = self.samples();
        (self.labels, samples)
    }
}

impl PartialEq for Series {
    fn eq(&self, other: &Series) -> bool {
        self.labels == other.labels && self.iter().eq(other.iter())
    }
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Series").field("labels", &self.labels).field("samples", &self.samples()).finish()
    }
}

/// The samples of one [`Series`], oldest first.
pub enum SeriesIter<'a> {
    /// One part: read straight through.
    One(PartIter<'a>),
    /// Several parts, each with its next sample: the smallest timestamp goes next, the
    /// earliest part winning ties.
    Merge {
        /// Each part's iterator.
        parts: Vec<PartIter<'a>>,
        /// Each part's next sample.
        heads: Vec<Option<Sample>>,
    },
}

impl Iterator for SeriesIter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        match self {
            SeriesIter::One(part) => part.next(),
            SeriesIter::Merge { parts, heads } => {
                let mut best: Option<(usize, i64)> = None;
                for (i, head) in heads.iter().enumerate() {
                    if let Some(sample) = head
                        && best.is_none_or(|(_, t)| sample.t < t)
                    {
                        best = Some((i, sample.t));
                    }
                }
                let (i, t) = best?;
                let out = heads[i];
                // Every part at that timestamp moves on; the others' samples there are dropped.
                for (head, part) in heads.iter_mut().zip(parts.iter_mut()) {
                    if head.is_some_and(|sample| sample.t == t) {
                        *head = part.next();
                    }
                }
                out
            }
        }
    }
}

/// The samples of one part, oldest first: chunks decoded one at a time.
pub struct PartIter<'a> {
    source: Source<'a>,
}

enum Source<'a> {
    Samples(std::slice::Iter<'a, Sample>),
    Chunks { part: &'a ChunkPart, next_chunk: usize, current: Option<XorIterator<'a>>, next_tail: usize },
}

impl<'a> PartIter<'a> {
    fn new(part: &'a Part) -> PartIter<'a> {
        let source = match part {
            Part::Samples(samples) => Source::Samples(samples.iter()),
            Part::Chunks(part) => Source::Chunks { part, next_chunk: 0, current: None, next_tail: 0 },
        };
        PartIter { source }
    }
}

impl Iterator for PartIter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        let (part, next_chunk, current, next_tail) = match &mut self.source {
            Source::Samples(samples) => return samples.next().copied(),
            Source::Chunks { part, next_chunk, current, next_tail } => (*part, next_chunk, current, next_tail),
        };
        loop {
            if let Some(it) = current {
                match it.next() {
                    Some(Ok(sample)) if sample.t > part.maxt => {
                        // Chunks are in time order: nothing later is in range.
                        *next_chunk = part.chunks.len();
                        *next_tail = part.tail.len();
                        *current = None;
                        return None;
                    }
                    Some(Ok(sample)) => {
                        if sample.t >= part.mint && !part.deleted.iter().any(|&(a, b)| sample.t >= a && sample.t <= b) {
                            return Some(sample);
                        }
                        continue;
                    }
                    // A chunk that fails to decode ends where it fails (its CRC was checked
                    // when it was selected, so this is a bug or a write torn in memory).
                    Some(Err(_)) | None => *current = None,
                }
            }
            let Some(bytes) = part.chunks.get(*next_chunk) else {
                let sample = part.tail.get(*next_tail).copied();
                *next_tail += 1;
                return sample;
            };
            *next_chunk += 1;
            *current = XorIterator::new(bytes).ok();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkenc::XorChunk;

    fn chunk(samples: &[(i64, f64)]) -> ChunkBytes {
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, v);
        }
        ChunkBytes::Owned(c.bytes().to_vec())
    }

    fn pairs(series: &Series) -> Vec<(i64, f64)> {
        series.iter().map(|s| (s.t, s.v)).collect()
    }

    fn chunks(chunks: Vec<ChunkBytes>, mint: i64, maxt: i64, deleted: &[(i64, i64)]) -> Part {
        Part::Chunks(ChunkPart { chunks, mint, maxt, deleted: deleted.into(), tail: Vec::new() })
    }

    #[test]
    fn chunks_are_clipped_to_the_range_and_tombstones_left_out() {
        let part = chunks(
            vec![chunk(&[(1, 1.0), (2, 2.0), (3, 3.0)]), chunk(&[(4, 4.0), (5, 5.0), (9, 9.0)])],
            2,
            5,
            &[(4, 4)],
        );
        let series = Series::from_part(Labels::from_pairs([("__name__", "m")]), part);
        assert_eq!(pairs(&series), vec![(2, 2.0), (3, 3.0), (5, 5.0)]);
        assert_eq!(series.samples().len(), 3);
        assert!(series.decoded().is_none());
    }

    #[test]
    fn a_decoded_tail_follows_the_chunks() {
        let mut part = ChunkPart {
            chunks: vec![chunk(&[(1, 1.0), (2, 2.0)])],
            mint: 0,
            maxt: 10,
            deleted: Box::default(),
            tail: vec![Sample { t: 3, v: 3.0 }, Sample { t: 4, v: 4.0 }],
        };
        let series = Series::from_part(Labels::default(), Part::Chunks(part.clone()));
        assert_eq!(pairs(&series), vec![(1, 1.0), (2, 2.0), (3, 3.0), (4, 4.0)]);
        part.chunks.clear();
        assert_eq!(pairs(&Series::from_part(Labels::default(), Part::Chunks(part))), vec![(3, 3.0), (4, 4.0)]);
    }

    #[test]
    fn parts_merge_by_timestamp_with_the_earlier_part_winning() {
        let labels = Labels::from_pairs([("__name__", "m")]);
        let mut series = Series::from_part(labels.clone(), chunks(vec![chunk(&[(3, 30.0), (5, 50.0)])], 0, 10, &[]));
        series
            .merge(Series::from_part(labels.clone(), chunks(vec![chunk(&[(1, 1.0), (3, 3.0), (4, 4.0)])], 0, 10, &[])));
        series.merge(Series::from_samples(labels.clone(), vec![Sample { t: 5, v: 0.5 }, Sample { t: 6, v: 6.0 }]));
        assert_eq!(pairs(&series), vec![(1, 1.0), (3, 30.0), (4, 4.0), (5, 50.0), (6, 6.0)]);
        let (got_labels, samples) = series.clone().into_samples();
        assert_eq!((got_labels, samples.len()), (labels, 5));
    }

    #[test]
    fn decoded_series_hand_out_their_samples_without_decoding() {
        let samples = vec![Sample { t: 1, v: 1.0 }];
        let series = Series::from_samples(Labels::default(), samples.clone());
        assert_eq!(series.decoded(), Some(&samples[..]));
        assert_eq!(series.into_samples().1, samples);
    }
}
