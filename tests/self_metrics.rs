//! Prometheus's own dashboards and alerts have data on promlite: the queries of the
//! prometheus-mixin's "Prometheus Overview" and "Remote Write" dashboards and of its
//! Prometheus alerts (which kube-prometheus ships), reconstructed with the selectors reduced to
//! one job, evaluated on a promlite that scrapes itself and remote-writes to a sink.
//!
//! An alert's query is checked without its threshold (`> 0`, `== 0`): what must hold is that
//! the series it compares exist, not that the alert fires.

use std::io::{BufReader, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

use crate::remote_util::{External, PROMETHEUS, PROMTOOL, free_port, have, read_request};
use crate::util::{enc, eventually, get_json, http, start, write_config};

/// Alert name (or dashboard panel) and the query that must return data.
const QUERIES: &[(&str, &str)] = &[
    // Alerts.
    ("PrometheusBadConfig", r#"max_over_time(prometheus_config_last_reload_successful{job="prometheus"}[5m])"#),
    (
        "PrometheusKubernetesListWatchFailures",
        r#"increase(prometheus_sd_kubernetes_failures_total{job="prometheus"}[5m])"#,
    ),
    ("PrometheusTSDBReloadsFailing", r#"increase(prometheus_tsdb_reloads_failures_total{job="prometheus"}[3h])"#),
    ("PrometheusTSDBCompactionsFailing", r#"increase(prometheus_tsdb_compactions_failed_total{job="prometheus"}[3h])"#),
    (
        "PrometheusNotIngestingSamples",
        r#"sum without(type) (rate(prometheus_tsdb_head_samples_appended_total{job="prometheus"}[5m])) and sum without(scrape_job) (prometheus_target_metadata_cache_entries{job="prometheus"}) > 0"#,
    ),
    (
        "PrometheusDuplicateTimestamps",
        r#"rate(prometheus_target_scrapes_sample_duplicate_timestamp_total{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusOutOfOrderTimestamps",
        r#"rate(prometheus_target_scrapes_sample_out_of_order_total{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusRemoteStorageFailures",
        r#"(rate(prometheus_remote_storage_failed_samples_total{job="prometheus"}[5m]) or rate(prometheus_remote_storage_samples_failed_total{job="prometheus"}[5m])) / ((rate(prometheus_remote_storage_failed_samples_total{job="prometheus"}[5m]) or rate(prometheus_remote_storage_samples_failed_total{job="prometheus"}[5m])) + (rate(prometheus_remote_storage_succeeded_samples_total{job="prometheus"}[5m]) or rate(prometheus_remote_storage_samples_total{job="prometheus"}[5m])))"#,
    ),
    (
        "PrometheusRemoteWriteBehind",
        r#"max_over_time(prometheus_remote_storage_queue_highest_timestamp_seconds{job="prometheus"}[5m]) - max_over_time(prometheus_remote_storage_queue_highest_sent_timestamp_seconds{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusRemoteWriteDesiredShards",
        r#"max_over_time(prometheus_remote_storage_shards_desired{job="prometheus"}[5m]) - max_over_time(prometheus_remote_storage_shards_max{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusNotificationQueueRunningFull (queue length)",
        r#"predict_linear(prometheus_notifications_queue_length{job="prometheus"}[5m], 60 * 30)"#,
    ),
    (
        "PrometheusNotificationQueueRunningFull (capacity)",
        r#"min_over_time(prometheus_notifications_queue_capacity{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusErrorSendingAlertsToSomeAlertmanagers",
        r#"(rate(prometheus_notifications_errors_total{job="prometheus"}[5m]) / rate(prometheus_notifications_sent_total{job="prometheus"}[5m])) * 100"#,
    ),
    (
        "PrometheusErrorSendingAlertsToAnyAlertmanager",
        r#"min without (alertmanager) (rate(prometheus_notifications_errors_total{job="prometheus",alertmanager!~``}[5m]) / rate(prometheus_notifications_sent_total{job="prometheus",alertmanager!~``}[5m])) * 100"#,
    ),
    (
        "PrometheusNotConnectedToAlertmanagers",
        r#"max_over_time(prometheus_notifications_alertmanagers_discovered{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusTargetLimitHit",
        r#"increase(prometheus_target_scrape_pool_exceeded_target_limit_total{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusLabelLimitHit",
        r#"increase(prometheus_target_scrape_pool_exceeded_label_limits_total{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusScrapeBodySizeLimitHit",
        r#"increase(prometheus_target_scrapes_exceeded_body_size_limit_total{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusScrapeSampleLimitHit",
        r#"increase(prometheus_target_scrapes_exceeded_sample_limit_total{job="prometheus"}[5m])"#,
    ),
    ("PrometheusTargetSyncFailure", r#"increase(prometheus_target_sync_failed_total{job="prometheus"}[30m])"#),
    (
        "PrometheusHighQueryLoad",
        r#"avg_over_time(prometheus_engine_queries{job="prometheus"}[5m]) / max_over_time(prometheus_engine_queries_concurrent_max{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusHAGroupCrashlooping",
        r#"prometheus_tsdb_clean_start{job="prometheus"} == 1 and changes(process_start_time_seconds{job="prometheus"}[1h]) == 0"#,
    ),
    ("PrometheusHAGroupDown", r#"count(avg_over_time(up{job="prometheus"}[5m])) / count(up{job="prometheus"})"#),
    ("PrometheusRuleFailures", r#"increase(prometheus_rule_evaluation_failures_total{job="prometheus"}[5m])"#),
    (
        "PrometheusMissingRuleEvaluations",
        r#"increase(prometheus_rule_group_iterations_missed_total{job="prometheus"}[5m])"#,
    ),
    (
        "PrometheusNotIngestingSamples (rules)",
        r#"sum without(rule_group) (prometheus_rule_group_rules{job="prometheus"}) > 0"#,
    ),
    (
        "Rule evaluations",
        r#"rate(prometheus_rule_evaluations_total{job="prometheus"}[5m]) and prometheus_rule_group_last_duration_seconds >= 0"#,
    ),
    // Overview dashboard.
    ("Overview: versions", r#"count by (job, instance, version) (prometheus_build_info{job="prometheus"})"#),
    ("Overview: uptime", r#"max by (job, instance) (time() - process_start_time_seconds{job="prometheus"})"#),
    (
        "Overview: target sync",
        r#"sum(rate(prometheus_target_sync_length_seconds_sum{job="prometheus"}[5m])) by (scrape_job) * 1e3"#,
    ),
    ("Overview: targets", r#"sum(prometheus_sd_discovered_targets{job="prometheus"})"#),
    (
        "Overview: average scrape interval",
        r#"rate(prometheus_target_interval_length_seconds_sum{job="prometheus"}[5m]) / rate(prometheus_target_interval_length_seconds_count{job="prometheus"}[5m]) * 1e3"#,
    ),
    (
        "Overview: scrape failures",
        r#"sum by (job, instance) (rate(prometheus_target_scrapes_sample_out_of_bounds_total{job="prometheus"}[1m]))"#,
    ),
    ("Overview: appended samples", r#"rate(prometheus_tsdb_head_samples_appended_total{job="prometheus"}[5m])"#),
    ("Overview: head series", r#"prometheus_tsdb_head_series{job="prometheus"}"#),
    ("Overview: head chunks", r#"prometheus_tsdb_head_chunks{job="prometheus"}"#),
    (
        "Overview: query rate",
        r#"rate(prometheus_engine_query_duration_seconds_count{job="prometheus",slice="inner_eval"}[5m])"#,
    ),
    (
        "Overview: stage duration",
        r#"max by (slice) (prometheus_engine_query_duration_seconds{quantile="0.9",job="prometheus"}) * 1e3"#,
    ),
    ("HTTP requests", r#"sum by (handler, code) (rate(prometheus_http_requests_total{job="prometheus"}[5m]))"#),
    (
        "HTTP latency",
        r#"histogram_quantile(0.9, rate(prometheus_http_request_duration_seconds_bucket{job="prometheus"}[5m]))"#,
    ),
    (
        "Process",
        r#"rate(process_cpu_seconds_total{job="prometheus"}[5m]) and process_resident_memory_bytes > 0 and process_open_fds < process_max_fds"#,
    ),
    // Remote write dashboard.
    ("Remote write: shards", r#"prometheus_remote_storage_shards{job="prometheus"}"#),
    ("Remote write: min shards", r#"prometheus_remote_storage_shards_min{job="prometheus"}"#),
    ("Remote write: shard capacity", r#"prometheus_remote_storage_shard_capacity{job="prometheus"}"#),
    (
        "Remote write: pending samples",
        r#"prometheus_remote_storage_pending_samples{job="prometheus"} or prometheus_remote_storage_samples_pending{job="prometheus"}"#,
    ),
    ("Remote write: TSDB segment", r#"prometheus_tsdb_wal_segment_current{job="prometheus"}"#),
    ("Remote write: watcher segment", r#"prometheus_wal_watcher_current_segment{job="prometheus"}"#),
    (
        "Remote write: dropped",
        r#"rate(prometheus_remote_storage_dropped_samples_total{job="prometheus"}[5m]) or rate(prometheus_remote_storage_samples_dropped_total{job="prometheus"}[5m])"#,
    ),
    (
        "Remote write: retried",
        r#"rate(prometheus_remote_storage_retried_samples_total{job="prometheus"}[5m]) or rate(prometheus_remote_storage_samples_retried_total{job="prometheus"}[5m])"#,
    ),
];

/// The mixin's queries that have no data on promlite yet, and why. Each is a part not built.
const NOT_YET: &[(&str, &str)] = &[
    (
        "PrometheusSDRefreshFailure",
        "promlite has no refresh-based SD (http, dns, ...); Prometheus has no such series without one either",
    ),
    (
        "Remote write: rate in vs out, enqueue retries",
        "prometheus_remote_storage_samples_in_total and _enqueue_retries_total are not counted",
    ),
];

/// A loopback remote-write endpoint that accepts everything.
fn sink() -> std::net::SocketAddr {
    let sink = TcpListener::bind("127.0.0.1:0").unwrap();
    let sink_addr = sink.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in sink.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                while read_request(&mut reader).is_some() {
                    let _ = reader.get_mut().write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
                }
            });
        }
    });
    sink_addr
}

/// Scrapes itself every second, evaluates a recording and an alerting rule every second (the
/// rule file written into `dir`), remote-writes to `sink` and has an Alertmanager (nothing
/// listens there: no alert is sent, but the notifier's families have their children).
fn config(dir: &std::path::Path, port: u16, sink: std::net::SocketAddr) -> String {
    let rules = dir.join("self-rules.yml");
    std::fs::write(&rules, "groups:\n  - name: self\n    interval: 1s\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n      - alert: SelfDown\n        expr: up == 0\n").unwrap();
    format!(
        "global:\n  scrape_interval: 1s\n\
         rule_files: ['{}']\n\
         scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n\
         remote_write:\n  - url: http://{sink}/api/v1/write\n    name: sink\n\
         alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['127.0.0.1:1']}}]\n",
        rules.display()
    )
}

#[test]
fn the_prometheus_mixin_dashboards_and_alerts_have_data() {
    let sink_addr = sink();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = write_config(dir.path(), &config(dir.path(), port, sink_addr));
    let listen = format!("--web.listen-address=127.0.0.1:{port}");
    let server = start(dir.path(), &[&config, &listen]);
    assert!(!NOT_YET.is_empty());
    eventually(Duration::from_secs(60), || {
        let empty: Vec<&str> = QUERIES
            .iter()
            .filter(|(_, query)| {
                let (status, body) = get_json(server.addr, &format!("/api/v1/query?query={}", enc(query)));
                assert_eq!(status, 200, "{query}: {body}");
                body["data"]["result"].as_array().is_none_or(Vec::is_empty)
            })
            .map(|(name, _)| *name)
            .collect();
        if empty.is_empty() { Ok(()) } else { Err(format!("no data yet for {empty:?}")) }
    });
}

/// Families whose labels Prometheus 3 changed since 2.42, the oracle here.
const CHANGED_IN_3X: &[(&str, &str)] = &[
    ("prometheus_build_info", "3.x adds `tags` (prometheus/common version collector)"),
    ("prometheus_remote_storage_samples_dropped_total", "3.x adds `reason` (storage/remote/queue_manager.go)"),
    (
        "prometheus_notifications_dropped_total",
        "3.x adds `alertmanager`: a queue per Alertmanager (notifier/metric.go)",
    ),
    ("prometheus_notifications_queue_length", "3.x adds `alertmanager`: a queue per Alertmanager (notifier/metric.go)"),
];

/// `# TYPE` of every family, and the label names of its samples (without `le` and `quantile`).
fn families(exposition: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for line in exposition.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.insert(name.to_owned(), (kind.to_owned(), BTreeSet::new()));
        } else if !line.starts_with('#') && !line.is_empty() {
            let name_end = line.find(['{', ' ']).unwrap();
            let name = &line[..name_end];
            let family = ["_bucket", "_sum", "_count", ""]
                .iter()
                .filter_map(|suffix| name.strip_suffix(suffix))
                .find(|base| out.contains_key(*base))
                .unwrap_or_else(|| panic!("sample {line:?} has no # TYPE"));
            let labels = line[name_end..].strip_prefix('{').map_or("", |l| &l[..l.rfind('}').unwrap()]);
            let entry = out.get_mut(family).unwrap();
            for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                let label = pair.split('=').next().unwrap().trim_start_matches(',');
                if label != "le" && label != "quantile" {
                    entry.1.insert(label.to_owned());
                }
            }
        }
    }
    out
}

/// promlite's `/metrics` passes `promtool check metrics` (the exposition format and its
/// naming lints), and every family Prometheus 2.42 also has, in the same setup, has the same
/// type and label names.
#[test]
fn self_metrics_are_typed_and_labelled_as_prometheus_s() {
    if !have(PROMETHEUS) || !have(PROMTOOL) {
        return;
    }
    let sink_addr = sink();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config_arg = write_config(dir.path(), &config(dir.path(), port, sink_addr));
    let listen = format!("--web.listen-address=127.0.0.1:{port}");
    let server = start(dir.path(), &[&config_arg, &listen]);
    let prom_dir = tempfile::tempdir().unwrap();
    // Prometheus scrapes itself: its port is only known once it runs, so it scrapes promlite
    // (the families compared are its own, which exist whatever it scrapes).
    let prometheus = External::prometheus(prom_dir.path(), &config(dir.path(), port, sink_addr), &[]);
    // A query and a few scrapes, so the labelled families have their children.
    let (status, _) = get_json(server.addr, "/api/v1/query?query=up");
    assert_eq!(status, 200);
    let (status, _) = get_json(prometheus.addr, "/api/v1/query?query=up");
    assert_eq!(status, 200);
    eventually(Duration::from_secs(60), || {
        let ours = http(server.addr, "GET", "/metrics", None).body;
        let theirs = http(prometheus.addr, "GET", "/metrics", None).body;
        let (ours, theirs) = (families(&ours), families(&theirs));
        let mut differences = Vec::new();
        for (name, (kind, labels)) in &ours {
            let Some((their_kind, their_labels)) = theirs.get(name) else { continue };
            // A family with no sample yet on one side says nothing about label names.
            let changed = CHANGED_IN_3X.iter().any(|(changed, _)| changed == name);
            let labels_differ = !labels.is_empty() && !their_labels.is_empty() && labels != their_labels;
            if kind != their_kind || (labels_differ && !changed) {
                differences
                    .push(format!("{name}: promlite {kind} {labels:?}, Prometheus {their_kind} {their_labels:?}"));
            }
        }
        let shared = ours.keys().filter(|name| theirs.contains_key(*name)).count();
        if shared < 60 {
            return Err(format!("only {shared} families in common"));
        }
        if differences.is_empty() { Ok(()) } else { Err(differences.join("\n")) }
    });
    let exposition = http(server.addr, "GET", "/metrics", None).body;
    let mut lint = Command::new(PROMTOOL)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    lint.stdin.take().unwrap().write_all(exposition.as_bytes()).unwrap();
    let out = lint.wait_with_output().unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{exposition}");
}
