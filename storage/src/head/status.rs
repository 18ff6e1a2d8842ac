//! Cardinality statistics of the head for `/api/v1/status/tsdb` (upstream `index.PostingsStats`
//! and `Head.Stats`), computed from the postings on demand.

use std::cmp::Reverse;
use std::sync::PoisonError;

use super::Head;
use crate::labels::METRIC_NAME;

/// The head's statistics, each list sorted by value, highest first, cut to the limit asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TsdbStatus {
    /// Series in the head.
    pub num_series: u64,
    /// Distinct label name/value pairs.
    pub num_label_pairs: u64,
    /// Chunks in the head.
    pub chunk_count: u64,
    /// Lowest timestamp, ms (`i64::MAX` when empty).
    pub min_time: i64,
    /// Highest timestamp, ms (`i64::MIN` when empty).
    pub max_time: i64,
    /// Series per `__name__` value.
    pub series_count_by_metric_name: Vec<(String, u64)>,
    /// Distinct values per label name.
    pub label_value_count_by_label_name: Vec<(String, u64)>,
    /// Bytes of all distinct values per label name.
    pub memory_in_bytes_by_label_name: Vec<(String, u64)>,
    /// Series per `name=value` pair.
    pub series_count_by_label_value_pair: Vec<(String, u64)>,
    /// promlite's estimate of head heap bytes per series (`promlite_tsdb_head_bytes_per_series`).
    pub head_bytes_per_series: f64,
}

fn top(mut items: Vec<(String, u64)>, limit: usize) -> Vec<(String, u64)> {
    items.sort_by(|a, b| (Reverse(a.1), &a.0).cmp(&(Reverse(b.1), &b.0)));
    items.truncate(limit);
    items
}

impl Head {
    /// Statistics with each list cut to `limit` entries.
    pub(crate) fn status(&self, limit: usize) -> TsdbStatus {
        let stats = self.stats();
        let bytes = self.allocated_bytes();
        let symbols = self.symbols.read().unwrap_or_else(PoisonError::into_inner);
        let postings = self.postings.read().unwrap_or_else(PoisonError::into_inner);
        let mut by_metric = Vec::new();
        let mut value_counts = Vec::new();
        let mut memory = Vec::new();
        let mut pairs = Vec::new();
        for name in postings.names() {
            let name_str = symbols.resolve(name);
            let (mut count, mut size) = (0u64, 0u64);
            for (value, refs) in postings.lists(name) {
                let value_str = symbols.resolve(value);
                count += 1;
                size += value_str.len() as u64;
                pairs.push((format!("{name_str}={value_str}"), refs.len() as u64));
                if name_str == METRIC_NAME {
                    by_metric.push((value_str.to_owned(), refs.len() as u64));
                }
            }
            value_counts.push((name_str.to_owned(), count));
            memory.push((name_str.to_owned(), size));
        }
        let num_label_pairs = pairs.len() as u64;
        TsdbStatus {
            num_series: stats.series,
            num_label_pairs,
            chunk_count: stats.chunks,
            min_time: stats.min_time,
            max_time: stats.max_time,
            series_count_by_metric_name: top(by_metric, limit),
            label_value_count_by_label_name: top(value_counts, limit),
            memory_in_bytes_by_label_name: top(memory, limit),
            series_count_by_label_value_pair: top(pairs, limit),
            head_bytes_per_series: if stats.series == 0 { 0.0 } else { bytes as f64 / stats.series as f64 },
        }
    }
}
