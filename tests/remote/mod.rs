//! Remote write and remote read, end to end, a module per behaviour:
//! - `receiver`: the real binary receives remote-write requests built here and from a real
//!   Prometheus (`/usr/bin/prometheus`, Debian's package), stores them exactly and refuses what
//!   Prometheus refuses;
//! - `sender`: against fake receivers, the sender retries 5xx after `Retry-After`, drops other
//!   4xx, adds shards for a slow receiver, honours `sample_age_limit` and sends metadata;
//! - `delivery`: it sends to a real Prometheus and VictoriaMetrics, through an outage and a
//!   restart, and the other side holds exactly what promlite holds;
//! - `read`: remote read in both directions, merged with local data, and its sample limit;
//! - `streamed_read`: the STREAMED_XOR_CHUNKS answer;
//! - `write_v2`: remote write 2.0, as receiver and as sender.
//!
//! Stored samples are compared exactly (value bits and timestamps) with what the other side
//! holds. Tests that need an external binary print why and return when it is absent. What
//! other areas share too lives in `remote_util`; this file holds the sender-side plumbing.

mod delivery;
mod read;
mod receiver;
mod sender;
mod streamed_read;
mod write_v2;

use std::net::SocketAddr;
use std::time::Duration;

use crate::remote_util::{Samples, now_ms, remote_read};
use crate::util::{FakeTarget, eventually};

fn promlite_config(target: SocketAddr, remote_url: &str, extra: &str) -> String {
    format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: fake\n    static_configs:\n      - targets: ['{target}']\n\
         remote_write:\n  - url: {remote_url}\n    name: under-test\n    queue_config:\n      batch_send_deadline: 500ms\n      max_samples_per_send: 50\n      max_backoff: 1s\n{extra}"
    )
}

/// Waits until `target` has answered `n` scrapes; generous, as an outage of 30 scrapes waits
/// here too.
fn wait_for_scrapes(target: &FakeTarget, n: u64) {
    eventually(Duration::from_secs(120), || {
        let seen = target.requests.load(std::sync::atomic::Ordering::SeqCst);
        if seen >= n { Ok(()) } else { Err(format!("{seen} scrapes")) }
    });
}

/// Waits until `remote` holds exactly what promlite holds for `job="fake"` up to now.
fn assert_same_as_promlite(server: SocketAddr, remote: impl Fn(i64) -> Result<Samples, String>) -> Samples {
    let cut = now_ms();
    let matchers = [(0, "job", "fake")];
    let want = eventually(Duration::from_secs(60), || {
        let want = remote_read(server, &matchers, 0, cut)?;
        let newest = want.values().filter_map(|s| s.last()).map(|s| s.0).min().unwrap_or(0);
        if want.len() >= 5 && newest + 1000 >= cut {
            Ok(want)
        } else {
            Err(format!("{} series in promlite", want.len()))
        }
    });
    eventually(Duration::from_secs(60), || {
        let got = remote(cut)?;
        if got == want {
            Ok(got)
        } else {
            let first_diff = want.iter().find(|(k, v)| got.get(*k) != Some(v)).map(|(k, v)| {
                format!("{k}: promlite {} samples, remote {:?} samples", v.len(), got.get(k).map(Vec::len))
            });
            Err(format!("{} series in promlite, {} remote; first difference: {first_diff:?}", want.len(), got.len()))
        }
    })
}
