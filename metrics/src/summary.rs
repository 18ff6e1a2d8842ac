//! Summaries: quantiles over a sliding window, with a sum and count over all time, as
//! client_golang's summaries expose them (10 minutes, in 5 age buckets, by default).
//!
//! Each age bucket keeps up to [`RESERVOIR`] observations, sampled uniformly (reservoir
//! sampling) once more arrive, so memory is bounded however busy the summary is. Quantiles are
//! exact while an age bucket sees no more than that many observations; beyond, they are
//! estimates from a uniform sample of them (client_golang uses a different streaming estimator,
//! CKMS, with its own error bounds).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::encode::{FamilyEncoder, MetricType};
use crate::family::Metric;

/// Observations an age bucket keeps.
pub const RESERVOIR: usize = 500;

/// The quantiles to report, and the window they are computed over.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// The quantiles, each in [0, 1].
    pub objectives: Vec<f64>,
    /// How far back the quantiles look.
    pub max_age: Duration,
    /// How many steps the window slides in (each `max_age / age_buckets`).
    pub age_buckets: u32,
}

impl SummaryOptions {
    /// These quantiles over client_golang's default window (10 minutes, 5 age buckets).
    pub fn quantiles(objectives: &[f64]) -> Self {
        Self { objectives: objectives.to_vec(), max_age: Duration::from_secs(600), age_buckets: 5 }
    }
}

/// Observations summarised as quantiles over a sliding window.
#[derive(Debug)]
pub struct Summary {
    objectives: Vec<f64>,
    step: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    count: u64,
    sum: f64,
    // A ring of age buckets; `head` is the newest, started at `head_start`.
    buckets: Vec<AgeBucket>,
    head: usize,
    head_start: Instant,
    rng: u64,
}

#[derive(Debug, Default)]
struct AgeBucket {
    kept: Vec<f64>,
    seen: u64,
}

/// What a [`Summary`] reports at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct SummarySnapshot {
    /// `(quantile, value)` per objective; the value is NaN when the window is empty.
    pub quantiles: Vec<(f64, f64)>,
    /// All observations ever.
    pub count: u64,
    /// The sum of all observations ever.
    pub sum: f64,
}

impl Summary {
    /// A summary with these options.
    pub fn new(options: &SummaryOptions) -> Self {
        let age_buckets = options.age_buckets.max(1);
        Self {
            objectives: options.objectives.clone(),
            step: options.max_age / age_buckets,
            state: Mutex::new(State {
                count: 0,
                sum: 0.0,
                buckets: (0..age_buckets).map(|_| AgeBucket::default()).collect(),
                head: 0,
                head_start: Instant::now(),
                rng: 0x9E37_79B9_7F4A_7C15,
            }),
        }
    }

    /// Records one observation.
    pub fn observe(&self, v: f64) {
        self.observe_at(v, Instant::now());
    }

    fn observe_at(&self, v: f64, now: Instant) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.slide(self.step, now);
        state.count += 1;
        state.sum += v;
        let r = state.next_random();
        let head = state.head;
        let bucket = &mut state.buckets[head];
        bucket.seen += 1;
        if bucket.kept.len() < RESERVOIR {
            bucket.kept.push(v);
        } else if let Some(slot) = bucket.kept.get_mut((r % bucket.seen) as usize) {
            // Keeps each of the `seen` observations with the same probability.
            *slot = v;
        }
    }

    /// The quantiles of the window, and the sum and count.
    pub fn snapshot(&self) -> SummarySnapshot {
        self.snapshot_at(Instant::now())
    }

    fn snapshot_at(&self, now: Instant) -> SummarySnapshot {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.slide(self.step, now);
        // Each kept observation stands for seen/kept observations of its bucket.
        let mut weighted: Vec<(f64, f64)> = state
            .buckets
            .iter()
            .flat_map(|b| {
                let weight = if b.kept.is_empty() { 0.0 } else { b.seen as f64 / b.kept.len() as f64 };
                b.kept.iter().map(move |v| (*v, weight))
            })
            .collect();
        weighted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: f64 = weighted.iter().map(|(_, w)| w).sum();
        let quantiles = self
            .objectives
            .iter()
            .map(|q| {
                if weighted.is_empty() {
                    return (*q, f64::NAN);
                }
                // The smallest observation with at least q of the weight at or below it.
                let rank = q * total;
                let mut seen = 0.0;
                let value = weighted
                    .iter()
                    .find(|(_, w)| {
                        seen += w;
                        seen >= rank
                    })
                    .map_or(weighted[weighted.len() - 1].0, |(v, _)| *v);
                (*q, value)
            })
            .collect();
        SummarySnapshot { quantiles, count: state.count, sum: state.sum }
    }
}

impl State {
    /// Starts as many new age buckets as steps have passed, dropping the oldest.
    fn slide(&mut self, step: Duration, now: Instant) {
        let mut passed = 0;
        while now.duration_since(self.head_start) >= step && passed <= self.buckets.len() {
            self.head = (self.head + 1) % self.buckets.len();
            self.buckets[self.head] = AgeBucket::default();
            self.head_start += step;
            passed += 1;
        }
        if now.duration_since(self.head_start) >= step {
            // Idle for longer than the whole window: every bucket is empty now.
            self.head_start = now;
        }
    }

    /// xorshift64: enough to pick reservoir slots, and owned by the summary.
    fn next_random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }
}

impl Metric for Summary {
    type Options = SummaryOptions;
    const TYPE: MetricType = MetricType::Summary;

    fn new(options: &SummaryOptions) -> Self {
        Self::new(options)
    }

    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &[(&str, &str)]) {
        family.summary(labels, &self.snapshot());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> Summary {
        Summary::new(&SummaryOptions::quantiles(&[0.5, 0.9, 0.99]))
    }

    #[test]
    fn quantiles_of_few_observations_are_exact() {
        let s = summary();
        let now = Instant::now();
        for v in 1..=100 {
            s.observe_at(f64::from(v), now);
        }
        let snap = s.snapshot_at(now);
        assert_eq!(snap.quantiles, vec![(0.5, 50.0), (0.9, 90.0), (0.99, 99.0)]);
        assert_eq!((snap.count, snap.sum), (100, 5050.0));
    }

    #[test]
    fn an_empty_window_reports_nan_but_keeps_sum_and_count() {
        let s = summary();
        let start = Instant::now();
        s.observe_at(3.0, start);
        let later = s.snapshot_at(start + Duration::from_secs(601));
        assert!(later.quantiles.iter().all(|(_, v)| v.is_nan()), "{later:?}");
        assert_eq!((later.count, later.sum), (1, 3.0));
        s.observe_at(5.0, start + Duration::from_secs(3600));
        assert_eq!(s.snapshot_at(start + Duration::from_secs(3600)).quantiles[0], (0.5, 5.0));
    }

    #[test]
    fn the_window_slides_one_age_bucket_at_a_time() {
        let s = summary();
        let start = Instant::now();
        s.observe_at(100.0, start);
        s.observe_at(1.0, start + Duration::from_secs(500));
        // At 550 s both are in the window; at 610 s the first bucket (0-120 s) has gone.
        assert_eq!(s.snapshot_at(start + Duration::from_secs(550)).quantiles[2], (0.99, 100.0));
        assert_eq!(s.snapshot_at(start + Duration::from_secs(610)).quantiles[2], (0.99, 1.0));
    }

    #[test]
    fn many_observations_give_close_quantiles_in_bounded_memory() {
        let s = summary();
        let now = Instant::now();
        // 0..100_000 in a scrambled order: the quantiles of a uniform spread are known.
        for i in 0..100_000u64 {
            s.observe_at(((i * 7919) % 100_000) as f64, now);
        }
        let snap = s.snapshot_at(now);
        for (q, v) in snap.quantiles {
            let want = q * 100_000.0;
            assert!((v - want).abs() < 6_000.0, "quantile {q}: {v}, want about {want}");
        }
        let kept: usize = s.state.lock().unwrap().buckets.iter().map(|b| b.kept.len()).sum();
        assert!(kept <= RESERVOIR, "{kept} kept");
    }
}
