//! Recording and alerting rules through the real binary, against Prometheus 2.42 evaluating the
//! same rule file (the same path, so the same evaluation offset) over the same target.

use std::time::Duration;

use serde_json::Value;

use crate::remote_util::{External, PROMETHEUS, have};
use crate::util::{FakeTarget, enc, eventually, get_json, start, write_config};

const RULES: &str = r#"
groups:
  - name: recording
    interval: 1s
    rules:
      - record: job:temperature:sum
        expr: sum(temperature)by(job)
      - record: job:temperature:doubled
        expr: job:temperature:sum * 2
        labels:
          kind: derived
  - name: alerting
    interval: 1s
    rules:
      - alert: Hot
        expr: temperature>20
        for: 3s
        labels:
          severity: page
        annotations:
          summary: too hot
          description: '{{ $labels.room }} is at {{ $value }} ({{ printf "%.1f" $value }}) in {{ $externalLabels.site }}; {{ query "count(temperature)" | first | value }} rooms'
          link: '{{ $externalURL }} {{ humanizeDuration 3725 }} {{ 1234567 | humanize }}'
      - alert: Cold
        expr: temperature < 0
"#;

fn config(target: std::net::SocketAddr, rules: &std::path::Path) -> String {
    format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels: {{site: lab}}\n\
         rule_files: ['{}']\n\
         scrape_configs:\n  - job_name: thermo\n    static_configs:\n      - targets: ['{target}']\n",
        rules.display()
    )
}

fn query(addr: std::net::SocketAddr, q: &str) -> Vec<Value> {
    let (status, body) = get_json(addr, &format!("/api/v1/query?query={}", enc(q)));
    assert_eq!(status, 200, "{q}: {body}");
    body["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// The rules API's answer as sent (key order included), with what depends on the moment
/// (evaluation times and durations, when alerts became active) blanked.
fn rules_text(addr: std::net::SocketAddr, path: &str) -> String {
    let response = crate::util::http(addr, "GET", path, None);
    assert_eq!(response.status, 200, "{}", response.body);
    let moment = regex::Regex::new(r#""(lastEvaluation|activeAt)":"[^"]*"|"evaluationTime":[0-9.e+-]+"#).unwrap();
    moment.replace_all(&response.body, "$1-").into_owned()
}

/// Prometheus 2.42's answer in 3.x's shape: 3.x always writes a recording rule's `labels`
/// (3.x's labels.Labels is a struct, which `omitempty` does not drop), and leaves out a group
/// whose rules the filters removed (`if len(apiRuleGroup.Rules) > 0`; web/api/v1/api.go).
fn as_3x(text: String) -> String {
    let recording = regex::Regex::new(r#"("query":"[^"]*",)("health")"#).unwrap();
    let text = recording.replace_all(&text, r#"$1"labels":{},$2"#).into_owned();
    let group = r#"\{"name":"[^"]*","file":"[^"]*","rules":\[\],"interval":[0-9.]+,"limit":[0-9]+,-,lastEvaluation-\}"#;
    let first_or_middle = regex::Regex::new(&format!("{group},")).unwrap();
    let last = regex::Regex::new(&format!(",?{group}")).unwrap();
    let text = first_or_middle.replace_all(&text, "").into_owned();
    last.replace_all(&text, "").into_owned()
}

#[test]
fn rules_record_and_alert_as_prometheus_does() {
    if !have(PROMETHEUS) {
        return;
    }
    // Two rooms: one hot (fires after `for`), one mild; the values never change.
    let target = FakeTarget::start(|_| "temperature{room=\"a\"} 25\ntemperature{room=\"b\"} 15\n".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let config = config(target.addr, &rules);
    let url = "--web.external-url=http://prom.example:9090";
    let ours = start(dir.path(), &[&write_config(dir.path(), &config), url]);
    let prom_dir = tempfile::tempdir().unwrap();
    let theirs = External::prometheus(prom_dir.path(), &config, &[url]);

    // Both fire Hot for room a once it has been above 20 for 3 s.
    for addr in [ours.addr, theirs.addr] {
        eventually(Duration::from_secs(60), || {
            let firing = query(addr, r#"ALERTS{alertstate="firing"}"#);
            if firing.len() == 1 { Ok(()) } else { Err(format!("firing: {firing:?}")) }
        });
    }
    let labels = |addr, q: &str| -> Vec<(Value, String)> {
        let mut out: Vec<(Value, String)> = query(addr, q)
            .into_iter()
            .map(|s| (s["metric"].clone(), s["value"][1].as_str().unwrap().to_owned()))
            .collect();
        out.sort_by_key(|(m, _)| m.to_string());
        out
    };
    for q in [
        "job:temperature:sum",
        "job:temperature:doubled",
        r#"ALERTS{alertstate="firing"}"#,
        "ALERTS_FOR_STATE - ALERTS_FOR_STATE",
    ] {
        assert_eq!(labels(ours.addr, q), labels(theirs.addr, q), "{q}");
    }
    assert_eq!(labels(ours.addr, "job:temperature:doubled")[0].1, "80");

    // The same evaluation grid: samples land at the same offset within the second.
    let offsets = |addr| -> Vec<i64> {
        let series = query(addr, "job:temperature:sum[5s]");
        let mut out: Vec<i64> = series[0]["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_f64().unwrap() * 1000.0).round() as i64 % 1000)
            .collect();
        out.dedup();
        out
    };
    let (our_offsets, their_offsets) = (offsets(ours.addr), offsets(theirs.addr));
    assert_eq!(our_offsets.len(), 1, "{our_offsets:?}");
    assert_eq!(our_offsets, their_offsets);

    // The API's shapes, byte for byte, with the moment-dependent values blanked.
    for path in ["/api/v1/rules", "/api/v1/alerts", "/api/v1/rules?type=record", "/api/v1/rules?type=alert"] {
        assert_eq!(rules_text(ours.addr, path), as_3x(rules_text(theirs.addr, path)), "{path}");
    }
    // `exclude_alerts` is newer than 2.42: its answer is 2.42's with every `alerts` list empty.
    let without_alerts = |text: String| {
        regex::Regex::new(r#""alerts":\[.*?\],"health""#)
            .unwrap()
            .replace_all(&text, r#""alerts":[],"health""#)
            .into_owned()
    };
    assert_eq!(
        rules_text(ours.addr, "/api/v1/rules?type=alert&exclude_alerts=true"),
        without_alerts(as_3x(rules_text(theirs.addr, "/api/v1/rules?type=alert")))
    );
    let path = "/api/v1/rules?type=bogus";
    assert_eq!(get_json(ours.addr, path), get_json(theirs.addr, path), "{path}");
    // Pagination is newer than 2.42: 3.14's texts (web/api/v1/api.go, parseListRulesPaginationRequest).
    for (path, error) in [
        ("/api/v1/rules?group_limit=0", "invalid parameter \"group_limit\": group_limit needs to be greater than 0"),
        (
            "/api/v1/rules?group_next_token=x",
            "invalid parameter \"group_next_token\": group_limit needs to be present in order to paginate over the groups",
        ),
        (
            "/api/v1/rules?group_limit=1&group_next_token=x",
            "invalid parameter \"group_next_token\": invalid group_next_token 'x'. were rule groups changed?",
        ),
    ] {
        let (status, body) = get_json(ours.addr, path);
        assert_eq!((status, body["error"].as_str()), (400, Some(error)), "{path}");
    }
    let (_, first) = get_json(ours.addr, "/api/v1/rules?group_limit=1");
    let groups = first["data"]["groups"].as_array().unwrap();
    assert_eq!((groups.len(), groups[0]["name"].as_str()), (1, Some("alerting")));
    let token = first["data"]["groupNextToken"].as_str().unwrap();
    let (_, next) = get_json(ours.addr, &format!("/api/v1/rules?group_limit=1&group_next_token={token}"));
    assert_eq!(next["data"]["groups"][0]["name"], "recording");
    assert!(next["data"]["groupNextToken"].is_null(), "the last page has no token: {next}");
}

#[test]
fn bad_rule_files_stop_the_start_and_a_bad_reload_keeps_the_running_rules() {
    let target = FakeTarget::start(|_| "temperature{room=\"a\"} 25\n".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(\n").unwrap();
    let config = write_config(dir.path(), &config(target.addr, &rules));
    let error = crate::util::start_fails(dir.path(), &[&config]);
    // The log line is logfmt, which escapes the quotes around the group and rule names.
    let want = format!("{}: 5:15: group \\\"g\\\", rule 1, \\\"r\\\": could not parse expression", rules.display());
    assert!(error.contains(&want), "{want}\n{error}");

    std::fs::write(&rules, RULES).unwrap();
    let server = start(dir.path(), &[&config, "--web.enable-lifecycle"]);
    eventually(Duration::from_secs(60), || {
        let n = query(server.addr, "job:temperature:doubled").len();
        if n == 1 { Ok(()) } else { Err(format!("{n} series")) }
    });
    std::fs::write(&rules, "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        bogus: 1\n")
        .unwrap();
    let reload = crate::util::http(server.addr, "POST", "/-/reload", None);
    assert_eq!(reload.status, 500, "{}", reload.body);
    assert!(reload.body.contains("rules.yml: 6:9:") && reload.body.contains("bogus"), "{}", reload.body);
    let (_, groups) = get_json(server.addr, "/api/v1/rules");
    let names: Vec<&str> =
        groups["data"]["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alerting", "recording"], "the old groups, sorted by name as upstream sorts them");
}

/// `promlite check rules` and the rule files of `promlite check config` say what promtool 2.42
/// says of the same files: the same exit code, and the same problem lines (3.x's wording
/// differs from 2.42's only where listed).
#[test]
fn check_rules_agrees_with_promtool() {
    use crate::remote_util::PROMTOOL;
    if !have(PROMTOOL) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
    write("good.yml", RULES);
    write(
        "bad.yml",
        "groups:\n  - name: g\n    rules:\n      - record: job:x:sum\n        expr: sum(x\n  - name: g\n    rules:\n      - record: r\n        expr: up\n        for: 1m\n",
    );
    write("unknown.yml", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fro: 5m\n");
    write("config.yml", "rule_files: [good.yml, 'none*.yml']\n");
    write("missing.yml", "rule_files: [nope.yml]\n");
    let run = |binary: &std::path::Path, args: &[&str]| {
        let out = std::process::Command::new(binary).args(args).current_dir(dir.path()).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ours = crate::util::binary();
    let theirs = std::path::Path::new(PROMTOOL);
    // Whole outputs, for files whose every line is the same in 2.42 and 3.x.
    for args in [
        ["check", "rules", "good.yml"].as_slice(),
        &["check", "rules", "bad.yml"],
        &["check", "config", "config.yml"],
        &["check", "config", "missing.yml"],
    ] {
        assert_eq!(run(&ours, args), run(theirs, args), "{args:?}");
    }
    // An unknown field: both fail and name the field at its line.
    let (code, _, err) = run(&ours, &["check", "rules", "unknown.yml"]);
    let (their_code, _, their_err) = run(theirs, &["check", "rules", "unknown.yml"]);
    assert_eq!((code, their_code), (Some(1), Some(1)));
    assert!(their_err.contains("line 6: field fro not found"), "{their_err}");
    assert!(err.contains("unknown.yml: 6:") && err.contains("fro"), "{err}");
}

/// RFC 3339 (`2026-12-08T02:00:00.5Z`) as Unix seconds; enough for the times the API writes.
fn unix_seconds(rfc3339: &str) -> f64 {
    let (date, time) = rfc3339.trim_end_matches('Z').split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let t: Vec<f64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    let days = promlite_promql::calendar::days_from_civil(d[0], d[1], d[2]);
    (days * 86_400) as f64 + t[0] * 3600.0 + t[1] * 60.0 + t[2]
}

fn now_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

/// The `activeAt` of the only alert, once there is one.
fn active_at(addr: std::net::SocketAddr) -> f64 {
    eventually(Duration::from_secs(60), || {
        let (_, body) = get_json(addr, "/api/v1/alerts");
        let alerts = body["data"]["alerts"].as_array().cloned().unwrap_or_default();
        match alerts.as_slice() {
            [alert] => Ok(unix_seconds(alert["activeAt"].as_str().unwrap())),
            other => Err(format!("alerts: {other:?}")),
        }
    })
}

const PENDING_RULES: &str = "groups:\n  - name: slow\n    interval: 1s\n    rules:\n      - alert: LongHot\n        expr: temperature > 20\n        for: 1h\n";

/// A restart keeps how long an alert has been pending (from `ALERTS_FOR_STATE`), shifted by
/// the downtime, instead of starting its `for` anew; a reload keeps it too, for a group that
/// did not change and for one that did.
#[test]
fn pending_time_survives_a_restart_and_reloads() {
    let target = FakeTarget::start(|_| "temperature{room=\"a\"} 25\n".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, PENDING_RULES).unwrap();
    let config = write_config(dir.path(), &config(target.addr, &rules));
    let mut server = crate::util::start_with_data(dir.path(), &data, &[&config, "--web.enable-lifecycle"]);
    let first = active_at(server.addr);
    // Pending for at least 6 s before the stop.
    eventually(Duration::from_secs(60), || {
        let pending = now_seconds() - first;
        if pending >= 6.0 { Ok(()) } else { Err(format!("pending {pending:.1}s")) }
    });
    server.terminate();
    eventually(Duration::from_secs(30), || server.try_wait().map(|_| ()).ok_or("still running".to_owned()));
    let restarted_at = now_seconds();
    let server = crate::util::start_with_data(dir.path(), &data, &[&config, "--web.enable-lifecycle"]);
    // The restore runs after the second evaluation; until then the alert is new.
    let restored = eventually(Duration::from_secs(60), || {
        let at = active_at(server.addr);
        if at < restarted_at - 4.0 {
            Ok(at)
        } else {
            Err(format!("activeAt {at} is not restored (restart at {restarted_at})"))
        }
    });
    assert!(restored > first, "the downtime is added: {restored} vs {first}");

    // A reload that adds a group keeps the alert as it is.
    std::fs::write(
        &rules,
        format!("{PENDING_RULES}  - name: extra\n    rules:\n      - record: r\n        expr: vector(1)\n"),
    )
    .unwrap();
    assert_eq!(crate::util::http(server.addr, "POST", "/-/reload", None).status, 200);
    assert_eq!(active_at(server.addr), restored);
    // A reload that changes the alert's group gives the new group the old one's alerts.
    std::fs::write(&rules, format!("{PENDING_RULES}      - record: also\n        expr: vector(2)\n")).unwrap();
    assert_eq!(crate::util::http(server.addr, "POST", "/-/reload", None).status, 200);
    assert_eq!(active_at(server.addr), restored);
}

/// A group removed by a reload has its series marked stale (two intervals later), so they
/// vanish from queries at once rather than after the lookback delta.
#[test]
fn a_removed_group_s_series_go_stale() {
    let target = FakeTarget::start(|_| "temperature{room=\"a\"} 25\n".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let config = write_config(dir.path(), &config(target.addr, &rules));
    let server = start(dir.path(), &[&config, "--web.enable-lifecycle"]);
    eventually(Duration::from_secs(60), || {
        let n = query(server.addr, "job:temperature:doubled").len();
        if n == 1 { Ok(()) } else { Err(format!("{n} series")) }
    });
    std::fs::write(&rules, "groups: []\n").unwrap();
    assert_eq!(crate::util::http(server.addr, "POST", "/-/reload", None).status, 200);
    eventually(Duration::from_secs(60), || {
        let left = query(server.addr, "job:temperature:doubled or job:temperature:sum");
        if left.is_empty() { Ok(()) } else { Err(format!("still: {left:?}")) }
    });
    // Stale, not deleted: the samples before are still there.
    let before = query(server.addr, "count_over_time(job:temperature:doubled[1m])");
    assert_eq!(before.len(), 1, "{before:?}");
}

/// Node rules in the style of the node-exporter mixin, over a real node exporter scraped by
/// both promlite and Prometheus 2.42: the same recorded series (label sets; exact values where
/// they do not depend on the moment of the scrape) and the same alerts.
#[test]
fn node_rules_over_a_real_node_exporter_record_what_prometheus_records() {
    let Some(exporter) = promlite_testkit::on_path(&["prometheus-node-exporter", "node_exporter"]) else {
        promlite_testkit::missing("prometheus-node-exporter on PATH (Debian package)");
        return;
    };
    if !have(PROMETHEUS) {
        return;
    }
    let port = crate::remote_util::free_port();
    let exporter_args = vec![format!("--web.listen-address=127.0.0.1:{port}")];
    let _exporter = External::start(&exporter.display().to_string(), &exporter_args, port, "/metrics");
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("node.rules.yml");
    std::fs::write(&rules, NODE_RULES).unwrap();
    let target: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let config = config(target, &rules);
    let ours = start(dir.path(), &[&write_config(dir.path(), &config)]);
    let prom_dir = tempfile::tempdir().unwrap();
    let theirs = External::prometheus(prom_dir.path(), &config, &[]);
    let records: Vec<&str> = NODE_RULES.lines().filter_map(|l| l.trim().strip_prefix("- record: ")).collect();
    assert_eq!(records.len(), 7);
    let series = |addr, q: &str| -> Vec<String> {
        let mut out: Vec<String> = query(addr, q).iter().map(|s| s["metric"].to_string()).collect();
        out.sort();
        out
    };
    for addr in [ours.addr, theirs.addr] {
        eventually(Duration::from_secs(60), || {
            let empty: Vec<&&str> = records.iter().filter(|r| query(addr, r).is_empty()).collect();
            if empty.is_empty() { Ok(()) } else { Err(format!("no data yet for {empty:?}")) }
        });
    }
    for record in &records {
        assert_eq!(series(ours.addr, record), series(theirs.addr, record), "{record}");
    }
    let cpus = |addr| query(addr, "instance:node_cpus:count")[0]["value"][1].clone();
    assert_eq!(cpus(ours.addr), cpus(theirs.addr));
    let alerts = |addr| -> Vec<(Value, Value)> {
        let (_, body) = get_json(addr, "/api/v1/alerts");
        let mut out: Vec<(Value, Value)> = body["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["labels"].clone(), a["annotations"]["mountpoint"].clone()))
            .collect();
        out.sort_by_key(|(l, _)| l.to_string());
        out
    };
    eventually(Duration::from_secs(60), || {
        let (a, b) = (alerts(ours.addr), alerts(theirs.addr));
        if !a.is_empty() && a == b { Ok(()) } else { Err(format!("promlite {a:?}\nPrometheus {b:?}")) }
    });
}

const NODE_RULES: &str = r#"groups:
  - name: node.rules
    interval: 1s
    rules:
      - record: instance:node_cpus:count
        expr: count without (cpu, mode) (node_cpu_seconds_total{mode="idle"})
      - record: instance:node_cpu_busy:ratio_rate1m
        expr: 1 - avg without (cpu) (sum without (mode) (rate(node_cpu_seconds_total{mode=~"idle|iowait|steal"}[1m])))
      - record: instance:node_load1_per_cpu:ratio
        expr: node_load1 / instance:node_cpus:count
      - record: instance:node_memory_used:ratio
        expr: 1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes
      - record: instance_device:node_disk_io_time_seconds:rate1m
        expr: rate(node_disk_io_time_seconds_total{device!=""}[1m])
      - record: instance:node_network_receive_bytes:rate1m
        expr: sum without (device) (rate(node_network_receive_bytes_total{device!="lo"}[1m]))
      - record: instance:node_filesystem_avail:ratio
        expr: node_filesystem_avail_bytes{fstype!=""} / node_filesystem_size_bytes{fstype!=""}
  - name: node.alerts
    interval: 1s
    rules:
      - alert: NodeFilesystemSeen
        expr: instance:node_filesystem_avail:ratio <= 1
        labels:
          severity: info
        annotations:
          mountpoint: '{{ $labels.mountpoint }} on {{ $labels.instance | stripPort }}'
"#;
