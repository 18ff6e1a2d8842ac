//! Remote write 2.0 (`io.prometheus.write.v2.Request`) end to end: the real binary receives 2.0
//! requests built here; stored samples are read back exactly (value bits and timestamps) with
//! remote read, and every answer's status, text and `X-Prometheus-Remote-Write-*-Written`
//! headers are checked against what upstream's receiver answers. As a sender
//! (`protobuf_message: io.prometheus.write.v2.Request`) it delivers every sample exactly to
//! another promlite, and believes a fake receiver's `*-Written` headers.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use promlite_prompb as prompb;
use promlite_prompb::v2::{self as prompb_v2, Exemplar, Metadata, Request, Sample, SymbolTable, TimeSeries};

use crate::remote_util::{self, Reply, Samples, counting_target, metric, now_ms, post, queue_metric, read_request};
use crate::util::{eventually, start};

const V2_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", prompb_v2::CONTENT_TYPE),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", prompb_v2::REMOTE_WRITE_VERSION_2),
];

/// The three `*-Written` headers of a 2.0 answer, as (samples, histograms, exemplars).
fn written(reply: &Reply) -> (Option<&str>, Option<&str>, Option<&str>) {
    (
        reply.header(prompb_v2::SAMPLES_WRITTEN_HEADER),
        reply.header(prompb_v2::HISTOGRAMS_WRITTEN_HEADER),
        reply.header(prompb_v2::EXEMPLARS_WRITTEN_HEADER),
    )
}

fn series(table: &mut SymbolTable, labels: &[(&str, &str)], samples: &[(i64, f64)]) -> TimeSeries {
    TimeSeries {
        labels_refs: table.symbolize_labels(labels.iter().copied()),
        samples: samples.iter().map(|&(timestamp, value)| Sample { value, timestamp, start_timestamp: 0 }).collect(),
        histograms: vec![],
        exemplars: vec![],
        metadata: Some(Metadata::default()),
    }
}

fn write_v2(addr: SocketAddr, request: &Request) -> Reply {
    post(addr, "/api/v1/write", &V2_HEADERS, &prompb::encode_snappy(request))
}

/// Every series whose metric name is `name`, in `[start, end]`, via remote read.
fn remote_read(addr: SocketAddr, name: &str, start: i64, end: i64) -> Samples {
    remote_read_matching(addr, ("__name__", name), start, end)
}

/// Every series with label `name="value"`, in `[start, end]`, via remote read.
fn remote_read_matching(addr: SocketAddr, (name, value): (&str, &str), start: i64, end: i64) -> Samples {
    remote_util::remote_read(addr, &[(0, name, value)], start, end).unwrap()
}

#[test]
fn receiver_stores_2_0_requests_exactly_and_answers_written_counts() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--web.enable-remote-write-receiver"]);
    let addr = server.addr;
    let t0 = now_ms() - 60_000;
    let exemplars_before = metric(addr, "promlite_api_remote_write_exemplars_dropped_total");
    let histograms_before = metric(addr, "promlite_api_remote_write_histograms_dropped_total");

    let mut table = SymbolTable::new();
    let a = [("__name__", "rw2_test"), ("instance", "x"), ("job", "a")];
    let mut series_a = series(&mut table, &a, &[(t0, 1.5), (t0 + 1000, f64::NAN), (t0 + 2000, f64::NEG_INFINITY)]);
    let trace = table.symbolize_labels([("trace_id", "abc")]);
    series_a.exemplars = vec![Exemplar { labels_refs: trace, value: 1.5, timestamp: t0 }];
    series_a.metadata = Some(Metadata { r#type: 1, help_ref: table.symbolize("A test counter."), unit_ref: 0 });
    // Labels unsorted on the wire: the receiver does not rely on the sender's order.
    let series_b = series(&mut table, &[("job", "b"), ("__name__", "rw2_test")], &[(t0, 1e300), (t0 + 5, 2.0)]);
    // A native histogram sample (count_int 7, as bytes): dropped, not written.
    let mut series_h = series(&mut table, &[("__name__", "rw2_hist")], &[]);
    series_h.histograms = vec![vec![0x08, 0x07, 0x78, (t0 & 0x7f) as u8]];
    let request = Request { symbols: table.clone().into_symbols(), timeseries: vec![series_a, series_b, series_h] };
    let answer = write_v2(addr, &request);
    assert_eq!(answer.status, 204, "{}", answer.text());
    assert_eq!(written(&answer), (Some("5"), Some("0"), Some("0")));

    let mut want = Samples::new();
    want.insert(
        r#"{__name__="rw2_test", instance="x", job="a"}"#.into(),
        vec![(t0, 1.5f64.to_bits()), (t0 + 1000, f64::NAN.to_bits()), (t0 + 2000, f64::NEG_INFINITY.to_bits())],
    );
    want.insert(r#"{__name__="rw2_test", job="b"}"#.into(), vec![(t0, 1e300f64.to_bits()), (t0 + 5, 2.0f64.to_bits())]);
    assert_eq!(remote_read(addr, "rw2_test", t0 - 1, t0 + 10_000), want);
    assert!(remote_read(addr, "rw2_hist", t0 - 1, t0 + 10_000).is_empty());
    assert_eq!(metric(addr, "promlite_api_remote_write_exemplars_dropped_total"), exemplars_before + 1.0);
    assert_eq!(metric(addr, "promlite_api_remote_write_histograms_dropped_total"), histograms_before + 1.0);

    // Partial write: an out-of-order sample of `a` is refused with 400 (no retry), the new
    // series `c` and the in-order sample of `a` land, and the headers count exactly those.
    let c = [("__name__", "rw2_test"), ("job", "c")];
    let late = series(&mut table, &a, &[(t0 + 500, 9.0), (t0 + 3000, 4.0)]);
    let new = series(&mut table, &c, &[(t0, 3.0)]);
    let request = Request { symbols: table.clone().into_symbols(), timeseries: vec![late, new] };
    let answer = write_v2(addr, &request);
    assert_eq!(answer.status, 400, "{}", answer.text());
    assert_eq!(
        answer.text(),
        "out of order sample for series rw2_test{instance=\"x\", job=\"a\"}\n",
        "one line per refused series"
    );
    assert_eq!(written(&answer), (Some("2"), Some("0"), Some("0")));
    let got = remote_read(addr, "rw2_test", t0 - 1, t0 + 10_000);
    assert_eq!(got[r#"{__name__="rw2_test", instance="x", job="a"}"#].last(), Some(&(t0 + 3000, 4.0f64.to_bits())));
    assert_eq!(got[r#"{__name__="rw2_test", instance="x", job="a"}"#].len(), 4);
    assert_eq!(got[r#"{__name__="rw2_test", job="c"}"#], vec![(t0, 3.0f64.to_bits())]);

    // A label reference outside `symbols`: that series is refused and named, the other lands.
    let mut bad = series(&mut table, &[("__name__", "rw2_test"), ("job", "d")], &[(t0, 5.0)]);
    let good = series(&mut table, &[("__name__", "rw2_test"), ("job", "e")], &[(t0, 6.0)]);
    let symbols = table.clone().into_symbols();
    bad.labels_refs[3] = symbols.len() as u32 + 10;
    let request = Request { symbols: symbols.clone(), timeseries: vec![bad, good] };
    let answer = write_v2(addr, &request);
    assert_eq!(answer.status, 400, "{}", answer.text());
    let want = format!(
        "series 0: label ref {} is out of range; the request has {} symbols\n",
        symbols.len() + 10,
        symbols.len()
    );
    assert_eq!(answer.text(), want);
    assert_eq!(written(&answer), (Some("1"), Some("0"), Some("0")));
    let got = remote_read(addr, "rw2_test", t0 - 1, t0 + 10_000);
    assert_eq!(got[r#"{__name__="rw2_test", job="e"}"#], vec![(t0, 6.0f64.to_bits())]);
    assert!(!got.keys().any(|k| k.contains(r#"job="d""#)), "{got:?}");

    // A body that is not a 2.0 request: 400, nothing written, headers still present.
    let answer = post(addr, "/api/v1/write", &V2_HEADERS, b"definitely not snappy");
    assert_eq!((answer.status, written(&answer)), (400, (Some("0"), Some("0"), Some("0"))));
}

#[test]
fn receiver_negotiates_the_message_from_the_content_type() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--web.enable-remote-write-receiver"]);
    let addr = server.addr;
    let t0 = now_ms() - 60_000;

    // An unknown message: 415 naming both accepted ones.
    let v3 = [("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v3.Request")];
    let answer = post(addr, "/api/v1/write", &v3, b"x");
    assert_eq!(answer.status, 415);
    assert_eq!(
        answer.text(),
        "io.prometheus.write.v3.Request protobuf message is not accepted by this server; \
         accepted [prometheus.WriteRequest, io.prometheus.write.v2.Request]\n"
    );
    // 2.0 with an unsupported encoding: 415 too.
    let gzip = [("Content-Type", prompb_v2::CONTENT_TYPE), ("Content-Encoding", "gzip")];
    assert_eq!(post(addr, "/api/v1/write", &gzip, b"x").status, 415);

    // `proto=prometheus.WriteRequest` is 1.0: stored, and no 2.0 headers in the answer.
    let v1 = prompb::WriteRequest {
        timeseries: vec![prompb::TimeSeries {
            labels: vec![prompb::Label { name: "__name__".into(), value: "rw2_v1".into() }],
            samples: vec![prompb::Sample { value: 8.0, timestamp: t0 }],
            exemplars: vec![],
            histograms: vec![],
        }],
        metadata: vec![],
    };
    let headers =
        [("Content-Type", "application/x-protobuf;proto=prometheus.WriteRequest"), ("Content-Encoding", "snappy")];
    let answer = post(addr, "/api/v1/write", &headers, &prompb::encode_snappy(&v1));
    assert_eq!(answer.status, 204, "{}", answer.text());
    assert_eq!(written(&answer), (None, None, None));
    let mut want = Samples::new();
    want.insert(r#"{__name__="rw2_v1"}"#.into(), vec![(t0, 8.0f64.to_bits())]);
    assert_eq!(remote_read(addr, "rw2_v1", t0 - 1, t0 + 1), want);

    // The same 1.0 bytes declared as 2.0: fields 1 to 3 are reserved in 2.0, so they decode as
    // an empty request; nothing is written and the headers say so (the sender can tell).
    let answer = post(addr, "/api/v1/write", &V2_HEADERS, &prompb::encode_snappy(&v1));
    assert_eq!(answer.status, 204, "{}", answer.text());
    assert_eq!(written(&answer), (Some("0"), Some("0"), Some("0")));
}

/// A promlite config scraping `target` every second and sending it over remote write 2.0.
fn sender_config(target: SocketAddr, remote_url: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fake\n    static_configs:\n      - targets: ['{target}']\n\
         remote_write:\n  - url: {remote_url}\n    name: under-test\n    protobuf_message: io.prometheus.write.v2.Request\n\
         \x20   queue_config:\n      batch_send_deadline: 500ms\n      max_samples_per_send: 50\n      max_backoff: 1s\n"
    )
}

/// Self-comparison: promlite sends 2.0 and promlite receives it, so a mistake both ends share
/// (a field number, a symbol reference) passes here. Debian's Prometheus 2.42 speaks remote
/// write 1.0 only; the receiving end is held to upstream's answers by the `receiver_*` tests,
/// and the stored samples to what the sender itself stored.
#[test]
fn promlite_sends_2_0_to_promlite_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = start(dir.path(), &["--web.enable-remote-write-receiver"]);
    let target = counting_target("rw2_gauge", 10);
    let config_path = dir.path().join("promlite.yml");
    let url = format!("http://{}/api/v1/write", receiver.addr);
    std::fs::write(&config_path, sender_config(target.addr, &url)).unwrap();
    let sender = start(dir.path(), &[&format!("--config.file={}", config_path.display())]);
    eventually(Duration::from_secs(60), || {
        let seen = target.requests.load(std::sync::atomic::Ordering::SeqCst);
        if seen >= 5 { Ok(()) } else { Err(format!("{seen} scrapes")) }
    });
    let cut = now_ms();
    // The scrape's own series (up, scrape_duration_seconds, ...) and the target's, as the
    // sender stored them.
    let want = remote_read_matching(sender.addr, ("job", "fake"), 0, cut);
    let samples: usize = want.values().map(Vec::len).sum();
    assert!(want.len() >= 15 && samples >= 45, "{} series, {samples} samples in the sender", want.len());
    eventually(Duration::from_secs(60), || {
        let got = remote_read_matching(receiver.addr, ("job", "fake"), 0, cut);
        if got == want {
            Ok(())
        } else {
            let first_diff = want
                .iter()
                .find(|(k, v)| got.get(*k) != Some(v))
                .map(|(k, v)| format!("{k}: sender {} samples, receiver {:?}", v.len(), got.get(k).map(Vec::len)));
            Err(format!("{} series sent, {} received; first difference: {first_diff:?}", want.len(), got.len()))
        }
    });
    let sent = queue_metric(sender.addr, "prometheus_remote_storage_samples_total");
    assert!(sent >= samples as f64, "sent {sent}, want at least {samples}");
    assert_eq!(queue_metric(sender.addr, "prometheus_remote_storage_samples_failed_total"), 0.0);
}

/// What the fake receiver saw and said: samples received, and how many it claimed written.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Tally {
    requests: u64,
    received: u64,
    written: u64,
}

/// Serves one keep-alive connection: every request must be a 2.0 request. In turn: a 204
/// without `*-Written` headers (a 1.0-only receiver that did not understand: nothing counts as
/// written), a 400 partial write claiming all samples but one, a 204 confirming all but two.
fn serve_2_0_connection(stream: TcpStream, tally: &Mutex<Tally>, heads: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    while let Some((head, body)) = read_request(&mut reader) {
        let request: Request = prompb::decode_snappy(&body).expect("a 2.0 request");
        let n: u64 = request.timeseries.iter().map(|ts| ts.samples.len() as u64).sum();
        let (status, written) = {
            let mut tally = tally.lock().unwrap();
            tally.requests += 1;
            tally.received += n;
            let answer = match tally.requests % 3 {
                1 => (204, None),
                2 => (400, Some(n.saturating_sub(1))),
                _ => (204, Some(n.saturating_sub(2))),
            };
            tally.written += answer.1.unwrap_or(0);
            answer
        };
        heads.lock().unwrap().push(head);
        let stats = written.map_or(String::new(), |written| {
            format!(
                "{}: {written}\r\n{}: 0\r\n{}: 0\r\n",
                prompb_v2::SAMPLES_WRITTEN_HEADER,
                prompb_v2::HISTOGRAMS_WRITTEN_HEADER,
                prompb_v2::EXEMPLARS_WRITTEN_HEADER
            )
        });
        let answer = format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\n{stats}\r\n");
        if reader.get_mut().write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn sender_counts_what_a_2_0_receiver_says_it_wrote() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let receiver = listener.local_addr().unwrap();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let heads = Arc::new(Mutex::new(Vec::new()));
    let (tally_in, heads_in) = (Arc::clone(&tally), Arc::clone(&heads));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (tally, heads) = (Arc::clone(&tally_in), Arc::clone(&heads_in));
            std::thread::spawn(move || serve_2_0_connection(stream, &tally, &heads));
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let target = counting_target("rw2_gauge", 5);
    let config_path = dir.path().join("promlite.yml");
    std::fs::write(&config_path, sender_config(target.addr, &format!("http://{receiver}/api/v1/write"))).unwrap();
    let sender = start(dir.path(), &[&format!("--config.file={}", config_path.display())]);
    // Wait for a few requests of each kind, then for the sender's counters to match the
    // receiver's answers exactly while no request is in flight (the tally is read on both sides
    // of the metrics so a request in between is noticed).
    eventually(Duration::from_secs(60), || {
        let before = *tally.lock().unwrap();
        let sent = queue_metric(sender.addr, "prometheus_remote_storage_samples_total");
        let failed = queue_metric(sender.addr, "prometheus_remote_storage_samples_failed_total");
        let after = *tally.lock().unwrap();
        let want = (after.written as f64, (after.received - after.written) as f64);
        if before == after && after.requests >= 6 && (sent, failed) == want {
            Ok(())
        } else {
            Err(format!("receiver {after:?}; sender samples_total {sent}, failed_samples_total {failed}"))
        }
    });
    // Refused for good (400), not understood (2xx confirming nothing) or partly written (2xx
    // confirming less): never retried.
    assert_eq!(queue_metric(sender.addr, "prometheus_remote_storage_samples_retried_total"), 0.0);
    let heads = heads.lock().unwrap();
    for head in heads.iter() {
        let head = head.to_ascii_lowercase();
        assert!(head.contains("content-type: application/x-protobuf;proto=io.prometheus.write.v2.request"), "{head}");
        assert!(head.contains("x-prometheus-remote-write-version: 2.0.0"), "{head}");
        assert!(head.contains("content-encoding: snappy"), "{head}");
    }
}
