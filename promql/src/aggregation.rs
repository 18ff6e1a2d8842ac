//! Aggregation operators (upstream `promql/engine.go`, `aggregation` and `aggregationK`).
//!
//! Samples are grouped by the `by` labels, or by every label but the `without` ones and
//! `__name__`; groups come out in the order their first sample was seen. `topk`/`bottomk` keep
//! their samples' full label sets and never prefer a NaN.

use foldhash::{HashMap, HashMapExt};

use promlite_storage::{Labels, LabelsBuilder, METRIC_NAME};
use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMIT_RATIO, T_LIMITK, T_MAX, T_MIN, T_QUANTILE, T_STDDEV,
    T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use crate::engine::{Evaluator, Val};
use crate::error::QueryError;
use crate::functions::{KahanSum, go_float, mean, quantile};
use crate::value::InstantSample;

/// Evaluates `op [by|without (...)] ([param,] expr)` at `ts`.
pub(crate) fn aggregate(ev: &mut Evaluator, expr: &AggregateExpr, ts: i64) -> Result<Val, QueryError> {
    let op = expr.op.id();
    let param = match &expr.param {
        Some(param) if op == T_COUNT_VALUES => Param::Label(ev.eval_string(param, ts)?),
        Some(param) => Param::Number(ev.eval_scalar(param, ts)?),
        None => Param::None,
    };
    let input = ev.eval_vector(&expr.expr, ts)?;

    if op == T_COUNT_VALUES {
        let Param::Label(label) = param else { unreachable!("the parser requires a string for count_values") };
        return Ok(Val::Vector(count_values(&label, input, expr.modifier.as_ref(), ts)?));
    }
    // Groups are found by a hash of the grouping labels, confirmed by comparing them, so the
    // key labels are built once per group rather than once per sample.
    let modifier = expr.modifier.as_ref();
    let mut group_of: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut groups: Vec<(Labels, Vec<InstantSample>)> = Vec::new();
    for sample in input {
        let hash = grouping_hash(&sample.labels, modifier);
        let candidates = group_of.entry(hash).or_default();
        match candidates.iter().copied().find(|&i| same_group(&sample.labels, &groups[i].0, modifier)) {
            Some(i) => groups[i].1.push(sample),
            None => {
                candidates.push(groups.len());
                groups.push((grouping_labels(&sample.labels, modifier), vec![sample]));
            }
        }
    }

    let number = match param {
        Param::Number(v) => v,
        _ => f64::NAN,
    };
    match op {
        T_TOPK | T_BOTTOMK => return Ok(Val::Vector(top_k(groups, number, op == T_TOPK, ts)?)),
        T_LIMITK => {
            let k = k_param(number)?;
            let keep = usize::try_from(k.max(0)).unwrap_or(usize::MAX);
            let out = groups.into_iter().flat_map(|(_, members)| members.into_iter().take(keep));
            return Ok(Val::Vector(out.map(|s| InstantSample { t: ts, ..s }).collect()));
        }
        T_LIMIT_RATIO => {
            if number.is_nan() {
                return Err(QueryError::Execution("Ratio value is NaN".to_owned()));
            }
            let ratio = number.clamp(-1.0, 1.0);
            if ratio != number {
                ev.warnings.push(format!(
                    "PromQL warning: ratio value should be between -1 and 1, got {}, capping to {}",
                    go_float(number),
                    go_float(ratio)
                ));
            }
            let out = groups.into_iter().flat_map(|(_, members)| members).filter(|s| ratio_sample(ratio, &s.labels));
            return Ok(Val::Vector(out.map(|s| InstantSample { t: ts, ..s }).collect()));
        }
        T_QUANTILE if number.is_nan() || !(0.0..=1.0).contains(&number) => {
            ev.warnings
                .push(format!("PromQL warning: quantile value should be between 0 and 1, got {}", go_float(number)));
        }
        _ => {}
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
                T_QUANTILE => quantile(number, &mut values.collect::<Vec<f64>>()),
                _ => return Err(QueryError::NotSupported(format!("aggregation \"{}\"", expr.op))),
            };
            Ok(InstantSample { labels, t: ts, v })
        })
        .collect::<Result<Vec<_>, QueryError>>()?;
    Ok(Val::Vector(out))
}

/// An aggregation's parameter: `k`, a ratio or quantile, or `count_values`'s label.
enum Param {
    None,
    Number(f64),
    Label(String),
}

/// `k` of topk/bottomk/limitk as Go converts it, refusing NaN and values past int64.
fn k_param(k: f64) -> Result<i64, QueryError> {
    // Go's int64 limits; NaN converts to nothing meaningful, so Prometheus refuses it.
    const INT64_LIMIT: f64 = 9.223_372_036_854_776e18;
    if k.is_nan() {
        return Err(QueryError::Execution("Parameter value is NaN".to_owned()));
    }
    if !(-INT64_LIMIT..INT64_LIMIT).contains(&k) {
        return Err(QueryError::Execution(format!("Scalar value {} overflows int64", go_float(k))));
    }
    Ok(k as i64)
}

/// Whether `limit_ratio` keeps a series: its label hash, as a fraction of the hash space, is
/// below the ratio (or, for a negative ratio, at or above `1 + ratio`), so the kept set is
/// stable across steps and the sets for `r` and `r - 1` are complements (upstream
/// `HashRatioSampler`, over Prometheus's `labels.Hash`).
fn ratio_sample(ratio: f64, labels: &Labels) -> bool {
    let mut buf = Vec::new();
    for label in labels.iter() {
        buf.extend_from_slice(label.name.as_bytes());
        buf.push(0xff);
        buf.extend_from_slice(label.value.as_bytes());
        buf.push(0xff);
    }
    let offset = xxhash_rust::xxh64::xxh64(&buf, 0) as f64 / u64::MAX as f64;
    (ratio >= 0.0 && offset < ratio) || (ratio < 0.0 && offset >= 1.0 + ratio)
}

/// `count_values("label", v)`: per group, how many samples have each value, the value written
/// into `label` as Go's `FormatFloat(v, 'f', -1, 64)` writes it.
fn count_values(
    label: &str,
    input: Vec<InstantSample>,
    modifier: Option<&LabelModifier>,
    ts: i64,
) -> Result<Vec<InstantSample>, QueryError> {
    if !crate::functions::is_valid_label_name(label) {
        return Err(QueryError::Execution(format!("invalid label name {label:?}")));
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<InstantSample> = Vec::new();
    for sample in input {
        let mut builder = LabelsBuilder::new(&grouping_labels(&sample.labels, modifier));
        builder.set(label.to_owned(), format_value(sample.v));
        let labels = builder.labels();
        match index.get(&labels) {
            Some(&i) => out[i].v += 1.0,
            None => {
                index.insert(labels.clone(), out.len());
                out.push(InstantSample { labels, t: ts, v: 1.0 });
            }
        }
    }
    Ok(out)
}

fn format_value(v: f64) -> String {
    if v.is_nan() || v.is_infinite() { go_float(v) } else { v.to_string() }
}

/// Whether a label takes part in grouping.
fn groups_by(name: &str, modifier: Option<&LabelModifier>) -> bool {
    match modifier {
        None => false,
        Some(LabelModifier::Include(by)) => by.labels.iter().any(|l| l == name),
        Some(LabelModifier::Exclude(without)) => name != METRIC_NAME && !without.labels.iter().any(|l| l == name),
    }
}

fn grouping_hash(labels: &Labels, modifier: Option<&LabelModifier>) -> u64 {
    use std::hash::{BuildHasher, Hash, Hasher};
    let mut hasher = foldhash::fast::FixedState::with_seed(0).build_hasher();
    for label in labels.iter().filter(|l| groups_by(&l.name, modifier)) {
        label.name.hash(&mut hasher);
        label.value.hash(&mut hasher);
    }
    hasher.finish()
}

/// Whether `labels` falls in the group whose grouping labels are `key`.
fn same_group(labels: &Labels, key: &Labels, modifier: Option<&LabelModifier>) -> bool {
    let mut grouping = labels.iter().filter(|l| groups_by(&l.name, modifier));
    let mut key = key.iter();
    loop {
        match (grouping.next(), key.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.name == b.name && a.value == b.value => {}
            _ => return false,
        }
    }
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
    let k = k_param(k)?;
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
