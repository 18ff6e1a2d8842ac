//! Fuzzes both exposition parsers and content sniffing with arbitrary bytes.
//!
//! What must hold: no panic and no allocation beyond a small multiple of the input, whatever
//! the bytes; and every sample the text parser accepts survives a round trip: written back in
//! canonical form (quoted names, escaped values), it parses to the same name, labels, value
//! and timestamp.

#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::fuzz_target;
use promlite::scrape::textparse::{Entry, Format, Parser, sniff};

fuzz_target!(|data: &[u8]| {
    let _ = sniff(data);
    for format in [Format::PrometheusText, Format::OpenMetrics] {
        for entry in Parser::new(data, format) {
            let Ok(Entry::Sample(sample)) = entry else { continue };
            assert!(data.windows(sample.series.len()).any(|w| w == sample.series.as_bytes()));
            let Ok(series) = sample.labels() else { continue };
            round_trip(&series.name, &series.labels, sample.value, sample.timestamp);
        }
    }
});

fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n"))
}

/// Writes the sample in canonical text form and checks that it parses back unchanged.
fn round_trip(
    name: &str,
    labels: &[(std::borrow::Cow<'_, str>, std::borrow::Cow<'_, str>)],
    value: f64,
    ts: Option<i64>,
) {
    let mut line = format!("{{{}", quote(name));
    for (label, label_value) in labels {
        let _ = write!(line, ",{}={}", quote(label), quote(label_value));
    }
    let _ = write!(line, "}} {value:?}");
    let ts = ts.filter(|t| *t >= 0);
    if let Some(ts) = ts {
        let _ = write!(line, " {ts}");
    }
    line.push('\n');
    let mut parser = Parser::new(line.as_bytes(), Format::PrometheusText);
    let entry = parser.next().expect("one entry").unwrap_or_else(|e| panic!("{e}: {line:?}"));
    let Entry::Sample(again) = entry else { panic!("not a sample: {line:?}") };
    let series = again.labels().unwrap_or_else(|e| panic!("{e}: {line:?}"));
    assert_eq!(series.name, name, "{line:?}");
    assert_eq!(series.labels, labels, "{line:?}");
    assert!(again.value.to_bits() == value.to_bits() || (again.value.is_nan() && value.is_nan()), "{line:?}");
    assert_eq!(again.timestamp, ts, "{line:?}");
    assert!(parser.next().is_none());
}
