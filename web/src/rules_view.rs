//! What the web layer sees of the rule manager: plain snapshots of rule groups, rules and
//! alerts for `/api/v1/rules` and `/api/v1/alerts`.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// A rule group as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroupSnapshot {
    /// `name`.
    pub name: String,
    /// The rule file.
    pub file: String,
    /// Evaluation interval, seconds.
    pub interval_seconds: f64,
    /// `limit` (0: none).
    pub limit: u64,
    /// The rules, in order.
    pub rules: Vec<RuleSnapshot>,
    /// How long the last evaluation took, seconds.
    pub evaluation_seconds: f64,
    /// When the last evaluation ran.
    pub last_evaluation: Option<SystemTime>,
}

/// A rule as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSnapshot {
    /// `record` or `alert`.
    pub name: String,
    /// `expr`.
    pub query: String,
    /// The rule's labels (the group's included).
    pub labels: BTreeMap<String, String>,
    /// `ok`, `err` or `unknown`.
    pub health: &'static str,
    /// The last evaluation's error, empty when it worked.
    pub last_error: String,
    /// How long its last evaluation took, seconds.
    pub evaluation_seconds: f64,
    /// When it was last evaluated.
    pub last_evaluation: Option<SystemTime>,
    /// What only alerting rules have; `None` for a recording rule.
    pub alerting: Option<AlertingSnapshot>,
}

/// The parts of an alerting rule a recording rule lacks.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertingSnapshot {
    /// `inactive`, `pending` or `firing`: its worst alert's state.
    pub state: &'static str,
    /// `for`, seconds.
    pub duration_seconds: f64,
    /// `keep_firing_for`, seconds.
    pub keep_firing_for_seconds: f64,
    /// `annotations` as written.
    pub annotations: BTreeMap<String, String>,
    /// Its pending and firing alerts.
    pub alerts: Vec<AlertSnapshot>,
}

/// An active (pending or firing) alert.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertSnapshot {
    /// Labels, `alertname` included.
    pub labels: BTreeMap<String, String>,
    /// Annotations, expanded.
    pub annotations: BTreeMap<String, String>,
    /// `pending` or `firing`.
    pub state: &'static str,
    /// When it became active.
    pub active_at: SystemTime,
    /// Since when it is kept firing after its condition cleared.
    pub keep_firing_since: Option<SystemTime>,
    /// The expression's value at the last evaluation.
    pub value: f64,
}

/// What the web layer may ask of the rule manager.
pub trait RulesView: Send + Sync {
    /// Every rule group, sorted by file, then name.
    fn rule_groups(&self) -> Vec<RuleGroupSnapshot>;
}

/// No rules: for servers and tests without a rule manager.
pub struct NoRules;

impl RulesView for NoRules {
    fn rule_groups(&self) -> Vec<RuleGroupSnapshot> {
        Vec::new()
    }
}
