//! Counters and gauges: one float each, updated without a lock.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::encode::{FamilyEncoder, MetricType};
use crate::family::Metric;

/// A float in an `AtomicU64` (its bits), added to by compare-and-swap.
#[derive(Debug, Default)]
struct AtomicF64(AtomicU64);

impl AtomicF64 {
    fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }

    fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }

    fn add(&self, delta: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| Some((f64::from_bits(bits) + delta).to_bits()));
    }
}

/// A value that only goes up.
#[derive(Debug, Default)]
pub struct Counter(AtomicF64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.0.add(1.0);
    }

    /// Adds `delta`; a negative `delta` is a bug (checked in debug builds) and is ignored.
    pub fn inc_by(&self, delta: f64) {
        debug_assert!(delta >= 0.0, "counters only go up, not by {delta}");
        if delta > 0.0 {
            self.0.add(delta);
        }
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

impl Metric for Counter {
    type Options = ();
    const TYPE: MetricType = MetricType::Counter;

    fn new((): &()) -> Self {
        Self::default()
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &[(&str, &str)]) {
        family.sample(labels, self.get());
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicF64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.set(v);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.0.add(1.0);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.0.add(-1.0);
    }

    /// Adds `delta` (which may be negative).
    pub fn add(&self, delta: f64) {
        self.0.add(delta);
    }

    /// The current value.
    pub fn get(&self) -> f64 {
        self.0.get()
    }
}

impl Metric for Gauge {
    type Options = ();
    const TYPE: MetricType = MetricType::Gauge;

    fn new((): &()) -> Self {
        Self::default()
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &[(&str, &str)]) {
        family.sample(labels, self.get());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_add_and_gauges_move_both_ways() {
        let c = Counter::default();
        c.inc();
        c.inc_by(2.5);
        c.inc_by(0.0);
        assert_eq!(c.get(), 3.5);
        let g = Gauge::default();
        g.set(10.0);
        g.dec();
        g.add(-4.5);
        g.inc();
        assert_eq!(g.get(), 5.5);
    }

    #[test]
    fn concurrent_increments_are_all_counted() {
        let c = std::sync::Arc::new(Counter::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = std::sync::Arc::clone(&c);
                std::thread::spawn(move || (0..10_000).for_each(|_| c.inc()))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(c.get(), 40_000.0);
    }
}
