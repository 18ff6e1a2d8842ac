//! Functions over a range vector (upstream `promql/functions.go`: `extrapolatedRate`,
//! `instantValue`, `linearRegression`, the `*_over_time` family, `changes`, `resets`).
//!
//! Each takes one series' samples in the window `(start, end]` and gives at most one value;
//! series without samples in the window give nothing. Sums are compensated (Kahan-Neumaier)
//! as in Prometheus 3, so results agree to the last bits the upstream tests check.

use promlite_storage::Sample;
use promql_parser::parser::Expr;

use super::KahanSum;
use crate::engine::Evaluator;
use crate::error::QueryError;
use crate::parser::unwrap_parens;
use crate::value::InstantSample;

/// One series' view of a range-vector argument at one step.
pub(super) struct Window<'a> {
    pub(super) samples: &'a [Sample],
    /// `(start, end]` of the range, milliseconds.
    pub(super) start: i64,
    pub(super) end: i64,
    /// The evaluation step's time (not moved by `offset` or `@`).
    pub(super) ts: i64,
}

/// Applies `f` to every series of the range-vector argument `arg` at step `ts`.
pub(super) fn over_range(
    ev: &mut Evaluator,
    arg: &Expr,
    ts: i64,
    keep_name: bool,
    f: impl Fn(&Window) -> Option<f64>,
) -> Result<Vec<InstantSample>, QueryError> {
    if let Expr::MatrixSelector(ms) = unwrap_parens(arg) {
        let without_name = if keep_name { None } else { Some(ev.labels_without_name(&ms.vs)?) };
        let mut out = Vec::new();
        ev.range_windows(ms, ts, |i, series, samples, start, end| {
            let Some(v) = f(&Window { samples, start, end, ts }) else { return false };
            let labels = match &without_name {
                Some(labels) => labels[i].clone(),
                None => series.labels.clone(),
            };
            out.push(InstantSample { labels, t: ts, v });
            true
        })?;
        return Ok(out);
    }
    let (series, start, end) = ev.eval_range(arg, ts)?;
    let mut out = Vec::with_capacity(series.len());
    for series in series {
        if series.samples.is_empty() {
            continue;
        }
        let window = Window { samples: &series.samples, start, end, ts };
        if let Some(v) = f(&window) {
            let labels = if keep_name { series.labels } else { series.labels.without_metric_name() };
            out.push(InstantSample { labels, t: ts, v });
        }
    }
    Ok(out)
}

/// Which of the functions [`extrapolated_rate`] computes (upstream's `isCounter`, `isRate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Extrapolated {
    /// Per second, counter resets added back.
    Rate,
    /// Over the window, counter resets added back.
    Increase,
    /// Over the window, for gauges.
    Delta,
}

/// rate, increase and delta: the change over the window, extrapolated towards its edges
/// (upstream `extrapolatedRate`). Counter resets add the value before the reset back.
pub(super) fn extrapolated_rate(w: &Window, function: Extrapolated) -> Option<f64> {
    let is_counter = matches!(function, Extrapolated::Rate | Extrapolated::Increase);
    let is_rate = function == Extrapolated::Rate;
    let samples = w.samples;
    if samples.len() < 2 {
        return None;
    }
    let (first, last) = (samples[0], samples[samples.len() - 1]);
    let mut result = last.v - first.v;
    if is_counter {
        let mut previous = first.v;
        for sample in &samples[1..] {
            if sample.v < previous {
                result += previous;
            }
            previous = sample.v;
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

/// Which of the functions [`instant_value`] computes (upstream's `isRate`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum InstantValue {
    /// Per second between the last two samples, a counter reset counted from zero.
    Irate,
    /// The difference of the last two samples.
    Idelta,
}

/// irate and idelta: from the last two samples of the window (upstream `instantValue`).
pub(super) fn instant_value(samples: &[Sample], function: InstantValue) -> Option<f64> {
    let is_rate = function == InstantValue::Irate;
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

/// Least-squares fit of the samples, with times in seconds relative to `intercept_time`:
/// `(slope, intercept)` (upstream `linearRegression`).
pub(super) fn linear_regression(samples: &[Sample], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut sum_y, mut sum_xy, mut sum_x2) =
        (0.0, KahanSum::default(), KahanSum::default(), KahanSum::default(), KahanSum::default());
    let first = samples[0].v;
    let mut constant = true;
    for sample in samples {
        constant &= sample.v == first;
        n += 1.0;
        let x = (sample.t - intercept_time) as f64 / 1000.0;
        sum_x.add(x);
        sum_y.add(sample.v);
        sum_xy.add(x * sample.v);
        sum_x2.add(x * x);
    }
    if constant {
        if first.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, first);
    }
    let (sum_x, sum_y, sum_xy, sum_x2) = (sum_x.value(), sum_y.value(), sum_xy.value(), sum_x2.value());
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}

/// `changes`: how often the value changed (NaN to NaN is no change).
pub(super) fn changes(samples: &[Sample]) -> f64 {
    samples.windows(2).filter(|p| p[0].v != p[1].v && !(p[0].v.is_nan() && p[1].v.is_nan())).count() as f64
}

/// `resets`: how often the value went down.
pub(super) fn resets(samples: &[Sample]) -> f64 {
    samples.windows(2).filter(|p| p[1].v < p[0].v).count() as f64
}

/// Population variance by Welford's method with compensated sums (upstream
/// `funcStdvarOverTime`).
pub(super) fn variance(values: impl Iterator<Item = f64>) -> f64 {
    let (mut count, mut mean, mut aux) = (0.0, KahanSum::default(), KahanSum::default());
    for v in values {
        count += 1.0;
        let delta = v - mean.value();
        mean.add(delta / count);
        aux.add(delta * (v - mean.value()));
    }
    aux.value() / count
}

/// The mean, through a compensated sum; if that sum overflows, an incremental mean instead
/// (upstream `funcAvgOverTime` and `avg`).
pub(crate) fn mean(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let mut sum = KahanSum::default();
    let mut n = 0.0;
    for v in values.clone() {
        sum.add(v);
        n += 1.0;
    }
    let total = sum.value();
    if total.is_finite() || values.clone().any(|v| !v.is_finite()) {
        return total / n;
    }
    let mut mean = KahanSum::default();
    for (i, v) in values.enumerate() {
        let count = i as f64 + 1.0;
        let current = mean.value();
        mean.add(v / count - current / count);
    }
    mean.value()
}

/// Prometheus's `quantile`: linear interpolation between the closest ranks, NaN sorting first,
/// ±Inf for a quantile outside [0, 1].
pub(crate) fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        (false, false) => a.partial_cmp(b).expect("no NaN here"),
    });
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_between_ranks() {
        assert_eq!(quantile(0.5, &mut [1.0, 2.0, 3.0, 4.0]), 2.5);
        assert_eq!(quantile(0.0, &mut [3.0, 1.0]), 1.0);
        assert_eq!(quantile(1.5, &mut [3.0, 1.0]), f64::INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
    }

    #[test]
    fn regression_of_a_line() {
        let samples: Vec<Sample> = (0..5).map(|i| Sample { t: i * 60_000, v: 2.0 * i as f64 }).collect();
        let (slope, intercept) = linear_regression(&samples, 0);
        assert!((slope - 2.0 / 60.0).abs() < 1e-12 && intercept.abs() < 1e-9);
        assert_eq!(changes(&samples), 4.0);
        assert_eq!(resets(&samples), 0.0);
    }
}
