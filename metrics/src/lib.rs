//! promlite's own metrics, as `/metrics` serves them: one [`Registry`] for the whole process,
//! the instruments parts update ([`Counter`], [`Gauge`], [`Histogram`], [`Summary`], each
//! alone or in a labelled [`Family`]), [`Collector`]s for values read at scrape time, and the
//! Prometheus text format (version 0.0.4) they are written in.
//!
//! Names, help texts, label names, buckets and quantiles follow Prometheus's own, so its
//! dashboards and alerts (the prometheus-mixin's) work unchanged.
//!
//! Why not the `prometheus-client` crate: it has no summary, and Prometheus exposes its query
//! and scrape-interval timings as summaries that the standard dashboards read by `quantile`.

mod encode;
mod family;
mod histogram;
mod process;
mod registry;
mod summary;
mod value;

pub use encode::{CONTENT_TYPE, Encoder, FamilyEncoder, MetricType, Value};
pub use family::{Family, Metric};
pub use histogram::{Histogram, HistogramSnapshot, exponential_buckets};
pub use process::ProcessCollector;
pub use registry::{Collector, Registry};
pub use summary::{Summary, SummaryOptions, SummarySnapshot};
pub use value::{Counter, Gauge};
