//! The unit test file (upstream `docs/configuration/unit_testing_rules.md`), read strictly as
//! promtool reads it (unknown fields are errors): rule files, `evaluation_interval`,
//! `fuzzy_compare`, `group_eval_order`, and the test groups with their input series, alert
//! tests and PromQL tests.
//!
//! Scalars stay as written where promtool reads them as strings (`values: 1`, `eval_time: 0`),
//! and durations are Prometheus's (`1d`, `2m59s999ms`).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};

use crate::config::{Duration, Position, from_yaml_error};

/// A unit test file that could not be read, with where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TestFileError {
    /// Reading the file failed.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The YAML is malformed or does not match the format.
    #[error("{path}: {}{message}", position.map(|p| format!("{}:{}: ", p.line, p.column)).unwrap_or_default())]
    Yaml {
        /// The file.
        path: String,
        /// Where, when known.
        position: Option<Position>,
        /// What is wrong.
        message: String,
    },
}

/// A unit test file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Rule files (globs), relative to the test file's directory.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// How often rules are evaluated (default 1m; 0 is the default).
    #[serde(default)]
    pub evaluation_interval: Duration,
    /// Groups evaluated first, in this order.
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    /// The test groups.
    #[serde(default)]
    pub tests: Vec<TestGroup>,
    /// Whether floats also match one ULP apart.
    #[serde(default)]
    pub fuzzy_compare: bool,
}

/// One test group: input series and what to expect of them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    /// The series' sample interval (0: the evaluation interval).
    #[serde(default)]
    pub interval: Duration,
    /// The input series.
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    /// Alert tests.
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTestCase>,
    /// PromQL tests.
    #[serde(default)]
    pub promql_expr_test: Vec<PromqlTestCase>,
    /// `$externalLabels` of alert templates.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// `$externalURL` of alert templates.
    #[serde(default)]
    pub external_url: String,
    /// The group's name (what `--run` selects by).
    #[serde(default)]
    pub name: String,
    /// When the group's time 0 is, Unix nanoseconds (default the epoch).
    #[serde(default, deserialize_with = "start_timestamp")]
    pub start_timestamp: i64,
}

/// One input series in the series notation.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    /// `metric{label="value"}`.
    #[serde(default, deserialize_with = "scalar_string")]
    pub series: String,
    /// The values in the expanding notation.
    #[serde(default, deserialize_with = "scalar_string")]
    pub values: String,
}

/// The alerts expected of one alert name at one time.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTestCase {
    /// When, from the group's start.
    #[serde(default)]
    pub eval_time: Duration,
    /// The alert name.
    #[serde(default, deserialize_with = "scalar_string")]
    pub alertname: String,
    /// The firing alerts expected.
    #[serde(default)]
    pub exp_alerts: Vec<ExpectedAlert>,
}

/// One expected alert.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAlert {
    /// Its labels but `alertname`.
    #[serde(default)]
    pub exp_labels: Option<BTreeMap<String, String>>,
    /// Its annotations, expanded.
    #[serde(default)]
    pub exp_annotations: Option<BTreeMap<String, String>>,
}

/// One PromQL test.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromqlTestCase {
    /// The expression.
    #[serde(default, deserialize_with = "scalar_string")]
    pub expr: String,
    /// When, from the group's start.
    #[serde(default)]
    pub eval_time: Duration,
    /// The samples expected.
    #[serde(default)]
    pub exp_samples: Vec<ExpectedSample>,
}

/// One expected sample.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSample {
    /// Its labels in the series notation (empty: none).
    #[serde(default, deserialize_with = "scalar_string")]
    pub labels: String,
    /// Its value.
    #[serde(default)]
    pub value: f64,
    /// A native histogram in the series notation (promlite has none yet).
    #[serde(default, deserialize_with = "scalar_string")]
    pub histogram: String,
}

/// Reads the unit test file at `path`.
pub fn load(path: &str) -> Result<TestFile, TestFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| TestFileError::Read { path: path.to_owned(), message: err.to_string() })?;
    parse(path, &text)
}

/// Parses unit test file `text`, named `path` in errors.
pub fn parse(path: &str, text: &str) -> Result<TestFile, TestFileError> {
    let is_empty = text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
    if is_empty {
        return Ok(TestFile::default());
    }
    match serde_saphyr::from_str::<Option<TestFile>>(text) {
        Ok(file) => Ok(file.unwrap_or_default()),
        Err(err) => {
            let problem = from_yaml_error(&err);
            Err(TestFileError::Yaml { path: path.to_owned(), position: problem.position, message: problem.message })
        }
    }
}

/// A scalar as the text it was written as: Go's YAML decodes `values: 1` into a string field.
fn scalar_string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    struct Visitor;
    impl serde::de::Visitor<'_> for Visitor {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
    }
    deserializer.deserialize_string(Visitor)
}

/// `start_timestamp`: Unix seconds (a float) or RFC 3339, as promtool's `parseTime`.
fn start_timestamp<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let text = scalar_string(deserializer)?;
    parse_time(&text).ok_or_else(|| serde::de::Error::custom(format!("cannot parse {text:?} to a valid timestamp")))
}

/// Unix seconds (a float, its fraction to the nanosecond) or RFC 3339 with an optional fraction,
/// into Unix nanoseconds.
pub fn parse_time(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<f64>() {
        if !secs.is_finite() {
            return None;
        }
        let whole = secs.trunc();
        let frac = ((secs - whole) * 1e9) as i64;
        return (whole as i64).checked_mul(1_000_000_000)?.checked_add(frac);
    }
    promlite_promql::calendar::parse_rfc3339_nanos(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_read_as_written_and_durations_as_prometheus_writes_them() {
        let text = "rule_files: [r.yml]\nevaluation_interval: 30s\ntests:\n  - interval: 1m\n    input_series:\n      - series: up\n        values: 1\n      - series: x\n        values: 0x10\n    alert_rule_test:\n      - eval_time: 2m59s999ms\n        alertname: A\n        exp_alerts:\n          - exp_labels: {code: 500}\n    promql_expr_test:\n      - expr: up\n        eval_time: 0\n        exp_samples:\n          - value: 2.9999999999999996\n";
        let file = parse("t.yml", text).unwrap();
        assert_eq!(file.rule_files, ["r.yml"]);
        assert_eq!(file.evaluation_interval, Duration::from_secs(30));
        let group = &file.tests[0];
        assert_eq!(group.input_series[0].values, "1");
        assert_eq!(group.input_series[1].values, "0x10");
        assert_eq!(group.alert_rule_test[0].eval_time, Duration::from_millis(179_999));
        assert_eq!(group.alert_rule_test[0].exp_alerts[0].exp_labels.as_ref().unwrap()["code"], "500");
        assert_eq!(group.promql_expr_test[0].eval_time, Duration::ZERO);
        assert_eq!(group.promql_expr_test[0].exp_samples[0].value, 2.9999999999999996);
        assert_eq!(group.start_timestamp, 0);
    }

    #[test]
    fn unknown_fields_are_errors_with_a_position() {
        let err = parse("t.yml", "evaluation_intervall: 1m\n").unwrap_err().to_string();
        assert!(err.starts_with("t.yml: 1:"), "{err}");
        assert!(err.contains("evaluation_intervall"), "{err}");
    }

    #[test]
    fn start_timestamps_are_unix_seconds_or_rfc3339() {
        // cmd/promtool/testdata/start-time-test.yml.
        assert_eq!(parse_time("1609459200"), Some(1_609_459_200_000_000_000));
        assert_eq!(parse_time("2024-01-01T00:00:00Z"), Some(1_704_067_200_000_000_000));
        assert_eq!(parse_time("2024-01-01T01:00:00.5+01:00"), Some(1_704_067_200_500_000_000));
        assert_eq!(parse_time("1.25"), Some(1_250_000_000));
        assert_eq!(parse_time("yesterday"), None);
        let file = parse("t.yml", "tests:\n  - start_timestamp: \"2024-01-01T00:00:00Z\"\n").unwrap();
        assert_eq!(file.tests[0].start_timestamp, 1_704_067_200_000_000_000);
        let err = parse("t.yml", "tests:\n  - start_timestamp: soon\n").unwrap_err().to_string();
        assert!(err.contains("cannot parse \"soon\" to a valid timestamp"), "{err}");
    }
}
