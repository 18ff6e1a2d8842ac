//! Remote-write 1.0 receiver cost per sample, single request at a time, on requests shaped like
//! a real sender's: 500 `TimeSeries` of one sample each (upstream's queue sends one series per
//! sample), 8 labels per series with cadvisor-like long `id`/`image` values, 20,000 distinct
//! series cycling (the push bench's `--targets 20 --series-per-target 1000`), timestamps one
//! second apart per cycle so every sample is stored.
//!
//! - `decode`: snappy + protobuf into `prompb::WriteRequest` (owned strings), the receiver's
//!   decode before `prompb::recv` (the sender and remote read keep it);
//! - `decode_recv`: snappy + `prompb::recv::decode` (label strings borrowed from the
//!   decompressed body, labels and samples in request-wide vectors), the receiver's decode now;
//! - `post`: `POST /api/v1/write` through the real router into a real `Db` in a temp dir (WAL,
//!   `chunks_head/`), answered 204: decode, label checks, series lookup, commit and WAL write.
//!
//! Run: `cargo bench -p promlite-web --bench remote_write`. Figures go to BENCHMARKS.md
//! ("Remote write").

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use promlite_prompb::{self as prompb, Label, Sample, TimeSeries, WriteRequest};
use promlite_promql::{Engine, EngineOptions};
use promlite_storage::{Db, Options};
use promlite_web::{ActiveTarget, AppState, DroppedTarget, TargetMetadata, TargetsView, WebOptions};
use tower::ServiceExt;

const SERIES: usize = 20_000;
const PER_REQUEST: usize = 500;

/// The label sets of the 20,000 series, sorted by name as senders send them.
fn series_labels() -> Vec<Vec<Label>> {
    let names = ["container_cpu_usage_seconds_total", "container_memory_working_set_bytes", "http_requests_total"];
    (0..SERIES)
        .map(|i| {
            let target = i / 1000;
            let pod = (i / 10) % 100;
            let pairs = [
                ("__name__", names[i % names.len()].to_owned()),
                ("container", format!("app-{}", i % 10)),
                (
                    "id",
                    format!(
                        "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{target:04}{pod:04}.slice/cri-containerd-{i:064x}.scope"
                    ),
                ),
                ("image", format!("registry.example.com/team/app-{}:v1.{}.3", i % 10, pod % 7)),
                ("instance", format!("10.0.{target}.17:9100")),
                ("job", "kubernetes-nodes".to_owned()),
                ("namespace", format!("ns-{}", pod % 12)),
                ("pod", format!("app-{pod}-7d9f8b6c5d-x{i:05}")),
            ];
            pairs.into_iter().map(|(name, value)| Label { name: name.to_owned(), value }).collect()
        })
        .collect()
}

/// Request `n` of the endless cycle: series `n*500 .. n*500+500` (mod 20,000), one sample each
/// at `base + cycle` seconds.
fn request(labels: &[Vec<Label>], n: usize, base_ms: i64) -> Vec<u8> {
    let first = (n * PER_REQUEST) % SERIES;
    let cycle = (n * PER_REQUEST / SERIES) as i64;
    let timestamp = base_ms + cycle * 1000;
    let timeseries = (first..first + PER_REQUEST)
        .map(|i| TimeSeries {
            labels: labels[i].clone(),
            samples: vec![Sample { value: (cycle * 7 + i as i64) as f64, timestamp }],
            exemplars: vec![],
            histograms: vec![],
        })
        .collect();
    prompb::encode_snappy(&WriteRequest { timeseries, metadata: vec![] })
}

/// No scrape manager: the receiver does not look at targets.
struct NoTargets;

impl TargetsView for NoTargets {
    fn active_targets(&self) -> Vec<ActiveTarget> {
        Vec::new()
    }
    fn dropped_targets(&self) -> Vec<DroppedTarget> {
        Vec::new()
    }
    fn scrape_pools(&self) -> Vec<String> {
        Vec::new()
    }
    fn discovery_notes(&self, _: &str) -> Vec<String> {
        Vec::new()
    }
    fn metadata(&self) -> Vec<TargetMetadata> {
        Vec::new()
    }
}

fn state(db: Db) -> AppState {
    let registry = Arc::new(promlite_metrics::Registry::new());
    AppState {
        remote_write: Arc::default(),
        config_reloads: Arc::new(promlite_web::ConfigReloads::new(std::time::SystemTime::now())),
        db,
        engine: Arc::new(Engine::new(EngineOptions::default())),
        targets: Arc::new(NoTargets),
        rules: Arc::new(promlite_web::NoRules),
        alertmanagers: Arc::new(promlite_web::NoAlertmanagers),
        options: Arc::new(WebOptions {
            route_prefix: String::new(),
            external_url: "http://localhost:9090".into(),
            listen_address: "localhost:9090".into(),
            enable_lifecycle: false,
            enable_admin_api: false,
            enable_remote_write_receiver: true,
            remote_read_sample_limit: 0,
            remote_read_max_bytes_in_frame: 1 << 20,
            flags: Vec::new(),
        }),
        config_yaml: Arc::default(),
        ready: Arc::new(AtomicBool::new(true)),
        query_slots: Arc::new(tokio::sync::Semaphore::new(1)),
        remote_read_slots: None,
        start_time: SystemTime::now(),
        reload: Arc::new(|| Ok(())),
        quit: Arc::new(tokio::sync::Notify::new()),
        external_labels: Arc::default(),
        metrics: Arc::new(promlite_web::metrics::ServerMetrics::new(&registry, 1)),
        registry,
    }
}

/// A data directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bench(c: &mut Criterion) {
    let labels = series_labels();
    // An hour back, so even millions of iterations (a cycle is one second) stay in the past.
    let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_millis() as i64;
    let base_ms = now_ms - 3_600_000;
    let sample_body = request(&labels, 0, base_ms);

    let mut group = c.benchmark_group("remote_write");
    group.throughput(Throughput::Elements(PER_REQUEST as u64));
    group.measurement_time(Duration::from_secs(8));
    group.bench_function("decode", |b| {
        b.iter(|| prompb::decode_snappy::<WriteRequest>(&sample_body).unwrap().timeseries.len())
    });

    group.bench_function("decode_recv", |b| {
        b.iter(|| {
            let raw = prompb::decompress_snappy(&sample_body).unwrap();
            prompb::recv::decode(&raw).unwrap().timeseries.len()
        })
    });

    let dir = std::env::temp_dir().join(format!("promlite-bench-remote-write-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let _cleanup = TempDir(dir.clone());
    let db = Db::open(&dir, Options::default()).unwrap();
    let router = promlite_web::router(state(db.clone()));
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let post = |body: Vec<u8>| {
        let request = Request::post("/api/v1/write")
            .header("content-type", "application/x-protobuf")
            .header("content-encoding", "snappy")
            .header("x-prometheus-remote-write-version", "0.1.0")
            .body(Body::from(body))
            .unwrap();
        let response = runtime.block_on(router.clone().oneshot(request)).unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    };
    // Create every series first: the steady state of a receiver is series it already has.
    let mut n = 0usize;
    while n < SERIES / PER_REQUEST {
        post(request(&labels, n, base_ms));
        n += 1;
    }
    group.bench_function("post", |b| {
        b.iter_batched(
            || {
                n += 1;
                request(&labels, n, base_ms)
            },
            post,
            BatchSize::SmallInput,
        )
    });
    group.finish();
    let stats = db.head_stats();
    assert_eq!(stats.series, SERIES as u64, "every request stored into the same 20,000 series");
    drop(router);
    db.close().unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
