//! Exposition parsing throughput (MB/s and samples/s), single core, on two inputs: upstream's
//! `alltypes.237mfs.prom.txt` (read from `../shared` at bench time; skipped with a message when
//! absent) and a generated 100k-series page shaped like kube-state-metrics, in both formats.
//!
//! Two paths per input, as the scrape loop walks them (plus `parse_only`, the cache-hit path
//! without the map lookup, and `baseline_line_scan`, a calibration: see below):
//! - `cache_hit`: parse every line and look its series text up in a per-target map that already
//!   holds it (the steady state: a series seen before costs a hash lookup, no label parse);
//! - `first_sight`: parse every line and split, unescape and validate its labels.
//!
//! Run: `cargo bench --bench textparse`. Figures go to BENCHMARKS.md ("Exposition parsing").

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promlite::scrape::textparse::{Entry, Format, Parser};

const UPSTREAM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/upstream/prometheus-v3.14.0/model/textparse/testdata/alltypes.237mfs.prom.txt"
);

/// A kube-state-metrics-like page: families in blocks, one series per pod (or per pod and
/// phase, container, resource), long namespace/pod/uid labels, `# HELP`/`# TYPE` per family.
fn kube_state_metrics(target_series: usize, format: Format) -> String {
    // (family, type, extra label sets per pod)
    let families: &[(&str, &str, &[&str])] = &[
        (
            "kube_pod_info",
            "gauge",
            &[
                "host_ip=\"10.0.3.17\",pod_ip=\"10.244.3.9\",node=\"worker-3\",created_by_kind=\"ReplicaSet\",created_by_name=\"api-7d9f8b6c5d\",priority_class=\"\",host_network=\"false\"",
            ],
        ),
        (
            "kube_pod_status_phase",
            "gauge",
            &["phase=\"Pending\"", "phase=\"Succeeded\"", "phase=\"Failed\"", "phase=\"Unknown\"", "phase=\"Running\""],
        ),
        ("kube_pod_status_ready", "gauge", &["condition=\"true\"", "condition=\"false\"", "condition=\"unknown\""]),
        (
            "kube_pod_container_resource_requests",
            "gauge",
            &[
                "container=\"app\",node=\"worker-3\",resource=\"cpu\",unit=\"core\"",
                "container=\"app\",node=\"worker-3\",resource=\"memory\",unit=\"byte\"",
            ],
        ),
        (
            "kube_pod_container_resource_limits",
            "gauge",
            &[
                "container=\"app\",node=\"worker-3\",resource=\"cpu\",unit=\"core\"",
                "container=\"app\",node=\"worker-3\",resource=\"memory\",unit=\"byte\"",
            ],
        ),
        ("kube_pod_container_status_restarts_total", "counter", &["container=\"app\""]),
        ("kube_pod_container_status_running", "gauge", &["container=\"app\""]),
        ("kube_pod_container_status_waiting", "gauge", &["container=\"app\""]),
        (
            "kube_pod_owner",
            "gauge",
            &["owner_kind=\"ReplicaSet\",owner_name=\"api-7d9f8b6c5d\",owner_is_controller=\"true\""],
        ),
        (
            "kube_pod_labels",
            "gauge",
            &["label_app=\"api\",label_team=\"payments\",label_pod_template_hash=\"7d9f8b6c5d\""],
        ),
        ("kube_pod_created", "gauge", &[""]),
        ("kube_pod_start_time", "gauge", &[""]),
    ];
    let per_pod: usize = families.iter().map(|(_, _, sets)| sets.len()).sum();
    let pods = target_series / per_pod;
    let mut out = String::with_capacity(target_series * 200);
    for (family, kind, sets) in families {
        let _ = writeln!(out, "# HELP {family} Generated like kube-state-metrics' {family}.");
        let _ = writeln!(out, "# TYPE {family} {kind}");
        for pod in 0..pods {
            let namespace = pod % 40;
            for (i, extra) in sets.iter().enumerate() {
                let sep = if extra.is_empty() { "" } else { "," };
                let value = match *kind {
                    "counter" => (pod * 7 % 13) as f64,
                    _ if family.ends_with("_time") || family.ends_with("_created") => 1.7e9 + pod as f64,
                    _ => ((pod + i) % 2) as f64,
                };
                let _ = writeln!(
                    out,
                    "{family}{{namespace=\"team-{namespace}\",pod=\"api-7d9f8b6c5d-{pod:05x}\",uid=\"3f2c{pod:08x}-8b1e-4c7a-9d2e-5a6b7c8d9e0f\"{sep}{extra}}} {value}"
                );
            }
        }
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

type SeriesMap = HashMap<String, u64, foldhash::fast::RandomState>;

/// The per-target cache of the scrape loop, filled from one parse of `body`.
fn cache_for(body: &[u8], format: Format) -> SeriesMap {
    let mut map = SeriesMap::default();
    for entry in Parser::new(body, format) {
        if let Entry::Sample(sample) = entry.expect("bench input parses") {
            let next = map.len() as u64;
            map.entry(sample.series.to_owned()).or_insert(next);
        }
    }
    map
}

fn bench_input(c: &mut Criterion, name: &str, body: &[u8], format: Format) {
    let cache = cache_for(body, format);
    let samples = Parser::new(body, format).filter(|e| matches!(e, Ok(Entry::Sample(_)))).count() as u64;
    println!("textparse/{name}: {} bytes, {samples} samples, {} series", body.len(), cache.len());
    let mut group = c.benchmark_group(format!("textparse/{name}"));
    group.throughput(Throughput::ElementsAndBytes { elements: samples, bytes: body.len() as u64 });
    group.sample_size(20).measurement_time(Duration::from_secs(6));
    // Calibration on a loaded, shared machine: the least a line scanner must do (find each
    // line, skip comments, parse the value after the series). Compare the paths to this.
    group.bench_function("baseline_line_scan", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for line in body.split(|b| *b == b'\n') {
                if line.is_empty() || line[0] == b'#' {
                    continue;
                }
                let series_end = memchr::memrchr(b'}', line).map_or(0, |i| i + 1);
                let rest = &line[series_end..];
                let start = rest.iter().position(|b| *b != b' ').unwrap_or(rest.len());
                let end = memchr::memchr(b' ', &rest[start..]).map_or(rest.len(), |i| start + i);
                let value = std::str::from_utf8(&rest[start..end]).ok().and_then(|v| v.parse::<f64>().ok());
                sum += value.unwrap_or(0.0);
            }
            sum
        })
    });
    group.bench_function("parse_only", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for entry in Parser::new(body, format) {
                if let Ok(Entry::Sample(sample)) = entry {
                    sum = sum.wrapping_add(sample.series.len() as u64) ^ sample.value.to_bits();
                }
            }
            sum
        })
    });
    group.bench_function("cache_hit", |b| {
        b.iter(|| {
            let mut refs = 0u64;
            for entry in Parser::new(body, format) {
                if let Ok(Entry::Sample(sample)) = entry
                    && let Some(series_ref) = cache.get(sample.series)
                {
                    refs = refs.wrapping_add(*series_ref) ^ sample.value.to_bits();
                }
            }
            refs
        })
    });
    group.bench_function("first_sight", |b| {
        b.iter(|| {
            let mut bytes = 0usize;
            for entry in Parser::new(body, format) {
                if let Ok(Entry::Sample(sample)) = entry {
                    let series = sample.labels().expect("bench input has valid labels");
                    bytes += series.name.len() + series.labels.iter().map(|(n, v)| n.len() + v.len()).sum::<usize>();
                }
            }
            bytes
        })
    });
    group.finish();
}

fn textparse(c: &mut Criterion) {
    match std::fs::read(UPSTREAM) {
        Ok(body) => bench_input(c, "alltypes_237mfs", &body, Format::PrometheusText),
        Err(err) => println!("textparse/alltypes_237mfs skipped: cannot read {UPSTREAM}: {err}"),
    }
    let ksm = kube_state_metrics(100_000, Format::PrometheusText);
    bench_input(c, "ksm_100k", ksm.as_bytes(), Format::PrometheusText);
    let ksm_om = kube_state_metrics(100_000, Format::OpenMetrics);
    bench_input(c, "ksm_100k_openmetrics", ksm_om.as_bytes(), Format::OpenMetrics);
}

criterion_group!(benches, textparse);
criterion_main!(benches);
