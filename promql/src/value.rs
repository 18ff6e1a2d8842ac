//! Query results (upstream `promql/value.go`): what an instant or range query returns.
//!
//! Output timestamps are milliseconds. An [`InstantSample`] is stamped with the evaluation time,
//! not the time of the stored sample it came from, as in Prometheus. Also the check that a
//! vector's label sets are unique (upstream `Vector.ContainsSameLabelset`), which every part of
//! the evaluator that changes labels needs.

use foldhash::{HashSet, HashSetExt};

use promlite_storage::{Labels, Sample};

use crate::error::QueryError;

/// The result of a query and the annotations raised while evaluating it.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// The value of the expression.
    pub value: Value,
    /// Annotations of kind warning (the API's `warnings`).
    pub warnings: Vec<String>,
    /// Annotations of kind info (the API's `infos`).
    pub infos: Vec<String>,
    /// How long the parts of the evaluation took.
    pub timings: QueryTimings,
    /// How many samples the evaluation loaded, read and held (the API's `stats.samples`).
    pub samples: QuerySamples,
}

/// Sample counts of one query, as upstream's `stats.QuerySamples` defines them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuerySamples {
    /// Samples selectors loaded over the whole query (`totalQueryableSamples`): at every step,
    /// one per series an instant selector finds and the whole window of a range selector, so
    /// a sample in several steps' windows counts once per step. A subquery given to a function
    /// counts the points of its result in each step's window, not what its inner expression
    /// loaded; a subquery on its own counts what its inner expression loaded.
    pub total: u64,
    /// Samples read from storage (`samplesRead`, Prometheus 3.13 on): `total`, except that a
    /// range-vector function in a range query counts only the points that were not in the
    /// previous step's window, and a step-invariant part (`@`) is read at the first step only.
    pub read: u64,
    /// The most samples the evaluation held at once (`peakSamples`). It is upstream's figure for
    /// selectors and range-vector functions over selectors; elsewhere it is what promlite's
    /// evaluator holds, which differs from upstream's (see ARCHITECTURE.md, deviations).
    pub peak: usize,
}

/// How long a query's parts took, in the slices of Prometheus's
/// `prometheus_engine_query_duration_seconds` (its queue time is the caller's to measure).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueryTimings {
    /// Opening the querier over the blocks and the head the query reads (`prepare_time`).
    pub prepare: std::time::Duration,
    /// Evaluating the expression (`inner_eval`).
    pub inner_eval: std::time::Duration,
    /// Sorting a range query's series by labels (`result_sort`).
    pub result_sort: std::time::Duration,
}

/// A PromQL value, as the API's `resultType` names them.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `scalar`: one number at one time.
    Scalar {
        /// Evaluation time, milliseconds.
        t: i64,
        /// The number.
        v: f64,
    },
    /// `string`: one string at one time.
    String {
        /// Evaluation time, milliseconds.
        t: i64,
        /// The string.
        s: String,
    },
    /// `vector`: one sample per series, all at the evaluation time.
    Vector(Vec<InstantSample>),
    /// `matrix`: several samples per series. Range queries return one series per output label
    /// set, sorted by labels; an instant query of a range selector returns the raw samples.
    Matrix(Vec<RangeSeries>),
}

/// One element of an instant vector.
#[derive(Debug, Clone, PartialEq)]
pub struct InstantSample {
    /// The series' labels.
    pub labels: Labels,
    /// Evaluation time, milliseconds.
    pub t: i64,
    /// The value.
    pub v: f64,
}

/// One series of a range vector (matrix).
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSeries {
    /// The series' labels.
    pub labels: Labels,
    /// Samples, oldest first.
    pub samples: Vec<Sample>,
}

/// Fails like Prometheus when two elements of a vector have the same label set, which happens
/// when dropping `__name__` or relabeling merges series.
pub(crate) fn check_unique_labels(vector: &[InstantSample]) -> Result<(), QueryError> {
    if vector.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(vector.len());
    for sample in vector {
        if !seen.insert(&sample.labels) {
            return Err(QueryError::Execution("vector cannot contain metrics with the same labelset".to_owned()));
        }
    }
    Ok(())
}

/// Whether two of the series have the same labels; such inputs are left to the step-by-step
/// evaluator, which fails only at steps where both have a sample.
pub(crate) fn has_duplicate_labels<'a>(labels: impl Iterator<Item = &'a Labels>) -> bool {
    let mut seen = HashSet::new();
    labels.into_iter().any(|l| !seen.insert(l))
}

/// Labels as Prometheus's `Labels.String` writes them in messages: `{__name__="up", job="a"}`,
/// values quoted as Go's `%q`, names too when not of the legacy `[a-zA-Z_][a-zA-Z0-9_]*` form.
pub(crate) fn labels_string(labels: &Labels) -> String {
    let legacy = |name: &str| {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut out = String::from("{");
    for (i, label) in labels.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        if legacy(&label.name) {
            out.push_str(&label.name);
        } else {
            out.push_str(&crate::parser::go_quote(&label.name));
        }
        out.push('=');
        out.push_str(&crate::parser::go_quote(&label.value));
    }
    out.push('}');
    out
}
