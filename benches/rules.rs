//! Rule evaluation: one evaluation of a group of 1000 recording rules over 100k series (100
//! metrics × 1000 instances in 10 jobs, 11 samples each, 30s apart), each rule
//! `sum by (job) (rate(m_K[5m]))` over one metric's 1000 series, its 10 results appended.
//! Run: `cargo bench --bench rules`. Figures go to BENCHMARKS.md.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use promlite::rules::file::{GroupSpec, RuleKind, RuleSpec};
use promlite::rules::{EvalContext, Group, RuleMetrics};
use promlite_promql::{Engine, EngineOptions};
use promlite_storage::{Db, Labels, Options};

const METRICS: usize = 100;
const INSTANCES: usize = 1000;
const RULES: usize = 1000;
const SAMPLES: i64 = 11;
const STEP_MS: i64 = 30_000;

fn load(db: &Db) {
    let series: Vec<Labels> = (0..METRICS)
        .flat_map(|m| {
            (0..INSTANCES).map(move |i| {
                Labels::from_pairs([
                    ("__name__", format!("m_{m}")),
                    ("instance", format!("host-{i}:9100")),
                    ("job", format!("job-{}", i % 10)),
                ])
            })
        })
        .collect();
    for t in 0..SAMPLES {
        let mut app = db.appender();
        for (n, labels) in series.iter().enumerate() {
            app.append(labels, t * STEP_MS, (t * (n as i64 % 7 + 1)) as f64).expect("append");
        }
        assert!(app.commit().expect("commit").is_empty(), "all samples accepted");
    }
}

fn group() -> Group {
    let rules = (0..RULES)
        .map(|r| RuleSpec {
            kind: RuleKind::Recording { record: format!("job:m_{}:rate5m_{}", r % METRICS, r / METRICS) },
            expr: format!("sum by (job) (rate(m_{}[5m]))", r % METRICS),
            labels: BTreeMap::new(),
        })
        .collect();
    let spec = GroupSpec {
        name: "bench".into(),
        interval: None,
        limit: 0,
        query_offset: None,
        labels: BTreeMap::new(),
        rules,
    };
    Group::new(spec, "bench.yml", Duration::from_secs(60), Duration::ZERO, false)
}

fn evaluation(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path(), Options::default()).expect("open db");
    load(&db);
    let registry = promlite_metrics::Registry::new();
    let ctx = EvalContext {
        db: db.clone(),
        engine: Arc::new(Engine::new(EngineOptions::default())),
        templates: promlite::rules::template::engine(),
        external_labels: BTreeMap::new(),
        external_url: String::new(),
        resend_delay_ns: 60_000_000_000,
        outage_tolerance_ns: 3_600_000_000_000,
        grace_period_ns: 600_000_000_000,
        metrics: Arc::new(RuleMetrics::new(&registry)),
    };
    let mut group = group();
    let last_ms = (SAMPLES - 1) * STEP_MS;
    let mut ts_ns = last_ms * 1_000_000;
    let mut bench = c.benchmark_group("rules");
    bench.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(10));
    bench.throughput(Throughput::Elements(RULES as u64));
    bench.bench_function("eval_1000_recording_rules_over_100k_series", |b| {
        b.iter(|| {
            // A new evaluation time each round, as a running group has.
            ts_ns += 1_000_000;
            group.eval(&ctx, ts_ns);
        })
    });
    bench.finish();
    for rule in &group.rules {
        assert_eq!(rule.health, promlite::rules::Health::Ok, "{}", rule.kind.name());
    }
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
