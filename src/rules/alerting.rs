//! Alerting rules (upstream `rules/alerting.go`): each evaluation turns the expression's result
//! into alerts that go inactive → pending → firing, held `for` a while and kept firing for
//! `keep_firing_for` after the condition clears; resolved alerts are kept (and re-sent) for 15
//! minutes. The `ALERTS` and `ALERTS_FOR_STATE` series record the state, the latter so a restart
//! can restore how long an alert has been pending.

use std::collections::BTreeMap;
use std::collections::HashMap;

use promlite_storage::{Labels, LabelsBuilder, METRIC_NAME};

use super::template::{AlertTemplateData, Templates};
use super::{RuleError, Sample};

/// Resolved alerts are kept, and sent again, this long (upstream `resolvedRetention`).
pub const RESOLVED_RETENTION_NS: i64 = 15 * 60 * NS_PER_SEC;
const NS_PER_SEC: i64 = 1_000_000_000;

/// The state of one alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AlertState {
    /// Resolved (kept for [`RESOLVED_RETENTION_NS`] after).
    Inactive,
    /// Active, not yet for `for`.
    Pending,
    /// Active for at least `for`.
    Firing,
}

impl AlertState {
    /// As the API and the `alertstate` label spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

/// One alert of a rule: one label set of the expression's result. Times are Unix nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The result's labels without `__name__`, the rule's labels, and `alertname`.
    pub labels: Labels,
    /// The rule's annotations, expanded.
    pub annotations: BTreeMap<String, String>,
    /// The expression's value at the last evaluation that had this alert.
    pub value: f64,
    /// The state.
    pub state: AlertState,
    /// When it became active (pending).
    pub active_at: i64,
    /// When it started firing.
    pub fired_at: Option<i64>,
    /// When it was resolved.
    pub resolved_at: Option<i64>,
    /// When it was last sent to Alertmanager.
    pub last_sent_at: Option<i64>,
    /// When the last sent notification expires.
    pub valid_until: Option<i64>,
    /// Since when it is kept firing after its condition cleared.
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Whether it is due to be sent at `ts` (upstream `needsSending`): a firing alert once per
    /// `resend_delay`, a resolved one until it has been sent after its resolution.
    pub fn needs_sending(&self, ts: i64, resend_delay_ns: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        let Some(last_sent) = self.last_sent_at else { return true };
        if self.resolved_at.is_some_and(|resolved| resolved > last_sent) {
            return true;
        }
        last_sent + resend_delay_ns <= ts
    }
}

/// An alert as handed to the notifier: Alertmanager's fields, times in Unix nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingAlert {
    /// Labels (external labels are added by the notifier).
    pub labels: Labels,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// When it started firing.
    pub starts_at: i64,
    /// When it was resolved, or when this notification stops being valid.
    pub ends_at: i64,
    /// A link to the expression on the server's graph page.
    pub generator_url: String,
}

/// An alerting rule and its alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    /// `alert`.
    pub name: String,
    /// `expr`.
    pub expr: String,
    /// `for`, nanoseconds.
    pub hold_ns: i64,
    /// `keep_firing_for`, nanoseconds.
    pub keep_firing_for_ns: i64,
    /// The group's and the rule's labels (templates), the rule's winning.
    pub labels: BTreeMap<String, String>,
    /// `annotations` (templates).
    pub annotations: BTreeMap<String, String>,
    /// Alerts by label set.
    pub active: HashMap<Labels, Alert>,
    /// Whether `ALERTS` and `ALERTS_FOR_STATE` are written: only once the `for` state has been
    /// restored after a start, so a restart does not write a shorter `ALERTS_FOR_STATE`.
    pub restored: bool,
}

impl AlertingRule {
    /// Turns the expression's result at `ts` into alert states and returns the `ALERTS` and
    /// `ALERTS_FOR_STATE` samples to append (stamped `query_ts_ms`, the evaluation time minus
    /// the query offset).
    pub fn eval(
        &mut self,
        result: Vec<Sample>,
        ts: i64,
        query_ts_ms: i64,
        limit: u64,
        templates: &dyn Templates,
        data: &AlertTemplateData<'_>,
    ) -> Result<Vec<Sample>, RuleError> {
        let mut now_active: HashMap<Labels, Alert> = HashMap::with_capacity(result.len());
        for sample in result {
            let template_labels: BTreeMap<String, String> =
                sample.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
            let expand = |text: &str| {
                let data = AlertTemplateData { labels: &template_labels, value: sample.v, ..*data };
                match templates.expand(&self.name, text, &data, ts) {
                    Ok(out) => out,
                    Err(err) => {
                        tracing::warn!(alert = %self.name, error = %err, "expanding alert template failed");
                        format!("<error expanding template: {err}>")
                    }
                }
            };
            let mut builder = LabelsBuilder::new(&sample.labels);
            builder.del(METRIC_NAME);
            for (name, text) in &self.labels {
                builder.set(name.clone(), expand(text));
            }
            builder.set("alertname".to_owned(), self.name.clone());
            let annotations: BTreeMap<String, String> =
                self.annotations.iter().map(|(name, text)| (name.clone(), expand(text))).collect();
            let labels = builder.labels();
            if now_active.contains_key(&labels) {
                return Err(RuleError::DuplicateAlertLabelSet);
            }
            now_active.insert(
                labels.clone(),
                Alert {
                    labels,
                    annotations,
                    value: sample.v,
                    state: AlertState::Pending,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: None,
                    keep_firing_since: None,
                },
            );
        }
        for (labels, new) in &now_active {
            match self.active.get_mut(labels) {
                Some(alert) if alert.state != AlertState::Inactive => {
                    alert.value = new.value;
                    alert.annotations = new.annotations.clone();
                }
                _ => {
                    self.active.insert(labels.clone(), new.clone());
                }
            }
        }
        let mut out = Vec::new();
        let mut active_or_pending = 0u64;
        let mut gone = Vec::new();
        for (labels, alert) in &mut self.active {
            if !now_active.contains_key(labels) {
                let mut keep_firing = false;
                if alert.state == AlertState::Firing && self.keep_firing_for_ns > 0 {
                    let since = *alert.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < self.keep_firing_for_ns;
                }
                if alert.state == AlertState::Pending
                    || alert.resolved_at.is_some_and(|resolved| ts - resolved > RESOLVED_RETENTION_NS)
                {
                    gone.push(labels.clone());
                }
                if alert.state != AlertState::Inactive && !keep_firing {
                    alert.state = AlertState::Inactive;
                    alert.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                alert.keep_firing_since = None;
            }
            active_or_pending += 1;
            if alert.state == AlertState::Pending && ts - alert.active_at >= self.hold_ns {
                alert.state = AlertState::Firing;
                alert.fired_at = Some(ts);
            }
            // A restored active time may put a firing alert back into pending.
            if alert.state == AlertState::Firing && ts - alert.active_at < self.hold_ns {
                alert.state = AlertState::Pending;
                alert.fired_at = None;
                alert.last_sent_at = None;
                alert.keep_firing_since = None;
            }
            if self.restored {
                out.push(alerts_sample(alert, query_ts_ms));
                out.push(for_state_sample(alert, query_ts_ms));
            }
        }
        for labels in gone {
            self.active.remove(&labels);
        }
        if limit > 0 && active_or_pending > limit {
            self.active.clear();
            return Err(RuleError::Limit(format!("exceeded limit of {limit} with {active_or_pending} alerts")));
        }
        Ok(out)
    }

    /// The alerts due at `ts`, marked sent (upstream `sendAlerts`): firing and recently
    /// resolved ones, valid for four resend delays or evaluation intervals.
    pub fn due_alerts(
        &mut self,
        ts: i64,
        resend_delay_ns: i64,
        interval_ns: i64,
        external_url: &str,
    ) -> Vec<OutgoingAlert> {
        let mut out = Vec::new();
        for alert in self.active.values_mut() {
            if !alert.needs_sending(ts, resend_delay_ns) {
                continue;
            }
            alert.last_sent_at = Some(ts);
            // Saturating: Go wraps, and an evaluation near 2262 (long unit tests) must not panic.
            let valid_until = ts.saturating_add(resend_delay_ns.max(interval_ns).saturating_mul(4));
            alert.valid_until = Some(valid_until);
            out.push(OutgoingAlert {
                labels: alert.labels.clone(),
                annotations: alert.annotations.clone(),
                starts_at: alert.fired_at.unwrap_or(alert.active_at),
                ends_at: alert.resolved_at.unwrap_or(valid_until),
                generator_url: generator_url(external_url, &self.expr),
            });
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// The rule's state: its worst alert's (firing over pending over inactive).
    pub fn state(&self) -> AlertState {
        self.active.values().map(|a| a.state).max().unwrap_or(AlertState::Inactive)
    }
}

/// `ALERTS{alertname, alertstate, ...} 1`.
fn alerts_sample(alert: &Alert, t: i64) -> Sample {
    let mut builder = LabelsBuilder::new(&alert.labels);
    builder.set(METRIC_NAME.to_owned(), "ALERTS".to_owned());
    builder.set("alertstate".to_owned(), alert.state.as_str().to_owned());
    Sample { labels: builder.labels(), t, v: 1.0 }
}

/// `ALERTS_FOR_STATE{alertname, ...}` = when the alert became active, Unix seconds.
fn for_state_sample(alert: &Alert, t: i64) -> Sample {
    let mut builder = LabelsBuilder::new(&alert.labels);
    builder.set(METRIC_NAME.to_owned(), "ALERTS_FOR_STATE".to_owned());
    Sample { labels: builder.labels(), t, v: alert.active_at.div_euclid(NS_PER_SEC) as f64 }
}

/// `<external URL>/graph?g0.expr=<expr>&g0.tab=1`, as upstream's `strutil.TableLinkForExpression`.
pub fn generator_url(external_url: &str, expr: &str) -> String {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("g0.expr", expr)
        .append_pair("g0.tab", "1")
        .finish();
    format!("{}/graph?{query}", external_url.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::template::Verbatim;

    const S: i64 = NS_PER_SEC;

    fn no_query(_: &str, _: i64) -> Result<Vec<Sample>, String> {
        Ok(Vec::new())
    }

    fn rule(hold_s: i64, keep_s: i64) -> AlertingRule {
        AlertingRule {
            name: "Down".into(),
            expr: "up == 0".into(),
            hold_ns: hold_s * S,
            keep_firing_for_ns: keep_s * S,
            labels: BTreeMap::from([("severity".into(), "page".into())]),
            annotations: BTreeMap::new(),
            active: HashMap::new(),
            restored: true,
        }
    }

    fn result(instances: &[&str]) -> Vec<Sample> {
        instances
            .iter()
            .map(|i| Sample { labels: Labels::from_pairs([("__name__", "up"), ("instance", *i)]), t: 0, v: 0.0 })
            .collect()
    }

    const NO_LABELS: &BTreeMap<String, String> = &BTreeMap::new();

    /// Template data without labels or a query: the state machine does not depend on them.
    fn data() -> AlertTemplateData<'static> {
        AlertTemplateData {
            labels: NO_LABELS,
            external_labels: NO_LABELS,
            external_url: "",
            value: 0.0,
            query: &no_query,
        }
    }

    fn eval(rule: &mut AlertingRule, instances: &[&str], ts_s: i64) -> Vec<Sample> {
        rule.eval(result(instances), ts_s * S, ts_s * 1000, 0, &Verbatim, &data()).unwrap()
    }

    fn states(rule: &AlertingRule) -> Vec<(String, AlertState)> {
        let mut out: Vec<_> = rule.active.values().map(|a| (a.labels.get("instance").to_owned(), a.state)).collect();
        out.sort();
        out
    }

    #[test]
    fn alerts_pend_for_their_hold_then_fire_then_resolve() {
        let mut r = rule(60, 0);
        let samples = eval(&mut r, &["a"], 0);
        assert_eq!(states(&r), vec![("a".into(), AlertState::Pending)]);
        // ALERTS{alertstate="pending"} and ALERTS_FOR_STATE = active time in seconds.
        assert_eq!(samples[0].labels.get("alertstate"), "pending");
        assert_eq!(samples[0].labels.get("severity"), "page");
        assert_eq!((samples[1].labels.get(METRIC_NAME), samples[1].v), ("ALERTS_FOR_STATE", 0.0));
        eval(&mut r, &["a"], 30);
        assert_eq!(states(&r), vec![("a".into(), AlertState::Pending)]);
        let samples = eval(&mut r, &["a"], 60);
        assert_eq!(states(&r), vec![("a".into(), AlertState::Firing)]);
        assert_eq!(samples[0].labels.get("alertstate"), "firing");
        let samples = eval(&mut r, &[], 90);
        assert!(samples.is_empty());
        assert_eq!(states(&r), vec![("a".into(), AlertState::Inactive)]);
        assert_eq!(r.active.values().next().unwrap().resolved_at, Some(90 * S));
        // Kept 15 minutes after resolution, then forgotten.
        eval(&mut r, &[], 90 + 15 * 60);
        assert_eq!(r.active.len(), 1);
        eval(&mut r, &[], 91 + 15 * 60);
        assert!(r.active.is_empty());
    }

    #[test]
    fn a_pending_alert_that_clears_is_forgotten_and_zero_for_fires_at_once() {
        let mut r = rule(60, 0);
        eval(&mut r, &["a"], 0);
        eval(&mut r, &[], 15);
        assert!(r.active.is_empty());
        let mut r = rule(0, 0);
        eval(&mut r, &["a", "b"], 0);
        assert_eq!(states(&r), vec![("a".into(), AlertState::Firing), ("b".into(), AlertState::Firing)]);
    }

    #[test]
    fn keep_firing_for_holds_a_firing_alert_after_its_condition_clears() {
        let mut r = rule(0, 60);
        eval(&mut r, &["a"], 0);
        eval(&mut r, &[], 30);
        assert_eq!(states(&r), vec![("a".into(), AlertState::Firing)]);
        assert_eq!(r.active.values().next().unwrap().keep_firing_since, Some(30 * S));
        eval(&mut r, &[], 89);
        assert_eq!(states(&r), vec![("a".into(), AlertState::Firing)]);
        eval(&mut r, &[], 90);
        assert_eq!(states(&r), vec![("a".into(), AlertState::Inactive)]);
    }

    #[test]
    fn notifications_are_resent_after_the_delay_and_once_after_resolution() {
        let mut r = rule(0, 0);
        eval(&mut r, &["a"], 0);
        let sent = r.due_alerts(0, 60 * S, 15 * S, "http://p:9090/");
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].starts_at, sent[0].ends_at), (0, 240 * S));
        assert_eq!(sent[0].generator_url, "http://p:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1");
        assert!(r.due_alerts(59 * S, 60 * S, 15 * S, "").is_empty());
        assert_eq!(r.due_alerts(60 * S, 60 * S, 15 * S, "").len(), 1);
        eval(&mut r, &[], 70);
        let resolved = r.due_alerts(70 * S, 60 * S, 15 * S, "");
        assert_eq!(resolved[0].ends_at, 70 * S);
        assert!(r.due_alerts(75 * S, 60 * S, 15 * S, "").is_empty());
    }

    #[test]
    fn the_limit_counts_active_alerts_and_duplicate_label_sets_are_an_error() {
        let mut r = rule(0, 0);
        let data = data();
        let err = r.eval(result(&["a", "b"]), 0, 0, 1, &Verbatim, &data).unwrap_err();
        assert_eq!(err.to_string(), "exceeded limit of 1 with 2 alerts");
        let mut twice = result(&["a"]);
        twice.push(Sample { labels: Labels::from_pairs([("__name__", "other"), ("instance", "a")]), t: 0, v: 1.0 });
        let err = r.eval(twice, 0, 0, 0, &Verbatim, &data).unwrap_err();
        assert!(matches!(err, RuleError::DuplicateAlertLabelSet));
    }
}
