//! Remote read in both directions: promlite reads a real Prometheus and answers as Prometheus
//! does, Prometheus reads promlite and answers as promlite does, remote history merges with local
//! data (`read_recent`, `required_matchers`, an unreachable remote as a warning), and the sample
//! limit applies to the SAMPLES answer only.

use std::net::SocketAddr;

use promlite_prompb as prompb;

use super::wait_for_scrapes;
use crate::remote_util::{
    External, PROMETHEUS, Reply, counting_target, free_port, have, metric, now_ms, post, remote_read, series, write,
};
use crate::util::{http, start};

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

/// Writes `name{job="a"}` samples `(t, v)` into a promlite receiver.
fn write_job_a(addr: SocketAddr, name: &str, samples: &[(i64, f64)]) {
    let (status, body) = write(addr, vec![series(&[("__name__", name), ("job", "a")], samples)]);
    assert_eq!(status, 204, "{body}");
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
    // Prometheus holds nothing itself. Its 2.42 client sends no accepted_response_types, which
    // means SAMPLES: it cannot read the streamed answer (whose peer is Prometheus as the
    // server, in streamed_read).
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
    // Not only what promlite answers, but what was pushed: every sample, read back through
    // Prometheus by a range selector whose window (15 s before the first sample, the last]
    // holds them all.
    let path =
        format!("/api/v1/query?query={}&time={}", crate::util::enc("read_by_prometheus[900s]"), end_ms as f64 / 1000.0);
    let (status, json) = crate::util::get_json(prometheus.addr, &path);
    assert_eq!(status, 200, "{json}");
    let result = json["data"]["result"].as_array().unwrap();
    let jobs: Vec<&str> = result.iter().map(|s| s["metric"]["job"].as_str().unwrap()).collect();
    assert_eq!(jobs, ["a", "b"], "{json}");
    let bits = |points: Vec<(i64, f64)>| points.into_iter().map(|(t, v)| (t, v.to_bits())).collect::<Vec<_>>();
    for series in result {
        assert_eq!(series["metric"]["__name__"], "read_by_prometheus");
        assert_eq!(bits(crate::util::points(&series["values"])), bits(samples.clone()), "{}", series["metric"]);
    }
}
