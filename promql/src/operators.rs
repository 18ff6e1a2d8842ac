//! Unary and binary operators (upstream `promql/engine.go`: `VectorBinop`, `VectorAnd`,
//! `VectorOr`, `VectorUnless`, `VectorscalarBinop`, `resultMetric`).
//!
//! Vector matching pairs samples by a signature: the `on(...)` labels, or every label but
//! `__name__` and the `ignoring(...)` ones. Arithmetic and `bool` comparisons drop `__name__`;
//! filtering comparisons and set operators keep the left-hand labels as they are.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};

use promlite_storage::{Labels, LabelsBuilder, METRIC_NAME, Sample};
use promql_parser::label::Labels as ParserLabels;
use promql_parser::parser::token::{
    T_ADD, T_ATAN2, T_DIV, T_EQLC, T_GTE, T_GTR, T_LAND, T_LOR, T_LSS, T_LTE, T_LUNLESS, T_MOD, T_MUL, T_NEQ, T_POW,
    T_SUB,
};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{BinModifier, BinaryExpr, Expr, LabelModifier, VectorMatchCardinality};

use crate::engine::{Evaluator, StepSeries, Steps, Val};
use crate::error::QueryError;
use crate::value::{InstantSample, check_unique_labels, has_duplicate_labels, labels_string};

/// `-expr`: negates a scalar, or every sample of a vector (dropping `__name__`).
pub(crate) fn unary(ev: &mut Evaluator, expr: &Expr, ts: i64) -> Result<Val, QueryError> {
    match ev.eval(expr, ts)? {
        Val::Scalar(v) => Ok(Val::Scalar(-v)),
        Val::Vector(vector) => {
            let out: Vec<InstantSample> = vector
                .into_iter()
                .map(|s| InstantSample { labels: s.labels.without_metric_name(), t: s.t, v: -s.v })
                .collect();
            check_unique_labels(&out)?;
            Ok(Val::Vector(out))
        }
        Val::String(_) | Val::Matrix(_) => Err(QueryError::Execution(
            "unary expression only allowed on expressions of type scalar or instant vector".to_owned(),
        )),
    }
}

/// A binary expression between scalars and instant vectors.
pub(crate) fn binary(ev: &mut Evaluator, expr: &BinaryExpr, ts: i64) -> Result<Val, QueryError> {
    let op = expr.op.id();
    let default_modifier = BinModifier::default();
    let modifier = expr.modifier.as_ref().unwrap_or(&default_modifier);
    if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
        return Err(QueryError::NotSupported("the fill modifier".to_owned()));
    }
    let lhs = ev.eval(&expr.lhs, ts)?;
    let rhs = ev.eval(&expr.rhs, ts)?;
    binary_values(op, modifier, lhs, rhs)
}

/// A binary operator applied to its evaluated operands.
fn binary_values(op: u16, modifier: &BinModifier, lhs: Val, rhs: Val) -> Result<Val, QueryError> {
    let return_bool = modifier.return_bool;
    let out = match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => {
            // The parser only admits comparisons between scalars with `bool`.
            let (v, keep) = apply(op, l, r)?;
            return Ok(Val::Scalar(if is_comparison(op) { bool_value(keep) } else { v }));
        }
        (Val::Vector(l), Val::Scalar(r)) => vector_scalar(op, l, r, ScalarSide::Right, return_bool)?,
        (Val::Scalar(l), Val::Vector(r)) => vector_scalar(op, r, l, ScalarSide::Left, return_bool)?,
        (Val::Vector(l), Val::Vector(r)) => match op {
            T_LAND => vector_and(l, r, modifier, false),
            T_LUNLESS => vector_and(l, r, modifier, true),
            T_LOR => vector_or(l, r, modifier),
            _ => vector_binop(op, l, r, modifier)?,
        },
        _ => {
            return Err(QueryError::Execution(
                "binary expression must contain only scalar and instant vector types".to_owned(),
            ));
        }
    };
    check_unique_labels(&out)?;
    Ok(Val::Vector(out))
}

/// `-expr` at every step of a range query, series by series; `None` when `expr` is not
/// covered or dropping `__name__` would merge series.
pub(crate) fn unary_over_steps(
    ev: &mut Evaluator,
    expr: &Expr,
    steps: &Steps,
) -> Result<Option<Vec<StepSeries>>, QueryError> {
    let Some(mut input) = ev.eval_over_steps(expr, steps)? else {
        return Ok(None);
    };
    for series in &mut input {
        series.labels = series.labels.without_metric_name();
        series.samples.iter_mut().for_each(|p| p.v = -p.v);
    }
    Ok((!has_duplicate_labels(input.iter().map(|s| &s.labels))).then_some(input))
}

/// Evaluates a binary expression at every step of a range query (see
/// [`Evaluator::eval_over_steps`]): between an instant vector and a scalar series by series,
/// between two vectors by matching each step's vectors. `None` when an operand is not covered,
/// or when dropping `__name__` would merge series.
pub(crate) fn binary_over_steps(
    ev: &mut Evaluator,
    expr: &BinaryExpr,
    steps: &Steps,
) -> Result<Option<Vec<StepSeries>>, QueryError> {
    let op = expr.op.id();
    let default_modifier = BinModifier::default();
    let modifier = expr.modifier.as_ref().unwrap_or(&default_modifier);
    if modifier.fill_values.lhs.is_some() || modifier.fill_values.rhs.is_some() {
        return Ok(None);
    }
    let scalar_on_left = match (expr.lhs.value_type(), expr.rhs.value_type()) {
        (ValueType::Scalar, ValueType::Vector) => true,
        (ValueType::Vector, ValueType::Scalar) => false,
        (ValueType::Vector, ValueType::Vector) => {
            // Vector matching per step, over operands evaluated series by series.
            let Some(lhs) = ev.eval_over_steps(&expr.lhs, steps)? else {
                return Ok(None);
            };
            let Some(rhs) = ev.eval_over_steps(&expr.rhs, steps)? else {
                return Ok(None);
            };
            if !matches!(op, T_LAND | T_LOR | T_LUNLESS)
                && let Some(out) = static_matching(op, modifier, &lhs, &rhs)?
            {
                return Ok(Some(out));
            }
            let out = ev.per_step(vec![lhs, rhs], steps, |_, _, vectors| {
                let [lhs, rhs]: [Vec<InstantSample>; 2] = vectors.try_into().expect("two operands");
                match binary_values(op, modifier, Val::Vector(lhs), Val::Vector(rhs))? {
                    Val::Vector(vector) => Ok(vector),
                    _ => unreachable!("vector operands give a vector"),
                }
            })?;
            return Ok(Some(out));
        }
        _ => return Ok(None),
    };
    let (vector_expr, scalar_expr) = if scalar_on_left { (&expr.rhs, &expr.lhs) } else { (&expr.lhs, &expr.rhs) };
    // The step-by-step path evaluates the left operand first; so does this one.
    let (input, scalars) = if scalar_on_left {
        let scalars = ev.scalar_over_steps(scalar_expr, steps)?;
        (ev.eval_over_steps(vector_expr, steps)?, scalars)
    } else {
        let input = ev.eval_over_steps(vector_expr, steps)?;
        (input, ev.scalar_over_steps(scalar_expr, steps)?)
    };
    let Some(input) = input else {
        return Ok(None);
    };
    let drop_name = modifier.return_bool || !is_comparison(op);
    let labels: Vec<Labels> =
        input.iter().map(|s| if drop_name { s.labels.without_metric_name() } else { s.labels.clone() }).collect();
    if drop_name && has_duplicate_labels(labels.iter()) {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(input.len());
    for (series, labels) in input.into_iter().zip(labels) {
        let mut samples = Vec::with_capacity(series.samples.len());
        // Filtering keeps the order of what it keeps.
        let mut order = Vec::with_capacity(series.order.len());
        for (j, p) in series.samples.into_iter().enumerate() {
            let scalar = scalars[steps.index(p.t)];
            let (l, r) = if scalar_on_left { (scalar, p.v) } else { (p.v, scalar) };
            let (mut v, keep) = apply(op, l, r)?;
            // A filtering comparison keeps the vector's value even when the scalar is on the left.
            if is_comparison(op) {
                v = p.v;
            }
            if modifier.return_bool {
                v = bool_value(keep);
            } else if !keep {
                continue;
            }
            samples.push(Sample { t: p.t, v });
            if let Some(&key) = series.order.get(j) {
                order.push(key);
            }
        }
        out.push(StepSeries { labels, samples, order });
    }
    Ok(Some(out))
}

/// Vector matching worked out once per series pair rather than once per step, when no step
/// can raise a matching error: the "one" side's signatures are unique, so are the "many" side's
/// for one-to-one matching, and so are the pairs' result labels. Each pair's samples are then
/// merged by time. `None` otherwise (the caller matches each step's vectors).
fn static_matching(
    op: u16,
    modifier: &BinModifier,
    lhs: &[StepSeries],
    rhs: &[StepSeries],
) -> Result<Option<Vec<StepSeries>>, QueryError> {
    let (include, swapped) = match &modifier.card {
        VectorMatchCardinality::OneToOne => (None, false),
        VectorMatchCardinality::ManyToOne(labels) => (Some(labels), false),
        VectorMatchCardinality::OneToMany(labels) => (Some(labels), true),
        VectorMatchCardinality::ManyToMany => return Ok(None),
    };
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let matching = modifier.matching.as_ref();
    let mut one_by_signature: HashMap<Labels, usize> = HashMap::with_capacity(one.len());
    for (j, series) in one.iter().enumerate() {
        if one_by_signature.insert(signature(&series.labels, matching), j).is_some() {
            return Ok(None);
        }
    }
    let mut pairs = Vec::new();
    let mut many_signatures = HashSet::new();
    let mut result_set = HashSet::new();
    for (i, series) in many.iter().enumerate() {
        let signature = signature(&series.labels, matching);
        let Some(&j) = one_by_signature.get(&signature) else {
            continue;
        };
        if include.is_none() && !many_signatures.insert(signature) {
            return Ok(None);
        }
        let labels = result_labels(op, &series.labels, &one[j].labels, modifier, include);
        if !result_set.insert(labels.clone()) {
            return Ok(None);
        }
        pairs.push((i, j, labels));
    }
    let mut out = Vec::with_capacity(pairs.len());
    for (i, j, labels) in pairs {
        let (m, o) = (&many[i], &one[j]);
        let mut result = StepSeries::new(labels);
        let mut k = 0;
        for (a, p) in m.samples.iter().enumerate() {
            while k < o.samples.len() && o.samples[k].t < p.t {
                k += 1;
            }
            let Some(q) = o.samples.get(k).filter(|q| q.t == p.t) else {
                continue;
            };
            let (l, r) = if swapped { (q.v, p.v) } else { (p.v, q.v) };
            let (mut v, keep) = apply(op, l, r)?;
            if modifier.return_bool {
                v = bool_value(keep);
            } else if !keep {
                continue;
            }
            result.samples.push(Sample { t: p.t, v });
            // The step's output follows the "many" side's order.
            if let Some(&key) = m.order.get(a) {
                result.order.push(key);
            }
        }
        out.push(result);
    }
    Ok(Some(out))
}

/// Which operand of a vector-scalar operation is the scalar (`2 - x` is not `x - 2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScalarSide {
    Left,
    Right,
}

fn vector_scalar(
    op: u16,
    vector: Vec<InstantSample>,
    scalar: f64,
    scalar_side: ScalarSide,
    return_bool: bool,
) -> Result<Vec<InstantSample>, QueryError> {
    let scalar_on_left = scalar_side == ScalarSide::Left;
    let mut out = Vec::with_capacity(vector.len());
    for sample in vector {
        let (l, r) = if scalar_on_left { (scalar, sample.v) } else { (sample.v, scalar) };
        let (mut v, keep) = apply(op, l, r)?;
        // A filtering comparison keeps the vector's value even when the scalar is on the left.
        if is_comparison(op) {
            v = sample.v;
        }
        let mut labels = sample.labels;
        if return_bool {
            v = bool_value(keep);
            labels = labels.without_metric_name();
        } else if !keep {
            continue;
        } else if !is_comparison(op) {
            labels = labels.without_metric_name();
        }
        out.push(InstantSample { labels, t: sample.t, v });
    }
    Ok(out)
}

fn vector_binop(
    op: u16,
    lhs: Vec<InstantSample>,
    rhs: Vec<InstantSample>,
    modifier: &BinModifier,
) -> Result<Vec<InstantSample>, QueryError> {
    let (include, swapped) = match &modifier.card {
        VectorMatchCardinality::OneToOne => (None, false),
        VectorMatchCardinality::ManyToOne(labels) => (Some(labels), false),
        VectorMatchCardinality::OneToMany(labels) => (Some(labels), true),
        VectorMatchCardinality::ManyToMany => unreachable!("only set operators match many-to-many"),
    };
    // Nothing can match, so nothing can be a matching error either (upstream `VectorBinop`).
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    // For group_right the right side is the "many" side; swap so `many` is always iterated.
    let (many, one) = if swapped { (rhs, lhs) } else { (lhs, rhs) };
    let one_side = if swapped { "left" } else { "right" };

    let mut one_by_signature: HashMap<Labels, &InstantSample> = HashMap::with_capacity(one.len());
    for sample in &one {
        let signature = signature(&sample.labels, modifier.matching.as_ref());
        if let Some(previous) = one_by_signature.get(&signature) {
            return Err(QueryError::Execution(format!(
                "found duplicate series for the match group {} on the {one_side} hand-side of the operation: \
                 [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                labels_string(&signature),
                labels_string(&sample.labels),
                labels_string(&previous.labels)
            )));
        }
        one_by_signature.insert(signature, sample);
    }

    // One-to-one: two series on the left with the same signature and a partner on the right is
    // an error even if a filtering comparison would drop them (upstream operators.test).
    if include.is_none() {
        let mut seen = HashSet::new();
        for sample in &many {
            let signature = signature(&sample.labels, modifier.matching.as_ref());
            if one_by_signature.contains_key(&signature) && !seen.insert(signature) {
                return Err(QueryError::Execution(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                        .to_owned(),
                ));
            }
        }
    }

    // One-to-one: which signatures produced output. Many-to-one: which output label sets each
    // signature produced, since the grouping labels must keep them apart.
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for sample in &many {
        let signature = signature(&sample.labels, modifier.matching.as_ref());
        let Some(other) = one_by_signature.get(&signature) else {
            continue;
        };
        let (l, r) = if swapped { (other.v, sample.v) } else { (sample.v, other.v) };
        let (mut v, keep) = apply(op, l, r)?;
        if modifier.return_bool {
            v = bool_value(keep);
        } else if !keep {
            continue;
        }
        let labels = result_labels(op, &sample.labels, &other.labels, modifier, include);
        match include {
            None => {
                if matched.contains_key(&signature) {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                            .to_owned(),
                    ));
                }
                matched.insert(signature, HashSet::new());
            }
            Some(_) => {
                if !matched.entry(signature).or_default().insert(labels.clone()) {
                    return Err(QueryError::Execution(
                        "multiple matches for labels: grouping labels must ensure unique matches".to_owned(),
                    ));
                }
            }
        }
        out.push(InstantSample { labels, t: sample.t, v });
    }
    Ok(out)
}

// Upstream `resultMetric`: the "many" side's labels, reduced to the `on` labels (or without the
// `ignoring` ones) for one-to-one matching, with group_x labels copied from the "one" side.
fn result_labels(
    op: u16,
    many: &Labels,
    one: &Labels,
    modifier: &BinModifier,
    include: Option<&ParserLabels>,
) -> Labels {
    let mut builder = LabelsBuilder::new(many);
    if !is_comparison(op) || modifier.return_bool {
        builder.del(METRIC_NAME);
    }
    match include {
        None => match &modifier.matching {
            Some(LabelModifier::Include(on)) => {
                for label in many.iter() {
                    if !on.labels.contains(&label.name) {
                        builder.del(&label.name);
                    }
                }
            }
            Some(LabelModifier::Exclude(ignoring)) => {
                for name in &ignoring.labels {
                    builder.del(name);
                }
            }
            None => {}
        },
        Some(include) => {
            for name in &include.labels {
                builder.del(name);
                let value = one.get(name);
                if !value.is_empty() {
                    builder.set(name.clone(), value.to_owned());
                }
            }
        }
    }
    builder.labels()
}

fn vector_and(
    lhs: Vec<InstantSample>,
    rhs: Vec<InstantSample>,
    modifier: &BinModifier,
    unless: bool,
) -> Vec<InstantSample> {
    let matching = modifier.matching.as_ref();
    let right: HashSet<Labels> = rhs.iter().map(|s| signature(&s.labels, matching)).collect();
    lhs.into_iter().filter(|s| right.contains(&signature(&s.labels, matching)) != unless).collect()
}

fn vector_or(lhs: Vec<InstantSample>, rhs: Vec<InstantSample>, modifier: &BinModifier) -> Vec<InstantSample> {
    let matching = modifier.matching.as_ref();
    let left: HashSet<Labels> = lhs.iter().map(|s| signature(&s.labels, matching)).collect();
    let mut out = lhs;
    out.extend(rhs.into_iter().filter(|s| !left.contains(&signature(&s.labels, matching))));
    out
}

/// The labels two samples must share to match: the `on` labels, or all but `__name__` and the
/// `ignoring` ones.
fn signature(labels: &Labels, matching: Option<&LabelModifier>) -> Labels {
    match matching {
        Some(LabelModifier::Include(on)) => Labels::from_pairs(
            labels.iter().filter(|l| on.labels.contains(&l.name)).map(|l| (l.name.as_str(), l.value.as_str())),
        ),
        Some(LabelModifier::Exclude(ignoring)) => Labels::from_pairs(
            labels
                .iter()
                .filter(|l| l.name != METRIC_NAME && !ignoring.labels.contains(&l.name))
                .map(|l| (l.name.as_str(), l.value.as_str())),
        ),
        None => labels.without_metric_name(),
    }
}

fn is_comparison(op: u16) -> bool {
    matches!(op, T_EQLC | T_NEQ | T_GTR | T_LSS | T_GTE | T_LTE)
}

fn bool_value(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// Applies an arithmetic or comparison operator: `(value, keep)`, where a comparison's value is
/// the left operand and `keep` its outcome.
fn apply(op: u16, l: f64, r: f64) -> Result<(f64, bool), QueryError> {
    Ok(match op {
        T_ADD => (l + r, true),
        T_SUB => (l - r, true),
        T_MUL => (l * r, true),
        T_DIV => (l / r, true),
        // Same as Go's math.Mod: the result takes the sign of the dividend.
        T_MOD => (l % r, true),
        T_POW => (crate::go_math::pow(l, r), true),
        T_ATAN2 => (l.atan2(r), true),
        T_EQLC => (l, l == r),
        T_NEQ => (l, l != r),
        T_GTR => (l, l > r),
        T_LSS => (l, l < r),
        T_GTE => (l, l >= r),
        T_LTE => (l, l <= r),
        _ => {
            let op = promql_parser::parser::token::TokenType::new(op);
            return Err(QueryError::Execution(format!("operator \"{op}\" not allowed for this operation")));
        }
    })
}
