//! Remote write and remote read, end to end: the real binary receives remote-write requests
//! built here and from a real Prometheus (`/usr/bin/prometheus`, Debian's package), sends to a
//! real Prometheus and VictoriaMetrics, and answers remote read. Stored samples are compared
//! exactly (value bits and timestamps) with what the other side holds. Tests that need an
//! external binary print why and return when it is absent.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

use promlite_prompb as prompb;

use crate::remote_util::{
    External, PROMETHEUS, Reply, Samples, VICTORIA_METRICS, WRITE_HEADERS, counting_target, free_port, have, metric,
    now_ms, post, queue_metric, read_request, remote_read, series, write,
};
use crate::util::{FakeTarget, eventually, http, start};

#[test]
fn receiver_is_off_without_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let (status, body) = write(server.addr, vec![series(&[("__name__", "x")], &[(now_ms(), 1.0)])]);
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("--web.enable-remote-write-receiver"), "{body}");
}

#[test]
fn receiver_stores_samples_exactly_and_refuses_like_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--web.enable-remote-write-receiver"]);
    let addr = server.addr;
    let t0 = now_ms() - 60_000;
    // No -0.0 here: proto3 leaves a field equal to its default (0.0 == -0.0) off the wire, in
    // every implementation, so -0.0 arrives as 0.0 from any sender.
    let a = [("__name__", "rw_test"), ("job", "a"), ("instance", "x")];
    let b = [("__name__", "rw_test"), ("job", "b")];
    let (status, body) = write(
        addr,
        vec![
            series(&a, &[(t0, 1.5), (t0 + 1000, f64::NAN), (t0 + 2000, f64::NEG_INFINITY)]),
            series(&b, &[(t0, 1e300), (t0 + 5, 2.0)]),
        ],
    );
    assert_eq!(status, 204, "{body}");
    let got = remote_read(addr, &[(0, "__name__", "rw_test")], t0 - 1, t0 + 10_000).unwrap();
    let mut want = Samples::new();
    want.insert(
        r#"{__name__="rw_test", instance="x", job="a"}"#.into(),
        vec![(t0, 1.5f64.to_bits()), (t0 + 1000, f64::NAN.to_bits()), (t0 + 2000, f64::NEG_INFINITY.to_bits())],
    );
    want.insert(r#"{__name__="rw_test", job="b"}"#.into(), vec![(t0, 1e300f64.to_bits()), (t0 + 5, 2.0f64.to_bits())]);
    assert_eq!(got, want);
    // Matchers of every type, and a range that cuts samples off.
    let only_a = remote_read(addr, &[(2, "__name__", "rw_.*"), (1, "job", "b"), (3, "instance", "y")], t0, t0 + 1000);
    assert_eq!(only_a.unwrap().values().next().unwrap().len(), 2);

    // An out-of-order sample: 400, so the sender drops rather than retries; a new series in the
    // same request still lands (Prometheus would roll it back; the status is the same).
    let c = [("__name__", "rw_test"), ("job", "c")];
    let (status, body) = write(addr, vec![series(&a, &[(t0 + 500, 9.0)]), series(&c, &[(t0, 3.0)])]);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("out of order sample"), "{body}");
    let got = remote_read(addr, &[(0, "__name__", "rw_test")], t0 - 1, t0 + 10_000).unwrap();
    assert_eq!(got[r#"{__name__="rw_test", instance="x", job="a"}"#].len(), 3);
    assert_eq!(got[r#"{__name__="rw_test", job="c"}"#], vec![(t0, 3.0f64.to_bits())]);
    // Same timestamp, different value: duplicate.
    let (status, body) = write(addr, vec![series(&b, &[(t0 + 5, 7.0)])]);
    assert_eq!((status, body.contains("duplicate sample for timestamp")), (400, true), "{body}");
    // More than 10 minutes ahead of the clock: out of bounds.
    let (status, body) = write(addr, vec![series(&b, &[(now_ms() + 3_600_000, 1.0)])]);
    assert_eq!((status, body.contains("out of bounds")), (400, true), "{body}");

    // Series without a metric name are skipped and counted; the request succeeds.
    let before = metric(addr, "prometheus_api_remote_write_invalid_labels_samples_total");
    let (status, body) =
        write(addr, vec![series(&[("job", "nameless")], &[(t0, 1.0), (t0 + 1, 2.0)]), series(&c, &[(t0 + 1, 4.0)])]);
    assert_eq!(status, 204, "{body}");
    assert_eq!(metric(addr, "prometheus_api_remote_write_invalid_labels_samples_total"), before + 2.0);

    // Bodies that are not snappy-framed WriteRequests, and unsupported encodings.
    let status = post(addr, "/api/v1/write", &WRITE_HEADERS, b"definitely not snappy").status;
    assert_eq!(status, 400);
    let junk = snap::raw::Encoder::new().compress_vec(&[0xff, 0xff, 0xff]).unwrap();
    let status = post(addr, "/api/v1/write", &WRITE_HEADERS, &junk).status;
    assert_eq!(status, 400);
    let gzip = [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "gzip")];
    assert_eq!(post(addr, "/api/v1/write", &gzip, b"x").status, 415);
    let v2 = [
        ("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request"),
        ("Content-Encoding", "snappy"),
    ];
    // 2.0 is accepted (tests/remote_write2.rs), so a body that is not snappy is a bad body;
    // an unknown message is a 415.
    assert_eq!(post(addr, "/api/v1/write", &v2, b"x").status, 400);
    let v3 = [("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v3.Request")];
    assert_eq!(post(addr, "/api/v1/write", &v3, b"x").status, 415);
    // Remote read of garbage, and of a client that accepts no type the server has.
    assert_eq!(post(addr, "/api/v1/read", &[], b"garbage").status, 400);
    let unknown = prompb::ReadRequest { queries: vec![], accepted_response_types: vec![7] };
    assert_eq!(post(addr, "/api/v1/read", &[], &prompb::encode_snappy(&unknown)).status, 400);
}

#[test]
fn prometheus_remote_writes_into_promlite_exactly() {
    if !have(PROMETHEUS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--web.enable-remote-write-receiver"]);
    let target = counting_target("rw_gauge", 20);
    let config = format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fake\n    static_configs:\n      - targets: ['{}']\n\
         remote_write:\n  - url: http://{}/api/v1/write\n    queue_config:\n      batch_send_deadline: 1s\n",
        target.addr, server.addr
    );
    let prometheus = External::prometheus(dir.path(), &config, &[]);
    // Wait for a few scrapes, then compare everything up to a cut both sides have passed.
    eventually(Duration::from_secs(30), || {
        let n = target.requests.load(std::sync::atomic::Ordering::SeqCst);
        if n >= 5 { Ok(()) } else { Err(format!("{n} scrapes")) }
    });
    let cut = now_ms();
    let matchers = [(0, "job", "fake")];
    let want = eventually(Duration::from_secs(30), || {
        let want = remote_read(prometheus.addr, &matchers, 0, cut)?;
        // Prometheus itself must have the scrapes up to the cut before we compare.
        let newest = want.values().filter_map(|s| s.last()).map(|s| s.0).min().unwrap_or(0);
        if want.len() >= 20 && newest + 1000 >= cut {
            Ok(want)
        } else {
            Err(format!("{} series in Prometheus", want.len()))
        }
    });
    let got = eventually(Duration::from_secs(30), || {
        let got = remote_read(server.addr, &matchers, 0, cut)?;
        if got == want { Ok(got) } else { Err(format!("promlite has {} series, Prometheus {}", got.len(), want.len())) }
    });
    let samples: usize = got.values().map(Vec::len).sum();
    assert!(got.len() >= 25 && samples >= 100, "{} series, {samples} samples", got.len());
}

/// Every series matching `selector` in `[start, end]` as VictoriaMetrics exports it.
fn vm_export(addr: SocketAddr, selector: &str, start: i64, end: i64) -> Result<Samples, String> {
    let path = format!(
        "/api/v1/export?match[]={}&start={}&end={}",
        crate::util::enc(selector),
        start as f64 / 1000.0,
        end as f64 / 1000.0
    );
    let response = http(addr, "GET", &path, None);
    if response.status != 200 {
        return Err(format!("export answered {}: {}", response.status, response.body));
    }
    let mut out = Samples::new();
    for line in response.body.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let mut labels: Vec<String> = row["metric"]
            .as_object()
            .ok_or("no metric")?
            .iter()
            .map(|(k, v)| format!("{k}={:?}", v.as_str().unwrap_or("")))
            .collect();
        labels.sort();
        let values = row["values"].as_array().ok_or("no values")?;
        let timestamps = row["timestamps"].as_array().ok_or("no timestamps")?;
        let samples = timestamps
            .iter()
            .zip(values)
            .map(|(t, v)| {
                let v = v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap_or(f64::NAN);
                (t.as_i64().unwrap_or(0), v.to_bits())
            })
            .collect();
        out.insert(format!("{{{}}}", labels.join(", ")), samples);
    }
    Ok(out)
}

fn promlite_config(target: SocketAddr, remote_url: &str, extra: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fake\n    static_configs:\n      - targets: ['{target}']\n\
         remote_write:\n  - url: {remote_url}\n    name: under-test\n    queue_config:\n      batch_send_deadline: 500ms\n      max_samples_per_send: 50\n      max_backoff: 1s\n{extra}"
    )
}

fn wait_for_scrapes(target: &FakeTarget, n: u64) {
    eventually(Duration::from_secs(60), || {
        let seen = target.requests.load(std::sync::atomic::Ordering::SeqCst);
        if seen >= n { Ok(()) } else { Err(format!("{seen} scrapes")) }
    });
}

/// Waits until `remote` holds exactly what promlite holds for `job="fake"` up to now.
fn assert_same_as_promlite(server: SocketAddr, remote: impl Fn(i64) -> Result<Samples, String>) -> Samples {
    let cut = now_ms();
    let matchers = [(0, "job", "fake")];
    let want = eventually(Duration::from_secs(30), || {
        let want = remote_read(server, &matchers, 0, cut)?;
        let newest = want.values().filter_map(|s| s.last()).map(|s| s.0).min().unwrap_or(0);
        if want.len() >= 5 && newest + 1000 >= cut {
            Ok(want)
        } else {
            Err(format!("{} series in promlite", want.len()))
        }
    });
    eventually(Duration::from_secs(60), || {
        let got = remote(cut)?;
        if got == want {
            Ok(got)
        } else {
            let first_diff = want.iter().find(|(k, v)| got.get(*k) != Some(v)).map(|(k, v)| {
                format!("{k}: promlite {} samples, remote {:?} samples", v.len(), got.get(k).map(Vec::len))
            });
            Err(format!("{} series in promlite, {} remote; first difference: {first_diff:?}", want.len(), got.len()))
        }
    })
}

#[test]
fn promlite_remote_writes_into_victoria_metrics_exactly() {
    if !have(VICTORIA_METRICS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let vm = External::victoria_metrics(dir.path());
    let target = counting_target("rw_gauge", 20);
    let config_path = dir.path().join("promlite.yml");
    std::fs::write(&config_path, promlite_config(target.addr, &format!("http://{}/api/v1/write", vm.addr), ""))
        .unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", config_path.display())]);
    wait_for_scrapes(&target, 5);
    let got = assert_same_as_promlite(server.addr, |cut| vm_export(vm.addr, r#"{job="fake"}"#, 0, cut));
    let samples: usize = got.values().map(Vec::len).sum();
    assert!(got.len() >= 25 && samples >= 100, "{} series, {samples} samples", got.len());
    let sent = metric(server.addr, r#"prometheus_remote_storage_samples_total{remote_name="under-test",url=""#);
    assert!(sent >= samples as f64, "sent {sent}");
}

#[test]
fn promlite_remote_writes_into_prometheus_through_an_outage() {
    if !have(PROMETHEUS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let receiver_dir = dir.path().join("receiver");
    std::fs::create_dir(&receiver_dir).unwrap();
    let receiver_args = ["--web.enable-remote-write-receiver"];
    let prometheus = External::prometheus(&receiver_dir, "scrape_configs: []\n", &receiver_args);
    let port = prometheus.addr.port();
    let target = counting_target("rw_gauge", 20);
    let config_path = dir.path().join("promlite.yml");
    let url = format!("http://{}/api/v1/write", prometheus.addr);
    std::fs::write(&config_path, promlite_config(target.addr, &url, "")).unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", config_path.display())]);
    wait_for_scrapes(&target, 3);
    // The receiver goes away for 30 s (the issue's outage); promlite keeps scraping and must
    // resend it all.
    drop(prometheus);
    let down_at = std::time::Instant::now();
    let before = target.requests.load(std::sync::atomic::Ordering::SeqCst);
    wait_for_scrapes(&target, before + 8);
    std::thread::sleep(Duration::from_secs(30).saturating_sub(down_at.elapsed()));
    let retried =
        metric(server.addr, r#"prometheus_remote_storage_retried_samples_total{remote_name="under-test",url=""#);
    assert!(retried > 0.0, "nothing was retried during the outage");
    let prometheus = External::start(
        PROMETHEUS,
        &[
            format!("--config.file={}", receiver_dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", receiver_dir.join("prom-data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            receiver_args[0].to_owned(),
        ],
        port,
        "/-/ready",
    );
    let after = target.requests.load(std::sync::atomic::Ordering::SeqCst);
    wait_for_scrapes(&target, after + 3);
    let got = assert_same_as_promlite(server.addr, |cut| remote_read(prometheus.addr, &[(0, "job", "fake")], 0, cut));
    let samples: usize = got.values().map(Vec::len).sum();
    // 25 series (20 gauges and the scrape's own) over about 3 + 30 + 3 scrapes.
    assert!(samples >= 25 * 34, "{samples} samples");
    let failed =
        metric(server.addr, r#"prometheus_remote_storage_failed_samples_total{remote_name="under-test",url=""#);
    assert_eq!(failed, 0.0);
}

/// A request a fake receiver saw.
struct Received {
    at: std::time::Instant,
    head: String,
    body: Vec<u8>,
}

fn serve_connection(
    stream: TcpStream,
    log: &std::sync::Mutex<Vec<Received>>,
    respond: &dyn Fn(usize) -> (u16, &'static str),
) {
    let mut reader = std::io::BufReader::new(stream);
    // Keep-alive: serve every request on the connection.
    while let Some((head, body)) = read_request(&mut reader) {
        let n = {
            let mut log = log.lock().unwrap();
            log.push(Received { at: std::time::Instant::now(), head, body });
            log.len()
        };
        let (status, headers) = respond(n);
        let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n{headers}\r\n");
        if reader.get_mut().write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// A remote-write receiver on loopback answering the n-th request (1-based) with
/// `respond(n)`: status and extra header lines.
fn fake_receiver(
    respond: impl Fn(usize) -> (u16, &'static str) + Send + Sync + 'static,
) -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<Received>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&seen);
    let respond = std::sync::Arc::new(respond);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (log, respond) = (std::sync::Arc::clone(&log), std::sync::Arc::clone(&respond));
            // One thread per connection: senders keep connections alive, one per shard.
            std::thread::spawn(move || serve_connection(stream, &log, &*respond));
        }
    });
    (addr, seen)
}

#[test]
fn sender_retries_5xx_after_retry_after_and_drops_other_4xx() {
    // First request: 503 with Retry-After: 2 (the backoff alone would retry within 100 ms).
    let (addr, seen) = fake_receiver(|n| if n == 1 { (503, "Retry-After: 2\r\n") } else { (204, "") });
    let target = counting_target("rw_gauge", 3);
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("promlite.yml");
    let config = promlite_config(target.addr, &format!("http://{addr}/api/v1/write"), "      min_backoff: 10ms\n")
        .replace("max_backoff: 1s", "max_backoff: 100ms");
    std::fs::write(&config_path, config).unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", config_path.display()), "--web.enable-lifecycle"]);
    eventually(Duration::from_secs(30), || {
        let n = seen.lock().unwrap().len();
        if n >= 3 { Ok(()) } else { Err(format!("{n} requests")) }
    });
    {
        let seen = seen.lock().unwrap();
        let gap = seen[1].at - seen[0].at;
        assert!(gap >= Duration::from_millis(1900), "retried after {gap:?}, before Retry-After");
        assert_eq!(seen[0].body, seen[1].body, "the same batch is resent");
        let head = seen[0].head.to_ascii_lowercase();
        for header in [
            "content-encoding: snappy",
            "content-type: application/x-protobuf",
            "x-prometheus-remote-write-version: 0.1.0",
        ] {
            assert!(head.contains(header), "{header} missing in {head}");
        }
        let request: prompb::WriteRequest = prompb::decode_snappy(&seen[0].body).unwrap();
        assert!(request.timeseries.iter().all(|ts| ts.samples.len() == 1 && !ts.labels.is_empty()));
    }
    assert!(queue_metric(server.addr, "prometheus_remote_storage_retried_samples_total") > 0.0);
    assert_eq!(queue_metric(server.addr, "prometheus_remote_storage_failed_samples_total"), 0.0);

    // A receiver that refuses everything with 400 (and 429 without retry_on_http_429): each
    // batch is dropped once and counted, and later batches still go out.
    let (addr, seen) = fake_receiver(|n| if n % 2 == 0 { (400, "") } else { (429, "Retry-After: 30\r\n") });
    let config = promlite_config(target.addr, &format!("http://{addr}/api/v1/write"), "");
    std::fs::write(&config_path, config).unwrap();
    let reload = http(server.addr, "POST", "/-/reload", None);
    assert_eq!(reload.status, 200, "{reload:?}");
    eventually(Duration::from_secs(30), || {
        let n = seen.lock().unwrap().len();
        if n >= 4 { Ok(()) } else { Err(format!("{n} requests")) }
    });
    let failed = queue_metric(server.addr, "prometheus_remote_storage_failed_samples_total");
    assert!(failed > 0.0, "failed {failed}");
    let bodies: Vec<Vec<u8>> = seen.lock().unwrap().iter().map(|r| r.body.clone()).collect();
    assert!(bodies.windows(2).all(|w| w[0] != w[1]), "a refused batch was resent");
}

#[test]
fn sender_adds_shards_for_a_slow_receiver_and_loses_nothing() {
    // 50 ms per request of at most 50 samples: one shard moves ~1000 samples/s, the target
    // produces 2003 per second.
    let (addr, seen) = fake_receiver(|_| {
        std::thread::sleep(Duration::from_millis(50));
        (204, "")
    });
    let target = counting_target("rw_gauge", 2000);
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("promlite.yml");
    let config = promlite_config(target.addr, &format!("http://{addr}/api/v1/write"), "      max_shards: 8\n");
    std::fs::write(&config_path, config).unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", config_path.display())]);
    eventually(Duration::from_secs(60), || {
        let shards = queue_metric(server.addr, "prometheus_remote_storage_shards");
        if shards > 1.0 { Ok(()) } else { Err(format!("{shards} shards")) }
    });
    // Everything promlite stored for the job up to a cut arrives exactly once.
    let cut = now_ms();
    let want = eventually(Duration::from_secs(30), || {
        let want = remote_read(server.addr, &[(0, "job", "fake")], 0, cut)?;
        let newest = want.values().filter_map(|s| s.last()).map(|s| s.0).min().unwrap_or(0);
        if newest + 1000 >= cut { Ok(want) } else { Err("scrapes behind the cut".to_owned()) }
    });
    eventually(Duration::from_secs(60), || {
        let mut got = Samples::new();
        for received in seen.lock().unwrap().iter() {
            let request: prompb::WriteRequest = prompb::decode_snappy(&received.body).map_err(|e| e.to_string())?;
            for ts in request.timeseries {
                let mut labels: Vec<String> = ts.labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect();
                labels.sort();
                let entry = got.entry(format!("{{{}}}", labels.join(", "))).or_default();
                entry
                    .extend(ts.samples.iter().filter(|s| s.timestamp <= cut).map(|s| (s.timestamp, s.value.to_bits())));
            }
        }
        got.retain(|k, _| k.contains("job=\"fake\""));
        if got == want { Ok(()) } else { Err(format!("{} series received, {} stored", got.len(), want.len())) }
    });
}

#[test]
fn promlite_resends_what_was_unsent_after_a_restart() {
    if !have(PROMETHEUS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("promlite-data");
    let receiver_dir = dir.path().join("receiver");
    std::fs::create_dir(&receiver_dir).unwrap();
    let receiver_args = ["--web.enable-remote-write-receiver"];
    let prometheus = External::prometheus(&receiver_dir, "scrape_configs: []\n", &receiver_args);
    let port = prometheus.addr.port();
    let target = counting_target("rw_gauge", 20);
    let config_path = dir.path().join("promlite.yml");
    std::fs::write(&config_path, promlite_config(target.addr, &format!("http://{}/api/v1/write", prometheus.addr), ""))
        .unwrap();
    let args = [format!("--config.file={}", config_path.display()), format!("--storage.tsdb.path={}", data.display())];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = start(dir.path(), &args);
    // Some batches are accepted, so a resume position is saved...
    eventually(Duration::from_secs(30), || {
        let sent = queue_metric(server.addr, "prometheus_remote_storage_samples_total");
        if sent >= 50.0 { Ok(()) } else { Err(format!("{sent} sent")) }
    });
    std::thread::sleep(Duration::from_millis(1500));
    // ...then the receiver goes away, promlite scrapes on without sending, and is killed.
    drop(prometheus);
    let before = target.requests.load(std::sync::atomic::Ordering::SeqCst);
    wait_for_scrapes(&target, before + 4);
    drop(server);
    let prometheus = External::start(
        PROMETHEUS,
        &[
            format!("--config.file={}", receiver_dir.join("prometheus.yml").display()),
            format!("--storage.tsdb.path={}", receiver_dir.join("prom-data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
            receiver_args[0].to_owned(),
        ],
        port,
        "/-/ready",
    );
    let server = start(dir.path(), &args);
    let before = target.requests.load(std::sync::atomic::Ordering::SeqCst);
    wait_for_scrapes(&target, before + 2);
    let got = assert_same_as_promlite(server.addr, |cut| remote_read(prometheus.addr, &[(0, "job", "fake")], 0, cut));
    let samples: usize = got.values().map(Vec::len).sum();
    assert!(samples >= 25 * 8, "{samples} samples");
    assert!(data.join("remote_write/under-test").exists());
}

/// `data.result` of a range query, with each series' values as `(t, "value")` and the series
/// sorted by labels, so two servers' answers compare as values.
fn range_result(addr: SocketAddr, query: &str, start_ms: i64, end_ms: i64, step_s: u64) -> (Vec<String>, Vec<String>) {
    let path = format!(
        "/api/v1/query_range?query={}&start={}&end={}&step={step_s}",
        crate::util::enc(query),
        start_ms as f64 / 1000.0,
        end_ms as f64 / 1000.0
    );
    let (status, json) = crate::util::get_json(addr, &path);
    assert_eq!(status, 200, "{path}: {json}");
    let mut series: Vec<String> =
        json["data"]["result"].as_array().unwrap().iter().map(|s| format!("{} {}", s["metric"], s["values"])).collect();
    series.sort();
    let warnings = json["warnings"].as_array().map(|w| w.iter().map(|v| v.to_string()).collect()).unwrap_or_default();
    (series, warnings)
}

#[test]
fn promlite_reads_prometheus_through_remote_read_and_answers_as_prometheus_does() {
    if !have(PROMETHEUS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let target = counting_target("rw_gauge", 5);
    // Prometheus's read handler adds its external labels to what it sends; the reader, having
    // the same external label, asks for it and strips it, so the series look local.
    let config = format!(
        "global:\n  scrape_interval: 1s\n  external_labels:\n    replica: r1\nscrape_configs:\n  - job_name: fake\n    static_configs:\n      - targets: ['{}']\n",
        target.addr
    );
    let prometheus = External::prometheus(dir.path(), &config, &[]);
    let reader_config = dir.path().join("reader.yml");
    std::fs::write(
        &reader_config,
        format!(
            "global:\n  evaluation_interval: 1s\n  external_labels:\n    replica: r1\nscrape_configs: []\n\
             remote_read:\n  - url: http://{}/api/v1/read\n    name: prom\n",
            prometheus.addr
        ),
    )
    .unwrap();
    let reader = start(dir.path(), &[&format!("--config.file={}", reader_config.display())]);
    wait_for_scrapes(&target, 6);
    // A window both have passed: Prometheus has stored every scrape in it.
    let end = now_ms() - 1500;
    let start_ms = end - 5000;
    // Queries whose answer Prometheus 2.42 and 3 agree on (2.42's range windows still include
    // their left end, and its rate() differs at a series' first samples).
    for query in ["rw_gauge", "sum by (job) (rw_gauge)", "rw_gauge{i=\"2\"} * 2", "max_over_time(rw_gauge[3s])"] {
        let (want, _) = range_result(prometheus.addr, query, start_ms, end, 1);
        let (got, warnings) = range_result(reader.addr, query, start_ms, end, 1);
        assert!(!want.is_empty(), "{query}: Prometheus has nothing");
        assert_eq!(got, want, "{query}");
        assert!(warnings.is_empty(), "{warnings:?}");
    }
    // The raw samples, as a range selector returns them.
    let path = format!("/api/v1/query?query={}&time={}", crate::util::enc("rw_gauge[4s]"), end as f64 / 1000.0);
    let (want, got) = (crate::util::get_json(prometheus.addr, &path).1, crate::util::get_json(reader.addr, &path).1);
    let sorted = |json: &serde_json::Value| {
        let mut series: Vec<String> =
            json["data"]["result"].as_array().unwrap().iter().map(|s| s.to_string()).collect();
        series.sort();
        series
    };
    assert_eq!(sorted(&got), sorted(&want));
    assert_eq!(sorted(&want).len(), 5, "{want}");
    // Prometheus 2.42 answers the SAMPLES response type.
    let sampled =
        metric(reader.addr, r#"prometheus_remote_read_client_queries_total{remote_name="prom",endpoint="http://"#);
    assert!(sampled >= 3.0, "{sampled} remote read queries");
}

/// Writes `name{job="a"}` samples `(t, v)` into a promlite receiver.
fn write_job_a(addr: SocketAddr, name: &str, samples: &[(i64, f64)]) {
    let (status, body) = write(addr, vec![series(&[("__name__", name), ("job", "a")], samples)]);
    assert_eq!(status, 204, "{body}");
}

#[test]
fn remote_history_merges_with_local_data_and_config_changes_apply_on_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (remote_dir, local_dir) = (dir.path().join("remote"), dir.path().join("local"));
    std::fs::create_dir(&remote_dir).unwrap();
    std::fs::create_dir(&local_dir).unwrap();
    let remote = start(&remote_dir, &["--web.enable-remote-write-receiver"]);
    // Whole seconds, so the query's steps land on the samples.
    let t0 = (now_ms() / 1000 - 600) * 1000;
    let at = |k: i64| t0 + k * 10_000;
    // The remote holds ten samples; local storage starts at the sixth, with other values.
    write_job_a(remote.addr, "hist", &(0..10).map(|k| (at(k), 100.0 + k as f64)).collect::<Vec<_>>());
    write_job_a(remote.addr, "only_remote", &[(at(0), 7.0)]);
    let config_path = local_dir.join("promlite.yml");
    let reader_config = |extra: &str, url: &str| {
        format!("global:\n  evaluation_interval: 1s\nscrape_configs: []\nremote_read:\n  - url: {url}\n{extra}")
    };
    let url = format!("http://{}/api/v1/read", remote.addr);
    std::fs::write(&config_path, reader_config("", &url)).unwrap();
    let local = start(
        &local_dir,
        &[
            &format!("--config.file={}", config_path.display()),
            "--web.enable-remote-write-receiver",
            "--web.enable-lifecycle",
        ],
    );
    write_job_a(local.addr, "hist", &(5..10).map(|k| (at(k), k as f64)).collect::<Vec<_>>());

    // read_recent: false reads the remote only up to local storage's start (plus 2 s of
    // margin): its history before at(5), and local samples from at(5) on.
    let values = |addr, query: &str| {
        let (series, warnings) = range_result(addr, query, at(0), at(9), 10);
        (series, warnings)
    };
    let expected_values: Vec<String> = (0..10)
        .map(|k| {
            let v = if k < 5 { 100 + k } else { k };
            format!("[{},\"{v}\"]", (at(k) / 1000))
        })
        .collect();
    let (hist, warnings) = values(local.addr, "hist");
    assert_eq!(hist, vec![format!("{{\"__name__\":\"hist\",\"job\":\"a\"}} [{}]", expected_values.join(","))]);
    assert!(warnings.is_empty(), "{warnings:?}");
    let (only_remote, _) = values(local.addr, "only_remote");
    assert_eq!(only_remote.len(), 1, "{only_remote:?}");
    let (status, series) = crate::util::get_json(
        local.addr,
        &format!(
            "/api/v1/series?match[]={}&start={}&end={}",
            crate::util::enc("{job=\"a\"}"),
            at(0) / 1000,
            at(9) / 1000
        ),
    );
    assert_eq!(status, 200);
    assert_eq!(series["data"].as_array().unwrap().len(), 2, "{series}");
    // promlite answers a promlite client with streamed XOR chunks.
    let metrics = http(local.addr, "GET", "/metrics", None).body;
    assert!(
        metrics.lines().any(|l| l.starts_with("prometheus_remote_read_client_queries_total{")
            && l.contains(r#"response_type="chunked",code="200"} "#)),
        "no chunked remote read in /metrics"
    );
    assert!(
        metrics.lines().any(|l| l.starts_with("prometheus_remote_read_client_request_duration_seconds_count{")
            && l.contains(r#"response_type="chunked""#)
            && !l.ends_with(" 0")),
        "no chunked request duration in /metrics"
    );

    // read_recent: true reads the remote for the whole range; where both have a sample, the
    // local one wins. required_matchers keeps selectors without job="a" local.
    std::fs::write(&config_path, reader_config("    read_recent: true\n    required_matchers:\n      job: a\n", &url))
        .unwrap();
    assert_eq!(http(local.addr, "POST", "/-/reload", None).status, 200);
    let (hist, _) = values(local.addr, "hist{job=\"a\"}");
    assert_eq!(hist, vec![format!("{{\"__name__\":\"hist\",\"job\":\"a\"}} [{}]", expected_values.join(","))]);
    assert_eq!(values(local.addr, "only_remote").0.len(), 0, "no job=\"a\" matcher: the remote is not asked");
    assert_eq!(values(local.addr, "only_remote{job=\"a\"}").0.len(), 1);
    write_job_a(remote.addr, "hist", &[(at(10), 110.0)]);
    let (recent, _) = range_result(local.addr, "hist{job=\"a\"}", at(10), at(10), 10);
    assert!(recent[0].ends_with(&format!("[[{},\"110\"]]", at(10) / 1000)), "{recent:?}");

    // An unreachable remote: the local answer, with a warning that says why.
    // Its URL's password shows nowhere: not in the warning, not in /metrics.
    let closed = format!("http://reader:s3cret@127.0.0.1:{}/api/v1/read", free_port());
    std::fs::write(&config_path, reader_config("    remote_timeout: 2s\n", &closed)).unwrap();
    assert_eq!(http(local.addr, "POST", "/-/reload", None).status, 200);
    let (hist, warnings) = values(local.addr, "hist");
    assert_eq!(hist.len(), 1);
    assert!(
        hist[0].starts_with(&format!("{{\"__name__\":\"hist\",\"job\":\"a\"}} [[{},\"5\"]", at(5) / 1000)),
        "{hist:?}"
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("remote_read: error sending request"), "{warnings:?}");
    assert!(!warnings[0].contains("s3cret"), "{warnings:?}");
    let metrics = http(local.addr, "GET", "/metrics", None).body;
    assert!(metrics.contains("reader:xxxxx@127.0.0.1"), "the endpoint label shows the redacted URL");
    assert!(!metrics.contains("s3cret"));
    // /api/v1/series with two match[]: the local series, and the failing remote's warning once.
    let (status, series) = crate::util::get_json(
        local.addr,
        &format!("/api/v1/series?match[]=hist&match[]=only_remote&start={}&end={}", at(0) / 1000, at(9) / 1000),
    );
    assert_eq!(status, 200);
    assert_eq!(series["data"].as_array().unwrap().len(), 1, "{series}");
    assert_eq!(series["warnings"].as_array().map(Vec::len), Some(1), "{series}");
}

#[test]
fn remote_read_sample_limit_applies_to_the_samples_answer_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--web.enable-remote-write-receiver", "--storage.remote.read-sample-limit=3"]);
    let t0 = now_ms() - 60_000;
    write_job_a(server.addr, "limited", &(0..5).map(|k| (t0 + k * 1000, k as f64)).collect::<Vec<_>>());
    let err = remote_read(server.addr, &[(0, "__name__", "limited")], t0, t0 + 10_000).unwrap_err();
    assert!(err.contains("400") && err.contains("exceeded sample limit (3)"), "{err}");
    // The streamed answer is not limited, as upstream.
    let request = prompb::ReadRequest {
        queries: vec![prompb::Query {
            start_timestamp_ms: t0,
            end_timestamp_ms: t0 + 10_000,
            matchers: vec![prompb::LabelMatcher { r#type: 0, name: "__name__".into(), value: "limited".into() }],
            hints: None,
        }],
        accepted_response_types: vec![prompb::RESPONSE_TYPE_STREAMED_XOR_CHUNKS],
    };
    let Reply { status, body, .. } = post(server.addr, "/api/v1/read", &[], &prompb::encode_snappy(&request));
    assert_eq!(status, 200);
    let frames = prompb::read_frames(&body, 1 << 20).unwrap();
    let samples: u16 = frames[0].chunked_series[0]
        .chunks
        .iter()
        .map(|c| promlite_storage::chunkenc::XorIterator::new(&c.data).unwrap().num_samples())
        .sum();
    assert_eq!(samples, 5);
    let (_, flags) = crate::util::get_json(server.addr, "/api/v1/status/flags");
    assert_eq!(flags["data"]["storage.remote.read-sample-limit"], "3");
}

#[test]
fn sender_drops_samples_older_than_sample_age_limit_and_sends_metadata() {
    // Down for the first 6 s (scraping starts within about 1.5 s); a 2 s sample_age_limit must
    // drop what grew older meanwhile.
    let up_at = std::time::Instant::now() + Duration::from_secs(6);
    let (addr, seen) = fake_receiver(move |_| if std::time::Instant::now() < up_at { (503, "") } else { (204, "") });
    let target =
        FakeTarget::start(|n| format!("# HELP aged_gauge A gauge.\n# TYPE aged_gauge gauge\naged_gauge {n}\n"));
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("promlite.yml");
    let extra = "      sample_age_limit: 2s\n      min_backoff: 100ms\n    metadata_config:\n      send_interval: 1s\n";
    std::fs::write(&config_path, promlite_config(target.addr, &format!("http://{addr}/api/v1/write"), extra)).unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", config_path.display())]);
    let accepted_samples = || {
        let seen = seen.lock().unwrap();
        let now = (std::time::Instant::now(), now_ms());
        let mut out = Vec::new();
        for r in seen.iter().filter(|r| r.at >= up_at) {
            let at_ms = now.1 - (now.0 - r.at).as_millis() as i64;
            let request: prompb::WriteRequest = prompb::decode_snappy(&r.body).unwrap();
            out.extend(request.timeseries.iter().flat_map(|ts| ts.samples.iter().map(move |s| (at_ms, s.timestamp))));
        }
        out
    };
    eventually(Duration::from_secs(30), || {
        let n = accepted_samples().len();
        if n >= 20 { Ok(()) } else { Err(format!("{n} samples accepted")) }
    });
    // Nothing older than the limit (plus the scrape-to-send slack) was delivered...
    for (at_ms, t) in accepted_samples() {
        assert!(at_ms - t <= 2_000 + 1_500, "a sample {} ms old was sent", at_ms - t);
    }
    // ...and what the outage aged was dropped and counted, not failed.
    let metrics = http(server.addr, "GET", "/metrics", None).body;
    let too_old = metrics
        .lines()
        .find(|l| {
            l.starts_with("prometheus_remote_storage_samples_dropped_total{") && l.contains(r#"reason="too_old""#)
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .expect("samples_dropped_total{reason=\"too_old\"}");
    assert!(too_old > 0.0, "{too_old}");
    assert_eq!(queue_metric(server.addr, "prometheus_remote_storage_failed_samples_total"), 0.0);

    // Metadata: requests of metadata only, every second, with the scraped TYPE and HELP.
    let metadata = eventually(Duration::from_secs(30), || {
        let seen = seen.lock().unwrap();
        seen.iter()
            .filter(|r| r.at >= up_at)
            .map(|r| prompb::decode_snappy::<prompb::WriteRequest>(&r.body).unwrap())
            .find(|req| !req.metadata.is_empty())
            .ok_or_else(|| format!("no metadata in {} requests", seen.len()))
    });
    assert!(metadata.timeseries.is_empty());
    let entry = metadata.metadata.iter().find(|m| m.metric_family_name == "aged_gauge").expect("aged_gauge metadata");
    assert_eq!((entry.r#type, entry.help.as_str()), (2, "A gauge."));
    eventually(Duration::from_secs(10), || {
        let sent = queue_metric(server.addr, "prometheus_remote_storage_metadata_total");
        if sent >= 1.0 { Ok(()) } else { Err(format!("metadata_total {sent}")) }
    });
    assert!(queue_metric(server.addr, "prometheus_remote_storage_metadata_retried_total") > 0.0);
}

#[test]
fn prometheus_reads_promlite_through_remote_read_and_answers_as_promlite_does() {
    if !have(PROMETHEUS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--web.enable-remote-write-receiver"]);
    let t0 = (now_ms() / 1000 - 900) * 1000;
    let samples: Vec<(i64, f64)> = (0..60).map(|k| (t0 + k * 15_000, (k * k) as f64 / 7.0)).collect();
    for job in ["a", "b"] {
        let (status, body) =
            write(server.addr, vec![series(&[("__name__", "read_by_prometheus"), ("job", job)], &samples)]);
        assert_eq!(status, 204, "{body}");
    }
    // Prometheus (2.42: its client asks for SAMPLES) holds nothing itself.
    let prom_dir = dir.path().join("prometheus");
    std::fs::create_dir(&prom_dir).unwrap();
    let config = format!(
        "scrape_configs: []\nremote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n",
        server.addr
    );
    let prometheus = External::prometheus(&prom_dir, &config, &[]);
    let (start_ms, end_ms) = (t0, t0 + 59 * 15_000);
    // Windows that do not start on a sample (Prometheus 2.42's include their left end, 3's do not).
    for query in ["read_by_prometheus", "sum(rate(read_by_prometheus[50s]))", "read_by_prometheus{job=\"b\"} / 2"] {
        let (want, _) = range_result(server.addr, query, start_ms, end_ms, 30);
        let (got, warnings) = range_result(prometheus.addr, query, start_ms, end_ms, 30);
        assert!(!want.is_empty(), "{query}: promlite has nothing");
        assert_eq!(got, want, "{query}");
        assert!(warnings.is_empty(), "{warnings:?}");
    }
}
