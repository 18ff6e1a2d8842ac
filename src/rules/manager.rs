//! The rule manager (upstream `rules/manager.go`): loads the config's rule files, runs one task
//! per group on the group's schedule, and on reload keeps unchanged groups as they are, gives
//! changed ones the state of the old (alerts, written series), and stops removed ones, marking
//! their series stale two intervals later (so a renamed rule can take them over first).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use promlite_metrics::Registry;
use promlite_promql::Engine;
use promlite_storage::{Db, STALE_NAN};
use promlite_web::{AlertSnapshot, AlertingSnapshot, RuleGroupSnapshot, RuleSnapshot, RulesView};

use super::alerting::{AlertState, OutgoingAlert};
use super::file::{self, GroupSpec, RuleFileError};
use super::group::{Group, Health, RuleImpl};
use super::template::Templates;
use super::{EvalContext, RuleMetrics};
use crate::config::Config;

/// Where alerts go: the notifier.
pub trait Notify: Send + Sync {
    /// Queues `alerts` for every Alertmanager.
    fn send(&self, alerts: Vec<OutgoingAlert>);
}

/// Settings from flags.
#[derive(Debug, Clone)]
pub struct RuleOptions {
    /// `--web.external-url`.
    pub external_url: String,
    /// `--rules.alert.resend-delay`.
    pub resend_delay: Duration,
    /// `--rules.alert.for-outage-tolerance`.
    pub outage_tolerance: Duration,
    /// `--rules.alert.for-grace-period`.
    pub grace_period: Duration,
}

/// Runs the rule groups of the config's rule files.
pub struct RuleManager {
    db: Db,
    engine: Arc<Engine>,
    templates: Arc<dyn Templates>,
    notify: Arc<dyn Notify>,
    options: RuleOptions,
    metrics: Arc<RuleMetrics>,
    context: RwLock<Arc<EvalContext>>,
    running: Mutex<Running>,
}

#[derive(Default)]
struct Running {
    groups: Vec<RunningGroup>,
    /// Whether a config has been applied: groups of later reloads do not restore `for` state
    /// (upstream's default, without `--rules.alert.restore-new-rule-groups`... not a flag in 3.14).
    applied: bool,
}

struct RunningGroup {
    group: Arc<Mutex<Group>>,
    /// What the API shows: taken when the group starts and after each evaluation, so a
    /// request never waits for an evaluation in progress (which may take up to the query
    /// timeout).
    shown: Arc<Mutex<RuleGroupSnapshot>>,
    task: tokio::task::AbortHandle,
}

impl Drop for RunningGroup {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuleManager {
    /// A manager with no groups yet; its metric families join `registry`.
    pub fn new(
        db: Db,
        engine: Arc<Engine>,
        templates: Arc<dyn Templates>,
        notify: Arc<dyn Notify>,
        options: RuleOptions,
        registry: &Registry,
    ) -> Arc<RuleManager> {
        let metrics = Arc::new(RuleMetrics::new(registry));
        let context = Arc::new(EvalContext {
            db: db.clone(),
            engine: Arc::clone(&engine),
            templates: Arc::clone(&templates),
            external_labels: BTreeMap::new(),
            external_url: options.external_url.clone(),
            resend_delay_ns: ns(options.resend_delay),
            outage_tolerance_ns: ns(options.outage_tolerance),
            grace_period_ns: ns(options.grace_period),
            metrics: Arc::clone(&metrics),
        });
        Arc::new(RuleManager {
            db,
            engine,
            templates,
            notify,
            options,
            metrics,
            context: RwLock::new(context),
            running: Mutex::default(),
        })
    }

    /// Loads every rule file of `config` and runs its groups. On any error nothing changes
    /// (the running groups go on) and every problem is returned. Must run inside a tokio
    /// runtime.
    pub fn apply_config(self: &Arc<Self>, config: &Config) -> Result<(), Vec<RuleFileError>> {
        let loaded = load_rule_files(&config.rule_files, self.templates.as_ref())?;
        let context = Arc::new(EvalContext {
            db: self.db.clone(),
            engine: Arc::clone(&self.engine),
            templates: Arc::clone(&self.templates),
            external_labels: config.global.external_label_pairs().into_iter().collect(),
            external_url: self.options.external_url.clone(),
            resend_delay_ns: ns(self.options.resend_delay),
            outage_tolerance_ns: ns(self.options.outage_tolerance),
            grace_period_ns: ns(self.options.grace_period),
            metrics: Arc::clone(&self.metrics),
        });
        *self.context.write().unwrap_or_else(PoisonError::into_inner) = context;
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let should_restore = !running.applied;
        running.applied = true;
        let mut old: Vec<RunningGroup> = std::mem::take(&mut running.groups);
        for (path, spec) in loaded {
            let interval = spec.interval.unwrap_or(config.global.evaluation_interval.0);
            let offset = spec.query_offset.unwrap_or(config.global.rule_query_offset.0);
            let mut group = Group::new(spec, &path, interval, offset, should_restore);
            let previous = old.iter().position(|r| {
                let g = r.group.lock().unwrap_or_else(PoisonError::into_inner);
                g.file == group.file && g.name() == group.name()
            });
            if let Some(i) = previous {
                let same = {
                    let g = old[i].group.lock().unwrap_or_else(PoisonError::into_inner);
                    g.spec == group.spec
                        && g.interval_ns == group.interval_ns
                        && g.query_offset_ns == group.query_offset_ns
                };
                if same {
                    running.groups.push(old.remove(i));
                    continue;
                }
                group.copy_state(&old[i].group.lock().unwrap_or_else(PoisonError::into_inner));
                // The replaced group's series are the new group's now: no staleness for them.
                let replaced = old.remove(i);
                replaced.task.abort();
            }
            running.groups.push(self.start(group));
        }
        for gone in old {
            self.retire(gone);
        }
        Ok(())
    }

    /// Stops every group (on shutdown: no staleness markers, as upstream).
    pub fn stop(&self) {
        self.running.lock().unwrap_or_else(PoisonError::into_inner).groups.clear();
    }

    fn start(self: &Arc<Self>, group: Group) -> RunningGroup {
        let key = group.key();
        self.metrics.group_interval.with(&[&key]).set(group.interval_ns as f64 / 1e9);
        // At zero from the start, as upstream's, so `increase()` over them has data.
        for family in [
            &self.metrics.evaluations,
            &self.metrics.evaluation_failures,
            &self.metrics.iterations_missed,
            &self.metrics.iterations,
        ] {
            family.with(&[&key]);
        }
        self.metrics.group_rules.with(&[&key]).set(group.rules.len() as f64);
        let shown = Arc::new(Mutex::new(snapshot(&group)));
        let group = Arc::new(Mutex::new(group));
        let task = tokio::spawn(run(Arc::downgrade(self), Arc::clone(&group), Arc::clone(&shown))).abort_handle();
        RunningGroup { group, shown, task }
    }

    /// Stops a removed group and marks its series stale two intervals later, unless something
    /// wrote them since (a stale marker older than a sample is refused by the head).
    fn retire(&self, gone: RunningGroup) {
        gone.task.abort();
        let group = gone.group.lock().unwrap_or_else(PoisonError::into_inner);
        self.metrics.forget(&group.key());
        let series = group.written_series();
        let wait = Duration::from_nanos(2 * group.interval_ns.max(0) as u64);
        drop(group);
        if series.is_empty() {
            return;
        }
        let stopped_ms = now_ns() / 1_000_000;
        let db = self.db.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let mut appender = db.appender();
            for labels in series {
                let _ = appender.append_owned(labels, stopped_ms, STALE_NAN);
            }
            if let Err(err) = appender.commit() {
                tracing::warn!(error = %err, "staleness markers for a removed rule group not stored");
            }
        });
    }

    fn context(&self) -> Arc<EvalContext> {
        Arc::clone(&self.context.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Loads and validates `patterns`' rule files; every group with its file, in order.
pub fn load_rule_files(
    patterns: &[String],
    templates: &dyn Templates,
) -> Result<Vec<(String, GroupSpec)>, Vec<RuleFileError>> {
    let files = file::expand_rule_files(patterns)
        .map_err(|message| vec![RuleFileError { path: patterns.join(","), position: None, rule: None, message }])?;
    let check = |name: &str, text: &str| templates.check(name, text);
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for path in files {
        match file::load(&path, &check) {
            Ok(loaded) => out.extend(loaded.groups.into_iter().map(|g| (path.clone(), g))),
            Err(mut errs) => errors.append(&mut errs),
        }
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

/// One group's schedule: first at its next evaluation time after the start, then every
/// interval; evaluations that could not run in time are counted as missed and skipped.
async fn run(manager: std::sync::Weak<RuleManager>, group: Arc<Mutex<Group>>, shown: Arc<Mutex<RuleGroupSnapshot>>) {
    let (interval, key) = {
        let g = group.lock().unwrap_or_else(PoisonError::into_inner);
        (g.interval_ns, g.key())
    };
    let mut ts = group.lock().unwrap_or_else(PoisonError::into_inner).eval_timestamp(now_ns()) + interval;
    let mut evaluations = 0u64;
    loop {
        let wait = ts - now_ns();
        if wait > 0 {
            tokio::time::sleep(Duration::from_nanos(wait as u64)).await;
        }
        let Some(alive) = manager.upgrade() else { return };
        let context = alive.context();
        let metrics = Arc::clone(&alive.metrics);
        let notify = Arc::clone(&alive.notify);
        drop(alive);
        let evaluated = Arc::clone(&group);
        let shown_now = Arc::clone(&shown);
        let outgoing = tokio::task::spawn_blocking(move || {
            let mut g = evaluated.lock().unwrap_or_else(PoisonError::into_inner);
            let outgoing = g.eval(&context, ts);
            evaluations += 1;
            // As upstream: restore after the second evaluation, once recording rules have
            // written what the alerts may depend on.
            if g.should_restore && evaluations >= 2 {
                g.restore_for_state(&context, now_ns());
            }
            let key = g.key();
            metrics.group_duration.observe(g.evaluation_time.as_secs_f64());
            metrics.group_last_duration.with(&[&key]).set(g.evaluation_time.as_secs_f64());
            metrics.group_last_evaluation.with(&[&key]).set(ts as f64 / 1e9);
            metrics.group_last_samples.with(&[&key]).set(g.last_samples as f64);
            for rule in &g.rules {
                metrics.evaluation_duration.observe(rule.evaluation_time.as_secs_f64());
            }
            *shown_now.lock().unwrap_or_else(PoisonError::into_inner) = snapshot(&g);
            (outgoing, evaluations)
        })
        .await;
        let Ok((outgoing, done)) = outgoing else { return };
        evaluations = done;
        if !outgoing.is_empty() {
            notify.send(outgoing);
        }
        let Some(alive) = manager.upgrade() else { return };
        alive.metrics.iterations.with(&[&key]).inc();
        let now = now_ns();
        let mut next = ts + interval;
        if now >= next + interval {
            let missed = (now - next) / interval;
            alive.metrics.iterations_missed.with(&[&key]).inc_by(missed as f64);
            alive.metrics.iterations.with(&[&key]).inc_by(missed as f64);
            next += missed * interval;
        }
        ts = next;
    }
}

impl RulesView for RuleManager {
    fn rule_groups(&self) -> Vec<RuleGroupSnapshot> {
        let running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let mut groups: Vec<RuleGroupSnapshot> =
            running.groups.iter().map(|r| r.shown.lock().unwrap_or_else(PoisonError::into_inner).clone()).collect();
        // By file, then name, as upstream's `RuleGroups`.
        groups.sort_by(|a, b| (&a.file, &a.name).cmp(&(&b.file, &b.name)));
        groups
    }
}

fn snapshot(group: &Group) -> RuleGroupSnapshot {
    let rules = group
        .rules
        .iter()
        .map(|rule| {
            let (health, last_error) = match &rule.health {
                Health::Unknown => ("unknown", String::new()),
                Health::Ok => ("ok", String::new()),
                Health::Err(err) => ("err", err.clone()),
            };
            let (labels, alerting) = match &rule.kind {
                RuleImpl::Recording(r) => (r.labels.clone(), None),
                RuleImpl::Alerting(a) => {
                    let mut alerts: Vec<AlertSnapshot> = a
                        .active
                        .values()
                        .filter(|alert| alert.state != AlertState::Inactive)
                        .map(|alert| AlertSnapshot {
                            labels: alert.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect(),
                            annotations: alert.annotations.clone(),
                            state: alert.state.as_str(),
                            active_at: system_time(alert.active_at),
                            keep_firing_since: alert.keep_firing_since.map(system_time),
                            value: alert.value,
                        })
                        .collect();
                    alerts.sort_by(|x, y| x.labels.cmp(&y.labels));
                    let alerting = AlertingSnapshot {
                        state: a.state().as_str(),
                        duration_seconds: a.hold_ns as f64 / 1e9,
                        keep_firing_for_seconds: a.keep_firing_for_ns as f64 / 1e9,
                        annotations: a.annotations.clone(),
                        alerts,
                    };
                    (a.labels.clone(), Some(alerting))
                }
            };
            RuleSnapshot {
                name: rule.kind.name().to_owned(),
                query: rule.query.clone(),
                labels,
                health,
                last_error,
                evaluation_seconds: rule.evaluation_time.as_secs_f64(),
                last_evaluation: rule.last_evaluation,
                alerting,
            }
        })
        .collect();
    RuleGroupSnapshot {
        name: group.name().to_owned(),
        file: group.file.clone(),
        interval_seconds: group.interval_ns as f64 / 1e9,
        limit: group.spec.limit,
        rules,
        evaluation_seconds: group.evaluation_time.as_secs_f64(),
        last_evaluation: group.last_evaluation,
    }
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

fn system_time(ns: i64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64)
}

fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}
