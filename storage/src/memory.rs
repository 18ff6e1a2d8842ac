//! Giving freed heap memory back to the OS. A big query decodes its samples into many small
//! vectors on whichever blocking-pool thread ran it; glibc keeps the freed space in that
//! thread's arena, so without a trim the process's RSS stays at its peak (measured: +180 MiB
//! kept after four queries of 3M samples). Only glibc has `malloc_trim`; elsewhere this does
//! nothing.

/// Returns free pages of every malloc arena to the OS. Costs about a millisecond per few
/// hundred MiB of heap, so callers use it after work that allocated a lot, not routinely.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks the allocator's own state, under its own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Returns free pages of every malloc arena to the OS (a no-op off glibc).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}
