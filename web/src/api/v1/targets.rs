//! `/api/v1/targets` (with `state` and `scrapePool` filters) and `/api/v1/scrape_pools`.
//! Dropped targets carry an extra `dropReason` field: why promlite does not scrape them.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::response::Response;
use promlite_storage::Labels;
use serde_json::{Value, json};

use super::envelope::success;
use super::time::format_rfc3339;
use super::{ApiError, Params};
use crate::AppState;

fn labels_json(labels: &Labels) -> Value {
    Value::Object(labels.iter().map(|l| (l.name.clone(), Value::String(l.value.clone()))).collect())
}

/// Go's `time.Duration` rendered as Prometheus's `model.Duration` (`1m`, `15s`, `1m30s`).
fn model_duration(d: std::time::Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Upstream's `LocalhostRepresentations`: hosts that only this machine can reach.
const LOCALHOST: [&str; 3] = ["127.0.0.1", "localhost", "::1"];

/// `host[:port]` split as Go's `net.SplitHostPort`, a missing port being `""`; `None` for what
/// Go refuses (an unbracketed IPv6 address).
fn split_host_port(host_port: &str) -> Option<(&str, &str)> {
    if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, rest) = bracketed.split_once(']')?;
        return match rest {
            "" => Some((host, "")),
            _ => Some((host, rest.strip_prefix(':')?)),
        };
    }
    match host_port.matches(':').count() {
        0 => Some((host_port, "")),
        1 => host_port.split_once(':'),
        _ => None,
    }
}

/// Go's `net.JoinHostPort`, without a port when it is empty.
fn join_host_port(host: &str, port: &str) -> String {
    let host = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
    if port.is_empty() { host } else { format!("{host}:{port}") }
}

/// The target's URL as seen from outside this machine (upstream `getGlobalURL`): a loopback
/// host becomes the external URL's host; when the port is also the one promlite listens on,
/// the target is promlite itself, so the scheme and port become the external URL's too.
/// Anything it cannot parse is left as it is.
fn global_url(scrape_url: &str, listen_address: &str, external_url: &str) -> String {
    let authority = |url: &str| -> Option<(usize, usize)> {
        let start = url.find("://")? + 3;
        let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
        let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
        Some((host_start, end))
    };
    let (Some((host_start, host_end)), Some((ext_start, ext_end))) = (authority(scrape_url), authority(external_url))
    else {
        return scrape_url.to_owned();
    };
    let Some((host, port)) = split_host_port(&scrape_url[host_start..host_end]) else {
        return scrape_url.to_owned();
    };
    if !LOCALHOST.contains(&host) {
        return scrape_url.to_owned();
    }
    let external_host_port = &external_url[ext_start..ext_end];
    let own_port = listen_address.rsplit_once(':').map_or("", |(_, port)| port);
    let (scheme_end, host_port) = if port == own_port {
        let external_scheme = &external_url[..external_url.find("://").unwrap_or(0)];
        let scheme_end = scrape_url.find("://").unwrap_or(0);
        (Some((scheme_end, external_scheme)), external_host_port.to_owned())
    } else {
        let Some((external_host, _)) = split_host_port(external_host_port) else { return scrape_url.to_owned() };
        (None, join_host_port(external_host, port))
    };
    let mut out = String::with_capacity(scrape_url.len() + host_port.len());
    match scheme_end {
        Some((end, scheme)) => {
            out.push_str(scheme);
            out.push_str(&scrape_url[end..host_start]);
        }
        None => out.push_str(&scrape_url[..host_start]),
    }
    out.push_str(&host_port);
    out.push_str(&scrape_url[host_end..]);
    out
}

pub(crate) async fn targets(State(state): State<AppState>, params: Params) -> Result<Response, ApiError> {
    let wanted = params.get("state").unwrap_or("any").to_lowercase();
    let pool = params.get("scrapePool");
    let show_active = wanted == "active" || wanted == "any";
    let show_dropped = wanted == "dropped" || wanted == "any";
    let in_pool = |name: &str| pool.is_none_or(|p| p == name);

    let active: Vec<Value> = if show_active {
        state
            .targets
            .active_targets()
            .iter()
            .filter(|t| in_pool(&t.scrape_pool))
            .map(|t| {
                // A password in the target's address reaches its URL (and maybe its error).
                let scrape_url = crate::redact_url(&t.scrape_url);
                let mut target = json!({
                    "discoveredLabels": labels_json(&t.discovered_labels),
                    "labels": labels_json(&t.labels),
                    "scrapePool": t.scrape_pool,
                    "scrapeUrl": scrape_url,
                    "globalUrl": global_url(&scrape_url, &state.options.listen_address, &state.options.external_url),
                    "lastError": crate::redact_password_in(&t.last_error, &t.scrape_url),
                    "lastScrape": format_rfc3339(t.last_scrape),
                    "lastScrapeDuration": t.last_scrape_duration.as_secs_f64(),
                    "health": t.health.as_str(),
                    "scrapeInterval": model_duration(t.scrape_interval),
                    "scrapeTimeout": model_duration(t.scrape_timeout),
                });
                // Beyond Prometheus: what the last scrape had to work around.
                if let Some(warning) = &t.warning {
                    target["scrapeWarning"] = json!(warning);
                }
                target
            })
            .collect()
    } else {
        Vec::new()
    };
    let all_dropped = state.targets.dropped_targets();
    let mut dropped_counts: BTreeMap<String, usize> =
        state.targets.scrape_pools().into_iter().map(|p| (p, 0)).collect();
    for target in &all_dropped {
        *dropped_counts.entry(target.scrape_pool.clone()).or_default() += 1;
    }
    let dropped: Vec<Value> = if show_dropped {
        all_dropped
            .iter()
            .filter(|t| in_pool(&t.scrape_pool))
            .map(|t| json!({"discoveredLabels": labels_json(&t.discovered_labels), "scrapePool": t.scrape_pool, "dropReason": t.reason}))
            .collect()
    } else {
        Vec::new()
    };
    let data = json!({"activeTargets": active, "droppedTargets": dropped, "droppedTargetCounts": dropped_counts});
    Ok(success(&data, &[]))
}

pub(crate) async fn scrape_pools(State(state): State<AppState>) -> Response {
    success(&json!({"scrapePools": state.targets.scrape_pools()}), &[])
}

#[cfg(test)]
mod tests {
    use super::{global_url, model_duration};
    use std::time::Duration;

    #[test]
    fn loopback_targets_get_the_external_host() {
        let external = "https://prom.example:443/prefix/";
        let global = |url: &str| global_url(url, "0.0.0.0:9090", external);
        // Another port on this machine: only the host is known from outside.
        assert_eq!(global("http://127.0.0.1:9100/metrics"), "http://prom.example:9100/metrics");
        assert_eq!(global("http://localhost:9100/metrics?x=1"), "http://prom.example:9100/metrics?x=1");
        assert_eq!(global("http://[::1]:9100/metrics"), "http://prom.example:9100/metrics");
        assert_eq!(global("http://u:xxxxx@localhost:9100/m"), "http://u:xxxxx@prom.example:9100/m");
        assert_eq!(global("http://localhost/metrics"), "http://prom.example/metrics");
        // promlite itself: scheme, host and port from the external URL; the path stays.
        assert_eq!(global("http://localhost:9090/prefix/metrics"), "https://prom.example:443/prefix/metrics");
        // Not loopback, or not parseable: unchanged.
        assert_eq!(global("http://10.0.0.1:9100/metrics"), "http://10.0.0.1:9100/metrics");
        assert_eq!(global("http://::1:9100/metrics"), "http://::1:9100/metrics");
        assert_eq!(global_url("http://127.0.0.1:9100/m", ":9090", "http://[fe80::1]:9090/"), "http://[fe80::1]:9100/m");
    }

    #[test]
    fn durations_print_like_prometheus() {
        assert_eq!(model_duration(Duration::from_secs(60)), "1m");
        assert_eq!(model_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(model_duration(Duration::from_millis(1500)), "1s500ms");
        assert_eq!(model_duration(Duration::ZERO), "0s");
    }
}
