//! Label sets: the identity of a series (upstream `model/labels/labels.go`).
//!
//! A [`Labels`] is immutable and sorted by name, with unique names and no empty values, so two
//! sets with the same pairs compare, hash and print the same way. Building one goes through
//! [`LabelsBuilder`], which enforces that invariant.
//! A `Labels` owns its strings; the head keeps each distinct name and value once (interned as
//! `u32` symbols in `head/symbols.rs`) and builds a `Labels` only when a query asks for one.

use std::fmt;

/// The reserved label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";

/// One name/value pair.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    /// Label name.
    pub name: String,
    /// Label value, never empty inside a [`Labels`].
    pub value: String,
}

/// An immutable label set, sorted by name, names unique, values non-empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<Label>);

impl Labels {
    /// The empty set.
    pub fn empty() -> Labels {
        Labels(Vec::new())
    }

    /// Builds a set from pairs in any order; later duplicates win, empty values are dropped.
    pub fn from_pairs<N: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (N, V)>) -> Labels {
        let mut pairs: Vec<Label> =
            pairs.into_iter().map(|(name, value)| Label { name: name.into(), value: value.into() }).collect();
        // A later pair of the same name wins, as with `LabelsBuilder::set`: reversed, a stable
        // sort puts it first among its equals, and dedup keeps the first. n log n, where
        // setting one by one was n² (a remote-write series of 80k labels took seconds).
        pairs.reverse();
        pairs.sort_by(|a, b| a.name.cmp(&b.name));
        pairs.dedup_by(|later, earlier| later.name == earlier.name);
        pairs.retain(|l| !l.value.is_empty());
        Labels(pairs)
    }

    /// Wraps pairs the caller already holds sorted by name, unique, values non-empty (the head's
    /// own series, built from a set that went through [`LabelsBuilder`]).
    pub(crate) fn from_sorted(pairs: Vec<Label>) -> Labels {
        debug_assert!(pairs.windows(2).all(|w| w[0].name < w[1].name));
        Labels(pairs)
    }

    /// The value of `name`, or `""` when absent (Prometheus treats both the same).
    pub fn get(&self, name: &str) -> &str {
        match self.0.binary_search_by(|l| l.name.as_str().cmp(name)) {
            Ok(i) => &self.0[i].value,
            Err(_) => "",
        }
    }

    /// Whether `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.0.binary_search_by(|l| l.name.as_str().cmp(name)).is_ok()
    }

    /// The pairs in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set has no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A hash stable across processes and versions (xxh3 over `name\xffvalue\xff…`), fit to
    /// persist or to derive scrape offsets from.
    pub fn stable_hash(&self) -> u64 {
        let mut buf = Vec::with_capacity(self.0.iter().map(|l| l.name.len() + l.value.len() + 2).sum());
        for label in &self.0 {
            buf.extend_from_slice(label.name.as_bytes());
            buf.push(0xff);
            buf.extend_from_slice(label.value.as_bytes());
            buf.push(0xff);
        }
        xxhash_rust::xxh3::xxh3_64(&buf)
    }

    /// The set without `__name__`.
    pub fn without_metric_name(&self) -> Labels {
        Labels(self.0.iter().filter(|l| l.name != METRIC_NAME).cloned().collect())
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Prints like Prometheus: `name{a="1", b="2"}`, values Go-quoted.
impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.get(METRIC_NAME);
        f.write_str(name)?;
        f.write_str("{")?;
        let mut first = true;
        for label in self.0.iter().filter(|l| l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", label.name, label.value)?;
        }
        f.write_str("}")
    }
}

/// A label value escaped for the text exposition format: `\`, `"` and newline as `\\`, `\"`
/// and `\n`.
pub fn escape_label_value(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

/// Edits a label set: set and delete names, then take the sorted result.
#[derive(Debug, Clone)]
pub struct LabelsBuilder {
    pairs: Vec<Label>,
}

impl LabelsBuilder {
    /// Starts from `base`.
    pub fn new(base: &Labels) -> LabelsBuilder {
        LabelsBuilder { pairs: base.0.clone() }
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: String, value: String) -> &mut Self {
        match self.pairs.iter_mut().find(|l| l.name == name) {
            Some(label) => label.value = value,
            None => self.pairs.push(Label { name, value }),
        }
        self
    }

    /// Deletes `name` if present.
    pub fn del(&mut self, name: &str) -> &mut Self {
        self.pairs.retain(|l| l.name != name);
        self
    }

    /// The current value of `name`, or `""`.
    pub fn get(&self, name: &str) -> &str {
        self.pairs.iter().find(|l| l.name == name).map_or("", |l| l.value.as_str())
    }

    /// The sorted set, empty values removed.
    pub fn labels(&self) -> Labels {
        let mut pairs: Vec<Label> = self.pairs.iter().filter(|l| !l.value.is_empty()).cloned().collect();
        pairs.sort_by(|a, b| a.name.cmp(&b.name));
        Labels(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_printed_like_prometheus() {
        let labels =
            Labels::from_pairs([("job", "a"), ("__name__", "up"), ("instance", "x:1"), ("job", "b"), ("e", "")]);
        assert_eq!(labels.to_string(), r#"up{instance="x:1", job="b"}"#);
        assert_eq!(labels.get("job"), "b");
        assert_eq!(labels.get("e"), "");
        assert!(!labels.has("e"));
        assert_eq!(labels.len(), 3);
    }

    #[test]
    fn stable_hash_depends_on_pairs_not_insertion_order() {
        let a = Labels::from_pairs([("a", "1"), ("b", "2")]);
        let b = Labels::from_pairs([("b", "2"), ("a", "1")]);
        let c = Labels::from_pairs([("a", "12")]);
        assert_eq!(a.stable_hash(), b.stable_hash());
        assert_ne!(a.stable_hash(), c.stable_hash());
    }
}
