//! Property tests: generated samples written in either format parse back to themselves, and any
//! bytes give entries or an error, never a panic.

use std::fmt::Write as _;

use proptest::prelude::*;

use super::*;

/// One generated sample: name, labels, value, timestamp.
#[derive(Debug, Clone)]
struct GenSample {
    name: String,
    quoted_name: bool,
    labels: Vec<(String, String)>,
    value: f64,
    timestamp: Option<i64>,
}

fn escape_value(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn gen_sample() -> impl Strategy<Value = GenSample> {
    let name = prop_oneof![
        "[a-zA-Z_:][a-zA-Z0-9_:]{0,12}".prop_map(|n| (n, false)),
        "[a-z.\\-/ é✓]{1,10}".prop_map(|n| (n, true)),
    ];
    let labels = proptest::collection::btree_map("[a-zA-Z_][a-zA-Z0-9_]{0,8}", any::<String>(), 0..5);
    let value = prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        (0u64..1_000_000).prop_map(|v| v as f64)
    ];
    (name, labels, value, proptest::option::of(0i64..4_000_000_000)).prop_map(
        |((name, quoted_name), labels, value, timestamp)| GenSample {
            name,
            quoted_name,
            labels: labels.into_iter().filter(|(n, _)| n != "__name__").collect(),
            value,
            timestamp,
        },
    )
}

/// Writes `samples` in `format`; OpenMetrics timestamps are whole seconds so that the
/// seconds-to-milliseconds conversion is exact.
fn expose(format: Format, samples: &[GenSample]) -> String {
    let mut out = String::new();
    for sample in samples {
        let labels: Vec<String> = sample.labels.iter().map(|(n, v)| format!("{n}=\"{}\"", escape_value(v))).collect();
        let quoted_type_name = if sample.quoted_name { format!("\"{}\"", sample.name) } else { sample.name.clone() };
        let _ = writeln!(out, "# TYPE {quoted_type_name} gauge");
        if sample.quoted_name {
            let mut parts = vec![format!("\"{}\"", sample.name)];
            parts.extend(labels);
            let _ = write!(out, "{{{}}}", parts.join(","));
        } else {
            let _ = write!(out, "{}{{{}}}", sample.name, labels.join(","));
        }
        let _ = write!(out, " {:?}", sample.value);
        match (format, sample.timestamp) {
            (Format::PrometheusText, Some(ts)) => {
                let _ = write!(out, " {ts}");
            }
            (Format::OpenMetrics, Some(ts)) => {
                let _ = write!(out, " {}", ts / 1000);
            }
            (_, None) => {}
        }
        out.push('\n');
    }
    if format == Format::OpenMetrics {
        out.push_str("# EOF\n");
    }
    out
}

fn round_trip(format: Format, samples: &[GenSample]) -> Result<(), TestCaseError> {
    let body = expose(format, samples);
    let mut parsed = Vec::new();
    for entry in Parser::new(body.as_bytes(), format) {
        let entry = entry.map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
        if let Entry::Sample(sample) = entry {
            let series = sample.labels().map_err(|e| TestCaseError::fail(format!("{e}\n{body}")))?;
            let labels: Vec<(String, String)> =
                series.labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
            parsed.push((series.name.to_string(), labels, sample.value, sample.timestamp));
        }
    }
    prop_assert_eq!(parsed.len(), samples.len());
    for (sample, (name, labels, value, timestamp)) in samples.iter().zip(parsed) {
        prop_assert_eq!(&name, &sample.name);
        prop_assert_eq!(&labels, &sample.labels);
        prop_assert!(value.to_bits() == sample.value.to_bits() || (value.is_nan() && sample.value.is_nan()));
        let expected_ts = match format {
            Format::PrometheusText => sample.timestamp,
            Format::OpenMetrics => sample.timestamp.map(|ts| ts / 1000 * 1000),
        };
        prop_assert_eq!(timestamp, expected_ts);
    }
    Ok(())
}

proptest! {
    #[test]
    fn text_format_round_trips(samples in proptest::collection::vec(gen_sample(), 0..8)) {
        round_trip(Format::PrometheusText, &samples)?;
    }

    #[test]
    fn openmetrics_round_trips(samples in proptest::collection::vec(gen_sample(), 0..8)) {
        round_trip(Format::OpenMetrics, &samples)?;
    }

    /// Arbitrary bytes, and mutations of a valid body, give entries or an error, never a panic.
    #[test]
    fn any_input_parses_or_fails_cleanly(
        body in proptest::collection::vec(any::<u8>(), 0..200),
        cut in 0usize..400,
        byte in any::<u8>(),
    ) {
        let mut mutated = OM_FAMILY.as_bytes().to_vec();
        let at = cut % mutated.len();
        mutated[at] = byte;
        for input in [&body[..], &mutated[..], &OM_FAMILY.as_bytes()[..cut.min(OM_FAMILY.len())]] {
            for format in [Format::PrometheusText, Format::OpenMetrics] {
                for entry in Parser::new(input, format) {
                    if let Ok(Entry::Sample(sample)) = entry {
                        let _ = sample.labels();
                    }
                }
            }
            let _ = sniff(input);
        }
    }
}
