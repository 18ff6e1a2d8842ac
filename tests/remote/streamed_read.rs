//! `POST /api/v1/read` end to end: the streamed XOR-chunks response. Samples go in through the
//! remote-write receiver; the same queries are then read back as SAMPLES and as
//! STREAMED_XOR_CHUNKS, and the frames (decoded with `prompb::read_frames` and the XOR chunk
//! iterator) must carry exactly the samples of the SAMPLES answer: same series, same labels,
//! same timestamps and value bits, in order, each once (a self-comparison, checked against the
//! written samples too), and the same as Prometheus 2.42's own streamed answer to the same
//! requests over the same samples (the peer).

use std::collections::BTreeMap;
use std::net::SocketAddr;

use promlite_prompb as prompb;
use promlite_storage::chunkenc::XorIterator;

use crate::remote_util::{External, PROMETHEUS, READ_HEADERS, Reply, have, now_ms, post, query, series, write};
use crate::util::start;

/// Samples of one query's series, keyed by the series' labels as `name="value",...` in the
/// order received: `(t, value bits)`.
type QuerySamples = BTreeMap<String, Vec<(i64, u64)>>;

/// The server's frame limit (`READ_MAX_BYTES_IN_FRAME`, upstream's default).
const MAX_BYTES_IN_FRAME: u64 = 1 << 20;

fn read(addr: SocketAddr, queries: &[prompb::Query], accepted_response_types: &[i32]) -> Reply {
    let request =
        prompb::ReadRequest { queries: queries.to_vec(), accepted_response_types: accepted_response_types.to_vec() };
    post(addr, "/api/v1/read", &READ_HEADERS, &prompb::encode_snappy(&request))
}

/// Writes through the remote-write receiver, which must take everything.
fn store(addr: SocketAddr, timeseries: Vec<prompb::TimeSeries>) {
    let (status, body) = write(addr, timeseries);
    assert_eq!(status, 204, "remote write: {body}");
}

fn key(labels: &[prompb::Label]) -> String {
    let names: Vec<&str> = labels.iter().map(|l| l.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "labels are sorted by name");
    labels.iter().map(|l| format!("{}={:?}", l.name, l.value)).collect::<Vec<_>>().join(",")
}

/// The SAMPLES answer, per query.
fn samples_answer(addr: SocketAddr, queries: &[prompb::Query]) -> Vec<QuerySamples> {
    let reply = read(addr, queries, &[prompb::RESPONSE_TYPE_SAMPLES]);
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let response: prompb::ReadResponse = prompb::decode_snappy(&reply.body).unwrap();
    assert_eq!(response.results.len(), queries.len());
    response
        .results
        .iter()
        .map(|result| {
            result
                .timeseries
                .iter()
                .map(|ts| (key(&ts.labels), ts.samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect()))
                .collect()
        })
        .collect()
}

/// Which server answered: promlite re-encodes exactly the query range's samples into chunks of
/// at most 120; Prometheus sends its stored chunks whole, so the client trims them to the range
/// (as upstream's `chunkedSeriesIterator` does).
#[derive(Clone, Copy, PartialEq)]
enum Server {
    Promlite,
    Prometheus,
}

/// The STREAMED_XOR_CHUNKS answer per query, checking the frames' shape on the way: one series
/// per frame, queries in order, a series' frames consecutive, chunks XOR with their min/max
/// times right. Also returns how many frames each series took.
fn streamed_answer(
    addr: SocketAddr,
    queries: &[prompb::Query],
    server: Server,
) -> (Vec<QuerySamples>, BTreeMap<String, usize>) {
    let reply = read(addr, queries, &[prompb::RESPONSE_TYPE_STREAMED_XOR_CHUNKS]);
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("content-type"), Some(prompb::STREAMED_CONTENT_TYPE));
    assert_eq!(reply.header("content-encoding"), None, "frames are not compressed");
    // Upstream's limit is counted before marshalling, on label and chunk messages only, so a
    // frame may pass it by one chunk and a few bytes of framing per chunk.
    let frames = prompb::read_frames(&reply.body, MAX_BYTES_IN_FRAME + (16 << 10)).unwrap();
    let mut answer = vec![QuerySamples::new(); queries.len()];
    let mut frames_per_series = BTreeMap::new();
    let mut previous: Option<(i64, String)> = None;
    for frame in &frames {
        assert_eq!(frame.chunked_series.len(), 1, "one series per frame");
        let series = &frame.chunked_series[0];
        let key = key(&series.labels);
        let at = (frame.query_index, key.clone());
        if let Some(previous) = &previous {
            assert!(previous.0 <= at.0, "queries in order");
            if *previous != at {
                assert!(!answer[frame.query_index as usize].contains_key(&key), "{key} split by another series");
            }
        }
        let query = &queries[frame.query_index as usize];
        let range = query.start_timestamp_ms..=query.end_timestamp_ms;
        let samples = answer[frame.query_index as usize].entry(key.clone()).or_default();
        for chunk in &series.chunks {
            assert_eq!(chunk.r#type, prompb::CHUNK_ENCODING_XOR);
            let decoded: Vec<(i64, u64)> = XorIterator::new(&chunk.data)
                .unwrap()
                .map(|s| s.map(|s| (s.t, s.v.to_bits())))
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(!decoded.is_empty());
            assert_eq!((chunk.min_time_ms, chunk.max_time_ms), (decoded[0].0, decoded[decoded.len() - 1].0));
            if server == Server::Promlite {
                assert!(decoded.len() <= 120, "{} samples in a chunk", decoded.len());
                assert!(decoded.iter().all(|(t, _)| range.contains(t)), "a sample outside {range:?}");
            }
            samples.extend(decoded.into_iter().filter(|(t, _)| range.contains(t)));
        }
        *frames_per_series.entry(format!("{}:{key}", frame.query_index)).or_insert(0) += 1;
        previous = Some(at);
    }
    (answer, frames_per_series)
}

/// Values that change in most bits from one sample to the next (large chunks, so the long
/// series needs more than one frame), with timestamps at irregular steps.
fn noisy(t0: i64, n: usize) -> Vec<(i64, f64)> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut t = t0;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            t += 5 + (state % 11) as i64;
            // Sign and top exponent bit clear: finite, positive, never -0.0 (which proto3 cannot
            // send apart from 0.0).
            (t, f64::from_bits(state >> 2))
        })
        .collect()
}

/// What every server under test is given and asked: a long noisy series (120k samples, about
/// 1.3 MiB of chunks: two frames at the 1 MiB limit), a short one with special values and its
/// own `region` label, one that no query selects; queries over everything, over a sub-range
/// with a matcher that only the external label satisfies, and over nothing.
struct Fixture {
    long: Vec<(i64, f64)>,
    special: [(i64, f64); 5],
    queries: [prompb::Query; 3],
}

/// The config both servers run with.
const CONFIG: &str = "global:\n  external_labels: {region: eu, cluster: lab}\n";

impl Fixture {
    fn new() -> Fixture {
        let t0 = now_ms() - 30 * 60 * 1000;
        let long = noisy(t0, 120_000);
        let t_end = long[long.len() - 1].0;
        let special = [
            (t0 + 1, 1.5),
            (t0 + 2, f64::INFINITY),
            (t0 + 3, f64::NEG_INFINITY),
            (t0 + 4, promlite_storage::STALE_NAN),
            (t0 + 5, 0.0),
        ];
        let queries = [
            query(t0, t_end, &[(2, "__name__", "rr_.*")]),
            query(long[1000].0 + 1, long[3000].0, &[(0, "__name__", "rr_long"), (0, "region", "eu")]),
            query(t0, t_end, &[(0, "__name__", "absent")]),
        ];
        Fixture { long, special, queries }
    }

    fn write_to(&self, addr: SocketAddr) {
        store(
            addr,
            vec![
                series(&[("__name__", "rr_long"), ("job", "a")], &self.long),
                series(&[("__name__", "rr_special"), ("job", "b"), ("region", "local")], &self.special),
                series(&[("__name__", "other"), ("job", "c")], &self.special),
            ],
        );
    }
}

/// A self-comparison (promlite's streamed answer against its own SAMPLES answer), anchored to
/// the written input; the peer comparison is [`streamed_answer_is_prometheus_streamed_answer`]
/// (no installed Prometheus can read a stream as a client: 2.42's asks for SAMPLES only).
#[test]
fn streamed_chunks_carry_exactly_the_samples_answer_self_comparison() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(&config, CONFIG).unwrap();
    let server =
        start(dir.path(), &[&format!("--config.file={}", config.display()), "--web.enable-remote-write-receiver"]);
    let fixture = Fixture::new();
    fixture.write_to(server.addr);

    let want = samples_answer(server.addr, &fixture.queries);
    let (got, frames_per_series) = streamed_answer(server.addr, &fixture.queries, Server::Promlite);
    assert_eq!(got, want);

    // Not only equal to each other, but to what was written.
    let long_key = r#"__name__="rr_long",cluster="lab",job="a",region="eu""#;
    let written: Vec<(i64, u64)> = fixture.long.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    assert_eq!(got[0][long_key], written);
    assert_eq!(got[1][long_key], written[1001..=3000]);
    let special_key = r#"__name__="rr_special",cluster="lab",job="b",region="local""#;
    assert_eq!(got[0][special_key], fixture.special.map(|(t, v)| (t, v.to_bits())));
    assert_eq!(got[0].len(), 2);
    assert!(got[2].is_empty());

    assert!(frames_per_series[&format!("0:{long_key}")] >= 2, "{frames_per_series:?}");
    assert_eq!(frames_per_series[&format!("1:{long_key}")], 1);
}

/// Prometheus (Debian's 2.42) given the same samples and config answers the same streamed
/// requests with the same series, labels and samples (its chunks trimmed to each query's range).
#[test]
fn streamed_answer_is_prometheus_streamed_answer() {
    if !have(PROMETHEUS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prometheus = External::prometheus(dir.path(), CONFIG, &["--web.enable-remote-write-receiver"]);
    let prometheus_addr = prometheus.addr;
    let config_flag = format!("--config.file={}", dir.path().join("prometheus.yml").display());
    let server = start(dir.path(), &[&config_flag, "--web.enable-remote-write-receiver"]);

    let fixture = Fixture::new();
    fixture.write_to(prometheus_addr);
    fixture.write_to(server.addr);
    let (want, want_frames) = streamed_answer(prometheus_addr, &fixture.queries, Server::Prometheus);
    let (got, got_frames) = streamed_answer(server.addr, &fixture.queries, Server::Promlite);
    assert_eq!(got, want);
    // The same cut: about 1.3 MiB of chunks is two frames for both, whatever the chunk bounds.
    assert_eq!(got_frames, want_frames);
    assert_eq!(want[0].len(), 2, "{:?}", want[0].keys());
}

#[test]
fn response_type_is_the_first_supported_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &["--web.enable-remote-write-receiver"]);
    let t = now_ms() - 60_000;
    store(server.addr, vec![series(&[("__name__", "rr_negotiated")], &[(t, 1.0), (t + 1000, 2.0)])]);
    let queries = [query(t - 1, t + 1000, &[(0, "__name__", "rr_negotiated")])];

    let refused = read(server.addr, &queries, &[7]);
    assert_eq!(refused.status, 400);
    assert_eq!(
        String::from_utf8_lossy(&refused.body),
        "server does not support any of the requested response types: [7]; supported: \
         map[SAMPLES:{} STREAMED_XOR_CHUNKS:{}]\n"
    );

    for (accepted, content_type, encoding) in [
        (&[][..], prompb::CONTENT_TYPE, Some("snappy")),
        (&[0, 1][..], prompb::CONTENT_TYPE, Some("snappy")),
        (&[7, 1, 0][..], prompb::STREAMED_CONTENT_TYPE, None),
    ] {
        let reply = read(server.addr, &queries, accepted);
        assert_eq!(reply.status, 200, "{accepted:?}: {}", String::from_utf8_lossy(&reply.body));
        assert_eq!(reply.header("content-type"), Some(content_type), "{accepted:?}");
        assert_eq!(reply.header("content-encoding"), encoding, "{accepted:?}");
        let samples: Vec<(i64, f64)> = if encoding.is_some() {
            let response: prompb::ReadResponse = prompb::decode_snappy(&reply.body).unwrap();
            response.results[0].timeseries[0].samples.iter().map(|s| (s.timestamp, s.value)).collect()
        } else {
            let frames = prompb::read_frames(&reply.body, MAX_BYTES_IN_FRAME).unwrap();
            let chunk = &frames[0].chunked_series[0].chunks[0];
            XorIterator::new(&chunk.data).unwrap().map(|s| s.map(|s| (s.t, s.v)).unwrap()).collect()
        };
        assert_eq!(samples, [(t, 1.0), (t + 1000, 2.0)], "{accepted:?}");
    }

    // A query that cannot run fails before the first frame, with the reason, as SAMPLES; the
    // status is upstream's 500 (only the sample limit is a 400 there).
    let bad_regex = [queries[0].clone(), query(t - 1, t + 1000, &[(2, "__name__", "rr_(")])];
    let bad_type = [query(t - 1, t + 1000, &[(9, "__name__", "rr_negotiated")])];
    for bad in [&bad_regex[..], &bad_type[..]] {
        let samples = read(server.addr, bad, &[prompb::RESPONSE_TYPE_SAMPLES]);
        let streamed = read(server.addr, bad, &[prompb::RESPONSE_TYPE_STREAMED_XOR_CHUNKS]);
        assert_eq!((samples.status, streamed.status), (500, 500));
        assert_eq!(streamed.header("content-type"), Some("text/plain; charset=utf-8"));
        assert_eq!(streamed.body, samples.body);
        assert!(streamed.body.len() > 1, "a reason");
    }
    let reply = read(server.addr, &bad_type, &[prompb::RESPONSE_TYPE_STREAMED_XOR_CHUNKS]);
    assert_eq!(String::from_utf8_lossy(&reply.body), "invalid matcher type\n");
}
