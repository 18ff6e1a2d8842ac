//! The notifier against fake Alertmanagers on loopback: who gets what, in which batches, and
//! what a stop drains or drops.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use promlite_storage::Labels;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::Semaphore;

use super::*;

/// A fake Alertmanager: records each request's path and JSON body; answers each once it gets
/// a permit from `gate`.
struct FakeAlertmanager {
    addr: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<(String, serde_json::Value)>>>,
    gate: Arc<Semaphore>,
}

impl FakeAlertmanager {
    async fn start(permits: usize) -> FakeAlertmanager {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Semaphore::new(permits));
        let (seen, permits) = (Arc::clone(&requests), Arc::clone(&gate));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (seen, permits) = (Arc::clone(&seen), Arc::clone(&permits));
                tokio::spawn(async move {
                    let mut reader = BufReader::new(stream);
                    loop {
                        let mut request_line = String::new();
                        if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let path = request_line.split(' ').nth(1).unwrap_or_default().to_owned();
                        let mut length = 0;
                        loop {
                            let mut line = String::new();
                            reader.read_line(&mut line).await.unwrap();
                            if line.trim().is_empty() {
                                break;
                            }
                            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                                length = v.trim().parse().unwrap();
                            }
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).await.unwrap();
                        seen.lock().unwrap().push((path, serde_json::from_slice(&body).unwrap()));
                        permits.acquire().await.unwrap().forget();
                        let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
                        if reader.get_mut().write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        FakeAlertmanager { addr, requests, gate }
    }

    /// The `alertname`s of each request to `path`.
    fn batches(&self, path: &str) -> Vec<Vec<String>> {
        let requests = self.requests.lock().unwrap();
        let batch = |body: &serde_json::Value| {
            body.as_array().unwrap().iter().map(|a| a["labels"]["alertname"].as_str().unwrap().to_owned()).collect()
        };
        requests.iter().filter(|(p, _)| p == path).map(|(_, body)| batch(body)).collect()
    }
}

fn alerts(names: &[&str]) -> Vec<OutgoingAlert> {
    names
        .iter()
        .map(|name| OutgoingAlert {
            labels: Labels::from_pairs([("alertname", *name), ("severity", "page")]),
            annotations: BTreeMap::from([("summary".to_owned(), format!("{name} fired"))]),
            starts_at: 1_700_000_000_000_000_000,
            ends_at: 1_700_000_240_000_000_000,
            generator_url: "http://prom/graph".to_owned(),
        })
        .collect()
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn metric(registry: &Registry, line_start: &str) -> Option<String> {
    registry.encode().lines().find_map(|l| l.strip_prefix(line_start).map(|v| v.trim().to_owned()))
}

fn notifier(batch_size: usize, drain: bool, yaml: &str) -> (Notifier, Registry) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let registry = Registry::new();
    let options = NotifierOptions { queue_capacity: 100, batch_size, drain_on_shutdown: drain };
    let notifier = Notifier::new(options, &registry);
    let config = crate::config::load_str(yaml, "prometheus.yml").unwrap();
    assert!(notifier.apply_config(&config).is_empty());
    (notifier, registry)
}

#[tokio::test]
async fn every_alertmanager_of_every_set_gets_every_alert_in_batches() {
    let (a, b) = (FakeAlertmanager::start(1000).await, FakeAlertmanager::start(1000).await);
    let yaml = format!(
        "global: {{external_labels: {{cluster: eu, severity: none}}}}\n\
         alerting:\n  alertmanagers:\n\
         \x20   - static_configs: [{{targets: ['{a}', '{b}', '{a}']}}]\n\
         \x20   - path_prefix: /second\n      static_configs: [{{targets: ['{a}']}}]\n\
         \x20     alert_relabel_configs: [{{source_labels: [alertname], regex: B, action: drop}}]\n",
        a = a.addr,
        b = b.addr,
    );
    let (notifier, registry) = notifier(2, true, &yaml);
    let urls = notifier.alertmanagers();
    let url = |am: &FakeAlertmanager, prefix: &str| format!("http://{}{prefix}/api/v2/alerts", am.addr);
    assert_eq!(urls.active, [url(&a, ""), url(&b, ""), url(&a, "/second")]);
    notifier.send(alerts(&["A", "B", "C", "D", "E"]));
    let total = |am: &FakeAlertmanager, path: &str| am.batches(path).concat().len();
    eventually("every alert at every Alertmanager", || {
        total(&a, "/api/v2/alerts") == 5 && total(&b, "/api/v2/alerts") == 5 && total(&a, "/second/api/v2/alerts") == 4
    })
    .await;
    // The same Alertmanager listed twice in a set is one; each queue goes out oldest first.
    assert_eq!(a.batches("/api/v2/alerts"), [vec!["A", "B"], vec!["C", "D"], vec!["E"]]);
    assert_eq!(b.batches("/api/v2/alerts"), [vec!["A", "B"], vec!["C", "D"], vec!["E"]]);
    assert_eq!(a.batches("/second/api/v2/alerts"), [vec!["A", "C"], vec!["D", "E"]]);
    // External labels fill what the alert lacks; the rest of the alert is as the rules gave it.
    let first = a.requests.lock().unwrap()[0].1[0].clone();
    assert_eq!(
        first,
        serde_json::json!({
            "annotations": {"summary": "A fired"},
            "endsAt": "2023-11-14T22:17:20.000Z",
            "startsAt": "2023-11-14T22:13:20.000Z",
            "generatorURL": "http://prom/graph",
            "labels": {"alertname": "A", "cluster": "eu", "severity": "page"},
        })
    );
    let sent = format!("prometheus_notifications_sent_total{{alertmanager=\"{}\"}}", url(&a, "/second"));
    assert_eq!(metric(&registry, &sent).as_deref(), Some("4"));
    assert_eq!(metric(&registry, "prometheus_notifications_queue_capacity").as_deref(), Some("100"));
    assert_eq!(metric(&registry, "prometheus_notifications_alertmanagers_discovered"), None, "a collector of main's");
    notifier.stop(Duration::from_secs(60)).await;
    assert_eq!(metric(&registry, &sent), None, "a stopped loop's children are gone");
}

/// Alertmanager `am` holds its first request; meanwhile more alerts queue up and the notifier
/// stops. Returns the batches it got once released.
async fn stop_while_sending(drain: bool) -> Vec<Vec<String>> {
    let am = FakeAlertmanager::start(0).await;
    let yaml = format!("alerting:\n  alertmanagers:\n    - static_configs: [{{targets: ['{}']}}]\n", am.addr);
    let (notifier, _registry) = notifier(2, drain, &yaml);
    notifier.send(alerts(&["A", "B"]));
    eventually("the first request", || am.batches("/api/v2/alerts").len() == 1).await;
    notifier.send(alerts(&["C", "D", "E"]));
    let release = async {
        eventually("the stop", || notifier.stopped.load(Ordering::Acquire)).await;
        // Once stopped, nothing more is accepted.
        notifier.send(alerts(&["F"]));
        am.gate.add_permits(1000);
    };
    tokio::join!(notifier.stop(Duration::from_secs(60)), release);
    am.batches("/api/v2/alerts")
}

#[tokio::test]
async fn a_stop_drains_the_queue_when_told_to() {
    let batches = stop_while_sending(true).await;
    assert_eq!(batches, [vec!["A", "B"], vec!["C", "D"], vec!["E"]]);
}

#[tokio::test]
async fn a_stop_drops_the_queue_otherwise() {
    let batches = stop_while_sending(false).await;
    assert_eq!(batches, [vec!["A", "B"]]);
}

#[tokio::test]
async fn a_reload_keeps_unchanged_sets_and_their_queues() {
    let am = FakeAlertmanager::start(0).await;
    let set =
        |prefix: &str| format!("    - path_prefix: {prefix}\n      static_configs: [{{targets: ['{}']}}]\n", am.addr);
    let yaml = format!("alerting:\n  alertmanagers:\n{}{}", set("/kept"), set("/changed"));
    let (notifier, _registry) = notifier(1, true, &yaml);
    notifier.send(alerts(&["A", "B"]));
    eventually("a request to each set", || {
        am.batches("/kept/api/v2/alerts").len() == 1 && am.batches("/changed/api/v2/alerts").len() == 1
    })
    .await;
    // `/kept` moves to the second place, unchanged; `/changed` becomes `/new`.
    let reloaded = format!("alerting:\n  alertmanagers:\n{}{}", set("/new"), set("/kept"));
    assert!(notifier.apply_config(&crate::config::load_str(&reloaded, "prometheus.yml").unwrap()).is_empty());
    let url = |prefix: &str| format!("http://{}{prefix}/api/v2/alerts", am.addr);
    assert_eq!(notifier.alertmanagers().active, [url("/new"), url("/kept")]);
    am.gate.add_permits(1000);
    // The kept set's queue (B) survives the reload; the removed set drains its own to the end.
    eventually("the queued alerts", || {
        am.batches("/kept/api/v2/alerts").len() == 2 && am.batches("/changed/api/v2/alerts").len() == 2
    })
    .await;
    assert_eq!(am.batches("/kept/api/v2/alerts"), [vec!["A"], vec!["B"]]);
    assert_eq!(am.batches("/changed/api/v2/alerts"), [vec!["A"], vec!["B"]]);
    notifier.send(alerts(&["C"]));
    eventually("C at both sets", || {
        am.batches("/kept/api/v2/alerts").len() == 3 && !am.batches("/new/api/v2/alerts").is_empty()
    })
    .await;
    assert_eq!(am.batches("/new/api/v2/alerts"), [vec!["C"]]);
    assert_eq!(am.batches("/changed/api/v2/alerts").len(), 2, "a removed set gets nothing new");
    notifier.stop(Duration::from_secs(60)).await;
}
