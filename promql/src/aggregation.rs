//! Aggregation operators (upstream `promql/engine.go`, `aggregation` and `aggregationK`).
//!
//! Samples are grouped by the `by` labels, or by every label but the `without` ones and
//! `__name__`; groups come out in the order their first sample was seen. `topk`/`bottomk` keep
//! their samples' full label sets and never prefer a NaN.

use foldhash::{HashMap, HashMapExt};

use promlite_storage::{Labels, LabelsBuilder, METRIC_NAME, Sample};
use promql_parser::parser::token::{
    T_AVG, T_BOTTOMK, T_COUNT, T_COUNT_VALUES, T_GROUP, T_LIMIT_RATIO, T_LIMITK, T_MAX, T_MIN, T_QUANTILE, T_STDDEV,
    T_STDVAR, T_SUM, T_TOPK,
};
use promql_parser::parser::{AggregateExpr, LabelModifier};

use crate::engine::{Evaluator, StepSeries, Steps, Val, present_at};
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
    aggregate_vector(ev, expr, param, input, ts)
}

/// Evaluates a range query's aggregation at every step, series by series (see
/// [`Evaluator::eval_over_steps`]): each input series' group is found once, then each step
/// folds the values of the series present at it, in input order as the step-by-step path
/// does. `None` when the input is not covered.
pub(crate) fn aggregate_over_steps(
    ev: &mut Evaluator,
    expr: &AggregateExpr,
    steps: &Steps,
) -> Result<Option<Vec<StepSeries>>, QueryError> {
    let op = expr.op.id();
    let Some(input) = ev.eval_over_steps(&expr.expr, steps)? else {
        return Ok(None);
    };
    let params: Vec<Param> = match &expr.param {
        Some(param) if op == T_COUNT_VALUES => (0..steps.len())
            .map(|i| ev.eval_string(param, steps.time(i)).map(Param::Label))
            .collect::<Result<_, _>>()?,
        Some(param) => ev.scalar_over_steps(param, steps)?.into_iter().map(Param::Number).collect(),
        None => (0..steps.len()).map(|_| Param::None).collect(),
    };
    if !matches!(
        op,
        T_SUM | T_AVG | T_COUNT | T_GROUP | T_MIN | T_MAX | T_STDVAR | T_STDDEV | T_QUANTILE | T_TOPK | T_BOTTOMK
    ) {
        // The rarer aggregations see each step's vector, as in the step-by-step path.
        let mut params = params.into_iter();
        let out = ev.per_step(vec![input], steps, |ev, i, vectors| {
            let param = params.next().expect("one parameter per step");
            let vector = vectors.into_iter().next().expect("one input");
            match aggregate_vector(ev, expr, param, vector, steps.time(i))? {
                Val::Vector(vector) => Ok(vector),
                _ => unreachable!("aggregations return vectors"),
            }
        })?;
        return Ok(Some(out));
    }
    let modifier = expr.modifier.as_ref();
    let mut group_of: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut group_labels: Vec<Labels> = Vec::new();
    let mut series_group = Vec::with_capacity(input.len());
    for series in &input {
        let hash = grouping_hash(&series.labels, modifier);
        let candidates = group_of.entry(hash).or_default();
        let group = match candidates.iter().copied().find(|&g| same_group(&series.labels, &group_labels[g], modifier)) {
            Some(g) => g,
            None => {
                candidates.push(group_labels.len());
                group_labels.push(grouping_labels(&series.labels, modifier));
                group_labels.len() - 1
            }
        };
        series_group.push(group);
    }
    let by_series = matches!(op, T_TOPK | T_BOTTOMK);
    let mut out: Vec<StepSeries> = if by_series {
        input.iter().map(|s| StepSeries::new(s.labels.clone())).collect()
    } else {
        group_labels.into_iter().map(StepSeries::new).collect()
    };
    let group_count = series_group.iter().max().map_or(0, |g| g + 1);
    // Per group, the (series, value) pairs present at the current step, in the step's order,
    // and the groups in the order the step-by-step path finds them.
    let mut members: Vec<Vec<(usize, f64)>> = vec![Vec::new(); group_count];
    let mut seen: Vec<usize> = Vec::new();
    let mut cursors = vec![0; input.len()];
    let mut present = Vec::new();
    for (i, param) in params.iter().enumerate() {
        let ts = steps.time(i);
        let number = match param {
            Param::Number(v) => *v,
            _ => f64::NAN,
        };
        if op == T_QUANTILE && (number.is_nan() || !(0.0..=1.0).contains(&number)) {
            ev.warnings
                .push(format!("PromQL warning: quantile value should be between 0 and 1, got {}", go_float(number)));
        }
        let k = if by_series { Some(k_param(number)?) } else { None };
        present_at(&input, &mut cursors, ts, &mut present);
        for &(_, index, v) in &present {
            let group = series_group[index];
            if members[group].is_empty() {
                seen.push(group);
            }
            members[group].push((index, v));
        }
        let mut position = 0;
        for &group in &seen {
            let present = &mut members[group];
            if let Some(k) = k {
                if k >= 1 {
                    present.sort_by(|a, b| top_order(a.1, b.1, op == T_TOPK));
                    let keep = usize::try_from(k).unwrap_or(usize::MAX).min(present.len());
                    for &(index, v) in &present[..keep] {
                        out[index].samples.push(Sample { t: ts, v });
                        out[index].order.push(position);
                        position += 1;
                    }
                }
            } else {
                let values = present.iter().map(|m| m.1);
                let v = match op {
                    T_SUM => sum(values),
                    T_AVG => mean(values),
                    T_COUNT => present.len() as f64,
                    T_GROUP => 1.0,
                    T_MIN => values.fold(f64::NAN, |acc, v| if acc.is_nan() || v < acc { v } else { acc }),
                    T_MAX => values.fold(f64::NAN, |acc, v| if acc.is_nan() || v > acc { v } else { acc }),
                    T_STDVAR => variance(values),
                    T_STDDEV => variance(values).sqrt(),
                    _ => quantile(number, &mut values.collect::<Vec<f64>>()),
                };
                out[group].samples.push(Sample { t: ts, v });
                out[group].order.push(position);
                position += 1;
            }
            present.clear();
        }
        seen.clear();
    }
    Ok(Some(out))
}

/// An aggregation of one step's input vector.
fn aggregate_vector(
    ev: &mut Evaluator,
    expr: &AggregateExpr,
    param: Param,
    input: Vec<InstantSample>,
    ts: i64,
) -> Result<Val, QueryError> {
    let op = expr.op.id();
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
        members.sort_by(|a, b| top_order(a.v, b.v, top));
        let keep = usize::try_from(k).unwrap_or(usize::MAX).min(members.len());
        out.extend(members.into_iter().take(keep).map(|s| InstantSample { t: ts, ..s }));
    }
    Ok(out)
}

/// The order topk (`top`) or bottomk keeps samples in: NaN sorts last either way, so it is
/// never preferred over a number.
fn top_order(a: f64, b: f64, top: bool) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        (false, false) if top => b.total_cmp(&a),
        (false, false) => a.total_cmp(&b),
    }
}
