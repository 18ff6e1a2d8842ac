//! The notifier through the real binary: alerts reach a real Alertmanager 0.25 (Debian's),
//! whose `/api/v2/alerts` shows them as sent, then resolved; `/api/v1/alertmanagers` answers as
//! Prometheus 2.42 does for the same config.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::remote_util::{External, PROMETHEUS, free_port, have};
use crate::util::{FakeTarget, eventually, get_json, start, write_config};

pub const ALERTMANAGER: &str = "/usr/bin/prometheus-alertmanager";

/// Alertmanager on loopback, clustering off, with a receiver that does nothing.
fn alertmanager(dir: &Path) -> External {
    let port = free_port();
    let config = dir.join("alertmanager.yml");
    std::fs::write(&config, "route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n").unwrap();
    let args = vec![
        format!("--config.file={}", config.display()),
        format!("--web.listen-address=127.0.0.1:{port}"),
        format!("--storage.path={}", dir.join("am-data").display()),
        "--cluster.listen-address=".to_owned(),
    ];
    External::start_logged(ALERTMANAGER, &args, port, "/-/ready", &dir.join("alertmanager.log"))
}

/// The alerts Alertmanager holds as active (resolved ones are not listed).
fn alertmanager_alerts(am: &External) -> Vec<Value> {
    let (status, body) = get_json(am.addr, "/api/v2/alerts");
    assert_eq!(status, 200, "{body}");
    body.as_array().cloned().unwrap_or_default()
}

/// An RFC 3339 UTC time as Unix milliseconds (fraction of any length).
fn unix_ms(text: &str) -> i64 {
    let (date, time) = text.strip_suffix('Z').and_then(|t| t.split_once('T')).unwrap_or_else(|| panic!("{text}"));
    let num = |s: &str| s.parse::<i64>().unwrap_or_else(|_| panic!("{text}"));
    let ymd: Vec<i64> = date.split('-').map(num).collect();
    let (hms, fraction) = time.split_once('.').unwrap_or((time, ""));
    let hms: Vec<i64> = hms.split(':').map(num).collect();
    let millis = num(&format!("{fraction:0<3}")[..3]);
    let days = promlite_promql::calendar::days_from_civil(ymd[0], ymd[1], ymd[2]);
    ((days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2]) * 1000) + millis
}

#[test]
fn alerts_reach_alertmanager_and_resolve() {
    if !have(ALERTMANAGER) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let am = alertmanager(dir.path());
    let hot = Arc::new(AtomicBool::new(true));
    let target = {
        let hot = Arc::clone(&hot);
        FakeTarget::start(move |_| {
            format!("temperature{{room=\"a\"}} {}\n", if hot.load(Ordering::Relaxed) { 25 } else { 15 })
        })
    };
    let rules = dir.path().join("rules.yml");
    std::fs::write(
        &rules,
        "groups:\n  - name: alerting\n    interval: 1s\n    rules:\n\
         \x20     - alert: Hot\n        expr: temperature > 20\n        for: 0s\n\
         \x20       labels: {severity: page, cluster: from-rule}\n\
         \x20       annotations: {summary: too hot}\n",
    )
    .unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels: {{cluster: eu, replica: a}}\n\
         rule_files: ['{rules}']\n\
         scrape_configs:\n  - job_name: thermo\n    static_configs: [{{targets: ['{target}']}}]\n\
         alerting:\n\
         \x20 alert_relabel_configs: [{{source_labels: [replica], target_label: relabeled, replacement: 'r-$1'}}]\n\
         \x20 alertmanagers:\n    - static_configs: [{{targets: ['{am}']}}]\n",
        rules = rules.display(),
        target = target.addr,
        am = am.addr,
    );
    let server =
        start(dir.path(), &[&write_config(dir.path(), &config), "--web.external-url=http://promlite.test:9090/"]);

    let alert = eventually(Duration::from_secs(60), || match alertmanager_alerts(&am).as_slice() {
        [alert] => Ok(alert.clone()),
        other => Err(format!("Alertmanager holds {other:?}")),
    });
    // The rule's labels win over external ones; the others fill in; the relabeling sees them.
    assert_eq!(
        alert["labels"],
        json!({
            "alertname": "Hot", "severity": "page", "cluster": "from-rule", "replica": "a", "relabeled": "r-a",
            "job": "thermo", "instance": target.addr.to_string(), "room": "a",
        })
    );
    assert_eq!(alert["annotations"], json!({"summary": "too hot"}));
    assert_eq!(alert["status"]["state"], "active");
    let generator_url = alert["generatorURL"].as_str().unwrap();
    assert!(generator_url.starts_with("http://promlite.test:9090/graph?g0.expr="), "{generator_url}");
    // startsAt is when the alert fired, which with `for: 0s` is when it became active.
    let (_, ours) = get_json(server.addr, "/api/v1/alerts");
    let active_at = ours["data"]["alerts"][0]["activeAt"].as_str().unwrap().to_owned();
    let starts_at = unix_ms(alert["startsAt"].as_str().unwrap());
    assert_eq!(starts_at, unix_ms(&active_at), "{alert} vs activeAt {active_at}");
    // A firing alert's notification is valid for four resend delays (1m) past its evaluation.
    let ends_at = unix_ms(alert["endsAt"].as_str().unwrap());
    assert!(ends_at - starts_at >= 4 * 60_000, "{alert}");

    hot.store(false, Ordering::Relaxed);
    // The resolved notification ends the alert now; Alertmanager no longer lists it as active.
    // Without it the alert would stay until its endsAt, four minutes on, past this deadline.
    eventually(Duration::from_secs(60), || match alertmanager_alerts(&am).as_slice() {
        [] => Ok(()),
        other => Err(format!("still active in Alertmanager: {other:?}")),
    });
    // Counted once Alertmanager's answer is in, which may be just after it shows the change.
    eventually(Duration::from_secs(60), || {
        let sent = crate::remote_util::metric(server.addr, "prometheus_notifications_sent_total{alertmanager=");
        if sent >= 2.0 { Ok(()) } else { Err(format!("{sent} sent, want the firing and the resolved notification")) }
    });
    let errors = crate::remote_util::metric(server.addr, "prometheus_notifications_errors_total{alertmanager=");
    assert_eq!(errors, 0.0);
}

/// Sorted, so that the order of discovery providers (random across Go maps) does not matter.
fn alertmanagers(addr: std::net::SocketAddr) -> Value {
    let (status, mut body) = get_json(addr, "/api/v1/alertmanagers");
    assert_eq!(status, 200, "{body}");
    for key in ["activeAlertmanagers", "droppedAlertmanagers"] {
        if let Some(list) = body["data"][key].as_array_mut() {
            list.sort_by_key(|am| am["url"].as_str().unwrap_or_default().to_owned());
        }
    }
    body
}

#[test]
fn alertmanagers_api_answers_as_prometheus_does() {
    if !have(PROMETHEUS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let listed = dir.path().join("alertmanagers.json");
    std::fs::write(&listed, r#"[{"targets": ["127.0.0.1:3"], "labels": {"zone": "b"}}]"#).unwrap();
    // Nothing listens on these ports: discovery and relabeling are what is compared.
    let config = format!(
        "alerting:\n  alertmanagers:\n\
         \x20   - path_prefix: /am\n      static_configs: [{{targets: ['127.0.0.1:1', '127.0.0.1:2', '127.0.0.1:1']}}]\n\
         \x20     relabel_configs: [{{source_labels: [__address__], regex: '.*:2', action: drop}}]\n\
         \x20   - scheme: https\n      file_sd_configs: [{{files: ['{listed}']}}]\n\
         \x20     relabel_configs: [{{source_labels: [zone], target_label: __alerts_path__, replacement: '/$1/api/v2/alerts'}}]\n",
        listed = listed.display(),
    );
    let ours = start(dir.path(), &[&write_config(dir.path(), &config)]);
    let prom_dir = tempfile::tempdir().unwrap();
    let theirs = External::prometheus(prom_dir.path(), &config, &[]);
    let want = json!({
        "status": "success",
        "data": {
            "activeAlertmanagers": [{"url": "http://127.0.0.1:1/am/api/v2/alerts"}, {"url": "https://127.0.0.1:3/b/api/v2/alerts"}],
            "droppedAlertmanagers": [{"url": "http://127.0.0.1:2/am/api/v2/alerts"}],
        },
    });
    // File discovery reports within a second or two on both.
    for addr in [ours.addr, theirs.addr] {
        eventually(Duration::from_secs(60), || {
            let got = alertmanagers(addr);
            if got == want { Ok(()) } else { Err(got.to_string()) }
        });
    }
}
