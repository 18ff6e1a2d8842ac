//! Real inputs: every file of the upstream corpus parses completely, its exemplars come out, and
//! so does a real node exporter's output (each skipped with a message when absent).

use super::*;

/// The upstream test data directory, or `None` (with a message) when `../shared` is absent.
fn upstream_testdata() -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/upstream/prometheus-v3.14.0/model/textparse/testdata"
    ));
    if dir.is_dir() {
        Some(dir.to_owned())
    } else {
        promlite_testkit::missing(&format!("upstream test data at {} (../shared/upstream)", dir.display()));
        None
    }
}

/// The files of upstream's `model/textparse/testdata` (v3.14.0), every one of them parsed.
const UPSTREAM_FILES: [&str; 4] =
    ["1histogram.om.txt", "alltypes.237mfs.nometa.prom.txt", "alltypes.237mfs.prom.txt", "alltypes.5mfs.om.txt"];
/// Their samples: lines neither blank nor comments (`grep -cv '^#\|^$'`: 42 + 1857 + 1857 + 53).
const UPSTREAM_SAMPLES: usize = 3809;

/// Every upstream test file parses completely, labels included, and yields one sample per
/// line that is neither blank nor a comment (counted independently of the parser). The set of
/// files read and the total are asserted too, so a path mistake or a new skip fails.
#[test]
fn upstream_corpus_parses_completely() {
    let Some(dir) = upstream_testdata() else { return };
    let mut parsed = Vec::new();
    let mut skipped = Vec::new();
    let mut total_samples = 0;
    for entry in std::fs::read_dir(&dir).expect("listing the upstream test data") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let format = if name.ends_with(".prom.txt") {
            Format::PrometheusText
        } else if name.ends_with(".om.txt") {
            Format::OpenMetrics
        } else {
            skipped.push(name);
            continue;
        };
        let body = std::fs::read(&path).expect("reading an upstream test file");
        let text = String::from_utf8_lossy(&body);
        let expected = text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).count();
        let mut samples = 0;
        let mut families = 0;
        for entry in Parser::new(&body, format) {
            match entry {
                Ok(Entry::Sample(sample)) => {
                    sample.labels().unwrap_or_else(|err| panic!("{name}: {err}"));
                    samples += 1;
                }
                Ok(Entry::Type { .. }) => families += 1,
                Ok(_) => {}
                Err(err) => panic!("{name}: {err}"),
            }
        }
        assert_eq!(samples, expected, "{name}: samples");
        assert!(samples > 0, "{name}: no samples");
        if !name.contains("nometa") {
            assert!(families > 0, "{name}: no families");
        }
        total_samples += samples;
        parsed.push(name);
    }
    parsed.sort();
    assert_eq!(parsed, UPSTREAM_FILES, "the upstream files parsed (skipped: {skipped:?})");
    // None is passed over: a new file in a format the runner does not know fails here rather
    // than going unread.
    assert!(skipped.is_empty(), "files skipped: {skipped:?}");
    assert_eq!(total_samples, UPSTREAM_SAMPLES, "samples in the upstream corpus");
}

/// The exemplars of the upstream OpenMetrics histogram come out with their labels and values.
#[test]
fn upstream_exemplars_are_exposed() {
    let Some(dir) = upstream_testdata() else { return };
    let body = std::fs::read(dir.join("alltypes.5mfs.om.txt")).expect("reading alltypes.5mfs.om.txt");
    let text = String::from_utf8_lossy(&body);
    let expected = text.lines().filter(|l| l.contains(" # {")).count();
    let exemplars: Vec<Exemplar<'_>> = Parser::new(&body, Format::OpenMetrics)
        .filter_map(|e| match e.expect("valid OpenMetrics") {
            Entry::Sample(sample) => sample.exemplar,
            _ => None,
        })
        .collect();
    assert_eq!(exemplars.len(), expected);
    assert!(expected > 0);
    assert!(exemplars.iter().all(|e| e.labels.len() == 1 && e.labels[0].0 == "dummyID" && e.timestamp.is_some()));
}

/// Real exporter output: Debian's `prometheus-node-exporter`, when installed (nothing here
/// installs it), served on loopback and fetched over HTTP; its Content-Type picks the parser and
/// every sample's labels parse. Skipped with a message when the binary is absent.
#[test]
fn node_exporter_output_parses() {
    use std::io::{Read as _, Write as _};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    let Some(binary) = promlite_testkit::on_path(&["prometheus-node-exporter", "node_exporter"]) else {
        promlite_testkit::missing("prometheus-node-exporter on PATH (Debian package)");
        return;
    };
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
    let address = format!("127.0.0.1:{port}");
    let mut child = std::process::Command::new(&binary)
        .arg(format!("--web.listen-address={address}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("starting node exporter");
    // Polled every 50 ms (not spun) until it answers, for up to 60 s: a loaded machine may
    // take a while to start it.
    let deadline = Instant::now() + Duration::from_secs(60);
    let response = loop {
        let attempt = TcpStream::connect(&address).and_then(|mut stream| {
            stream.set_read_timeout(Some(Duration::from_secs(10)))?;
            stream
                .write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\nAccept: text/plain;version=0.0.4\r\n\r\n")?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response)?;
            Ok(response)
        });
        match attempt {
            Ok(response) => break response,
            Err(err) if Instant::now() > deadline => {
                let _ = child.kill();
                panic!("node exporter at {address} did not answer within 60s: {err}");
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").expect("an HTTP response");
    let head = String::from_utf8_lossy(&response[..split]).to_string();
    let body = &response[split + 4..];
    let content_type = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim()));
    let (format, warning) = parser_for(content_type, body, None).expect("a text exposition format");
    assert_eq!(warning, None, "node exporter sends a proper Content-Type: {head}");
    let mut samples = 0;
    for entry in Parser::new(body, format) {
        if let Entry::Sample(sample) = entry.expect("node exporter output parses") {
            sample.labels().expect("node exporter labels parse");
            samples += 1;
        }
    }
    assert!(samples > 50, "only {samples} samples from node exporter");
}
