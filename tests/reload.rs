//! Reload (`/-/reload`, SIGHUP): a bad config never replaces a good one, an unchanged job never
//! misses a scrape, a changed job takes over its targets, a removed job's series go stale.

use std::time::Duration;

use crate::util::{FakeTarget, Server, eventually, get_json, http, query_result, start};

fn job(name: &str, addr: std::net::SocketAddr, extra: &str) -> String {
    format!("  - job_name: {name}\n    scrape_interval: 1s\n{extra}    static_configs: [{{targets: ['{addr}']}}]\n")
}

/// Raw sample timestamps (ms) of `selector` over the last minute.
fn sample_times(server: &Server, selector: &str) -> Vec<i64> {
    let result = query_result(server.addr, &format!("{selector}[1m]"));
    let Some(series) = result.first() else { return Vec::new() };
    series["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| (point[0].as_f64().unwrap() * 1000.0).round() as i64)
        .collect()
}

#[test]
fn reload_keeps_unchanged_jobs_running_and_refuses_bad_configs() {
    let steady = FakeTarget::start(|n| format!("steady_total {n}\n"));
    let changing = FakeTarget::start(|_| "changing 1\n".to_owned());
    let leaving = FakeTarget::start(|_| "leaving 1\n".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    let first = format!(
        "scrape_configs:\n{}{}{}",
        job("steady", steady.addr, ""),
        job("changing", changing.addr, ""),
        job("leaving", leaving.addr, "")
    );
    std::fs::write(&path, &first).unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", path.display()), "--web.enable-lifecycle"]);
    eventually(Duration::from_secs(20), || {
        let n = sample_times(&server, "up{job=\"steady\"}").len();
        if n >= 3 { Ok(()) } else { Err(format!("{n} scrapes of steady")) }
    });

    // A bad file: 500 with the error and its position; everything keeps running.
    std::fs::write(&path, "scrape_configs:\n  - job_name: steady\n    scrape_intervall: 1s\n").unwrap();
    let response = http(server.addr, "POST", "/-/reload", None);
    assert_eq!(response.status, 500);
    assert!(response.body.starts_with("failed to reload config: couldn't load configuration"), "{}", response.body);
    assert!(response.body.contains(":3:5: unknown field \"scrape_intervall\""), "{}", response.body);
    let (_, config) = get_json(server.addr, "/api/v1/status/config");
    assert!(config["data"]["yaml"].as_str().unwrap().contains("job_name: leaving"));
    // The failure shows where Prometheus shows it; the last good load's time stays.
    let (_, info) = get_json(server.addr, "/api/v1/status/runtimeinfo");
    assert_eq!(info["data"]["reloadConfigSuccess"], false, "{info}");
    let loaded_at = info["data"]["lastConfigTime"].as_str().unwrap().to_owned();
    assert_eq!(loaded_at, info["data"]["startTime"].as_str().unwrap(), "{info}");
    assert_eq!(crate::remote_util::metric(server.addr, "prometheus_config_last_reload_successful"), 0.0);

    // A good file: steady unchanged, changing gets a new parameter, leaving removed.
    let second = format!(
        "scrape_configs:\n{}{}",
        job("steady", steady.addr, ""),
        job("changing", changing.addr, "    params: {x: ['1']}\n"),
    );
    std::fs::write(&path, &second).unwrap();
    let reload_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let response = http(server.addr, "POST", "/-/reload", None);
    assert_eq!(response.status, 200, "{}", response.body);
    let (_, info) = get_json(server.addr, "/api/v1/status/runtimeinfo");
    assert_eq!(info["data"]["reloadConfigSuccess"], true, "{info}");
    assert_ne!(info["data"]["lastConfigTime"], loaded_at.as_str(), "a successful reload moves lastConfigTime");
    assert_eq!(crate::remote_util::metric(server.addr, "prometheus_config_last_reload_successful"), 1.0);
    assert_eq!(crate::remote_util::metric(server.addr, "prometheus_ready"), 1.0);
    let reloaded = crate::remote_util::metric(server.addr, "prometheus_config_last_reload_success_timestamp_seconds");
    assert!(reloaded * 1000.0 >= (reload_at / 1000 * 1000) as f64, "{reloaded} {reload_at}");

    eventually(Duration::from_secs(20), || {
        let (_, targets) = get_json(server.addr, "/api/v1/targets?scrapePool=changing");
        let url = targets["data"]["activeTargets"][0]["scrapeUrl"].as_str().unwrap_or("").to_owned();
        let scraped_after = sample_times(&server, "up{job=\"changing\"}").iter().any(|t| *t > reload_at + 1500);
        if url.ends_with("/metrics?x=1") && scraped_after { Ok(()) } else { Err(targets.to_string()) }
    });
    // Wait for a few scrapes after the reload, then check that steady never skipped one.
    eventually(Duration::from_secs(20), || {
        let after = sample_times(&server, "up{job=\"steady\"}").iter().filter(|t| **t > reload_at).count();
        if after >= 3 { Ok(()) } else { Err(format!("{after} scrapes after reload")) }
    });
    let times = sample_times(&server, "up{job=\"steady\"}");
    let gaps: Vec<i64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // A 1s interval: a missed scrape is a gap of two intervals; jitter alone stays below it.
    assert!(gaps.iter().all(|gap| *gap < 2_000), "steady missed a scrape around the reload: gaps {gaps:?}");
    // The changed job's target stayed, so its series were handed over, not marked stale.
    assert_eq!(query_result(server.addr, "changing").len(), 1);
    // The removed job's series go stale once its next scrape would have been plus an interval
    // and a tenth (about 2.1 s at 1s), as upstream's end-of-run staleness.
    eventually(Duration::from_secs(60), || {
        let leaving = query_result(server.addr, "leaving");
        if leaving.is_empty() { Ok(()) } else { Err(format!("{leaving:?}")) }
    });
    assert!(query_result(server.addr, "up{job=\"leaving\"}").is_empty());
}

#[test]
fn lifecycle_endpoints_are_off_unless_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, "scrape_configs: []\n").unwrap();
    let server = start(dir.path(), &[&format!("--config.file={}", path.display())]);
    for endpoint in ["/-/reload", "/-/quit"] {
        let response = http(server.addr, "POST", endpoint, None);
        assert_eq!(response.status, 403, "{endpoint}");
        assert_eq!(response.body, "Lifecycle API is not enabled.\n");
    }
    assert_eq!(http(server.addr, "GET", "/-/reload", None).status, 405);
}

#[test]
fn quit_shuts_down_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path(), &["--web.enable-lifecycle"]);
    let response = http(server.addr, "POST", "/-/quit", None);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "Requesting termination... Goodbye!\n");
    let status = eventually(Duration::from_secs(10), || server.try_wait().ok_or_else(|| "still running".to_owned()));
    assert!(status.success(), "{status:?}");
}

/// A restart leaves no gap: a clean stop writes no staleness markers (as Prometheus's shutdown
/// writes none), so a query between the last scrape before the stop and the first after the
/// start still sees every series.
#[test]
fn a_restart_leaves_no_gap() {
    let target = FakeTarget::start(|n| format!("restart_gauge {n}\n"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let config = crate::util::write_config(dir.path(), &format!("scrape_configs:\n{}", job("steady", target.addr, "")));
    let mut server = crate::util::start_with_data(dir.path(), &data, &[&config]);
    eventually(Duration::from_secs(60), || {
        let n = sample_times(&server, "up").len();
        if n >= 2 { Ok(()) } else { Err(format!("{n} scrapes")) }
    });
    server.terminate();
    eventually(Duration::from_secs(30), || server.try_wait().map(|_| ()).ok_or("still running".to_owned()));
    let stopped_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let server = crate::util::start_with_data(dir.path(), &data, &[&config]);
    eventually(Duration::from_secs(60), || {
        let after = sample_times(&server, "up").iter().filter(|t| **t > stopped_ms).count();
        if after >= 1 { Ok(()) } else { Err(format!("{after} scrapes after the restart")) }
    });
    // At the stop, within the lookback of the last scrape before it: no staleness marker hides it.
    for name in ["up", "restart_gauge"] {
        let path = format!("/api/v1/query?query={name}&time={}", stopped_ms as f64 / 1000.0);
        let (status, body) = get_json(server.addr, &path);
        assert_eq!(status, 200);
        assert_eq!(body["data"]["result"].as_array().unwrap().len(), 1, "{name} at the stop: {body}");
    }
    let raw = query_result(server.addr, "up[1m]");
    let values: Vec<&str> = raw[0]["values"].as_array().unwrap().iter().map(|p| p[1].as_str().unwrap()).collect();
    assert!(values.iter().all(|v| *v == "1"), "no marker among the samples: {values:?}");
}
