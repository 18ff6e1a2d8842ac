//! The binary's command line: flags, the built-in config, `check config`, and start-up errors.

use std::process::Command;
use std::time::Duration;

use crate::util::{binary, eventually, get_json, start, start_fails};

#[test]
fn without_a_config_file_it_scrapes_itself() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    assert!(
        server.log.lock().unwrap().iter().any(|l| l.contains("using the built-in config")),
        "the built-in config is announced in the log"
    );
    // The built-in job scrapes every 15s; the first scrape lands within one interval.
    let up = eventually(Duration::from_secs(25), || {
        let (_, body) = get_json(server.addr, "/api/v1/query?query=up");
        body["data"]["result"].as_array().and_then(|r| r.first().cloned()).ok_or_else(|| body.to_string())
    });
    assert_eq!(up["metric"]["job"], "promlite");
    assert_eq!(up["value"][1], "1");
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let output = Command::new(binary()).arg("--no-such.flag").output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--no-such.flag"));
}

#[test]
fn flags_accept_both_spellings_and_version_prints() {
    let output = Command::new(binary()).arg("--version").output().unwrap();
    assert!(output.status.success());
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("promlite "));
    let output = Command::new(binary()).args(["--query.max-samples", "x"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "a bad flag value is a usage error");
    let output = Command::new(binary()).args(["--storage.tsdb.retention.time=1.5h"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2), "Prometheus durations have no fractions");
}

#[test]
fn bad_config_file_names_file_line_and_column_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yml");
    std::fs::write(
        &path,
        "global:\n  scrape_interval: 15s\nscrape_configs:\n  - job_name: a\n    scrape_intervall: 5s\n",
    )
    .unwrap();
    let stderr =
        start_fails(dir.path(), &[&format!("--config.file={}", path.display()), "--web.listen-address=127.0.0.1:0"]);
    assert!(stderr.contains(&format!("{}:5:", path.display())), "{stderr}");
    assert!(stderr.contains("scrape_intervall"), "{stderr}");
    assert!(!stderr.contains("server is ready"), "{stderr}");

    let missing = dir.path().join("missing.yml");
    let stderr = start_fails(dir.path(), &[&format!("--config.file={}", missing.display())]);
    // The path and the reason once each (issue #16 item 5: the reason was repeated as a cause).
    assert_eq!(stderr.matches("missing.yml").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");
}

#[test]
fn check_config_exits_0_or_1_like_promtool() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.yml");
    std::fs::write(&good, "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: ['x:1']}]\n").unwrap();
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "scrape_configs:\n  - job_name: a\n  - job_name: a\n").unwrap();
    let output = Command::new(binary()).args(["check", "config"]).arg(&good).output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    assert!(String::from_utf8_lossy(&output.stdout).contains("SUCCESS"));
    let output = Command::new(binary()).args(["check", "config"]).arg(&good).arg(&bad).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("FAILED") && stdout.contains("\"a\""), "{stdout}");
}

#[test]
fn port_in_use_is_a_clear_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let stderr = start_fails(
        dir.path(),
        &[
            &format!("--web.listen-address={addr}"),
            &format!("--storage.tsdb.path={}", dir.path().join("data").display()),
        ],
    );
    assert!(stderr.contains(&addr.to_string()) && stderr.contains("in use"), "{stderr}");
}

/// Every flag in Prometheus 3.14's flag table (`docs/command-line/prometheus.md`), given at
/// once with its documented default (or a value that fits here): promlite starts, the flags it
/// does not act on are logged once, and none is refused.
#[test]
fn every_flag_of_prometheus_3_14_is_accepted() {
    let doc =
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/upstream/prometheus-v3.14.0/docs/command-line/prometheus.md");
    let Ok(doc) = std::fs::read_to_string(doc) else {
        promlite_testkit::missing(&format!("{doc} (../shared/upstream)"));
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
    std::fs::write(dir.path().join("web.yml"), "{}\n").unwrap();
    let here = |name: &str| dir.path().join(name).display().to_string();
    let mut args = Vec::new();
    let mut names = Vec::new();
    let mut not_given = Vec::new();
    for row in doc.lines().filter(|l| l.starts_with("| <code class=\"text-nowrap\">--")) {
        let name =
            row.split("<code class=\"text-nowrap\">").nth(1).unwrap().split(['<', ' ']).next().unwrap().to_owned();
        // The default is the last cell (the description may hold `|` inside code).
        let default = row.trim_end().trim_end_matches('|').rsplit('|').next().unwrap().trim().trim_matches('`');
        let value = match name.as_str() {
            // Set by the test harness, or actions rather than settings.
            "--web.listen-address" | "--storage.tsdb.path" | "--version" | "--help" => {
                not_given.push(name);
                continue;
            }
            "--config.file" => here("prometheus.yml"),
            "--web.config.file" => here("web.yml"),
            "--web.external-url" => "http://localhost:9090/".to_owned(),
            "--web.route-prefix" => "/".to_owned(),
            "--web.user-assets" | "--storage.agent.path" => here("assets"),
            "--storage.tsdb.delay-compact-file.path" => here("delay"),
            "--storage.tsdb.retention.time" => "15d".to_owned(),
            "--storage.tsdb.retention.size" => "0".to_owned(),
            "--web.cors.origin" => ".*".to_owned(),
            "--enable-feature" => "exemplar-storage,memory-snapshot-on-shutdown".to_owned(),
            "--agent" => "false".to_owned(),
            _ if default.is_empty() => panic!("no value for {name}: the table gives no default; add one here"),
            _ => default.to_owned(),
        };
        names.push(name.clone());
        args.push(format!("{name}={value}"));
    }
    // 3.14's table has 57 rows starting with a long flag (`grep -c '^| <code class="text-nowrap">--'`;
    // `-h, --help` starts with the short one): fewer read means the doc's format was misread.
    not_given.sort();
    assert_eq!(not_given, ["--storage.tsdb.path", "--version", "--web.listen-address"]);
    assert_eq!(names.len() + not_given.len(), 57, "flags read from the table: {names:?}");
    let data = dir.path().join("data");
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = crate::util::start_with_data(dir.path(), &data, &refs);
    let log = server.log.lock().unwrap().join("\n");
    assert!(log.contains("accepted, has no effect in promlite"), "{log}");
    assert!(log.contains("--rules.max-concurrent-evals=4"), "inert flags are named: {log}");
    assert!(!log.contains("--rules.alert.resend-delay"), "acted-on flags are not called inert: {log}");
    assert!(!log.contains("--alertmanager."), "the notifier acts on its flags: {log}");
    let (status, flags) = get_json(server.addr, "/api/v1/status/flags");
    assert_eq!(status, 200);
    assert_eq!(flags["data"]["alertmanager.notification-queue-capacity"], "10000");
    assert_eq!(flags["data"]["alertmanager.notification-batch-size"], "256");
    assert_eq!(flags["data"]["alertmanager.drain-notification-queue-on-shutdown"], "true");
    assert_eq!(flags["data"]["storage.remote.read-sample-limit"], "50000000", "5e7 is a count");
}

/// The argument lists real deployments pass start promlite unchanged and are acted on:
/// prometheus-operator's StatefulSet (its `pkg/prometheus/promcfg.go` and `server/statefulset.go`
/// build this list, with every optional field of the Prometheus resource set) and the
/// prometheus-community Helm chart's defaults.
#[test]
fn the_operator_s_and_the_helm_chart_s_arguments_start_promlite() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("config_out")).unwrap();
    std::fs::create_dir_all(dir.path().join("web_config")).unwrap();
    let config = dir.path().join("config_out/prometheus.env.yaml");
    std::fs::write(&config, "global:\n  scrape_interval: 30s\n  external_labels:\n    prometheus: monitoring/k8s\n")
        .unwrap();
    let web_config = dir.path().join("web_config/web-config.yaml");
    // The operator writes a web config even without TLS or auth: headers only.
    std::fs::write(&web_config, "http_server_config:\n  headers:\n    X-Frame-Options: deny\n").unwrap();
    let operator: Vec<String> = [
        format!("--config.file={}", config.display()),
        "--web.console.templates=/etc/prometheus/consoles".to_owned(),
        "--web.console.libraries=/etc/prometheus/console_libraries".to_owned(),
        "--web.enable-lifecycle".to_owned(),
        "--web.page-title=Prometheus".to_owned(),
        "--web.max-connections=512".to_owned(),
        "--web.enable-remote-write-receiver".to_owned(),
        "--enable-feature=exemplar-storage,extra-scrape-metrics".to_owned(),
        "--web.external-url=http://prometheus.example/".to_owned(),
        "--web.route-prefix=/".to_owned(),
        "--log.level=info".to_owned(),
        "--log.format=logfmt".to_owned(),
        "--storage.tsdb.max-block-duration=2h".to_owned(),
        "--storage.tsdb.min-block-duration=2h".to_owned(),
        "--storage.tsdb.retention.time=24h".to_owned(),
        "--storage.tsdb.retention.size=512MB".to_owned(),
        "--web.enable-admin-api".to_owned(),
        "--rules.alert.for-outage-tolerance=1h".to_owned(),
        "--rules.alert.for-grace-period=10m".to_owned(),
        "--rules.alert.resend-delay=2m".to_owned(),
        "--query.lookback-delta=5m".to_owned(),
        "--query.max-samples=50000000".to_owned(),
        "--query.max-concurrency=20".to_owned(),
        "--query.timeout=2m".to_owned(),
        "--storage.tsdb.no-lockfile".to_owned(),
        "--storage.tsdb.wal-compression".to_owned(),
        format!("--web.config.file={}", web_config.display()),
    ]
    .into();
    let refs: Vec<&str> = operator.iter().map(String::as_str).collect();
    let server = start(dir.path(), &refs);
    let (status, flags) = get_json(server.addr, "/api/v1/status/flags");
    assert_eq!(status, 200);
    for (name, value) in [
        ("web.external-url", "http://prometheus.example/"),
        ("storage.tsdb.retention.time", "1d"),
        ("rules.alert.resend-delay", "2m"),
        ("query.max-concurrency", "20"),
        ("web.max-connections", "512"),
    ] {
        assert_eq!(flags["data"][name], value, "{name}: {flags}");
    }
    let reload = crate::util::http(server.addr, "POST", "/-/reload", None);
    assert_eq!(reload.status, 200, "lifecycle is on: {}", reload.body);
    assert!(
        reload.headers.to_ascii_lowercase().contains("x-frame-options: deny"),
        "web config read: {}",
        reload.headers
    );
    drop(server);

    let helm = dir.path().join("helm.yml");
    std::fs::write(&helm, "global:\n  scrape_interval: 1m\n").unwrap();
    let args = [
        "--storage.tsdb.retention.time=15d".to_owned(),
        format!("--config.file={}", helm.display()),
        "--web.console.libraries=/etc/prometheus/console_libraries".to_owned(),
        "--web.console.templates=/etc/prometheus/consoles".to_owned(),
        "--web.enable-lifecycle".to_owned(),
    ];
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = start(dir.path(), &refs);
    let (_, flags) = get_json(server.addr, "/api/v1/status/flags");
    assert_eq!(flags["data"]["storage.tsdb.retention.time"], "15d");
}
