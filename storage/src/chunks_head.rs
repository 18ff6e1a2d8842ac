//! Sealed head chunks on disk (upstream `tsdb/chunks/head_chunks.go`, format in
//! `tsdb/docs/format/head_chunks.md`): files `chunks_head/000001`, … each starting with magic
//! `0x0130BC91`, version 1 and 3 bytes of padding, then chunks
//! `series ref BE64 | mint BE64 | maxt BE64 | encoding | uvarint len | data | CRC32-C BE32` (the CRC
//! covers everything before it). A chunk is addressed by `file sequence << 32 | offset`.
//! Invariant: only finished files are memory-mapped; the file being written is read with
//! positional reads (or from the write buffer), so a map never sees bytes change. At open, a
//! damaged chunk ends its file there and every later file is deleted (as upstream repairs), since
//! the WAL still holds those samples.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use crate::chunkenc::{ENCODING_XOR, get_uvarint, put_uvarint};
use crate::mmap::MappedFile;

pub(crate) const MAGIC: u32 = 0x0130_BC91;
pub(crate) const HEADER_SIZE: usize = 8;
/// Upstream `MaxHeadChunkFileSize`.
pub(crate) const MAX_FILE_SIZE: u64 = 128 * 1024 * 1024;
// Bytes kept in memory before they go to the file; bounds the write side's memory.
const WRITE_BUFFER: usize = 256 * 1024;

/// Where a sealed head chunk lives: `file sequence << 32 | offset` in `chunks_head/` (upstream
/// `ChunkDiskMapperRef`). Made only by [`ChunkDiskMapper::write_chunk`] and the scan at open, so
/// a ref names a chunk that was written; a block's chunks have their own [`crate::block::ChunkRef`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ChunkDiskMapperRef(u64);

impl ChunkDiskMapperRef {
    fn new(seq: u32, offset: u32) -> ChunkDiskMapperRef {
        ChunkDiskMapperRef(u64::from(seq) << 32 | u64::from(offset))
    }

    /// The sequence number of the file (`chunks_head/000001` is 1).
    pub(crate) fn file(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The chunk's offset in its file.
    pub(crate) fn offset(self) -> u32 {
        self.0 as u32
    }
}

/// A `chunks_head/` operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChunkDiskError {
    /// Reading or writing a file failed.
    #[error("chunks_head {path}: {error}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        error: std::io::Error,
    },
    /// A ref points outside the files.
    #[error("chunks_head: no chunk at file {file} offset {offset}")]
    BadRef {
        /// File sequence.
        file: u32,
        /// Offset in it.
        offset: u32,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ChunkDiskError + '_ {
    move |error| ChunkDiskError::Io { path: path.to_owned(), error }
}

/// Writes `a`'s buffer at the end of what the file holds. A partial write (a full disk) is cut
/// off again, so the next try writes the same bytes at the same offset and the refs handed out
/// for them stay true.
fn write_buffer(a: &mut Active, path: &Path) -> Result<(), ChunkDiskError> {
    use std::os::unix::fs::FileExt;
    if a.buffer.is_empty() {
        return Ok(());
    }
    if let Err(err) = a.file.write_all_at(&a.buffer, a.written) {
        if let Err(cut) = a.file.set_len(a.written) {
            // The write's error is returned; this one only explains a damaged tail at the next start.
            tracing::warn!(file = %path.display(), error = %cut, "cutting back a failed chunks_head write failed");
        }
        return Err(io_err(path)(err));
    }
    a.written += a.buffer.len() as u64;
    a.buffer.clear();
    Ok(())
}

fn file_name(dir: &Path, seq: u32) -> PathBuf {
    dir.join(format!("{seq:06}"))
}

/// A chunk found at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplayedChunk {
    pub(crate) series_ref: u64,
    pub(crate) chunk_ref: ChunkDiskMapperRef,
    pub(crate) min_time: i64,
    pub(crate) max_time: i64,
    pub(crate) num_samples: u16,
}

/// What the scan at open dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRepair {
    /// The file where damage was found.
    pub file: u32,
    /// Offset of the first bad chunk.
    pub offset: u64,
    /// Why it is bad.
    pub reason: String,
    /// Later files deleted with it.
    pub files_deleted: Vec<u32>,
}

struct Active {
    seq: u32,
    file: File,
    /// Bytes in the file.
    written: u64,
    /// Bytes after `written`, not yet in the file.
    buffer: Vec<u8>,
    /// Newest sample time of the chunks in this file.
    max_time: i64,
}

pub(crate) use crate::mmap::ChunkBytes;

/// Writes sealed chunks and reads them back (upstream `ChunkDiskMapper`).
pub(crate) struct ChunkDiskMapper {
    dir: PathBuf,
    mapped: RwLock<std::collections::BTreeMap<u32, Arc<MappedFile>>>,
    /// Newest sample time of each finished file, for [`ChunkDiskMapper::truncate`].
    file_max_time: Mutex<std::collections::BTreeMap<u32, i64>>,
    active: Mutex<Option<Active>>,
    /// The highest file sequence used, so a new file never takes the number of a deleted one.
    last_seq: std::sync::atomic::AtomicU32,
    max_file_size: u64,
}

impl ChunkDiskMapper {
    /// Opens `dir`, checks every chunk, repairs damage, and returns the chunks found (in file
    /// order, so per series in time order).
    pub(crate) fn open(
        dir: &Path,
        max_file_size: u64,
    ) -> Result<(ChunkDiskMapper, Vec<ReplayedChunk>, Option<ChunkRepair>), ChunkDiskError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let mut seqs: Vec<u32> = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_err(dir))? {
            let entry = entry.map_err(io_err(dir))?;
            if let Some(seq) = entry
                .file_name()
                .to_str()
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|n| n.parse().ok())
            {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let mut chunks = Vec::new();
        let mut mapped = std::collections::BTreeMap::new();
        let mut repair: Option<ChunkRepair> = None;
        for &seq in &seqs {
            let path = file_name(dir, seq);
            if let Some(repair) = repair.as_mut() {
                fs::remove_file(&path).map_err(io_err(&path))?;
                repair.files_deleted.push(seq);
                continue;
            }
            let file = File::open(&path).map_err(io_err(&path))?;
            let map = MappedFile::map(&file).map_err(io_err(&path))?;
            let (good_end, damage) = scan(&map, seq, &mut chunks);
            if let Some((offset, reason)) = damage {
                drop(map);
                let file = OpenOptions::new().write(true).open(&path).map_err(io_err(&path))?;
                if good_end <= HEADER_SIZE as u64 {
                    drop(file);
                    fs::remove_file(&path).map_err(io_err(&path))?;
                } else {
                    file.set_len(good_end).map_err(io_err(&path))?;
                    file.sync_all().map_err(io_err(&path))?;
                    let file = File::open(&path).map_err(io_err(&path))?;
                    mapped.insert(seq, Arc::new(MappedFile::map(&file).map_err(io_err(&path))?));
                }
                repair = Some(ChunkRepair { file: seq, offset, reason, files_deleted: Vec::new() });
                continue;
            }
            mapped.insert(seq, Arc::new(map));
        }
        let mut file_max_time = std::collections::BTreeMap::new();
        for c in &chunks {
            let max = file_max_time.entry(c.chunk_ref.file()).or_insert(i64::MIN);
            *max = c.max_time.max(*max);
        }
        for &seq in mapped.keys() {
            file_max_time.entry(seq).or_insert(i64::MIN);
        }
        let mapper = ChunkDiskMapper {
            dir: dir.to_owned(),
            last_seq: std::sync::atomic::AtomicU32::new(seqs.last().copied().unwrap_or(0)),
            mapped: RwLock::new(mapped),
            file_max_time: Mutex::new(file_max_time),
            active: Mutex::new(None),
            max_file_size,
        };
        Ok((mapper, chunks, repair))
    }

    fn next_seq(&self) -> u32 {
        self.last_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1
    }

    /// Deletes the finished files whose chunks all end before `mint` (upstream
    /// `ChunkDiskMapper.Truncate`); the caller dropped every ref into them first. Returns the
    /// files deleted. A file that cannot be deleted is left for the next truncation.
    pub(crate) fn truncate(&self, mint: i64) -> Result<Vec<u32>, ChunkDiskError> {
        {
            // Finish the active file if it holds chunks, as upstream's `Truncate` does: else its
            // chunks, in blocks by now, stay on disk until it fills (128 MiB). Finished now, it
            // is deleted below if all its chunks are older than `mint`, else at a later truncation.
            let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
            if active.as_ref().is_some_and(|a| a.written + a.buffer.len() as u64 > HEADER_SIZE as u64) {
                self.cut_file(&mut active)?;
            }
        }
        let expired: Vec<u32> = self
            .file_max_time
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(_, max)| **max < mint)
            .map(|(seq, _)| *seq)
            .collect();
        let mut deleted = Vec::new();
        for seq in expired {
            self.mapped.write().unwrap_or_else(PoisonError::into_inner).remove(&seq);
            let path = file_name(&self.dir, seq);
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_err(&path)(err)),
            }
            self.file_max_time.lock().unwrap_or_else(PoisonError::into_inner).remove(&seq);
            deleted.push(seq);
        }
        if !deleted.is_empty() {
            File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io_err(&self.dir))?;
        }
        Ok(deleted)
    }

    /// Bytes of every file in `chunks_head/`, for `--storage.tsdb.retention.size`.
    pub(crate) fn size_bytes(&self) -> u64 {
        let mapped: u64 =
            self.mapped.read().unwrap_or_else(PoisonError::into_inner).values().map(|m| m.len() as u64).sum();
        let active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        mapped + active.as_ref().map_or(0, |a| a.written + a.buffer.len() as u64)
    }

    fn cut_file(&self, active: &mut Option<Active>) -> Result<(), ChunkDiskError> {
        // The old file stays active until it is mapped: its chunks' refs are handed out, and a
        // failure here (a full disk) must leave them readable.
        if let Some(old) = active.as_mut() {
            let path = file_name(&self.dir, old.seq);
            write_buffer(old, &path)?;
            old.file.sync_all().map_err(io_err(&path))?;
            let map = MappedFile::map(&old.file).map_err(io_err(&path))?;
            self.mapped.write().unwrap_or_else(PoisonError::into_inner).insert(old.seq, Arc::new(map));
            self.file_max_time.lock().unwrap_or_else(PoisonError::into_inner).insert(old.seq, old.max_time);
            *active = None;
        }
        let seq = self.next_seq();
        let path = file_name(&self.dir, seq);
        let mut file =
            OpenOptions::new().create(true).truncate(true).write(true).read(true).open(&path).map_err(io_err(&path))?;
        let mut header = [0u8; HEADER_SIZE];
        header[..4].copy_from_slice(&MAGIC.to_be_bytes());
        header[4] = 1;
        if let Err(err) = file.write_all(&header) {
            // A full disk: leave no headerless file for the next start to call damage.
            drop(file);
            let _ = fs::remove_file(&path);
            return Err(io_err(&path)(err));
        }
        File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io_err(&self.dir))?;
        *active = Some(Active {
            seq,
            file,
            written: HEADER_SIZE as u64,
            buffer: Vec::with_capacity(WRITE_BUFFER),
            max_time: i64::MIN,
        });
        Ok(())
    }

    /// Appends a sealed chunk; returns its ref.
    pub(crate) fn write_chunk(
        &self,
        series_ref: u64,
        min_time: i64,
        max_time: i64,
        data: &[u8],
    ) -> Result<ChunkDiskMapperRef, ChunkDiskError> {
        let mut record = Vec::with_capacity(25 + 10 + data.len() + 4);
        record.extend_from_slice(&series_ref.to_be_bytes());
        record.extend_from_slice(&min_time.to_be_bytes());
        record.extend_from_slice(&max_time.to_be_bytes());
        record.push(ENCODING_XOR);
        put_uvarint(&mut record, data.len() as u64);
        record.extend_from_slice(data);
        let crc = crc32c::crc32c(&record);
        record.extend_from_slice(&crc.to_be_bytes());
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        let full = active
            .as_ref()
            .is_none_or(|a| a.written + a.buffer.len() as u64 + record.len() as u64 > self.max_file_size);
        if full {
            self.cut_file(&mut active)?;
        }
        let Some(a) = active.as_mut() else {
            return Err(ChunkDiskError::Io {
                path: self.dir.clone(),
                error: std::io::Error::other("no chunks_head file to write to"),
            });
        };
        let offset = a.written + a.buffer.len() as u64;
        let buffered = a.buffer.len();
        a.max_time = a.max_time.max(max_time);
        a.buffer.extend_from_slice(&record);
        if a.buffer.len() >= WRITE_BUFFER {
            let path = file_name(&self.dir, a.seq);
            if let Err(err) = write_buffer(a, &path) {
                // This chunk gets no ref (the caller keeps it in memory); the buffered ones keep
                // theirs and are written by a later call.
                a.buffer.truncate(buffered);
                return Err(err);
            }
        }
        // Files are cut before `max_file_size` (at most 128 MiB), so the offset fits its 32 bits.
        Ok(ChunkDiskMapperRef::new(a.seq, offset as u32))
    }

    /// The encoded chunk data (XOR bytes) at `chunk_ref`.
    pub(crate) fn chunk(&self, chunk_ref: ChunkDiskMapperRef) -> Result<ChunkBytes, ChunkDiskError> {
        let (seq, offset) = (chunk_ref.file(), chunk_ref.offset());
        let bad = ChunkDiskError::BadRef { file: seq, offset };
        if let Some(map) = self.mapped.read().unwrap_or_else(PoisonError::into_inner).get(&seq) {
            let (start, len) = data_range(map, offset as usize).ok_or(bad)?;
            return Ok(ChunkBytes::Mapped(Arc::clone(map), start..start + len));
        }
        let active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        let a = active.as_ref().filter(|a| a.seq == seq).ok_or(bad)?;
        // Header up to the longest uvarint, then the data.
        let mut head = [0u8; 25 + 10];
        let n = read_active(a, u64::from(offset), &mut head).map_err(io_err(&file_name(&self.dir, seq)))?;
        let (len, used) = get_uvarint(&head[25..n]).ok_or(ChunkDiskError::BadRef { file: seq, offset })?;
        let mut data = vec![0u8; len as usize];
        read_active(a, u64::from(offset) + 25 + used as u64, &mut data).map_err(io_err(&file_name(&self.dir, seq)))?;
        Ok(ChunkBytes::Owned(data))
    }

    /// Writes buffered chunks to the file (not fsynced).
    pub(crate) fn flush(&self) -> Result<(), ChunkDiskError> {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(a) = active.as_mut() {
            let path = file_name(&self.dir, a.seq);
            write_buffer(a, &path)?;
        }
        Ok(())
    }
}

/// Reads up to `buf.len()` bytes at `offset` from the active file and its buffer; returns how
/// many were available.
fn read_active(a: &Active, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0usize;
    let mut pos = offset;
    while filled < buf.len() && pos < a.written {
        let end = (filled + (a.written - pos) as usize).min(buf.len());
        let n = a.file.read_at(&mut buf[filled..end], pos)?;
        if n == 0 {
            break;
        }
        filled += n;
        pos += n as u64;
    }
    if filled < buf.len() && pos >= a.written {
        let start = (pos - a.written) as usize;
        let take = (buf.len() - filled).min(a.buffer.len().saturating_sub(start));
        buf[filled..filled + take].copy_from_slice(&a.buffer[start..start + take]);
        filled += take;
    }
    Ok(filled)
}

/// `(data start, data len)` of the chunk at `offset` in a mapped file, checked against its end.
fn data_range(map: &[u8], offset: usize) -> Option<(usize, usize)> {
    let len_at = offset.checked_add(25)?;
    let (len, used) = get_uvarint(map.get(len_at..)?)?;
    let start = len_at + used;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    (end + 4 <= map.len()).then_some((start, end - start))
}

/// Checks every chunk of one file; returns the end of the last good chunk and the first damage.
fn scan(map: &[u8], seq: u32, out: &mut Vec<ReplayedChunk>) -> (u64, Option<(u64, String)>) {
    if map.len() < HEADER_SIZE {
        return (0, Some((0, format!("file shorter than its {HEADER_SIZE}-byte header"))));
    }
    if u32::from_be_bytes(map[..4].try_into().expect("4 bytes")) != MAGIC {
        return (0, Some((0, "bad magic number".to_owned())));
    }
    if map[4] != 1 {
        return (0, Some((4, format!("unsupported version {}", map[4]))));
    }
    let mut offset = HEADER_SIZE;
    while offset < map.len() {
        // Upstream zero-fills preallocated space: a zero series ref + zero times mark the end.
        if map[offset..].iter().take(25).all(|&b| b == 0) && map[offset..].iter().all(|&b| b == 0) {
            break;
        }
        let Some((start, len)) = data_range(map, offset) else {
            return (offset as u64, Some((offset as u64, "chunk runs past the end of the file".to_owned())));
        };
        let end = start + len;
        let crc = u32::from_be_bytes(map[end..end + 4].try_into().expect("4 bytes"));
        if crc32c::crc32c(&map[offset..end]) != crc {
            return (offset as u64, Some((offset as u64, "checksum mismatch".to_owned())));
        }
        if map[offset + 24] & 0x7f != ENCODING_XOR || len < 2 {
            return (offset as u64, Some((offset as u64, format!("unsupported chunk encoding {}", map[offset + 24]))));
        }
        let be = |at: usize| u64::from_be_bytes(map[at..at + 8].try_into().expect("8 bytes"));
        out.push(ReplayedChunk {
            series_ref: be(offset),
            chunk_ref: ChunkDiskMapperRef::new(seq, offset as u32),
            min_time: be(offset + 8) as i64,
            max_time: be(offset + 16) as i64,
            num_samples: u16::from_be_bytes([map[start], map[start + 1]]),
        });
        offset = end + 4;
    }
    (offset as u64, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chunkenc::XorChunk;

    fn chunk(n: i64) -> Vec<u8> {
        let mut c = XorChunk::new();
        for i in 0..n {
            c.append(i * 15_000, i as f64);
        }
        c.bytes().to_vec()
    }

    #[test]
    fn written_chunks_read_back_from_buffer_file_and_map_and_survive_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chunks_head");
        let (mapper, found, repair) = ChunkDiskMapper::open(&dir, 1024).unwrap();
        assert!(found.is_empty() && repair.is_none());
        let mut refs = Vec::new();
        for i in 0..200u64 {
            let data = chunk(1 + (i % 50) as i64);
            let r = mapper.write_chunk(i, i as i64, i as i64 + 1, &data).unwrap();
            assert_eq!(&*mapper.chunk(r).unwrap(), data.as_slice(), "chunk {i} right after writing");
            refs.push((r, data));
        }
        for (r, data) in &refs {
            assert_eq!(&*mapper.chunk(*r).unwrap(), data.as_slice());
        }
        mapper.flush().unwrap();
        drop(mapper);
        let files = fs::read_dir(&dir).unwrap().count();
        assert!(files > 5, "{files} files");
        let first = fs::read(file_name(&dir, 1)).unwrap();
        assert_eq!(first[..8], [0x01, 0x30, 0xbc, 0x91, 1, 0, 0, 0]);
        let (mapper, found, repair) = ChunkDiskMapper::open(&dir, 1024).unwrap();
        assert!(repair.is_none());
        assert_eq!(found.len(), 200);
        for (i, (c, (r, data))) in found.iter().zip(&refs).enumerate() {
            assert_eq!((c.series_ref, c.chunk_ref, c.min_time), (i as u64, *r, i as i64));
            assert_eq!(&*mapper.chunk(*r).unwrap(), data.as_slice());
        }
        // New chunks go to a new file after the existing ones.
        let r = mapper.write_chunk(7, 0, 0, &chunk(3)).unwrap();
        assert!(r.file() as usize > files);
    }

    #[test]
    fn truncation_finishes_the_active_file_so_its_old_chunks_go_too() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chunks_head");
        let (mapper, _, _) = ChunkDiskMapper::open(&dir, 1 << 20).unwrap();
        let old = mapper.write_chunk(1, 0, 100, &chunk(20)).unwrap();
        assert_eq!(mapper.truncate(50).unwrap(), Vec::<u32>::new(), "a chunk at 100 is still needed");
        let kept = mapper.write_chunk(2, 200, 300, &chunk(20)).unwrap();
        assert!(mapper.chunk(old).is_ok() && mapper.chunk(kept).is_ok());
        // Everything before 150 is in blocks: the first file goes although it was the active one.
        let deleted = mapper.truncate(150).unwrap();
        assert_eq!(deleted, vec![old.file()]);
        assert!(mapper.chunk(kept).is_ok());
        assert!(mapper.truncate(400).unwrap().contains(&kept.file()));
        assert!(mapper.size_bytes() <= HEADER_SIZE as u64, "only an empty active file is left");
    }

    #[test]
    fn damage_truncates_its_file_and_deletes_later_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("chunks_head");
        let (mapper, _, _) = ChunkDiskMapper::open(&dir, 512).unwrap();
        for i in 0..60u64 {
            mapper.write_chunk(i, 0, 1, &chunk(20)).unwrap();
        }
        mapper.flush().unwrap();
        drop(mapper);
        let mut seqs: Vec<u32> =
            fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap()).collect();
        seqs.sort_unstable();
        assert!(seqs.len() >= 4);
        let path = file_name(&dir, 2);
        let mut data = fs::read(&path).unwrap();
        let flip = data.len() / 2;
        data[flip] ^= 0x10;
        fs::write(&path, &data).unwrap();
        let (_, found, repair) = ChunkDiskMapper::open(&dir, 512).unwrap();
        let repair = repair.unwrap();
        assert_eq!(repair.file, 2);
        assert_eq!(repair.files_deleted, seqs[2..].to_vec());
        assert!(found.iter().all(|c| c.chunk_ref.file() <= 2));
        assert!(fs::metadata(&path).unwrap().len() <= flip as u64);
        // Truncated at every offset of a file: never a panic, only whole chunks kept.
        let original = fs::read(file_name(&dir, 1)).unwrap();
        for len in 0..original.len() {
            let mut out = Vec::new();
            let (good_end, _) = scan(&original[..len], 1, &mut out);
            assert!(good_end as usize <= len.max(HEADER_SIZE));
        }
    }
}
