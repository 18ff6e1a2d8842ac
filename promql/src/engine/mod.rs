//! The query engine (upstream `promql/engine.go`): instant and range queries over a [`Db`].
//!
//! A query is parsed once, its selectors' time window is worked out from the AST
//! (`window.rs`), and one [`Querier`] over that window serves every selector; each selector's
//! series are fetched once per query and cached (`evaluator.rs`). A range query with an
//! instant-vector result is evaluated series by series ([`Evaluator::eval_over_steps`],
//! `over_steps.rs`): for selectors, range-vector and math functions, aggregations and
//! vector-scalar operators, each series' samples are walked once with a moving window across
//! all steps and its labels are worked out once; other parts (vector matching, label
//! functions, subqueries, series whose labels collide once `__name__` is dropped, ...) are
//! evaluated step by step over operands computed that way. Scalar results and instant queries
//! are evaluated step by step, each step an instant evaluation at the step's time. Both paths
//! give the same result, to the bit (tests compare them).
//! Invariants: the evaluator never reads storage outside the window computed up front; `@`
//! and `offset` move a selector's reference time per step, never backwards across steps.
//!
//! This file owns the public API ([`Engine`], [`EngineOptions`], [`QueryOptions`]) and the
//! loop of a range query; `functions`, `aggregation` and `operators` see the engine only
//! through the [`Evaluator`] and its series-by-series types re-exported here.
//!
//! [`Querier`]: promlite_storage::Querier

mod evaluator;
mod over_steps;
mod window;

use foldhash::{HashMap, HashMapExt};
use std::time::{Duration, Instant};

use promlite_storage::{Db, Labels, Sample};
use promql_parser::parser::Expr;
use promql_parser::parser::value::ValueType;

use crate::error::QueryError;
use crate::parser::{parse, type_name};
use crate::value::{InstantSample, QueryResult, QueryTimings, RangeSeries, Value};
pub(crate) use evaluator::{Evaluator, Val};
pub(crate) use over_steps::{StepSeries, present_at};
pub(crate) use window::Steps;

/// Settings from `--query.*` flags.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// `--query.lookback-delta`: how far back an instant selector looks for a sample, ms.
    pub lookback_delta_ms: i64,
    /// `--query.max-samples`: samples a query may hold in memory at once.
    pub max_samples: usize,
    /// `--query.timeout`.
    pub timeout: Duration,
    /// The step of a subquery written without one (`x[5m:]`), ms: Prometheus uses the global
    /// `evaluation_interval` (1m by default); `promlite test rules` the test file's.
    pub default_subquery_step_ms: i64,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            lookback_delta_ms: 300_000,
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            default_subquery_step_ms: 60_000,
        }
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
        let started = Instant::now();
        let mut ev = Evaluator::new(db, expr, time_ms, time_ms, 1, &self.options);
        let prepared = Instant::now();
        let value = match ev.eval(expr, time_ms)? {
            Val::Scalar(v) => Value::Scalar { t: time_ms, v },
            Val::String(s) => Value::String { t: time_ms, s },
            Val::Vector(vector) => Value::Vector(vector),
            Val::Matrix(matrix) => Value::Matrix(matrix),
        };
        ev.note_held(match &value {
            Value::Scalar { .. } => 1,
            Value::String { .. } => 0,
            Value::Vector(vector) => vector.len(),
            Value::Matrix(matrix) => matrix.iter().map(|s| s.samples.len()).sum(),
        });
        let (warnings, infos) = ev.annotations();
        let timings =
            QueryTimings { prepare: prepared - started, inner_eval: prepared.elapsed(), ..QueryTimings::default() };
        Ok(QueryResult { value, warnings, infos, timings, samples: ev.samples })
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
        self.range_query_paths(db, expr, start_ms, end_ms, step_ms, RangePath::SeriesBySeries).map(|(result, _)| result)
    }

    /// [`Engine::range_query_expr`], series by series where the expression allows it when
    /// `path` is [`RangePath::SeriesBySeries`], else step by step; also says which path
    /// answered. Tests compare the two paths.
    pub(crate) fn range_query_paths(
        &self,
        db: &Db,
        expr: &Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        path: RangePath,
    ) -> Result<(QueryResult, RangePath), QueryError> {
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
        let started = Instant::now();
        let mut ev = Evaluator::new(db, expr, start_ms, end_ms, steps, &self.options);
        let prepared = Instant::now();
        let timings = |sorted: Instant, sort: std::time::Duration| QueryTimings {
            prepare: prepared - started,
            inner_eval: sorted - prepared - sort,
            result_sort: sort,
        };
        ev.range_query = true;
        ev.read_grid = (start_ms, step_ms);
        if let Some(steps) = Steps::new(start_ms, end_ms, step_ms).filter(|_| path == RangePath::SeriesBySeries) {
            let annotations = (ev.warnings.len(), ev.infos.len());
            ev.step_loaded = vec![0; steps.len()];
            if let Some(series) = ev.eval_over_steps(expr, &steps)? {
                let (matrix, sort) = ev.finish_over_steps(series, &steps)?;
                let (warnings, infos) = ev.annotations();
                let timings = timings(Instant::now(), sort);
                let result =
                    QueryResult { value: Value::Matrix(matrix), warnings, infos, timings, samples: ev.samples };
                return Ok((result, RangePath::SeriesBySeries));
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
            ev.note_held(ev.kept_samples);
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
        let sorting = Instant::now();
        matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
        let sorted = Instant::now();
        let (warnings, infos) = ev.annotations();
        let timings = timings(sorted, sorted - sorting);
        let result = QueryResult { value: Value::Matrix(matrix), warnings, infos, timings, samples: ev.samples };
        Ok((result, RangePath::StepByStep))
    }
}

/// How a range query is evaluated (upstream has only the series-by-series `rangeEval`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangePath {
    /// Each selector's series decoded once and walked across all steps, where the expression
    /// allows it (`Evaluator::eval_over_steps`); step by step otherwise.
    SeriesBySeries,
    /// The whole expression evaluated at each step: the referee tests compare against.
    StepByStep,
}
