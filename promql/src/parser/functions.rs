//! The functions PromQL knows, with their argument and return types (upstream
//! `promql/parser/functions.go` of Prometheus 3.14, the same table as `docs/querying/functions.md`).
//!
//! Prometheus 3 refuses its experimental functions unless started with
//! `--enable-feature=promql-experimental-functions`. promlite accepts the experimental functions
//! it implements (`sort_by_label`, `sort_by_label_desc`: issue #16) and refuses the others with
//! Prometheus's own message, so a query never reaches the engine for a function it lacks.

use super::ast::ValueType::{self, Matrix, Scalar, String, Vector};

/// One function's signature (upstream `Function`).
#[derive(Debug)]
pub(crate) struct Function {
    pub(crate) name: &'static str,
    pub(crate) arg_types: &'static [ValueType],
    /// 0: exactly `arg_types`; n > 0: up to n more of the last type; -1: any number more.
    pub(crate) variadic: i32,
    pub(crate) return_type: ValueType,
    /// Behind `promql-experimental-functions` upstream.
    pub(crate) experimental: bool,
}

impl Function {
    /// Whether a query may call it: stable, or experimental and implemented by promlite.
    pub(crate) fn enabled(&self) -> bool {
        !self.experimental || matches!(self.name, "sort_by_label" | "sort_by_label_desc")
    }
}

macro_rules! functions {
    ($($name:literal: [$($arg:ident),*] $variadic:literal -> $ret:ident $(, $experimental:ident)?;)*) => {
        static FUNCTIONS: &[Function] = &[$(Function {
            name: $name,
            arg_types: &[$($arg),*],
            variadic: $variadic,
            return_type: $ret,
            experimental: functions!(@experimental $($experimental)?),
        }),*];
    };
    (@experimental experimental) => { true };
    (@experimental) => { false };
}

functions! {
    "abs": [Vector] 0 -> Vector;
    "absent": [Vector] 0 -> Vector;
    "absent_over_time": [Matrix] 0 -> Vector;
    "acos": [Vector] 0 -> Vector;
    "acosh": [Vector] 0 -> Vector;
    "asin": [Vector] 0 -> Vector;
    "asinh": [Vector] 0 -> Vector;
    "atan": [Vector] 0 -> Vector;
    "atanh": [Vector] 0 -> Vector;
    "avg_over_time": [Matrix] 0 -> Vector;
    "ceil": [Vector] 0 -> Vector;
    "changes": [Matrix] 0 -> Vector;
    "clamp": [Vector, Scalar, Scalar] 0 -> Vector;
    "clamp_max": [Vector, Scalar] 0 -> Vector;
    "clamp_min": [Vector, Scalar] 0 -> Vector;
    "cos": [Vector] 0 -> Vector;
    "cosh": [Vector] 0 -> Vector;
    "count_over_time": [Matrix] 0 -> Vector;
    "days_in_month": [Vector] 1 -> Vector;
    "day_of_month": [Vector] 1 -> Vector;
    "day_of_week": [Vector] 1 -> Vector;
    "day_of_year": [Vector] 1 -> Vector;
    "deg": [Vector] 0 -> Vector;
    "end": [] 0 -> Scalar, experimental;
    "delta": [Matrix] 0 -> Vector;
    "deriv": [Matrix] 0 -> Vector;
    "exp": [Vector] 0 -> Vector;
    "first_over_time": [Matrix] 0 -> Vector;
    "floor": [Vector] 0 -> Vector;
    "histogram_avg": [Vector] 0 -> Vector;
    "histogram_count": [Vector] 0 -> Vector;
    "histogram_sum": [Vector] 0 -> Vector;
    "histogram_stddev": [Vector] 0 -> Vector;
    "histogram_stdvar": [Vector] 0 -> Vector;
    "histogram_fraction": [Scalar, Scalar, Vector] 0 -> Vector;
    "histogram_quantile": [Scalar, Vector] 0 -> Vector;
    "histogram_quantiles": [Vector, String, Scalar, Scalar] 9 -> Vector, experimental;
    "double_exponential_smoothing": [Matrix, Scalar, Scalar] 0 -> Vector, experimental;
    "hour": [Vector] 1 -> Vector;
    "idelta": [Matrix] 0 -> Vector;
    "increase": [Matrix] 0 -> Vector;
    "info": [Vector, Vector] 1 -> Vector, experimental;
    "irate": [Matrix] 0 -> Vector;
    "label_replace": [Vector, String, String, String, String] 0 -> Vector;
    "label_join": [Vector, String, String, String] -1 -> Vector;
    "max_of": [Scalar, Scalar] 0 -> Scalar, experimental;
    "last_over_time": [Matrix] 0 -> Vector;
    "min_of": [Scalar, Scalar] 0 -> Scalar, experimental;
    "ln": [Vector] 0 -> Vector;
    "log10": [Vector] 0 -> Vector;
    "log2": [Vector] 0 -> Vector;
    "mad_over_time": [Matrix] 0 -> Vector, experimental;
    "max_over_time": [Matrix] 0 -> Vector;
    "min_over_time": [Matrix] 0 -> Vector;
    "ts_of_first_over_time": [Matrix] 0 -> Vector, experimental;
    "ts_of_max_over_time": [Matrix] 0 -> Vector, experimental;
    "ts_of_min_over_time": [Matrix] 0 -> Vector, experimental;
    "ts_of_last_over_time": [Matrix] 0 -> Vector, experimental;
    "minute": [Vector] 1 -> Vector;
    "month": [Vector] 1 -> Vector;
    "pi": [] 0 -> Scalar;
    "predict_linear": [Matrix, Scalar] 0 -> Vector;
    "present_over_time": [Matrix] 0 -> Vector;
    "quantile_over_time": [Scalar, Matrix] 0 -> Vector;
    "rad": [Vector] 0 -> Vector;
    "range": [] 0 -> Scalar, experimental;
    "rate": [Matrix] 0 -> Vector;
    "resets": [Matrix] 0 -> Vector;
    "round": [Vector, Scalar] 1 -> Vector;
    "scalar": [Vector] 0 -> Scalar;
    "sgn": [Vector] 0 -> Vector;
    "sin": [Vector] 0 -> Vector;
    "sinh": [Vector] 0 -> Vector;
    "sort": [Vector] 0 -> Vector;
    "sort_desc": [Vector] 0 -> Vector;
    "sort_by_label": [Vector, String] -1 -> Vector, experimental;
    "sort_by_label_desc": [Vector, String] -1 -> Vector, experimental;
    "sqrt": [Vector] 0 -> Vector;
    "start": [] 0 -> Scalar, experimental;
    "start_timestamp": [Vector] 0 -> Vector, experimental;
    "step": [] 0 -> Scalar, experimental;
    "stddev_over_time": [Matrix] 0 -> Vector;
    "stdvar_over_time": [Matrix] 0 -> Vector;
    "sum_over_time": [Matrix] 0 -> Vector;
    "tan": [Vector] 0 -> Vector;
    "tanh": [Vector] 0 -> Vector;
    "time": [] 0 -> Scalar;
    "timestamp": [Vector] 0 -> Vector;
    "vector": [Scalar] 0 -> Vector;
    "year": [Vector] 1 -> Vector;
}

/// The function named `name`, exactly (names are case-sensitive).
pub(crate) fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// promql-parser's description of the function, for the tree the engine evaluates.
pub(crate) fn crate_function(function: &Function) -> promql_parser::parser::Function {
    use promql_parser::parser::value::ValueType as V;
    let convert = |t: ValueType| match t {
        Scalar => V::Scalar,
        Vector => V::Vector,
        Matrix => V::Matrix,
        String => V::String,
    };
    promql_parser::parser::Function::new(
        function.name,
        function.arg_types.iter().map(|&t| convert(t)).collect(),
        function.variadic,
        convert(function.return_type),
        function.experimental,
    )
}
