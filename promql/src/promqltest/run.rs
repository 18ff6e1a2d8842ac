//! Runs a parsed promqltest script against the engine, the way upstream's `promqltest` does:
//! every instant eval is also re-run as a range query (checking the middle step) and, unless
//! it uses a time-dependent function, with `@ <eval time>` injected into every selector and
//! subquery at five other evaluation times. Values match within upstream's relative epsilon
//! of 1e-6, and NaN matches NaN.
//!
//! Each eval ends [`Outcome::Passed`], [`Outcome::Failed`] with the reason, or
//! [`Outcome::Skipped`] with one of the reasons the issue allows (native histograms,
//! experimental features).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, UNIX_EPOCH};

use promlite_storage::{Db, Labels, LabelsBuilder, Options};
use promql_parser::parser::{AtModifier, Expr, VectorSelector};

use super::script::{Command, Eval, EvalKind, Expected, Load, MessageMatch};
use crate::parser::{parse, selector_matchers};
use crate::value::{InstantSample, QueryResult, Value};
use crate::{Engine, EngineOptions, QueryError};

/// What happened to one eval.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// The outcome of every eval of a script, with the eval's line.
pub(crate) type Outcomes = Vec<(usize, Outcome)>;

/// Upstream `DefaultMaxSamplesPerQuery`, which its test engine uses.
const MAX_SAMPLES: usize = 10_000;

// Functions whose result depends on the evaluation time even when their arguments are pinned
// by `@` (upstream `AtModifierUnsafeFunctions`): no `@` is injected into queries using them.
const AT_MODIFIER_UNSAFE_FUNCTIONS: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
];

// Experimental functions the issue asks for anyway; other experimental functions are skipped.
const REQUIRED_EXPERIMENTAL_FUNCTIONS: &[&str] = &["sort_by_label", "sort_by_label_desc"];

/// Runs every command of `commands`, each `load` into a fresh temporary database per `clear`.
pub(crate) fn run_script(commands: &[Command]) -> Outcomes {
    let engine = Engine::new(EngineOptions { max_samples: MAX_SAMPLES, ..EngineOptions::default() });
    let mut store = Store::new();
    let mut outcomes = Vec::new();
    for command in commands {
        match command {
            Command::Clear => store = Store::new(),
            Command::Load(load) => {
                if let Err(message) = store.load(load) {
                    outcomes.push((load.line, Outcome::Failed(message)));
                }
            }
            Command::Eval(eval) => {
                let outcome = match skip_reason(eval, &store.histogram_series) {
                    Some(reason) => Outcome::Skipped(reason),
                    None => match run_eval(&engine, &store.db, eval) {
                        Ok(()) => Outcome::Passed,
                        Err(message) => Outcome::Failed(message),
                    },
                };
                outcomes.push((eval.line, outcome));
            }
        }
    }
    outcomes
}

/// The database of one stretch of a script between `clear`s.
///
/// Every `load` rebuilds the database from all samples loaded so far, appended oldest first:
/// upstream's test storage accepts a later `load` going back in time (its head spans 24h),
/// while promlite's head, like Prometheus's default one, refuses samples more than half a
/// block range older than its newest.
struct Store {
    _dir: tempfile::TempDir,
    db: Db,
    samples: Vec<(Labels, i64, f64)>,
    /// Series loaded as native histograms (explicit `{{...}}` samples, or the
    /// `load_with_nhcb` conversions of classic histograms), which promlite does not store.
    histogram_series: Vec<Labels>,
}

impl Store {
    fn new() -> Store {
        let (dir, db) = open_db();
        Store { _dir: dir, db, samples: Vec::new(), histogram_series: Vec::new() }
    }

    fn load(&mut self, load: &Load) -> Result<(), String> {
        self.histogram_series.extend(load.histogram_series.iter().cloned());
        for (labels, values) in &load.series {
            if load.with_nhcb {
                let name = labels.get("__name__");
                for suffix in ["_bucket", "_count", "_sum"] {
                    if let Some(base) = name.strip_suffix(suffix) {
                        let mut builder = LabelsBuilder::new(labels);
                        builder.del("le");
                        builder.set("__name__".to_owned(), base.to_owned());
                        self.histogram_series.push(builder.labels());
                    }
                }
            }
            for (i, v) in values.iter().enumerate() {
                if let Some(v) = v {
                    self.samples.push((labels.clone(), i as i64 * load.interval_ms, *v));
                }
            }
        }
        self.samples.sort_by_key(|(_, t, _)| *t);
        let (dir, db) = open_db();
        let mut app = db.appender();
        for (labels, t, v) in &self.samples {
            app.append(labels, *t, *v).map_err(|err| format!("load at line {}: {labels}: {err}", load.line))?;
        }
        let errors = app.commit().map_err(|err| format!("load at line {}: {err}", load.line))?;
        if let Some((_, err)) = errors.first() {
            return Err(format!("load at line {}: {err}", load.line));
        }
        (self._dir, self.db) = (dir, db);
        Ok(())
    }
}

fn open_db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path(), Options::default()).expect("open db");
    (dir, db)
}

/// Why an eval is not run, if it is one the issue allows to skip.
fn skip_reason(eval: &Eval, histogram_series: &[Labels]) -> Option<String> {
    if eval.expects_histograms {
        return Some("native histograms".to_owned());
    }
    // A query the parser rejects is run, so that a parse failure is reported as one.
    let expr = crate::parser::parse_experimental(&eval.expr).ok()?;
    let mut selectors = Vec::new();
    collect_selectors(&expr, &mut selectors);
    for vs in selectors {
        let Ok(matchers) = selector_matchers(vs) else { continue };
        if let Some(series) = histogram_series.iter().find(|s| matchers.iter().all(|m| m.matches(s.get(&m.name)))) {
            return Some(format!("native histograms ({})", series.get("__name__")));
        }
    }
    let mut functions = Vec::new();
    collect_functions(&expr, &mut functions);
    functions
        .into_iter()
        .find(|(name, experimental)| *experimental && !REQUIRED_EXPERIMENTAL_FUNCTIONS.contains(name))
        .map(|(name, _)| format!("experimental function {name}"))
}

fn collect_selectors<'a>(expr: &'a Expr, out: &mut Vec<&'a VectorSelector>) {
    match expr {
        Expr::VectorSelector(vs) => out.push(vs),
        Expr::MatrixSelector(ms) => out.push(&ms.vs),
        Expr::Call(call) => call.args.args.iter().for_each(|a| collect_selectors(a, out)),
        Expr::Aggregate(a) => {
            collect_selectors(&a.expr, out);
            if let Some(param) = &a.param {
                collect_selectors(param, out);
            }
        }
        Expr::Unary(u) => collect_selectors(&u.expr, out),
        Expr::Binary(b) => {
            collect_selectors(&b.lhs, out);
            collect_selectors(&b.rhs, out);
        }
        Expr::Paren(p) => collect_selectors(&p.expr, out),
        Expr::Subquery(s) => collect_selectors(&s.expr, out),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// Every function a query calls, with whether Prometheus has it behind a feature flag.
fn collect_functions(expr: &Expr, out: &mut Vec<(&'static str, bool)>) {
    match expr {
        Expr::Call(call) => {
            out.push((call.func.name, call.func.experimental));
            call.args.args.iter().for_each(|a| collect_functions(a, out));
        }
        Expr::Aggregate(a) => {
            collect_functions(&a.expr, out);
            if let Some(param) = &a.param {
                collect_functions(param, out);
            }
        }
        Expr::Unary(u) => collect_functions(&u.expr, out),
        Expr::Binary(b) => {
            collect_functions(&b.lhs, out);
            collect_functions(&b.rhs, out);
        }
        Expr::Paren(p) => collect_functions(&p.expr, out),
        Expr::Subquery(s) => collect_functions(&s.expr, out),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => {}
    }
}

fn run_eval(engine: &Engine, db: &Db, eval: &Eval) -> Result<(), String> {
    match eval.kind {
        EvalKind::Range { start_ms, end_ms, step_ms } => {
            let result =
                parse(&eval.expr).and_then(|expr| engine.range_query_expr(db, &expr, start_ms, end_ms, step_ms));
            let Some(result) = check_error(eval, &eval.expr, result)? else { return Ok(()) };
            check_annotations(eval, &result)?;
            compare(eval, &result.value, start_ms, step_ms, end_ms)
        }
        EvalKind::Instant { at_ms } => {
            let expr = match parse(&eval.expr) {
                Ok(expr) => expr,
                Err(err) => return check_error(eval, &eval.expr, Err(err)).map(|_| ()),
            };
            run_instant(engine, db, eval, &expr, at_ms)?;
            let Some(pinned) = inject_at(&expr, at_ms) else { return Ok(()) };
            let times: &[i64] =
                if at_ms == 0 { &[-1000, 0, 1000] } else { &[-10 * at_ms, 0, at_ms / 5, at_ms, 10 * at_ms] };
            for &t in times {
                run_instant(engine, db, eval, &pinned, t).map_err(|err| format!("with @ injected, at {t}ms: {err}"))?;
            }
            Ok(())
        }
    }
}

fn run_instant(engine: &Engine, db: &Db, eval: &Eval, expr: &Expr, at_ms: i64) -> Result<(), String> {
    let shown = expr.to_string();
    let Some(result) = check_error(eval, &shown, engine.instant_query_expr(db, expr, at_ms))? else {
        return Ok(());
    };
    check_annotations(eval, &result)?;
    let (start, step, end) = match eval.range_vector {
        Some((start, end, step)) => (start, step, end),
        None => (at_ms, 0, at_ms),
    };
    compare(eval, &result.value, start, step, end)?;
    if eval.exclude_from_range_query() || eval.expr.contains("start()") || eval.expr.contains("end()") {
        return Ok(());
    }
    if ["range()", "step()"].iter().any(|f| eval.expr.contains(f)) {
        return Ok(());
    }
    let ranged = engine
        .range_query_expr(db, expr, at_ms - 60_000, at_ms + 60_000, 60_000)
        .map_err(|err| format!("in range mode: {err}"))?;
    if eval.ordered {
        return Ok(());
    }
    let Value::Matrix(matrix) = ranged.value else { return Err("range mode returned no matrix".to_owned()) };
    if matrix.windows(2).any(|w| w[0].labels > w[1].labels) {
        return Err("range mode result is not sorted by labels".to_owned());
    }
    let vector: Vec<InstantSample> = matrix
        .into_iter()
        .filter_map(|s| {
            let point = s.samples.iter().find(|p| p.t == at_ms)?;
            Some(InstantSample { labels: s.labels, t: at_ms, v: point.v })
        })
        .collect();
    let value = match result.value {
        Value::Scalar { .. } => match vector.first() {
            Some(sample) => Value::Scalar { t: at_ms, v: sample.v },
            None => return Err("range mode lost the scalar".to_owned()),
        },
        _ => Value::Vector(vector),
    };
    compare(eval, &value, at_ms, 0, at_ms).map_err(|err| format!("in range mode: {err}"))
}

/// Applies `expect fail`: `Ok(None)` when the query failed as expected, `Ok(Some(result))`
/// when it succeeded as expected.
fn check_error(
    eval: &Eval,
    shown: &str,
    result: Result<QueryResult, QueryError>,
) -> Result<Option<QueryResult>, String> {
    match (result, &eval.fail) {
        (Ok(result), None) => Ok(Some(result)),
        (Ok(_), Some(_)) => Err(format!("expected an error evaluating {shown:?}, got none")),
        (Err(err), None) => Err(format!("error evaluating {shown:?}: {err}")),
        (Err(err), Some(expected)) => {
            let message = err.to_string();
            if expected.matches(&message) {
                Ok(None)
            } else {
                Err(format!("expected error {}, got {message:?}", show_match(expected)))
            }
        }
    }
}

fn show_match(m: &MessageMatch) -> String {
    match m {
        MessageMatch::Any => "any".to_owned(),
        MessageMatch::Exact(text) => format!("{text:?}"),
        MessageMatch::Regex(regex) => format!("matching /{regex}/"),
    }
}

fn check_annotations(eval: &Eval, result: &QueryResult) -> Result<(), String> {
    check_annotation_kind("warn", &eval.warn, &result.warnings)?;
    check_annotation_kind("info", &eval.info, &result.infos)?;
    if eval.no_warn && !result.warnings.is_empty() {
        return Err(format!("unexpected warnings {:?}", result.warnings));
    }
    if eval.no_info && !result.infos.is_empty() {
        return Err(format!("unexpected infos {:?}", result.infos));
    }
    Ok(())
}

fn check_annotation_kind(kind: &str, expected: &[MessageMatch], actual: &[String]) -> Result<(), String> {
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!("expected {kind} annotations, got none"));
    }
    if let Some(missing) = expected.iter().find(|e| !actual.iter().any(|a| e.matches(a))) {
        return Err(format!("expected {kind} annotation {}, got {actual:?}", show_match(missing)));
    }
    if let Some(extra) = actual.iter().find(|a| !expected.iter().any(|e| e.matches(a))) {
        return Err(format!("unexpected {kind} annotation {extra:?}"));
    }
    Ok(())
}

/// Compares a result with the eval's expectation. Matrix points are expected at
/// `start + i * step` (never after `end`), skipping `_`.
fn compare(eval: &Eval, value: &Value, start: i64, step: i64, end: i64) -> Result<(), String> {
    let expected_series: &[(Labels, Vec<Option<f64>>)] = match &eval.expected {
        Expected::Series(series) => series,
        _ => &[],
    };
    let expected: HashMap<&Labels, (usize, &Vec<Option<f64>>)> =
        expected_series.iter().enumerate().map(|(i, (labels, values))| (labels, (i, values))).collect();
    match value {
        Value::Scalar { v, .. } => match eval.expected {
            Expected::Scalar(want) if almost_equal(want, *v) => Ok(()),
            Expected::Scalar(want) => Err(format!("expected scalar {want}, got {v}")),
            _ => Err(format!("expected a vector or matrix, got scalar {v}")),
        },
        Value::String { s, .. } => match &eval.expected {
            Expected::String(want) if want == s => Ok(()),
            other => Err(format!("expected {other:?}, got string {s:?}")),
        },
        Value::Vector(vector) => {
            if let Expected::Scalar(want) = eval.expected {
                return Err(format!("expected scalar {want}, got a vector of {}", vector.len()));
            }
            let mut seen = HashSet::new();
            for (pos, sample) in vector.iter().enumerate() {
                let Some((want_pos, values)) = expected.get(&sample.labels) else {
                    return Err(format!("unexpected series {} with value {}", sample.labels, sample.v));
                };
                if eval.ordered && *want_pos != pos {
                    return Err(format!("expected {} at position {want_pos}, found at {pos}", sample.labels));
                }
                let want = values.first().copied().flatten();
                if !want.is_some_and(|want| almost_equal(want, sample.v)) {
                    return Err(format!("expected {want:?} for {}, got {}", sample.labels, sample.v));
                }
                seen.insert(&sample.labels);
            }
            match expected_series.iter().find(|(labels, _)| !seen.contains(labels)) {
                Some((labels, _)) => Err(format!("expected series {labels} not found")),
                None => Ok(()),
            }
        }
        Value::Matrix(matrix) => {
            if eval.ordered {
                return Err("expected an ordered result, got a matrix".to_owned());
            }
            if let Expected::Scalar(want) = eval.expected {
                return Err(format!("expected scalar {want}, got a matrix"));
            }
            if matrix.windows(2).any(|w| w[0].labels > w[1].labels) {
                return Err("matrix is not sorted by labels".to_owned());
            }
            let mut seen = HashSet::new();
            for series in matrix {
                let Some((_, values)) = expected.get(&series.labels) else {
                    return Err(format!("unexpected series {} with {:?}", series.labels, points(&series.samples)));
                };
                let mut want = Vec::new();
                for (i, v) in values.iter().enumerate() {
                    let t = start + i as i64 * step;
                    if t > end {
                        return Err(format!(
                            "expected {} points for {}, more than the range has",
                            values.len(),
                            series.labels
                        ));
                    }
                    if let Some(v) = v {
                        want.push((t, *v));
                    }
                }
                let got = points(&series.samples);
                let same =
                    want.len() == got.len() && want.iter().zip(&got).all(|(w, g)| w.0 == g.0 && almost_equal(w.1, g.1));
                if !same {
                    return Err(format!("expected {want:?} for {}, got {got:?}", series.labels));
                }
                seen.insert(&series.labels);
            }
            match expected_series.iter().find(|(labels, _)| !seen.contains(labels)) {
                Some((labels, _)) => Err(format!("expected series {labels} not found")),
                None => Ok(()),
            }
        }
    }
}

fn points(samples: &[promlite_storage::Sample]) -> Vec<(i64, f64)> {
    samples.iter().map(|s| (s.t, s.v)).collect()
}

/// Upstream `almost.Equal` with its epsilon: NaN equals NaN, otherwise a relative error below
/// 1e-6 (an absolute one near zero).
pub(crate) fn almost_equal(a: f64, b: f64) -> bool {
    const EPSILON: f64 = 0.000_001;
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

/// The expression with `@ at_ms` on every selector and subquery that has none, not looking
/// inside subqueries; `None` when it calls a function whose result depends on the evaluation
/// time (upstream `atModifierTestCases`).
fn inject_at(expr: &Expr, at_ms: i64) -> Option<Expr> {
    let mut functions = Vec::new();
    collect_outside_subqueries(expr, &mut functions);
    if functions.iter().any(|f| AT_MODIFIER_UNSAFE_FUNCTIONS.contains(f)) {
        return None;
    }
    let at = if at_ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(at_ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(at_ms.unsigned_abs())
    };
    let mut pinned = expr.clone();
    set_at(&mut pinned, &AtModifier::At(at));
    Some(pinned)
}

fn collect_outside_subqueries(expr: &Expr, out: &mut Vec<&'static str>) {
    match expr {
        Expr::Subquery(_) => {}
        Expr::Call(call) => {
            out.push(call.func.name);
            call.args.args.iter().for_each(|a| collect_outside_subqueries(a, out));
        }
        Expr::Aggregate(a) => {
            collect_outside_subqueries(&a.expr, out);
            if let Some(param) = &a.param {
                collect_outside_subqueries(param, out);
            }
        }
        Expr::Unary(u) => collect_outside_subqueries(&u.expr, out),
        Expr::Binary(b) => {
            collect_outside_subqueries(&b.lhs, out);
            collect_outside_subqueries(&b.rhs, out);
        }
        Expr::Paren(p) => collect_outside_subqueries(&p.expr, out),
        Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::Extension(_) => {}
    }
}

fn set_at(expr: &mut Expr, at: &AtModifier) {
    match expr {
        Expr::VectorSelector(vs) => {
            vs.at.get_or_insert_with(|| at.clone());
        }
        Expr::MatrixSelector(ms) => {
            ms.vs.at.get_or_insert_with(|| at.clone());
        }
        // Selectors inside a subquery are relative to the subquery's own steps.
        Expr::Subquery(sq) => {
            sq.at.get_or_insert_with(|| at.clone());
        }
        Expr::Call(call) => call.args.args.iter_mut().for_each(|a| set_at(a, at)),
        Expr::Aggregate(a) => {
            set_at(&mut a.expr, at);
            if let Some(param) = &mut a.param {
                set_at(param, at);
            }
        }
        Expr::Unary(u) => set_at(&mut u.expr, at),
        Expr::Binary(b) => {
            set_at(&mut b.lhs, at);
            set_at(&mut b.rhs, at);
        }
        Expr::Paren(p) => set_at(&mut p.expr, at),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn almost_equal_like_upstream() {
        assert!(almost_equal(f64::NAN, f64::NAN));
        assert!(almost_equal(1.0, 1.0 + 1e-9));
        assert!(!almost_equal(1.0, 1.0001));
        assert!(!almost_equal(0.0, 1e-300));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY));
        assert!(!almost_equal(f64::INFINITY, f64::NEG_INFINITY));
    }

    #[test]
    fn at_is_injected_outside_subqueries_only() {
        let show = |q: &str| inject_at(&parse(q).unwrap(), 60_000).map(|e| e.to_string());
        let pinned = show("sum(rate(a[5m])) + b").unwrap();
        assert_eq!(pinned.matches("@ 60").count(), 2, "{pinned}");
        let pinned = show("max_over_time(a[5m:1m])").unwrap();
        assert_eq!(pinned.matches("@ 60").count(), 1, "{pinned}");
        assert_eq!(show("time() - a"), None);
    }
}
