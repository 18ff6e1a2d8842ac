//! How deeply a query nests, counted from its tokens before anything is built: the parser,
//! the type checker, promql-parser's `Display`, `prettify` and `Drop`, and the evaluator all
//! recurse once per level, so `parse` refuses a query deeper than [`MAX_DEPTH`] from this
//! count alone. The scanner here is deliberately coarser than `lex.rs`: it never fails, and
//! it ends strings and comments no later than the lexer does, so no bracket or operator the
//! parser sees is hidden from the count.

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Kind {
    Identifier,
    Number,
    String,
    Duration,
    Operator,
    Open,
    Close,
    Comma,
    Other,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'a> {
    pub(crate) kind: Kind,
    pub(crate) text: &'a str,
}

const WORD_OPERATORS: &[&str] = &["and", "or", "unless", "atan2"];

/// The tokens of a query, one at a time. Strings and comments end where promql-parser's lexer
/// ends them, or earlier (a raw string at its first backtick), never later, so that no operator
/// or bracket the parser sees is hidden from `parser.rs`'s nesting bound.
pub(crate) struct Scanner<'a> {
    query: &'a str,
    i: usize,
    /// The offset of the quote of a string that runs to the end of the query, once reached.
    pub(crate) unterminated: Option<usize>,
}

impl<'a> Scanner<'a> {
    pub(crate) fn new(query: &'a str) -> Scanner<'a> {
        Scanner { query, i: 0, unterminated: None }
    }
}

impl<'a> Iterator for Scanner<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let query = self.query;
        let bytes = query.as_bytes();
        let mut i = self.i;
        while i < bytes.len() {
            let c = bytes[i];
            let start = i;
            let kind = match c {
                b' ' | b'\t' | b'\n' | b'\r' => {
                    i += 1;
                    continue;
                }
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                        i += 1;
                    }
                    continue;
                }
                b'"' | b'\'' | b'`' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != c {
                        i += if bytes[i] == b'\\' && c != b'`' { 2 } else { 1 };
                    }
                    if i >= bytes.len() {
                        self.unterminated = Some(start);
                        self.i = bytes.len();
                        return None;
                    }
                    i += 1;
                    Kind::String
                }
                b'(' | b'{' | b'[' => {
                    i += 1;
                    Kind::Open
                }
                b')' | b'}' | b']' => {
                    i += 1;
                    Kind::Close
                }
                b',' => {
                    i += 1;
                    Kind::Comma
                }
                b'0'..=b'9' | b'.' => {
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                        i += 1;
                    }
                    let text = &query[start..i];
                    if text.ends_with(['s', 'm', 'h', 'd', 'w', 'y']) && !text.starts_with("0x") {
                        Kind::Duration
                    } else {
                        Kind::Number
                    }
                }
                c if c.is_ascii_alphabetic() || c == b'_' || c == b':' => {
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':')
                    {
                        i += 1;
                    }
                    // The lexer reads keywords in any case: `AND` is `and`.
                    let word = &query[start..i];
                    if WORD_OPERATORS.iter().any(|op| op.eq_ignore_ascii_case(word)) {
                        Kind::Operator
                    } else {
                        Kind::Identifier
                    }
                }
                b'+' | b'-' | b'*' | b'/' | b'%' | b'^' | b'=' | b'!' | b'<' | b'>' | b'@' => {
                    i += 1;
                    if i < bytes.len() && matches!(bytes[i], b'=' | b'~') {
                        i += 1;
                    }
                    if c == b'@' { Kind::Other } else { Kind::Operator }
                }
                _ => {
                    i += query[i..].chars().next().map_or(1, char::len_utf8);
                    Kind::Other
                }
            };
            self.i = i;
            return Some(Token { kind, text: &query[start..i] });
        }
        self.i = i;
        None
    }
}

/// One open bracket of [`nesting_depth`]'s scan, and the levels seen inside it so far.
struct Group {
    kind: GroupKind,
    /// The deepest comma-separated part (argument) already closed.
    deepest: usize,
    /// Operators in the current part: each may nest everything before it one level deeper.
    operators: usize,
    /// The deepest bracket closed inside the current part.
    inner: usize,
    /// A `[...]` with a `:` in it: a subquery, which nests the expression before it.
    subquery: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum GroupKind {
    /// The whole query, or `(...)`: a parenthesis, call or aggregation, one level.
    Paren,
    /// `by (...)`, `on (...)` and the like: label names, no level.
    Labels,
    /// `{...}`: label matchers, no level.
    Braces,
    /// `[...]`: a range, no level; a subquery adds one to the part it follows.
    Brackets,
}

/// How deeply promql-parser would nest the expression `query`, from its tokens: never less than
/// the depth of any tree the parser builds from them, equal to it for plain nesting and plain
/// operator chains. Stops counting once the answer is known to exceed `max`.
pub(crate) fn nesting_depth(query: &str, max: usize) -> usize {
    let new_group = |kind| Group { kind, deepest: 0, operators: 0, inner: 0, subquery: false };
    // The query itself is a group that adds no level of its own.
    let mut open = vec![new_group(GroupKind::Paren)];
    let mut previous: Option<&str> = None;
    for token in Scanner::new(query) {
        let nested = open.len() > 1;
        let group = open.last_mut().expect("the query's own group is never closed");
        match (token.kind, token.text) {
            (Kind::Open, "(") => {
                let labels = previous.is_some_and(|word| {
                    ["by", "without", "on", "ignoring", "group_left", "group_right"]
                        .iter()
                        .any(|keyword| keyword.eq_ignore_ascii_case(word))
                });
                open.push(new_group(if labels { GroupKind::Labels } else { GroupKind::Paren }));
                // All but the innermost two groups are parentheses in any query that parses
                // (labels, braces and ranges hold none), each a level: no need to look further.
                if open.len() > max + 3 {
                    return max + 1;
                }
            }
            (Kind::Open, "{") => open.push(new_group(GroupKind::Braces)),
            (Kind::Open, _) => open.push(new_group(GroupKind::Brackets)),
            (Kind::Close, _) if nested => close_group(&mut open),
            (Kind::Comma, _) => {
                group.deepest = group.deepest.max(group.operators + group.inner);
                group.operators = 0;
                group.inner = 0;
            }
            (Kind::Operator, _) if !matches!(group.kind, GroupKind::Braces | GroupKind::Labels) => group.operators += 1,
            (_, text) if group.kind == GroupKind::Brackets && text.contains(':') => group.subquery = true,
            _ => {}
        }
        previous = Some(token.text);
    }
    // Brackets left open make the lexer fail, but count them anyway.
    while open.len() > 1 {
        close_group(&mut open);
    }
    let query = &open[0];
    query.deepest.max(query.operators + query.inner)
}

/// Closes the innermost open group, counting its levels into the one around it.
fn close_group(open: &mut Vec<Group>) {
    let closed = open.pop().expect("a group to close");
    let levels = match closed.kind {
        GroupKind::Paren => 1 + closed.deepest.max(closed.operators + closed.inner),
        GroupKind::Labels | GroupKind::Braces | GroupKind::Brackets => 0,
    };
    let parent = open.last_mut().expect("the query's own group is never closed");
    parent.inner = parent.inner.max(levels);
    if closed.subquery {
        parent.operators += 1;
    }
}

#[cfg(test)]
mod depth_tests {
    use promql_parser::parser::Expr;

    use super::*;
    use crate::parser::{MAX_DEPTH, QUERY_STACK_SIZE, parse};
    use crate::promqltest::{db, load};
    use crate::{Engine, EngineOptions};

    /// The depth of a tree, counted without recursing.
    fn ast_depth(expr: &Expr) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(expr, 0)];
        while let Some((expr, depth)) = stack.pop() {
            deepest = deepest.max(depth);
            let children: Vec<&Expr> = match expr {
                Expr::Aggregate(a) => a.param.iter().map(|p| &**p).chain([&*a.expr]).collect(),
                Expr::Unary(u) => vec![&u.expr],
                Expr::Binary(b) => vec![&b.lhs, &b.rhs],
                Expr::Paren(p) => vec![&p.expr],
                Expr::Subquery(s) => vec![&s.expr],
                Expr::Call(c) => c.args.args.iter().map(|a| &**a).collect(),
                _ => vec![],
            };
            stack.extend(children.into_iter().map(|child| (child, depth + 1)));
        }
        deepest
    }

    /// Runs `f` on a thread with `stack` bytes of stack (the test harness's threads have 2 MiB).
    fn on_stack<T: Send>(stack: usize, f: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            std::thread::Builder::new().stack_size(stack).spawn_scoped(scope, f).unwrap().join().unwrap()
        })
    }

    fn wrapped(open: &str, inner: &str, close: &str, levels: usize) -> String {
        format!("{}{inner}{}", open.repeat(levels), close.repeat(levels))
    }

    /// Queries exactly `levels` deep, one per shape of nesting.
    fn shapes(levels: usize) -> Vec<(&'static str, String)> {
        vec![
            ("parentheses", wrapped("(", "1", ")", levels)),
            ("scalar chain", format!("1{}", "+1".repeat(levels))),
            ("vector chain", format!("up{}", " + up".repeat(levels))),
            ("set operators", format!("up{}", " AND up".repeat(levels))),
            ("aggregations", wrapped("sum by (job) (", "up", ")", levels)),
            ("topk", wrapped("topk(1, ", "up", ")", levels)),
            ("calls", wrapped("abs(", "vector(1)", ")", levels - 1)),
            ("label_replace", wrapped("label_replace(", "vector(1)", r#", "a", "b", "c", "d")"#, levels - 1)),
            ("label_join", wrapped("label_join(", "up", r#", "a", ",", "job")"#, levels)),
            ("histogram_quantile", wrapped("histogram_quantile(0.9, ", "up", ")", levels)),
            ("unary minus", format!("{}up", "-".repeat(levels))),
            ("subqueries", wrapped("max_over_time(", "up", "[1m:1m])", levels / 2)),
        ]
    }

    #[test]
    fn nesting_is_counted_as_the_parser_nests() {
        // (query, levels counted); the tree is never deeper, and as deep where marked exact.
        let table = [
            ("1", 0, true),
            ("(1)", 1, true),
            ("1 + 1 + 1", 2, true),
            ("a * b + c * d", 3, false),
            ("sum by (job) (rate(x[5m]))", 2, true),
            ("sum(rate(x[5m])) without (instance)", 2, true),
            ("max_over_time(rate(x[5m])[10m:1m])", 3, true),
            ("up + on(job) group_left(x) up", 1, true),
            ("up + IGNORING(job) up", 1, true),
            ("clamp(up + up + up, 0, 1)", 3, true),
            ("-up", 1, true),
            ("-1", 1, false),
            ("up AND up Or up", 2, true),
            (r#"label_replace(up, "a", "((((", "b", "")"#, 1, true),
            (r#"{__name__=~"a|b", job!="x"}"#, 0, true),
            ("up # ((((\n", 0, true),
            // The lexer ends a comment at a carriage return, too.
            ("up # x\r+ up", 1, true),
            ("x @ start()", 1, false),
            ("topk(3, sum by (a) (up)) / ignoring(a) group_right sum(up)", 3, true),
        ];
        for (query, levels, exact) in table {
            let expr = parse(query).unwrap_or_else(|err| panic!("{query:?}: {err}"));
            assert_eq!(nesting_depth(query, MAX_DEPTH), levels, "{query:?}");
            let depth = ast_depth(&expr);
            assert!(depth <= levels, "{query:?}: the tree is {depth} deep, counted {levels}");
            assert_eq!(depth == levels, exact, "{query:?}: tree {depth}, counted {levels}");
        }
    }

    #[test]
    fn the_limit_is_max_depth_levels() {
        on_stack(QUERY_STACK_SIZE, || {
            for ((shape, deepest), (_, too_deep)) in shapes(MAX_DEPTH).into_iter().zip(shapes(MAX_DEPTH + 2)) {
                let expr = parse(&deepest).unwrap_or_else(|err| panic!("{shape}: {err}"));
                assert_eq!(ast_depth(&expr), MAX_DEPTH, "{shape}");
                let err = parse(&too_deep).unwrap_err();
                assert_eq!(err.error_type(), "bad_data", "{shape}");
                assert_eq!(
                    err.to_string(),
                    "unknown position: parse error: query is nested too deeply: more than 1000 levels (promlite's limit)",
                    "{shape}"
                );
            }
            // One level more, in each of the simplest shapes.
            assert!(parse(&wrapped("(", "1", ")", MAX_DEPTH + 1)).is_err());
            assert!(parse(&format!("1{}", "+1".repeat(MAX_DEPTH + 1))).is_err());
            assert!(parse(&wrapped("sum(", "up", ")", MAX_DEPTH + 1)).is_err());
        });
    }

    #[test]
    fn hostile_queries_are_refused_without_building_a_tree() {
        let hostile = [
            format!("1{}", "+1".repeat(4_249)),
            wrapped("sum(", "up", ")", 3_700),
            wrapped("(", "1", ")", 50_000),
            // Unclosed: refused before the lexer's own complaint.
            "(".repeat(2_000_000),
            format!("up # x\r{}", "+ up".repeat(5_000)),
        ];
        // The harness's 2 MiB thread is enough: nothing deep is ever built.
        for query in hostile {
            let err = parse(&query).unwrap_err().to_string();
            assert!(err.contains("nested too deeply"), "{}…: {err}", &query[..20]);
        }
    }

    #[test]
    fn errors_never_quote_a_giant_query() {
        let long = "x".repeat(100_000);
        for query in [format!("# {long}"), format!("nosuch{long}(up)"), format!("up{{a=\"b\"}} {long}")] {
            let err = parse(&query).unwrap_err().to_string();
            assert!(err.len() < 400, "{} bytes: {}…", err.len(), &err[..100]);
        }
        let err = parse(&format!("nosuch{long}(up)")).unwrap_err().to_string();
        assert!(err.starts_with("1:1: parse error: unknown function with name \"nosuchxxx"), "{err}");
        assert!(err.ends_with("xxx… (99735 more bytes)"), "{err}");
    }

    /// Everything done with an accepted query: parse, print, prettify, evaluate at an instant
    /// and over a range, drop.
    fn exercise(db: &promlite_storage::Db, query: &str) {
        let engine = Engine::new(EngineOptions::default());
        let expr = parse(query).unwrap_or_else(|err| panic!("{err}"));
        assert!(!expr.to_string().is_empty());
        assert!(!expr.prettify().is_empty());
        drop(expr);
        let instant = engine.instant_query(db, query, 600_000);
        assert!(instant.is_ok(), "{}…: {instant:?}", &query[..20]);
        let range = engine.range_query(db, query, 300_000, 600_000, 60_000);
        assert!(range.is_ok(), "{}…: {range:?}", &query[..20]);
    }

    #[test]
    fn deepest_queries_fit_half_the_query_stack() {
        let (_dir, db) = db();
        load(&db, 60_000, r#"up{job="a"} 1+1x10"#);
        on_stack(QUERY_STACK_SIZE / 2, || {
            for (_, query) in shapes(MAX_DEPTH) {
                exercise(&db, &query);
            }
        });
    }

    /// How the figures in [`QUERY_STACK_SIZE`]'s comment were found: run with a shape's name and a
    /// stack size, and lower the size until the process aborts.
    #[test]
    #[ignore = "measures stack use: PROMLITE_STACK_KB=… PROMLITE_SHAPE=… cargo test -- --ignored"]
    fn measure_stack() {
        let (_dir, db) = db();
        load(&db, 60_000, r#"up{job="a"} 1+1x10"#);
        let kb: usize = std::env::var("PROMLITE_STACK_KB").unwrap().parse().unwrap();
        let shape = std::env::var("PROMLITE_SHAPE").unwrap();
        let (_, query) = shapes(MAX_DEPTH).into_iter().find(|(name, _)| *name == shape).unwrap();
        on_stack(kb << 10, || exercise(&db, &query));
    }
}
