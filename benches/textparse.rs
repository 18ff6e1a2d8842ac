//! Exposition parsing throughput (MB/s) on a body shaped like node_exporter + cadvisor output.
//! Run: `cargo bench --bench textparse`. Figures go to BENCHMARKS.md.

use std::fmt::Write as _;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promlite::scrape::textparse::{Entry, PromParser};

fn body(series: usize) -> String {
    let mut out = String::new();
    out.push_str(
        "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n# TYPE node_cpu_seconds_total counter\n",
    );
    for i in 0..series / 4 {
        let _ = writeln!(out, "node_cpu_seconds_total{{cpu=\"{}\",mode=\"idle\"}} {}.{}", i % 64, i * 1731, i % 97);
    }
    out.push_str("# HELP http_request_duration_seconds Latency.\n# TYPE http_request_duration_seconds histogram\n");
    for i in 0..series / 2 {
        let _ = writeln!(
            out,
            "http_request_duration_seconds_bucket{{handler=\"/api/v1/query\",method=\"GET\",code=\"200\",pod=\"app-{}-7d9f8\",le=\"{}\"}} {}",
            i / 12,
            [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0][i % 11],
            i * 3
        );
    }
    out.push_str("# TYPE container_memory_working_set_bytes gauge\n");
    for i in 0..series / 4 {
        let _ = writeln!(
            out,
            "container_memory_working_set_bytes{{container=\"app\",id=\"/kubepods/burstable/pod{i:08x}-1111-2222-3333-444455556666/cri-containerd-{i:064x}\",image=\"registry.example/app:v1.2.3\",namespace=\"default\",pod=\"app-{i}\"}} 1.2345678e+07 1700000000000"
        );
    }
    out
}

fn textparse(c: &mut Criterion) {
    let body = body(10_000);
    let mut group = c.benchmark_group("textparse");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("prom_0.0.4/10k_series", |b| {
        b.iter(|| {
            let mut sum = 0.0;
            for entry in PromParser::new(body.as_bytes()) {
                if let Ok(Entry::Sample(sample)) = entry {
                    sum += sample.value;
                }
            }
            sum
        })
    });
    group.bench_function("prom_0.0.4/10k_series_with_labels", |b| {
        b.iter(|| {
            let mut count = 0;
            for entry in PromParser::new(body.as_bytes()) {
                if let Ok(Entry::Sample(sample)) = entry {
                    count += sample.labels().len();
                }
            }
            count
        })
    });
    group.finish();
}

criterion_group!(benches, textparse);
criterion_main!(benches);
