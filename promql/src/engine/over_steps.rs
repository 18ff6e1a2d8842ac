//! The series-by-series evaluation of range queries (upstream `rangeEval`): an
//! instant-vector expression evaluated at every step at once, one [`StepSeries`] per output
//! series, each selected series decoded into one buffer and walked once with moving windows;
//! parts without such a form run step by step over operands computed this way
//! ([`Evaluator::step_by_step_over`], [`Evaluator::per_step`]).
//! Invariant: the result, its order and the samples it counts against the limit are the
//! step-by-step path's, to the bit (`series_by_series_range_evaluation_matches_step_by_step`).

use foldhash::{HashMap, HashMapExt};

use promlite_storage::{Labels, Sample, Series, is_stale_nan};
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{Expr, MatrixSelector, VectorSelector};

use super::evaluator::{Evaluator, limit_error};
use super::window::Steps;
use crate::error::QueryError;
use crate::parser::{duration_ms, unwrap_parens};
use crate::value::{InstantSample, RangeSeries};
use crate::{aggregation, functions, operators};

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
pub(super) fn vector_at(series: &[StepSeries], ts: i64) -> Vec<InstantSample> {
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
        // A part not covered may have counted the samples of operands it evaluated before
        // giving up; the step-by-step evaluation that replaces it counts them again.
        let counted = (self.samples.total, self.samples.read);
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
        if covered.is_none() {
            (self.samples.total, self.samples.read) = counted;
        }
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
        let ref_times: Vec<i64> = (0..steps.len()).map(|i| self.reference_time(vs, steps.time(i))).collect();
        let mut out = Vec::with_capacity(series.len());
        let mut buffer = Vec::new();
        // Upstream holds the selector's samples of every step at once.
        let mut held = 0;
        for series in series.iter() {
            self.check_deadline()?;
            let s = self.series_samples(series, &mut buffer)?;
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
                self.samples.total += 1;
                if i == 0 || vs.at.is_none() {
                    self.count_read(1);
                }
                samples.push(Sample { t: steps.time(i), v: p.v });
            }
            held += samples.len();
            self.note_held(held);
            out.push(StepSeries { labels: series.labels.clone(), samples, order: Vec::new() });
        }
        Ok(out)
    }

    /// The samples of a selected series: its own if the query decoded it already, else
    /// decoded into `buffer` (counted against the querier's budget).
    fn series_samples<'b>(&self, series: &'b Series, buffer: &'b mut Vec<Sample>) -> Result<&'b [Sample], QueryError> {
        if let Some(samples) = series.decoded() {
            return Ok(samples);
        }
        let querier = self.querier.as_ref().expect("a query with a selector has a querier");
        if !querier.decode_into(series, buffer) {
            limit_error(querier)?;
        }
        Ok(buffer)
    }

    /// Calls `f(index, i, window, start, end)` for each selected series and each step `i` at
    /// which the series has non-stale samples in the selector's window `(start, end]`; the
    /// windows move forward over each series' samples once. `f` says whether it gave an
    /// output sample, for `peakSamples`: upstream holds the outputs of the series before and
    /// one series' window at a time.
    pub(crate) fn range_windows_over_steps(
        &mut self,
        ms: &MatrixSelector,
        steps: &Steps,
        mut f: impl FnMut(usize, usize, &[Sample], i64, i64) -> bool,
    ) -> Result<(), QueryError> {
        let series = self.select(&ms.vs)?;
        let mut buffer = Vec::new();
        let range = duration_ms(ms.range);
        let ends: Vec<i64> = (0..steps.len()).map(|i| self.reference_time(&ms.vs, steps.time(i))).collect();
        let mut filtered = Vec::new();
        let (mut outputs, mut read) = (0, 0);
        for (index, series) in series.iter().enumerate() {
            self.check_deadline()?;
            let s = self.series_samples(series, &mut buffer)?;
            let has_stale = s.iter().any(|p| is_stale_nan(p.v));
            let (mut from, mut to) = (0, 0);
            let (mut series_outputs, mut last_window) = (0, 0);
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
                last_window = window.len();
                if window.is_empty() {
                    continue;
                }
                self.step_loaded[i] += window.len();
                self.samples.total += window.len() as u64;
                // Past the first step only the points the previous step's window ended
                // before are read, and a step-invariant window (`@`) is not read again.
                read += match () {
                    _ if i == 0 => window.len(),
                    _ if ms.vs.at.is_some() => 0,
                    _ => window.len() - window.partition_point(|p| p.t <= end - steps.step),
                };
                self.note_held(outputs + window.len());
                series_outputs += usize::from(f(index, i, window, start, end));
            }
            self.note_held(outputs + last_window + series_outputs);
            outputs += series_outputs;
        }
        self.count_read(read);
        Ok(())
    }

    /// Applies the step-by-step evaluator's sample limit to a result computed series by
    /// series (at each step: the samples loaded for it plus the output of earlier steps) and
    /// turns it into the query's matrix; also says how long sorting it took.
    pub(super) fn finish_over_steps(
        &mut self,
        series: Vec<StepSeries>,
        steps: &Steps,
    ) -> Result<(Vec<RangeSeries>, std::time::Duration), QueryError> {
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
        self.note_held(kept);
        let mut matrix: Vec<RangeSeries> = series
            .into_iter()
            .filter(|s| !s.samples.is_empty())
            .map(|s| RangeSeries { labels: s.labels, samples: s.samples })
            .collect();
        let sorting = std::time::Instant::now();
        matrix.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok((matrix, sorting.elapsed()))
    }
}
