//! Running one test group as promtool runs it (upstream `cmd/promtool/unittest.go`
//! `testGroup.test`, with `promql/promqltest`'s lazy loader): a fresh TSDB in a temporary
//! directory; from the group's start, at every evaluation interval up to the largest
//! `eval_time`, the input samples up to that time are appended and every rule group is evaluated
//! once (in `group_eval_order`), and the alert tests due at that step are checked against the
//! firing alerts; then the PromQL tests run over everything written.
//!
//! Every failure is one text, worded as promtool words it. A rule that fails to evaluate ends
//! the group at that step. Nothing here prints, except `--debug`'s lines to the writer given.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use promlite_promql::{Engine, EngineOptions, Value};
use promlite_storage::{Db, Labels, Options};

use super::format::{
    LabelsAndAnnotations, alerts_string, format_float_e, go_duration, go_quote, indent_lines, labels_string,
};
use super::series::{parse_metric, parse_series_desc};
use super::test_file::TestGroup;
use crate::config::Duration;
use crate::rules::group::{Group, Health, RuleImpl};
use crate::rules::template::Templates;
use crate::rules::{AlertState, EvalContext, RuleMetrics};

const NS_PER_MS: i64 = 1_000_000;
const NS_PER_SEC: i64 = 1_000_000_000;

/// What every group of a test file shares.
pub struct Settings<'a> {
    /// The file's `evaluation_interval`, nanoseconds (never 0).
    pub eval_interval_ns: i64,
    /// Group name → its place in `group_eval_order`.
    pub group_order: &'a HashMap<String, usize>,
    /// The rule files, resolved and globbed.
    pub rule_files: &'a [String],
    /// `fuzzy_compare`.
    pub fuzzy_compare: bool,
    /// `--debug`: say when the group starts and ends, and dump every series at the end.
    pub debug: bool,
    /// The template language of alert labels and annotations.
    pub templates: &'a Arc<dyn Templates>,
}

/// Runs test group `test` (named `name` in debug output); returns its failures.
pub fn run_group(test: &TestGroup, name: &str, settings: &Settings<'_>, debug_out: &mut dyn Write) -> Vec<String> {
    let started = Instant::now();
    if settings.debug {
        let _ = writeln!(debug_out, "DEBUG: Starting test {name}");
    }
    let errors = run(test, settings, debug_out);
    if settings.debug {
        let took = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        let _ = writeln!(debug_out, "DEBUG: Test {name} finished, took {}", go_duration(took));
    }
    errors
}

/// A temporary directory, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let name =
            format!("promlite-test-rules-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        std::fs::create_dir(&path)?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One input series and how far it has been appended.
struct Input {
    labels: Labels,
    samples: Vec<(i64, f64)>,
    next: usize,
}

/// The input series as promqltest's `load` command reads them: promtool writes a `load`
/// command of `  SERIES VALUES` lines; lines are trimmed, a `#` line counts as empty, and the
/// command ends at the first empty line. A series given twice keeps its last values.
fn load_inputs(test: &TestGroup, interval_ns: i64) -> Result<Vec<Input>, String> {
    let mut script = String::from("load\n");
    for series in &test.input_series {
        script.push_str(&format!("  {} {}\n", series.series, series.values));
    }
    let mut inputs: Vec<Input> = Vec::new();
    for (line, text) in script.split('\n').enumerate().skip(1) {
        let text = text.trim();
        if text.is_empty() || text.starts_with('#') {
            break;
        }
        let (labels, values) = parse_series_desc(text, line).map_err(|err| err.to_string())?;
        let mut samples = Vec::with_capacity(values.len());
        for (i, value) in values.into_iter().enumerate() {
            let Some(v) = value else { continue };
            let t_ns = test.start_timestamp.saturating_add((i as i64).saturating_mul(interval_ns));
            samples.push((t_ns / NS_PER_MS, v));
        }
        match inputs.iter_mut().find(|input| input.labels == labels) {
            Some(input) => input.samples = samples,
            None => inputs.push(Input { labels, samples, next: 0 }),
        }
    }
    Ok(inputs)
}

/// Appends every input sample at or before `till_ms` not appended yet.
fn append_till(db: &Db, inputs: &mut [Input], till_ms: i64) -> Result<(), String> {
    let mut appender = db.appender();
    for input in inputs.iter_mut() {
        while let Some(&(t, v)) = input.samples.get(input.next) {
            if t > till_ms {
                break;
            }
            appender.append(&input.labels, t, v).map_err(|err| format!("{}: {err}", input.labels))?;
            input.next += 1;
        }
    }
    let rejected = appender.commit().map_err(|err| err.to_string())?;
    match rejected.into_iter().next() {
        Some((_, err)) => Err(err.to_string()),
        None => Ok(()),
    }
}

fn pairs(labels: &Labels) -> Vec<(String, String)> {
    labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect()
}

fn labels_text(labels: &Labels) -> String {
    labels_string(labels.iter().map(|l| (l.name.as_str(), l.value.as_str())))
}

fn ns(d: Duration) -> i64 {
    i64::try_from(d.as_std().as_nanos()).unwrap_or(i64::MAX)
}

fn run(test: &TestGroup, settings: &Settings<'_>, debug_out: &mut dyn Write) -> Vec<String> {
    let interval_ns = ns(test.interval);
    let mut inputs = match load_inputs(test, interval_ns) {
        Ok(inputs) => inputs,
        Err(err) => return vec![err],
    };
    let dir = match TempDir::new() {
        Ok(dir) => dir,
        Err(err) => return vec![format!("creating a temporary directory for the test TSDB: {err}")],
    };
    let db = match Db::open(&dir.0, Options { no_lockfile: true, ..Options::default() }) {
        Ok(db) => db,
        Err(err) => return vec![format!("opening the test TSDB in {}: {err}", dir.0.display())],
    };
    let mut groups = match load_groups(settings, test.interval) {
        Ok(groups) => groups,
        Err(errors) => return errors,
    };
    let engine = Arc::new(Engine::new(EngineOptions {
        // promqltest's lazy loader: 10000 samples, 100s, subqueries at the evaluation interval.
        lookback_delta_ms: 5 * 60 * 1000,
        max_samples: 10_000,
        timeout: std::time::Duration::from_secs(100),
        default_subquery_step_ms: settings.eval_interval_ns / NS_PER_MS,
    }));
    let ctx = EvalContext {
        db: db.clone(),
        engine: Arc::clone(&engine),
        templates: Arc::clone(settings.templates),
        external_labels: test.external_labels.clone(),
        external_url: test.external_url.clone(),
        resend_delay_ns: 60 * NS_PER_SEC,
        outage_tolerance_ns: 3600 * NS_PER_SEC,
        grace_period_ns: 600 * NS_PER_SEC,
        metrics: Arc::new(RuleMetrics::new(&promlite_metrics::Registry::new())),
    };
    let test_name = if test.name.is_empty() { String::new() } else { format!("    name: {},\n", test.name) };

    // The alert tests, by evaluation time.
    let mut alert_tests: BTreeMap<Duration, Vec<&super::test_file::AlertTestCase>> = BTreeMap::new();
    for alert in &test.alert_rule_test {
        if alert.alertname.is_empty() {
            let in_group = if test.name.is_empty() { String::new() } else { format!(" (in TestGroup {})", test.name) };
            return vec![format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                alert.eval_time
            )];
        }
        alert_tests.entry(alert.eval_time).or_default().push(alert);
    }
    let max_eval = test
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time)
        .chain(test.promql_expr_test.iter().map(|p| p.eval_time))
        .max()
        .unwrap_or(Duration::ZERO);
    let mint = test.start_timestamp;
    let maxt = mint.saturating_add(ns(max_eval));
    let step = settings.eval_interval_ns;

    let mut errors = Vec::new();
    let mut due = alert_tests.iter().peekable();
    let mut ts = mint;
    while ts <= maxt {
        let mut eval_errors = Vec::new();
        match append_till(&db, &mut inputs, ts / NS_PER_MS) {
            Err(err) => errors.push(err),
            Ok(()) => {
                for group in &mut groups {
                    group.eval(&ctx, ts);
                    for rule in &group.rules {
                        if let Health::Err(err) = &rule.health {
                            eval_errors.push(format!(
                                "    rule: {}, time: {}, err: {err}",
                                rule.kind.name(),
                                go_duration(ts)
                            ));
                        }
                    }
                }
            }
        }
        let failed = !eval_errors.is_empty();
        errors.extend(eval_errors);
        if failed {
            return errors;
        }
        // Alert tests at `ts <= eval_time < ts + interval` are checked against this evaluation.
        while let Some((eval_time, cases)) = due.next_if(|(t, _)| {
            let t = ns(**t);
            ts - mint <= t && t < ts.saturating_add(step) - mint
        }) {
            let names: BTreeSet<&str> = cases.iter().map(|c| c.alertname.as_str()).collect();
            let got = firing_alerts(&groups, &names);
            for case in cases {
                let mut got_alerts = got.get(case.alertname.as_str()).cloned().unwrap_or_default();
                let mut exp_alerts: Vec<LabelsAndAnnotations> = case
                    .exp_alerts
                    .iter()
                    .map(|a| {
                        let mut labels = a.exp_labels.clone().unwrap_or_default();
                        labels.insert("alertname".to_owned(), case.alertname.clone());
                        LabelsAndAnnotations {
                            labels: labels.into_iter().collect(),
                            annotations: a.exp_annotations.clone().unwrap_or_default().into_iter().collect(),
                        }
                    })
                    .collect();
                got_alerts.sort();
                exp_alerts.sort();
                if exp_alerts != got_alerts {
                    errors.push(format!(
                        "{test_name}    alertname: {}, time: {eval_time}, \n        exp:{}, \n        got:{}",
                        case.alertname,
                        indent_lines(&alerts_string(&exp_alerts), "            "),
                        indent_lines(&alerts_string(&got_alerts), "            "),
                    ));
                }
            }
        }
        ts = match ts.checked_add(step) {
            Some(next) => next,
            None => break,
        };
    }

    for case in &test.promql_expr_test {
        let at_ms = mint.saturating_add(ns(case.eval_time)) / NS_PER_MS;
        let quoted = go_quote(&case.expr);
        let got = match query(&engine, &db, &case.expr, at_ms) {
            Ok(got) => got,
            Err(err) => {
                errors.push(format!("    expr: {quoted}, time: {}, err: {err}", case.eval_time));
                continue;
            }
        };
        let mut exp = Vec::with_capacity(case.exp_samples.len());
        let mut bad = None;
        for sample in &case.exp_samples {
            let parsed = parse_metric(&sample.labels).map_err(|err| err.to_string()).and_then(|labels| {
                if sample.histogram.is_empty() {
                    Ok(labels)
                } else {
                    Err("native histograms are not supported by promlite yet".to_owned())
                }
            });
            match parsed {
                Ok(labels) => exp.push((labels, sample.value)),
                Err(err) => {
                    bad = Some(format!("labels {}: {err}", go_quote(&sample.labels)));
                    break;
                }
            }
        }
        if let Some(err) = bad {
            errors.push(format!("    expr: {quoted}, time: {}, err: {err}", case.eval_time));
            continue;
        }
        let mut got: Vec<(Labels, f64)> = got;
        exp.sort_by(|a, b| a.0.cmp(&b.0));
        got.sort_by(|a, b| a.0.cmp(&b.0));
        let same = exp.len() == got.len()
            && exp.iter().zip(&got).all(|(e, g)| e.0 == g.0 && floats_match(e.1, g.1, settings.fuzzy_compare));
        if !same {
            errors.push(format!(
                "    expr: {quoted}, time: {},\n        exp: {}\n        got: {}",
                case.eval_time,
                samples_string(&exp),
                samples_string(&got)
            ));
        }
    }

    if settings.debug {
        dump(&engine, &db, mint, ns(max_eval), debug_out);
    }
    errors
}

/// Loads the rule files' groups, ordered by `group_eval_order` (the groups it does not name
/// first, in file order, as if named first); the first file that does not load fails the test
/// group with its problems, as upstream's `LoadGroups`.
fn load_groups(settings: &Settings<'_>, interval: Duration) -> Result<Vec<Group>, Vec<String>> {
    let check = |name: &str, text: &str| settings.templates.check(name, text);
    let mut groups = Vec::new();
    for path in settings.rule_files {
        let file = crate::rules::file::load(path, &check)
            .map_err(|errors| errors.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        for spec in file.groups {
            let group_interval = spec.interval.unwrap_or(interval.as_std());
            let query_offset = spec.query_offset.unwrap_or_default();
            // Not restored: the unit test writes ALERTS from the first evaluation.
            groups.push(Group::new(spec, path, group_interval, query_offset, false));
        }
    }
    groups.sort_by_key(|g| settings.group_order.get(g.name()).copied().unwrap_or(0));
    Ok(groups)
}

/// The firing alerts of the alerting rules named in `names`, by name, over every group.
fn firing_alerts(groups: &[Group], names: &BTreeSet<&str>) -> HashMap<String, Vec<LabelsAndAnnotations>> {
    let mut got: HashMap<String, Vec<LabelsAndAnnotations>> = HashMap::new();
    for group in groups {
        for rule in &group.rules {
            let RuleImpl::Alerting(alerting) = &rule.kind else { continue };
            if !names.contains(alerting.name.as_str()) {
                continue;
            }
            let alerts = got.entry(alerting.name.clone()).or_default();
            for alert in alerting.active.values().filter(|a| a.state == AlertState::Firing) {
                alerts.push(LabelsAndAnnotations {
                    labels: pairs(&alert.labels),
                    annotations: alert.annotations.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                });
            }
        }
    }
    got
}

/// An instant query as promtool's `query`: a vector, or a scalar as one sample without labels.
fn query(engine: &Engine, db: &Db, expr: &str, at_ms: i64) -> Result<Vec<(Labels, f64)>, String> {
    let result = engine.instant_query(db, expr, at_ms).map_err(|err| err.to_string())?;
    match result.value {
        Value::Vector(vector) => Ok(vector.into_iter().map(|s| (s.labels, s.v)).collect()),
        Value::Scalar { v, .. } => Ok(vec![(Labels::empty(), v)]),
        Value::Matrix(_) | Value::String { .. } => Err("rule result is not a vector or scalar".to_owned()),
    }
}

/// Equal, or with `fuzzy_compare` one ULP apart; NaN never matches.
fn floats_match(expected: f64, got: f64, fuzzy: bool) -> bool {
    expected == got || fuzzy && (expected.next_down() == got || expected.next_up() == got)
}

/// promtool's `parsedSamplesString`: `nil`, or `{labels} 1E+00, ...`.
fn samples_string(samples: &[(Labels, f64)]) -> String {
    if samples.is_empty() {
        return "nil".to_owned();
    }
    samples.iter().map(|(l, v)| format!("{} {}", labels_text(l), format_float_e(*v))).collect::<Vec<_>>().join(", ")
}

/// `--debug`: every series written (input and rules) up to the last evaluation, rounded up to
/// the next whole second, as upstream dumps them.
fn dump(engine: &Engine, db: &Db, mint: i64, max_eval_ns: i64, out: &mut dyn Write) {
    let range_ns = (max_eval_ns + NS_PER_SEC) / NS_PER_SEC * NS_PER_SEC;
    let range = go_duration(range_ns);
    let expr = format!("{{__name__=~\".+\"}}[{range}]");
    let result = match engine.instant_query(db, &expr, mint.saturating_add(range_ns) / NS_PER_MS) {
        Ok(result) => result,
        Err(err) => {
            let _ = writeln!(out, "DEBUG: Failed query exec, expr: {}, err: {err}", go_quote(&expr));
            return;
        }
    };
    let Value::Matrix(mut matrix) = result.value else {
        let _ = writeln!(out, "DEBUG: Got unexpected type");
        return;
    };
    matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
    let text: Vec<String> = matrix
        .iter()
        .map(|series| {
            let points: Vec<String> =
                series.samples.iter().map(|s| format!("{} @[{}]", promlite_storage::format_go_f(s.v), s.t)).collect();
            format!("{} =>\n{}", labels_text(&series.labels), points.join("\n"))
        })
        .collect();
    let _ = writeln!(out, "DEBUG: Dump of all data (input_series and rules) at {range}:");
    let _ = writeln!(out, "{}", text.join("\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_compare_allows_one_ulp_only() {
        // cmd/promtool/testdata/rules_run_fuzzy.yml.
        assert!(floats_match(3.0, 2.9999999999999996, true));
        assert!(floats_match(3.0, 3.0000000000000004, true));
        assert!(!floats_match(3.0, 2.9999999999999987, true));
        assert!(!floats_match(3.0, 3.0000000000000013, true));
        assert!(!floats_match(3.0, 3.0000000000000004, false));
        assert!(!floats_match(f64::NAN, f64::NAN, true));
    }
}
