//! Secondary series sources merged into queries (upstream `storage/fanout.go` and the chained
//! series merge of `storage/merge.go`): the `remote_read` endpoints of the config.
//!
//! Local storage is primary, every [`SecondaryQueryable`] secondary: a secondary that fails
//! turns into a warning on the query, never an error, so an unreachable remote still leaves
//! the local answer. Series with the same labels from several sources become one series whose
//! samples are the union by timestamp; where two sources hold the same timestamp the earlier
//! source (local first) wins.

use crate::matcher::Matcher;
use crate::sample::Sample;
use crate::series::Series;

/// What a secondary is asked for: one selector over one time range.
#[derive(Debug, Clone, Copy)]
pub struct SecondarySelect<'a> {
    /// Start of the range, ms, inclusive.
    pub mint: i64,
    /// End of the range, ms, inclusive.
    pub maxt: i64,
    /// The selector's matchers.
    pub matchers: &'a [Matcher],
    /// Timestamp of the oldest sample in local storage, `None` while it is empty: a secondary
    /// that should only fill in history (`read_recent: false`) reads up to here.
    pub local_min_time: Option<i64>,
    /// When the query asking gives up (`--query.timeout`): a secondary must answer by then.
    pub deadline: Option<std::time::Instant>,
}

/// Why a secondary had no answer; its text becomes the query's warning.
pub type SecondaryError = Box<dyn std::error::Error + Send + Sync>;

/// A read-only source of series outside the local TSDB, such as a `remote_read` endpoint.
pub trait SecondaryQueryable: Send + Sync {
    /// The series matching `request.matchers` with their samples in `[mint, maxt]`, in any
    /// order. An error's text is the warning the query gets. May block until
    /// `request.deadline`: callers are blocking threads, never async workers.
    fn select(&self, request: &SecondarySelect<'_>) -> Result<Vec<Series>, SecondaryError>;
}

/// The secondaries a querier asks, shared by every querier made while they are current.
pub type Secondaries = std::sync::Arc<[std::sync::Arc<dyn SecondaryQueryable>]>;

/// Merges two lists of series that are each sorted by labels into one sorted list; series with
/// equal labels are merged sample by sample, `primary` winning on equal timestamps.
pub(crate) fn merge_sorted(primary: Vec<Series>, secondary: Vec<Series>) -> Vec<Series> {
    if secondary.is_empty() {
        return primary;
    }
    if primary.is_empty() {
        return secondary;
    }
    let mut out = Vec::with_capacity(primary.len() + secondary.len());
    let mut a = primary.into_iter().peekable();
    let mut b = secondary.into_iter().peekable();
    loop {
        let order = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.labels.cmp(&y.labels),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => break,
        };
        match order {
            std::cmp::Ordering::Less => out.extend(a.next()),
            std::cmp::Ordering::Greater => out.extend(b.next()),
            std::cmp::Ordering::Equal => {
                let (mut x, y) = (a.next().expect("peeked"), b.next().expect("peeked"));
                x.merge(y);
                out.push(x);
            }
        }
    }
    out
}

/// Sorts a remote's series by labels, joins series with equal labels (a remote may send one
/// series in several parts) and keeps the samples in `[mint, maxt]`, one per timestamp, so the
/// list can go into [`merge_sorted`]. Series left without samples are dropped.
pub(crate) fn normalize(series: Vec<Series>, mint: i64, maxt: i64) -> Vec<Series> {
    let mut parts: Vec<(crate::labels::Labels, Vec<Sample>)> = series.into_iter().map(Series::into_samples).collect();
    parts.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out: Vec<(crate::labels::Labels, Vec<Sample>)> = Vec::with_capacity(parts.len());
    for (labels, mut samples) in parts {
        samples.retain(|sample| sample.t >= mint && sample.t <= maxt);
        samples.sort_by_key(|sample| sample.t);
        samples.dedup_by_key(|sample| sample.t);
        match out.last_mut() {
            Some(last) if last.0 == labels => {
                let earlier = std::mem::take(&mut last.1);
                last.1 = merge_samples(earlier, samples);
            }
            _ => out.push((labels, samples)),
        }
    }
    out.into_iter().filter(|(_, samples)| !samples.is_empty()).map(|(l, s)| Series::from_samples(l, s)).collect()
}

/// Union of two time-ordered sample lists; `a` wins on equal timestamps.
fn merge_samples(a: Vec<Sample>, b: Vec<Sample>) -> Vec<Sample> {
    if b.is_empty() {
        return a;
    }
    if a.is_empty() {
        return b;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].t.cmp(&b[j].t) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    fn series(name: &str, samples: &[(i64, f64)]) -> Series {
        Series::from_samples(
            Labels::from_pairs([("__name__", name)]),
            samples.iter().map(|&(t, v)| Sample { t, v }).collect(),
        )
    }

    #[test]
    fn equal_labels_merge_by_timestamp_with_local_winning() {
        let local = vec![series("a", &[(1, 1.0), (3, 3.0)]), series("c", &[(1, 1.0)])];
        let remote = vec![series("a", &[(0, 0.5), (3, 99.0), (4, 4.0)]), series("b", &[(2, 2.0)])];
        let merged = merge_sorted(local, remote);
        assert_eq!(
            merged,
            vec![
                series("a", &[(0, 0.5), (1, 1.0), (3, 3.0), (4, 4.0)]),
                series("b", &[(2, 2.0)]),
                series("c", &[(1, 1.0)]),
            ]
        );
    }

    #[test]
    fn normalize_sorts_and_joins_parts_of_a_series() {
        let parts = vec![series("b", &[(5, 5.0)]), series("a", &[(2, 2.0), (1, 1.0)]), series("b", &[(4, 4.0)])];
        assert_eq!(
            normalize(parts, 0, 10),
            vec![series("a", &[(1, 1.0), (2, 2.0)]), series("b", &[(4, 4.0), (5, 5.0)])]
        );
    }
}
