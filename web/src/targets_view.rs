//! The seam through which the web layer sees scraping and discovery: [`TargetsView`].
//!
//! `web` defines it and the server crate implements it, so `web` depends on neither the scrape
//! manager nor discovery. Everything crossing it is a plain snapshot: no locks held, no handles.

use std::time::{Duration, SystemTime};

use promlite_storage::Labels;

/// A target's health after its last scrape, as `/api/v1/targets` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetHealth {
    /// Not scraped yet.
    Unknown,
    /// The last scrape succeeded.
    Up,
    /// The last scrape failed.
    Down,
}

impl TargetHealth {
    /// `"unknown"`, `"up"` or `"down"`.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetHealth::Unknown => "unknown",
            TargetHealth::Up => "up",
            TargetHealth::Down => "down",
        }
    }
}

/// A target being scraped.
#[derive(Debug, Clone)]
pub struct ActiveTarget {
    /// Labels as discovered, before relabeling (`__meta_*` included).
    pub discovered_labels: Labels,
    /// Labels attached to every scraped series.
    pub labels: Labels,
    /// The job name.
    pub scrape_pool: String,
    /// The URL scraped, password included: the web layer redacts it (and `last_error`)
    /// before showing either.
    pub scrape_url: String,
    /// Health after the last scrape.
    pub health: TargetHealth,
    /// Why the last scrape failed; empty when it did not.
    pub last_error: String,
    /// When the last scrape started.
    pub last_scrape: Option<SystemTime>,
    /// How long the last scrape took.
    pub last_scrape_duration: Duration,
    /// The scrape interval.
    pub scrape_interval: Duration,
    /// The scrape timeout.
    pub scrape_timeout: Duration,
    /// What promlite had to work around in the last scrape (e.g. a wrong `Content-Type`).
    pub warning: Option<String>,
}

/// A discovered target that relabeling (or a bad address) dropped, and why.
#[derive(Debug, Clone)]
pub struct DroppedTarget {
    /// Labels as discovered.
    pub discovered_labels: Labels,
    /// The job name.
    pub scrape_pool: String,
    /// Why it is not scraped, in words a person can act on.
    pub reason: String,
}

/// One metric family's metadata as one target declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetMetadata {
    /// The target's labels.
    pub target: Labels,
    /// The metric family name.
    pub metric: String,
    /// `counter`, `gauge`, `histogram`, `summary`, `unknown`, ...
    pub kind: String,
    /// The HELP text.
    pub help: String,
    /// The UNIT, or empty.
    pub unit: String,
}

/// What the web layer may ask of the scrape manager.
pub trait TargetsView: Send + Sync {
    /// Every active target, grouped by pool in pool-name order.
    fn active_targets(&self) -> Vec<ActiveTarget>;
    /// Every dropped target, with its reason.
    fn dropped_targets(&self) -> Vec<DroppedTarget>;
    /// The names of all scrape pools (jobs), sorted.
    fn scrape_pools(&self) -> Vec<String>;
    /// Sentences explaining what discovery found for `scrape_pool`, for a person wondering why
    /// it has fewer targets than expected (errors, unsynced watches, selectors that match
    /// nothing). Empty when there is nothing to say.
    fn discovery_notes(&self, scrape_pool: &str) -> Vec<String>;
    /// Metric metadata of every active target, from its last successful scrape.
    fn metadata(&self) -> Vec<TargetMetadata>;
}
