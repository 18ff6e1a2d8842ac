//! The query engine (upstream `promql/engine.go`): instant and range queries over a [`Db`].
//!
//! A query is parsed once, its selectors' time window is worked out from the AST, and one
//! [`Querier`] over that window serves every selector; each selector's series are fetched once
//! per query and cached. A range query with an instant-vector result is evaluated series by
//! series ([`Evaluator::eval_over_steps`]): for selectors, range-vector and math functions,
//! aggregations and vector-scalar operators, each series' samples are walked once with a moving
//! window across all steps and its labels are worked out once; other parts (vector matching,
//! label functions, subqueries, series whose labels collide once `__name__` is dropped, ...)
//! are evaluated step by step over operands computed that way. Scalar results and instant
//! queries are evaluated step by step, each step an instant evaluation at the step's time.
//! Both paths give the same result, to the bit (tests compare them).
//! Invariants: the evaluator never reads storage outside the window computed up front; `@`
//! and `offset` move a selector's reference time per step, never backwards across steps.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::rc::Rc;
use std::time::{Duration, Instant};

use promlite_storage::{Db, Labels, Querier, Sample, Series, is_stale_nan};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Expr, MatrixSelector, SubqueryExpr, VectorSelector};

use crate::error::QueryError;
use crate::parser::{at_ms, duration_ms, offset_ms, parse, selector_matchers, type_name};
use crate::value::{InstantSample, QueryResult, RangeSeries, Value};
use crate::{aggregation, functions, operators};

/// The step of a subquery written without one (`x[5m:]`). Prometheus uses the global
/// evaluation interval, 1m by default; promlite evaluates no rules and has no such setting.
const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

/// Settings from `--query.*` flags.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// `--query.lookback-delta`: how far back an instant selector looks for a sample, ms.
    pub lookback_delta_ms: i64,
    /// `--query.max-samples`: samples a query may hold in memory at once.
    pub max_samples: usize,
    /// `--query.timeout`.
    pub timeout: Duration,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions { lookback_delta_ms: 300_000, max_samples: 50_000_000, timeout: Duration::from_secs(120) }
    }
}

/// Per-query settings, as the HTTP API's `lookback_delta` parameter gives them; `None` keeps
/// the engine's setting.
#[derive(Debug, Clone, Default)]
pub struct QueryOptions {
    /// How far back an instant selector looks for a sample, ms.
    pub lookback_delta_ms: Option<i64>,
}

/// Evaluates PromQL queries. Holds no per-query state, so one engine serves every query.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    options: EngineOptions,
}

impl Engine {
    /// An engine with the given options.
    pub fn new(options: EngineOptions) -> Engine {
        Engine { options }
    }

    /// The options the engine was made with.
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Evaluates `query` at `time_ms`.
    pub fn instant_query(&self, db: &Db, query: &str, time_ms: i64) -> Result<QueryResult, QueryError> {
        self.instant_query_expr(db, &parse(query)?, time_ms)
    }

    /// [`Engine::instant_query`] with per-query settings.
    pub fn instant_query_with(
        &self,
        db: &Db,
        query: &str,
        time_ms: i64,
        options: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        self.with(options).instant_query_expr(db, &parse(query)?, time_ms)
    }

    /// [`Engine::range_query`] with per-query settings.
    pub fn range_query_with(
        &self,
        db: &Db,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        options: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        self.with(options).range_query_expr(db, &parse(query)?, start_ms, end_ms, step_ms)
    }

    fn with(&self, options: &QueryOptions) -> Engine {
        let mut engine = self.clone();
        if let Some(lookback) = options.lookback_delta_ms.filter(|l| *l > 0) {
            engine.options.lookback_delta_ms = lookback;
        }
        engine
    }

    /// Evaluates a parsed expression at `time_ms`; the promqltest runner uses it to evaluate
    /// expressions it rewrote (the injected `@`).
    pub(crate) fn instant_query_expr(&self, db: &Db, expr: &Expr, time_ms: i64) -> Result<QueryResult, QueryError> {
        let mut ev = Evaluator::new(db, expr, time_ms, time_ms, 1, &self.options);
        let value = match ev.eval(expr, time_ms)? {
            Val::Scalar(v) => Value::Scalar { t: time_ms, v },
            Val::String(s) => Value::String { t: time_ms, s },
            Val::Vector(vector) => Value::Vector(vector),
            Val::Matrix(matrix) => Value::Matrix(matrix),
        };
        let (warnings, infos) = ev.annotations();
        Ok(QueryResult { value, warnings, infos })
    }

    /// Evaluates `query` at every step from `start_ms` to `end_ms` (both included) and returns a
    /// matrix with one series per output label set, sorted by labels.
    pub fn range_query(
        &self,
        db: &Db,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        self.range_query_expr(db, &parse(query)?, start_ms, end_ms, step_ms)
    }

    /// Evaluates a parsed expression over a range; see [`Engine::range_query`].
    pub(crate) fn range_query_expr(
        &self,
        db: &Db,
        expr: &Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, QueryError> {
        self.range_query_paths(db, expr, start_ms, end_ms, step_ms, true).map(|(result, _)| result)
    }

    /// [`Engine::range_query_expr`], series by series where the expression allows it when
    /// `over_series` is set, else step by step; also says which path answered (`true`: series
    /// by series). Tests compare the two paths.
    pub(crate) fn range_query_paths(
        &self,
        db: &Db,
        expr: &Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        over_series: bool,
    ) -> Result<(QueryResult, bool), QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".to_owned(),
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::BadData("end timestamp must not be before start time".to_owned()));
        }
        if matches!(expr.value_type(), ValueType::Matrix | ValueType::String) {
            return Err(QueryError::BadData(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_name(expr)
            )));
        }
        let steps = ((end_ms as i128 - start_ms as i128) / step_ms as i128 + 1).min(usize::MAX as i128) as usize;
        let mut ev = Evaluator::new(db, expr, start_ms, end_ms, steps, &self.options);
        ev.range_query = true;
        if let Some(steps) = Steps::new(start_ms, end_ms, step_ms).filter(|_| over_series) {
            let annotations = (ev.warnings.len(), ev.infos.len());
            ev.step_loaded = vec![0; steps.len()];
            if let Some(series) = ev.eval_over_steps(expr, &steps)? {
                let matrix = ev.finish_over_steps(series, &steps)?;
                let (warnings, infos) = ev.annotations();
                let result = QueryResult { value: Value::Matrix(matrix), warnings, infos };
                return Ok((result, true));
            }
            // Not evaluable series by series: step by step below, with the annotations raised
            // only once.
            ev.warnings.truncate(annotations.0);
            ev.infos.truncate(annotations.1);
        }
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut matrix: Vec<RangeSeries> = Vec::new();
        let mut ts = start_ms;
        while ts <= end_ms {
            let points = match ev.eval(expr, ts)? {
                Val::Scalar(v) => vec![InstantSample { labels: Labels::empty(), t: ts, v }],
                Val::Vector(vector) => vector,
                Val::String(_) | Val::Matrix(_) => {
                    unreachable!("range queries are checked to be scalar or vector")
                }
            };
            ev.kept_samples += points.len();
            for point in points {
                let sample = Sample { t: ts, v: point.v };
                match index.get(&point.labels) {
                    Some(&i) => matrix[i].samples.push(sample),
                    None => {
                        index.insert(point.labels.clone(), matrix.len());
                        matrix.push(RangeSeries { labels: point.labels, samples: vec![sample] });
                    }
                }
            }
            ts = match ts.checked_add(step_ms) {
                Some(next) => next,
                None => break,
            };
        }
        matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
        let (warnings, infos) = ev.annotations();
        Ok((QueryResult { value: Value::Matrix(matrix), warnings, infos }, false))
    }
}

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
    querier: Option<Querier>,
    // Keyed by the selector node's address: the AST outlives the evaluator and is not moved.
    selected: HashMap<usize, Rc<Vec<Series>>>,
    // The same series decoded, for the parts evaluated step by step (which read each series at
    // every step); same keys. The parts evaluated series by series decode one at a time.
    decoded: HashMap<usize, Rc<Vec<Decoded>>>,
    // Instant selectors of an instant query: the time read at, and each series' newest sample
    // then (`select_at_one_time`); same keys as `selected`.
    latest: HashMap<usize, (i64, Rc<Vec<Decoded>>)>,
    // The same series' labels without `__name__`, keyed the same way.
    without_name: HashMap<usize, Rc<Vec<Labels>>>,
    start: i64,
    end: i64,
    lookback: i64,
    max_samples: usize,
    deadline: Instant,
    current_ts: Option<i64>,
    // Samples loaded by selectors during the current step.
    step_samples: usize,
    // Samples already in the range query's output, which stay in memory until the end.
    kept_samples: usize,
    pub(crate) warnings: Vec<String>,
    pub(crate) infos: Vec<String>,
    range_query: bool,
    // Samples selectors loaded at each step of a range query evaluated series by series.
    step_loaded: Vec<usize>,
    // The most `step_samples` reached since last reset (subqueries reset `step_samples`).
    step_peak: usize,
    // Operands evaluated series by series for a part evaluated step by step, keyed by the
    // operand's address like `selected`; `eval` answers from here.
    over_steps: HashMap<usize, Vec<StepSeries>>,
}

impl Evaluator {
    /// `steps` is how many steps the query evaluates (1 for an instant query).
    fn new(db: &Db, expr: &Expr, start: i64, end: i64, steps: usize, options: &EngineOptions) -> Evaluator {
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
            decoded: HashMap::new(),
            latest: HashMap::new(),
            without_name: HashMap::new(),
            start,
            end,
            lookback,
            max_samples: options.max_samples,
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
        }
    }

    /// The query's warnings (the evaluation's, then storage's: remote reads that failed) and
    /// infos, each once. Storage's are kept apart until here because a series-by-series attempt
    /// that falls back drops its own annotations but keeps its selections.
    fn annotations(&mut self) -> (Vec<String>, Vec<String>) {
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
            let newer = s.samples.partition_point(|p| p.t <= ref_t);
            let Some(p) = newer.checked_sub(1).map(|i| s.samples[i]) else {
                continue;
            };
            // Prometheus 3 excludes the window's left bound (upstream promqltest/testdata/selectors.test).
            if p.t <= ref_t - self.lookback || is_stale_nan(p.v) {
                continue;
            }
            out.push(InstantSample { labels: s.labels.clone(), t: p.t, v: p.v });
        }
        self.count_samples(out.len())?;
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
            let from = s.samples.partition_point(|p| p.t <= ref_t - range);
            let to = s.samples.partition_point(|p| p.t <= ref_t);
            let samples: Vec<Sample> = s.samples[from..to].iter().filter(|p| !is_stale_nan(p.v)).copied().collect();
            if samples.is_empty() {
                continue;
            }
            loaded += samples.len();
            out.push(RangeSeries { labels: s.labels.clone(), samples });
        }
        self.count_samples(loaded)?;
        Ok(out)
    }

    /// Calls `f(index, series, window, start, end)` for each selected series with non-stale
    /// samples in `(t - range, t]`, where the window is borrowed from the selection: the fast
    /// path for functions of a range selector, which copy neither labels nor samples.
    pub(crate) fn range_windows(
        &mut self,
        ms: &MatrixSelector,
        ts: i64,
        mut f: impl FnMut(usize, &Decoded, &[Sample], i64, i64),
    ) -> Result<(), QueryError> {
        let series = self.select_decoded(&ms.vs)?;
        let end = self.reference_time(&ms.vs, ts);
        let start = end - duration_ms(ms.range);
        let mut loaded = 0;
        let mut filtered = Vec::new();
        for (i, s) in series.iter().enumerate() {
            let from = s.samples.partition_point(|p| p.t <= start);
            let to = s.samples.partition_point(|p| p.t <= end);
            let mut window = &s.samples[from..to];
            if window.iter().any(|p| is_stale_nan(p.v)) {
                filtered.clear();
                filtered.extend(window.iter().filter(|p| !is_stale_nan(p.v)).copied());
                window = &filtered;
            }
            if window.is_empty() {
                continue;
            }
            loaded += window.len();
            f(i, s, window, start, end);
        }
        self.count_samples(loaded)
    }

    /// In an instant query, the series `vs` selects with only their newest sample at or before
    /// `ref_t`: all an instant selector read at one time needs, so a query over many series
    /// holds one sample per series, not its whole lookback window. `None` in a range query,
    /// and once the node is read at a second time (inside a subquery) or was selected whole:
    /// then the caller selects the whole window.
    fn select_at_one_time(&mut self, vs: &VectorSelector, ref_t: i64) -> Result<Option<Rc<Vec<Decoded>>>, QueryError> {
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
        let series = Rc::new(latest.into_iter().map(Decoded::from).collect());
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
        let step = sq.step.map_or(DEFAULT_SUBQUERY_STEP_MS, duration_ms);
        if step <= 0 {
            return Err(QueryError::BadData("zero or negative subquery step".to_owned()));
        }
        let window_start = end - range;
        // Go's integer division truncates towards zero, and Prometheus aligns with it.
        let mut t = step * (window_start / step);
        if t <= window_start {
            t += step;
        }
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<RangeSeries> = Vec::new();
        let outer_ts = self.current_ts;
        while t <= end {
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
            Expr::Subquery(sq) => self.subquery(sq, ts),
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

    /// The series `vs` selects, decoded, once per query: for the parts evaluated step by step.
    pub(crate) fn select_decoded(&mut self, vs: &VectorSelector) -> Result<Rc<Vec<Decoded>>, QueryError> {
        let key = vs as *const VectorSelector as usize;
        if let Some(decoded) = self.decoded.get(&key) {
            return Ok(Rc::clone(decoded));
        }
        let series = self.select(vs)?;
        let querier = self.querier.as_ref().expect("a query with a selector has a querier");
        let mut out = Vec::with_capacity(series.len());
        for s in series.iter() {
            let mut samples = Vec::new();
            if !querier.decode_into(s, &mut samples) {
                limit_error(querier)?;
            }
            out.push(Decoded { labels: s.labels.clone(), samples });
        }
        let decoded = Rc::new(out);
        self.decoded.insert(key, Rc::clone(&decoded));
        Ok(decoded)
    }

    fn count_samples(&mut self, n: usize) -> Result<(), QueryError> {
        // Also the timeout's check within a step, so one long step cannot outrun it.
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout);
        }
        self.step_samples += n;
        self.step_peak = self.step_peak.max(self.step_samples);
        if self.step_samples + self.kept_samples > self.max_samples {
            return Err(QueryError::TooManySamples);
        }
        Ok(())
    }
}

/// A selected series decoded whole.
pub(crate) struct Decoded {
    pub(crate) labels: Labels,
    pub(crate) samples: Vec<Sample>,
}

impl From<Series> for Decoded {
    fn from(series: Series) -> Decoded {
        let (labels, samples) = series.into_samples();
        Decoded { labels, samples }
    }
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

/// Fails like Prometheus when two elements of a vector have the same label set, which happens
/// when dropping `__name__` or relabeling merges series.
pub(crate) fn check_unique_labels(vector: &[InstantSample]) -> Result<(), QueryError> {
    if vector.len() < 2 {
        return Ok(());
    }
    let mut seen = HashSet::with_capacity(vector.len());
    for sample in vector {
        if !seen.insert(&sample.labels) {
            return Err(QueryError::Execution("vector cannot contain metrics with the same labelset".to_owned()));
        }
    }
    Ok(())
}

/// `[mint, maxt]` covering every sample any selector in `expr` may read during a query from
/// `start` to `end`, or `None` when `expr` has no selector. `query_start`/`query_end` are what
/// `@ start()` and `@ end()` mean, which stays the outer query's range inside subqueries.
/// The error for a querier that stopped decoding, if it did.
fn limit_error(querier: &promlite_storage::Querier) -> Result<(), QueryError> {
    match querier.limit_hit() {
        Some(promlite_storage::SelectLimit::TooManySamples) => Err(QueryError::TooManySamples),
        Some(promlite_storage::SelectLimit::Timeout) => Err(QueryError::Timeout),
        None => Ok(()),
    }
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

fn selection_window(expr: &Expr, start: i64, end: i64, lookback: i64) -> Option<(i64, i64)> {
    let mut window = None;
    widen_window(expr, start, end, (start, end), lookback, &mut window);
    window
}

fn widen_window(expr: &Expr, start: i64, end: i64, query: (i64, i64), lookback: i64, window: &mut Option<(i64, i64)>) {
    let mut widen = |vs: &VectorSelector, range: i64| {
        let offset = offset_ms(vs.offset.as_ref());
        let (first, last) = match at_ms(vs.at.as_ref(), query.0, query.1) {
            Some(at) => (at, at),
            None => (start, end),
        };
        let mint = first.saturating_sub(offset).saturating_sub(range);
        let maxt = last.saturating_sub(offset);
        *window = Some(match *window {
            None => (mint, maxt),
            Some((lo, hi)) => (lo.min(mint), hi.max(maxt)),
        });
    };
    match expr {
        Expr::VectorSelector(vs) => widen(vs, lookback),
        Expr::MatrixSelector(ms) => widen(&ms.vs, duration_ms(ms.range)),
        Expr::Subquery(sq) => {
            let offset = offset_ms(sq.offset.as_ref());
            let (first, last) = match at_ms(sq.at.as_ref(), query.0, query.1) {
                Some(at) => (at, at),
                None => (start, end),
            };
            let inner_start = first.saturating_sub(offset).saturating_sub(duration_ms(sq.range));
            let inner_end = last.saturating_sub(offset);
            widen_window(&sq.expr, inner_start, inner_end, query, lookback, window);
        }
        Expr::Aggregate(a) => {
            widen_window(&a.expr, start, end, query, lookback, window);
            if let Some(param) = &a.param {
                widen_window(param, start, end, query, lookback, window);
            }
        }
        Expr::Unary(u) => widen_window(&u.expr, start, end, query, lookback, window),
        Expr::Binary(b) => {
            widen_window(&b.lhs, start, end, query, lookback, window);
            widen_window(&b.rhs, start, end, query, lookback, window);
        }
        Expr::Paren(p) => widen_window(&p.expr, start, end, query, lookback, window),
        Expr::Call(c) => c.args.args.iter().for_each(|a| widen_window(a, start, end, query, lookback, window)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => {}
    }
}

/// The steps of a range query: `start + i * step` for `i < len`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Steps {
    pub(crate) start: i64,
    pub(crate) step: i64,
    len: usize,
}

/// Beyond this many steps a range query is evaluated step by step, so that the per-step
/// bookkeeping of the series-by-series path stays small (the HTTP API allows 11,000).
const MAX_STEPS_OVER_SERIES: i128 = 1_000_000;

impl Steps {
    fn new(start: i64, end: i64, step: i64) -> Option<Steps> {
        let len = (end as i128 - start as i128) / step as i128 + 1;
        (len <= MAX_STEPS_OVER_SERIES).then_some(Steps { start, step, len: len as usize })
    }

    /// The number of steps.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The time of step `i`.
    pub(crate) fn time(&self, i: usize) -> i64 {
        self.start + i as i64 * self.step
    }

    /// The step a time of [`Steps::time`] belongs to.
    pub(crate) fn index(&self, t: i64) -> usize {
        ((t - self.start) / self.step) as usize
    }
}

/// One series of an expression evaluated at every step; `samples` are stamped with step times.
#[derive(Debug, Clone)]
pub(crate) struct StepSeries {
    pub(crate) labels: Labels,
    pub(crate) samples: Vec<Sample>,
    /// Per sample, a key that orders the series present at the sample's step as the
    /// step-by-step path orders that step's vector (sums and topk ties depend on it). Empty
    /// when the series' index in its list is that key at every step.
    pub(crate) order: Vec<u32>,
}

impl StepSeries {
    /// A series without samples yet, ordered by its index.
    pub(crate) fn new(labels: Labels) -> StepSeries {
        StepSeries { labels, samples: Vec::new(), order: Vec::new() }
    }
}

/// Appends the vector of step `ts` to per-series lists (`index` maps labels to positions in
/// `out`), keeping each point's position in the vector as its order key.
fn push_step(out: &mut Vec<StepSeries>, index: &mut HashMap<Labels, usize>, ts: i64, vector: Vec<InstantSample>) {
    for (position, point) in vector.into_iter().enumerate() {
        let series = match index.get(&point.labels) {
            Some(&series) => series,
            None => {
                index.insert(point.labels.clone(), out.len());
                out.push(StepSeries::new(point.labels));
                out.len() - 1
            }
        };
        out[series].samples.push(Sample { t: ts, v: point.v });
        out[series].order.push(position as u32);
    }
}

/// The vector at step `ts` of an operand evaluated series by series, in the step-by-step
/// path's order.
fn vector_at(series: &[StepSeries], ts: i64) -> Vec<InstantSample> {
    let mut present: Vec<(u32, InstantSample)> = Vec::new();
    for (index, s) in series.iter().enumerate() {
        if let Ok(j) = s.samples.binary_search_by_key(&ts, |p| p.t) {
            let key = if s.order.is_empty() { index as u32 } else { s.order[j] };
            present.push((key, InstantSample { labels: s.labels.clone(), t: ts, v: s.samples[j].v }));
        }
    }
    present.sort_by_key(|p| p.0);
    present.into_iter().map(|p| p.1).collect()
}

/// Fills `present` with `(key, series index, value)` for each series of `input` with a sample
/// at `ts`, in the order of the step-by-step path's vector at that step; `cursors` (one per
/// series, starting at 0) move past the samples read. Steps must be visited in order.
pub(crate) fn present_at(input: &[StepSeries], cursors: &mut [usize], ts: i64, present: &mut Vec<(u32, usize, f64)>) {
    present.clear();
    let mut sorted = true;
    for (index, (series, cursor)) in input.iter().zip(cursors.iter_mut()).enumerate() {
        if let Some(p) = series.samples.get(*cursor).filter(|p| p.t == ts) {
            let key = if series.order.is_empty() { index as u32 } else { series.order[*cursor] };
            sorted &= present.last().is_none_or(|last: &(u32, usize, f64)| last.0 < key);
            present.push((key, index, p.v));
            *cursor += 1;
        }
    }
    if !sorted {
        present.sort_unstable_by_key(|p| p.0);
    }
}

impl Evaluator {
    /// Evaluates an instant-vector expression at every step, series by series (upstream
    /// `rangeEval`): each selected series is walked once with moving windows and its labels are
    /// worked out once, not once per step. `None` when `expr` is not an instant vector; the
    /// caller then evaluates step by step. Series may come out without samples; their labels
    /// are unique among the returned series.
    pub(crate) fn eval_over_steps(
        &mut self,
        expr: &Expr,
        steps: &Steps,
    ) -> Result<Option<Vec<StepSeries>>, QueryError> {
        let covered = match expr {
            Expr::Paren(p) => return self.eval_over_steps(&p.expr, steps),
            Expr::VectorSelector(vs) => Some(self.select_over_steps(vs, steps)?),
            Expr::Call(c) => functions::call_over_steps(self, c, steps)?,
            Expr::Aggregate(a) => aggregation::aggregate_over_steps(self, a, steps)?,
            Expr::Binary(b) => operators::binary_over_steps(self, b, steps)?,
            Expr::Unary(u) if u.expr.value_type() == ValueType::Vector => {
                operators::unary_over_steps(self, &u.expr, steps)?
            }
            _ => None,
        };
        if covered.is_some() || expr.value_type() != ValueType::Vector {
            return Ok(covered);
        }
        // Step by step, over operands evaluated series by series where they can be.
        let operands: Vec<&Expr> = match expr {
            // `timestamp` reads its selector's stored timestamps, which an operand's steps do
            // not keep.
            Expr::Call(c) if c.func.name == "timestamp" => Vec::new(),
            Expr::Call(c) => c.args.args.iter().map(|a| unwrap_parens(a)).collect(),
            Expr::Binary(b) => vec![unwrap_parens(&b.lhs), unwrap_parens(&b.rhs)],
            Expr::Unary(u) => vec![unwrap_parens(&u.expr)],
            Expr::Aggregate(a) => vec![unwrap_parens(&a.expr)],
            _ => Vec::new(),
        };
        self.step_by_step_over(expr, &operands, steps).map(Some)
    }

    /// The vectors of each step as the step-by-step evaluator would see them, for parts
    /// evaluated per step over inputs evaluated series by series: calls `f(ev, i, vectors)` for
    /// each step `i`, one vector per input, and gathers what it returns into series. Labels are
    /// copied per step here, so this is for small inputs (aggregated series) or rare operators.
    pub(crate) fn per_step(
        &mut self,
        inputs: Vec<Vec<StepSeries>>,
        steps: &Steps,
        mut f: impl FnMut(&mut Evaluator, usize, Vec<Vec<InstantSample>>) -> Result<Vec<InstantSample>, QueryError>,
    ) -> Result<Vec<StepSeries>, QueryError> {
        let mut cursors: Vec<Vec<usize>> = inputs.iter().map(|input| vec![0; input.len()]).collect();
        let mut present = Vec::new();
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<StepSeries> = Vec::new();
        for i in 0..steps.len() {
            let ts = steps.time(i);
            self.check_deadline()?;
            let mut vectors = Vec::with_capacity(inputs.len());
            for (input, cursors) in inputs.iter().zip(cursors.iter_mut()) {
                present_at(input, cursors, ts, &mut present);
                let vector = present
                    .iter()
                    .map(|&(_, series, v)| InstantSample { labels: input[series].labels.clone(), t: ts, v })
                    .collect();
                vectors.push(vector);
            }
            push_step(&mut out, &mut index, ts, f(self, i, vectors)?);
        }
        Ok(out)
    }

    /// Evaluates `expr` step by step, its instant-vector `operands` series by series where
    /// they allow it: the path for parts without a series-by-series form (label functions,
    /// `clamp`, `round`, ...), so that what lies below them still takes the fast path.
    pub(crate) fn step_by_step_over(
        &mut self,
        expr: &Expr,
        operands: &[&Expr],
        steps: &Steps,
    ) -> Result<Vec<StepSeries>, QueryError> {
        for operand in operands.iter().filter(|o| o.value_type() == ValueType::Vector) {
            if let Some(series) = self.eval_over_steps(operand, steps)? {
                self.over_steps.insert(*operand as *const Expr as usize, series);
            }
        }
        let mut index: HashMap<Labels, usize> = HashMap::new();
        let mut out: Vec<StepSeries> = Vec::new();
        for i in 0..steps.len() {
            let ts = steps.time(i);
            // A fresh step for `eval`, so that `step_samples` counts this step's loads alone.
            self.current_ts = None;
            self.step_peak = 0;
            let vector = self.eval_vector(expr, ts)?;
            self.step_loaded[i] += self.step_peak;
            push_step(&mut out, &mut index, ts, vector);
        }
        for operand in operands {
            self.over_steps.remove(&(*operand as *const Expr as usize));
        }
        Ok(out)
    }

    /// A scalar argument at every step.
    pub(crate) fn scalar_over_steps(&mut self, expr: &Expr, steps: &Steps) -> Result<Vec<f64>, QueryError> {
        (0..steps.len()).map(|i| self.eval_scalar(expr, steps.time(i))).collect()
    }

    /// An instant selector at every step: the newest non-stale sample in the lookback window.
    fn select_over_steps(&mut self, vs: &VectorSelector, steps: &Steps) -> Result<Vec<StepSeries>, QueryError> {
        let series = self.select(vs)?;
        let decoded = self.decoded.get(&(vs as *const VectorSelector as usize)).cloned();
        let ref_times: Vec<i64> = (0..steps.len()).map(|i| self.reference_time(vs, steps.time(i))).collect();
        let mut out = Vec::with_capacity(series.len());
        let mut buffer = Vec::new();
        for (index, series) in series.iter().enumerate() {
            self.check_deadline()?;
            let s = self.series_samples(series, decoded.as_deref().map(|d| &d[index]), &mut buffer)?;
            let mut samples = Vec::new();
            let mut newer = 0;
            for (i, &ref_t) in ref_times.iter().enumerate() {
                // Reference times never decrease, so the cursor only moves forward.
                while newer < s.len() && s[newer].t <= ref_t {
                    newer += 1;
                }
                let Some(p) = newer.checked_sub(1).map(|j| s[j]) else {
                    continue;
                };
                if p.t <= ref_t - self.lookback || is_stale_nan(p.v) {
                    continue;
                }
                self.step_loaded[i] += 1;
                samples.push(Sample { t: steps.time(i), v: p.v });
            }
            out.push(StepSeries { labels: series.labels.clone(), samples, order: Vec::new() });
        }
        Ok(out)
    }

    /// The samples of a selected series: `decoded`'s if the query decoded it already, else
    /// decoded into `buffer` (counted against the querier's budget).
    fn series_samples<'b>(
        &self,
        series: &Series,
        decoded: Option<&'b Decoded>,
        buffer: &'b mut Vec<Sample>,
    ) -> Result<&'b [Sample], QueryError> {
        if let Some(decoded) = decoded {
            return Ok(&decoded.samples);
        }
        let querier = self.querier.as_ref().expect("a query with a selector has a querier");
        if !querier.decode_into(series, buffer) {
            limit_error(querier)?;
        }
        Ok(buffer)
    }

    /// Calls `f(index, i, window, start, end)` for each selected series and each step `i` at
    /// which the series has non-stale samples in the selector's window `(start, end]`; the
    /// windows move forward over each series' samples once.
    pub(crate) fn range_windows_over_steps(
        &mut self,
        ms: &MatrixSelector,
        steps: &Steps,
        mut f: impl FnMut(usize, usize, &[Sample], i64, i64),
    ) -> Result<(), QueryError> {
        let series = self.select(&ms.vs)?;
        let decoded = self.decoded.get(&(&ms.vs as *const VectorSelector as usize)).cloned();
        let mut buffer = Vec::new();
        let range = duration_ms(ms.range);
        let ends: Vec<i64> = (0..steps.len()).map(|i| self.reference_time(&ms.vs, steps.time(i))).collect();
        let mut filtered = Vec::new();
        for (index, series) in series.iter().enumerate() {
            self.check_deadline()?;
            let s = self.series_samples(series, decoded.as_deref().map(|d| &d[index]), &mut buffer)?;
            let has_stale = s.iter().any(|p| is_stale_nan(p.v));
            let (mut from, mut to) = (0, 0);
            for (i, &end) in ends.iter().enumerate() {
                let start = end - range;
                while from < s.len() && s[from].t <= start {
                    from += 1;
                }
                to = to.max(from);
                while to < s.len() && s[to].t <= end {
                    to += 1;
                }
                let mut window = &s[from..to];
                if has_stale && window.iter().any(|p| is_stale_nan(p.v)) {
                    filtered.clear();
                    filtered.extend(window.iter().filter(|p| !is_stale_nan(p.v)).copied());
                    window = &filtered;
                }
                if window.is_empty() {
                    continue;
                }
                self.step_loaded[i] += window.len();
                f(index, i, window, start, end);
            }
        }
        Ok(())
    }

    /// Applies the step-by-step evaluator's sample limit to a result computed series by
    /// series (at each step: the samples loaded for it plus the output of earlier steps) and
    /// turns it into the query's matrix.
    fn finish_over_steps(&mut self, series: Vec<StepSeries>, steps: &Steps) -> Result<Vec<RangeSeries>, QueryError> {
        let mut output = vec![0usize; steps.len()];
        for s in &series {
            for p in &s.samples {
                output[steps.index(p.t)] += 1;
            }
        }
        let mut kept = 0;
        for (loaded, out) in self.step_loaded.iter().zip(&output) {
            if loaded + kept > self.max_samples {
                return Err(QueryError::TooManySamples);
            }
            kept += out;
        }
        let mut matrix: Vec<RangeSeries> = series
            .into_iter()
            .filter(|s| !s.samples.is_empty())
            .map(|s| RangeSeries { labels: s.labels, samples: s.samples })
            .collect();
        matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(matrix)
    }

    fn check_deadline(&self) -> Result<(), QueryError> {
        if Instant::now() > self.deadline { Err(QueryError::Timeout) } else { Ok(()) }
    }
}

fn unwrap_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

/// Whether two of the series have the same labels; such inputs are left to the step-by-step
/// evaluator, which fails only at steps where both have a sample.
pub(crate) fn has_duplicate_labels<'a>(labels: impl Iterator<Item = &'a Labels>) -> bool {
    let mut seen = HashSet::new();
    labels.into_iter().any(|l| !seen.insert(l))
}
