//! `stats` on `/api/v1/query` and `/api/v1/query_range`, against Prometheus 2.42 over the same
//! data ([`crate::oracle`]).
//!
//! Timings differ from machine to machine, so only their shape is compared: the keys, their
//! order, and that each is a JSON number. Sample counts are compared by value:
//! - `totalQueryableSamples` for every query, as 2.42 and 3.x define it alike (docs/querying/
//!   api.md of 3.14, "Query statistics": samples loaded, each step counting the whole window);
//! - `peakSamples` for selectors and range-vector functions over selectors, the queries where
//!   upstream's count of samples held (its `currentSamples`) is promlite's: elsewhere it counts
//!   each operand's matrix over all steps and scalars as samples, and 3.x counts aggregations
//!   otherwise than 2.42 (promql/engine.go, `rangeEvalAgg`), so the figures are not defined the
//!   same way (ARCHITECTURE.md, deviations);
//! - `samplesRead` is new in 3.13 (util/stats/query_stats.go), so 2.42 has none to compare
//!   with: the test works it out from 2.42's own answers instead.

use serde_json::Value;

use crate::api_fuzz::Gen;
use crate::oracle::{Answer, Oracle};

const INSTANT: &[(&str, &str)] = &[("time", "2503")];
const RANGE: &[(&str, &str)] = &[("start", "1203"), ("end", "4803"), ("step", "60")];

fn json(answer: &Answer) -> Value {
    serde_json::from_str(&answer.1).unwrap_or_else(|err| panic!("{err}: {}", answer.1))
}

/// The answer's `data.stats.samples`.
fn samples(answer: &Answer) -> Value {
    json(answer)["data"]["stats"]["samples"].clone()
}

/// The answer from `,"stats":` on with every number written as `0`.
fn stats_shape(body: &str) -> String {
    let at = body.find(",\"stats\":").unwrap_or_else(|| panic!("no stats in {body}"));
    let mut out = String::new();
    let mut in_number = false;
    for c in body[at..].chars() {
        let numeric = c.is_ascii_digit() || (in_number && matches!(c, '.' | 'e' | 'E' | '-' | '+'));
        if numeric {
            if !in_number {
                out.push('0');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

fn ask(oracle: &Oracle, path: &str, query: &str, more: &[(&str, &str)]) -> (Answer, Answer) {
    let mut params = vec![("query", query)];
    params.extend_from_slice(more);
    oracle.get(path, &params)
}

#[test]
fn stats_have_prometheus_shape_and_results_stay_the_same() {
    let Some(oracle) = Oracle::start() else { return };
    // No sums: 3.x sums with Kahan compensation, 2.42 plainly (api_fuzz maps those last bits).
    let queries = ["up", "max by (job) (rate(http_requests_total[5m]))", "1 + 1", "no_such_metric"];
    for query in queries {
        for (path, times) in [("/api/v1/query", INSTANT), ("/api/v1/query_range", RANGE)] {
            for stats in ["all", "true"] {
                let mut params = times.to_vec();
                params.push(("stats", stats));
                let (prometheus, promlite) = ask(&oracle, path, query, &params);
                assert_eq!((prometheus.0, promlite.0), (200, 200), "{path} {query}: {prometheus:?} {promlite:?}");
                // The result before the stats is the same text.
                let head = |body: &str| body[..body.find(",\"stats\":").unwrap()].to_owned();
                assert_eq!(head(&promlite.1), head(&prometheus.1), "{path} {query} stats={stats}");
                // 3.13 adds samplesRead after totalQueryableSamples (util/stats/query_stats.go,
                // querySamples); the rest is 2.42's, key for key.
                let expected = stats_shape(&prometheus.1)
                    .replace("\"totalQueryableSamples\":0,", "\"totalQueryableSamples\":0,\"samplesRead\":0,");
                assert_eq!(stats_shape(&promlite.1), expected, "{path} {query} stats={stats}");
            }
            // Without the parameter, no stats at all.
            let (prometheus, promlite) = ask(&oracle, path, query, times);
            assert!(!prometheus.1.contains("\"stats\""), "{}", prometheus.1);
            assert_eq!(promlite, prometheus, "{path} {query} without stats");
        }
    }
    // Any other non-empty value gives the stats too; 3.x also warns that it is deprecated
    // (web/api/v1/api.go, statsParamWarning), which 2.42 does not.
    let mut params = INSTANT.to_vec();
    params.push(("stats", "yes"));
    let (prometheus, promlite) = ask(&oracle, "/api/v1/query", "up", &params);
    assert_eq!(
        stats_shape(&promlite.1).replace(",\"samplesRead\":0", ""),
        stats_shape(&prometheus.1).replace(
            "}}}}",
            "}}},\"warnings\":[\"value \\\"yes\\\" for parameter \\\"stats\\\" is deprecated and will be rejected in \
             the next major release, use \\\"true\\\" or \\\"all\\\"\"]}"
        )
    );
    // An empty value is no stats, as in upstream's DefaultStatsRenderer.
    let mut params = INSTANT.to_vec();
    params.push(("stats", ""));
    let (prometheus, promlite) = ask(&oracle, "/api/v1/query", "up", &params);
    assert_eq!(promlite, prometheus);
    // A failed query has no stats: the error envelope alone.
    let mut params = INSTANT.to_vec();
    params.push(("stats", "all"));
    let (prometheus, promlite) = ask(&oracle, "/api/v1/query", "sum(", &params);
    assert_eq!(promlite, prometheus);
}

/// Queries whose `peakSamples` is defined alike in 2.42, 3.x and promlite.
const PEAK_DEFINED: &[&str] = &[
    "up",
    "http_requests_total{code=\"500\"}",
    "node_temperature_celsius offset 5m",
    "rate(http_requests_total[5m])",
    "count_over_time(up[10m])",
    "max_over_time(node_temperature_celsius[90s])",
    "changes(flaky[1h])",
    "last_over_time(special_values[2m] offset 1m)",
    "deriv(request_duration_seconds_count[10m])",
    "stddev_over_time(http_requests_total{job=\"web\"}[30s])",
    "increase(no_such_metric[5m])",
];

/// Queries whose `totalQueryableSamples` is compared but not their `peakSamples`.
const TOTAL_ONLY: &[&str] = &[
    "sum by (job) (rate(http_requests_total[5m]))",
    "http_requests_total / on(instance, job, method, code) group_left http_requests_total",
    "topk(3, node_temperature_celsius) > bool 0",
    "quantile_over_time(0.9, node_temperature_celsius[10m])",
    "histogram_quantile(0.9, rate(request_duration_seconds_bucket[5m]))",
    "max_over_time(rate(http_requests_total[1m])[10m:1m])",
    "avg_over_time((up * 2)[5m:30s] offset 1m)",
    "timestamp(up)",
    "absent(no_such_metric)",
    "scalar(sum(up)) * vector(2)",
    "label_replace(up, \"x\", \"$1\", \"instance\", \"(.*):.*\")",
    "up @ 2003",
    "rate(http_requests_total[5m] @ 3333)",
    "1 + 1",
    "time()",
];

#[test]
fn sample_counts_match_prometheus() {
    let Some(oracle) = Oracle::start() else { return };
    let mut compared = 0;
    let (mut loaded, mut read) = (0, 0);
    for (query, peak) in PEAK_DEFINED.iter().map(|q| (*q, true)).chain(TOTAL_ONLY.iter().map(|q| (*q, false))) {
        let mut requests = vec![("/api/v1/query", INSTANT)];
        requests.push(("/api/v1/query_range", RANGE));
        for (path, times) in requests {
            let mut params = times.to_vec();
            params.push(("stats", "all"));
            let (prometheus, promlite) = ask(&oracle, path, query, &params);
            assert_eq!((prometheus.0, promlite.0), (200, 200), "{path} {query}: {prometheus:?} {promlite:?}");
            let (old, new) = (samples(&prometheus), samples(&promlite));
            loaded += new["totalQueryableSamples"].as_u64().unwrap();
            read += new["samplesRead"].as_u64().unwrap();
            assert_eq!(new["totalQueryableSamples"], old["totalQueryableSamples"], "{path} {query}: {old} {new}");
            if peak {
                assert_eq!(new["peakSamples"], old["peakSamples"], "{path} {query}: {old} {new}");
            }
            compared += 1;
        }
    }
    // An instant query of a range selector: its samples, loaded and held.
    for query in ["http_requests_total[5m]", "up[10m] offset 2m", "flaky[1h]"] {
        let mut params = INSTANT.to_vec();
        params.push(("stats", "true"));
        let (prometheus, promlite) = ask(&oracle, "/api/v1/query", query, &params);
        let (old, new) = (samples(&prometheus), samples(&promlite));
        loaded += new["totalQueryableSamples"].as_u64().unwrap();
        read += new["samplesRead"].as_u64().unwrap();
        assert_eq!(new["totalQueryableSamples"], old["totalQueryableSamples"], "{query}: {old} {new}");
        assert_eq!(new["peakSamples"], old["peakSamples"], "{query}: {old} {new}");
        compared += 1;
    }
    println!("compared the sample counts of {compared} answers");
    // The engine's counters (3.13 on, promql/engine.go) add up every query's counts.
    let metrics = crate::util::http(oracle.promlite.addr, "GET", "/metrics", None).body;
    let counter = |name: &str| {
        let line = metrics.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{name}"));
        line[name.len() + 1..].parse::<f64>().unwrap() as u64
    };
    assert_eq!(counter("prometheus_engine_query_samples_total"), loaded);
    assert_eq!(counter("prometheus_engine_query_samples_read_total"), read);
}

/// `samplesRead` (3.13 on) worked out from 2.42's answers: an instant query reads what it
/// loads; a range query's range-vector function reads each sample once when its windows
/// overlap (each step reads only past the previous step's window), which is the count over the
/// union of the windows; when they do not overlap, every window is read whole.
#[test]
fn samples_read_counts_each_sample_once() {
    let Some(oracle) = Oracle::start() else { return };
    let instant = |query: &str| {
        let mut params = INSTANT.to_vec();
        params.push(("stats", "all"));
        let (prometheus, promlite) = ask(&oracle, "/api/v1/query", query, &params);
        (samples(&prometheus), samples(&promlite))
    };
    for query in ["up", "rate(http_requests_total[5m])", "http_requests_total[5m]", "sum(up) + count(flaky)"] {
        let (old, new) = instant(query);
        assert_eq!(new["samplesRead"], old["totalQueryableSamples"], "{query}: {new}");
    }
    // From 1203 to 4803 by 60 s with a 5m window: the union is (1203 - 300, 4803].
    let range = |query: &str, step: &str| {
        let params = [("query", query), ("start", "1203"), ("end", "4803"), ("step", step), ("stats", "all")];
        let (prometheus, promlite) = oracle.get("/api/v1/query_range", &params);
        (samples(&prometheus), samples(&promlite))
    };
    let union = {
        let params = [("query", "sum(count_over_time(http_requests_total[3900s]))"), ("time", "4803")];
        let (prometheus, _) = oracle.get("/api/v1/query", &params);
        let body = json(&prometheus);
        body["data"]["result"][0]["value"][1].as_str().unwrap().parse::<u64>().unwrap()
    };
    let (old, new) = range("rate(http_requests_total[5m])", "60");
    assert_eq!(new["samplesRead"].as_u64(), Some(union), "{new}");
    assert_eq!(new["totalQueryableSamples"], old["totalQueryableSamples"]);
    assert!(union < old["totalQueryableSamples"].as_u64().unwrap(), "the windows overlap: {old}");
    // Steps of 600 s with a 5m window leave gaps: every window is read whole.
    let (old, new) = range("rate(http_requests_total[5m])", "600");
    assert_eq!(new["samplesRead"], old["totalQueryableSamples"], "{new}");
    // A subquery is evaluated once over all its steps: each inner step read once, over the
    // union of the windows, (1203 - 600, 4803] by 60 s.
    let (old, new) = range("max_over_time(up[10m:1m])", "60");
    let params = [("query", "sum(count_over_time(up[4200s:1m]))"), ("time", "4803")];
    let (prometheus, _) = oracle.get("/api/v1/query", &params);
    let inner = json(&prometheus)["data"]["result"][0]["value"][1].as_str().unwrap().parse::<u64>().unwrap();
    assert_eq!(new["samplesRead"].as_u64(), Some(inner), "{new}");
    assert_eq!(new["totalQueryableSamples"], old["totalQueryableSamples"]);
    // A selector with @ is step-invariant: read at the first step only, loaded at every one.
    let (old, new) = range("up @ 2003", "60");
    let (instant_old, _) = instant("up @ 2003");
    assert_eq!(new["samplesRead"], instant_old["totalQueryableSamples"], "{new}");
    assert_eq!(new["totalQueryableSamples"], old["totalQueryableSamples"]);
}

/// The generated queries of `api_fuzz` (another seed): wherever both servers give the same
/// result, they loaded as many samples.
#[test]
fn generated_queries_load_as_many_samples_as_in_prometheus() {
    let Some(oracle) = Oracle::start() else { return };
    let mut generator = Gen::seeded(0x57a7_5042_0316);
    let times = ["1303", "2503", "4603", "4903", "1003"];
    let mut differ = Vec::new();
    let mut compared = 0;
    for i in 0..1500 {
        let query = generator.query();
        let mut params = vec![("query", query.as_str()), ("stats", "all")];
        let path = if i % 4 == 0 {
            params.extend_from_slice(&[("start", "1203"), ("end", "4803"), ("step", "130")]);
            "/api/v1/query_range"
        } else {
            params.push(("time", times[i % times.len()]));
            "/api/v1/query"
        };
        let (prometheus, promlite) = oracle.get(path, &params);
        if prometheus.0 != 200 || promlite.0 != 200 {
            continue;
        }
        let (old, new) = (json(&prometheus), json(&promlite));
        // Answers that differ for a 3.x change (api_fuzz's known differences) are left out.
        if old["data"]["result"] != new["data"]["result"] {
            continue;
        }
        compared += 1;
        let (old, new) = (&old["data"]["stats"]["samples"], &new["data"]["stats"]["samples"]);
        if old["totalQueryableSamples"] != new["totalQueryableSamples"] {
            differ.push(format!("{path} {params:?}: Prometheus {old}, promlite {new}"));
        }
    }
    println!("compared the sample counts of {compared} answers");
    assert!(compared > 700, "only {compared} answers compared");
    assert!(differ.is_empty(), "{} of {compared} differ:\n{}", differ.len(), differ.join("\n"));
}
