//! TSDB durability, end to end: the real binary ingests continuously (scraping a fake target
//! whose samples carry their own timestamps), is killed with SIGKILL at random moments, and
//! restarts on the same data directory. Every sample a query saw before a kill (visible implies
//! written to the WAL) must be there after the restart, exactly once, with its value.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::util::{FakeTarget, Server, binary, enc, eventually, eventually_every, get_json, start_with_data};

const SERIES: u64 = 20;

// Sample timestamps: BASE + n * STEP_MS for the target's n-th response.
const STEP_MS: i64 = 100;

fn spawn(cwd: &Path, data: &Path, config: &Path) -> Server {
    start_with_data(cwd, data, &[&format!("--config.file={}", config.display())])
}

/// Every `crash_series` sample the server returns: series index → [(t ms, value)].
fn samples(addr: SocketAddr, at_seconds: i64) -> BTreeMap<u64, Vec<(i64, f64)>> {
    let path = format!("/api/v1/query?query={}&time={at_seconds}", enc("crash_series[10d]"));
    let (status, body) = get_json(addr, &path);
    assert_eq!(status, 200, "{body}");
    let mut out = BTreeMap::new();
    for series in body["data"]["result"].as_array().unwrap() {
        let i: u64 = series["metric"]["i"].as_str().unwrap().parse().unwrap();
        out.insert(i, crate::util::points(&series["values"]));
    }
    out
}

/// A target whose n-th scrape has `SERIES` gauges `crash_series{i="…"}` valued `value(n, i)`,
/// all at the explicit timestamp `base + n * step`.
fn crash_target(base: i64, step: i64, value: fn(u64, u64) -> u64) -> FakeTarget {
    FakeTarget::start(move |n| {
        let t = base + n as i64 * step;
        let mut body = String::from("# TYPE crash_series gauge\n");
        for i in 0..SERIES {
            body.push_str(&format!("crash_series{{i=\"{i}\"}} {} {t}\n", value(n, i)));
        }
        body
    })
}

/// Writes `dir/prometheus.yml`, scraping `target` as job `crash` every `interval` (timing out
/// after as long); returns its path.
fn crash_config(dir: &Path, target: SocketAddr, interval: &str) -> PathBuf {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\nscrape_configs:\n  - job_name: crash\n    static_configs:\n      - targets: ['{target}']\n",
        ),
    )
    .unwrap();
    config
}

// A small xorshift, seeded from the clock and printed, so a failing run can be replayed.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn sigkill_at_random_moments_loses_no_visible_sample_and_duplicates_none() {
    let base = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let target = crash_target(base, STEP_MS, |n, i| n * 1000 + i);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = crash_config(dir.path(), target.addr, "50ms");
    let mut seed = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    println!("crash test seed {seed}");
    // Far enough ahead that `[10d]` covers every sample of the run.
    let query_at = base / 1000 + 3600;
    let mut seen_before_kill: BTreeMap<u64, Vec<(i64, f64)>> = BTreeMap::new();
    let rounds = 20;
    for round in 0..rounds {
        let server = spawn(dir.path(), &data, &config);
        // After a restart, everything seen before the last kill is back, in order, once.
        let now = samples(server.addr, query_at);
        for (i, before) in &seen_before_kill {
            let after = now.get(i).map(Vec::as_slice).unwrap_or_default();
            assert!(
                after.len() >= before.len() && after[..before.len()] == before[..],
                "round {round}, series {i}: {} samples before the kill, {} after; log:\n{}",
                before.len(),
                after.len(),
                server.log.lock().unwrap().join("\n")
            );
        }
        // Let it ingest for a random while (some rounds kill right after start, during or
        // just after replay), then note what is visible and kill it without warning. The
        // clock only picks the kill moment: what is asserted holds for any.
        let wait_ms = next_random(&mut seed) % 700;
        let until = Instant::now() + Duration::from_millis(wait_ms);
        let mut visible = samples(server.addr, query_at);
        while Instant::now() < until {
            visible = samples(server.addr, query_at);
        }
        let mut server = server;
        server.kill();
        for (i, values) in &visible {
            // Exactly once and right: strictly increasing timestamps, each value the one the
            // target served for that timestamp.
            for w in values.windows(2) {
                assert!(w[0].0 < w[1].0, "series {i}: timestamps not strictly increasing: {w:?}");
            }
            for &(t, v) in values {
                let n = (t - base) / STEP_MS;
                assert_eq!(v, (n as u64 * 1000 + i) as f64, "series {i} at {t}");
            }
        }
        seen_before_kill = visible;
    }
    let total: usize = seen_before_kill.values().map(Vec::len).sum();
    println!("{rounds} kills; {total} samples checked after the last one");
    assert!(total as u64 > SERIES * 10, "too little was ingested to prove anything: {total} samples");
    // A last clean start still has everything, and says it replayed the WAL.
    let server = spawn(dir.path(), &data, &config);
    eventually(Duration::from_secs(60), || {
        let now = samples(server.addr, query_at);
        let ok = seen_before_kill.iter().all(|(i, b)| now.get(i).is_some_and(|a| a.len() >= b.len()));
        if ok { Ok(()) } else { Err(format!("{} series", now.len())) }
    });
    assert!(server.log.lock().unwrap().iter().any(|l| l.contains("WAL replay completed")));
}

/// Waits until `crash_series{i="0"}` has at least `n` samples visible.
fn wait_for_samples(server: &Server, at_seconds: i64, n: usize) {
    eventually(Duration::from_secs(60), || {
        let now = samples(server.addr, at_seconds);
        let len = now.get(&0).map_or(0, Vec::len);
        if len >= n {
            return Ok(());
        }
        let log = server.log.lock().unwrap();
        Err(format!("{len} samples; log tail:\n{}", log[log.len().saturating_sub(10)..].join("\n")))
    });
}

#[test]
fn damaged_wal_segments_and_chunks_head_are_reported_and_the_rest_is_served() {
    // One second of sample time per 100 ms scrape (a shorter timeout fails scrapes when the
    // machine is busy), starting 50 minutes ago: a chunk is cut every 120 samples, and every sample stays within what the head and the scrape loop accept
    // (no older than 1h before the newest sample, no more than 10m in the future).
    let base = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64 - 50 * 60_000;
    const STEP: i64 = 1000;
    let target = crash_target(base, STEP, |n, _| n);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = crash_config(dir.path(), target.addr, "100ms");
    // `[10d]` back from here covers 1440 scrapes, far more than the test makes.
    let query_at = base / 1000 + 10 * 86_400;
    // Three runs, each killed: each run writes its own WAL segment (00000000..00000002).
    for run in 1..=3 {
        let mut server = spawn(dir.path(), &data, &config);
        // The first run fills a chunk (cut at 120 samples); the others only add a segment each.
        wait_for_samples(&server, query_at, 130 + 20 * (run - 1));
        server.kill();
    }
    let wal = data.join("wal");
    let segment = |i: u32| wal.join(format!("{i:08}"));
    assert!(segment(2).exists() && !segment(3).exists());
    let flip = |path: &Path, at: f64| {
        let mut bytes = std::fs::read(path).unwrap();
        let pos = (bytes.len() as f64 * at) as usize;
        bytes[pos] ^= 0x55;
        std::fs::write(path, &bytes).unwrap();
    };
    flip(&segment(1), 0.5);
    let last = std::fs::read(segment(2)).unwrap();
    std::fs::write(segment(2), &last[..last.len() - 30]).unwrap();
    let chunk_file = data.join("chunks_head/000001");
    assert!(chunk_file.exists(), "no chunks_head file was written");
    flip(&chunk_file, 0.5);

    let server = spawn(dir.path(), &data, &config);
    let log = server.log.lock().unwrap().join("\n");
    assert_eq!(log.matches("WAL segment damaged").count(), 2, "{log}");
    assert!(log.contains("segment=1") && log.contains("segment=2"), "{log}");
    assert!(log.contains("chunks_head damaged"), "{log}");
    assert!(data.join("quarantine/wal-00000001").exists());
    // The rest is served: every series has samples from the first run and the newest ones.
    let now = samples(server.addr, query_at);
    assert_eq!(now.len(), SERIES as usize);
    for (i, values) in &now {
        assert!(values.len() >= 130, "series {i}: {} samples", values.len());
        assert!(values.windows(2).all(|w| w[0].0 < w[1].0), "series {i}");
    }
    let (status, replay) = get_json(server.addr, "/api/v1/status/walreplay");
    assert_eq!(status, 200);
    assert_eq!(replay["data"], serde_json::json!({"min": 0, "max": 2, "current": 2}));
    let (status, tsdb) = get_json(server.addr, "/api/v1/status/tsdb?limit=1");
    assert_eq!(status, 200);
    assert!(tsdb["data"]["headStats"]["numSeries"].as_u64().unwrap() >= SERIES, "{tsdb}");
    assert!(tsdb["data"]["headStats"]["chunkCount"].as_u64().unwrap() > SERIES, "{tsdb}");
    assert_eq!(tsdb["data"]["seriesCountByLabelValuePair"].as_array().unwrap().len(), 1, "{tsdb}");
    assert_eq!(get_json(server.addr, "/api/v1/status/tsdb?limit=0").0, 400);
    let metrics = crate::util::http(server.addr, "GET", "/metrics", None).body;
    assert!(metrics.contains("prometheus_tsdb_wal_corruptions_total 2"), "{metrics}");
    assert!(metrics.contains("prometheus_tsdb_mmap_chunk_corruptions_total 1"), "{metrics}");
    // Segments 0..2 were replayed; writing goes on in a fresh one.
    assert!(metrics.contains("prometheus_tsdb_wal_segment_current 3"), "{metrics}");
}

#[test]
fn ready_answers_503_while_the_wal_replays_then_200() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    {
        // Two WAL segments and more (no chunks_head), so the replay has a first and a last.
        let options = promlite_storage::Options { wal_segment_size: 1 << 20, ..Default::default() };
        let db = promlite_storage::Db::open(&data, options).unwrap();
        let base = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64 - 3_000_000;
        let mut refs = Vec::new();
        let mut app = db.appender();
        for s in 0..2000 {
            let labels = promlite_storage::Labels::from_pairs([("__name__", "replayed"), ("s", &s.to_string())]);
            refs.push(app.append(&labels, base, 0.0).unwrap());
        }
        assert!(app.commit().expect("commit").is_empty());
        for step in 1..300 {
            let mut app = db.appender();
            for r in &refs {
                app.append_ref(*r, base + step * 10_000, step as f64);
            }
            assert!(app.commit().expect("commit").is_empty());
        }
    }
    std::fs::remove_dir_all(data.join("chunks_head")).unwrap();
    let segments = std::fs::read_dir(data.join("wal")).unwrap().count() as u64;
    assert!(segments >= 2, "{segments} WAL segments");
    // The replay is held on the last segment, however fast the machine: the segment becomes a
    // FIFO, whose read blocks until this test writes the bytes back. So the 503s are seen for
    // sure, and the 200 can only follow the test's release.
    let last = segments - 1;
    let held = data.join("wal").join(format!("{last:08}"));
    let held_bytes = std::fs::read(&held).unwrap();
    std::fs::remove_file(&held).unwrap();
    match Command::new("mkfifo").arg(&held).status() {
        Ok(status) if status.success() => {}
        other => {
            promlite_testkit::missing(&format!("mkfifo (coreutils) to hold the replay: {other:?}"));
            return;
        }
    }
    // Port 0, and the address from the line logged before the replay: a port picked here and
    // released could be taken by another test's server before promlite binds it.
    let mut child = Command::new(binary())
        .current_dir(dir.path())
        .arg("--web.listen-address=127.0.0.1:0")
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("answers 503 until the WAL replay is done")
                && let Some(addr) = line.split("address=").nth(1)
            {
                let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_owned());
            }
        }
    });
    let addr: SocketAddr = rx.recv_timeout(Duration::from_secs(60)).expect("the serving line").parse().unwrap();
    let _server = KillOnDrop(child);
    let ready = || crate::util::http(addr, "GET", "/-/ready", None).status;
    // Held: not ready, until the replay reaches the held segment (and after).
    let replay = eventually_every(Duration::from_millis(20), Duration::from_secs(60), || {
        assert_eq!(ready(), 503, "/-/ready before the held segment could be read");
        let replay = get_json(addr, "/api/v1/status/walreplay").1["data"].clone();
        if replay["current"] == last { Ok(replay) } else { Err(format!("replay at {replay}")) }
    });
    assert_eq!(replay, serde_json::json!({"min": 0, "max": last, "current": last}));
    // What reads storage refuses a partial head, as upstream's readyf does.
    let federate = crate::util::http(addr, "GET", "/federate?match[]=replayed", None);
    assert_eq!((federate.status, federate.body.as_str()), (503, "Service Unavailable"));
    let read = crate::util::http(addr, "POST", "/api/v1/read", Some(("application/x-protobuf", "")));
    assert_eq!((read.status, read.body.as_str()), (503, "Service Unavailable"));
    assert_eq!(ready(), 503, "/-/ready while the replay is held");
    // Released: the replay reads the segment to its end and finishes. Opening the FIFO waits
    // for the replay to open it, so it runs on a thread; the deadline below bounds it.
    std::thread::spawn(move || {
        use std::io::Write as _;
        let mut fifo = std::fs::OpenOptions::new().write(true).open(&held).expect("opening the held segment");
        fifo.write_all(&held_bytes).expect("writing the held segment");
    });
    let mut statuses = vec![503];
    eventually_every(Duration::from_millis(20), Duration::from_secs(60), || {
        let status = ready();
        if statuses.last() != Some(&status) {
            statuses.push(status);
        }
        if status == 200 { Ok(()) } else { Err(format!("/-/ready answered {statuses:?}")) }
    });
    assert_eq!(statuses, [503, 200], "/-/ready answers in order");
    // Once ready, every replayed sample is there, the held segment's too.
    let query = format!("/api/v1/query?query={}", enc("count(count_over_time(replayed[1h]) == 300)"));
    let (status, body) = get_json(addr, &query);
    assert_eq!(status, 200);
    assert_eq!(body["data"]["result"][0]["value"][1], "2000", "{body}");
}

/// Kills a server started by hand (to watch it before it is ready) when the test ends.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
