//! Persistence through the real binary: six hours of samples pushed by remote write in time
//! order become blocks within a minute, the head is truncated, promtool 2.42 reads the data
//! directory back sample for sample, a restart answers every sample once, and
//! `--storage.tsdb.retention.time=1h` deletes the expired blocks; on a full tmpfs compaction
//! fails cleanly while retention still runs, and succeeds once space is back.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::remote_util::{have, metric, now_ms, series, write};
use crate::util::{enc, eventually, get_json, start_with_data};

const H: i64 = 3_600_000;
const STEP: i64 = 60_000;
const SERIES: usize = 10;
/// Debian's promtool (package prometheus, which .ci/run installs).
const PROMTOOL: &str = "/usr/bin/promtool";

/// Every `persist_m` sample the API returns, by series label `i`.
fn samples(addr: SocketAddr, at_ms: i64) -> BTreeMap<String, Vec<(i64, f64)>> {
    let path = format!("/api/v1/query?query={}&time={}", enc("persist_m[8h]"), at_ms as f64 / 1000.0);
    let (status, body) = get_json(addr, &path);
    assert_eq!(status, 200, "{body}");
    body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["metric"]["i"].as_str().unwrap().to_owned(), crate::util::points(&s["values"])))
        .collect()
}

#[test]
fn six_hours_pushed_become_blocks_that_promtool_reads_and_retention_expires() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = start_with_data(dir.path(), &data, &["--web.enable-remote-write-receiver"]);
    let end = now_ms() / STEP * STEP;
    let start = end - 6 * H;
    let mut want: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    for hour in 0..6 {
        let mut batch = Vec::new();
        for i in 0..SERIES {
            let points: Vec<(i64, f64)> = (0..60)
                .map(|k| start + hour * H + k * STEP)
                .map(|t| (t, ((t - start) / STEP) as f64 + i as f64 / 8.0))
                .collect();
            want.entry(i.to_string()).or_default().extend(&points);
            batch.push(series(&[("__name__", "persist_m"), ("i", &i.to_string())], &points));
        }
        let (status, text) = write(server.addr, batch);
        assert_eq!(status, 204, "{text}");
    }
    // The compactor looks every 5 s: the head spans 6h > 1.5 × 2h.
    let blocks = eventually(Duration::from_secs(60), || {
        let blocks = metric(server.addr, "prometheus_tsdb_blocks_loaded");
        if blocks >= 2.0 { Ok(blocks) } else { Err(format!("{blocks} blocks")) }
    });
    assert!(metric(server.addr, "prometheus_tsdb_head_truncations_total") >= 2.0);
    assert!(metric(server.addr, "prometheus_tsdb_compactions_total") >= 2.0);
    assert_eq!(metric(server.addr, "prometheus_tsdb_compactions_failed_total"), 0.0);
    let head_min = metric(server.addr, "prometheus_tsdb_head_min_time") as i64;
    assert!(head_min > start + 3 * H, "the head was truncated: min {head_min}, start {start}");
    assert_eq!(samples(server.addr, end), want, "blocks and head answer every sample once");
    let (_, info) = get_json(server.addr, "/api/v1/status/runtimeinfo");
    assert_eq!(info["data"]["storageRetention"], "15d");
    server.terminate();
    drop(server);

    if have(PROMTOOL) {
        let path = data.to_str().unwrap();
        let listed = std::fs::read_dir(&data).unwrap().filter_map(Result::ok);
        let ulids: Vec<String> = listed
            .map(|e| e.file_name().into_string().unwrap())
            .filter(|n| n.len() == 26 && n.bytes().all(|b| b.is_ascii_alphanumeric()))
            .collect();
        assert_eq!(ulids.len() as f64, blocks);
        for ulid in &ulids {
            let out = Command::new(PROMTOOL).args(["tsdb", "analyze", path, ulid]).output().unwrap();
            assert!(out.status.success(), "promtool tsdb analyze {ulid}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let out = Command::new(PROMTOOL)
            .args(["tsdb", "dump", &format!("--min-time={start}"), &format!("--max-time={end}"), path])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let mut dumped: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
        for line in String::from_utf8(out.stdout).unwrap().lines() {
            let (rest, t) = line.rsplit_once(' ').unwrap();
            let (labels, v) = rest.rsplit_once(' ').unwrap();
            let i = labels.split("i=\"").nth(1).unwrap().split('"').next().unwrap();
            dumped.entry(i.to_owned()).or_default().push((t.parse().unwrap(), v.parse().unwrap()));
        }
        for points in dumped.values_mut() {
            points.sort_by_key(|p| p.0);
        }
        assert_eq!(dumped, want, "promtool reads blocks, checkpoint and WAL as promlite answers them");
    }

    // A restart answers the same; then a 1h retention deletes the blocks ending 1h or more
    // before the newest block's end.
    let server = start_with_data(dir.path(), &data, &["--storage.tsdb.retention.time=1h"]);
    let (_, info) = get_json(server.addr, "/api/v1/status/runtimeinfo");
    assert_eq!(info["data"]["storageRetention"], "1h");
    eventually(Duration::from_secs(30), || {
        let n = metric(server.addr, "prometheus_tsdb_time_retentions_total");
        if n >= 1.0 { Ok(()) } else { Err("no time retention yet".to_owned()) }
    });
    assert_eq!(metric(server.addr, "prometheus_tsdb_blocks_loaded"), 1.0);
    let after = samples(server.addr, end);
    let oldest = after.values().filter_map(|s| s.first()).map(|p| p.0).min().unwrap();
    assert!(oldest > start, "the oldest block's samples are gone");
    for (i, points) in &after {
        let kept: Vec<(i64, f64)> = want[i].iter().filter(|p| p.0 >= oldest).copied().collect();
        assert_eq!(points, &kept, "series {i}: what is left is whole and once");
    }
}

#[test]
fn sigkill_around_compaction_truncation_and_checkpoints_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // No self-scrape: its samples at the current time would make these hours out of bounds.
    std::fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
    let start = (now_ms() - 30 * H) / STEP * STEP;
    let mut want: BTreeMap<String, Vec<(i64, f64)>> = BTreeMap::new();
    let mut seed = (now_ms() as u64) | 1;
    println!("seed {seed}");
    for round in 0..20i64 {
        let mut server = start_with_data(dir.path(), &data, &["--web.enable-remote-write-receiver"]);
        // An hour more per round: from the fourth on, every start has a head to compact, and
        // each start's new WAL segment gives the truncations segments to checkpoint.
        let mut batch = Vec::new();
        for i in 0..50 {
            let points: Vec<(i64, f64)> = (0..60)
                .map(|k| start + round * H + k * STEP)
                .map(|t| (t, ((t - start) / STEP) as f64 * 2.0 + i as f64))
                .collect();
            batch.push(series(&[("__name__", "persist_m"), ("i", &i.to_string())], &points));
            want.entry(i.to_string()).or_default().extend(points);
        }
        let (status, text) = write(server.addr, batch);
        assert_eq!(status, 204, "round {round}: {text}\n{}", server.log.lock().unwrap().join("\n"));
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // The compactor runs at start and every 5 s: kill before, during or after a round.
        // The sleep only picks the kill moment; whichever it is, nothing may be lost.
        std::thread::sleep(Duration::from_millis(seed % 1500));
        server.kill();
    }
    let mut server = start_with_data(dir.path(), &data, &[]);
    // Whether a kill let some compaction finish is luck; that this start compacts the 20h the
    // head holds is not (its first round runs at start).
    eventually(Duration::from_secs(60), || {
        let blocks = metric(server.addr, "prometheus_tsdb_blocks_loaded");
        if blocks >= 1.0 { Ok(()) } else { Err(format!("{blocks} blocks")) }
    });
    let path = format!("/api/v1/query?query={}&time={}", enc("persist_m[1d]"), (start + 20 * H) as f64 / 1000.0);
    let (status, body) = get_json(server.addr, &path);
    assert_eq!(status, 200, "{body}");
    let got: BTreeMap<String, Vec<(i64, f64)>> = body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["metric"]["i"].as_str().unwrap().to_owned(), crate::util::points(&s["values"])))
        .collect();
    // The query's window: the last 24h before the end of round 19.
    let window_start = start + 20 * H - 24 * 3_600_000;
    for (i, points) in &want {
        let expected: Vec<(i64, f64)> = points.iter().filter(|p| p.0 > window_start).copied().collect();
        assert_eq!(got.get(i), Some(&expected), "series {i}: every acknowledged sample, once");
    }
    // Stopped cleanly (the compactor finishes its round first): whatever tmp dirs the kills
    // left were removed at start, and nothing new is left.
    server.terminate();
    let _ = eventually(Duration::from_secs(30), || server.try_wait().ok_or_else(|| "still running".to_owned()));
    let leftovers = tmp_leftovers(&data);
    assert!(leftovers.is_empty(), "tmp dirs after a clean stop: {leftovers:?}");
}

/// A tmpfs mounted for one test, unmounted (lazily: a killed server may still hold files) on
/// drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `bytes` at `at`, or says why it cannot be done here.
    fn mount(at: &std::path::Path, bytes: u64) -> Result<Tmpfs, String> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(at)
            .output()
            .map_err(|err| format!("running mount: {err}"))?;
        if !out.status.success() {
            return Err(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(Tmpfs(at.to_owned()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system of `path` to the last byte, then frees `leave` bytes of it.
fn fill(path: &std::path::Path, leave: u64) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
    let chunk = vec![0x5au8; 4096];
    while file.write_all(&chunk).and_then(|()| file.flush()).is_ok() {}
    let len = file.metadata().unwrap().len();
    file.set_len(len.saturating_sub(leave)).unwrap();
}

/// Names in the data dir (and its WAL dir) of unfinished writes.
fn tmp_leftovers(data: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(data)
        .unwrap()
        .chain(std::fs::read_dir(data.join("wal")).unwrap())
        .filter_map(Result::ok)
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect()
}

/// Pushes `hours` of `SERIES_FULL` series at a 1-minute step from `from`, recording them in `want`.
fn push_hours(addr: SocketAddr, from: i64, hours: std::ops::Range<i64>, want: &mut BTreeMap<String, Vec<(i64, f64)>>) {
    const SERIES_FULL: usize = 100;
    for hour in hours {
        let mut batch = Vec::new();
        for i in 0..SERIES_FULL {
            let points: Vec<(i64, f64)> = (0..60)
                .map(|k| from + hour * H + k * STEP)
                .map(|t| (t, ((t - from) / STEP) as f64 + i as f64 / 4.0))
                .collect();
            want.entry(i.to_string()).or_default().extend(&points);
            batch.push(series(&[("__name__", "persist_m"), ("i", &i.to_string())], &points));
        }
        let (status, text) = write(addr, batch);
        assert_eq!(status, 204, "hour {hour}: {text}");
    }
}

/// Waits until the head spans at most 1.5 block ranges of 2h (upstream's `Head.compactable`
/// no longer holds): the compactor has cut every block it can from it. Block compaction and
/// retention may still be running in the same round.
fn head_compacted(addr: SocketAddr) {
    eventually(Duration::from_secs(60), || {
        let min = metric(addr, "prometheus_tsdb_head_min_time ") as i64;
        let max = metric(addr, "prometheus_tsdb_head_max_time ") as i64;
        if max - min <= 3 * H { Ok(()) } else { Err(format!("the head spans {} h", (max - min) as f64 / H as f64)) }
    });
}

/// Stops `server` with SIGTERM and waits until it exits: a clean stop finishes the compaction
/// round in progress (`Db::close` joins the compactor), so the data dir is at rest after it.
fn stop_cleanly(mut server: crate::util::Server) {
    server.terminate();
    let status = eventually(Duration::from_secs(60), || server.try_wait().ok_or_else(|| "still running".to_owned()));
    assert!(status.success(), "{status}\n{}", server.log.lock().unwrap().join("\n"));
}

#[test]
fn a_full_disk_fails_compaction_cleanly_retention_still_runs_and_the_next_round_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
    let staging = dir.path().join("staging");
    let end = now_ms() / STEP * STEP;
    let from = end - 16 * H;
    let mut want = BTreeMap::new();

    // Ten hours become blocks; six more stay in the head and WAL (compaction off for them).
    let server = start_with_data(dir.path(), &staging, &["--web.enable-remote-write-receiver"]);
    push_hours(server.addr, from, 0..10, &mut want);
    head_compacted(server.addr);
    stop_cleanly(server);
    let no_compaction = ["--storage.tsdb.min-block-duration=30d", "--storage.tsdb.max-block-duration=30d"];
    let server =
        start_with_data(dir.path(), &staging, &[&["--web.enable-remote-write-receiver"][..], &no_compaction].concat());
    // Counted where nothing compacts, so the figure stays put.
    let blocks = metric(server.addr, "prometheus_tsdb_blocks_loaded ");
    assert!(blocks >= 3.0, "{blocks} blocks");
    push_hours(server.addr, from, 10..16, &mut want);
    server.terminate();
    drop(server);

    // The same data dir on a small tmpfs, full to the last pages.
    let used: u64 = walk_bytes(&staging);
    let mount = dir.path().join("tmpfs");
    let _tmpfs = match Tmpfs::mount(&mount, used + 4 * 1024 * 1024) {
        Ok(tmpfs) => tmpfs,
        Err(reason) => {
            promlite_testkit::missing(&format!("a tmpfs to fill: {reason} (needs root)"));
            return;
        }
    };
    let data = mount.join("data");
    assert!(Command::new("cp").arg("-a").arg(&staging).arg(&data).status().unwrap().success());
    let filler = mount.join("filler");
    fill(&filler, 8192);
    let server = start_with_data(dir.path(), &data, &["--storage.tsdb.retention.time=3h"]);
    // Keep it full: what retention frees goes to the filler, not to the compactor.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let keep_full = {
        let (stop, filler) = (std::sync::Arc::clone(&stop), filler.clone());
        std::thread::spawn(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                fill(&filler, 0);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    eventually(Duration::from_secs(60), || {
        let failed = metric(server.addr, "prometheus_tsdb_compactions_failed_total");
        let expired = metric(server.addr, "prometheus_tsdb_time_retentions_total");
        if failed >= 2.0 && expired >= 1.0 { Ok(()) } else { Err(format!("{failed} failed, {expired} retentions")) }
    });
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("No space left on device"), "the error is logged with its cause:\n{log}");
    // Whatever a failed write left is removed at once (a dir seen here mid-write goes soon).
    eventually(Duration::from_secs(10), || match tmp_leftovers(&data) {
        left if left.is_empty() => Ok(()),
        left => Err(format!("tmp dirs left: {left:?}")),
    });
    let served = samples(server.addr, end);
    let oldest = served.values().filter_map(|s| s.first()).map(|p| p.0).min().unwrap();
    assert!(oldest > from + 2 * H, "the expired blocks are gone: oldest {oldest}, from {from}");
    for (i, points) in &want {
        let kept: Vec<(i64, f64)> = points.iter().filter(|p| p.0 >= oldest).copied().collect();
        assert_eq!(served.get(i), Some(&kept), "series {i}: served whole and once while the disk is full");
    }

    // Space comes back: the next round compacts the head.
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    keep_full.join().unwrap();
    std::fs::remove_file(&filler).unwrap();
    let failed = metric(server.addr, "prometheus_tsdb_compactions_failed_total");
    let failures_logged = |server: &crate::util::Server| {
        server.log.lock().unwrap().iter().filter(|l| l.contains("compaction failed")).count()
    };
    let failed_logged = failures_logged(&server);
    eventually(Duration::from_secs(60), || {
        let head_min = metric(server.addr, "prometheus_tsdb_head_min_time") as i64;
        if head_min > from + 12 * H { Ok(()) } else { Err(format!("head still starts at {head_min}")) }
    });
    head_compacted(server.addr);
    let blocks_now = metric(server.addr, "prometheus_tsdb_blocks_loaded ");
    assert_eq!(
        metric(server.addr, "prometheus_tsdb_compactions_failed_total"),
        failed,
        "no failure once space is back"
    );
    let served = samples(server.addr, end);
    let oldest = served.values().filter_map(|s| s.first()).map(|p| p.0).min().unwrap();
    for (i, points) in &want {
        let kept: Vec<(i64, f64)> = points.iter().filter(|p| p.0 >= oldest).copied().collect();
        assert_eq!(served.get(i), Some(&kept), "series {i}: whole and once after the head compacted");
    }
    let mut server = server;
    server.terminate();
    let _ = eventually(Duration::from_secs(60), || server.try_wait().ok_or_else(|| "still running".to_owned()));
    // Nor later, up to the clean exit, which lets the round in progress finish.
    assert_eq!(failures_logged(&server), failed_logged, "{}", server.log.lock().unwrap().join("\n"));
    assert!(tmp_leftovers(&data).is_empty(), "tmp dirs left: {:?}", tmp_leftovers(&data));
    assert!(blocks_now >= 1.0);
}

/// Bytes of the regular files under `dir`.
fn walk_bytes(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| {
            let meta = e.metadata().unwrap();
            if meta.is_dir() { walk_bytes(&e.path()) } else { meta.len() }
        })
        .sum()
}

#[test]
fn a_scraped_series_garbage_collected_by_head_truncation_is_created_anew_when_it_comes_back() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = tempfile::tempdir().unwrap();
    // A target exposing one series with a frozen timestamp 5h old: its first sample makes
    // the head span 5h, the compactor turns it into a block, and head truncation removes the
    // series while the scrape cache still holds its ref (it is seen every scrape).
    let frozen_at = (now_ms() - 5 * H) / 1000 * 1000;
    let fresh = Arc::new(AtomicBool::new(false));
    let target = {
        let fresh = Arc::clone(&fresh);
        crate::util::FakeTarget::start(move |_| match fresh.load(Ordering::Relaxed) {
            false => format!("frozen_m 1 {frozen_at}\nlive_m 1\n"),
            true => format!("frozen_m 2 {}\nlive_m 1\n", now_ms()),
        })
    };
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "scrape_configs:\n  - job_name: t\n    scrape_interval: 1s\n    static_configs:\n      - targets: ['{}']\n",
            target.addr
        ),
    )
    .unwrap();
    let server = crate::util::start(dir.path(), &[]);
    eventually(Duration::from_secs(60), || {
        let removed = metric(server.addr, "prometheus_tsdb_head_series_removed_total");
        if removed >= 1.0 { Ok(()) } else { Err(format!("{removed} series removed from the head")) }
    });
    // The series comes back with current timestamps: it is stored again, not dropped for as
    // long as the scrape cache remembers the removed series.
    fresh.store(true, Ordering::Relaxed);
    eventually(Duration::from_secs(20), || {
        let (_, body) =
            get_json(server.addr, &format!("/api/v1/query?query=frozen_m&time={}", now_ms() as f64 / 1000.0));
        match body["data"]["result"][0]["value"][1].as_str() {
            Some("2") => Ok(()),
            other => Err(format!("frozen_m is {other:?}")),
        }
    });
    // The old sample is in the block.
    let at = (frozen_at + 1000) as f64 / 1000.0;
    let (_, body) = get_json(server.addr, &format!("/api/v1/query?query=frozen_m&time={at}"));
    assert_eq!(body["data"]["result"][0]["value"][1], "1", "{body}");
}
