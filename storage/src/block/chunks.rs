//! A block's `chunks/` directory (upstream `tsdb/docs/format/chunks.md`, `tsdb/chunks/chunks.go`):
//! segment files `000001`, `000002`, … each `magic 0x85BD40DD <4b> | version 1 <1b> | 3 zero
//! bytes`, then chunks `len <uvarint> | encoding <1b> | data | CRC32-C(encoding, data) <4b>`.
//! A chunk ref is `segment index << 32 | offset`, the index counting files from 0 in name order
//! (so `000001` is index 0), as upstream's `BlockChunkRef`.
//! Invariant: segments are written once and never touched again; reads check every offset and
//! length against the mapped file and the CRC of each chunk they return.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::BlockError;
use super::decode::Decbuf;
use crate::chunkenc::{ENCODING_XOR, put_uvarint};
use crate::mmap::{ChunkBytes, MappedFile};

/// Where a chunk lives in a block: `segment index << 32 | offset` in `chunks/`, as the index
/// stores it (upstream `chunks.ChunkRef`, built as `BlockChunkRef`). One read from an index is
/// only a claim: [`ChunkSegments`] checks it against the files before reading. The head's
/// `chunks_head/` refs are a different type, [`crate::chunks_head::ChunkDiskMapperRef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ChunkRef(u64);

impl ChunkRef {
    pub(crate) fn new(segment_index: u32, offset: u32) -> ChunkRef {
        ChunkRef(u64::from(segment_index) << 32 | u64::from(offset))
    }

    /// A ref as the index encodes it (checked only when the chunk is read).
    pub(crate) fn from_raw(raw: u64) -> ChunkRef {
        ChunkRef(raw)
    }

    /// The ref as the index encodes it.
    pub(crate) fn raw(self) -> u64 {
        self.0
    }

    /// Which segment file, counting from 0 in name order (`000001` is 0).
    pub(crate) fn segment_index(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The chunk's offset in its segment.
    pub(crate) fn offset(self) -> u32 {
        self.0 as u32
    }
}

/// Directory of the segments inside a block.
pub(crate) const CHUNKS_DIR: &str = "chunks";

const MAGIC: u32 = 0x85BD_40DD;
const FORMAT_V1: u8 = 1;
/// Magic, version and padding.
pub(crate) const SEGMENT_HEADER_LEN: usize = 8;

/// Upstream's `DefaultChunkSegmentSize`: a segment is cut before it would grow past this.
pub(crate) const DEFAULT_SEGMENT_SIZE: u64 = 512 * 1024 * 1024;

/// Room a chunk takes at most besides its data: a 5-byte length (`MaxVarintLen32`), the
/// encoding byte and the CRC, counted as upstream counts it when deciding to cut.
const CHUNK_OVERHEAD: u64 = 5 + 1 + 4;

fn segment_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("{:06}", index + 1))
}

/// Appends chunks to the segments of a block being written.
pub(crate) struct ChunkWriter {
    dir: PathBuf,
    segment_size: u64,
    /// The open segment, its path and its length so far; `None` before the first chunk.
    current: Option<(BufWriter<File>, PathBuf, u64)>,
    /// Segments cut so far, the open one included.
    segments: usize,
}

impl ChunkWriter {
    /// Writes into `dir` (created by the caller), cutting segments at `segment_size` bytes
    /// (must fit a 32-bit offset).
    pub(crate) fn new(dir: PathBuf, segment_size: u64) -> ChunkWriter {
        ChunkWriter { dir, segment_size: segment_size.min(u64::from(u32::MAX)), current: None, segments: 0 }
    }

    /// Writes one XOR chunk and returns its ref.
    pub(crate) fn write(&mut self, data: &[u8]) -> Result<ChunkRef, BlockError> {
        let size = CHUNK_OVERHEAD + data.len() as u64;
        // A segment holds at least one chunk, however big, so a huge chunk cannot loop cuts.
        let cut = match &self.current {
            None => true,
            Some((_, _, len)) => *len > SEGMENT_HEADER_LEN as u64 && *len + size > self.segment_size,
        };
        if cut {
            self.cut()?;
        }
        let segment_index = self.segments - 1;
        let Some((file, path, len)) = &mut self.current else {
            unreachable!("cut() leaves a segment open");
        };
        let offset = *len;
        let mut head = Vec::with_capacity(6);
        put_uvarint(&mut head, data.len() as u64);
        head.push(ENCODING_XOR);
        let crc = crc32c::crc32c_append(crc32c::crc32c(&[ENCODING_XOR]), data);
        let io = |error| BlockError::Io { path: path.clone(), error };
        file.write_all(&head).map_err(io)?;
        file.write_all(data).map_err(io)?;
        file.write_all(&crc.to_be_bytes()).map_err(io)?;
        *len += (head.len() + data.len() + 4) as u64;
        // Segments are cut at `segment_size` (512 MiB), so the offset fits its 32 bits.
        Ok(ChunkRef::new(segment_index as u32, offset as u32))
    }

    /// Closes the open segment (flushed and fsynced) and starts the next one.
    fn cut(&mut self) -> Result<(), BlockError> {
        self.finish_current()?;
        let path = segment_path(&self.dir, self.segments);
        let io = |error| BlockError::Io { path: path.clone(), error };
        let mut file = BufWriter::with_capacity(1 << 20, File::create(&path).map_err(io)?);
        let mut header = [0u8; SEGMENT_HEADER_LEN];
        header[..4].copy_from_slice(&MAGIC.to_be_bytes());
        header[4] = FORMAT_V1;
        file.write_all(&header).map_err(io)?;
        self.current = Some((file, path, SEGMENT_HEADER_LEN as u64));
        self.segments += 1;
        Ok(())
    }

    fn finish_current(&mut self) -> Result<(), BlockError> {
        if let Some((file, path, _)) = self.current.take() {
            let io = |error| BlockError::Io { path: path.clone(), error };
            let file = file.into_inner().map_err(|e| io(e.into_error()))?;
            file.sync_all().map_err(io)?;
        }
        Ok(())
    }

    /// Flushes and fsyncs the last segment; the directory fsync is the caller's.
    pub(crate) fn finish(mut self) -> Result<(), BlockError> {
        self.finish_current()
    }
}

/// The mapped segments of an opened block.
pub(crate) struct ChunkSegments {
    dir: PathBuf,
    segments: Vec<(PathBuf, Arc<MappedFile>)>,
}

impl ChunkSegments {
    /// Maps every segment in `dir` (files named by a number, in numeric order) and checks
    /// each header.
    pub(crate) fn open(dir: &Path) -> Result<(ChunkSegments, u64), BlockError> {
        let io = |path: &Path, error| BlockError::Io { path: path.to_owned(), error };
        let mut numbered = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
            let entry = entry.map_err(|e| io(dir, e))?;
            let name = entry.file_name();
            // Upstream's sequenceFiles: anything not parsing as a number is not a segment.
            if let Some(number) = name.to_str().and_then(|n| n.parse::<u64>().ok()) {
                numbered.push((number, entry.path()));
            }
        }
        numbered.sort();
        let mut segments = Vec::with_capacity(numbered.len());
        let mut total = 0;
        for (_, path) in numbered {
            let corrupt = |reason: String| BlockError::Corrupt { path: path.clone(), reason };
            let file = File::open(&path).map_err(|e| io(&path, e))?;
            let len = file.metadata().map_err(|e| io(&path, e))?.len();
            if len < SEGMENT_HEADER_LEN as u64 {
                return Err(corrupt(format!("{len} bytes, shorter than the segment header")));
            }
            let map = MappedFile::map(&file).map_err(|e| io(&path, e))?;
            let mut d = Decbuf::new(&map);
            let magic = d.be32().map_err(|r| corrupt(r.into()))?;
            if magic != MAGIC {
                return Err(corrupt(format!("invalid magic number {magic:#x}")));
            }
            let version = d.byte().map_err(|r| corrupt(r.into()))?;
            if version != FORMAT_V1 {
                return Err(corrupt(format!("invalid chunk format version {version}")));
            }
            total += len;
            segments.push((path, Arc::new(map)));
        }
        Ok((ChunkSegments { dir: dir.to_owned(), segments }, total))
    }

    /// The data of the XOR chunk at `chunk_ref`, after checking bounds, encoding and CRC.
    pub(crate) fn chunk(&self, chunk_ref: ChunkRef) -> Result<&[u8], BlockError> {
        let (map, range) = self.locate(chunk_ref)?;
        Ok(&map[range])
    }

    /// Like [`ChunkSegments::chunk`], as bytes that keep the segment mapped while held.
    pub(crate) fn chunk_bytes(&self, chunk_ref: ChunkRef) -> Result<ChunkBytes, BlockError> {
        let (map, range) = self.locate(chunk_ref)?;
        Ok(ChunkBytes::Mapped(Arc::clone(map), range))
    }

    /// The segment holding `chunk_ref` and the range of its data there, checked as `chunk` says.
    fn locate(&self, chunk_ref: ChunkRef) -> Result<(&Arc<MappedFile>, std::ops::Range<usize>), BlockError> {
        let index = chunk_ref.segment_index() as usize;
        let offset = chunk_ref.offset() as usize;
        let Some((path, map)) = self.segments.get(index) else {
            return Err(BlockError::Corrupt {
                path: self.dir.clone(),
                reason: format!("chunk ref {:#x}: segment index {index} of {}", chunk_ref.raw(), self.segments.len()),
            });
        };
        let corrupt = |reason: String| BlockError::Corrupt {
            path: path.clone(),
            reason: format!("chunk at offset {offset}: {reason}"),
        };
        if offset < SEGMENT_HEADER_LEN {
            return Err(corrupt("inside the segment header".into()));
        }
        let mut d = Decbuf::new(map.get(offset..).ok_or_else(|| corrupt("past end of segment".into()))?);
        let len = d.uvarint_usize().map_err(|r| corrupt(r.into()))?;
        // The CRC covers the encoding byte and the data.
        let covered = d.bytes(len.saturating_add(1)).map_err(|r| corrupt(format!("data: {r}")))?;
        let crc = d.be32().map_err(|r| corrupt(format!("CRC: {r}")))?;
        if crc32c::crc32c(covered) != crc {
            return Err(corrupt("CRC mismatch".into()));
        }
        let (&encoding, data) = covered.split_first().ok_or_else(|| corrupt("no encoding byte".into()))?;
        if encoding != ENCODING_XOR {
            return Err(BlockError::Unsupported {
                path: path.clone(),
                reason: format!("chunk at offset {offset} has encoding {encoding}; only XOR (1) is read"),
            });
        }
        // `data` is a subslice of the map: its offset there is the pointers' difference.
        let start = data.as_ptr() as usize - map.as_ptr() as usize;
        Ok((map, start..start + data.len()))
    }
}
