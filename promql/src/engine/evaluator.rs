//! The state of one query's evaluation (upstream `promql/engine.go`'s `evaluator`): the
//! querier over the query's window, each selector's series fetched (and decoded) once per query
//! and cached by the selector node's address, the sample and time limits, the annotations, and
//! the step-by-step evaluation of every expression (`eval`) with its selectors and subqueries.
//! Invariant: every sample a selector loads is counted against `--query.max-samples` for the
//! step it is loaded at; nothing here reads storage outside the querier's window.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::rc::Rc;
use std::time::Instant;

use promlite_storage::{Db, Labels, Querier, Sample, Series, is_stale_nan};
use promql_parser::parser::{Expr, MatrixSelector, SubqueryExpr, VectorSelector};

use super::EngineOptions;
use super::over_steps::{StepSeries, vector_at};
use super::window::selection_window;
use crate::error::QueryError;
use crate::parser::{at_ms, duration_ms, offset_ms, selector_matchers};
use crate::value::{InstantSample, QuerySamples, RangeSeries};
use crate::{aggregation, functions, operators};

/// Annotations without repeats (every step of a range query raises its own), first seen first.
fn dedup(annotations: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    annotations.into_iter().filter(|a| seen.insert(a.clone())).collect()
}

/// A value during evaluation. Vectors carry the step time in every sample's `t`.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    Scalar(f64),
    String(String),
    Vector(Vec<InstantSample>),
    Matrix(Vec<RangeSeries>),
}

/// The state of one query's evaluation.
pub(crate) struct Evaluator {
    pub(super) querier: Option<Querier>,
    // Keyed by the selector node's address: the AST outlives the evaluator and is not moved.
    selected: HashMap<usize, Rc<Vec<Series>>>,
    // Instant selectors of an instant query: the time read at, and each series' newest sample
    // then (`select_at_one_time`); same keys as `selected`.
    latest: HashMap<usize, (i64, Rc<Vec<Series>>)>,
    // The same series' labels without `__name__`, keyed the same way.
    without_name: HashMap<usize, Rc<Vec<Labels>>>,
    start: i64,
    end: i64,
    pub(super) lookback: i64,
    pub(super) max_samples: usize,
    // The step of a subquery written without one.
    default_subquery_step_ms: i64,
    deadline: Instant,
    pub(super) current_ts: Option<i64>,
    // Samples loaded by selectors during the current step.
    step_samples: usize,
    // Samples already in the range query's output, which stay in memory until the end.
    pub(super) kept_samples: usize,
    pub(crate) warnings: Vec<String>,
    pub(crate) infos: Vec<String>,
    pub(super) range_query: bool,
    // Samples selectors loaded at each step of a range query evaluated series by series.
    pub(super) step_loaded: Vec<usize>,
    // The most `step_samples` reached since last reset (subqueries reset `step_samples`).
    pub(super) step_peak: usize,
    // Operands evaluated series by series for a part evaluated step by step, keyed by the
    // operand's address like `selected`; `eval` answers from here.
    pub(super) over_steps: HashMap<usize, Vec<StepSeries>>,
    // The query's sample counts (`stats.samples`).
    pub(super) samples: QuerySamples,
    // The steps `samples.read` counts range windows against: the first step's time and the
    // interval (0 in an instant query). A subquery's inner steps have their own, from the
    // subquery's first window at the first outer step, as upstream evaluates a subquery once
    // over all its steps.
    pub(super) read_grid: (i64, i64),
    // (subquery node, inner step) already evaluated: promlite evaluates a subquery once per
    // outer step, upstream once, so an inner step's reads count the first time only.
    subquery_steps: HashSet<(usize, i64)>,
    reads_muted: bool,
}

impl Evaluator {
    /// `steps` is how many steps the query evaluates (1 for an instant query).
    pub(super) fn new(db: &Db, expr: &Expr, start: i64, end: i64, steps: usize, options: &EngineOptions) -> Evaluator {
        let lookback = options.lookback_delta_ms;
        let deadline = Instant::now() + options.timeout;
        let querier = selection_window(expr, start, end, lookback).map(|(mint, maxt)| {
            let querier = db.querier(mint, maxt).with_deadline(deadline);
            // A query Prometheus accepts loads at most max_samples at each step, so it never
            // decodes more than max_samples × steps in all: decoding stops there, before a
            // query that is refused anyway has filled memory. A subquery's inner steps are
            // not counted here, so it gets no budget.
            match contains_subquery(expr) {
                false => querier.with_sample_budget(options.max_samples.saturating_mul(steps.max(1))),
                true => querier,
            }
        });
        Evaluator {
            querier,
            selected: HashMap::new(),
            latest: HashMap::new(),
            without_name: HashMap::new(),
            start,
            end,
            lookback,
            max_samples: options.max_samples,
            default_subquery_step_ms: options.default_subquery_step_ms,
            deadline,
            current_ts: None,
            step_samples: 0,
            kept_samples: 0,
            warnings: Vec::new(),
            infos: Vec::new(),
            range_query: false,
            step_loaded: Vec::new(),
            step_peak: 0,
            over_steps: HashMap::new(),
            samples: QuerySamples::default(),
            read_grid: (start, 0),
            subquery_steps: HashSet::new(),
            reads_muted: false,
        }
    }

    /// The query's warnings (the evaluation's, then storage's: remote reads that failed) and
    /// infos, each once. Storage's are kept apart until here because a series-by-series attempt
    /// that falls back drops its own annotations but keeps its selections.
    pub(super) fn annotations(&mut self) -> (Vec<String>, Vec<String>) {
        let mut warnings = std::mem::take(&mut self.warnings);
        if let Some(querier) = &self.querier {
            warnings.extend(querier.take_warnings());
        }
        (dedup(warnings), dedup(std::mem::take(&mut self.infos)))
    }

    /// Whether this is a range query, for annotations only range queries get.
    pub(crate) fn is_range_query(&self) -> bool {
        self.range_query
    }

    /// Evaluates `expr` at time `ts` (milliseconds).
    pub(crate) fn eval(&mut self, expr: &Expr, ts: i64) -> Result<Val, QueryError> {
        if self.current_ts != Some(ts) {
            // A new step: the previous step's intermediate values are gone.
            self.current_ts = Some(ts);
            self.step_samples = 0;
            if Instant::now() > self.deadline {
                return Err(QueryError::Timeout);
            }
        }
        if let Some(series) = self.over_steps.get(&(expr as *const Expr as usize)) {
            return Ok(Val::Vector(vector_at(series, ts)));
        }
        match expr {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(n.val)),
            Expr::StringLiteral(s) => Ok(Val::String(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, ts),
            Expr::VectorSelector(vs) => {
                let mut vector = self.select_instant(vs, ts)?;
                for sample in &mut vector {
                    sample.t = ts;
                }
                Ok(Val::Vector(vector))
            }
            Expr::MatrixSelector(ms) => Ok(Val::Matrix(self.select_range(ms, ts)?)),
            Expr::Unary(u) => operators::unary(self, &u.expr, ts),
            Expr::Binary(b) => operators::binary(self, b, ts),
            Expr::Aggregate(a) => aggregation::aggregate(self, a, ts),
            Expr::Call(c) => functions::call(self, c, ts),
            Expr::Subquery(sq) => Ok(Val::Matrix(self.subquery(sq, ts)?.0)),
            Expr::Extension(_) => Err(QueryError::NotSupported("extension expression".to_owned())),
        }
    }

    /// Evaluates an expression the parser has type-checked to be an instant vector.
    pub(crate) fn eval_vector(&mut self, expr: &Expr, ts: i64) -> Result<Vec<InstantSample>, QueryError> {
        match self.eval(expr, ts)? {
            Val::Vector(vector) => Ok(vector),
            other => Err(type_mismatch("instant vector", &other)),
        }
    }

    /// Evaluates an expression the parser has type-checked to be a scalar.
    pub(crate) fn eval_scalar(&mut self, expr: &Expr, ts: i64) -> Result<f64, QueryError> {
        match self.eval(expr, ts)? {
            Val::Scalar(v) => Ok(v),
            other => Err(type_mismatch("scalar", &other)),
        }
    }

    /// Evaluates an expression the parser has type-checked to be a string.
    pub(crate) fn eval_string(&mut self, expr: &Expr, ts: i64) -> Result<String, QueryError> {
        match self.eval(expr, ts)? {
            Val::String(s) => Ok(s),
            other => Err(type_mismatch("string", &other)),
        }
    }

    /// The newest non-stale sample of each selected series in `(t - lookback, t]`, where `t` is
    /// the selector's reference time. Each sample keeps its own timestamp; callers restamp it.
    pub(crate) fn select_instant(&mut self, vs: &VectorSelector, ts: i64) -> Result<Vec<InstantSample>, QueryError> {
        let ref_t = self.reference_time(vs, ts);
        let series = match self.select_at_one_time(vs, ref_t)? {
            Some(latest) => latest,
            None => self.select_decoded(vs)?,
        };
        let mut out = Vec::new();
        for s in series.iter() {
            let samples = decoded(s);
            let newer = samples.partition_point(|p| p.t <= ref_t);
            let Some(p) = newer.checked_sub(1).map(|i| samples[i]) else {
                continue;
            };
            // Prometheus 3 excludes the window's left bound (upstream promqltest/testdata/selectors.test).
            if p.t <= ref_t - self.lookback || is_stale_nan(p.v) {
                continue;
            }
            out.push(InstantSample { labels: s.labels.clone(), t: p.t, v: p.v });
        }
        self.count_samples(out.len())?;
        if self.reads_at(vs, ts) {
            self.count_read(out.len());
        }
        self.note_held(self.step_samples + self.kept_samples);
        Ok(out)
    }

    /// The non-stale samples of each selected series in `(t - range, t]`; series without any
    /// are left out.
    pub(crate) fn select_range(&mut self, ms: &MatrixSelector, ts: i64) -> Result<Vec<RangeSeries>, QueryError> {
        let series = self.select_decoded(&ms.vs)?;
        let ref_t = self.reference_time(&ms.vs, ts);
        let range = duration_ms(ms.range);
        let mut out = Vec::new();
        let mut loaded = 0;
        for s in series.iter() {
            let all = decoded(s);
            let from = all.partition_point(|p| p.t <= ref_t - range);
            let to = all.partition_point(|p| p.t <= ref_t);
            let samples: Vec<Sample> = all[from..to].iter().filter(|p| !is_stale_nan(p.v)).copied().collect();
            if samples.is_empty() {
                continue;
            }
            loaded += samples.len();
            self.count_window_read(&ms.vs, ts, &samples, ref_t);
            out.push(RangeSeries { labels: s.labels.clone(), samples });
        }
        self.count_samples(loaded)?;
        self.note_held(self.step_samples + self.kept_samples);
        Ok(out)
    }

    /// Calls `f(index, series, window, start, end)` for each selected series with non-stale
    /// samples in `(t - range, t]`, where the window is borrowed from the selection: the fast
    /// path for functions of a range selector, which copy neither labels nor samples. `f` says
    /// whether it gave an output sample, for `peakSamples`: upstream holds the outputs so far
    /// and one series' window at a time.
    pub(crate) fn range_windows(
        &mut self,
        ms: &MatrixSelector,
        ts: i64,
        mut f: impl FnMut(usize, &Series, &[Sample], i64, i64) -> bool,
    ) -> Result<(), QueryError> {
        let series = self.select_decoded(&ms.vs)?;
        let end = self.reference_time(&ms.vs, ts);
        let start = end - duration_ms(ms.range);
        let mut loaded = 0;
        let held = self.step_samples + self.kept_samples;
        let mut outputs = 0;
        let mut filtered = Vec::new();
        for (i, s) in series.iter().enumerate() {
            let all = decoded(s);
            let from = all.partition_point(|p| p.t <= start);
            let to = all.partition_point(|p| p.t <= end);
            let mut window = &all[from..to];
            if window.iter().any(|p| is_stale_nan(p.v)) {
                filtered.clear();
                filtered.extend(window.iter().filter(|p| !is_stale_nan(p.v)).copied());
                window = &filtered;
            }
            if window.is_empty() {
                continue;
            }
            loaded += window.len();
            let output = usize::from(f(i, s, window, start, end));
            self.count_window_read(&ms.vs, ts, window, end);
            self.note_held(held + outputs + window.len() + output);
            outputs += output;
        }
        self.count_samples(loaded)
    }

    /// In an instant query, the series `vs` selects with only their newest sample at or before
    /// `ref_t`: all an instant selector read at one time needs, so a query over many series
    /// holds one sample per series, not its whole lookback window. `None` in a range query,
    /// and once the node is read at a second time (inside a subquery) or was selected whole:
    /// then the caller selects the whole window.
    fn select_at_one_time(&mut self, vs: &VectorSelector, ref_t: i64) -> Result<Option<Rc<Vec<Series>>>, QueryError> {
        let key = vs as *const VectorSelector as usize;
        if self.range_query || self.selected.contains_key(&key) {
            return Ok(None);
        }
        match self.latest.get(&key) {
            Some((at, series)) if *at == ref_t => return Ok(Some(Rc::clone(series))),
            Some(_) => return Ok(None),
            None => {}
        }
        let matchers = selector_matchers(vs)?;
        let querier = self.querier.as_ref().expect("a query with a selector has a querier");
        let latest = querier.select_latest(&matchers, ref_t);
        limit_error(querier)?;
        let series = Rc::new(latest);
        self.latest.insert(key, (ref_t, Rc::clone(&series)));
        Ok(Some(series))
    }

    /// The labels of each series `vs` selects, without `__name__`, worked out once per query.
    pub(crate) fn labels_without_name(&mut self, vs: &VectorSelector) -> Result<Rc<Vec<Labels>>, QueryError> {
        let key = vs as *const VectorSelector as usize;
        if let Some(labels) = self.without_name.get(&key) {
            return Ok(Rc::clone(labels));
        }
        let labels: Rc<Vec<Labels>> =
            Rc::new(self.select(vs)?.iter().map(|s| s.labels.without_metric_name()).collect());
        self.without_name.insert(key, Rc::clone(&labels));
        Ok(labels)
    }

    /// The time a selector reads at for step `ts`: its `@` time or `ts`, minus its offset.
    pub(crate) fn reference_time(&self, vs: &VectorSelector, ts: i64) -> i64 {
        at_ms(vs.at.as_ref(), self.start, self.end).unwrap_or(ts) - offset_ms(vs.offset.as_ref())
    }

    /// Evaluates a subquery at step `ts`: its inner expression at every multiple of the
    /// subquery step in `(t - range, t]`, `t` being the subquery's `@` time or `ts`, minus its
    /// offset. Returns the series with the window's bounds.
    pub(crate) fn subquery(&mut self, sq: &SubqueryExpr, ts: i64) -> Result<(Vec<RangeSeries>, i64, i64), QueryError> {
        let end = at_ms(sq.at.as_ref(), self.start, self.end).unwrap_or(ts) - offset_ms(sq.offset.as_ref());
        let range = duration_ms(sq.range);
        let step = sq.step.map_or(self.default_subquery_step_ms, duration_ms);
        if step <= 0 {
            return Err(QueryError::BadData("zero or negative subquery step".to_owned()));
        }
        let window_start = end - range;
        let mut t = first_step_after(window_start, step);
        // The inner steps upstream evaluates: from the window at the outer first step.
        let first_end =
            at_ms(sq.at.as_ref(), self.start, self.end).unwrap_or(self.read_grid.0) - offset_ms(sq.offset.as_ref());
        let outer_grid = std::mem::replace(&mut self.read_grid, (first_step_after(first_end - range, step), step));
        let outer_muted = self.reads_muted;
        let key = sq as *const SubqueryExpr as usize;
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<RangeSeries> = Vec::new();
        let outer_ts = self.current_ts;
        while t <= end {
            self.reads_muted = outer_muted || !self.subquery_steps.insert((key, t));
            let points = match self.eval(&sq.expr, t)? {
                Val::Scalar(v) => vec![InstantSample { labels: Labels::empty(), t, v }],
                Val::Vector(vector) => vector,
                other => return Err(type_mismatch("instant vector or scalar", &other)),
            };
            for point in points {
                let sample = Sample { t, v: point.v };
                match index.get(&point.labels) {
                    Some(&i) => out[i].samples.push(sample),
                    None => {
                        index.insert(point.labels.clone(), out.len());
                        out.push(RangeSeries { labels: point.labels, samples: vec![sample] });
                    }
                }
            }
            t += step;
        }
        self.current_ts = outer_ts;
        self.read_grid = outer_grid;
        self.reads_muted = outer_muted;
        Ok((out, window_start, end))
    }

    /// Evaluates a range-vector argument of a function (a range selector or a subquery, maybe
    /// in parentheses) at step `ts`: its series and the `(start, end]` bounds of its window.
    pub(crate) fn eval_range(&mut self, expr: &Expr, ts: i64) -> Result<(Vec<RangeSeries>, i64, i64), QueryError> {
        match expr {
            Expr::Paren(p) => self.eval_range(&p.expr, ts),
            Expr::MatrixSelector(ms) => {
                let end = self.reference_time(&ms.vs, ts);
                Ok((self.select_range(ms, ts)?, end - duration_ms(ms.range), end))
            }
            Expr::Subquery(sq) => {
                // A function's range argument counts the points of each step's window, as a
                // range selector's would; what the inner expression loaded is not counted.
                let total = self.samples.total;
                let (series, start, end) = self.subquery(sq, ts)?;
                self.samples.total = total + series.iter().map(|s| s.samples.len() as u64).sum::<u64>();
                Ok((series, start, end))
            }
            other => Err(QueryError::Execution(format!("expected a range vector, got {other}"))),
        }
    }

    /// The series `vs` selects, fetched once per query.
    pub(crate) fn select(&mut self, vs: &VectorSelector) -> Result<Rc<Vec<Series>>, QueryError> {
        let key = vs as *const VectorSelector as usize;
        if let Some(series) = self.selected.get(&key) {
            return Ok(Rc::clone(series));
        }
        let matchers = selector_matchers(vs)?;
        let querier = self.querier.as_ref().expect("a query with a selector has a querier");
        // A remote_read endpoint that fails leaves a warning in the querier (see `annotations`);
        // the query goes on with what the others had.
        let series = Rc::new(querier.select(&matchers));
        limit_error(querier)?;
        self.selected.insert(key, Rc::clone(&series));
        Ok(series)
    }

    /// The series `vs` selects, decoded, once per query: for the parts evaluated step by step,
    /// which read each series at every step. The decoded series replace the selection's
    /// chunk-holding ones in the cache (labels moved, chunks dropped), so the query never
    /// holds both; read their samples with [`decoded`].
    pub(crate) fn select_decoded(&mut self, vs: &VectorSelector) -> Result<Rc<Vec<Series>>, QueryError> {
        let series = self.select(vs)?;
        if series.iter().all(|s| s.decoded().is_some()) {
            return Ok(series);
        }
        let key = vs as *const VectorSelector as usize;
        self.selected.remove(&key);
        let querier = self.querier.as_ref().expect("a query with a selector has a querier");
        let owned = Rc::try_unwrap(series).unwrap_or_else(|shared| (*shared).clone());
        let mut out = Vec::with_capacity(owned.len());
        let mut buffer = Vec::new();
        for s in owned {
            if !querier.decode_into(&s, &mut buffer) {
                limit_error(querier)?;
            }
            let mut samples = std::mem::take(&mut buffer);
            samples.shrink_to_fit();
            out.push(Series::from_samples(s.labels, samples));
        }
        let decoded = Rc::new(out);
        self.selected.insert(key, Rc::clone(&decoded));
        Ok(decoded)
    }

    fn count_samples(&mut self, n: usize) -> Result<(), QueryError> {
        // Also the timeout's check within a step, so one long step cannot outrun it.
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout);
        }
        self.samples.total += n as u64;
        self.step_samples += n;
        self.step_peak = self.step_peak.max(self.step_samples);
        if self.step_samples + self.kept_samples > self.max_samples {
            return Err(QueryError::TooManySamples);
        }
        Ok(())
    }

    /// Counts `n` samples read from storage, unless this subquery step was read before.
    pub(super) fn count_read(&mut self, n: usize) {
        if !self.reads_muted {
            self.samples.read += n as u64;
        }
    }

    /// Whether a selector read at step `ts` reads storage: a step-invariant one (`@`) only at
    /// the first step, which upstream evaluates it at.
    pub(super) fn reads_at(&self, vs: &VectorSelector, ts: i64) -> bool {
        vs.at.is_none() || self.read_grid.1 == 0 || ts == self.read_grid.0
    }

    /// Counts the reads of one series' window ending at `end` at step `ts`: the whole window
    /// at the first step, then only the points past the previous step's window end (upstream's
    /// `countSamplesAfter`).
    fn count_window_read(&mut self, vs: &VectorSelector, ts: i64, window: &[Sample], end: i64) {
        let (first, interval) = self.read_grid;
        let read = match () {
            _ if interval == 0 || ts == first => window.len(),
            _ if vs.at.is_some() => 0,
            _ => window.len() - window.partition_point(|p| p.t <= end - interval),
        };
        self.count_read(read);
    }

    /// Notes that the evaluation holds `held` samples now, for `peakSamples`.
    pub(super) fn note_held(&mut self, held: usize) {
        self.samples.peak = self.samples.peak.max(held);
    }

    pub(super) fn check_deadline(&self) -> Result<(), QueryError> {
        if Instant::now() > self.deadline { Err(QueryError::Timeout) } else { Ok(()) }
    }
}

/// The samples of a series from [`Evaluator::select_decoded`] or an instant select, which
/// hold them decoded.
pub(crate) fn decoded(series: &Series) -> &[Sample] {
    series.decoded().expect("step-by-step paths read series that select_decoded decoded")
}

fn type_mismatch(expected: &str, got: &Val) -> QueryError {
    let got = match got {
        Val::Scalar(_) => "scalar",
        Val::String(_) => "string",
        Val::Vector(_) => "instant vector",
        Val::Matrix(_) => "range vector",
    };
    QueryError::Execution(format!("expected {expected}, got {got}"))
}

/// The error for a querier that stopped decoding, if it did.
pub(super) fn limit_error(querier: &promlite_storage::Querier) -> Result<(), QueryError> {
    match querier.limit_hit() {
        Some(promlite_storage::SelectLimit::TooManySamples) => Err(QueryError::TooManySamples),
        Some(promlite_storage::SelectLimit::Timeout) => Err(QueryError::Timeout),
        None => Ok(()),
    }
}

/// The first multiple of `step` after `t`; Go's integer division truncates towards zero, and
/// Prometheus aligns subquery steps with it.
fn first_step_after(t: i64, step: i64) -> i64 {
    let aligned = step * (t / step);
    if aligned <= t { aligned + step } else { aligned }
}

/// Whether `expr` has a subquery anywhere.
fn contains_subquery(expr: &Expr) -> bool {
    match expr {
        Expr::Subquery(_) => true,
        Expr::Aggregate(a) => contains_subquery(&a.expr) || a.param.as_deref().is_some_and(contains_subquery),
        Expr::Unary(u) => contains_subquery(&u.expr),
        Expr::Binary(b) => contains_subquery(&b.lhs) || contains_subquery(&b.rhs),
        Expr::Paren(p) => contains_subquery(&p.expr),
        Expr::Call(c) => c.args.args.iter().any(|a| contains_subquery(a)),
        Expr::VectorSelector(_)
        | Expr::MatrixSelector(_)
        | Expr::NumberLiteral(_)
        | Expr::StringLiteral(_)
        | Expr::Extension(_) => false,
    }
}
