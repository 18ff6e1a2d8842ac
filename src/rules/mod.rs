//! Recording and alerting rules (upstream `rules/`): rule files loaded and validated, groups
//! evaluated on their schedule, recording results and `ALERTS` series appended, alerts handed
//! to the notifier, and snapshots for the API.
//!
//! - `file`: rule files as written, validated as promtool validates them.
//! - `recording`, `alerting`: one rule's evaluation; the alert state machine.
//! - `group`: a group's evaluation (in order, with staleness) and its `for`-state restore.
//! - `manager`: loading and reloading groups (unchanged groups keep their state), scheduling,
//!   metrics, and the web layer's `RulesView`.
//! - `template`: the seam to the template language.
//! - `unittest`: `promlite test rules`, promtool's unit tests for rules.

mod alerting;
pub mod file;
mod group;
mod manager;
mod recording;
pub mod template;
pub mod unittest;

use std::collections::BTreeMap;
use std::sync::Arc;

use promlite_metrics::{Counter, Family, Gauge, Registry, Summary, SummaryOptions};
use promlite_promql::{Engine, QueryOptions, Value};
use promlite_storage::{Db, Labels};

pub use alerting::{Alert, AlertState, AlertingRule, OutgoingAlert};
pub use group::{Group, Health, Rule, RuleImpl};
pub use manager::{Notify, RuleManager, RuleOptions, load_rule_files};

/// One sample of a rule's result or output (labels, milliseconds, value).
pub type Sample = promlite_promql::InstantSample;

/// Why a rule's evaluation failed (its `lastError`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuleError {
    /// The query failed.
    #[error("{0}")]
    Query(String),
    /// The query returned a range vector or a string.
    #[error("rule result is not a vector or scalar")]
    NotVector,
    /// A recording rule made two series equal.
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateSeries,
    /// An alerting rule made two alerts equal.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlertLabelSet,
    /// More series or alerts than the group's `limit`.
    #[error("{0}")]
    Limit(String),
    /// Storing the result failed.
    #[error("{0}")]
    Append(String),
}

/// What every evaluation needs: storage, the engine, templates, and the settings of the
/// running config and flags. Rebuilt on each reload; an evaluation uses the one it started with.
pub struct EvalContext {
    /// The TSDB, read and appended to.
    pub db: Db,
    /// The PromQL engine.
    pub engine: Arc<Engine>,
    /// The template language.
    pub templates: Arc<dyn template::Templates>,
    /// `global.external_labels`.
    pub external_labels: BTreeMap<String, String>,
    /// `--web.external-url`.
    pub external_url: String,
    /// `--rules.alert.resend-delay`, nanoseconds.
    pub resend_delay_ns: i64,
    /// `--rules.alert.for-outage-tolerance`, nanoseconds.
    pub outage_tolerance_ns: i64,
    /// `--rules.alert.for-grace-period`, nanoseconds.
    pub grace_period_ns: i64,
    /// The rule metrics.
    pub metrics: Arc<RuleMetrics>,
}

impl EvalContext {
    /// Runs `expr` as an instant query at `t_ms`; a scalar becomes one sample without labels.
    pub fn query(&self, expr: &str, t_ms: i64) -> Result<Vec<Sample>, RuleError> {
        let result = self
            .engine
            .instant_query_with(&self.db, expr, t_ms, &QueryOptions::default())
            .map_err(|err| RuleError::Query(err.to_string()))?;
        match result.value {
            Value::Vector(vector) => Ok(vector),
            Value::Scalar { t, v } => Ok(vec![Sample { labels: Labels::empty(), t, v }]),
            Value::Matrix(_) | Value::String { .. } => Err(RuleError::NotVector),
        }
    }
}

/// `prometheus_rule_*`, by `rule_group` (`file;name`).
pub struct RuleMetrics {
    pub(crate) evaluations: Family<Counter>,
    pub(crate) evaluation_failures: Family<Counter>,
    pub(crate) group_interval: Family<Gauge>,
    pub(crate) group_last_duration: Family<Gauge>,
    pub(crate) group_last_evaluation: Family<Gauge>,
    pub(crate) group_last_samples: Family<Gauge>,
    pub(crate) group_rules: Family<Gauge>,
    pub(crate) iterations_missed: Family<Counter>,
    pub(crate) iterations: Family<Counter>,
    pub(crate) group_duration: Arc<Summary>,
    pub(crate) evaluation_duration: Arc<Summary>,
}

impl RuleMetrics {
    /// Registers the families in `registry`.
    pub fn new(registry: &Registry) -> RuleMetrics {
        let counter = |name: &str, help: &str| registry.family::<Counter>(name, help, &["rule_group"], ());
        let gauge = |name: &str, help: &str| registry.family::<Gauge>(name, help, &["rule_group"], ());
        let quantiles = SummaryOptions::quantiles(&[0.01, 0.05, 0.5, 0.9, 0.99]);
        RuleMetrics {
            evaluations: counter("prometheus_rule_evaluations_total", "The total number of rule evaluations."),
            evaluation_failures: counter(
                "prometheus_rule_evaluation_failures_total",
                "The total number of rule evaluation failures.",
            ),
            group_interval: gauge("prometheus_rule_group_interval_seconds", "The interval of a rule group."),
            group_last_duration: gauge(
                "prometheus_rule_group_last_duration_seconds",
                "The duration of the last rule group evaluation.",
            ),
            group_last_evaluation: gauge(
                "prometheus_rule_group_last_evaluation_timestamp_seconds",
                "The timestamp of the last rule group evaluation in seconds.",
            ),
            group_last_samples: gauge(
                "prometheus_rule_group_last_evaluation_samples",
                "The number of samples returned during the last rule group evaluation.",
            ),
            group_rules: gauge("prometheus_rule_group_rules", "The number of rules."),
            iterations_missed: counter(
                "prometheus_rule_group_iterations_missed_total",
                "The total number of rule group evaluations missed due to slow rule group evaluation.",
            ),
            iterations: counter(
                "prometheus_rule_group_iterations_total",
                "The total number of scheduled rule group evaluations, whether executed or missed.",
            ),
            group_duration: registry
                .family::<Summary>(
                    "prometheus_rule_group_duration_seconds",
                    "The duration of rule group evaluations.",
                    &[],
                    quantiles.clone(),
                )
                .with(&[]),
            evaluation_duration: registry
                .family::<Summary>(
                    "prometheus_rule_evaluation_duration_seconds",
                    "The duration for a rule to execute.",
                    &[],
                    quantiles,
                )
                .with(&[]),
        }
    }

    /// Forgets the families of a group that is gone.
    fn forget(&self, key: &str) {
        for family in [&self.evaluations, &self.evaluation_failures, &self.iterations_missed, &self.iterations] {
            family.remove(&[key]);
        }
        for family in [
            &self.group_interval,
            &self.group_last_duration,
            &self.group_last_evaluation,
            &self.group_last_samples,
            &self.group_rules,
        ] {
            family.remove(&[key]);
        }
    }
}
