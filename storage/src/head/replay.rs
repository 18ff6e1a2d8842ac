//! The WAL replay at open (upstream `tsdb/head_wal.go`, `Head.loadWAL`): the newest checkpoint,
//! then every later segment, put back into the head, with the sealed chunks `chunks_head/` still
//! holds attached to their series as the Series records name them.
//! Invariant: a series' samples are applied by one worker, in WAL order, after its Series
//! record; samples the chunks already hold, or older than the newest block's end, are skipped,
//! so blocks, `chunks_head/` and the head together hold each committed sample once. Counters of
//! appends are reset afterwards: replayed samples were counted by the process that wrote them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use super::{Head, SealedChunk};
use crate::chunks_head::ChunkRepair;
use crate::wal::record::{self, Record, RefSample};
use crate::wal::{self, WalError};

/// How often a long replay says how far it is.
const PROGRESS_LOG_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Progress of the WAL replay at open, for `/api/v1/status/walreplay` (upstream `WALReplayStatus`).
#[derive(Debug, Default)]
pub struct ReplayProgress {
    /// First segment to replay.
    pub min: AtomicU32,
    /// Last segment to replay.
    pub max: AtomicU32,
    /// Segment being replayed.
    pub current: AtomicU32,
    /// Whether replay has finished.
    pub done: AtomicBool,
}

/// What the replay at open did, for logs, metrics and `/api/v1/status/tsdb`.
#[derive(Debug, Clone, Default)]
pub struct ReplayStats {
    /// Segments read.
    pub segments: u32,
    /// Series records applied.
    pub series: u64,
    /// Samples put back in the head.
    pub samples: u64,
    /// Samples not re-applied: already in a `chunks_head/` chunk, for an unknown series (a
    /// damaged WAL), or rejected by the head.
    pub samples_skipped: u64,
    /// Samples whose series no Series record named: their record was lost to damage.
    pub samples_unknown_series: u64,
    /// Sealed chunks in `chunks_head/` whose series no Series record named (dropped).
    pub orphan_chunks: u64,
    /// Records of types promlite does not replay.
    pub other_records: u64,
    /// Records that did not decode (counted in `prometheus_tsdb_wal_corruptions_total`).
    pub bad_records: u64,
    /// Damaged segments and what was done about them.
    pub repairs: Vec<wal::Repair>,
    /// Damage found in `chunks_head/` and what was dropped.
    pub chunk_repair: Option<ChunkRepair>,
    /// Sealed chunks taken from `chunks_head/`.
    pub mmapped_chunks: u64,
    /// Wall time of the replay, seconds.
    pub duration_seconds: f64,
}

/// Replays `wal_dir` into `head`: series records on this thread (refs must exist before their
/// samples), samples fanned out to one worker per core by series ref, so each series is appended
/// by one thread in WAL order.
pub(crate) fn replay_wal(
    head: &Arc<Head>,
    wal_dir: &Path,
    quarantine: &Path,
    progress: &ReplayProgress,
    mut mmapped: HashMap<u64, Vec<SealedChunk>>,
) -> Result<ReplayStats, WalError> {
    let start = Instant::now();
    wal::checkpoint::remove_tmp_checkpoints(wal_dir)?;
    let checkpoint = wal::checkpoint::last_checkpoint(wal_dir)?;
    let after = checkpoint.as_ref().map(|(index, _)| *index);
    let segments: Vec<u32> =
        wal::list_segments(wal_dir)?.into_iter().filter(|s| after.is_none_or(|a| *s > a)).collect();
    progress.min.store(segments.first().copied().unwrap_or(0), Ordering::Relaxed);
    progress.max.store(segments.last().copied().unwrap_or(0), Ordering::Relaxed);
    let mut stats = ReplayStats { segments: segments.len() as u32, ..ReplayStats::default() };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let skipped = AtomicU64::new(0);
    let replayed = AtomicU64::new(0);
    let unknown = AtomicU64::new(0);
    // Upstream's multiRef: a label set seen again under another ref maps to the first one.
    let mut aliases: HashMap<u64, u64> = HashMap::new();
    let repairs = std::thread::scope(|scope| -> Result<Vec<wal::Repair>, WalError> {
        let mut senders = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<RefSample>>(64);
            senders.push(tx);
            let (head, skipped, replayed, unknown) = (Arc::clone(head), &skipped, &replayed, &unknown);
            scope.spawn(move || {
                for batch in rx {
                    let stored = head.apply_replayed(&batch, unknown);
                    replayed.fetch_add(stored, Ordering::Relaxed);
                    skipped.fetch_add(batch.len() as u64 - stored, Ordering::Relaxed);
                }
            });
        }
        let mut batches: Vec<Vec<RefSample>> = vec![Vec::new(); workers];
        let mut on_record = |rec: &[u8]| match record::decode(rec) {
            Ok(Record::Series(series)) => {
                for (series_ref, labels) in series {
                    let (s, created) = head.get_or_create(&labels, series_ref);
                    if s.series_ref != series_ref {
                        aliases.insert(series_ref, s.series_ref);
                    }
                    // Upstream replays chunks_head first: the WAL then only adds what is newer.
                    if created && let Some(chunks) = mmapped.remove(&series_ref) {
                        stats.mmapped_chunks += chunks.len() as u64;
                        head.counters.chunks.fetch_add(chunks.len() as u64, Ordering::Relaxed);
                        if let (Some(first), Some(last)) = (chunks.first(), chunks.last()) {
                            head.min_time.fetch_min(first.min_time, Ordering::Relaxed);
                            head.max_time.fetch_max(last.max_time, Ordering::Relaxed);
                        }
                        s.state.lock().unwrap_or_else(PoisonError::into_inner).sealed = chunks;
                    }
                    stats.series += 1;
                }
            }
            Ok(Record::Samples(samples)) => {
                for mut sample in samples {
                    if let Some(&alias) = aliases.get(&sample.series_ref) {
                        sample.series_ref = alias;
                    }
                    let worker = sample.series_ref as usize % workers;
                    batches[worker].push(sample);
                    if batches[worker].len() >= 4096 {
                        let batch = std::mem::take(&mut batches[worker]);
                        // A worker only stops when its sender is dropped, so this cannot fail.
                        let _ = senders[worker].send(batch);
                    }
                }
            }
            Ok(Record::Tombstones(tombstones)) => {
                // Reads filter by them whenever the samples come, so the sample workers may
                // still be behind.
                for (series_ref, mint, maxt) in tombstones {
                    let series_ref = aliases.get(&series_ref).copied().unwrap_or(series_ref);
                    if let Some(series) = head.series(series_ref) {
                        series.state.lock().unwrap_or_else(PoisonError::into_inner).delete(mint, maxt);
                    }
                }
            }
            Ok(Record::Other(_)) => stats.other_records += 1,
            Err(err) => {
                stats.bad_records += 1;
                tracing::warn!(error = %err, "skipping a WAL record that does not decode");
            }
        };
        // Progress for /api/v1/status/walreplay, and in the log every 10 s of a long replay.
        let mut last_log = Instant::now();
        let mut on_segment = |index: u32| {
            progress.current.store(index, Ordering::Relaxed);
            if last_log.elapsed() >= PROGRESS_LOG_EVERY {
                last_log = Instant::now();
                tracing::info!(
                    segment = index,
                    max_segment = progress.max.load(Ordering::Relaxed),
                    samples = replayed.load(Ordering::Relaxed),
                    elapsed_seconds = start.elapsed().as_secs(),
                    "WAL replay in progress"
                );
            }
        };
        // The newest checkpoint stands for every segment up to its number.
        let result = match &checkpoint {
            Some((index, dir)) => wal::replay(dir, quarantine, |_| {}, None, &mut on_record).and_then(|mut repairs| {
                repairs.extend(wal::replay(wal_dir, quarantine, &mut on_segment, Some(*index), &mut on_record)?);
                Ok(repairs)
            }),
            None => wal::replay(wal_dir, quarantine, &mut on_segment, None, &mut on_record),
        };
        for (worker, batch) in batches.into_iter().enumerate() {
            if !batch.is_empty() {
                let _ = senders[worker].send(batch);
            }
        }
        drop(senders);
        result
    })?;
    stats.samples = replayed.load(Ordering::Relaxed);
    stats.samples_skipped = skipped.load(Ordering::Relaxed);
    stats.samples_unknown_series = unknown.load(Ordering::Relaxed);
    stats.orphan_chunks = mmapped.values().map(|chunks| chunks.len() as u64).sum();
    if stats.samples_unknown_series > 0 || stats.orphan_chunks > 0 {
        // Only damage gets here: every sample's series is logged before the sample.
        tracing::error!(
            samples_lost = stats.samples_unknown_series,
            chunks_lost = stats.orphan_chunks,
            series_without_record = mmapped.len(),
            "WAL replay: data of series whose Series record was lost to damage could not be restored (the quarantined segments hold the damaged bytes)"
        );
    }
    stats.repairs = repairs;
    stats.duration_seconds = start.elapsed().as_secs_f64();
    // Replayed samples were counted once already, by the process that appended them.
    for counter in [
        &head.counters.samples_appended,
        &head.counters.out_of_order,
        &head.counters.out_of_bounds,
        &head.counters.duplicates,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    for repair in &stats.repairs {
        tracing::warn!(
            segment = repair.segment,
            offset = repair.offset,
            bytes_lost = repair.bytes_lost,
            reason = %repair.reason,
            quarantined = ?repair.quarantined,
            "WAL segment damaged: kept the records before the damage, dropped the rest of the segment"
        );
    }
    if stats.segments > 0 {
        tracing::info!(
            segments = stats.segments,
            series = stats.series,
            samples = stats.samples,
            samples_skipped = stats.samples_skipped,
            duration_seconds = stats.duration_seconds,
            "WAL replay completed"
        );
    }
    Ok(stats)
}
