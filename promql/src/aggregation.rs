//! Aggregation operators (upstream `promql/engine.go`, `aggregation` and `aggregationK`).
//!
//! Samples are grouped by the `by` labels, or by every label but the `without` ones and
//! `__name__`; groups come out in the order their first sample was seen. `topk`/`bottomk` keep
//! their samples' full label sets and never prefer a NaN.

use std::collections::HashMap;

use promlite_storage::{Labels, METRIC_NAME};
use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_GROUP, T_MAX, T_MIN, T_STDDEV, T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use crate::engine::{Evaluator, Val};
use crate::error::QueryError;
use crate::functions::KahanSum;
use crate::value::InstantSample;

/// Evaluates `op [by|without (...)] ([param,] expr)` at `ts`.
pub(crate) fn aggregate(ev: &mut Evaluator, expr: &AggregateExpr, ts: i64) -> Result<Val, QueryError> {
    let op = expr.op.id();
    if !matches!(op, T_SUM | T_AVG | T_MIN | T_MAX | T_COUNT | T_GROUP | T_STDDEV | T_STDVAR | T_TOPK | T_BOTTOMK) {
        return Err(QueryError::NotSupported(format!("aggregation \"{}\"", expr.op)));
    }
    let k = match (&expr.param, op) {
        (Some(param), T_TOPK | T_BOTTOMK) => Some(ev.eval_scalar(param, ts)?),
        _ => None,
    };
    let input = ev.eval_vector(&expr.expr, ts)?;

    let mut group_of: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<InstantSample>)> = Vec::new();
    for sample in input {
        let key = grouping_labels(&sample.labels, expr.modifier.as_ref());
        match group_of.get(&key) {
            Some(&i) => groups[i].1.push(sample),
            None => {
                group_of.insert(key.clone(), groups.len());
                groups.push((key, vec![sample]));
            }
        }
    }

    if let Some(k) = k {
        return Ok(Val::Vector(top_k(groups, k, op == T_TOPK, ts)?));
    }
    let out = groups
        .into_iter()
        .map(|(labels, members)| {
            let values = members.iter().map(|s| s.v);
            let v = match op {
                T_SUM => sum(values),
                T_AVG => mean(values),
                T_COUNT => members.len() as f64,
                T_GROUP => 1.0,
                T_MIN => values.fold(f64::NAN, |acc, v| if acc.is_nan() || v < acc { v } else { acc }),
                T_MAX => values.fold(f64::NAN, |acc, v| if acc.is_nan() || v > acc { v } else { acc }),
                T_STDVAR => variance(values),
                T_STDDEV => variance(values).sqrt(),
                _ => unreachable!("checked above"),
            };
            InstantSample { labels, t: ts, v }
        })
        .collect();
    Ok(Val::Vector(out))
}

/// The labels of the group a series falls in.
fn grouping_labels(labels: &Labels, modifier: Option<&LabelModifier>) -> Labels {
    match modifier {
        None => Labels::empty(),
        Some(LabelModifier::Include(by)) => Labels::from_pairs(
            labels.iter().filter(|l| by.labels.contains(&l.name)).map(|l| (l.name.as_str(), l.value.as_str())),
        ),
        Some(LabelModifier::Exclude(without)) => Labels::from_pairs(
            labels
                .iter()
                .filter(|l| l.name != METRIC_NAME && !without.labels.contains(&l.name))
                .map(|l| (l.name.as_str(), l.value.as_str())),
        ),
    }
}

fn sum(values: impl Iterator<Item = f64>) -> f64 {
    let mut kahan = KahanSum::default();
    values.for_each(|v| kahan.add(v));
    kahan.value()
}

/// The mean, through a compensated sum; if that sum overflows while the inputs are finite, an
/// incremental mean instead (as Prometheus 3's `avg` does).
pub(crate) fn mean(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let mut kahan = KahanSum::default();
    let mut n = 0.0;
    for v in values.clone() {
        kahan.add(v);
        n += 1.0;
    }
    let total = kahan.value();
    if total.is_finite() || values.clone().any(|v| !v.is_finite()) {
        return total / n;
    }
    let mut mean = 0.0;
    for (i, v) in values.enumerate() {
        mean += v / (i as f64 + 1.0) - mean / (i as f64 + 1.0);
    }
    mean
}

/// Population variance by Welford's method.
fn variance(values: impl Iterator<Item = f64>) -> f64 {
    let (mut n, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for v in values {
        n += 1.0;
        let delta = v - mean;
        mean += delta / n;
        m2 += delta * (v - mean);
    }
    m2 / n
}

fn top_k(
    groups: Vec<(Labels, Vec<InstantSample>)>,
    k: f64,
    top: bool,
    ts: i64,
) -> Result<Vec<InstantSample>, QueryError> {
    // Go's int64 conversion limits; NaN converts to nothing meaningful, so Prometheus refuses it.
    const INT64_LIMIT: f64 = 9.223_372_036_854_776e18;
    if !(-INT64_LIMIT..INT64_LIMIT).contains(&k) {
        return Err(QueryError::Execution(format!("Scalar value {} overflows int64", format_go_float(k))));
    }
    let k = k as i64;
    let mut out = Vec::new();
    if k < 1 {
        return Ok(out);
    }
    for (_, mut members) in groups {
        // NaN sorts last either way: it is never preferred over a number.
        members.sort_by(|a, b| match (a.v.is_nan(), b.v.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            (false, false) if top => b.v.total_cmp(&a.v),
            (false, false) => a.v.total_cmp(&b.v),
        });
        let keep = usize::try_from(k).unwrap_or(usize::MAX).min(members.len());
        out.extend(members.into_iter().take(keep).map(|s| InstantSample { t: ts, ..s }));
    }
    Ok(out)
}

fn format_go_float(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() }
    } else {
        v.to_string()
    }
}
