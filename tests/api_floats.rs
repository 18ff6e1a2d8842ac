//! Sample values in API answers, byte for byte as Prometheus 2.42 writes them (its
//! `jsonutil.MarshalFloat`, unchanged in 3.x): a few hundred values of every magnitude, sign
//! and special value through `vector(...)` and `scalar(...)`, against the real Prometheus.

use crate::remote_util::{External, PROMETHEUS, have};
use crate::util::{enc, start};

/// Values of every magnitude: powers of ten times a few mantissas, both signs, specials, and
/// pseudo-random bit patterns (the finite ones).
fn values() -> Vec<f64> {
    let mut out = vec![0.0, 1.0, 0.1 + 0.2, 1e-6, 9.999999e-7, 1e21, 9.99999e20, f64::MAX, f64::MIN_POSITIVE, 5e-324];
    for exp in (-320..=300).step_by(7) {
        for mantissa in [1.0, 3.3, 1.2345678901234567] {
            out.push(mantissa * 10f64.powi(exp));
        }
    }
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    while out.len() < 400 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let v = f64::from_bits(seed);
        if v.is_finite() {
            out.push(v);
        }
    }
    let negated: Vec<f64> = out.iter().map(|v| -v).collect();
    out.extend(negated);
    out
}

/// The `data` of `query`'s answer at `time`, as raw JSON text: byte for byte what matters.
fn answer(addr: std::net::SocketAddr, query: &str, time: &str) -> String {
    let response = crate::util::http(addr, "GET", &format!("/api/v1/query?query={}&time={time}", enc(query)), None);
    assert_eq!(response.status, 200, "{query}: {}", response.body);
    let data = response.body.split_once(r#""data":"#).unwrap_or_else(|| panic!("{query}: {}", response.body)).1;
    data.to_owned()
}

#[test]
fn sample_values_are_written_as_prometheus_writes_them() {
    if !have(PROMETHEUS) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let prometheus = External::prometheus(dir.path(), "global: {}\n", &[]);
    std::fs::write(dir.path().join("prometheus.yml"), "global: {}\n").unwrap();
    let promlite = start(dir.path(), &[]);
    // `0e0` is left out: the promql-parser crate reads a leading 0 as octal and refuses it,
    // where Prometheus falls back to a float (noted in issue #16).
    let literal = |v: f64| if v == 0.0 { format!("{v}") } else { format!("{v:e}") };
    let mut queries: Vec<String> = values().into_iter().map(|v| format!("vector({})", literal(v))).collect();
    queries.extend(
        ["vector(NaN)", "vector(Inf)", "vector(-Inf)", "vector(-0)", "scalar(vector(3.3e-7))"].map(String::from),
    );
    queries.extend(["scalar(vector(1e22))", "vector(1) / 3", "vector(2) ^ 70", "vector(1) / 7e8"].map(String::from));
    queries.extend(["\"text\"", "1e22", "-3.3e-7", "time()"].map(String::from));
    let mut differ = Vec::new();
    for query in &queries {
        // Whole and fractional evaluation times: a scalar's time is a JSON float, a point's not.
        for time in ["1000", "1000.5", "1000.001"] {
            let (want, got) = (answer(prometheus.addr, query, time), answer(promlite.addr, query, time));
            if want != got {
                differ.push(format!("{query} at {time}: Prometheus {want}, promlite {got}"));
            }
        }
    }
    assert!(differ.is_empty(), "{} of {} answers differ:\n{}", differ.len(), queries.len() * 3, differ.join("\n"));
}
