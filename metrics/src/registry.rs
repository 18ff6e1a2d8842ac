//! The process's one registry: every part registers its families and collectors here, and
//! `/metrics` writes them all.

use std::sync::{Arc, PoisonError, RwLock};

use crate::encode::Encoder;
use crate::family::{Family, Metric};
use crate::value::{Counter, Gauge};

/// Something that writes families at scrape time: a [`Family`] of instruments, or values read
/// from the state that owns them (the head's series count, the scrape pools' targets).
pub trait Collector: Send + Sync {
    /// Writes this collector's families.
    fn collect(&self, enc: &mut Encoder);
}

/// Every collector of the process, written in registration order.
#[derive(Default)]
pub struct Registry {
    collectors: RwLock<Vec<Arc<dyn Collector>>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a collector; it is written from the next [`Registry::encode`] on.
    pub fn register(&self, collector: Arc<dyn Collector>) {
        self.collectors.write().unwrap_or_else(PoisonError::into_inner).push(collector);
    }

    /// A new registered family of metrics of type `M`.
    pub fn family<M: Metric>(&self, name: &str, help: &str, labels: &[&'static str], options: M::Options) -> Family<M> {
        let family = Family::new(name, help, labels, options);
        self.register(family.collector());
        family
    }

    /// A new registered unlabelled counter.
    pub fn counter(&self, name: &str, help: &str) -> Arc<Counter> {
        self.family::<Counter>(name, help, &[], ()).with(&[])
    }

    /// A new registered unlabelled gauge.
    pub fn gauge(&self, name: &str, help: &str) -> Arc<Gauge> {
        self.family::<Gauge>(name, help, &[], ()).with(&[])
    }

    /// Every family in the text format.
    pub fn encode(&self) -> String {
        let collectors = self.collectors.read().unwrap_or_else(PoisonError::into_inner).clone();
        let mut enc = Encoder::new();
        for collector in collectors {
            collector.collect(&mut enc);
        }
        enc.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::MetricType;

    struct Head;

    impl Collector for Head {
        fn collect(&self, enc: &mut Encoder) {
            enc.single("head_series", "Series.", MetricType::Gauge, 7u64);
        }
    }

    #[test]
    fn families_and_collectors_are_written_in_registration_order() {
        let registry = Registry::new();
        let requests = registry.family::<Counter>("requests_total", "Requests.", &["handler", "code"], ());
        let up = registry.gauge("up", "Up.");
        registry.register(Arc::new(Head));
        let empty = registry.family::<Counter>("never_total", "Never.", &["x"], ());
        requests.with(&["/b", "200"]).inc();
        requests.with(&["/a", "500"]).inc_by(2.0);
        requests.with(&["/b", "200"]).inc();
        up.set(1.0);
        assert_eq!(
            registry.encode(),
            "# HELP requests_total Requests.\n# TYPE requests_total counter\n\
             requests_total{handler=\"/a\",code=\"500\"} 2\nrequests_total{handler=\"/b\",code=\"200\"} 2\n\
             # HELP up Up.\n# TYPE up gauge\nup 1\n\
             # HELP head_series Series.\n# TYPE head_series gauge\nhead_series 7\n"
        );
        empty.with(&["y"]);
        assert!(registry.encode().ends_with("# TYPE never_total counter\nnever_total{x=\"y\"} 0\n"));
        empty.remove(&["y"]);
        assert!(!registry.encode().contains("never_total"));
    }
}
