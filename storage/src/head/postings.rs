//! The head's postings index (upstream `tsdb/index/postings.go` `MemPostings`): label name →
//! value → ascending series refs, plus the list of all refs.
//! Invariant: every list is sorted ascending and free of duplicates, so intersections and
//! differences are linear merges.

use std::collections::HashMap;

use crate::matcher::{MatchOp, Matcher};

use super::symbols::Symbols;

type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Postings keyed by interned name and value symbols.
#[derive(Default)]
pub(crate) struct MemPostings {
    by_label: Map<u32, Map<u32, Vec<u64>>>,
    all: Vec<u64>,
}

fn insert_sorted(list: &mut Vec<u64>, series_ref: u64) {
    // Refs are handed out in increasing order, so this is almost always a push; two appenders
    // racing to create series may insert out of order.
    match list.last() {
        Some(&last) if last >= series_ref => {
            if let Err(pos) = list.binary_search(&series_ref) {
                list.insert(pos, series_ref);
            }
        }
        _ => list.push(series_ref),
    }
}

impl MemPostings {
    pub(crate) fn add(&mut self, series_ref: u64, pairs: &[u32]) {
        for pair in pairs.chunks_exact(2) {
            insert_sorted(self.by_label.entry(pair[0]).or_default().entry(pair[1]).or_default(), series_ref);
        }
        insert_sorted(&mut self.all, series_ref);
    }

    /// Removes the series `dead` (ascending refs) whose symbol pairs are `pairs`; lists, values
    /// and names left empty go too. One pass per touched list, however many series go.
    pub(crate) fn delete(&mut self, dead: &[u64], pairs: impl IntoIterator<Item = (u32, u32)>) {
        let mut touched: Vec<(u32, u32)> = pairs.into_iter().collect();
        touched.sort_unstable();
        touched.dedup();
        let gone = |r: &u64| dead.binary_search(r).is_ok();
        for (name, value) in touched {
            let Some(values) = self.by_label.get_mut(&name) else { continue };
            if let Some(list) = values.get_mut(&value) {
                list.retain(|r| !gone(r));
                if list.is_empty() {
                    values.remove(&value);
                } else {
                    list.shrink_to_fit();
                }
            }
            if values.is_empty() {
                self.by_label.remove(&name);
            }
        }
        self.all.retain(|r| !gone(r));
    }

    /// Symbols of the label names in use.
    pub(crate) fn names(&self) -> impl Iterator<Item = u32> + '_ {
        self.by_label.keys().copied()
    }

    /// `(value symbol, refs)` of label `name`.
    pub(crate) fn lists(&self, name: u32) -> impl Iterator<Item = (u32, &[u64])> + '_ {
        self.by_label.get(&name).into_iter().flat_map(|values| values.iter().map(|(v, refs)| (*v, refs.as_slice())))
    }

    /// Symbols of the values of `name`.
    pub(crate) fn values(&self, name: u32) -> impl Iterator<Item = u32> + '_ {
        self.by_label.get(&name).into_iter().flat_map(|values| values.keys().copied())
    }

    /// Refs of series that have label `matcher.name` with a value for which `matcher.matches`
    /// equals `want`, ascending. A finite set (`a="x"`, `a=~"x|y"`) is looked up, not scanned.
    fn with_values(&self, symbols: &Symbols, matcher: &Matcher, want: bool) -> Vec<u64> {
        let Some(values) = symbols.get(&matcher.name).and_then(|name| self.by_label.get(&name)) else {
            return Vec::new();
        };
        let positive_op = matches!(matcher.op, MatchOp::Equal | MatchOp::Regex);
        let lists: Vec<&[u64]> = match matcher.set_matches() {
            // The set is what the positive form accepts: wanted for `=`/`=~`, rejected for `!=`/`!~`.
            Some(set) if want == positive_op => set
                .iter()
                .filter_map(|value| symbols.get(value))
                .filter_map(|sym| values.get(&sym))
                .map(Vec::as_slice)
                .collect(),
            _ => values
                .iter()
                .filter(|(value, _)| matcher.matches(symbols.resolve(**value)) == want)
                .map(|(_, refs)| refs.as_slice())
                .collect(),
        };
        union(&lists)
    }

    /// Refs of series satisfying every matcher, ascending (upstream `PostingsForMatchers`).
    /// Matchers that reject the empty value narrow by intersection; those that accept it are
    /// applied by removing the series whose value they reject, so absent labels pass.
    pub(crate) fn select(&self, symbols: &Symbols, matchers: &[Matcher]) -> Vec<u64> {
        let mut result: Option<Vec<u64>> = None;
        let mut subtract: Vec<Vec<u64>> = Vec::new();
        for matcher in matchers {
            if matcher.matches_empty() {
                // `a=~".*"` selects everything: nothing to remove.
                if matcher.op == MatchOp::Regex && matcher.matches_everything_positive() {
                    continue;
                }
                subtract.push(self.with_values(symbols, matcher, false));
                continue;
            }
            let refs = self.with_values(symbols, matcher, true);
            result = Some(match result {
                None => refs,
                Some(prev) => intersect(&prev, &refs),
            });
            if result.as_ref().is_some_and(Vec::is_empty) {
                return Vec::new();
            }
        }
        let mut result = result.unwrap_or_else(|| self.all.clone());
        for refs in subtract {
            result = difference(&result, &refs);
        }
        result
    }

    /// Heap bytes of the lists and maps.
    pub(crate) fn allocated_bytes(&self) -> usize {
        let lists: usize =
            self.by_label.values().flat_map(|values| values.values()).map(|refs| refs.capacity() * 8 + 24 + 8).sum();
        lists + self.all.capacity() * 8 + self.by_label.len() * 48
    }
}

/// Sorted union of sorted lists.
pub(crate) fn union(lists: &[&[u64]]) -> Vec<u64> {
    match lists {
        [] => Vec::new(),
        [one] => one.to_vec(),
        _ => {
            let mut out: Vec<u64> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

/// Sorted intersection of two sorted lists.
pub(crate) fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// `a` without the elements of `b`, both sorted.
pub(crate) fn difference(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut j = 0;
    let mut out = Vec::with_capacity(a.len());
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j < b.len() && b[j] == x {
            continue;
        }
        out.push(x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        #[test]
        fn set_operations_match_btreeset(a in prop::collection::btree_set(0u64..200, 0..80),
                                         b in prop::collection::btree_set(0u64..200, 0..80)) {
            let va: Vec<u64> = a.iter().copied().collect();
            let vb: Vec<u64> = b.iter().copied().collect();
            prop_assert_eq!(intersect(&va, &vb), a.intersection(&b).copied().collect::<Vec<_>>());
            prop_assert_eq!(difference(&va, &vb), a.difference(&b).copied().collect::<Vec<_>>());
            prop_assert_eq!(union(&[&va, &vb]), a.union(&b).copied().collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>());
        }
    }
}
