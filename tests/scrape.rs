//! Scrape → store → query, end to end: the real binary scrapes fake targets over HTTP and
//! answers PromQL over its HTTP API with exact values and labels, known from what the targets
//! serve.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{FakeTarget, enc, eventually, get_json, http, start, write_config};

/// The `data` of the instant query `q` at `time` (Unix seconds).
fn query_at(addr: std::net::SocketAddr, q: &str, time: f64) -> Value {
    let (status, body) = get_json(addr, &format!("/api/v1/query?query={}&time={time}", enc(q)));
    assert_eq!(status, 200, "{q}: {body}");
    assert_eq!(body["status"], "success");
    body["data"].clone()
}

fn query(addr: std::net::SocketAddr, q: &str) -> Value {
    let (status, body) = get_json(addr, &format!("/api/v1/query?query={}", enc(q)));
    assert_eq!(status, 200, "{q}: {body}");
    assert_eq!(body["status"], "success");
    body["data"].clone()
}

#[test]
fn scrapes_a_static_target_and_answers_queries_exactly() {
    // A counter that grows by 10 per scrape, with its own timestamps one second apart from
    // `base_ms` on (a scrape's own time carries the scheduler's jitter, an exposed one does
    // not, and honor_timestamps is on by default); a constant counter and gauge, and labels
    // that clash with the target's `job` label. Whole seconds, two minutes back.
    let base_ms = (crate::remote_util::now_ms() / 1000 - 120) * 1000;
    let target = FakeTarget::start(move |n| {
        format!(
            "# HELP test_requests_total Requests.\n# TYPE test_requests_total counter\n\
             test_requests_total{{code=\"200\"}} {} {}\ntest_requests_total{{code=\"500\"}} 1\n\
             # TYPE test_gauge gauge\ntest_gauge{{job=\"inner\"}} 42.5\n",
            n * 10,
            base_ms + n as i64 * 1000
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fake\n    static_configs:\n      - targets: ['{}']\n        labels:\n          env: test\n",
            target.addr
        ),
    );
    let server = start(dir.path(), &[&config]);
    let instance = target.addr.to_string();

    // The third scrape is in: the rate below reads the first three.
    let at = |offset_ms: i64| (base_ms + offset_ms) as f64 / 1000.0;
    eventually(Duration::from_secs(60), || {
        let data = query_at(server.addr, "test_requests_total{code=\"200\"}", at(3500));
        match data["result"][0]["value"][1].as_str() {
            Some("30") => Ok(()),
            _ => Err(data.to_string()),
        }
    });

    let up = query(server.addr, "up");
    assert_eq!(up["resultType"], "vector");
    assert_eq!(up["result"].as_array().unwrap().len(), 1, "{up}");
    assert_eq!(
        up["result"][0]["metric"],
        json!({"__name__": "up", "env": "test", "instance": instance, "job": "fake"})
    );
    assert_eq!(up["result"][0]["value"][1], "1");

    let gauge = query(server.addr, "test_gauge");
    assert_eq!(
        gauge["result"][0]["metric"],
        json!({"__name__": "test_gauge", "env": "test", "exported_job": "inner", "instance": instance, "job": "fake"})
    );
    assert_eq!(gauge["result"][0]["value"][1], "42.5");

    // At a given time, the whole answer is known: the point is at that time.
    let now_s = crate::remote_util::now_ms() / 1000;
    let sum = query_at(server.addr, "sum by (job) (test_requests_total{code=\"500\"})", now_s as f64);
    assert_eq!(sum["result"], json!([{"metric": {"job": "fake"}, "value": [now_s, "1"]}]));

    // The window (0.5 s, 3.5 s] holds samples 1..3 (10, 20, 30), each end half a second from
    // its sample, under 1.1 sample intervals: rate() extrapolates to the whole window,
    // 20 * (3/2) / 3 = 10 per second (going back to zero would take a whole second, more than
    // the half it extrapolates by).
    let rate = query_at(server.addr, "rate(test_requests_total{code=\"200\"}[3s])", at(3500));
    assert_eq!(rate["result"][0]["value"][1], "10", "{rate}");

    let samples_scraped = query(server.addr, "scrape_samples_scraped");
    assert_eq!(samples_scraped["result"][0]["value"][1], "3");

    assert!(target.requests.load(std::sync::atomic::Ordering::SeqCst) >= 3);
    // The scrape carried Prometheus's headers.
    let request = target.last_request.lock().unwrap().to_ascii_lowercase();
    assert!(request.contains("user-agent: promlite/"), "{request}");
    assert!(request.contains("x-prometheus-scrape-timeout-seconds: 1"), "{request}");
    // Prometheus 3's header for its default scrape_protocols, in the order of the 3.14 docs
    // (configuration.md, scrape_protocols), each with the q-value of 3.14's scrape.go
    // `acceptHeader`: from 0.6, one more tenth than the five protocols it knows. Debian's 2.42
    // is no oracle here: it predates scrape_protocols and the 1.0.0 text format.
    let accept = "accept: application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2";
    assert!(request.contains(accept), "{request}");
}

#[test]
fn range_query_series_labels_and_targets_api() {
    let target = FakeTarget::start(|_| "hits_total 7\n".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "scrape_configs:\n  - job_name: app\n    scrape_interval: 1s\n    scrape_timeout: 1s\n    static_configs:\n      - targets: ['{}', '127.0.0.1:1']\n",
            target.addr
        ),
    );
    let server = start(dir.path(), &[&config]);
    eventually(Duration::from_secs(20), || {
        let data = query(server.addr, "hits_total");
        if data["result"].as_array().is_some_and(|r| !r.is_empty()) { Ok(()) } else { Err(data.to_string()) }
    });

    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let (status, range) = get_json(
        server.addr,
        &format!("/api/v1/query_range?query=hits_total&start={}&end={}&step=1", now - 5, now + 1),
    );
    assert_eq!(status, 200, "{range}");
    assert_eq!(range["data"]["resultType"], "matrix");
    // Every step from the first scrape on (the lookback reaches back to it), through `end`.
    let points = crate::util::points(&range["data"]["result"][0]["values"]);
    let first = points.first().map_or(0, |p| p.0);
    let steps: Vec<(i64, f64)> = (first / 1000..=now as i64 + 1).map(|t| (t * 1000, 7.0)).collect();
    assert!(!points.is_empty() && first >= (now as i64 - 5) * 1000, "{points:?}");
    assert_eq!(points, steps);

    // POST with a form body works like GET.
    let posted =
        http(server.addr, "POST", "/api/v1/query", Some(("application/x-www-form-urlencoded", "query=hits_total")));
    assert_eq!(posted.status, 200, "{}", posted.body);
    assert!(posted.headers.to_ascii_lowercase().contains("content-type: application/json"), "{}", posted.headers);

    let (_, series) =
        get_json(server.addr, &format!("/api/v1/series?match[]={}", enc("{job=\"app\",__name__=~\"hits.*\"}")));
    assert_eq!(series["data"], json!([{"__name__": "hits_total", "instance": target.addr.to_string(), "job": "app"}]));
    let (_, values) = get_json(server.addr, "/api/v1/label/job/values");
    assert_eq!(values["data"], json!(["app"]));

    // The unreachable target is down with a reason a person can act on.
    let down = eventually(Duration::from_secs(20), || {
        let (_, targets) = get_json(server.addr, "/api/v1/targets?state=active");
        let active = targets["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
        active
            .into_iter()
            .find(|t| t["labels"]["instance"] == "127.0.0.1:1" && t["health"] == "down")
            .ok_or_else(|| targets.to_string())
    });
    assert!(down["lastError"].as_str().unwrap().contains("connection refused"), "{down}");
    assert_eq!(down["scrapePool"], "app");
    assert_eq!(down["scrapeInterval"], "1s");
    let up_of_down = query(server.addr, "up{instance=\"127.0.0.1:1\"}");
    assert_eq!(up_of_down["result"][0]["value"][1], "0");

    let page = http(server.addr, "GET", "/targets", None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("app (1/2 up)"), "{}", page.body);
}

#[test]
fn scalar_envelope_health_and_self_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "scrape_configs: []\n");
    let server = start(dir.path(), &[&config]);

    // Error answers are compared with Prometheus's in `api::errors_answer_as_prometheus_does`.
    let (status, body) = get_json(server.addr, "/api/v1/query?query=1%2B1&time=100");
    assert_eq!(status, 200);
    assert_eq!(body["data"], json!({"resultType": "scalar", "result": [100, "2"]}));

    assert_eq!(http(server.addr, "GET", "/-/healthy", None).status, 200);
    assert_eq!(http(server.addr, "GET", "/-/ready", None).status, 200);
    let metrics = http(server.addr, "GET", "/metrics", None);
    for name in [
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "prometheus_tsdb_head_series",
        "prometheus_tsdb_head_samples_appended_total",
    ] {
        assert!(metrics.body.contains(name), "{name} missing from /metrics");
    }
}
