//! promlite as a remote-write receiver: it is off without the flag, stores what it is sent
//! exactly (from requests built here and from a real Prometheus), and refuses out-of-order,
//! duplicate, out-of-bounds and malformed requests with Prometheus's statuses.

use std::time::Duration;

use promlite_prompb as prompb;

use crate::remote_util::{
    External, PROMETHEUS, Samples, WRITE_HEADERS, counting_target, have, metric, now_ms, post, remote_read, series,
    write,
};
use crate::util::{eventually, start};

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
    // 2.0 is accepted (`remote::write_v2`), so a body that is not snappy is a bad body;
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
