//! A metric family: one name and help, a fixed list of label names, and one metric per
//! combination of label values, created on first use.

use std::collections::BTreeMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::encode::{Encoder, FamilyEncoder, MetricType};
use crate::registry::Collector;

/// What a [`Family`] holds one of per label-value combination.
pub trait Metric: Send + Sync + 'static {
    /// What every metric of a family is made with (a histogram's buckets, say).
    type Options: Send + Sync + 'static;
    /// The family's type.
    const TYPE: MetricType;
    /// A new metric, at zero.
    fn new(options: &Self::Options) -> Self;
    /// Writes this metric's samples, labelled `labels`.
    fn encode(&self, family: &mut FamilyEncoder<'_>, labels: &[(&str, &str)]);
}

/// A named family of metrics of type `M`. Cheap to clone; the clones share the metrics.
pub struct Family<M: Metric> {
    inner: Arc<Inner<M>>,
}

impl<M: Metric> std::fmt::Debug for Family<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Family").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

impl<M: Metric> Clone for Family<M> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

struct Inner<M: Metric> {
    name: String,
    help: String,
    label_names: Vec<&'static str>,
    options: M::Options,
    children: RwLock<BTreeMap<Vec<String>, Arc<M>>>,
}

impl<M: Metric> Family<M> {
    /// A family with these label names. An unlabelled family has its one metric from the
    /// start, so it is exposed (at zero) before anything happens, as client_golang's are.
    pub fn new(name: &str, help: &str, label_names: &[&'static str], options: M::Options) -> Self {
        let family = Self {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                help: help.to_owned(),
                label_names: label_names.to_vec(),
                options,
                children: RwLock::default(),
            }),
        };
        if label_names.is_empty() {
            family.with(&[]);
        }
        family
    }

    /// The metric of these label values (in the order of the label names), created at zero
    /// the first time.
    ///
    /// # Panics
    /// If the number of values is not the number of label names: a bug in the caller.
    pub fn with(&self, values: &[&str]) -> Arc<M> {
        assert_eq!(values.len(), self.inner.label_names.len(), "label values of {}", self.inner.name);
        // Callers on hot paths keep the returned metric rather than look it up each time.
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        if let Some(metric) = self.read().get(&key).cloned() {
            return metric;
        }
        let mut children = self.inner.children.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(children.entry(key).or_insert_with(|| Arc::new(M::new(&self.inner.options))))
    }

    /// Forgets the metric of these label values (a scrape pool that was removed, say).
    pub fn remove(&self, values: &[&str]) {
        let key: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        self.inner.children.write().unwrap_or_else(PoisonError::into_inner).remove(&key);
    }

    /// Keeps only the metrics whose label values `keep` accepts.
    pub fn retain(&self, mut keep: impl FnMut(&[String]) -> bool) {
        self.inner.children.write().unwrap_or_else(PoisonError::into_inner).retain(|key, _| keep(key));
    }

    /// This family as a [`Collector`], to register.
    pub fn collector(&self) -> Arc<dyn Collector> {
        Arc::clone(&self.inner) as Arc<dyn Collector>
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<String>, Arc<M>>> {
        self.inner.children.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<M: Metric> Collector for Inner<M> {
    fn collect(&self, enc: &mut Encoder) {
        let children = self.children.read().unwrap_or_else(PoisonError::into_inner);
        if children.is_empty() {
            return;
        }
        let mut family = enc.family(&self.name, &self.help, M::TYPE);
        let mut labels: Vec<(&str, &str)> = Vec::with_capacity(self.label_names.len());
        for (values, metric) in children.iter() {
            labels.clear();
            labels.extend(self.label_names.iter().copied().zip(values.iter().map(String::as_str)));
            metric.encode(&mut family, &labels);
        }
    }
}
