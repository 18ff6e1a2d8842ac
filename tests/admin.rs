//! The TSDB admin API (`--web.enable-admin-api`) against Debian's Prometheus 2.42: the same
//! series pushed by remote write into both, the same deletes, tombstone cleaning and snapshots
//! asked of both, and their answers compared: query results, `/api/v1/series`, status codes and
//! errors, and what each wrote to its blocks (`numSamples`, `numTombstones`). The samples each
//! must answer are worked out from what was pushed less what was deleted. promlite's snapshot
//! opens in Prometheus 2.42 with the same answers and passes `promtool tsdb analyze` and `dump`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use crate::api_oracle::Answer;
use crate::remote_util::{PROMETHEUS, PROMTOOL, Samples, have, metric, now_ms, series, write};
use crate::tsdb_interop::{assert_same, head_span, key, start_prometheus, stop_prometheus, stop_promlite};
use crate::util::{Server, enc, eventually, get_json, http, start_with_data};

const H: i64 = 3_600_000;
const STEP: i64 = 60_000;
const BLOCK: i64 = 2 * H;
/// Every series either server holds, over more than the test's span.
const QUERY: &str = r#"{__name__=~"admin_.*"}[1d]"#;
const SELECTOR: &str = r#"{__name__=~"admin_.*"}"#;
/// `(name, i)` of the pushed series.
const SERIES: [(&str, &str); 4] = [("admin_a", "0"), ("admin_a", "1"), ("admin_a", "2"), ("admin_b", "0")];

fn series_key(name: &str, i: &str) -> String {
    key(&BTreeMap::from([("__name__", name), ("i", i), ("job", "admin")]))
}

/// Pushes minutes `[from_k, to_k)` after `start` of every series to each server in `to`, and
/// records them in `want`.
fn push(to: &[SocketAddr], start: i64, (from_k, to_k): (i64, i64), want: &mut Samples) {
    let mut batch = Vec::new();
    for (n, (name, i)) in SERIES.iter().enumerate() {
        let points: Vec<(i64, f64)> = (from_k..to_k).map(|k| (start + k * STEP, k as f64 + n as f64 / 4.0)).collect();
        want.entry(series_key(name, i)).or_default().extend(points.iter().map(|&(t, v)| (t, v.to_bits())));
        batch.push(series(&[("__name__", name), ("i", i), ("job", "admin")], &points));
    }
    for addr in to {
        let (status, text) = write(*addr, batch.clone());
        assert!(status == 204 || status == 200, "{addr}: remote write of minutes {from_k}..{to_k}: {status} {text}");
    }
}

/// `want` without the samples of `series` in `[from, to]`.
fn delete(want: &mut Samples, series: &str, from: i64, to: i64) {
    want.get_mut(series).unwrap().retain(|&(t, _)| t < from || t > to);
}

/// Every sample of [`QUERY`] at `at` through `/api/v1/query`, series without any left out.
fn query(addr: SocketAddr, at: i64) -> Samples {
    let path = format!("/api/v1/query?query={}&time={}", enc(QUERY), at as f64 / 1000.0);
    let (status, body) = get_json(addr, &path);
    assert_eq!((status, &body["data"]["resultType"]), (200, &json!("matrix")), "{addr}: {body}");
    let mut out = Samples::new();
    for s in body["data"]["result"].as_array().unwrap() {
        let labels: BTreeMap<&str, &str> =
            s["metric"].as_object().unwrap().iter().map(|(n, v)| (n.as_str(), v.as_str().unwrap())).collect();
        let points = crate::util::points(&s["values"]).into_iter().map(|(t, v)| (t, v.to_bits())).collect();
        out.insert(key(&labels), points);
    }
    out
}

fn nonempty(want: &Samples) -> Samples {
    want.iter().filter(|(_, points)| !points.is_empty()).map(|(k, p)| (k.clone(), p.clone())).collect()
}

/// What `/api/v1/series` lists for [`SELECTOR`] over `[from, to]`.
fn listed(addr: SocketAddr, from: i64, to: i64) -> Value {
    let path =
        format!("/api/v1/series?match[]={}&start={}&end={}", enc(SELECTOR), from as f64 / 1000.0, to as f64 / 1000.0);
    let (status, body) = get_json(addr, &path);
    assert_eq!(status, 200, "{addr}: {body}");
    body
}

/// An admin request: `method` with `form` as the body.
fn admin(addr: SocketAddr, method: &str, endpoint: &str, form: &str) -> (Answer, String) {
    let path = format!("/api/v1/admin/tsdb/{endpoint}");
    let response = http(addr, method, &path, Some(("application/x-www-form-urlencoded", form)));
    let json = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    let mut answer = Answer { status: response.status, content_type: String::new(), json };
    // parseTimeParam's "invalid time value for", lower case since 2.42's "Invalid".
    if let Some(text) = answer.json["error"].as_str() {
        answer.json["error"] = json!(text.replacen("Invalid time value for", "invalid time value for", 1));
    }
    (answer, response.body)
}

/// The same admin request to both; both must answer `status`.
#[track_caller]
fn admin_both(pair: (SocketAddr, SocketAddr), method: &str, endpoint: &str, form: &str, status: u16) -> Answer {
    let (want, want_body) = admin(pair.0, method, endpoint, form);
    let (got, got_body) = admin(pair.1, method, endpoint, form);
    assert_eq!(want.status, status, "Prometheus, {method} {endpoint} {form}: {want_body}");
    if endpoint == "snapshot" && status == 200 {
        assert_eq!(got.status, status, "promlite, {method} {endpoint} {form}: {got_body}");
        return got;
    }
    assert_eq!(got, want, "{method} {endpoint} {form}: promlite {got_body:?}, Prometheus {want_body:?}");
    got
}

/// Each block of `data` by time range: `(numSamples, numTombstones)` from its `meta.json`.
fn blocks(data: &Path) -> BTreeMap<(i64, i64), (u64, u64)> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(data).unwrap().filter_map(Result::ok) {
        let Ok(text) = std::fs::read_to_string(entry.path().join("meta.json")) else { continue };
        let meta: Value = serde_json::from_str(&text).unwrap();
        let count = |field: &str| meta["stats"][field].as_u64().unwrap_or(0);
        let range = (meta["minTime"].as_i64().unwrap(), meta["maxTime"].as_i64().unwrap());
        assert!(out.insert(range, (count("numSamples"), count("numTombstones"))).is_none(), "{range:?} twice");
    }
    out
}

/// The block directories (ULIDs) of `data`.
fn block_ids(data: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(data)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().join("meta.json").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

/// Waits until each server's head spans at most 3h and it has loaded `blocks` blocks.
fn await_compaction(addrs: &[SocketAddr], blocks: f64) {
    eventually(Duration::from_secs(30), || {
        for addr in addrs {
            let (span, loaded) = (head_span(*addr), metric(*addr, "prometheus_tsdb_blocks_loaded "));
            if span > (3 * H) as f64 || loaded != blocks {
                return Err(format!("{addr}: the head spans {span} ms, {loaded} blocks loaded"));
            }
        }
        Ok(())
    });
}

fn promtool(args: &[&str], dir: &Path) -> String {
    let out = Command::new(PROMTOOL).args(args).arg(dir).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?}: {text}");
    text
}

#[test]
fn delete_clean_and_snapshot_answer_as_prometheus_2_42_does() {
    if !have(PROMETHEUS) || !have(PROMTOOL) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
    let flags = ["--web.enable-remote-write-receiver", "--web.enable-admin-api"];
    let (prom_data, data) = (dir.path().join("prom-data"), dir.path().join("data"));
    let prom_log = dir.path().join("prometheus.log");
    let prometheus = start_prometheus(dir.path(), &prom_data, &prom_log, &flags);
    let mut promlite = start_with_data(dir.path(), &data, &flags);
    // Half an hour into a block range, so both cut the same two blocks, [start, b+2h) and
    // [b+2h, b+4h), and keep the last 1h30m in the head.
    let b = (now_ms() - 10 * H).div_euclid(BLOCK) * BLOCK;
    let start = b + 30 * STEP;
    let mut want = Samples::new();
    for hour in 0..5 {
        push(&[prometheus.addr, promlite.addr], start, (hour * 60, (hour + 1) * 60), &mut want);
    }
    await_compaction(&[prometheus.addr, promlite.addr], 2.0);
    let end = start + 5 * H;
    assert_same(&query(prometheus.addr, end), &want, "Prometheus before any delete");
    assert_same(&query(promlite.addr, end), &want, "promlite before any delete");
    assert_eq!(blocks(&data), blocks(&prom_data), "the same blocks");
    assert_eq!(blocks(&data).keys().copied().collect::<Vec<_>>(), [(start, b + BLOCK), (b + BLOCK, b + 2 * BLOCK)]);
    let pair = (prometheus.addr, promlite.addr);

    // Refused requests: the same status and error from both, and nothing deleted.
    admin_both(pair, "POST", "delete_series", "", 400);
    admin_both(pair, "POST", "delete_series", &format!("match[]={}", enc("admin_a{")), 400);
    admin_both(pair, "POST", "delete_series", "match[]=admin_a&start=soon", 400);
    admin_both(pair, "POST", "snapshot", "skip_head=maybe", 400);

    // From the first block through the second into the head; a whole series (no start or
    // end: everything it has); and two selectors at once, inside the first block.
    let (a1, b0, a0, a2) = (
        series_key("admin_a", "1"),
        series_key("admin_b", "0"),
        series_key("admin_a", "0"),
        series_key("admin_a", "2"),
    );
    let (from, to) = (start + H, start + 4 * H + 30 * STEP);
    let form = format!("match[]={}&start={}&end={}", enc(r#"admin_a{i="1"}"#), from / 1000, to / 1000);
    admin_both(pair, "POST", "delete_series", &form, 204);
    delete(&mut want, &a1, from, to);
    admin_both(pair, "PUT", "delete_series", "match[]=admin_b", 204);
    delete(&mut want, &b0, i64::MIN, i64::MAX);
    let (from, to) = (start + 10 * STEP, start + 20 * STEP);
    let selectors = format!("match[]={}&match[]={}", enc(r#"admin_a{i="2"}"#), enc(r#"admin_a{i="0"}"#));
    let form = format!("{selectors}&start={}&end={}", from as f64 / 1000.0, to as f64 / 1000.0);
    admin_both(pair, "POST", "delete_series", &form, 204);
    delete(&mut want, &a0, from, to);
    delete(&mut want, &a2, from, to);
    assert_same(&query(prometheus.addr, end), &nonempty(&want), "Prometheus after the deletes");
    assert_same(&query(promlite.addr, end), &nonempty(&want), "promlite after the deletes, at once");
    // Tombstones: four series in the first block, two in the second, in both data dirs.
    let tombstones = |data: &Path| blocks(data).values().map(|(_, t)| *t).collect::<Vec<_>>();
    assert_eq!(tombstones(&prom_data), [4, 2], "Prometheus's blocks");
    assert_eq!(blocks(&data), blocks(&prom_data), "numTombstones as Prometheus counts them");

    // A sample newer than the deletes stays, though admin_b was deleted to the end of time.
    push(&[prometheus.addr, promlite.addr], start, (5 * 60, 6 * 60), &mut want);
    let end = start + 6 * H;
    let windows = [
        (start, end),
        (start + 2 * H, start + 3 * H),
        (start + 4 * H + 5 * STEP, start + 4 * H + 25 * STEP),
        (start + 5 * H + 10 * STEP, start + 5 * H + 20 * STEP),
    ];
    let check = |promlite: &Server, what: &str| {
        assert_same(&query(promlite.addr, end), &want, what);
        for (from, to) in windows {
            assert_eq!(
                listed(promlite.addr, from, to),
                listed(prometheus.addr, from, to),
                "{what}: series {from}..{to}"
            );
        }
    };
    assert_same(&query(prometheus.addr, end), &want, "Prometheus after new samples");
    check(&promlite, "promlite after new samples");

    // A restart replays the head's tombstones from the WAL.
    stop_promlite(promlite);
    promlite = start_with_data(dir.path(), &data, &flags);
    check(&promlite, "promlite after a restart");

    // Cleaning rewrites both blocks without the deleted samples, in both servers.
    let ids_before = block_ids(&data);
    let pair = (prometheus.addr, promlite.addr);
    admin_both(pair, "POST", "clean_tombstones", "", 204);
    check(&promlite, "promlite after cleaning tombstones");
    let cleaned = blocks(&data);
    assert_eq!(cleaned, blocks(&prom_data), "the rewritten blocks");
    // 1h30m of the first block less: half an hour of admin_a{i="1"}, all of admin_b, 11
    // minutes of two more; the second loses admin_a{i="1"} and admin_b.
    let expected = BTreeMap::from([
        ((start, b + BLOCK), (4 * 90 - 30 - 90 - 2 * 11, 0)),
        ((b + BLOCK, b + 2 * BLOCK), (4 * 120 - 2 * 120, 0)),
    ]);
    assert_eq!(cleaned, expected);
    let ids_after = block_ids(&data);
    assert!(ids_after.iter().all(|id| !ids_before.contains(id)), "{ids_before:?} → {ids_after:?}");

    // A snapshot: the blocks and the head, each sample once, in promlite and Prometheus alike.
    let snapshot = admin_both(pair, "POST", "snapshot", "", 200);
    let name = snapshot.json["data"]["name"].as_str().unwrap_or_default().to_owned();
    assert_eq!(snapshot.json, json!({"status": "success", "data": {"name": name}}));
    let (stamp, random) = name.split_once('-').unwrap_or_default();
    assert!(stamp.len() == 16 && stamp.ends_with('Z') && random.len() == 16, "{name}");
    let (prom_snapshot, _) = admin(prometheus.addr, "POST", "snapshot", "");
    let prom_snapshot = prom_data.join("snapshots").join(prom_snapshot.json["data"]["name"].as_str().unwrap());
    let snapshot = data.join("snapshots").join(&name);
    let total: u64 = want.values().map(|p| p.len() as u64).sum();
    let samples = |dir: &Path| blocks(dir).values().map(|(s, _)| *s).sum::<u64>();
    assert_eq!((samples(&snapshot), samples(&prom_snapshot)), (total, total), "every sample once, none deleted");
    assert_eq!(blocks(&snapshot).len(), 3, "two blocks and the head");
    let skip_head = admin_both(pair, "PUT", "snapshot", "skip_head=true", 200);
    let skipped = data.join("snapshots").join(skip_head.json["data"]["name"].as_str().unwrap());
    assert_eq!(blocks(&skipped), cleaned, "the blocks alone");

    // promtool reads the snapshot (`dump` needs a `wal/`, which Prometheus's snapshots lack),
    // and Prometheus 2.42 serves it.
    promtool(&["tsdb", "analyze"], &snapshot);
    let dumped = promtool(&["tsdb", "dump"], &snapshot);
    assert_eq!(
        dumped.lines().filter(|l| l.starts_with("{__name__=\"admin_")).count() as u64,
        total,
        "promtool tsdb dump"
    );
    let log = dir.path().join("prometheus-snapshot.log");
    let on_snapshot = start_prometheus(dir.path(), &snapshot, &log, &[]);
    assert_same(&query(on_snapshot.addr, end), &want, "Prometheus 2.42 on promlite's snapshot");
    stop_prometheus(on_snapshot, &log);
    stop_promlite(promlite);
    stop_prometheus(prometheus, &prom_log);
}
