//! An Alertmanager set (upstream `notifier/alertmanagerset.go`, `alertmanager.go`): the
//! Alertmanagers one `alerting.alertmanagers` entry discovers, with its HTTP client, its
//! relabeling and one send loop per Alertmanager.
//!
//! Each discovered label set gets `__scheme__` and `__alerts_path__` (path_prefix +
//! `/api/v2/alerts`), then `relabel_configs`; the URL is `__scheme__://__address__` +
//! `__alerts_path__`. Dropped ones keep the URL of their labels before relabeling, as upstream
//! shows them. Alertmanagers with the same URL are one.
//! Invariant: a send loop runs for exactly the URLs in `active`, until the set stops.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use promlite_storage::{Labels, LabelsBuilder};

use super::alert::relabel_alerts;
use super::metrics::NotifierMetrics;
use super::send_loop::{Endpoint, QueueOptions, SendLoop};
use crate::config::AlertmanagerConfig;
use crate::discovery::TargetGroup;
use crate::http_client::HttpClient;
use crate::rules::OutgoingAlert;

/// A target group that yields no Alertmanager: the whole group is skipped, as upstream skips it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AlertmanagerError {
    /// `__address__` has a scheme or path after relabeling.
    #[error(
        "{address:?} is not a valid hostname: an address is host:port (set __scheme__ and __alerts_path__ instead)"
    )]
    InvalidAddress {
        /// The address.
        address: String,
    },
    /// The URL made of the labels does not parse.
    #[error("invalid Alertmanager URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL, its password redacted.
        url: String,
        /// Why.
        reason: String,
    },
}

/// A discovered Alertmanager that relabeling kept.
#[derive(Debug, Clone, PartialEq)]
struct Alertmanager {
    url: reqwest::Url,
}

/// A running send loop and its task.
struct RunningLoop {
    send_loop: Arc<SendLoop>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Default)]
struct Discovered {
    /// The kept Alertmanagers, deduplicated, in discovery order.
    active: Vec<Alertmanager>,
    /// The dropped ones' URLs, before relabeling, their passwords redacted.
    dropped: Vec<String>,
    /// One per URL of `active`, keyed by the URL.
    loops: BTreeMap<String, RunningLoop>,
}

/// One `alerting.alertmanagers` entry, running.
pub(crate) struct AlertmanagerSet {
    config: AlertmanagerConfig,
    client: HttpClient,
    options: QueueOptions,
    metrics: Arc<NotifierMetrics>,
    discovered: Mutex<Discovered>,
}

impl AlertmanagerSet {
    /// A set with nothing discovered yet.
    pub(crate) fn new(
        config: AlertmanagerConfig,
        client: HttpClient,
        options: QueueOptions,
        metrics: Arc<NotifierMetrics>,
    ) -> AlertmanagerSet {
        AlertmanagerSet { config, client, options, metrics, discovered: Mutex::default() }
    }

    /// The config it runs.
    pub(crate) fn config(&self) -> &AlertmanagerConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Discovered> {
        self.discovered.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the discovered Alertmanagers with those of `groups`: loops start for new URLs
    /// and stop (draining, if so configured, in the background) for vanished ones. Returns the
    /// groups skipped, unlogged. Must run inside a tokio runtime.
    pub(crate) fn sync(&self, groups: &[TargetGroup]) -> Vec<AlertmanagerError> {
        let mut errors = Vec::new();
        let mut active: Vec<Alertmanager> = Vec::new();
        let mut dropped = Vec::new();
        for group in groups {
            match alertmanagers_from_group(group, &self.config) {
                Ok((kept, dropped_urls)) => {
                    for alertmanager in kept {
                        if !active.contains(&alertmanager) {
                            active.push(alertmanager);
                        }
                    }
                    dropped.extend(dropped_urls);
                }
                Err(err) => errors.push(err),
            }
        }
        let mut discovered = self.lock();
        let mut old_loops = std::mem::take(&mut discovered.loops);
        for alertmanager in &active {
            let key = alertmanager.url.to_string();
            let running = match old_loops.remove(&key) {
                Some(running) => running,
                None => self.start_loop(&alertmanager.url),
            };
            discovered.loops.insert(key, running);
        }
        for running in old_loops.into_values() {
            running.send_loop.stop();
        }
        discovered.active = active;
        discovered.dropped = dropped;
        errors
    }

    fn start_loop(&self, url: &reqwest::Url) -> RunningLoop {
        let shown_url = promlite_web::redact_url(url.as_str()).into_owned();
        let send_loop = SendLoop::new(shown_url, self.options, &self.metrics);
        let endpoint =
            Endpoint { url: url.clone(), client: self.client.clone(), timeout: self.config.timeout.as_std() };
        let task = send_loop.start(endpoint, Arc::clone(&self.metrics));
        RunningLoop { send_loop, task }
    }

    /// Applies the set's `alert_relabel_configs` and queues the rest for every Alertmanager.
    pub(crate) fn send(&self, alerts: &[Arc<OutgoingAlert>]) {
        let alerts = if self.config.alert_relabel_configs.is_empty() {
            alerts.to_vec()
        } else {
            relabel_alerts(alerts.to_vec(), &[], &self.config.alert_relabel_configs)
        };
        if alerts.is_empty() {
            return;
        }
        for running in self.lock().loops.values() {
            running.send_loop.add(&alerts);
        }
    }

    /// The active Alertmanagers' URLs, passwords redacted.
    pub(crate) fn active_urls(&self) -> Vec<String> {
        self.lock().active.iter().map(|am| promlite_web::redact_url(am.url.as_str()).into_owned()).collect()
    }

    /// The dropped Alertmanagers' URLs, passwords redacted.
    pub(crate) fn dropped_urls(&self) -> Vec<String> {
        self.lock().dropped.clone()
    }

    /// Stops every loop (each drains or drops its queue) and returns them with their tasks, to
    /// wait for.
    pub(crate) fn stop(&self) -> Vec<(Arc<SendLoop>, tokio::task::JoinHandle<()>)> {
        let loops = std::mem::take(&mut self.lock().loops);
        loops
            .into_values()
            .map(|running| {
                running.send_loop.stop();
                (running.send_loop, running.task)
            })
            .collect()
    }
}

/// The Alertmanagers of one target group: those relabeling keeps, and the URLs of those it
/// drops (upstream `AlertmanagerFromGroup`).
fn alertmanagers_from_group(
    group: &TargetGroup,
    config: &AlertmanagerConfig,
) -> Result<(Vec<Alertmanager>, Vec<String>), AlertmanagerError> {
    let mut kept = Vec::new();
    let mut dropped = Vec::new();
    let alerts_path = alerts_path(&config.path_prefix);
    for target in &group.targets {
        // Upstream's order: the target's labels, the set's scheme and path over them, then the
        // group's labels the target lacks (so a group label can set `__scheme__`).
        let mut builder = LabelsBuilder::new(&Labels::empty());
        for (name, value) in target {
            builder.set(name.clone(), value.clone());
        }
        builder.set("__scheme__".to_owned(), config.scheme.clone());
        builder.set("__alerts_path__".to_owned(), alerts_path.clone());
        for (name, value) in &group.labels {
            if !target.contains_key(name) {
                builder.set(name.clone(), value.clone());
            }
        }
        let discovered = builder.labels();
        let Some(labels) = crate::relabel::process(&discovered, &config.relabel_configs) else {
            dropped.push(promlite_web::redact_url(&url_text(&discovered)).into_owned());
            continue;
        };
        let address = labels.get("__address__");
        if address.contains('/') {
            return Err(AlertmanagerError::InvalidAddress { address: address.to_owned() });
        }
        let text = url_text(&labels);
        let url = reqwest::Url::parse(&text).map_err(|err| AlertmanagerError::InvalidUrl {
            url: promlite_web::redact_url(&text).into_owned(),
            reason: err.to_string(),
        })?;
        kept.push(Alertmanager { url });
    }
    Ok((kept, dropped))
}

/// `path_prefix` joined with `/api/v2/alerts`, cleaned as Go's `path.Join` cleans.
fn alerts_path(path_prefix: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path_prefix.split('/').chain(["api", "v2", "alerts"]) {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The URL of an Alertmanager's labels, as Go's `url.URL{Scheme, Host, Path}` prints it.
fn url_text(labels: &Labels) -> String {
    let path = labels.get("__alerts_path__");
    let slash = if path.is_empty() || path.starts_with('/') { "" } else { "/" };
    format!("{}://{}{slash}{path}", labels.get("__scheme__"), labels.get("__address__"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn am_config(yaml: &str) -> AlertmanagerConfig {
        let text = format!("alerting:\n  alertmanagers:\n    - {}\n", yaml.replace('\n', "\n      "));
        crate::config::load_str(&text, "prometheus.yml").unwrap().alerting.alertmanagers.remove(0)
    }

    fn group(targets: &[&str], labels: &[(&str, &str)]) -> TargetGroup {
        TargetGroup {
            source: "0".to_owned(),
            targets: targets.iter().map(|t| BTreeMap::from([("__address__".to_owned(), (*t).to_owned())])).collect(),
            labels: labels.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect(),
        }
    }

    fn check(config: &AlertmanagerConfig, groups: &[TargetGroup]) -> (Vec<String>, Vec<String>) {
        let mut active = Vec::new();
        let mut dropped = Vec::new();
        for group in groups {
            let (kept, gone) = alertmanagers_from_group(group, config).unwrap();
            active.extend(kept.into_iter().map(|am| am.url.to_string()));
            dropped.extend(gone);
        }
        (active, dropped)
    }

    #[test]
    fn urls_are_scheme_address_prefix_and_the_v2_path() {
        let config = am_config("static_configs: [{targets: ['a:9093']}]");
        assert_eq!(check(&config, &[group(&["a:9093"], &[])]).0, ["http://a:9093/api/v2/alerts"]);
        let config = am_config("scheme: https\npath_prefix: /am/\nstatic_configs: [{targets: ['a:9093']}]");
        assert_eq!(check(&config, &[group(&["a:9093"], &[])]).0, ["https://a:9093/am/api/v2/alerts"]);
    }

    #[test]
    fn relabeling_selects_and_rewrites_alertmanagers() {
        let config = am_config(
            "static_configs: [{targets: ['a:9093']}]\n\
             relabel_configs:\n\
             - {source_labels: [__address__], regex: 'drop.*', action: drop}\n\
             - {source_labels: [zone], regex: eu, target_label: __alerts_path__, replacement: /eu/api/v2/alerts}\n\
             - {source_labels: [__address__], regex: 'tls-(.*)', target_label: __scheme__, replacement: https}",
        );
        let groups = [group(&["a:1", "drop-b:2", "tls-c:3"], &[]), group(&["d:4"], &[("zone", "eu")])];
        let (active, dropped) = check(&config, &groups);
        assert_eq!(
            active,
            ["http://a:1/api/v2/alerts", "https://tls-c:3/api/v2/alerts", "http://d:4/eu/api/v2/alerts"]
        );
        assert_eq!(dropped, ["http://drop-b:2/api/v2/alerts"]);
    }

    #[test]
    fn a_group_label_may_set_the_scheme_a_target_label_may_not() {
        let config = am_config("static_configs: [{targets: ['a:9093']}]");
        let mut target_scheme = group(&["a:1"], &[]);
        target_scheme.targets[0].insert("__scheme__".to_owned(), "https".to_owned());
        let group_scheme = group(&["b:2"], &[("__scheme__", "https")]);
        let (active, _) = check(&config, &[target_scheme, group_scheme]);
        assert_eq!(active, ["http://a:1/api/v2/alerts", "https://b:2/api/v2/alerts"]);
    }

    #[test]
    fn an_address_with_a_path_skips_its_group() {
        let config = am_config("static_configs: [{targets: ['a:9093']}]");
        let err = alertmanagers_from_group(&group(&["a:1", "http://b:2/x"], &[]), &config).unwrap_err();
        assert_eq!(err, AlertmanagerError::InvalidAddress { address: "http://b:2/x".to_owned() });
    }

    #[test]
    fn passwords_in_dropped_urls_are_redacted() {
        let config = am_config(
            "static_configs: [{targets: ['a:9093']}]\nrelabel_configs: [{action: drop, regex: '.*', source_labels: [__address__]}]",
        );
        let (_, dropped) = check(&config, &[group(&["u:secret@a:1"], &[])]);
        assert_eq!(dropped, ["http://u:xxxxx@a:1/api/v2/alerts"]);
    }

    #[test]
    fn alerts_path_cleans_like_go_path_join() {
        for (prefix, want) in [
            ("/", "/api/v2/alerts"),
            ("", "/api/v2/alerts"),
            ("am", "/am/api/v2/alerts"),
            ("/a//b/", "/a/b/api/v2/alerts"),
            ("/a/../b", "/b/api/v2/alerts"),
        ] {
            assert_eq!(alerts_path(prefix), want, "{prefix:?}");
        }
    }
}
