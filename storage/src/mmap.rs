//! Read-only memory maps of immutable files (sealed `chunks_head/` files, finished WAL segments
//! read by checkpoints, block files): the crate's `unsafe` but for `fallocate` (wal/) and
//! `malloc_trim` (memory.rs).
//! Invariant: a file is mapped only after it was completely written, fsynced and CRC-checked,
//! and promlite never writes to or truncates a mapped file afterwards (a file is only deleted
//! whole, and the mapping is dropped first).
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::ops::Deref;
use std::sync::Arc;

/// A read-only map of a whole, immutable file.
pub(crate) struct MappedFile {
    map: memmap2::Mmap,
}

impl MappedFile {
    pub(crate) fn map(file: &File) -> io::Result<MappedFile> {
        // SAFETY: memmap2 requires that the file is not modified while mapped, or reads could
        // see torn data (UB for a `&[u8]`). Only sealed chunk files are passed here: their
        // writer has finished and fsynced them, and no code path opens them for writing again
        // (see the module invariant). Another process editing the data directory behind our
        // back is outside what the lock file allows.
        let map = unsafe { memmap2::Mmap::map(file)? };
        Ok(MappedFile { map })
    }
}

impl Deref for MappedFile {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

/// The bytes of one chunk: a range of a mapped file, or a copy.
#[derive(Clone)]
pub(crate) enum ChunkBytes {
    /// In a mapped file, which stays mapped while any chunk of it is held (so a file deleted
    /// meanwhile stays readable).
    Mapped(Arc<MappedFile>, std::ops::Range<usize>),
    /// Read from a file not mapped yet.
    Owned(Vec<u8>),
    /// Held in memory and shared.
    Shared(Arc<[u8]>),
}

impl Deref for ChunkBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ChunkBytes::Mapped(map, range) => &map[range.clone()],
            ChunkBytes::Owned(bytes) => bytes,
            ChunkBytes::Shared(bytes) => bytes,
        }
    }
}
