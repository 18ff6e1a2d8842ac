//! "Keep the PVC, swap the image", both ways, against Debian's Prometheus 2.42: a data directory
//! Prometheus wrote (blocks, a WAL checkpoint, WAL segments, `chunks_head/`, plus a block from
//! `promtool tsdb create-blocks-from openmetrics`) opens in promlite with every sample, and one
//! promlite wrote opens in Prometheus with every sample and without WAL or chunk repairs.
//! Samples are compared by timestamp and value bits through `/api/v1/query` with a range
//! selector, which drops staleness markers in both servers.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::remote_util::{External, PROMETHEUS, free_port, have, metric, now_ms, series, write};
use crate::util::{Server, enc, eventually, get_json, start_with_data};

const H: i64 = 3_600_000;
const STEP: i64 = 60_000;
/// The last half hour's step: 180 samples per series seal at least one head chunk each after
/// the last compaction, so `chunks_head/` holds chunks the head still needs (the WAL has them too,
/// and a reader must take each sample once), and the newest WAL segment holds the rest.
const RECENT_STEP: i64 = 10_000;
/// Debian's promtool (package prometheus, which .ci/run installs).
const PROMTOOL: &str = "/usr/bin/promtool";
/// Prometheus's staleness marker (upstream `value.StaleNaN`).
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
/// Every series either server holds here; the range reaches the imported block 3 days back.
const QUERY: &str = r#"{__name__=~"interop_.*"}[4d]"#;

/// Samples by series (`{__name__="…", …}`, labels sorted): `(t, value bits)`, every NaN but
/// the staleness marker as the canonical NaN (the API prints each NaN as "NaN").
type Samples = BTreeMap<String, Vec<(i64, u64)>>;

fn bits(v: f64) -> u64 {
    if v.is_nan() && v.to_bits() != STALE_NAN { f64::NAN.to_bits() } else { v.to_bits() }
}

pub(crate) fn key(labels: &BTreeMap<&str, &str>) -> String {
    let pairs: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Sample `k` (at `start + k * step`) of the series `kind`/`i`: a counter with repeats (zero
/// XOR deltas), values changing sign and magnitude, random bit patterns at jittered timestamps
/// (large timestamp deltas of deltas), and one series that goes stale for an hour. Now and then
/// a NaN or an infinity.
fn sample(kind: usize, i: usize, start: i64, step: i64, k: i64) -> Option<(i64, f64)> {
    let t = start + k * step;
    let special = match (k + 7 * i as i64) % 97 {
        13 => Some(f64::NAN),
        41 => Some(f64::INFINITY),
        77 => Some(f64::NEG_INFINITY),
        _ => None,
    };
    match kind {
        0 => Some((t, special.unwrap_or((k / 3) as f64 * 2.5 + i as f64))),
        1 => Some((t, special.unwrap_or(((k as f64) * 0.37 + i as f64).sin() * 10f64.powi((k % 9) as i32 - 4)))),
        2 => {
            let mut x = (k as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ (i as u64) << 7;
            x ^= x >> 29;
            let v = f64::from_bits(x.wrapping_mul(0xbf58_476d_1ce4_e5b9));
            let v = if v.is_finite() { v } else { -(k as f64) };
            Some((t + (k * 7919 + i as i64 * 31) % 997, v))
        }
        _ => match k % 300 {
            150 => Some((t, f64::from_bits(STALE_NAN))),
            151..=209 => None,
            _ => Some((t, special.unwrap_or(k as f64 / 64.0 - i as f64))),
        },
    }
}

const KINDS: [&str; 4] = ["interop_counter", "interop_wild", "interop_bits", "interop_flaky"];

/// Pushes samples `[from_k, to_k)` (at `start + k * step`) of every series by remote write,
/// in time order within each series, and records them in `want`.
fn push(addr: SocketAddr, start: i64, step: i64, from_k: i64, to_k: i64, want: &mut Samples) {
    let mut batch = Vec::new();
    for (kind, name) in KINDS.iter().enumerate() {
        for i in 0..2 {
            let i_text = i.to_string();
            let points: Vec<(i64, f64)> = (from_k..to_k).filter_map(|k| sample(kind, i, start, step, k)).collect();
            let labels = BTreeMap::from([("__name__", *name), ("i", i_text.as_str()), ("job", "interop")]);
            want.entry(key(&labels)).or_default().extend(points.iter().map(|&(t, v)| (t, bits(v))));
            let pairs: Vec<(&str, &str)> = labels.into_iter().collect();
            batch.push(series(&pairs, &points));
        }
    }
    let (status, text) = write(addr, batch);
    assert!(status == 204 || status == 200, "remote write of minutes {from_k}..{to_k}: {status} {text}");
}

/// What a range-selector query may answer: everything but staleness markers.
fn queryable(want: &Samples) -> Samples {
    want.iter().map(|(k, points)| (k.clone(), points.iter().filter(|p| p.1 != STALE_NAN).copied().collect())).collect()
}

/// Every sample of `QUERY` at `at_ms` through `/api/v1/query`.
fn query(addr: SocketAddr, at_ms: i64) -> Samples {
    let path = format!("/api/v1/query?query={}&time={}", enc(QUERY), at_ms as f64 / 1000.0);
    let (status, body) = get_json(addr, &path);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["resultType"], "matrix", "{body}");
    body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let labels: BTreeMap<&str, &str> =
                s["metric"].as_object().unwrap().iter().map(|(n, v)| (n.as_str(), v.as_str().unwrap())).collect();
            let points = crate::util::points(&s["values"]).into_iter().map(|(t, v)| (t, bits(v))).collect();
            (key(&labels), points)
        })
        .collect()
}

/// Compares series by series, so a failure names the series and the first differing sample
/// rather than printing thousands of samples.
pub(crate) fn assert_same(got: &Samples, want: &Samples, what: &str) {
    let names = |s: &Samples| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(got), names(want), "{what}: the series");
    for (series, want_points) in want {
        let got_points = &got[series];
        let first_diff = got_points.iter().zip(want_points).position(|(g, w)| g != w);
        assert!(
            got_points == want_points,
            "{what}: {series}: {} samples, want {}; first difference at index {first_diff:?}: got {:?}, want {:?}",
            got_points.len(),
            want_points.len(),
            first_diff.and_then(|i| got_points.get(i)),
            first_diff.and_then(|i| want_points.get(i)),
        );
    }
}

/// The highest WAL segment number in `data/wal`.
fn newest_segment(data: &Path) -> Option<u64> {
    std::fs::read_dir(data.join("wal"))
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .max()
}

/// The names in `data` and `data/wal`, for failure messages and to check what a test covers.
fn listing(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = ["", "wal", "chunks_head"]
        .iter()
        .flat_map(|sub| {
            let dir = data.join(sub);
            std::fs::read_dir(&dir).into_iter().flatten().filter_map(Result::ok).map(move |e| {
                let len = e.metadata().map(|m| m.len()).unwrap_or(0);
                format!(
                    "{}{} ({len} B)",
                    if sub.is_empty() { String::new() } else { format!("{sub}/") },
                    e.file_name().to_string_lossy()
                )
            })
        })
        .collect();
    names.sort();
    names
}

/// Checks that `data` holds what the test is about: at least `blocks` blocks, a WAL
/// checkpoint, WAL segments, and a `chunks_head/` file with chunks in it.
fn assert_covers_every_part(data: &Path, blocks: usize) {
    let names = listing(data);
    let is_block =
        |n: &&String| n.len() > 26 && n.as_bytes()[26] == b' ' && n[..26].bytes().all(|b| b.is_ascii_alphanumeric());
    assert!(names.iter().filter(is_block).count() >= blocks, "at least {blocks} blocks: {names:#?}");
    assert!(names.iter().any(|n| n.starts_with("wal/checkpoint.")), "a WAL checkpoint: {names:#?}");
    assert!(names.iter().any(|n| n.starts_with("wal/0")), "WAL segments: {names:#?}");
    let mmapped = std::fs::read_dir(data.join("chunks_head"))
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .any(|e| e.metadata().is_ok_and(|m| m.len() > 8));
    assert!(mmapped, "chunks in chunks_head/: {names:#?}");
}

/// Log lines that say a server found damage in, or had to repair, a data directory (the source
/// file of a line is left out: Prometheus logs from `repair.go` when all is well).
fn trouble(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| {
            let words: Vec<String> = line
                .split_whitespace()
                .filter(|w| !w.starts_with("caller=") && !w.starts_with("source="))
                .map(str::to_ascii_lowercase)
                .collect();
            let text = words.join(" ");
            ["corrupt", "repair", "quarantine", "level=error"].iter().any(|w| text.contains(w))
        })
        .collect()
}

/// The span of the head, from `/metrics` (Prometheus and promlite name it alike).
pub(crate) fn head_span(addr: SocketAddr) -> f64 {
    metric(addr, "prometheus_tsdb_head_max_time ") - metric(addr, "prometheus_tsdb_head_min_time ")
}

/// Pushes like [`push`] into Prometheus, then waits for the compaction run the commit started,
/// if it made the head span more than 3h: Prometheus compacts after such a commit and
/// truncates the WAL once per run (a new segment each time, a checkpoint once there are four),
/// so the hours of a test each get their own run.
fn push_to_prometheus(
    prometheus: &External,
    data: &Path,
    (start, step, from_k, to_k): (i64, i64, i64, i64),
    want: &mut Samples,
) {
    let truncations = metric(prometheus.addr, "prometheus_tsdb_head_truncations_total ");
    let segment = newest_segment(data);
    push(prometheus.addr, start, step, from_k, to_k, want);
    eventually(Duration::from_secs(20), || {
        let span = head_span(prometheus.addr);
        let truncated = metric(prometheus.addr, "prometheus_tsdb_head_truncations_total ") > truncations;
        if span > (3 * H) as f64 {
            Err(format!("the head spans {span} ms"))
        } else if truncated && newest_segment(data) <= segment {
            Err("the head was truncated, the WAL not yet".to_owned())
        } else {
            Ok(())
        }
    });
}

/// Waits until promlite's compactor (a round every 5 s) has cut the head to at most 3h and
/// made `checkpoints` WAL checkpoints in all.
fn await_promlite_compaction(addr: SocketAddr, checkpoints: f64) {
    eventually(Duration::from_secs(30), || {
        let made = metric(addr, "prometheus_tsdb_checkpoint_creations_total ");
        let span = head_span(addr);
        if made >= checkpoints && span <= (3 * H) as f64 {
            Ok(())
        } else {
            Err(format!("{made} checkpoints, the head spans {span} ms"))
        }
    });
}

fn has_checkpoint(data: &Path) -> bool {
    let mut names = std::fs::read_dir(data.join("wal")).unwrap().filter_map(Result::ok);
    names.any(|e| e.file_name().to_string_lossy().starts_with("checkpoint."))
}

/// Stops promlite with SIGTERM and checks that it exited cleanly and logged no damage.
pub(crate) fn stop_promlite(mut promlite: Server) {
    promlite.terminate();
    let status = eventually(Duration::from_secs(30), || promlite.try_wait().ok_or_else(|| "still running".to_owned()));
    let log = promlite.log.lock().unwrap().join("\n");
    assert!(status.success(), "promlite stopped with {status}:\n{log}");
    assert!(trouble(&log).is_empty(), "promlite logged damage or a repair:\n{log}");
}

/// Stops Prometheus with SIGTERM and checks that it exited cleanly and logged no damage.
pub(crate) fn stop_prometheus(mut prometheus: External, log: &Path) {
    let status = prometheus.stop(Duration::from_secs(30));
    let log = std::fs::read_to_string(log).unwrap();
    assert!(status.success(), "Prometheus stopped with {status}:\n{log}");
    assert!(trouble(&log).is_empty(), "Prometheus logged damage or a repair:\n{log}");
}

/// Prometheus 2.42 on `data`, with its stderr in `log`.
pub(crate) fn start_prometheus(config_dir: &Path, data: &Path, log: &Path, extra: &[&str]) -> External {
    let port = free_port();
    let config = config_dir.join("prometheus.yml");
    let mut args = vec![
        format!("--config.file={}", config.display()),
        format!("--storage.tsdb.path={}", data.display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    External::start_logged(PROMETHEUS, &args, port, "/-/ready", log)
}

/// An OpenMetrics exposition of minutes `[0, minutes)` after `start` for `interop_imported`,
/// timestamps in seconds, recorded in `want`.
fn openmetrics(start: i64, minutes: i64, want: &mut Samples) -> String {
    let mut text = String::from("# TYPE interop_imported gauge\n");
    for i in 0..2 {
        let i_text = i.to_string();
        let labels = BTreeMap::from([("__name__", "interop_imported"), ("i", i_text.as_str()), ("job", "backfill")]);
        let points = want.entry(key(&labels)).or_default();
        for (t, v) in (0..minutes).filter_map(|k| sample(2 - i, i, start, STEP, k)) {
            let value = match v {
                v if v.is_nan() => "NaN".to_owned(),
                f64::INFINITY => "+Inf".to_owned(),
                f64::NEG_INFINITY => "-Inf".to_owned(),
                v => format!("{v:e}"),
            };
            text.push_str(&format!(
                "interop_imported{{i=\"{i}\",job=\"backfill\"}} {value} {}.{:03}\n",
                t / 1000,
                t % 1000
            ));
            points.push((t, bits(v)));
        }
    }
    text.push_str("# EOF\n");
    text
}

#[test]
fn a_prometheus_2_42_data_dir_opens_in_promlite_with_every_sample() {
    if !have(PROMETHEUS) || !have(PROMTOOL) {
        return;
    }
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // No scrape jobs: Prometheus and promlite hold only what the test wrote.
    std::fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
    let log = dir.path().join("prometheus.log");
    let prometheus = start_prometheus(dir.path(), &data, &log, &["--web.enable-remote-write-receiver"]);
    let start = (now_ms() - 13 * H) / STEP * STEP;
    let mut want = Samples::new();
    // An hour per request until the fourth head compaction run made a WAL checkpoint.
    let mut hour = 0;
    while !has_checkpoint(&data) {
        assert!(hour < 11, "no WAL checkpoint after {hour}h: {:#?}", listing(&data));
        push_to_prometheus(&prometheus, &data, (start, STEP, hour * 60, (hour + 1) * 60), &mut want);
        hour += 1;
    }
    push_to_prometheus(&prometheus, &data, (start + hour * H, RECENT_STEP, 0, 180), &mut want);
    let end = start + hour * H + 30 * STEP;
    assert_eq!(metric(prometheus.addr, "prometheus_tsdb_checkpoint_creations_failed_total "), 0.0);
    assert_eq!(query(prometheus.addr, end), queryable(&want), "Prometheus itself answers what was pushed");
    stop_prometheus(prometheus, &log);
    assert_covers_every_part(&data, 2);

    // A backfilled block from three days ago.
    let old_start = (start - 2 * 24 * H) / STEP * STEP;
    let file = dir.path().join("backfill.om");
    std::fs::write(&file, openmetrics(old_start, 150, &mut want)).unwrap();
    let out = Command::new(PROMTOOL)
        .args(["tsdb", "create-blocks-from", "openmetrics"])
        .arg(&file)
        .arg(&data)
        .output()
        .unwrap();
    let promtool_output = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool: {promtool_output}");
    println!("Prometheus 2.42 wrote {hour}h30m; data dir: {:#?}", listing(&data));

    let promlite = start_with_data(dir.path(), &data, &["--web.enable-remote-write-receiver"]);
    assert_same(&query(promlite.addr, end), &queryable(&want), "promlite on Prometheus 2.42's data dir");
    // promlite goes on where Prometheus stopped: two more hours make its compactor cut the
    // head Prometheus left (its chunks_head/ chunks and WAL samples) into a block, and merge
    // Prometheus's and promtool's blocks by its plan.
    let compactions = metric(promlite.addr, "prometheus_tsdb_compactions_total ");
    push(promlite.addr, end, STEP, 0, 120, &mut want);
    let end = end + 2 * H;
    await_promlite_compaction(promlite.addr, 1.0);
    assert_same(&query(promlite.addr, end), &queryable(&want), "promlite after compacting Prometheus's data");
    assert!(metric(promlite.addr, "prometheus_tsdb_compactions_total ") > compactions);
    assert_eq!(metric(promlite.addr, "prometheus_tsdb_compactions_failed_total "), 0.0);
    for name in ["prometheus_tsdb_wal_corruptions_total ", "prometheus_tsdb_mmap_chunk_corruptions_total "] {
        assert_eq!(metric(promlite.addr, name), 0.0, "{name}");
    }
    stop_promlite(promlite);
    // And back: Prometheus 2.42 on what promlite made of its data dir.
    let log = dir.path().join("prometheus-again.log");
    let prometheus = start_prometheus(dir.path(), &data, &log, &[]);
    assert_same(&query(prometheus.addr, end), &queryable(&want), "Prometheus 2.42 again, after promlite");
    stop_prometheus(prometheus, &log);
    let samples: usize = want.values().map(Vec::len).sum();
    println!("{samples} samples in {} series, each once; took {:?}", want.len(), began.elapsed());
}

#[test]
fn a_promlite_data_dir_opens_in_prometheus_2_42_with_the_same_answers() {
    if !have(PROMETHEUS) {
        return;
    }
    let began = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
    let promlite = start_with_data(dir.path(), &data, &["--web.enable-remote-write-receiver"]);
    let start = (now_ms() - 12 * H) / STEP * STEP;
    let mut want = Samples::new();
    // Nine hours: promlite's compactor cuts the head into blocks until it spans at most 3h,
    // truncating the WAL after each block (unlike Prometheus, which truncates once per run),
    // so the third truncation checkpoints.
    for hour in 0..9 {
        push(promlite.addr, start, STEP, hour * 60, (hour + 1) * 60, &mut want);
    }
    await_promlite_compaction(promlite.addr, 1.0);
    push(promlite.addr, start + 9 * H, RECENT_STEP, 0, 180, &mut want);
    let end = start + 9 * H + 30 * STEP;
    assert_same(&query(promlite.addr, end), &queryable(&want), "promlite itself");
    let blocks = metric(promlite.addr, "prometheus_tsdb_blocks_loaded ");
    stop_promlite(promlite);
    assert_covers_every_part(&data, 3);
    println!("promlite wrote 9h30m; data dir: {:#?}", listing(&data));

    let log = dir.path().join("prometheus.log");
    let prometheus = start_prometheus(dir.path(), &data, &log, &["--web.enable-remote-write-receiver"]);
    assert_same(&query(prometheus.addr, end), &queryable(&want), "Prometheus 2.42 on promlite's data dir");
    assert_eq!(metric(prometheus.addr, "prometheus_tsdb_blocks_loaded "), blocks, "Prometheus loads every block");
    // Prometheus goes on where promlite stopped: two more hours make it compact the head
    // promlite left (its chunks_head/ chunks and WAL samples) into a block, and merge
    // promlite's blocks by its plan.
    let compactions = metric(prometheus.addr, "prometheus_tsdb_compactions_total ");
    push_to_prometheus(&prometheus, &data, (end, STEP, 0, 120), &mut want);
    let end = end + 2 * H;
    assert_same(&query(prometheus.addr, end), &queryable(&want), "Prometheus after compacting promlite's data");
    assert!(metric(prometheus.addr, "prometheus_tsdb_compactions_total ") > compactions);
    for name in [
        "prometheus_tsdb_compactions_failed_total ",
        "prometheus_tsdb_wal_corruptions_total ",
        "prometheus_tsdb_mmap_chunk_corruptions_total ",
        "prometheus_tsdb_head_truncations_failed_total ",
        "prometheus_tsdb_checkpoint_creations_failed_total ",
    ] {
        assert_eq!(metric(prometheus.addr, name), 0.0, "{name}");
    }
    stop_prometheus(prometheus, &log);
    // And back: promlite on what Prometheus made of its data dir.
    let promlite = start_with_data(dir.path(), &data, &[]);
    assert_same(&query(promlite.addr, end), &queryable(&want), "promlite again, after Prometheus 2.42");
    stop_promlite(promlite);
    let samples: usize = want.values().map(Vec::len).sum();
    println!("{samples} samples in {} series, each once; took {:?}", want.len(), began.elapsed());
}

#[test]
fn a_series_deleted_in_prometheus_2_42_stays_deleted_in_promlite() {
    if !have(PROMETHEUS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
    let log = dir.path().join("prometheus.log");
    let flags = ["--web.enable-remote-write-receiver", "--web.enable-admin-api"];
    let prometheus = start_prometheus(dir.path(), &data, &log, &flags);
    let start = (now_ms() - 9 * H) / STEP * STEP;
    let mut want = Samples::new();
    for hour in 0..5 {
        push_to_prometheus(&prometheus, &data, (start, STEP, hour * 60, (hour + 1) * 60), &mut want);
    }
    // Deleted from the first blocks' range into the head: Prometheus rewrites the blocks'
    // `tombstones` files and writes a Tombstones record (type 3) to the WAL for the head.
    let (from, to) = (start + H, start + 4 * H + 30 * STEP);
    let path = format!(
        "/api/v1/admin/tsdb/delete_series?match[]={}&start={}&end={}",
        enc(r#"interop_counter{i="1"}"#),
        from as f64 / 1000.0,
        to as f64 / 1000.0
    );
    let response = crate::util::http(prometheus.addr, "POST", &path, None);
    assert_eq!(response.status, 204, "{}", response.body);
    let deleted = key(&BTreeMap::from([("__name__", "interop_counter"), ("i", "1"), ("job", "interop")]));
    want.get_mut(&deleted).unwrap().retain(|p| p.0 < from || p.0 > to);
    push_to_prometheus(&prometheus, &data, (start + 5 * H, RECENT_STEP, 0, 180), &mut want);
    let end = start + 5 * H + 30 * STEP;
    assert_same(&query(prometheus.addr, end), &queryable(&want), "Prometheus itself");
    stop_prometheus(prometheus, &log);

    let promlite = start_with_data(dir.path(), &data, &["--web.enable-remote-write-receiver"]);
    assert_same(&query(promlite.addr, end), &queryable(&want), "promlite on Prometheus 2.42's data dir");
    // Two more hours: promlite cuts the head into a block (without the deleted samples) and
    // checkpoints the WAL segment with the Tombstones record (keeping what the head still needs).
    push(promlite.addr, end, STEP, 0, 120, &mut want);
    let end = end + 2 * H;
    await_promlite_compaction(promlite.addr, 1.0);
    assert_same(&query(promlite.addr, end), &queryable(&want), "promlite after compacting");
    stop_promlite(promlite);
    let promlite = start_with_data(dir.path(), &data, &[]);
    assert_same(&query(promlite.addr, end), &queryable(&want), "promlite after a restart");
    stop_promlite(promlite);
    let log = dir.path().join("prometheus-again.log");
    let prometheus = start_prometheus(dir.path(), &data, &log, &[]);
    assert_same(&query(prometheus.addr, end), &queryable(&want), "Prometheus 2.42 again, after promlite");
    stop_prometheus(prometheus, &log);
}
