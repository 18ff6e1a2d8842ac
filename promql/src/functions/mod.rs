//! PromQL functions (upstream `promql/functions.go`).
//!
//! Functions that change a sample's value drop `__name__`; `last_over_time`, `sort*` and
//! `label_*` do not change the identity of what they return and keep it, as in Prometheus.
//! Range-vector functions live in `range.rs`, classic histograms in `histogram.rs`. A function
//! not implemented here is refused with [`QueryError::NotSupported`], never approximated.

mod histogram;
mod range;

use promlite_storage::{Labels, LabelsBuilder, METRIC_NAME, Sample, compile_anchored};
use promql_parser::parser::{Call, Expr, VectorSelector};

use crate::engine::{Evaluator, StepSeries, Steps, Val};
use crate::error::QueryError;
use crate::parser::unwrap_parens;
use crate::value::{InstantSample, check_unique_labels, has_duplicate_labels};
pub(crate) use histogram::go_float;
use range::{
    Extrapolated, InstantValue, Window, changes, extrapolated_rate, instant_value, linear_regression, over_range,
    resets, variance,
};
pub(crate) use range::{mean, quantile};

/// Evaluates a function call at `ts`.
pub(crate) fn call(ev: &mut Evaluator, call: &Call, ts: i64) -> Result<Val, QueryError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    let out = match name {
        "time" => return Ok(Val::Scalar(ts as f64 / 1000.0)),
        "pi" => return Ok(Val::Scalar(std::f64::consts::PI)),
        "vector" => {
            let v = ev.eval_scalar(args[0], ts)?;
            return Ok(Val::Vector(vec![InstantSample { labels: Labels::empty(), t: ts, v }]));
        }
        "scalar" => {
            let vector = ev.eval_vector(args[0], ts)?;
            return Ok(Val::Scalar(if vector.len() == 1 { vector[0].v } else { f64::NAN }));
        }
        _ if range_kernel(name).is_some() => {
            let kernel = range_kernel(name).expect("checked above");
            let param = match kernel.param {
                Some(arg) => ev.eval_scalar(args[arg], ts)?,
                None => f64::NAN,
            };
            kernel_annotations(ev, name, &args, param);
            over_range(ev, args[kernel.arg], ts, kernel.keep_name, |w| (kernel.f)(w, param))?
        }
        "absent_over_time" => {
            let present = over_range(ev, args[0], ts, false, |_| Some(1.0))?;
            if !present.is_empty() {
                return Ok(Val::Vector(Vec::new()));
            }
            return Ok(Val::Vector(vec![InstantSample { labels: absent_labels(args[0]), t: ts, v: 1.0 }]));
        }
        _ if math_fn(name).is_some() => map_values(ev, args[0], ts, math_fn(name).expect("checked above"))?,
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
            // The vector is evaluated even then, as upstream evaluates every argument first,
            // so that its errors still surface.
            let out = map_values(ev, args[0], ts, |v| go_max(min, go_min(max, v)))?;
            if max < min {
                return Ok(Val::Vector(Vec::new()));
            }
            out
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute" | "month" | "year" => {
            let vector = match args.first() {
                Some(arg) => ev.eval_vector(arg, ts)?,
                None => vec![InstantSample { labels: Labels::empty(), t: ts, v: ts as f64 / 1000.0 }],
            };
            vector
                .into_iter()
                .map(|s| InstantSample { labels: s.labels.without_metric_name(), t: ts, v: date_part(name, s.v) })
                .collect()
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
        "label_join" => label_join(ev, &args, ts)?,
        "histogram_quantile" => {
            let q = ev.eval_scalar(args[0], ts)?;
            let vector = ev.eval_vector(args[1], ts)?;
            histogram::histogram_quantile(ev, q, vector, ts)
        }
        "histogram_fraction" => {
            let lower = ev.eval_scalar(args[0], ts)?;
            let upper = ev.eval_scalar(args[1], ts)?;
            let vector = ev.eval_vector(args[2], ts)?;
            histogram::histogram_fraction(ev, lower, upper, vector, ts)
        }
        // These read native histograms only, which promlite does not store: float samples are
        // ignored, as Prometheus ignores them.
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev" | "histogram_stdvar" => {
            ev.eval_vector(args[0], ts)?;
            Vec::new()
        }
        "sort" | "sort_desc" => {
            let mut vector = ev.eval_vector(args[0], ts)?;
            sort_in_range_query_warning(ev);
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
        "sort_by_label" | "sort_by_label_desc" => {
            let mut vector = ev.eval_vector(args[0], ts)?;
            sort_in_range_query_warning(ev);
            let mut names = Vec::with_capacity(args.len() - 1);
            for arg in &args[1..] {
                names.push(ev.eval_string(arg, ts)?);
            }
            let descending = name == "sort_by_label_desc";
            vector.sort_by(|a, b| {
                let order = names
                    .iter()
                    .map(|n| natural_cmp(a.labels.get(n), b.labels.get(n)))
                    .find(|o| o.is_ne())
                    .unwrap_or_else(|| a.labels.cmp(&b.labels));
                if descending { order.reverse() } else { order }
            });
            return Ok(Val::Vector(vector));
        }
        other => return Err(QueryError::NotSupported(format!("function \"{other}\""))),
    };
    check_unique_labels(&out)?;
    Ok(Val::Vector(out))
}

/// The functions that map each sample's value on its own, one table for both evaluation paths.
fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => crate::go_math::log2,
        "log10" => crate::go_math::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        // Go's math.Signbit-free sgn: NaN and ±0 come back as they are.
        "sgn" => |v| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// A function of one range-vector argument, computed per series and window.
struct RangeKernel {
    /// Which argument is the range vector.
    arg: usize,
    /// Which argument, if any, is a scalar parameter passed to `f` (NaN when none).
    param: Option<usize>,
    /// Whether the result keeps `__name__`.
    keep_name: bool,
    f: fn(&Window, f64) -> Option<f64>,
}

/// The functions evaluated by [`over_range`], one table for both evaluation paths so that
/// they cannot disagree.
fn range_kernel(name: &str) -> Option<RangeKernel> {
    let kernel = |f: fn(&Window, f64) -> Option<f64>| RangeKernel { arg: 0, param: None, keep_name: false, f };
    Some(match name {
        "rate" => kernel(|w, _| extrapolated_rate(w, Extrapolated::Rate)),
        "increase" => kernel(|w, _| extrapolated_rate(w, Extrapolated::Increase)),
        "delta" => kernel(|w, _| extrapolated_rate(w, Extrapolated::Delta)),
        "irate" => kernel(|w, _| instant_value(w.samples, InstantValue::Irate)),
        "idelta" => kernel(|w, _| instant_value(w.samples, InstantValue::Idelta)),
        "deriv" => kernel(|w, _| (w.samples.len() >= 2).then(|| linear_regression(w.samples, w.samples[0].t).0)),
        "predict_linear" => RangeKernel {
            param: Some(1),
            ..kernel(|w, duration| {
                (w.samples.len() >= 2).then(|| {
                    let (slope, intercept) = linear_regression(w.samples, w.ts);
                    slope * duration + intercept
                })
            })
        },
        "changes" => kernel(|w, _| Some(changes(w.samples))),
        "resets" => kernel(|w, _| Some(resets(w.samples))),
        "avg_over_time" => kernel(|w, _| Some(mean(w.samples.iter().map(|s| s.v)))),
        "sum_over_time" => kernel(|w, _| {
            let mut kahan = KahanSum::default();
            w.samples.iter().for_each(|s| kahan.add(s.v));
            Some(kahan.value())
        }),
        "count_over_time" => kernel(|w, _| Some(w.samples.len() as f64)),
        "min_over_time" => kernel(|w, _| {
            Some(w.samples.iter().fold(f64::NAN, |acc, s| if acc.is_nan() || s.v < acc { s.v } else { acc }))
        }),
        "max_over_time" => kernel(|w, _| {
            Some(w.samples.iter().fold(f64::NAN, |acc, s| if acc.is_nan() || s.v > acc { s.v } else { acc }))
        }),
        "stddev_over_time" => kernel(|w, _| Some(variance(w.samples.iter().map(|s| s.v)).sqrt())),
        "stdvar_over_time" => kernel(|w, _| Some(variance(w.samples.iter().map(|s| s.v)))),
        "quantile_over_time" => RangeKernel {
            arg: 1,
            param: Some(0),
            ..kernel(|w, q| {
                let mut values: Vec<f64> = w.samples.iter().map(|s| s.v).collect();
                Some(quantile(q, &mut values))
            })
        },
        "last_over_time" => RangeKernel { keep_name: true, ..kernel(|w, _| w.samples.last().map(|s| s.v)) },
        "first_over_time" => RangeKernel { keep_name: true, ..kernel(|w, _| w.samples.first().map(|s| s.v)) },
        "present_over_time" => kernel(|_, _| Some(1.0)),
        _ => return None,
    })
}

/// The annotations a range-vector function raises at each step.
fn kernel_annotations(ev: &mut Evaluator, name: &str, args: &[&Expr], param: f64) {
    match name {
        "rate" | "increase" => counter_info(ev, args[0]),
        "quantile_over_time" if param.is_nan() || !(0.0..=1.0).contains(&param) => ev
            .warnings
            .push(format!("PromQL warning: quantile value should be between 0 and 1, got {}", go_float(param))),
        _ => {}
    }
}

/// Evaluates a function call at every step of a range query, series by series (see
/// [`Evaluator::eval_over_steps`]); `None` when the call is not covered.
pub(crate) fn call_over_steps(
    ev: &mut Evaluator,
    call: &Call,
    steps: &Steps,
) -> Result<Option<Vec<StepSeries>>, QueryError> {
    let name = call.func.name;
    let args: Vec<&Expr> = call.args.args.iter().map(|a| a.as_ref()).collect();
    if let Some(kernel) = range_kernel(name) {
        let Expr::MatrixSelector(ms) = unwrap_parens(args[kernel.arg]) else {
            return Ok(None);
        };
        let labels: Vec<Labels> = if kernel.keep_name {
            ev.select(&ms.vs)?.iter().map(|s| s.labels.clone()).collect()
        } else {
            ev.labels_without_name(&ms.vs)?.to_vec()
        };
        if has_duplicate_labels(labels.iter()) {
            return Ok(None);
        }
        let params = match kernel.param {
            Some(arg) => ev.scalar_over_steps(args[arg], steps)?,
            None => vec![f64::NAN; steps.len()],
        };
        for &param in &params {
            kernel_annotations(ev, name, &args, param);
        }
        let mut out: Vec<StepSeries> = labels.into_iter().map(StepSeries::new).collect();
        ev.range_windows_over_steps(ms, steps, |index, i, samples, start, end| {
            let ts = steps.time(i);
            let Some(v) = (kernel.f)(&Window { samples, start, end, ts }, params[i]) else { return false };
            out[index].samples.push(Sample { t: ts, v });
            true
        })?;
        return Ok(Some(out));
    }
    if let Some(f) = math_fn(name) {
        let Some(mut input) = ev.eval_over_steps(args[0], steps)? else {
            return Ok(None);
        };
        for series in &mut input {
            series.labels = series.labels.without_metric_name();
            series.samples.iter_mut().for_each(|p| p.v = f(p.v));
        }
        return Ok((!has_duplicate_labels(input.iter().map(|s| &s.labels))).then_some(input));
    }
    match name {
        "histogram_quantile" | "histogram_fraction" => {
            let vector_arg = args.len() - 1;
            let Some(input) = ev.eval_over_steps(args[vector_arg], steps)? else {
                return Ok(None);
            };
            let mut params = Vec::new();
            for arg in &args[..vector_arg] {
                params.push(ev.scalar_over_steps(arg, steps)?);
            }
            let out = ev.per_step(vec![input], steps, |ev, i, vectors| {
                let ts = steps.time(i);
                let vector = vectors.into_iter().next().expect("one input");
                let out = if name == "histogram_quantile" {
                    histogram::histogram_quantile(ev, params[0][i], vector, ts)
                } else {
                    histogram::histogram_fraction(ev, params[0][i], params[1][i], vector, ts)
                };
                check_unique_labels(&out)?;
                Ok(out)
            })?;
            Ok(Some(out))
        }
        _ => Ok(None),
    }
}

fn sort_in_range_query_warning(ev: &mut Evaluator) {
    if ev.is_range_query() {
        ev.warnings.push(
            "PromQL warning: sort is ineffective for range queries since results are always ordered by labels"
                .to_owned(),
        );
    }
}

/// Prometheus's hint that `rate`/`increase` of something not named like a counter is suspect.
fn counter_info(ev: &mut Evaluator, arg: &Expr) {
    let vs: &VectorSelector = match unwrap_parens(arg) {
        Expr::MatrixSelector(ms) => &ms.vs,
        _ => return,
    };
    let Some(name) = vs.name.as_deref().or_else(|| {
        vs.matchers
            .matchers
            .iter()
            .find(|m| m.name == METRIC_NAME && matches!(m.op, promql_parser::label::MatchOp::Equal))
            .map(|m| m.value.as_str())
    }) else {
        return;
    };
    if !["_total", "_sum", "_count", "_bucket"].iter().any(|suffix| name.ends_with(suffix)) {
        let info = format!(
            "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"{name}\""
        );
        ev.infos.push(info);
    }
}

/// A calendar field of a Unix time in seconds, in UTC (upstream `dateWrapper`).
fn date_part(name: &str, seconds: f64) -> f64 {
    // Go converts with int64(f), truncating; on amd64 a NaN or a value out of int64's range
    // converts to the smallest int64 (upstream has no special case: `time.Unix(int64(el.F), 0)`
    // in dateWrapper).
    let seconds = if seconds.is_nan() || !(i64::MIN as f64..i64::MAX as f64).contains(&seconds) {
        i64::MIN
    } else {
        seconds as i64
    };
    // Go's time counts seconds from year -292277022399 in a uint64; a Unix time that lands
    // before that wraps around to 2^64 more seconds (so NaN's date is in year 292277026596,
    // what Prometheus answers).
    const UNIX_TO_ABSOLUTE: i128 = 9_223_372_028_715_321_600;
    let mut seconds = i128::from(seconds);
    if seconds < -UNIX_TO_ABSOLUTE {
        seconds += 1 << 64;
    }
    let days = seconds.div_euclid(86_400) as i64;
    let of_day = seconds.rem_euclid(86_400) as i64;
    let (year, month, day) = crate::calendar::civil_from_days(days);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let day_of_year = {
        const CUMULATIVE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
        CUMULATIVE[month as usize - 1] + day + i64::from(leap && month > 2)
    };
    (match name {
        "day_of_month" => day,
        // 1970-01-01 was a Thursday; Sunday is 0.
        "day_of_week" => (days + 4).rem_euclid(7),
        "day_of_year" => day_of_year,
        "days_in_month" => days_in_month,
        "hour" => of_day / 3600,
        "minute" => of_day % 3600 / 60,
        "month" => month,
        "year" => year,
        _ => unreachable!("only date functions come here"),
    }) as f64
}

/// Natural order: runs of digits compare as numbers, everything else as text.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let a_end = a.find(|c: char| !c.is_ascii_digit()).unwrap_or(a.len());
                let b_end = b.find(|c: char| !c.is_ascii_digit()).unwrap_or(b.len());
                let (na, nb) = (a[..a_end].trim_start_matches('0'), b[..b_end].trim_start_matches('0'));
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order.is_ne() {
                    return order;
                }
                a = &a[a_end..];
                b = &b[b_end..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                a = &a[x.len_utf8()..];
                b = &b[y.len_utf8()..];
            }
        }
    }
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
        out.push(InstantSample { labels: with_label(&sample.labels, &dst, value), ..sample });
    }
    Ok(out)
}

/// `label_join(v, dst, separator, src...)`: `dst` set to the `src` values joined.
fn label_join(ev: &mut Evaluator, args: &[&Expr], ts: i64) -> Result<Vec<InstantSample>, QueryError> {
    let vector = ev.eval_vector(args[0], ts)?;
    let dst = ev.eval_string(args[1], ts)?;
    let separator = ev.eval_string(args[2], ts)?;
    let mut sources = Vec::with_capacity(args.len().saturating_sub(3));
    for arg in &args[3..] {
        sources.push(ev.eval_string(arg, ts)?);
    }
    if !is_valid_label_name(&dst) {
        return Err(QueryError::Execution(format!("invalid destination label name in label_join(): {dst}")));
    }
    Ok(vector
        .into_iter()
        .map(|sample| {
            let value = sources.iter().map(|src| sample.labels.get(src)).collect::<Vec<_>>().join(&separator);
            InstantSample { labels: with_label(&sample.labels, &dst, value), ..sample }
        })
        .collect())
}

/// `labels` with `name` set to `value`, or removed when `value` is empty.
fn with_label(labels: &Labels, name: &str, value: String) -> Labels {
    let mut builder = LabelsBuilder::new(labels);
    if value.is_empty() {
        builder.del(name);
    } else {
        builder.set(name.to_owned(), value);
    }
    builder.labels()
}

// Prometheus 3 accepts any UTF-8 label name, but not the empty one. U+FFFD stands for the
// invalid UTF-8 a Go string escape can make (see `parser/quote.rs`).
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('\u{FFFD}')
}

// Go's math.Max/Min: NaN wins, unlike Rust's f64::max/min.
/// Go's `math.Max`: +Inf wins over NaN, NaN over the rest, +0 over -0.
fn go_max(a: f64, b: f64) -> f64 {
    if a == f64::INFINITY || b == f64::INFINITY {
        f64::INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { b } else { a }
    } else {
        a.max(b)
    }
}

/// Go's `math.Min`: -Inf wins over NaN, NaN over the rest, -0 over +0.
fn go_min(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY || b == f64::NEG_INFINITY {
        f64::NEG_INFINITY
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == 0.0 && b == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else {
        a.min(b)
    }
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
