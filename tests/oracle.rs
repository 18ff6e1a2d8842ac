//! Prometheus 2.42 and promlite side by side with the same samples, for tests that compare
//! API answers byte for byte (`api_errors`, `api_fuzz`, `api_stats`).
//!
//! Both servers get the same series through remote write, with fixed timestamps: samples
//! every 15 s from t=1000 s to t=4600 s, each a few milliseconds (1 to 997, never 500) off
//! the whole second. Queries are evaluated at whole seconds ending in 3 with ranges, offsets
//! and steps in whole tens of seconds, so no window boundary ever falls on a sample: that is
//! where Prometheus 3's left-open windows differ from 2.42's left-closed ones
//! (upstream docs/migration.md, "Range selectors and lookback exclude samples coinciding with
//! the left boundary"), and this keeps every other answer comparable.

use promlite_prompb as prompb;

use crate::remote_util::{External, PROMETHEUS, have, series};
use crate::util::{Server, enc, http, start};

/// A Prometheus and a promlite holding [`dataset`].
pub struct Oracle {
    pub prometheus: External,
    pub promlite: Server,
    _dir: tempfile::TempDir,
}

/// An API answer: status and body.
pub type Answer = (u16, String);

/// Bits of Prometheus's staleness marker.
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

impl Oracle {
    /// Both servers with [`dataset`] loaded; `None` (a skip, or a failure under CI) without
    /// Prometheus.
    #[track_caller]
    pub fn start() -> Option<Oracle> {
        if !have(PROMETHEUS) {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let prometheus = External::prometheus(dir.path(), "global: {}\n", &["--web.enable-remote-write-receiver"]);
        let promlite = start(dir.path(), &["--web.enable-remote-write-receiver"]);
        let oracle = Oracle { prometheus, promlite, _dir: dir };
        for addr in [oracle.prometheus.addr, oracle.promlite.addr] {
            let (status, body) = crate::remote_util::write(addr, dataset());
            assert!((200..300).contains(&status), "remote write to {addr}: {status} {body}");
        }
        Some(oracle)
    }

    /// `GET path?params` on both servers: (Prometheus, promlite).
    pub fn get(&self, path: &str, params: &[(&str, &str)]) -> (Answer, Answer) {
        let query: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
        let target = format!("{path}?{}", query.join("&"));
        let ask = |addr| {
            let response = http(addr, "GET", &target, None);
            (response.status, response.body)
        };
        (ask(self.prometheus.addr), ask(self.promlite.addr))
    }
}

/// The offset, in ms, of sample `k` of series `s` from the whole second: 1 to 997, never 500
/// (half-second evaluation times stay off samples too).
fn jitter(s: usize, k: usize) -> i64 {
    let j = ((k * 7919 + s * 104_729) % 997) as i64 + 1;
    if j == 500 { 501 } else { j }
}

/// Every test series: counters with resets, gauges crossing zero, a classic histogram, special
/// values, a gap and a staleness marker, names with colons, label values Go escapes in JSON.
pub fn dataset() -> Vec<prompb::TimeSeries> {
    let mut out = Vec::new();
    let mut add = |labels: Vec<(&str, String)>, value: &dyn Fn(usize) -> Option<f64>| {
        let s = out.len();
        let samples: Vec<(i64, f64)> =
            (0..=240).filter_map(|k| value(k).map(|v| (1_000_000 + k as i64 * 15_000 + jitter(s, k), v))).collect();
        let mut pairs: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (*n, v.as_str())).collect();
        pairs.sort();
        out.push(series(&pairs, &samples));
    };
    let mut n = 0.0;
    for job in ["api", "web"] {
        for instance in ["a:80", "b:80"] {
            for method in ["GET", "POST"] {
                for code in ["200", "500"] {
                    n += 1.0;
                    let step = n;
                    let resets = (n as usize).is_multiple_of(5);
                    add(
                        vec![
                            ("__name__", "http_requests_total".into()),
                            ("code", code.into()),
                            ("instance", instance.into()),
                            ("job", job.into()),
                            ("method", method.into()),
                        ],
                        &move |k| {
                            let k = if resets && k >= 120 { k - 120 } else { k };
                            Some(k as f64 * step * 0.5 + (k % 7) as f64)
                        },
                    );
                }
            }
        }
    }
    for (i, (instance, zone)) in
        [("a:80", "north"), ("a:80", "south"), ("b:80", "north"), ("b:80", "south")].iter().enumerate()
    {
        add(
            vec![
                ("__name__", "node_temperature_celsius".into()),
                ("instance", (*instance).into()),
                ("zone", (*zone).into()),
            ],
            &move |k| Some(((k as f64 / 10.0 + i as f64).sin() * 25.0 * 1000.0).round() / 1000.0),
        );
    }
    for (j, job) in ["api", "web"].iter().enumerate() {
        let mut total = 0.0;
        for (b, le) in ["0.1", "0.5", "1", "+Inf"].iter().enumerate() {
            let per_step = (b + 1 + j) as f64;
            add(
                vec![
                    ("__name__", "request_duration_seconds_bucket".into()),
                    ("job", (*job).into()),
                    ("le", (*le).into()),
                ],
                &move |k| Some(k as f64 * per_step),
            );
            total = per_step;
        }
        add(vec![("__name__", "request_duration_seconds_count".into()), ("job", (*job).into())], &move |k| {
            Some(k as f64 * total)
        });
        add(vec![("__name__", "request_duration_seconds_sum".into()), ("job", (*job).into())], &move |k| {
            Some(k as f64 * total * 0.37)
        });
    }
    for (i, (job, instance)) in
        [("api", "a:80"), ("api", "b:80"), ("web", "a:80"), ("node", "c:9100")].iter().enumerate()
    {
        add(vec![("__name__", "up".into()), ("instance", (*instance).into()), ("job", (*job).into())], &move |k| {
            Some(if (k + i) % 37 == 0 { 0.0 } else { 1.0 })
        });
    }
    for kind in ["nan", "inf", "neginf", "mixed"] {
        add(vec![("__name__", "special_values".into()), ("kind", kind.into())], &move |k| {
            Some(match (kind, k % 4) {
                ("nan", 0) => f64::NAN,
                ("inf", 0) => f64::INFINITY,
                ("neginf", 0) => f64::NEG_INFINITY,
                ("mixed", 1) => -0.0,
                ("mixed", 2) => 1e-300,
                ("mixed", 3) => -1.5e300,
                _ => k as f64 - 120.0,
            })
        });
    }
    add(vec![("__name__", "flaky".into()), ("instance", "c:9100".into())], &|k| match k {
        60..90 => None,
        150 => Some(f64::from_bits(STALE_NAN)),
        151..170 => None,
        _ => Some((k % 13) as f64),
    });
    for job in ["api", "web"] {
        let factor = if job == "api" { 1.5 } else { 0.25 };
        add(vec![("__name__", "job:http_requests:rate5m".into()), ("job", job.into())], &move |k| {
            Some((k % 11) as f64 * factor)
        });
    }
    add(vec![("__name__", "escaped".into()), ("text", "a<b>&\"quoted\"\\ é \u{2028}".into())], &|k| Some(k as f64));
    out
}
