//! The scrape engine end to end: relabeling, dropped-target reasons, metric relabeling, limits,
//! every kind of failing target, authentication and TLS, each against a real HTTP(S) server.

use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use serde_json::{Value, json};

use crate::util::{
    FakeResponse, FakeTarget, Server, eventually, get_json, query_result, serve_one, start, test_certificates,
    write_config,
};

/// Waits until every active target of the server has been scraped at least once.
fn targets_after_first_scrape(server: &Server, expected: usize) -> Vec<Value> {
    eventually(Duration::from_secs(20), || {
        let (_, body) = get_json(server.addr, "/api/v1/targets?state=active");
        let active = body["data"]["activeTargets"].as_array().cloned().unwrap_or_default();
        if active.len() == expected && active.iter().all(|t| t["health"] != "unknown") {
            Ok(active)
        } else {
            Err(body.to_string())
        }
    })
}

#[test]
fn relabeling_shapes_targets_and_series_and_dropped_targets_say_why() {
    let target = FakeTarget::start(|_| {
        "keep_me{path=\"/a\"} 1\ndrop_me 2\ngo_goroutines 7\nrenamed_total{code=\"200\"} 3\n".to_owned()
    });
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            r#"scrape_configs:
  - job_name: app
    scrape_interval: 1s
    static_configs:
      - targets: ['{addr}']
        labels: {{team: core, __meta_zone: eu}}
      - targets: ['{addr}']
        labels: {{team: dropme}}
    relabel_configs:
      - {{source_labels: [team], regex: dropme, action: drop}}
      - {{source_labels: [__meta_zone], target_label: zone}}
      - {{source_labels: [__address__], regex: '(.*):(.*)', target_label: port, replacement: '$2'}}
    metric_relabel_configs:
      - {{source_labels: [__name__], regex: 'drop_me|go_.*', action: drop}}
      - {{source_labels: [__name__], regex: 'renamed_total', target_label: __name__, replacement: requests_total}}
"#,
            addr = target.addr
        ),
    );
    let server = start(dir.path(), &[&config]);
    let active = targets_after_first_scrape(&server, 1);
    let port = target.addr.port().to_string();
    assert_eq!(
        active[0]["labels"],
        json!({"instance": target.addr.to_string(), "job": "app", "port": port, "team": "core", "zone": "eu"})
    );
    assert_eq!(active[0]["discoveredLabels"]["__meta_zone"], "eu");

    let (_, dropped) = get_json(server.addr, "/api/v1/targets?state=dropped");
    let dropped = &dropped["data"]["droppedTargets"][0];
    assert_eq!(dropped["discoveredLabels"]["team"], "dropme");
    assert_eq!(
        dropped["dropReason"],
        "dropped by relabel rule #1 (action: drop, source_labels: [team], regex: \"dropme\")"
    );

    assert_eq!(query_result(server.addr, "keep_me").len(), 1);
    assert!(query_result(server.addr, "drop_me").is_empty());
    assert!(query_result(server.addr, "go_goroutines").is_empty());
    assert_eq!(query_result(server.addr, "requests_total")[0]["metric"]["code"], "200");
    let post = query_result(server.addr, "scrape_samples_post_metric_relabeling");
    let scraped = query_result(server.addr, "scrape_samples_scraped");
    assert_eq!((scraped[0]["value"][1].as_str(), post[0]["value"][1].as_str()), (Some("4"), Some("2")));
}

/// One failing target per failure class, each with its own error text, all `up == 0`, and a
/// healthy target beside them that keeps being scraped.
#[test]
fn failing_targets_are_down_with_a_reason_and_never_hurt_the_others() {
    let healthy = FakeTarget::start(|n| format!("ok_total {n}\n"));
    let slow =
        FakeTarget::start_with(|_, _| FakeResponse { delay: Duration::from_secs(3), ..FakeResponse::text("a 1\n") });
    let error = FakeTarget::start_with(|_, _| FakeResponse { status: 500, ..FakeResponse::text("oops") });
    let garbage = FakeTarget::start(|_| "up 1\nthis is { not metrics\n".to_owned());
    let huge = FakeTarget::start(|_| "x 1\n".repeat(10_000));
    let many = FakeTarget::start(|_| (0..20).map(|i| format!("m{{i=\"{i}\"}} 1\n")).collect());
    let long_label = FakeTarget::start(|_| format!("l{{v=\"{}\"}} 1\n", "x".repeat(300)));
    let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let job = |name: &str, addr: std::net::SocketAddr, extra: &str| {
        format!(
            "  - job_name: {name}\n    scrape_interval: 2s\n    scrape_timeout: 1s\n{extra}    static_configs: [{{targets: ['{addr}']}}]\n"
        )
    };
    let config = write_config(
        dir.path(),
        &format!(
            "scrape_configs:\n{}{}{}{}{}{}{}{}",
            job("healthy", healthy.addr, ""),
            job("slow", slow.addr, ""),
            job("error", error.addr, ""),
            job("garbage", garbage.addr, ""),
            job("huge", huge.addr, "    body_size_limit: 1KB\n"),
            job("many", many.addr, "    sample_limit: 10\n"),
            job("long_label", long_label.addr, "    label_value_length_limit: 100\n"),
            job("refused", refused, ""),
        ),
    );
    let server = start(dir.path(), &[&config]);
    let active = targets_after_first_scrape(&server, 8);
    let error_of = |job: &str| {
        let target = active.iter().find(|t| t["scrapePool"] == job).unwrap_or_else(|| panic!("no target for {job}"));
        (target["health"].as_str().unwrap().to_owned(), target["lastError"].as_str().unwrap().to_owned())
    };
    assert_eq!(error_of("healthy"), ("up".to_owned(), String::new()));
    let expectations = [
        ("slow", "context deadline exceeded"),
        ("error", "server returned HTTP status 500 Internal Server Error"),
        ("garbage", "line 2"),
        ("huge", "body size limit exceeded"),
        ("many", "sample limit exceeded"),
        ("long_label", "label_value_length_limit exceeded (metric: l, label name: v"),
        ("refused", "connection refused"),
    ];
    for (job, text) in expectations {
        let (health, error) = error_of(job);
        assert_eq!(health, "down", "{job}: {error}");
        assert!(error.contains(text), "{job}: {error:?} should contain {text:?}");
        let up = query_result(server.addr, &format!("up{{job=\"{job}\"}}"));
        assert_eq!(up[0]["value"][1], "0", "{job}");
    }
    // A failed scrape stores nothing from its body: the sample limit rolls back the whole scrape.
    assert!(query_result(server.addr, "m").is_empty());
    // The healthy target kept its pace while the slow one timed out.
    eventually(Duration::from_secs(10), || {
        let n = healthy.requests.load(std::sync::atomic::Ordering::SeqCst);
        if n >= 3 { Ok(()) } else { Err(format!("{n} scrapes")) }
    });
}

#[test]
fn basic_auth_and_bearer_token_files_are_sent_and_reread() {
    let target = FakeTarget::start_with(|_, head| {
        let head = head.to_ascii_lowercase();
        // "user:pass" in base64, and the token file's current contents.
        let basic = head.contains("authorization: basic dxnlcjpwyxnz");
        let bearer = head.contains("authorization: bearer token-2");
        if basic || bearer {
            FakeResponse::text("authed 1\n")
        } else {
            FakeResponse { status: 401, ..FakeResponse::text("") }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("password"), "pass\n").unwrap();
    std::fs::write(dir.path().join("token"), "token-1").unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "scrape_configs:\n  - job_name: basic\n    scrape_interval: 1s\n    basic_auth: {{username: user, password_file: password}}\n    static_configs: [{{targets: ['{addr}']}}]\n  - job_name: bearer\n    scrape_interval: 1s\n    authorization: {{credentials_file: token}}\n    static_configs: [{{targets: ['{addr}']}}]\n",
            addr = target.addr
        ),
    );
    let server = start(dir.path(), &[&config]);
    let active = targets_after_first_scrape(&server, 2);
    let bearer = active.iter().find(|t| t["scrapePool"] == "bearer").unwrap();
    assert_eq!(bearer["lastError"], "server returned HTTP status 401 Unauthorized");
    let basic = active.iter().find(|t| t["scrapePool"] == "basic").unwrap();
    assert_eq!(basic["health"], "up");
    // A rotated token is used at the next scrape, with no reload.
    std::fs::write(dir.path().join("token"), "token-2\n").unwrap();
    eventually(Duration::from_secs(10), || {
        let up = query_result(server.addr, "up{job=\"bearer\"}");
        if up.first().is_some_and(|s| s["value"][1] == "1") { Ok(()) } else { Err(format!("{up:?}")) }
    });
}

/// A TLS target with a certificate from a test CA: trusted through `tls_config.ca_file`, and
/// refused with a TLS reason without it.
#[test]
fn tls_targets_are_verified_against_the_configured_ca() {
    let certificates = test_certificates(&["localhost"]);
    let server_config = Arc::clone(&certificates.server_config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (count, last) = (Arc::new(AtomicU64::new(0)), Arc::new(std::sync::Mutex::new(String::new())));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let (server_config, count, last) = (Arc::clone(&server_config), Arc::clone(&count), Arc::clone(&last));
            std::thread::spawn(move || {
                let connection = rustls::ServerConnection::new(server_config).unwrap();
                let tls = rustls::StreamOwned::new(connection, stream);
                serve_one(tls, &count, &last, &|_, _| FakeResponse::text("secure 1\n"));
            });
        }
    });

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.pem"), &certificates.ca_pem).unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "scrape_configs:\n  - job_name: trusted\n    scheme: https\n    scrape_interval: 1s\n    tls_config: {{ca_file: ca.pem}}\n    static_configs: [{{targets: ['localhost:{port}']}}]\n  - job_name: untrusted\n    scheme: https\n    scrape_interval: 1s\n    static_configs: [{{targets: ['localhost:{port}']}}]\n  - job_name: by_ip\n    scheme: https\n    scrape_interval: 1s\n    tls_config: {{ca_file: ca.pem, server_name: localhost}}\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n  - job_name: wrong_name\n    scheme: https\n    scrape_interval: 1s\n    tls_config: {{ca_file: ca.pem, server_name: other.example}}\n    static_configs: [{{targets: ['127.0.0.1:{port}']}}]\n"
        ),
    );
    let server = start(dir.path(), &[&config]);
    let active = targets_after_first_scrape(&server, 4);
    let of = |job: &str| active.iter().find(|t| t["scrapePool"] == job).unwrap().clone();
    // tls_config.server_name: an IP target verified against the certificate's name.
    assert_eq!(of("by_ip")["health"], "up", "{}", of("by_ip"));
    let wrong = of("wrong_name");
    assert!(
        wrong["lastError"].as_str().unwrap().starts_with("TLS handshake failed: invalid peer certificate"),
        "{wrong}"
    );
    assert_eq!(of("trusted")["health"], "up", "{}", of("trusted"));
    assert_eq!(of("trusted")["scrapeUrl"], format!("https://localhost:{port}/metrics"));
    let untrusted = of("untrusted");
    assert_eq!(untrusted["health"], "down");
    let error = untrusted["lastError"].as_str().unwrap();
    assert!(error.starts_with("TLS handshake failed: invalid peer certificate"), "{error}");
    let jobs: Vec<String> =
        query_result(server.addr, "secure").iter().map(|s| s["metric"]["job"].as_str().unwrap().to_owned()).collect();
    assert_eq!(jobs, ["by_ip", "trusted"]);
}

/// 1000 targets on loopback, every 2s: no target misses a scrape. Timestamps are taken when a
/// scrape starts, so a late tick shows as a longer gap and the next as a shorter one; a missed
/// tick shows as a gap of two intervals. How close to 2s the gaps are is a benchmark's business,
/// not a test's: a loaded machine would make it flaky.
#[test]
fn a_thousand_targets_keep_their_interval() {
    let target = FakeTarget::start(|_| "load 1\n".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let labels: Vec<String> =
        (0..1000).map(|i| format!("      - targets: ['{}']\n        labels: {{i: '{i}'}}\n", target.addr)).collect();
    let config = write_config(
        dir.path(),
        &format!(
            "scrape_configs:\n  - job_name: many\n    scrape_interval: 2s\n    static_configs:\n{}",
            labels.concat()
        ),
    );
    let server = start(dir.path(), &[&config]);
    let series = eventually(Duration::from_secs(30), || {
        let result = query_result(server.addr, "up{job=\"many\"}[9s]");
        let enough =
            result.len() == 1000 && result.iter().all(|s| s["values"].as_array().is_some_and(|v| v.len() >= 4));
        if enough { Ok(result) } else { Err(format!("{} series, waiting for 4 scrapes each", result.len())) }
    });
    let mut worst = (i64::MAX, i64::MIN);
    for s in &series {
        let times: Vec<i64> =
            s["values"].as_array().unwrap().iter().map(|p| (p[0].as_f64().unwrap() * 1000.0).round() as i64).collect();
        for gap in times.windows(2).map(|w| w[1] - w[0]) {
            worst = (worst.0.min(gap), worst.1.max(gap));
        }
        assert!(s["values"].as_array().unwrap().iter().all(|p| p[1] == "1"), "{s}");
    }
    assert!(worst.0 > 0 && worst.1 < 4_000, "scrape gaps ranged {worst:?} ms: a scrape was missed (interval 2000)");
}

/// Content negotiation: the Accept header lists Prometheus 3's protocols, OpenMetrics answers
/// are parsed as such, and a wrong Content-Type is sniffed and scraped with a warning.
#[test]
fn content_type_negotiation_and_sniffing() {
    let openmetrics = FakeTarget::start_with(|_, _| FakeResponse {
        content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8".to_owned(),
        ..FakeResponse::text(
            "# TYPE om_requests counter\n# UNIT om_requests requests\nom_requests_total 5 1.5\n# EOF\n",
        )
    });
    let html = FakeTarget::start_with(|_, _| FakeResponse {
        content_type: "text/html; charset=utf-8".to_owned(),
        ..FakeResponse::text("mislabelled_metric 3\n")
    });
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "scrape_configs:\n  - job_name: om\n    scrape_interval: 1s\n    honor_timestamps: false\n    static_configs: [{{targets: ['{}']}}]\n  - job_name: html\n    scrape_interval: 1s\n    static_configs: [{{targets: ['{}']}}]\n",
            openmetrics.addr, html.addr
        ),
    );
    let server = start(dir.path(), &[&config]);
    let active = targets_after_first_scrape(&server, 2);
    let accept = openmetrics.last_request.lock().unwrap().to_ascii_lowercase();
    assert!(accept.contains("accept: application/openmetrics-text;version=1.0.0"), "{accept}");
    assert_eq!(query_result(server.addr, "om_requests_total")[0]["value"][1], "5");
    let html_target = active.iter().find(|t| t["scrapePool"] == "html").unwrap();
    assert_eq!(html_target["health"], "up", "{html_target}");
    let warning = html_target["scrapeWarning"].as_str().unwrap_or_default();
    assert!(warning.contains("text/html"), "{html_target}");
    assert_eq!(query_result(server.addr, "mislabelled_metric")[0]["value"][1], "3");
    let (_, metadata) = get_json(server.addr, "/api/v1/metadata?metric=om_requests");
    assert_eq!(metadata["data"]["om_requests"][0]["unit"], "requests");
}
