//! A rule group (upstream `rules/group.go`): its rules evaluated in order at each of its
//! evaluation times, each rule's result appended (so later rules see earlier results of the same
//! evaluation), staleness markers for series a rule stopped producing, and the `for` state of
//! alerts restored from `ALERTS_FOR_STATE` after a start.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use promlite_storage::{Labels, MatchOp, Matcher, STALE_NAN, is_stale_nan};

use super::alerting::{AlertingRule, OutgoingAlert};
use super::file::{GroupSpec, RuleKind};
use super::recording::RecordingRule;
use super::template::AlertTemplateData;
use super::{EvalContext, RuleError, Sample};

const NS_PER_MS: i64 = 1_000_000;

/// A rule of a group and how its last evaluation went.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule.
    pub kind: RuleImpl,
    /// The expression as Prometheus prints a parsed one (`rule.Query().String()`), for the API.
    pub query: String,
    /// `None` before the first evaluation; the error of the last one.
    pub health: Health,
    /// When it was last evaluated (wall clock), and how long that took.
    pub last_evaluation: Option<SystemTime>,
    /// How long the last evaluation took.
    pub evaluation_time: Duration,
    /// The series its last successful evaluation wrote.
    previous: HashSet<Labels>,
}

/// A recording or an alerting rule.
#[derive(Debug, Clone)]
pub enum RuleImpl {
    /// `record`.
    Recording(RecordingRule),
    /// `alert`.
    Alerting(AlertingRule),
}

impl RuleImpl {
    /// `record` or `alert`.
    pub fn name(&self) -> &str {
        match self {
            RuleImpl::Recording(r) => &r.name,
            RuleImpl::Alerting(r) => &r.name,
        }
    }

    /// `expr`.
    pub fn expr(&self) -> &str {
        match self {
            RuleImpl::Recording(r) => &r.expr,
            RuleImpl::Alerting(r) => &r.expr,
        }
    }
}

/// A rule's health, as the API says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// Not evaluated yet.
    Unknown,
    /// The last evaluation worked.
    Ok,
    /// The last evaluation failed with this error.
    Err(String),
}

/// A rule group and its state.
#[derive(Debug, Clone)]
pub struct Group {
    /// The group as written (to tell whether a reload changed it).
    pub spec: GroupSpec,
    /// The file it is in.
    pub file: String,
    /// Its evaluation interval, nanoseconds.
    pub interval_ns: i64,
    /// Its query offset, nanoseconds.
    pub query_offset_ns: i64,
    /// The rules, in order.
    pub rules: Vec<Rule>,
    /// When the last evaluation ran (wall clock) and how long it took.
    pub last_evaluation: Option<SystemTime>,
    /// How long the last evaluation took.
    pub evaluation_time: Duration,
    /// Samples the last evaluation produced.
    pub last_samples: u64,
    /// Whether the `for` state is still to be restored (after the second evaluation).
    pub should_restore: bool,
}

impl Group {
    /// A new group from `spec` in `file`; `interval` and `query_offset` are the group's or the
    /// global defaults.
    pub fn new(spec: GroupSpec, file: &str, interval: Duration, query_offset: Duration, should_restore: bool) -> Group {
        let rules = spec
            .rules
            .iter()
            .map(|rule| {
                let mut labels = spec.labels.clone();
                labels.extend(rule.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                let kind = match &rule.kind {
                    RuleKind::Recording { record } => {
                        RuleImpl::Recording(RecordingRule { name: record.clone(), expr: rule.expr.clone(), labels })
                    }
                    RuleKind::Alerting { alert, hold, keep_firing_for, annotations } => {
                        RuleImpl::Alerting(AlertingRule {
                            name: alert.clone(),
                            expr: rule.expr.clone(),
                            hold_ns: duration_ns(*hold),
                            keep_firing_for_ns: duration_ns(*keep_firing_for),
                            labels,
                            annotations: annotations.clone(),
                            active: HashMap::new(),
                            restored: !should_restore,
                        })
                    }
                };
                // The file was validated, so the expression parses; the text is the fallback.
                let query = promlite_promql::parse(&rule.expr).map_or_else(|_| rule.expr.clone(), |e| e.to_string());
                Rule {
                    kind,
                    query,
                    health: Health::Unknown,
                    last_evaluation: None,
                    evaluation_time: Duration::ZERO,
                    previous: HashSet::new(),
                }
            })
            .collect();
        Group {
            spec,
            file: file.to_owned(),
            interval_ns: duration_ns(interval).max(1),
            query_offset_ns: duration_ns(query_offset),
            rules,
            last_evaluation: None,
            evaluation_time: Duration::ZERO,
            last_samples: 0,
            should_restore,
        }
    }

    /// The group's name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// `file;name`, the `rule_group` label of the rule metrics.
    pub fn key(&self) -> String {
        format!("{};{}", self.file, self.spec.name)
    }

    /// The group's evaluation time at or before `now` (Unix nanoseconds): the interval's grid
    /// shifted by a hash of the group's name and file, as upstream's `EvalTimestamp`, so groups
    /// spread over the interval and the same group evaluates at the same times as in Prometheus.
    pub fn eval_timestamp(&self, now: i64) -> i64 {
        let offset = (self.hash() % self.interval_ns as u64) as i64;
        let adjusted = now - offset;
        adjusted - adjusted.rem_euclid(self.interval_ns) + offset
    }

    /// Upstream's `labels.Labels{file, name}.Hash()`: xxHash64 over `name\xffvalue\xff` pairs.
    fn hash(&self) -> u64 {
        let mut bytes = Vec::with_capacity(self.file.len() + self.spec.name.len() + 12);
        for (name, value) in [("file", self.file.as_str()), ("name", self.spec.name.as_str())] {
            bytes.extend_from_slice(name.as_bytes());
            bytes.push(0xff);
            bytes.extend_from_slice(value.as_bytes());
            bytes.push(0xff);
        }
        xxhash_rust::xxh64::xxh64(&bytes, 0)
    }

    /// Takes the state of `old` (the same group before a reload): the series each rule wrote
    /// and the alerts of each alerting rule, matched by rule name and labels (upstream
    /// `CopyState`).
    pub fn copy_state(&mut self, old: &Group) {
        let mut by_name: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, rule) in old.rules.iter().enumerate() {
            by_name.entry((rule.kind.name().to_owned(), labels_key(&rule.kind))).or_default().push(i);
        }
        let mut used: HashMap<(String, String), usize> = HashMap::new();
        for rule in &mut self.rules {
            let key = (rule.kind.name().to_owned(), labels_key(&rule.kind));
            let Some(indices) = by_name.get(&key) else { continue };
            let n = used.entry(key).or_default();
            let Some(&i) = indices.get(*n) else { continue };
            *n += 1;
            let old_rule = &old.rules[i];
            rule.previous = old_rule.previous.clone();
            if let (RuleImpl::Alerting(new), RuleImpl::Alerting(old)) = (&mut rule.kind, &old_rule.kind) {
                new.active = old.active.clone();
                new.restored = old.restored;
            }
        }
        self.should_restore = self.should_restore && old.should_restore;
    }

    /// Evaluates every rule at `ts` (Unix nanoseconds) and returns the alerts to send.
    pub fn eval(&mut self, ctx: &EvalContext, ts: i64) -> Vec<OutgoingAlert> {
        let started = Instant::now();
        let query_ts_ms = (ts - self.query_offset_ns).div_euclid(NS_PER_MS);
        let key = self.key();
        let mut samples_total = 0u64;
        let mut outgoing = Vec::new();
        let limit = self.spec.limit;
        let interval_ns = self.interval_ns;
        for rule in &mut self.rules {
            let rule_started = Instant::now();
            ctx.metrics.evaluations.with(&[&key]).inc();
            let result = evaluate(ctx, &mut rule.kind, ts, query_ts_ms, limit);
            rule.last_evaluation = Some(SystemTime::now());
            let samples = match result {
                Ok(samples) => samples,
                Err(err) => {
                    tracing::warn!(group = %self.spec.name, file = %self.file, rule = %rule.kind.name(), error = %err, "evaluating rule failed");
                    ctx.metrics.evaluation_failures.with(&[&key]).inc();
                    rule.health = Health::Err(err.to_string());
                    rule.evaluation_time = rule_started.elapsed();
                    continue;
                }
            };
            samples_total += samples.len() as u64;
            if let RuleImpl::Alerting(alerting) = &mut rule.kind {
                outgoing.extend(alerting.due_alerts(ts, ctx.resend_delay_ns, interval_ns, &ctx.external_url));
            }
            match append(ctx, samples, &rule.previous, query_ts_ms) {
                Ok(written) => {
                    rule.previous = written;
                    rule.health = Health::Ok;
                }
                Err(err) => {
                    tracing::warn!(group = %self.spec.name, rule = %rule.kind.name(), error = %err, "rule sample appending failed");
                    ctx.metrics.evaluation_failures.with(&[&key]).inc();
                    rule.health = Health::Err(err.to_string());
                }
            }
            rule.evaluation_time = rule_started.elapsed();
        }
        self.last_evaluation = Some(SystemTime::now());
        self.evaluation_time = started.elapsed();
        self.last_samples = samples_total;
        outgoing
    }

    /// Restores how long each active alert has been pending from its `ALERTS_FOR_STATE` series
    /// (upstream `RestoreForState`): an alert that was pending when the server stopped goes on
    /// pending from where it was, shifted by the downtime, and never fires sooner than the grace
    /// period after the start.
    pub fn restore_for_state(&mut self, ctx: &EvalContext, now: i64) {
        let maxt = now.div_euclid(NS_PER_MS);
        let mint = (now - ctx.outage_tolerance_ns).div_euclid(NS_PER_MS);
        let querier = ctx.db.querier(mint, maxt);
        for rule in &mut self.rules {
            let RuleImpl::Alerting(alerting) = &mut rule.kind else { continue };
            let hold = alerting.hold_ns;
            if hold < ctx.grace_period_ns {
                alerting.restored = true;
                continue;
            }
            let matchers = [
                Matcher::new(MatchOp::Equal, promlite_storage::METRIC_NAME, "ALERTS_FOR_STATE").expect("literal"),
                Matcher::new(MatchOp::Equal, "alertname", alerting.name.clone()).expect("literal"),
            ];
            let mut last_by_labels: HashMap<Labels, (i64, f64)> = HashMap::new();
            for series in querier.select(&matchers) {
                if let Some(last) = series.samples().last() {
                    last_by_labels.insert(series.labels.without_metric_name(), (last.t, last.v));
                }
            }
            for alert in alerting.active.values_mut() {
                let Some(&(t, v)) = last_by_labels.get(&alert.labels) else { continue };
                if is_stale_nan(v) {
                    continue;
                }
                // Whole seconds, as upstream: ALERTS_FOR_STATE holds Unix seconds.
                let down_at = t.div_euclid(1000) * 1_000_000_000;
                let restored_active_at = (v as i64) * 1_000_000_000;
                let remaining = hold - (down_at - restored_active_at);
                alert.active_at = if remaining <= 0 {
                    restored_active_at
                } else if remaining < ctx.grace_period_ns {
                    now + ctx.grace_period_ns - hold
                } else {
                    restored_active_at + (now - down_at)
                };
            }
            alerting.restored = true;
        }
        self.should_restore = false;
    }

    /// Every series the group's rules last wrote, for the staleness markers of a removed group.
    pub fn written_series(&self) -> Vec<Labels> {
        self.rules.iter().flat_map(|r| r.previous.iter().cloned()).collect()
    }
}

/// A rule's labels as one comparable string (rules are matched by name and labels on reload).
fn labels_key(rule: &RuleImpl) -> String {
    let labels: &BTreeMap<String, String> = match rule {
        RuleImpl::Recording(r) => &r.labels,
        RuleImpl::Alerting(r) => &r.labels,
    };
    labels.iter().map(|(k, v)| format!("{k}\u{ff}{v}\u{ff}")).collect()
}

fn evaluate(
    ctx: &EvalContext,
    rule: &mut RuleImpl,
    ts: i64,
    query_ts_ms: i64,
    limit: u64,
) -> Result<Vec<Sample>, RuleError> {
    let result = ctx.query(rule.expr(), query_ts_ms)?;
    match rule {
        RuleImpl::Recording(recording) => recording.eval(result, limit),
        RuleImpl::Alerting(alerting) => {
            let query = |q: &str, t: i64| ctx.query(q, t).map_err(|err| err.to_string());
            let data = AlertTemplateData {
                labels: &BTreeMap::new(),
                external_labels: &ctx.external_labels,
                external_url: &ctx.external_url,
                value: 0.0,
                query: &query,
            };
            alerting.eval(result, ts, query_ts_ms, limit, ctx.templates.as_ref(), &data)
        }
    }
}

/// Appends a rule's samples, and staleness markers for the series of `previous` it no longer
/// writes; returns the series written. Samples the head refuses (out of order, duplicates) are
/// dropped and counted, as upstream drops them, but do not fail the rule.
fn append(
    ctx: &EvalContext,
    samples: Vec<Sample>,
    previous: &HashSet<Labels>,
    t: i64,
) -> Result<HashSet<Labels>, RuleError> {
    let mut appender = ctx.db.appender();
    let mut written: HashMap<promlite_storage::SeriesRef, Labels> = HashMap::with_capacity(samples.len());
    let mut refused = 0u64;
    for sample in samples {
        match appender.append_owned(sample.labels.clone(), sample.t, sample.v) {
            Ok(series_ref) => {
                written.insert(series_ref, sample.labels);
            }
            Err(err) => {
                refused += 1;
                tracing::debug!(series = %sample.labels, error = %err, "rule evaluation result discarded");
            }
        }
    }
    let returned: HashSet<&Labels> = written.values().collect();
    for gone in previous.iter().filter(|l| !returned.contains(l)) {
        // Refused when another rule writes the series now (out of order): expected, not logged.
        let _ = appender.append_owned(gone.clone(), t, STALE_NAN);
    }
    let rejected = appender.commit().map_err(|err| RuleError::Append(err.to_string()))?;
    for (series_ref, err) in rejected {
        if written.remove(&series_ref).is_some() {
            refused += 1;
            tracing::debug!(error = %err, "rule evaluation result discarded by the head");
        }
    }
    if refused > 0 {
        tracing::warn!(num_dropped = refused, "rule evaluation results discarded (out of order, too old or duplicate)");
    }
    Ok(written.into_values().collect())
}

fn duration_ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
