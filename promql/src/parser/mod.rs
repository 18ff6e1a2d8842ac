//! The PromQL front end: our own lexer, parser and type checker, faithful to Prometheus 3's
//! (upstream `promql/parser/`), producing promql-parser's `Expr` for the engine.
//!
//! `lex.rs` is upstream's lexer (states, items, error texts); `syntax.rs` its grammar as a
//! recursive-descent parser that records errors in the order upstream's LALR parser does and
//! words syntax errors by the rule upstream recovers in; `check.rs` its type checks; `lower.rs`
//! turns the checked tree into promql-parser's `Expr`. So every query gets Prometheus's answer,
//! byte for byte: the same error at the same `line:col`, or the same tree. promql-parser is
//! kept for its syntax tree, printer and serializer. Matchers are compiled by storage, with Go
//! RE2's meaning of `\d \w \s` and of `.`; `regex.rs` words bad patterns as Go does.
//!
//! Invariant: no expression deeper than [`MAX_DEPTH`] levels is ever built. The parser, the
//! checker, promql-parser's `Display`, `prettify` and `Drop`, and our evaluator all recurse once
//! per level, so a deeper tree could overflow the stack; [`parse`] refuses such a query from its
//! tokens alone (`depth.rs`). [`QUERY_STACK_SIZE`] is the stack that is enough for any
//! accepted tree.

mod ast;
mod check;
mod depth;
mod error;
mod functions;
mod lex;
mod lower;
mod number;
mod quote;
mod regex;
mod syntax;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promlite_storage::{METRIC_NAME, MatchOp, Matcher};
use promql_parser::label::MatchOp as ParserMatchOp;
use promql_parser::parser::{AtModifier, Expr, Offset, VectorSelector};

use crate::error::QueryError;
pub use error::{ParseError, Position};
pub use number::parse_duration as parse_model_duration;
pub use quote::quote as go_quote;

/// The deepest expression [`parse`] accepts, in levels: every bracket, function call,
/// aggregation and subquery is a level, and so is every operator in a row, since the parser
/// nests `a + b + c` as `(a + b) + c`. Real queries stay below about 50.
pub const MAX_DEPTH: usize = 1000;

/// The stack a thread needs to parse, evaluate, format, print as JSON and drop any expression
/// [`parse`] accepts, with room to spare. Measured at [`MAX_DEPTH`] levels: under 0.5 MiB in a
/// release build, up to 13 MiB in a debug build (nested `label_replace`; a debug build gives
/// every local of `functions::call` its own slot), so `depth_tests` checks that half of this is
/// enough. The Rust default for spawned threads, and tokio's, is 2 MiB.
pub const QUERY_STACK_SIZE: usize = 32 << 20;

/// The error for a query nested deeper than [`MAX_DEPTH`], promlite's own limit.
fn too_deep() -> QueryError {
    QueryError::Parse(ParseError::new(format!(
        "query is nested too deeply: more than {MAX_DEPTH} levels (promlite's limit)"
    )))
}

/// Parses a PromQL expression as Prometheus 3 does (upstream `ParseExpr`), no deeper than
/// [`MAX_DEPTH`]; an error never quotes more than a few hundred bytes of the query.
pub fn parse(query: &str) -> Result<Expr, QueryError> {
    parse_with(query, false)
}

/// [`parse`] with every experimental function enabled, as upstream's test engine runs its
/// promqltest files; the runner uses it to tell such evals apart and skip them.
#[cfg(test)]
pub(crate) fn parse_experimental(query: &str) -> Result<Expr, QueryError> {
    parse_with(query, true)
}

fn parse_with(query: &str, experimental_functions: bool) -> Result<Expr, QueryError> {
    if depth::nesting_depth(query, MAX_DEPTH) > MAX_DEPTH {
        return Err(too_deep());
    }
    let mut parser = syntax::Parser::new(query, lex::lex(query));
    parser.experimental_functions = experimental_functions;
    let parsed = parser.parse_query();
    if let Some(first) = parser.errors.into_iter().next() {
        return Err(QueryError::Parse(first));
    }
    let Ok(tree) = parsed else { unreachable!("a stopped parse records its error") };
    let mut checker = check::Checker::new(query);
    checker.check(&tree);
    if let Some(first) = checker.errors.into_iter().next() {
        return Err(QueryError::Parse(first));
    }
    lower::lower(&tree)
}

/// Parses a series selector such as `up{job="a"}` or `{__name__=~"x.*"}`, as the HTTP API's
/// `match[]` parameter takes it (upstream `ParseMetricSelector`), into storage matchers.
///
/// Like Prometheus, a selector in which every matcher matches the empty string is rejected,
/// since it would select every series.
pub fn parse_matchers(selector: &str) -> Result<Vec<Matcher>, QueryError> {
    if depth::nesting_depth(selector, MAX_DEPTH) > MAX_DEPTH {
        return Err(too_deep());
    }
    let mut parser = syntax::Parser::new(selector, lex::lex(selector));
    let parsed = parser.parse_selector();
    if let Some(first) = parser.errors.into_iter().next() {
        return Err(QueryError::Parse(first));
    }
    let Ok(tree) = parsed else { unreachable!("a stopped parse records its error") };
    let Expr::VectorSelector(vs) = lower::lower(&tree)? else { unreachable!("a selector lowers to a selector") };
    let matchers = selector_matchers(&vs)?;
    if matchers.iter().all(Matcher::matches_empty) {
        return Err(QueryError::BadData("match[] must contain at least one non-empty matcher".to_owned()));
    }
    Ok(matchers)
}

/// The storage matchers of a vector selector: its metric name, if written outside the braces,
/// plus every matcher inside them.
pub(crate) fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Matcher>, QueryError> {
    if !vs.matchers.or_matchers.is_empty() {
        return Err(QueryError::NotSupported("the \"or\" operator inside a vector selector".to_owned()));
    }
    let mut out = Vec::with_capacity(vs.matchers.matchers.len() + 1);
    if let Some(name) = &vs.name {
        out.push(Matcher::new(MatchOp::Equal, METRIC_NAME, name.as_str()).map_err(bad_regex)?);
    }
    for m in &vs.matchers.matchers {
        let op = match m.op {
            ParserMatchOp::Equal => MatchOp::Equal,
            ParserMatchOp::NotEqual => MatchOp::NotEqual,
            ParserMatchOp::Re(_) => MatchOp::Regex,
            ParserMatchOp::NotRe(_) => MatchOp::NotRegex,
        };
        out.push(Matcher::new(op, m.name.as_str(), m.value.as_str()).map_err(bad_regex)?);
    }
    Ok(out)
}

fn bad_regex(err: promlite_storage::BadRegex) -> QueryError {
    QueryError::Parse(ParseError::new(err.to_string()))
}

/// The type of an expression as Prometheus's messages name it (`DocumentedType`).
pub(crate) fn type_name(expr: &Expr) -> &'static str {
    use promql_parser::parser::value::ValueType;
    match expr.value_type() {
        ValueType::Scalar => "scalar",
        ValueType::String => "string",
        ValueType::Vector => "instant vector",
        ValueType::Matrix => "range vector",
    }
}

/// Milliseconds of a duration, saturating (durations this long are meaningless anyway).
pub(crate) fn duration_ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The signed offset in milliseconds; a positive offset looks into the past.
pub(crate) fn offset_ms(offset: Option<&Offset>) -> i64 {
    match offset {
        None => 0,
        Some(Offset::Pos(d)) => duration_ms(*d),
        Some(Offset::Neg(d)) => -duration_ms(*d),
    }
}

/// The time an `@` modifier pins evaluation to, or `None` without one.
pub(crate) fn at_ms(at: Option<&AtModifier>, start: i64, end: i64) -> Option<i64> {
    match at? {
        AtModifier::Start => Some(start),
        AtModifier::End => Some(end),
        AtModifier::At(time) => Some(system_time_ms(*time)),
    }
}

/// `expr` without the parentheses around it.
pub(crate) fn unwrap_parens(mut expr: &Expr) -> &Expr {
    while let Expr::Paren(p) = expr {
        expr = &p.expr;
    }
    expr
}

fn system_time_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => duration_ms(after),
        Err(before) => -duration_ms(before.duration()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_use_prometheus_wording() {
        let err = |q: &str| parse(q).unwrap_err().to_string();
        assert_eq!(
            err("rate(up)"),
            "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector"
        );
        assert_eq!(err("nosuchfn(up)"), "1:1: parse error: unknown function with name \"nosuchfn\"");
        assert_eq!(
            err("abs(1)"),
            "1:5: parse error: expected type instant vector in call to function \"abs\", got scalar"
        );
        assert_eq!(parse("up +").unwrap_err().error_type(), "bad_data");
    }

    #[test]
    fn byte_escapes_read_as_go_does() {
        let string = |q: &str| match parse(q) {
            Ok(Expr::StringLiteral(s)) => s.val,
            other => panic!("{other:?}"),
        };
        assert_eq!(string(r#""\xc3\xbf""#), "ÿ");
        assert_eq!(string(r#""a\x41\101\n""#), "aAA\n");
        assert_eq!(string(r#""\xff""#), "\u{fffd}");
        assert_eq!(string(r#"`\xff`"#), "\\xff");
        assert_eq!(string(r#"'\u00ff'"#), "ÿ");
        // A backslash before a multi-byte character must not split it.
        assert!(matches!(parse(r#""\é""#), Ok(_) | Err(QueryError::Parse(_))));
        assert_eq!(string(r#""é\\x""#), "é\\x");
    }

    // Prometheus 3's rules (upstream generated_parser.y `positive_duration_expr`,
    // `offset_duration_expr`, `durationLiteralOutOfRange`): a range or step must be above zero,
    // any duration must fit Go's `time.Duration`, an offset may be zero or negative.
    #[test]
    fn durations_are_checked_as_prometheus_checks_them() {
        let err = |q: &str| parse(q).unwrap_err().to_string();
        assert_eq!(
            err("sum_over_time((metric1_total)[301:0] offset 3s)"),
            "1:35: parse error: duration must be greater than 0"
        );
        assert_eq!(err("up[1e20]"), "1:4: parse error: duration out of range");
        assert_eq!(err("up[5m:18446744073709551616]"), "1:7: parse error: duration out of range");
        assert_eq!(err("up offset Inf"), "1:11: parse error: duration out of range");
        assert_eq!(err("up[1h4294967296m]"), "1:4: parse error: duration out of range");
        assert_eq!(err("up[5m:99999999999s]"), "1:7: parse error: duration out of range");
        assert_eq!(err("up offset -4000000000y"), "1:12: parse error: duration out of range");
        assert_eq!(
            err("changes(x[000000000000000000000000000000000000000000000000000000001877920885w777777777m])"),
            "1:11: parse error: duration out of range"
        );
        assert_eq!(err("up[5m:0x0]"), "1:7: parse error: duration must be greater than 0");
        assert_eq!(err("up[-5m]"), "1:4: parse error: duration must be greater than 0");
        assert_eq!(
            err("up[0xffffffffffffffffffff]"),
            "1:4: parse error: error parsing number: strconv.ParseFloat: parsing \"0xffffffffffffffffffff\": invalid syntax"
        );
        assert_eq!(err("up[5m+1m]"), "1:4: parse error: experimental duration expression is not enabled");
        assert_eq!(err("up offset (1h / 2)"), "1:12: parse error: experimental duration expression is not enabled");
        // Positive, if under a millisecond (promql-parser prints it as `up[]`).
        assert!(parse("up[0.0001]").is_ok());
        for fine in [
            "up[300]",
            "up[1.5]",
            "rate(up[0x3c])",
            "up offset -60",
            "up offset 0",
            "up[5m:30]",
            "up[010]",
            "up[1e3]",
            "up @ 100",
            "up[1h30m:1ms] offset 292y",
            "up[106751d]",
            "up offset 5m + 1",
        ] {
            let expr = parse(fine).unwrap_or_else(|err| panic!("{fine}: {err}"));
            let printed = expr.to_string();
            assert_eq!(parse(&printed).map(|again| again.to_string()), Ok(printed), "{fine}");
        }
    }

    // Texts from Prometheus 2.42's /api/v1/series for the same `match[]`
    // (upstream ParseMetricSelector: a vector selector alone, no type checks).
    #[test]
    fn parse_matchers_takes_selectors_only() {
        let show = |s: &str| match parse_matchers(s) {
            Ok(ms) => ms.iter().map(ToString::to_string).collect::<Vec<_>>().join(","),
            Err(err) => format!("{}: {err}", err.error_type()),
        };
        assert_eq!(show(r#"up{job="a"}"#), r#"__name__="up",job="a""#);
        assert_eq!(show(r#"{__name__=~"x.*"}"#), r#"__name__=~"x.*""#);
        assert_eq!(show("sum(up)"), "bad_data: 1:4: parse error: unexpected \"(\"");
        assert_eq!(show("up[5m]"), "bad_data: 1:3: parse error: unexpected \"[\"");
        assert_eq!(show("up offset 5m"), "bad_data: 1:4: parse error: unexpected <offset>");
        assert_eq!(show("{}"), "bad_data: match[] must contain at least one non-empty matcher");
        assert_eq!(show(r#"{a=~".*"}"#), "bad_data: match[] must contain at least one non-empty matcher");
        assert_eq!(show(r#"{a=~"("}"#), "bad_data: 1:2: parse error: error parsing regexp: missing closing ): `(`");
    }
}
