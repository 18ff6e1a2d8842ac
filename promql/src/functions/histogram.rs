//! `histogram_quantile` and `histogram_fraction` over classic histograms: `_bucket` series
//! grouped by every label but `le` (upstream `promql/quantile.go`: `BucketQuantile`,
//! `BucketFraction`, `coalesceBuckets`, `ensureMonotonicAndIgnoreSmallDeltas`).
//!
//! Buckets are sorted by upper bound, equal bounds merged, and counts forced monotonic (with an
//! info annotation, as Prometheus does). Native histograms are not stored by promlite, so this
//! never sees one.

use foldhash::{HashMap, HashMapExt};

use promlite_storage::{Labels, LabelsBuilder, METRIC_NAME};

use crate::engine::Evaluator;
use crate::value::InstantSample;

/// One classic bucket: its upper bound (`le`) and cumulative count.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    upper_bound: f64,
    count: f64,
}

/// Groups the `_bucket` samples of `vector` into histograms keyed by their labels without `le`
/// and `__name__`, warning about samples whose `le` is not a number.
fn group_buckets(ev: &mut Evaluator, vector: Vec<InstantSample>) -> Vec<(Labels, String, Vec<Bucket>)> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<(Labels, String, Vec<Bucket>)> = Vec::new();
    for sample in vector {
        let le = sample.labels.get("le");
        let Some(upper_bound) = parse_go_float(le) else {
            ev.warnings.push(format!(
                "PromQL warning: bucket label \"le\" is missing or has a malformed value of \"{le}\" for metric name \"{}\"",
                sample.labels.get(METRIC_NAME)
            ));
            continue;
        };
        // Grouped with the metric name, which is dropped only from the result: two histograms
        // differing only in name then collide, an error as in Prometheus.
        let mut builder = LabelsBuilder::new(&sample.labels);
        builder.del("le");
        let key = builder.labels();
        let bucket = Bucket { upper_bound, count: sample.v };
        match index.get(&key) {
            Some(&i) => out[i].2.push(bucket),
            None => {
                index.insert(key.clone(), out.len());
                out.push((key, sample.labels.get(METRIC_NAME).to_owned(), vec![bucket]));
            }
        }
    }
    out
}

/// `histogram_quantile(q, buckets)` for classic histograms.
pub(super) fn histogram_quantile(
    ev: &mut Evaluator,
    q: f64,
    vector: Vec<InstantSample>,
    ts: i64,
) -> Vec<InstantSample> {
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        ev.warnings.push(format!("PromQL warning: quantile value should be between 0 and 1, got {}", go_float(q)));
    }
    let mut out = Vec::new();
    for (labels, name, mut buckets) in group_buckets(ev, vector) {
        let (v, forced_monotonic) = bucket_quantile(q, &mut buckets);
        if forced_monotonic {
            ev.infos.push(format!(
                "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see \
                 https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name \"{name}\""
            ));
        }
        out.push(InstantSample { labels: labels.without_metric_name(), t: ts, v });
    }
    out
}

/// `histogram_fraction(lower, upper, buckets)` for classic histograms.
pub(super) fn histogram_fraction(
    ev: &mut Evaluator,
    lower: f64,
    upper: f64,
    vector: Vec<InstantSample>,
    ts: i64,
) -> Vec<InstantSample> {
    group_buckets(ev, vector)
        .into_iter()
        .map(|(labels, _, mut buckets)| InstantSample {
            labels: labels.without_metric_name(),
            t: ts,
            v: bucket_fraction(lower, upper, &mut buckets),
        })
        .collect()
}

/// Sorts, merges equal bounds, and requires a `+Inf` bucket; `None` without one.
fn prepare(buckets: &mut Vec<Bucket>) -> Option<()> {
    buckets.sort_by(|a, b| a.upper_bound.partial_cmp(&b.upper_bound).unwrap_or(std::cmp::Ordering::Equal));
    if buckets.last()?.upper_bound != f64::INFINITY {
        return None;
    }
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for bucket in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper_bound == bucket.upper_bound => last.count += bucket.count,
            _ => merged.push(*bucket),
        }
    }
    *buckets = merged;
    Some(())
}

/// Makes counts non-decreasing; differences within 1e-12 relative are floating-point noise and
/// are evened out silently. Returns whether a real decrease had to be removed.
fn ensure_monotonic(buckets: &mut [Bucket]) -> bool {
    const SMALL_DELTA_TOLERANCE: f64 = 1e-12;
    let mut forced = false;
    let mut previous = buckets[0].count;
    for bucket in &mut buckets[1..] {
        let current = bucket.count;
        if current == previous {
            continue;
        }
        if almost_equal(previous, current, SMALL_DELTA_TOLERANCE) {
            bucket.count = previous;
            continue;
        }
        if current < previous {
            bucket.count = previous;
            forced = true;
            continue;
        }
        previous = current;
    }
    forced
}

fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    if prepare(buckets).is_none() {
        return (f64::NAN, false);
    }
    let forced = ensure_monotonic(buckets);
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 || observations.is_nan() {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let b = buckets[..buckets.len() - 1].partition_point(|bucket| bucket.count < rank);
    if b == buckets.len() - 1 {
        return (buckets[buckets.len() - 2].upper_bound, forced);
    }
    if b == 0 && buckets[0].upper_bound <= 0.0 {
        return (buckets[0].upper_bound, forced);
    }
    let bucket_end = buckets[b].upper_bound;
    let mut count = buckets[b].count;
    let mut bucket_start = 0.0;
    if b > 0 {
        bucket_start = buckets[b - 1].upper_bound;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (bucket_start + (bucket_end - bucket_start) * (rank / count), forced)
}

fn bucket_fraction(lower: f64, upper: f64, buckets: &mut Vec<Bucket>) -> f64 {
    if prepare(buckets).is_none() {
        return f64::NAN;
    }
    ensure_monotonic(buckets);
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, None, None);
    for (i, bucket) in buckets.iter().enumerate() {
        // The first bucket starts at 0 when its bound is positive, as for quantiles.
        let lower_bound = match i {
            0 if bucket.upper_bound > 0.0 => 0.0,
            0 => f64::NEG_INFINITY,
            _ => buckets[i - 1].upper_bound,
        };
        let upper_bound = bucket.upper_bound;
        // An infinitely wide bucket cannot be interpolated in: its observations count as
        // lying at its finite end.
        let interpolate = |v: f64| {
            if lower_bound == f64::NEG_INFINITY {
                bucket.count
            } else if upper_bound == f64::INFINITY {
                rank
            } else {
                rank + (bucket.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if lower_rank.is_none() && lower_bound >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && lower_bound >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        if lower_rank.is_none() && lower_bound < lower && upper_bound > lower {
            lower_rank = Some(interpolate(lower));
        }
        if upper_rank.is_none() && lower_bound < upper && upper_bound > upper {
            upper_rank = Some(interpolate(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank = bucket.count;
    }
    let lower_rank = lower_rank.map_or(count, |r| r.min(count));
    let upper_rank = upper_rank.map_or(count, |r| r.min(count));
    (upper_rank - lower_rank) / count
}

fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// Go's `strconv.ParseFloat` for `le` values: numbers, `+Inf`, `-Inf`, `NaN`.
fn parse_go_float(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().trim_start_matches('+') {
        "inf" | "infinity" => return Some(if text.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY }),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if text.is_empty() || text.contains(|c: char| c.is_alphabetic() && !matches!(c, 'e' | 'E' | 'x' | 'X' | 'p' | 'P'))
    {
        return None;
    }
    text.parse().ok()
}

/// A float as Go's `%v` prints it in Prometheus's messages.
pub(crate) use promlite_storage::format_go_g as go_float;

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets(pairs: &[(f64, f64)]) -> Vec<Bucket> {
        pairs.iter().map(|&(upper_bound, count)| Bucket { upper_bound, count }).collect()
    }

    #[test]
    fn quantile_interpolates_inside_a_bucket() {
        let mut b = buckets(&[(f64::INFINITY, 10.0), (1.0, 5.0), (2.0, 10.0)]);
        assert_eq!(bucket_quantile(0.5, &mut b), (1.0, false));
        let mut b = buckets(&[(1.0, 5.0), (2.0, 4.0), (f64::INFINITY, 10.0)]);
        assert_eq!(bucket_quantile(0.25, &mut b), (0.5, true));
        assert!(bucket_quantile(0.5, &mut buckets(&[(1.0, 5.0)])).0.is_nan());
    }

    #[test]
    fn fraction_between_bounds() {
        let mut b = buckets(&[(1.0, 5.0), (2.0, 10.0), (f64::INFINITY, 10.0)]);
        assert_eq!(bucket_fraction(0.0, 1.0, &mut b), 0.5);
        assert_eq!(bucket_fraction(1.5, 1.0, &mut b), 0.0);
        assert_eq!(parse_go_float("+Inf"), Some(f64::INFINITY));
        assert_eq!(parse_go_float("Hello World"), None);
    }
}
