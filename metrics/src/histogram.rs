//! Histograms with fixed bucket bounds (Prometheus's classic histograms).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::encode::{FamilyEncoder, MetricType};
use crate::family::Metric;

/// Observations counted into buckets by upper bound, with their sum and count.
#[derive(Debug)]
pub struct Histogram {
    bounds: Arc<[f64]>,
    // Per bucket, not cumulative: an observation touches one bucket.
    counts: Box<[AtomicU64]>,
    count: AtomicU64,
    sum_bits: AtomicU64,
}

/// What a [`Histogram`] held at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// The bucket upper bounds, ascending, without `+Inf`.
    pub bounds: Vec<f64>,
    /// Observations per bucket (not cumulative), one per bound.
    pub counts: Vec<u64>,
    /// All observations, those above the last bound too.
    pub count: u64,
    /// The sum of all observations.
    pub sum: f64,
}

impl Histogram {
    /// A histogram with these upper bounds (ascending; `+Inf` is implied).
    pub fn new(bounds: Arc<[f64]>) -> Self {
        debug_assert!(bounds.windows(2).all(|w| w[0] < w[1]), "bucket bounds must ascend");
        let counts = bounds.iter().map(|_| AtomicU64::new(0)).collect();
        Self { bounds, counts, count: AtomicU64::new(0), sum_bits: AtomicU64::new(0) }
    }

    /// Counts one observation.
    pub fn observe(&self, v: f64) {
        // `le` is inclusive: v goes into the first bucket whose bound is >= v.
        let i = self.bounds.partition_point(|bound| *bound < v);
        if let Some(bucket) = self.counts.get(i) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        let _ = self
            .sum_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + v).to_bits()));
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The current buckets, sum and count.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.bounds.to_vec(),
            counts: self.counts.iter().map(|c| c.load(Ordering::Relaxed)).collect(),
            count: self.count.load(Ordering::Relaxed),
            sum: f64::from_bits(self.sum_bits.load(Ordering::Relaxed)),
        }
    }
}

impl Metric for Histogram {
    type Options = Arc<[f64]>;
    const TYPE: MetricType = MetricType::Histogram;

    fn new(bounds: &Arc<[f64]>) -> Self {
        Self::new(Arc::clone(bounds))
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &[(&str, &str)]) {
        let mut snapshot = self.snapshot();
        // Observations land between the bucket and count increments; a reader must never see a
        // bucket above the total.
        snapshot.count = snapshot.count.max(snapshot.counts.iter().sum());
        family.histogram(labels, &snapshot);
    }
}

/// `count` bounds starting at `start`, each `factor` times the one before (client_golang's
/// `ExponentialBuckets`).
pub fn exponential_buckets(start: f64, factor: f64, count: usize) -> Arc<[f64]> {
    std::iter::successors(Some(start), |b| Some(b * factor)).take(count).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_the_first_bucket_whose_bound_holds_them() {
        let h = Histogram::new(Arc::from([0.1, 1.0, 10.0]));
        for v in [0.05, 0.1, 0.5, 1.0, 99.0] {
            h.observe(v);
        }
        let s = h.snapshot();
        assert_eq!(s.counts, vec![2, 2, 0]);
        assert_eq!(s.count, 5);
        assert!((s.sum - 100.65).abs() < 1e-9);
    }

    #[test]
    fn exponential_buckets_multiply() {
        assert_eq!(&*exponential_buckets(100.0, 10.0, 4), &[100.0, 1000.0, 10000.0, 100000.0]);
    }
}
