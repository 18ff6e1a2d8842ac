//! What the remote-storage e2e tests share (`remote` and its modules, and `faults`,
//! `persistence` and `tsdb_interop`, which write through the receiver): raw HTTP POSTs that keep
//! every answer header, remote-write and remote-read bodies, `/metrics` lookups, external servers
//! (Debian's Prometheus and VictoriaMetrics, killed on drop) and the request reader of the fake
//! remote-write receivers.

use std::collections::BTreeMap;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promlite_prompb as prompb;

use crate::util::{FakeTarget, eventually, http};

pub const PROMETHEUS: &str = "/usr/bin/prometheus";
/// Debian's promtool, of the same version.
pub const PROMTOOL: &str = "/usr/bin/promtool";
pub const VICTORIA_METRICS: &str = "/usr/bin/victoria-metrics";

/// Samples per series, keyed by the series' labels as `{a="b", ...}`: `(t, value bits)`.
pub type Samples = BTreeMap<String, Vec<(i64, u64)>>;

/// Headers of a remote-write 1.0 request.
pub const WRITE_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
];

/// Headers of a remote-read request.
pub const READ_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Read-Version", "0.1.0"),
];

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64
}

/// An HTTP answer: status, headers (names lowercased), and the de-chunked body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// POSTs `body` with `headers` over a fresh connection.
pub fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connecting");
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head =
        format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        body = crate::util::dechunk(&body);
    }
    Reply { status, headers, body }
}

/// A 1.0 series with its samples `(t, v)`.
pub fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> prompb::TimeSeries {
    prompb::TimeSeries {
        labels: pairs.iter().map(|(n, v)| prompb::Label { name: (*n).into(), value: (*v).into() }).collect(),
        samples: samples.iter().map(|&(timestamp, value)| prompb::Sample { value, timestamp }).collect(),
        exemplars: vec![],
        histograms: vec![],
    }
}

/// POSTs a remote-write 1.0 request; the status and the body as text.
pub fn write(addr: SocketAddr, timeseries: Vec<prompb::TimeSeries>) -> (u16, String) {
    let body = prompb::encode_snappy(&prompb::WriteRequest { timeseries, metadata: vec![] });
    let reply = post(addr, "/api/v1/write", &WRITE_HEADERS, &body);
    (reply.status, reply.text())
}

/// A remote-read query for `[start, end]` with `matchers` as (type, name, value).
pub fn query(start: i64, end: i64, matchers: &[(i32, &str, &str)]) -> prompb::Query {
    prompb::Query {
        start_timestamp_ms: start,
        end_timestamp_ms: end,
        matchers: matchers
            .iter()
            .map(|&(r#type, name, value)| prompb::LabelMatcher { r#type, name: name.into(), value: value.into() })
            .collect(),
        hints: None,
    }
}

/// Every series matching `matchers` (type, name, value) in `[start, end]`, via remote read
/// (SAMPLES).
pub fn remote_read(addr: SocketAddr, matchers: &[(i32, &str, &str)], start: i64, end: i64) -> Result<Samples, String> {
    let request = prompb::ReadRequest {
        queries: vec![query(start, end, matchers)],
        accepted_response_types: vec![prompb::RESPONSE_TYPE_SAMPLES],
    };
    let reply = post(addr, "/api/v1/read", &READ_HEADERS, &prompb::encode_snappy(&request));
    if reply.status != 200 {
        return Err(format!("remote read answered {}: {}", reply.status, reply.text()));
    }
    let response: prompb::ReadResponse = prompb::decode_snappy(&reply.body).map_err(|e| e.to_string())?;
    let mut out = Samples::new();
    for result in response.results {
        for ts in result.timeseries {
            let mut labels: Vec<String> = ts.labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect();
            labels.sort();
            let samples = ts.samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect();
            out.insert(format!("{{{}}}", labels.join(", ")), samples);
        }
    }
    Ok(out)
}

/// The value of the first `/metrics` line starting with `name`.
pub fn metric(addr: SocketAddr, name: &str) -> f64 {
    let body = http(addr, "GET", "/metrics", None).body;
    body.lines()
        .find(|line| line.starts_with(name))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

/// A metric of the remote-write queue named `under-test`.
pub fn queue_metric(addr: SocketAddr, family: &str) -> f64 {
    metric(addr, &format!("{family}{{remote_name=\"under-test\",url=\""))
}

/// A target exposing `series` gauges named `name` whose values change every scrape.
pub fn counting_target(name: &'static str, series: u64) -> FakeTarget {
    FakeTarget::start(move |n| {
        let mut body = format!("# TYPE {name} gauge\n");
        for i in 0..series {
            body.push_str(&format!("{name}{{i=\"{i}\"}} {}\n", n as f64 * 1.25 + i as f64));
        }
        body
    })
}

/// A free loopback port (bound, then released for the child to bind).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// True when `binary` exists; otherwise the test cannot run: a failure under CI, else a skip
/// said on the terminal ([`promlite_testkit::missing`]).
#[track_caller]
pub fn have(binary: &str) -> bool {
    promlite_testkit::have(Path::new(binary), "a Debian package .ci/run installs")
}

/// An external server (Prometheus, VictoriaMetrics) on loopback, killed on drop.
pub struct External {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for External {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl External {
    /// Starts `binary` with `args` and waits until `ready_path` answers 200 on `port`.
    pub fn start(binary: &str, args: &[String], port: u16, ready_path: &str) -> External {
        External::spawn(binary, args, port, ready_path, None)
    }

    /// Like [`External::start`], with the process's stderr written to `log` (shown if it never
    /// gets ready).
    pub fn start_logged(binary: &str, args: &[String], port: u16, ready_path: &str, log: &Path) -> External {
        External::spawn(binary, args, port, ready_path, Some(log))
    }

    fn spawn(binary: &str, args: &[String], port: u16, ready_path: &str, log: Option<&Path>) -> External {
        let stderr = match log {
            Some(path) => Stdio::from(std::fs::File::create(path).unwrap()),
            None => Stdio::null(),
        };
        let child = Command::new(binary)
            .args(args)
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| panic!("starting {binary}: {err}"));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut external = External { child, addr };
        let shown = || log.map(|p| std::fs::read_to_string(p).unwrap_or_default()).unwrap_or_default();
        eventually(Duration::from_secs(30), || {
            if let Some(status) = external.child.try_wait().unwrap() {
                panic!("{binary} exited with {status} before it was ready:\n{}", shown());
            }
            match crate::util::try_http(addr, "GET", ready_path) {
                Some(r) if r.status == 200 => Ok(()),
                other => Err(format!("{binary} not ready: {other:?}\n{}", shown())),
            }
        });
        external
    }

    /// SIGTERM, then waits up to `timeout` for the exit: a graceful stop.
    pub fn stop(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("running kill").success());
        eventually(timeout, || self.child.try_wait().unwrap().ok_or_else(|| format!("pid {pid} still running")))
    }

    /// Prometheus with `config` written to `dir/prometheus.yml`, its data in `dir/prom-data`.
    pub fn prometheus(dir: &Path, config: &str, extra: &[&str]) -> External {
        let port = free_port();
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).unwrap();
        let mut args = vec![
            format!("--config.file={}", config_path.display()),
            format!("--storage.tsdb.path={}", dir.join("prom-data").display()),
            format!("--web.listen-address=127.0.0.1:{port}"),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        External::start(PROMETHEUS, &args, port, "/-/ready")
    }

    /// VictoriaMetrics single-node with its data in `dir/vm-data`, no dedup, no latency offset.
    pub fn victoria_metrics(dir: &Path) -> External {
        let port = free_port();
        let args = vec![
            format!("-storageDataPath={}", dir.join("vm-data").display()),
            format!("-httpListenAddr=127.0.0.1:{port}"),
            "-search.latencyOffset=0s".to_owned(),
            "-dedup.minScrapeInterval=0s".to_owned(),
        ];
        External::start(VICTORIA_METRICS, &args, port, "/health")
    }
}

/// Reads one request of a keep-alive connection: its head and body; `None` once the client
/// closed the connection.
pub fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<u8>)> {
    let head = crate::util::read_head(reader);
    if head.is_empty() {
        return None;
    }
    let len = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0usize);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((head, body))
}
