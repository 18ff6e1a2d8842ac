//! Scrape → store → query, end to end: the real binary scrapes fake targets over HTTP and
//! answers PromQL over its HTTP API with exact values and labels.

use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{FakeTarget, enc, eventually, get_json, http, start, write_config};

fn query(addr: std::net::SocketAddr, q: &str) -> Value {
    let (status, body) = get_json(addr, &format!("/api/v1/query?query={}", enc(q)));
    assert_eq!(status, 200, "{q}: {body}");
    assert_eq!(body["status"], "success");
    body["data"].clone()
}

#[test]
fn scrapes_a_static_target_and_answers_queries_exactly() {
    // A counter that grows by 10 per scrape, a constant gauge, and labels that clash with
    // the target's `job` label.
    let target = FakeTarget::start(|n| {
        format!(
            "# HELP test_requests_total Requests.\n# TYPE test_requests_total counter\n\
             test_requests_total{{code=\"200\"}} {}\ntest_requests_total{{code=\"500\"}} 1\n\
             # TYPE test_gauge gauge\ntest_gauge{{job=\"inner\"}} 42.5\n",
            n * 10
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

    eventually(Duration::from_secs(20), || {
        let data = query(server.addr, "count_over_time(up[1m])");
        match data["result"][0]["value"][1].as_str() {
            Some(n) if n.parse::<f64>().unwrap_or(0.0) >= 2.0 => Ok(()),
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

    let sum = query(server.addr, "sum by (job) (test_requests_total{code=\"500\"})");
    assert_eq!(sum["result"], json!([{"metric": {"job": "fake"}, "value": sum["result"][0]["value"].clone()}]));
    assert_eq!(sum["result"][0]["value"][1], "1");

    // The counter grows 10 per second-spaced scrape: its rate is positive and finite.
    let rate = query(server.addr, "rate(test_requests_total{code=\"200\"}[1m])");
    let rate: f64 = rate["result"][0]["value"][1].as_str().unwrap().parse().unwrap();
    assert!(rate > 0.0 && rate.is_finite(), "rate = {rate}");

    let samples_scraped = query(server.addr, "scrape_samples_scraped");
    assert_eq!(samples_scraped["result"][0]["value"][1], "3");

    assert!(target.requests.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    // The scrape carried Prometheus's headers.
    let request = target.last_request.lock().unwrap().to_ascii_lowercase();
    assert!(request.contains("user-agent: promlite/"), "{request}");
    assert!(request.contains("x-prometheus-scrape-timeout-seconds: 1"), "{request}");
    // Prometheus 3's header for its default scrape_protocols.
    let accept = "accept: application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
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
    let values = range["data"]["result"][0]["values"].as_array().unwrap();
    assert!(!values.is_empty());
    assert!(values.iter().all(|p| p[1] == "7"), "{values:?}");

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
fn api_errors_use_prometheus_envelope_and_status_codes() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "scrape_configs: []\n");
    let server = start(dir.path(), &[&config]);

    let (status, body) = get_json(server.addr, "/api/v1/query?query=sum(");
    assert_eq!(status, 400);
    assert_eq!(body["status"], "error");
    assert_eq!(body["errorType"], "bad_data");

    let (status, body) = get_json(server.addr, "/api/v1/query?query=up&time=yesterday");
    assert_eq!(status, 400);
    // Prometheus 3's parseTimeParam wording (web/api/v1/api.go).
    assert_eq!(
        body["error"],
        "invalid parameter \"time\": invalid time value for 'time': cannot parse \"yesterday\" to a valid timestamp"
    );

    let (status, body) = get_json(server.addr, "/api/v1/query_range?query=up&start=10&end=5&step=1");
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid parameter \"end\": end timestamp must not be before start time");

    let (status, body) = get_json(server.addr, "/api/v1/series");
    assert_eq!(status, 400);
    assert_eq!(body["error"], "no match[] parameter provided");

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
