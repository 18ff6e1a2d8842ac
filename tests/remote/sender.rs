//! The remote-write sender against fake receivers: retries (5xx after `Retry-After`, other 4xx
//! dropped once), resharding for a slow receiver without losing a sample, `sample_age_limit`,
//! and metadata.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use promlite_prompb as prompb;

use super::{promlite_config, wait_for_scrapes};
use crate::remote_util::{Samples, counting_target, now_ms, queue_metric, read_request, remote_read};
use crate::util::{FakeTarget, eventually, http, start};

/// A request a fake receiver saw, and the status it answered.
struct Received {
    at: std::time::Instant,
    head: String,
    body: Vec<u8>,
    status: u16,
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
            log.push(Received { at: std::time::Instant::now(), head, body, status: 0 });
            log.len()
        };
        let (status, headers) = respond(n);
        log.lock().unwrap()[n - 1].status = status;
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
    eventually(Duration::from_secs(60), || {
        let n = seen.lock().unwrap().len();
        if n >= 3 { Ok(()) } else { Err(format!("{n} requests")) }
    });
    {
        let seen = seen.lock().unwrap();
        let gap = seen[1].at - seen[0].at;
        // A lower bound only: a loaded machine retries later, never earlier.
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
    assert!(queue_metric(server.addr, "prometheus_remote_storage_samples_retried_total") > 0.0);
    assert_eq!(queue_metric(server.addr, "prometheus_remote_storage_samples_failed_total"), 0.0);

    // A receiver that refuses everything with 400 (and 429 without retry_on_http_429): each
    // batch is dropped once and counted, and later batches still go out.
    let (addr, seen) = fake_receiver(|n| if n % 2 == 0 { (400, "") } else { (429, "Retry-After: 30\r\n") });
    let config = promlite_config(target.addr, &format!("http://{addr}/api/v1/write"), "");
    std::fs::write(&config_path, config).unwrap();
    let reload = http(server.addr, "POST", "/-/reload", None);
    assert_eq!(reload.status, 200, "{reload:?}");
    eventually(Duration::from_secs(60), || {
        let n = seen.lock().unwrap().len();
        if n >= 4 { Ok(()) } else { Err(format!("{n} requests")) }
    });
    let failed = queue_metric(server.addr, "prometheus_remote_storage_samples_failed_total");
    assert!(failed > 0.0, "failed {failed}");
    let bodies: Vec<Vec<u8>> = seen.lock().unwrap().iter().map(|r| r.body.clone()).collect();
    assert!(bodies.windows(2).all(|w| w[0] != w[1]), "a refused batch was resent");
}

#[test]
fn sender_adds_shards_for_a_slow_receiver_and_loses_nothing() {
    // 50 ms per request of at most 50 samples: one shard moves ~1000 samples/s, the target
    // produces 2003 per second.
    // The sleep is the slowness under test; it synchronises nothing.
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
    // Generous deadlines: resharding is measured over 10 s windows, slower on a loaded machine.
    eventually(Duration::from_secs(120), || {
        let shards = queue_metric(server.addr, "prometheus_remote_storage_shards");
        if shards > 1.0 { Ok(()) } else { Err(format!("{shards} shards")) }
    });
    // Everything promlite stored for the job up to a cut arrives exactly once.
    let cut = now_ms();
    let want = eventually(Duration::from_secs(60), || {
        let want = remote_read(server.addr, &[(0, "job", "fake")], 0, cut)?;
        let newest = want.values().filter_map(|s| s.last()).map(|s| s.0).min().unwrap_or(0);
        if newest + 1000 >= cut { Ok(want) } else { Err("scrapes behind the cut".to_owned()) }
    });
    eventually(Duration::from_secs(120), || {
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

/// The values of `aged_gauge` in the requests `seen` answered with `status`.
fn aged_gauge_values(seen: &[Received], status: u16) -> Vec<f64> {
    seen.iter()
        .filter(|r| r.status == status)
        .flat_map(|r| prompb::decode_snappy::<prompb::WriteRequest>(&r.body).unwrap().timeseries)
        .filter(|ts| ts.labels.iter().any(|l| l.name == "__name__" && l.value == "aged_gauge"))
        .flat_map(|ts| ts.samples.into_iter().map(|s| s.value))
        .collect()
}

#[test]
fn sender_drops_samples_older_than_sample_age_limit_and_sends_metadata() {
    // The receiver refuses everything (503) until the test brings it up, once the outage's
    // first samples are far older than the 2 s sample_age_limit.
    let up = Arc::new(AtomicBool::new(false));
    let receiver_up = Arc::clone(&up);
    let (addr, seen) = fake_receiver(move |_| if receiver_up.load(Ordering::SeqCst) { (204, "") } else { (503, "") });
    // The n-th scrape's aged_gauge is n: a sample names its scrape.
    let target =
        FakeTarget::start(|n| format!("# HELP aged_gauge A gauge.\n# TYPE aged_gauge gauge\naged_gauge {n}\n"));
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("promlite.yml");
    let extra = "      sample_age_limit: 2s\n      min_backoff: 100ms\n    metadata_config:\n      send_interval: 1s\n";
    std::fs::write(&config_path, promlite_config(target.addr, &format!("http://{addr}/api/v1/write"), extra)).unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", config_path.display())]);
    // The outage's samples are tried (and refused): scrapes up to `aged` are in flight.
    eventually(Duration::from_secs(60), || {
        let refused = aged_gauge_values(&seen.lock().unwrap(), 503);
        if refused.is_empty() { Err("no aged_gauge sample tried yet".to_owned()) } else { Ok(()) }
    });
    let aged = target.requests.load(Ordering::SeqCst);
    // Eight more scrapes at the 1 s interval (counted, not timed): when the receiver comes up,
    // scrapes up to `aged` are some 8 s old, 6 s past the limit. Only a request built that
    // long before it arrived could still carry one.
    wait_for_scrapes(&target, aged + 8);
    up.store(true, Ordering::SeqCst);
    let fresh_from = target.requests.load(Ordering::SeqCst);
    // Fresh samples are delivered...
    eventually(Duration::from_secs(60), || {
        let accepted = aged_gauge_values(&seen.lock().unwrap(), 204);
        if accepted.iter().any(|&v| v > fresh_from as f64) {
            Ok(())
        } else {
            Err(format!("aged_gauge values accepted: {accepted:?}"))
        }
    });
    // ...the aged ones never are, though they were tried...
    let seen_now = seen.lock().unwrap();
    let refused = aged_gauge_values(&seen_now, 503);
    assert!(refused.iter().any(|&v| v <= aged as f64), "tried during the outage: {refused:?}");
    let accepted = aged_gauge_values(&seen_now, 204);
    let delivered_aged: Vec<&f64> = accepted.iter().filter(|&&v| v <= aged as f64).collect();
    assert!(delivered_aged.is_empty(), "scrapes up to {aged} were past the limit, yet delivered: {delivered_aged:?}");
    drop(seen_now);
    // ...and what the outage aged was dropped and counted, not failed.
    let metrics = http(server.addr, "GET", "/metrics", None).body;
    let too_old = metrics
        .lines()
        .find(|l| {
            l.starts_with("prometheus_remote_storage_samples_dropped_total{") && l.contains(r#"reason="too_old""#)
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .expect("samples_dropped_total{reason=\"too_old\"}");
    assert!(too_old >= 1.0, "{too_old}");
    assert_eq!(queue_metric(server.addr, "prometheus_remote_storage_samples_failed_total"), 0.0);

    // Metadata: requests of metadata only, every second, with the scraped TYPE and HELP.
    let metadata = eventually(Duration::from_secs(60), || {
        let seen = seen.lock().unwrap();
        seen.iter()
            .filter(|r| r.status == 204)
            .map(|r| prompb::decode_snappy::<prompb::WriteRequest>(&r.body).unwrap())
            .find(|req| !req.metadata.is_empty())
            .ok_or_else(|| format!("no metadata in {} requests", seen.len()))
    });
    assert!(metadata.timeseries.is_empty());
    let entry = metadata.metadata.iter().find(|m| m.metric_family_name == "aged_gauge").expect("aged_gauge metadata");
    assert_eq!((entry.r#type, entry.help.as_str()), (2, "A gauge."));
    eventually(Duration::from_secs(60), || {
        let sent = queue_metric(server.addr, "prometheus_remote_storage_metadata_total");
        if sent >= 1.0 { Ok(()) } else { Err(format!("metadata_total {sent}")) }
    });
    assert!(queue_metric(server.addr, "prometheus_remote_storage_metadata_retried_total") > 0.0);
}
