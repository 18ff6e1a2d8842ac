//! Test plumbing: start the real binary on an ephemeral port, serve fake targets, speak HTTP,
//! and wait for conditions with a deadline (never a bare sleep).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// A running `promlite` process, killed on drop.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<Vec<String>>>,
    _data: Option<tempfile::TempDir>,
}

impl Server {
    /// The exit status, if the process has ended.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("polling the child")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM: a graceful stop.
    pub fn terminate(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("running kill").success());
    }

    /// SIGKILLs the process and reaps it: a crash, as far as the data directory can tell.
    pub fn kill(&mut self) {
        self.child.kill().expect("killing promlite");
        self.child.wait().expect("reaping promlite");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of the binary under test.
/// `PROMLITE_TEST_BINARY` runs the suite against another build (e.g. an older commit, to see
/// a test fail before its fix).
pub fn binary() -> PathBuf {
    std::env::var_os("PROMLITE_TEST_BINARY")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_promlite")), PathBuf::from)
}

/// Starts promlite in `cwd` with `args` plus a fresh data dir and `--web.listen-address=127.0.0.1:0`,
/// and waits until it logs its bound address.
pub fn start(cwd: &Path, args: &[&str]) -> Server {
    let data = tempfile::tempdir().unwrap();
    let mut server = start_with_data(cwd, data.path(), args);
    server._data = Some(data);
    server
}

/// Like [`start`], on the data directory `data`, which outlives the process (for restarts).
pub fn start_with_data(cwd: &Path, data: &Path, args: &[&str]) -> Server {
    let mut child = Command::new(binary())
        .current_dir(cwd)
        .arg("--web.listen-address=127.0.0.1:0")
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .args(args)
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promlite");
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let log_writer = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.contains("server is ready to receive web requests")
                && let Some(addr) = line.split("address=").nth(1)
            {
                let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_owned());
            }
            log_writer.lock().unwrap().push(line);
        }
    });
    // Replaying a large WAL can take a while on a loaded machine.
    let addr = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(addr) => addr.parse().expect("a socket address in the ready line"),
        Err(_) => {
            let _ = child.kill();
            panic!("promlite did not become ready; log:\n{}", log.lock().unwrap().join("\n"));
        }
    };
    Server { child, addr, log, _data: None }
}

/// An HTTP response: status code and body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

/// Like [`http`], but `None` when the connection fails or the answer is not HTTP.
pub fn try_http(addr: SocketAddr, method: &str, path: &str) -> Option<Response> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.strip_prefix("HTTP/1.1 ")?.split_whitespace().next()?.parse().ok()?;
    Some(Response { status, headers: head.to_owned(), body: body.to_owned() })
}

/// A minimal HTTP/1.1 client: one request per connection.
pub fn http(addr: SocketAddr, method: &str, path: &str, body: Option<(&str, &str)>) -> Response {
    let mut stream = TcpStream::connect(addr).expect("connecting");
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some((content_type, body)) = body {
        request.push_str(&format!("Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}", body.len()));
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = split.map_or((&raw[..], &[][..]), |at| (&raw[..at], &raw[at + 4..]));
    let head = String::from_utf8_lossy(head).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let body = if chunked { dechunk(body) } else { body.to_vec() };
    Response { status, headers: head, body: String::from_utf8_lossy(&body).into_owned() }
}

/// The body of a `Transfer-Encoding: chunked` message, without the chunk framing.
pub fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = raw.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&raw[..eol]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let size = size.unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&raw[eol + 2..eol + 2 + size]);
        raw = &raw[eol + 2 + size + 2..];
    }
    out
}

/// Writes `body` as `dir/prometheus.yml`; returns the `--config.file` flag naming it.
pub fn write_config(dir: &Path, body: &str) -> String {
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, body).unwrap();
    format!("--config.file={}", path.display())
}

/// Runs the binary with `args` in `cwd`, expecting it to exit with status 1 (a start-up
/// error); returns its stderr.
pub fn start_fails(cwd: &Path, args: &[&str]) -> String {
    let output = Command::new(binary()).current_dir(cwd).args(args).output().expect("running promlite");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    stderr
}

/// The `data.result` of the instant query `q`, asserting a 200.
pub fn query_result(addr: SocketAddr, q: &str) -> Vec<serde_json::Value> {
    let (status, body) = get_json(addr, &format!("/api/v1/query?query={}", enc(q)));
    assert_eq!(status, 200, "{q}: {body}");
    body["data"]["result"].as_array().cloned().unwrap_or_default()
}

/// GET `path` and parse the body as JSON.
pub fn get_json(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let response = http(addr, "GET", path, None);
    let json = serde_json::from_str(&response.body).unwrap_or_else(|err| panic!("{path}: {err}: {:?}", response.body));
    (response.status, json)
}

/// The `[time, "value"]` pairs of a matrix series' `values` as `(ms, value)`.
pub fn points(values: &serde_json::Value) -> Vec<(i64, f64)> {
    values
        .as_array()
        .unwrap()
        .iter()
        .map(|p| ((p[0].as_f64().unwrap() * 1000.0).round() as i64, p[1].as_str().unwrap().parse().unwrap()))
        .collect()
}

/// Percent-encodes a query parameter value.
pub fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Polls `check` every 100 ms until it returns `Ok`, or fails after `timeout` showing the last
/// state seen.
pub fn eventually<T>(timeout: Duration, check: impl FnMut() -> Result<T, String>) -> T {
    eventually_every(Duration::from_millis(100), timeout, check)
}

/// Like [`eventually`], polling every `interval`: for a check that must also see a short-lived
/// state on the way (a replay's 503s before the 200).
pub fn eventually_every<T>(interval: Duration, timeout: Duration, mut check: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match check() {
            Ok(value) => return value,
            Err(last) if Instant::now() > deadline => {
                panic!("condition not met within {timeout:?}; last state: {last}")
            }
            Err(_) => std::thread::sleep(interval),
        }
    }
}

/// What a fake target answers.
pub struct FakeResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
    /// Wait this long before answering (a slow target).
    pub delay: Duration,
}

impl FakeResponse {
    /// A 200 with a text-format body.
    pub fn text(body: impl Into<String>) -> FakeResponse {
        FakeResponse {
            status: 200,
            content_type: "text/plain; version=0.0.4".to_owned(),
            body: body.into().into_bytes(),
            delay: Duration::ZERO,
        }
    }
}

/// A fake scrape target on loopback: answers the n-th request (1-based) with `respond(n, head)`,
/// where `head` is the request line and headers.
pub struct FakeTarget {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicU64>,
    pub last_request: Arc<Mutex<String>>,
}

impl FakeTarget {
    /// Serves `body(n)` as text format for the n-th request to any path.
    pub fn start(body: impl Fn(u64) -> String + Send + Sync + 'static) -> FakeTarget {
        FakeTarget::start_with(move |n, _| FakeResponse::text(body(n)))
    }

    /// Serves whatever `respond` says, one thread per connection.
    pub fn start_with(respond: impl Fn(u64, &str) -> FakeResponse + Send + Sync + 'static) -> FakeTarget {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicU64::new(0));
        let last_request = Arc::new(Mutex::new(String::new()));
        let (count, last) = (Arc::clone(&requests), Arc::clone(&last_request));
        let respond = Arc::new(respond);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (count, last, respond) = (Arc::clone(&count), Arc::clone(&last), Arc::clone(&respond));
                std::thread::spawn(move || serve_one(stream, &count, &last, &*respond));
            }
        });
        FakeTarget { addr, requests, last_request }
    }
}

/// Reads an HTTP request head (up to the empty line); empty when the peer closed first.
pub fn read_head<R: BufRead>(reader: &mut R) -> String {
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    head
}

/// Reads one request's head from `stream` and writes `respond`'s answer.
pub fn serve_one<S: Read + Write>(
    stream: S,
    count: &AtomicU64,
    last: &Mutex<String>,
    respond: &dyn Fn(u64, &str) -> FakeResponse,
) {
    let mut reader = BufReader::new(stream);
    let head = read_head(&mut reader);
    let n = count.fetch_add(1, Ordering::SeqCst) + 1;
    *last.lock().unwrap() = head.clone();
    let response = respond(n, &head);
    std::thread::sleep(response.delay);
    let mut out = format!(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        response.status,
        response.content_type,
        response.body.len()
    )
    .into_bytes();
    out.extend_from_slice(&response.body);
    let stream = reader.get_mut();
    let _ = stream.write_all(&out);
    let _ = stream.flush();
}

/// A fresh test CA and a server certificate it signed for `names`, in the forms tests need.
pub struct TestCertificates {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The server certificate, PEM.
    pub cert_pem: String,
    /// The server key, PEM.
    pub key_pem: String,
    /// A rustls server config serving that certificate (ring provider installed).
    pub server_config: Arc<rustls::ServerConfig>,
}

/// Issues a server certificate for `names` from a new CA.
pub fn test_certificates(names: &[&str]) -> TestCertificates {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let leaf = rcgen::CertificateParams::new(names).unwrap().signed_by(&leaf_key, &issuer).unwrap();
    let server_config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der()).unwrap(),
        )
        .unwrap();
    TestCertificates {
        ca_pem: ca_cert.pem(),
        cert_pem: leaf.pem(),
        key_pem: leaf_key.serialize_pem(),
        server_config: Arc::new(server_config),
    }
}
