//! Read access to the head for a time range (upstream `tsdb/querier.go`).
//!
//! A [`Querier`] is bound to `[mint, maxt]` (milliseconds, both inclusive) when it is made, and
//! selects series by matchers through the postings. Results are sorted by label set, as
//! Prometheus's `Select(sortSeries=true)` returns them.

use std::sync::Arc;

use crate::head::{Head, Sample};
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
}

impl Querier {
    pub(crate) fn new(head: Arc<Head>, mint: i64, maxt: i64) -> Querier {
        Querier { head, mint, maxt }
    }

    /// Series matching every matcher, sorted by labels. Series with no sample in range are left
    /// out, as a block querier would.
    pub fn select(&self, matchers: &[Matcher]) -> Vec<Series> {
        let mut out: Vec<Series> = self
            .head
            .select_refs(matchers)
            .into_iter()
            .filter_map(|series_ref| self.head.series_data(series_ref, self.mint, self.maxt))
            .filter(|(_, samples)| !samples.is_empty())
            .map(|(labels, samples)| Series { labels, samples })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// Label names of series matching `matchers` (all series when empty), sorted.
    pub fn label_names(&self, matchers: &[Matcher]) -> Vec<String> {
        if matchers.is_empty() {
            return self.head.label_names();
        }
        let mut names: Vec<String> =
            self.select(matchers).iter().flat_map(|s| s.labels.iter().map(|l| l.name.clone())).collect();
        names.sort();
        names.dedup();
        names
    }

    /// Values of label `name` among series matching `matchers` (all when empty), sorted.
    pub fn label_values(&self, name: &str, matchers: &[Matcher]) -> Vec<String> {
        if matchers.is_empty() {
            return self.head.label_values(name);
        }
        let mut values: Vec<String> =
            self.select(matchers).iter().map(|s| s.labels.get(name).to_owned()).filter(|v| !v.is_empty()).collect();
        values.sort();
        values.dedup();
        values
    }
}
