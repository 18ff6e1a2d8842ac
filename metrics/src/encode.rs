//! The text exposition format (version 0.0.4): the one writer of `# HELP`, `# TYPE`, label
//! escaping and sample values in promlite.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::histogram::HistogramSnapshot;
use crate::summary::SummarySnapshot;

/// The `Content-Type` of what [`Encoder`] writes.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A family's type, as its `# TYPE` line says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// A value that only goes up (and resets at restart).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations counted into cumulative buckets, with `_sum` and `_count`.
    Histogram,
    /// Observations summarised as quantiles over a sliding window, with `_sum` and `_count`.
    Summary,
}

impl MetricType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Counter => "counter",
            Self::Gauge => "gauge",
            Self::Histogram => "histogram",
            Self::Summary => "summary",
        }
    }
}

/// Writes families into one exposition. Each family name may be written once: a second
/// `# TYPE` line for a name is an error to Prometheus's parser, so it is a bug here (checked in
/// debug builds).
#[derive(Default)]
pub struct Encoder {
    out: String,
    written: HashSet<String>,
}

impl Encoder {
    /// An encoder with nothing written yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts family `name`: writes its `# HELP` and `# TYPE` lines. Its samples follow through
    /// the returned [`FamilyEncoder`].
    pub fn family<'a>(&'a mut self, name: &'a str, help: &str, kind: MetricType) -> FamilyEncoder<'a> {
        let first = self.written.insert(name.to_owned());
        debug_assert!(first, "metric family {name} is written twice");
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape_help(&mut self.out, help);
        let _ = writeln!(self.out, "\n# TYPE {name} {}", kind.as_str());
        FamilyEncoder { out: &mut self.out, name }
    }

    /// A family of one unlabelled sample.
    pub fn single(&mut self, name: &str, help: &str, kind: MetricType, value: impl Into<Value>) {
        self.family(name, help, kind).sample(&[], value);
    }

    /// The exposition written so far.
    pub fn finish(self) -> String {
        self.out
    }
}

/// Writes the samples of one family (see [`Encoder::family`]).
pub struct FamilyEncoder<'a> {
    out: &'a mut String,
    name: &'a str,
}

impl FamilyEncoder<'_> {
    /// One sample `name{labels} value`.
    pub fn sample(&mut self, labels: &[(&str, &str)], value: impl Into<Value>) -> &mut Self {
        self.line("", labels, None, value.into());
        self
    }

    /// The `_bucket`, `_sum` and `_count` samples of one histogram.
    pub fn histogram(&mut self, labels: &[(&str, &str)], h: &HistogramSnapshot) -> &mut Self {
        let mut cumulative = 0;
        for (bound, count) in h.bounds.iter().zip(&h.counts) {
            cumulative += count;
            self.line("_bucket", labels, Some(("le", Value::F64(*bound))), Value::U64(cumulative));
        }
        self.line("_bucket", labels, Some(("le", Value::F64(f64::INFINITY))), Value::U64(h.count));
        self.line("_sum", labels, None, Value::F64(h.sum));
        self.line("_count", labels, None, Value::U64(h.count));
        self
    }

    /// The quantile, `_sum` and `_count` samples of one summary.
    pub fn summary(&mut self, labels: &[(&str, &str)], s: &SummarySnapshot) -> &mut Self {
        for (quantile, value) in &s.quantiles {
            self.line("", labels, Some(("quantile", Value::F64(*quantile))), Value::F64(*value));
        }
        self.line("_sum", labels, None, Value::F64(s.sum));
        self.line("_count", labels, None, Value::U64(s.count));
        self
    }

    fn line(&mut self, suffix: &str, labels: &[(&str, &str)], extra: Option<(&str, Value)>, value: Value) {
        self.out.push_str(self.name);
        self.out.push_str(suffix);
        if !labels.is_empty() || extra.is_some() {
            self.out.push('{');
            let mut first = true;
            for (name, value) in labels {
                if !first {
                    self.out.push(',');
                }
                first = false;
                self.out.push_str(name);
                self.out.push_str("=\"");
                escape_label_value(self.out, value);
                self.out.push('"');
            }
            if let Some((name, value)) = extra {
                if !first {
                    self.out.push(',');
                }
                let _ = write!(self.out, "{name}=\"{value}\"");
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// A sample value: counts are written as integers, the rest as the shortest float that reads
/// back the same (`+Inf`, `-Inf` and `NaN` as the format spells them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// An integer count.
    U64(u64),
    /// Any other value.
    F64(f64),
}

impl From<u64> for Value {
    fn from(v: u64) -> Self {
        Self::U64(v)
    }
}

impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Self::U64(v as u64)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Self::U64(u64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::U64(u64::from(v))
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::F64(v as f64)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::F64(v)
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::U64(v) => write!(f, "{v}"),
            Self::F64(v) if v.is_nan() => f.write_str("NaN"),
            Self::F64(v) if v == f64::INFINITY => f.write_str("+Inf"),
            Self::F64(v) if v == f64::NEG_INFINITY => f.write_str("-Inf"),
            Self::F64(v) => write!(f, "{v}"),
        }
    }
}

/// Help text escaping of the text format: backslash and newline.
fn escape_help(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Label value escaping of the text format: backslash, double quote and newline.
fn escape_label_value(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escapes_are_written_as_the_text_format_wants() {
        let mut enc = Encoder::new();
        enc.single("up_total", "Ups.\nwith \\ a newline", MetricType::Counter, 3u64);
        enc.family("g", "G.", MetricType::Gauge)
            .sample(&[("path", "C:\\x \"y\"\nz")], 0.5)
            .sample(&[("a", "1"), ("b", "")], f64::NEG_INFINITY)
            .sample(&[], f64::NAN);
        assert_eq!(
            enc.finish(),
            "# HELP up_total Ups.\\nwith \\\\ a newline\n# TYPE up_total counter\nup_total 3\n\
             # HELP g G.\n# TYPE g gauge\ng{path=\"C:\\\\x \\\"y\\\"\\nz\"} 0.5\ng{a=\"1\",b=\"\"} -Inf\ng NaN\n"
        );
    }

    #[test]
    fn histograms_are_cumulative_and_summaries_list_their_quantiles() {
        let mut enc = Encoder::new();
        let h = HistogramSnapshot { bounds: vec![0.1, 1.0], counts: vec![2, 1], count: 4, sum: 7.25 };
        enc.family("h", "H.", MetricType::Histogram).histogram(&[("x", "y")], &h);
        let s = SummarySnapshot { quantiles: vec![(0.5, 2.0), (0.99, f64::NAN)], count: 3, sum: 6.0 };
        enc.family("s", "S.", MetricType::Summary).summary(&[], &s);
        assert_eq!(
            enc.finish(),
            "# HELP h H.\n# TYPE h histogram\n\
             h_bucket{x=\"y\",le=\"0.1\"} 2\nh_bucket{x=\"y\",le=\"1\"} 3\nh_bucket{x=\"y\",le=\"+Inf\"} 4\n\
             h_sum{x=\"y\"} 7.25\nh_count{x=\"y\"} 4\n\
             # HELP s S.\n# TYPE s summary\ns{quantile=\"0.5\"} 2\ns{quantile=\"0.99\"} NaN\ns_sum 6\ns_count 3\n"
        );
    }
}
