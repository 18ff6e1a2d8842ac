//! Window maths of a query, worked out from the AST before evaluation: the time range every
//! selector may read (one querier serves the whole query), and the steps of a range query.
//! Invariant: a selector never reads outside [`selection_window`]; `@` and `offset` are applied
//! here exactly as the evaluator applies them per step.

use promql_parser::parser::{Expr, VectorSelector};

use crate::parser::{at_ms, duration_ms, offset_ms};

/// `[mint, maxt]` covering every sample any selector in `expr` may read during a query from
/// `start` to `end`, or `None` when `expr` has no selector.
pub(super) fn selection_window(expr: &Expr, start: i64, end: i64, lookback: i64) -> Option<(i64, i64)> {
    let mut window = None;
    widen_window(expr, start, end, (start, end), lookback, &mut window);
    window
}

/// `query` is what `@ start()` and `@ end()` mean, which stays the outer query's range inside
/// subqueries.
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
    pub(super) fn new(start: i64, end: i64, step: i64) -> Option<Steps> {
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
