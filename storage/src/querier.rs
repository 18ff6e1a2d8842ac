//! Read access to the head for a time range (upstream `tsdb/querier.go`, `head_read.go`).
//!
//! A [`Querier`] is bound to `[mint, maxt]` (milliseconds, both inclusive) when it is made, and
//! selects series by matchers through the postings. Each series' samples come from its sealed
//! chunks and its open chunk, decoded in time order. Results are sorted by label set, as
//! Prometheus's `Select(sortSeries=true)` returns them.
//!
//! A querier made by [`crate::Db::querier`] also asks the secondaries ([`crate::fanout`]) and
//! merges their series in; their failures collect as warnings ([`Querier::take_warnings`]).
//! Label names and values come from local storage only (upstream's remote-read querier
//! answers them with "not implemented", which only adds a warning to every label lookup).

use std::sync::{Arc, Mutex, PoisonError};

use crate::fanout::{self, Secondaries, SecondaryError, SecondarySelect};
use crate::head::{Head, Sample, SeriesState};
use crate::labels::Labels;
use crate::matcher::Matcher;

/// One selected series with its samples in `[mint, maxt]`, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// Samples in the querier's range, oldest first. Stale markers included.
    pub samples: Vec<Sample>,
}

/// Reads series from the head over a fixed time range.
pub struct Querier {
    head: Arc<Head>,
    mint: i64,
    maxt: i64,
    secondaries: Secondaries,
    deadline: Option<std::time::Instant>,
    warnings: Mutex<Vec<String>>,
}

impl Querier {
    pub(crate) fn new(head: Arc<Head>, mint: i64, maxt: i64, secondaries: Secondaries) -> Querier {
        Querier { head, mint, maxt, secondaries, deadline: None, warnings: Mutex::new(Vec::new()) }
    }

    /// This querier, with secondaries that must answer by `deadline` (the query's timeout).
    pub fn with_deadline(mut self, deadline: std::time::Instant) -> Querier {
        self.deadline = Some(deadline);
        self
    }

    /// Series matching every matcher, sorted by labels, local and secondary series merged.
    /// Series with no sample in range are left out, as a block querier would.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<Series> {
        let mut out = self.select_local(matchers);
        if self.secondaries.is_empty() {
            return out;
        }
        let stats = self.head.stats();
        let request = SecondarySelect {
            mint: self.mint,
            maxt: self.maxt,
            matchers,
            local_min_time: (stats.min_time <= stats.max_time).then_some(stats.min_time),
            deadline: self.deadline,
        };
        // Every secondary at once: the slowest, not the sum, bounds the wait (upstream's merge
        // querier selects concurrently too).
        let answers: Vec<Result<Vec<Series>, SecondaryError>> = if self.secondaries.len() == 1 {
            vec![self.secondaries[0].select(&request)]
        } else {
            std::thread::scope(|scope| {
                let asks: Vec<_> = self.secondaries.iter().map(|s| scope.spawn(|| s.select(&request))).collect();
                asks.into_iter().map(|ask| ask.join().unwrap_or_else(|_| Err("a secondary panicked".into()))).collect()
            })
        };
        for answer in answers {
            match answer {
                Ok(series) => {
                    let series = fanout::normalize(series)
                        .into_iter()
                        .map(|mut s| {
                            s.samples.retain(|sample| sample.t >= self.mint && sample.t <= self.maxt);
                            s
                        })
                        .filter(|s| !s.samples.is_empty())
                        .collect();
                    out = fanout::merge_sorted(out, series);
                }
                Err(err) => {
                    // Once per querier: a remote that fails fails for every selector.
                    let warning = err.to_string();
                    let mut warnings = self.warnings.lock().unwrap_or_else(PoisonError::into_inner);
                    if !warnings.contains(&warning) {
                        warnings.push(warning);
                    }
                }
            }
        }
        out
    }

    /// Series matching every matcher, each with only its newest sample in `[mint, at]` (`at`
    /// at most the querier's `maxt`), sorted by labels; series without one are left out. What an
    /// instant selector evaluated at one time needs: one sample per series instead of the
    /// whole window, so an instant query over many series holds one sample each.
    pub fn select_latest(&self, matchers: &[Matcher], at: i64) -> Vec<Series> {
        let at = at.min(self.maxt);
        if !self.secondaries.is_empty() {
            // Remotes answer whole ranges; merge as usual and keep the newest.
            return self
                .select(matchers)
                .into_iter()
                .filter_map(|mut s| {
                    let newest = s.samples.iter().rev().find(|sample| sample.t <= at).copied()?;
                    s.samples = vec![newest];
                    Some(s)
                })
                .collect();
        }
        let mapper = self.head.mapper.as_ref();
        self.select_with(matchers, |state| state.latest_sample(self.mint, at, mapper).map(|sample| vec![sample]))
    }

    /// The local series matching `matchers` with the samples `samples_of` picks from each (a
    /// series it gives none is left out), sorted by labels.
    fn select_with(
        &self,
        matchers: &[Matcher],
        samples_of: impl Fn(&SeriesState) -> Option<Vec<Sample>>,
    ) -> Vec<Series> {
        let mut out: Vec<Series> = self
            .head
            .select_refs(matchers)
            .into_iter()
            .filter_map(|series_ref| {
                let series = self.head.series(series_ref)?;
                let samples = samples_of(&series.state.lock().unwrap_or_else(PoisonError::into_inner))?;
                Some(Series { labels: self.head.labels_of(&series), samples })
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// What the secondaries that failed since the last call said, oldest first, each once.
    pub fn take_warnings(&self) -> Vec<String> {
        std::mem::take(&mut *self.warnings.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn select_local(&self, matchers: &[Matcher]) -> Vec<Series> {
        let mapper = self.head.mapper.as_ref();
        self.select_with(matchers, |state| Some(state.samples(self.mint, self.maxt, mapper)).filter(|s| !s.is_empty()))
    }

    /// Refs of the series matching every matcher that have a sample in range.
    fn refs_in_range(&self, matchers: &[Matcher]) -> Vec<u64> {
        self.head
            .select_refs(matchers)
            .into_iter()
            .filter(|r| {
                self.head
                    .series(*r)
                    .is_some_and(|s| s.state.lock().unwrap_or_else(PoisonError::into_inner).overlaps(self.mint, self.maxt))
            })
            .collect()
    }

    /// Label names of series matching `matchers` (all series when empty), sorted.
    pub fn label_names(&self, matchers: &[Matcher]) -> Vec<String> {
        if matchers.is_empty() {
            return self.head.label_names(None);
        }
        self.head.label_names(Some(&self.refs_in_range(matchers)))
    }

    /// Values of label `name` among series matching `matchers` (all when empty), sorted.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Vec<String> {
        if matchers.is_empty() {
            return self.head.label_values(name, None);
        }
        self.head.label_values(name, Some(&self.refs_in_range(matchers)))
    }
}
