//! PromQL functions (upstream `promql/functions.go`).
//!
//! Functions that change a sample's value drop `__name__`; `last_over_time`, `sort*`,
//! `label_replace` and `timestamp`'s input do not change the identity of what they return and
//! keep it where Prometheus does. A function not implemented here is refused with
//! [`QueryError::NotSupported`], never approximated.

use promlite_storage::{LabelsBuilder, METRIC_NAME, Sample, compile_anchored};
use promql_parser::parser::{Call, Expr, VectorSelector};

use crate::aggregation::mean;
use crate::engine::{Evaluator, Val, check_unique_labels};
use crate::error::QueryError;
use crate::parser::duration_ms;
use crate::value::InstantSample;

/// Evaluates a function call at `ts`.
pub(crate) fn call(ev: &mut Evaluator, call: &Call, ts: i64) -> Result<Val, QueryError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    let out = match name {
        "time" => return Ok(Val::Scalar(ts as f64 / 1000.0)),
        "vector" => {
            let v = ev.eval_scalar(args[0], ts)?;
            return Ok(Val::Vector(vec![InstantSample { labels: Default::default(), t: ts, v }]));
        }
        "scalar" => {
            let vector = ev.eval_vector(args[0], ts)?;
            return Ok(Val::Scalar(if vector.len() == 1 { vector[0].v } else { f64::NAN }));
        }
        "rate" => over_range(ev, args[0], ts, false, |w| extrapolated_rate(w, true, true))?,
        "increase" => over_range(ev, args[0], ts, false, |w| extrapolated_rate(w, true, false))?,
        "delta" => over_range(ev, args[0], ts, false, |w| extrapolated_rate(w, false, false))?,
        "irate" => over_range(ev, args[0], ts, false, |w| instant_value(w.samples, true))?,
        "idelta" => over_range(ev, args[0], ts, false, |w| instant_value(w.samples, false))?,
        "avg_over_time" => over_range(ev, args[0], ts, false, |w| Some(mean(w.samples.iter().map(|s| s.v))))?,
        "sum_over_time" => over_range(ev, args[0], ts, false, |w| {
            let mut kahan = KahanSum::default();
            w.samples.iter().for_each(|s| kahan.add(s.v));
            Some(kahan.value())
        })?,
        "count_over_time" => over_range(ev, args[0], ts, false, |w| Some(w.samples.len() as f64))?,
        "min_over_time" => over_range(ev, args[0], ts, false, |w| {
            Some(w.samples.iter().fold(f64::NAN, |acc, s| if acc.is_nan() || s.v < acc { s.v } else { acc }))
        })?,
        "max_over_time" => over_range(ev, args[0], ts, false, |w| {
            Some(w.samples.iter().fold(f64::NAN, |acc, s| if acc.is_nan() || s.v > acc { s.v } else { acc }))
        })?,
        "last_over_time" => over_range(ev, args[0], ts, true, |w| w.samples.last().map(|s| s.v))?,
        "present_over_time" => over_range(ev, args[0], ts, false, |_| Some(1.0))?,
        "abs" => map_values(ev, args[0], ts, f64::abs)?,
        "ceil" => map_values(ev, args[0], ts, f64::ceil)?,
        "floor" => map_values(ev, args[0], ts, f64::floor)?,
        "round" => {
            let to_nearest = match args.get(1) {
                Some(arg) => ev.eval_scalar(arg, ts)?,
                None => 1.0,
            };
            // Rounds half up like Prometheus, and via the inverse so that e.g. 0.1 steps stay exact.
            let inverse = 1.0 / to_nearest;
            map_values(ev, args[0], ts, |v| (v * inverse + 0.5).floor() / inverse)?
        }
        "clamp_min" => {
            let min = ev.eval_scalar(args[1], ts)?;
            map_values(ev, args[0], ts, |v| go_max(min, v))?
        }
        "clamp_max" => {
            let max = ev.eval_scalar(args[1], ts)?;
            map_values(ev, args[0], ts, |v| go_min(max, v))?
        }
        "clamp" => {
            let min = ev.eval_scalar(args[1], ts)?;
            let max = ev.eval_scalar(args[2], ts)?;
            if max < min {
                return Ok(Val::Vector(Vec::new()));
            }
            map_values(ev, args[0], ts, |v| go_max(min, go_min(max, v)))?
        }
        "timestamp" => timestamp(ev, args[0], ts)?,
        "absent" => {
            let vector = ev.eval_vector(args[0], ts)?;
            if !vector.is_empty() {
                return Ok(Val::Vector(Vec::new()));
            }
            return Ok(Val::Vector(vec![InstantSample { labels: absent_labels(args[0]), t: ts, v: 1.0 }]));
        }
        "label_replace" => label_replace(ev, &args, ts)?,
        "sort" | "sort_desc" => {
            let mut vector = ev.eval_vector(args[0], ts)?;
            let descending = name == "sort_desc";
            // Prometheus's heap orders NaN before every number, in both directions.
            vector.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                (false, false) if descending => b.v.total_cmp(&a.v),
                (false, false) => a.v.total_cmp(&b.v),
            });
            return Ok(Val::Vector(vector));
        }
        other => return Err(QueryError::NotSupported(format!("function \"{other}\""))),
    };
    check_unique_labels(&out)?;
    Ok(Val::Vector(out))
}

/// One series' view of a range-vector function's argument at one step.
struct Window<'a> {
    samples: &'a [Sample],
    /// `(start, end]` of the range, milliseconds.
    start: i64,
    end: i64,
}

fn over_range(
    ev: &mut Evaluator,
    arg: &Expr,
    ts: i64,
    keep_name: bool,
    f: impl Fn(&Window) -> Option<f64>,
) -> Result<Vec<InstantSample>, QueryError> {
    let ms = match unwrap_parens(arg) {
        Expr::MatrixSelector(ms) => ms,
        Expr::Subquery(_) => return Err(QueryError::NotSupported("subquery".to_owned())),
        other => {
            return Err(QueryError::Execution(format!("expected a range vector selector, got {other}")));
        }
    };
    let end = ev.reference_time(&ms.vs, ts);
    let start = end - duration_ms(ms.range);
    let mut out = Vec::new();
    for series in ev.select_range(ms, ts)? {
        let window = Window { samples: &series.samples, start, end };
        if let Some(v) = f(&window) {
            let labels = if keep_name { series.labels } else { series.labels.without_metric_name() };
            out.push(InstantSample { labels, t: ts, v });
        }
    }
    Ok(out)
}

/// rate, increase and delta: the change over the window, extrapolated towards its edges
/// (upstream `extrapolatedRate`). Counter resets add the value before the reset back.
fn extrapolated_rate(w: &Window, is_counter: bool, is_rate: bool) -> Option<f64> {
    let samples = w.samples;
    if samples.len() < 2 {
        return None;
    }
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let mut result = last.v - first.v;
    if is_counter {
        for pair in samples.windows(2) {
            if pair[1].v < pair[0].v {
                result += pair[0].v;
            }
        }
    }
    let mut to_start = (first.t - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last.t) as f64 / 1000.0;
    let sampled = (last.t - first.t) as f64 / 1000.0;
    let average_gap = sampled / (samples.len() - 1) as f64;
    // Extrapolate all the way to an edge only if a sample is missing there by no more than 10%
    // over the average gap; otherwise assume the series starts or ends inside the window.
    let threshold = average_gap * 1.1;
    if to_start >= threshold {
        to_start = average_gap / 2.0;
    }
    if is_counter && result > 0.0 && first.v >= 0.0 {
        // A counter cannot go below zero: do not extrapolate past where it would reach it.
        let to_zero = sampled * (first.v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = average_gap / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= (w.end - w.start) as f64 / 1000.0;
    }
    Some(result * factor)
}

/// irate and idelta: from the last two samples of the window (upstream `instantValue`).
fn instant_value(samples: &[Sample], is_rate: bool) -> Option<f64> {
    let [.., previous, last] = samples else {
        return None;
    };
    let mut result = last.v - previous.v;
    if is_rate && last.v < previous.v {
        // Counter reset: the counter restarted from zero.
        result = last.v;
    }
    let gap = last.t - previous.t;
    if gap == 0 {
        return None;
    }
    if is_rate {
        result /= gap as f64 / 1000.0;
    }
    Some(result)
}

fn map_values(
    ev: &mut Evaluator,
    arg: &Expr,
    ts: i64,
    f: impl Fn(f64) -> f64,
) -> Result<Vec<InstantSample>, QueryError> {
    let vector = ev.eval_vector(arg, ts)?;
    Ok(vector
        .into_iter()
        .map(|s| InstantSample { labels: s.labels.without_metric_name(), t: s.t, v: f(s.v) })
        .collect())
}

/// `timestamp(v)`: for a plain selector, the time of each stored sample; for anything else,
/// the evaluation time, since that is what its samples carry.
fn timestamp(ev: &mut Evaluator, arg: &Expr, ts: i64) -> Result<Vec<InstantSample>, QueryError> {
    let vector = match unwrap_parens(arg) {
        Expr::VectorSelector(vs) => ev.select_instant(vs, ts)?,
        other => ev.eval_vector(other, ts)?,
    };
    Ok(vector
        .into_iter()
        .map(|s| InstantSample { labels: s.labels.without_metric_name(), t: ts, v: s.t as f64 / 1000.0 })
        .collect())
}

/// The labels `absent` reports: the selector's equality matchers, except `__name__` and any
/// label matched more than once or by another operator (upstream `createLabelsForAbsentFunction`).
fn absent_labels(arg: &Expr) -> promlite_storage::Labels {
    let vs: &VectorSelector = match unwrap_parens(arg) {
        Expr::VectorSelector(vs) => vs,
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return Default::default(),
    };
    let mut builder = LabelsBuilder::new(&Default::default());
    let mut seen = std::collections::HashSet::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        let equal = matches!(m.op, promql_parser::label::MatchOp::Equal);
        if equal && seen.insert(m.name.as_str()) {
            builder.set(m.name.clone(), m.value.clone());
        } else {
            builder.del(&m.name);
        }
    }
    builder.labels()
}

fn label_replace(ev: &mut Evaluator, args: &[&Expr], ts: i64) -> Result<Vec<InstantSample>, QueryError> {
    let vector = ev.eval_vector(args[0], ts)?;
    let dst = ev.eval_string(args[1], ts)?;
    let replacement = ev.eval_string(args[2], ts)?;
    let src = ev.eval_string(args[3], ts)?;
    let regex_source = ev.eval_string(args[4], ts)?;
    let regex = compile_anchored(&regex_source).map_err(|err| {
        QueryError::Execution(format!("invalid regular expression in label_replace(): {}", err.pattern))
    })?;
    if !is_valid_label_name(&dst) {
        return Err(QueryError::Execution(format!("invalid destination label name in label_replace(): {dst}")));
    }
    let mut out = Vec::with_capacity(vector.len());
    for sample in vector {
        let Some(captures) = regex.captures(sample.labels.get(&src)) else {
            out.push(sample);
            continue;
        };
        // Rust's `$name`/`${name}` expansion follows the same rules as Go's `Regexp.Expand`.
        let mut value = String::new();
        captures.expand(&replacement, &mut value);
        let mut builder = LabelsBuilder::new(&sample.labels);
        builder.set(dst.clone(), value);
        out.push(InstantSample { labels: builder.labels(), ..sample });
    }
    Ok(out)
}

// Prometheus 3 accepts any UTF-8 label name, but not the empty one.
fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty()
}

fn unwrap_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

// Go's math.Max/Min: NaN wins, unlike Rust's f64::max/min.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.max(b) }
}

fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() { f64::NAN } else { a.min(b) }
}

/// Compensated (Kahan-Babuška-Neumaier) summation, which Prometheus 3 uses for `sum`,
/// `avg`, `sum_over_time` and `avg_over_time`, so results match to the last bit.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct KahanSum {
    sum: f64,
    compensation: f64,
}

impl KahanSum {
    pub(crate) fn add(&mut self, v: f64) {
        let t = self.sum + v;
        if t.is_infinite() {
            // The compensation would turn an infinite sum into NaN.
            self.compensation = 0.0;
        } else if self.sum.abs() >= v.abs() {
            self.compensation += (self.sum - t) + v;
        } else {
            self.compensation += (v - t) + self.sum;
        }
        self.sum = t;
    }

    pub(crate) fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}
