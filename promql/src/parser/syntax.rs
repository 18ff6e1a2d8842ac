//! PromQL's grammar (upstream `promql/parser/generated_parser.y`, Prometheus 3.14 with its
//! default feature flags) as a recursive-descent parser that builds the positioned tree of
//! `ast.rs`.
//!
//! Prometheus's parser is LALR(1) (goyacc) and reports the first error it records: a lexer
//! error when the lexer reaches it, a semantic error when a rule is reduced, or a syntax error
//! when no action fits the lookahead token. A syntax error is then worded by the innermost
//! rule with an `error` alternative still on the parser's stack: a few are local (`in grouping
//! opts`, `in label matching`, `in offset`, `in @`, the brackets), and `aggregate_op error`
//! stays on the stack for the whole of an aggregation, so anything wrong inside `sum(...)` is
//! `... in aggregation`; otherwise the message is the bare `unexpected <token>`. This parser
//! records errors in the same order: semantic checks run when their construct is complete
//! (before the next token is looked at when upstream reduces without lookahead), and it stops
//! at the first syntax error, since nothing recorded after one can be reported.
//!
//! Precedence, lowest first: `or`; `and`, `unless`; comparisons; `+ -`; `* / % atan2`; `^`
//! (right-associative); unary `+ -` bind like `*`; `offset`, `@` and `[...]` bind tightest.

use super::ast::{At, BinModifiers, Grouping, Kind, LabelMatcher, Node, Selector};
use super::error::{ParseError, position};
use super::functions::function;
use super::lex::{Item, Token};
use super::number::{parse_duration, parse_number};
use super::quote::{quote, unquote};

/// A syntax error was recorded: parsing stops.
pub(crate) struct Stop;

type Parsed<T> = Result<T, Stop>;

/// Nanoseconds in a second, as Prometheus's durations count them.
const NANOS: f64 = 1e9;

pub(crate) struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    next: usize,
    /// Every error recorded, in upstream's order; the first is the one reported.
    pub(crate) errors: Vec<ParseError>,
    lexer_error_recorded: bool,
    /// Open aggregations: their `aggregate_op error` rule words syntax errors inside them.
    aggregations: usize,
    /// Accept every experimental function (upstream `EnableExperimentalFunctions`).
    pub(crate) experimental_functions: bool,
}

/// Binding power of a binary operator, and whether it is right-associative.
fn binary_precedence(item: Item) -> Option<(u8, bool)> {
    use Item::*;
    Some(match item {
        Lor => (1, false),
        Land | Lunless => (2, false),
        Eqlc | Neq | Lte | Lss | Gte | Gtr | TrimUpper | TrimLower => (3, false),
        Add | Sub => (4, false),
        Mul | Div | Mod | Atan2 => (5, false),
        Pow => (6, true),
        _ => return None,
    })
}

/// What unary `+`/`-` binds like (`%prec MUL`): its operand takes only `^` and the postfix
/// modifiers.
const UNARY_OPERAND: u8 = 6;

/// Tokens that may name a metric (upstream `metric_identifier`).
fn is_metric_identifier(item: Item) -> bool {
    use Item::*;
    matches!(
        item,
        Avg | Bottomk
            | By
            | Count
            | CountValues
            | Fill
            | FillLeft
            | FillRight
            | Group
            | Identifier
            | Land
            | Lor
            | Lunless
            | Max
            | MetricIdentifier
            | Min
            | Offset
            | Quantile
            | Stddev
            | Stdvar
            | Sum
            | Topk
            | Without
            | Start
            | End
            | Limitk
            | LimitRatio
            | Step
            | Range
            | Anchored
            | Smoothed
            | MaxOf
            | MinOf
    )
}

/// Tokens that may be a label name in grouping options (upstream `maybe_label`).
fn is_maybe_label(item: Item) -> bool {
    use Item::*;
    matches!(
        item,
        Avg | Bool
            | Bottomk
            | By
            | Count
            | CountValues
            | Group
            | GroupLeft
            | GroupRight
            | Fill
            | FillLeft
            | FillRight
            | Identifier
            | Ignoring
            | Land
            | Lor
            | Lunless
            | Max
            | MetricIdentifier
            | Min
            | Offset
            | On
            | Quantile
            | Stddev
            | Stdvar
            | Sum
            | Topk
            | Start
            | End
            | Atan2
            | Limitk
            | LimitRatio
            | Step
            | Range
            | Anchored
            | Smoothed
            | MaxOf
            | MinOf
    )
}

/// Tokens an expression can start with.
fn starts_expression(item: Item) -> bool {
    use Item::*;
    is_metric_identifier(item) || matches!(item, Number | Duration | String | LeftParen | LeftBrace | Add | Sub)
}

fn is_match_op(item: Item) -> bool {
    matches!(item, Item::Eql | Item::Neq | Item::EqlRegex | Item::NeqRegex)
}

/// Whether a number of seconds is beyond what Go's `time.Duration` holds.
fn duration_out_of_range(seconds: f64) -> bool {
    !(-9_223_372_036.854_775..=9_223_372_036.854_775).contains(&seconds)
}

/// A duration as a number literal or a (refused) duration expression.
struct DurationValue {
    /// Seconds, when it is a plain (maybe signed) literal.
    seconds: Option<f64>,
    start: usize,
    end: usize,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str, tokens: Vec<Token>) -> Parser<'a> {
        Parser {
            input,
            tokens,
            next: 0,
            errors: Vec::new(),
            lexer_error_recorded: false,
            aggregations: 0,
            experimental_functions: false,
        }
    }

    fn error_at(&mut self, offset: usize, message: String) {
        self.errors.push(ParseError { position: Some(position(self.input, offset)), message });
    }

    /// The next token. Reaching a lexer error records it, as upstream's `Lex` does when it
    /// reads the token; the parser then sees the end of input.
    fn peek(&mut self) -> &Token {
        let index = self.next.min(self.tokens.len() - 1);
        if self.tokens[index].item == Item::Error && !self.lexer_error_recorded {
            self.lexer_error_recorded = true;
            let (pos, text) = (self.tokens[index].pos, self.tokens[index].text.clone());
            self.error_at(pos, text);
        }
        &self.tokens[index]
    }

    fn peek_item(&mut self) -> Item {
        self.peek().item
    }

    /// The token after the next one (never past the last).
    fn peek_second(&mut self) -> Item {
        if self.peek_item() == Item::Error {
            return Item::Error;
        }
        let index = (self.next + 1).min(self.tokens.len() - 1);
        if self.tokens[index].item == Item::Error && !self.lexer_error_recorded {
            self.lexer_error_recorded = true;
            let (pos, text) = (self.tokens[index].pos, self.tokens[index].text.clone());
            self.error_at(pos, text);
        }
        self.tokens[index].item
    }

    fn advance(&mut self) -> Token {
        let token = self.tokens[self.next.min(self.tokens.len() - 1)].clone();
        if self.next < self.tokens.len() - 1 {
            self.next += 1;
        }
        token
    }

    /// A syntax error at the next token, worded by `context` and `expected` (upstream
    /// `unexpected`); nothing when the token is a lexer error, already recorded.
    fn fail<T>(&mut self, context: &str, expected: &str) -> Parsed<T> {
        let token = self.peek().clone();
        if token.item != Item::Error {
            let mut message = format!("unexpected {}", token.describe());
            if !context.is_empty() {
                message.push_str(" in ");
                message.push_str(context);
            }
            if !expected.is_empty() {
                message.push_str(", expected ");
                message.push_str(expected);
            }
            self.error_at(token.pos, message);
        }
        Err(Stop)
    }

    /// A syntax error that no local rule words: inside an aggregation, `aggregate_op error`.
    fn fail_outer<T>(&mut self) -> Parsed<T> {
        if self.aggregations > 0 { self.fail("aggregation", "") } else { self.fail("", "") }
    }

    /// `START_EXPRESSION expr EOF`.
    pub(crate) fn parse_query(&mut self) -> Parsed<Node> {
        if self.peek_item() == Item::Eof {
            self.errors.push(ParseError {
                position: (!self.input.is_empty()).then(|| position(self.input, 0)),
                message: "no expression found in input".to_owned(),
            });
            return Err(Stop);
        }
        let expr = self.expr(0)?;
        if self.peek_item() != Item::Eof {
            return self.fail_outer();
        }
        Ok(expr)
    }

    /// `START_METRIC_SELECTOR vector_selector EOF` (upstream `ParseMetricSelector`).
    pub(crate) fn parse_selector(&mut self) -> Parsed<Node> {
        let item = self.peek_item();
        if !(is_metric_identifier(item) || item == Item::LeftBrace) {
            return self.fail("", "");
        }
        let node = self.vector_selector()?;
        if self.peek_item() != Item::Eof {
            return self.fail("", "");
        }
        Ok(node)
    }

    fn expr(&mut self, min_precedence: u8) -> Parsed<Node> {
        let mut lhs = self.unary()?;
        loop {
            let item = self.peek_item();
            lhs = match item {
                Item::LeftBracket => self.range_or_subquery(lhs)?,
                Item::Offset => self.offset(lhs)?,
                Item::At => self.at(lhs)?,
                Item::Anchored | Item::Smoothed => {
                    let name = if item == Item::Anchored { "anchored" } else { "smoothed" };
                    self.error_at(lhs.start, format!("{name} modifier is experimental and not enabled"));
                    let token = self.advance();
                    Node { end: token.pos + token.text.len(), ..lhs }
                }
                _ => match binary_precedence(item) {
                    Some((precedence, right)) if precedence >= min_precedence => {
                        self.advance();
                        let modifiers = self.bin_modifiers()?;
                        let rhs = self.expr(if right { precedence } else { precedence + 1 })?;
                        if modifiers.fill {
                            self.error_at(
                                lhs.start,
                                "binop fill modifiers are experimental and not enabled".to_owned(),
                            );
                        }
                        let (start, end) = (lhs.start, rhs.end);
                        let kind = Kind::Binary { op: item, lhs: Box::new(lhs), rhs: Box::new(rhs), modifiers };
                        Node { kind, start, end }
                    }
                    _ => return Ok(lhs),
                },
            };
        }
    }

    fn unary(&mut self) -> Parsed<Node> {
        let item = self.peek_item();
        if !matches!(item, Item::Add | Item::Sub) {
            return self.primary();
        }
        let op = self.advance();
        let operand = self.expr(UNARY_OPERAND)?;
        let negative = item == Item::Sub;
        let end = operand.end;
        if let Kind::Number(value) = operand.kind {
            // A sign on a number literal is part of the literal.
            let value = if negative { -value } else { value };
            return Ok(Node { kind: Kind::Number(value), start: op.pos, end });
        }
        Ok(Node { kind: Kind::Unary { negative, expr: Box::new(operand) }, start: op.pos, end })
    }

    fn primary(&mut self) -> Parsed<Node> {
        let item = self.peek_item();
        match item {
            Item::Number | Item::Duration => {
                let token = self.advance();
                let value = self.literal_value(&token);
                Ok(Node { kind: Kind::Number(value), start: token.pos, end: token.pos + token.text.len() })
            }
            Item::String => {
                let token = self.advance();
                let value = self.unquote_string(&token);
                Ok(Node { kind: Kind::String(value), start: token.pos, end: token.pos + token.text.len() })
            }
            Item::LeftParen => {
                let open = self.advance();
                let inner = self.expr(0)?;
                if self.peek_item() != Item::RightParen {
                    return self.fail_outer();
                }
                let close = self.advance();
                Ok(Node { kind: Kind::Paren(Box::new(inner)), start: open.pos, end: close.pos + 1 })
            }
            Item::LeftBrace => self.vector_selector(),
            _ if item.is_aggregator() && matches!(self.peek_second(), Item::LeftParen | Item::By | Item::Without) => {
                self.aggregation()
            }
            Item::Identifier | Item::Start | Item::End | Item::Step | Item::Range | Item::MaxOf | Item::MinOf
                if self.peek_second() == Item::LeftParen =>
            {
                self.call()
            }
            _ if is_metric_identifier(item) => self.vector_selector(),
            _ => self.fail_outer(),
        }
    }

    /// The value of a NUMBER or DURATION token in seconds; a bad one is recorded (upstream
    /// `number_duration_literal`) and reads as 0.
    fn literal_value(&mut self, token: &Token) -> f64 {
        if token.item == Item::Duration {
            return match parse_duration(&token.text) {
                Ok(ms) => ms as f64 / 1000.0,
                Err(message) => {
                    self.error_at(token.pos, message);
                    0.0
                }
            };
        }
        match parse_number(&token.text) {
            Ok(value) => value,
            Err(message) => {
                self.error_at(token.pos, format!("error parsing number: {message}"));
                0.0
            }
        }
    }

    fn unquote_string(&mut self, token: &Token) -> String {
        match unquote(&token.text) {
            Ok(value) => value,
            Err(err) => {
                self.error_at(token.pos, format!("error unquoting string {}: {err}", quote(&token.text)));
                String::new()
            }
        }
    }

    /// `metric_identifier [label_matchers] | label_matchers`.
    fn vector_selector(&mut self) -> Parsed<Node> {
        let first = self.peek().clone();
        let mut name = None;
        if first.item != Item::LeftBrace {
            self.advance();
            name = Some(first.text.clone());
            if self.peek_item() != Item::LeftBrace {
                let end = first.pos + first.text.len();
                let kind = Kind::Selector(Selector { name, matchers: Vec::new(), offset: None, at: None });
                return Ok(Node { kind, start: first.pos, end });
            }
        }
        self.advance();
        let mut matchers = Vec::new();
        let end;
        if self.peek_item() == Item::RightBrace {
            end = self.advance().pos + 1;
        } else {
            loop {
                if let Some(matcher) = self.label_matcher()? {
                    matchers.push(matcher);
                }
                match self.peek_item() {
                    Item::Comma => {
                        self.advance();
                        if self.peek_item() == Item::RightBrace {
                            end = self.advance().pos + 1;
                            break;
                        }
                    }
                    Item::RightBrace => {
                        end = self.advance().pos + 1;
                        break;
                    }
                    _ => return self.fail("label matching", "\",\" or \"}\""),
                }
            }
        }
        let kind = Kind::Selector(Selector { name, matchers, offset: None, at: None });
        Ok(Node { kind, start: first.pos, end })
    }

    /// One matcher inside braces; `None` for one whose error is recorded.
    fn label_matcher(&mut self) -> Parsed<Option<LabelMatcher>> {
        let first = self.peek().clone();
        let name = match first.item {
            Item::Identifier => {
                self.advance();
                if !is_match_op(self.peek_item()) {
                    return self.fail("label matching", "label matching operator");
                }
                first.text.clone()
            }
            Item::String => {
                self.advance();
                let name = self.unquote_string(&first);
                if !is_match_op(self.peek_item()) {
                    // A quoted name alone is the metric name (upstream `newMetricNameMatcher`).
                    return Ok(Some(LabelMatcher { name: "__name__".to_owned(), op: Item::Eql, value: name }));
                }
                name
            }
            _ => return self.fail("label matching", "identifier or \"}\""),
        };
        let op = self.advance().item;
        if self.peek_item() != Item::String {
            return self.fail("label matching", "string");
        }
        let value_token = self.advance();
        let value = self.unquote_string(&value_token);
        if matches!(op, Item::EqlRegex | Item::NeqRegex)
            && let Err(message) = super::regex::check(&value)
        {
            self.error_at(first.pos, message);
            return Ok(None);
        }
        Ok(Some(LabelMatcher { name, op, value }))
    }

    /// `IDENTIFIER function_call_body` (and `start()`, `step()`, ... as calls).
    fn call(&mut self) -> Parsed<Node> {
        let name = self.advance();
        let (args, close) = self.call_body()?;
        let end = close + 1;
        let Some(function) = function(&name.text) else {
            self.error_at(name.pos, format!("unknown function with name {}", quote(&name.text)));
            return Ok(Node { kind: Kind::Number(0.0), start: name.pos, end });
        };
        if !function.enabled() && !self.experimental_functions {
            self.error_at(name.pos, format!("function {} is not enabled", quote(&name.text)));
        }
        Ok(Node { kind: Kind::Call { function, args }, start: name.pos, end })
    }

    /// `( [expr {, expr}] [,] )`: the arguments and the offset of the `)`. A trailing comma is
    /// recorded (upstream's rule for it), not a syntax error.
    fn call_body(&mut self) -> Parsed<(Vec<Node>, usize)> {
        if self.peek_item() != Item::LeftParen {
            return self.fail_outer();
        }
        self.advance();
        let mut args = Vec::new();
        if self.peek_item() == Item::RightParen {
            return Ok((args, self.advance().pos));
        }
        args.push(self.expr(0)?);
        loop {
            match self.peek_item() {
                Item::RightParen => return Ok((args, self.advance().pos)),
                Item::Comma => {
                    let comma = self.advance();
                    if starts_expression(self.peek_item()) {
                        args.push(self.expr(0)?);
                    } else {
                        self.error_at(comma.pos, "trailing commas not allowed in function call args".to_owned());
                    }
                }
                _ => return self.fail_outer(),
            }
        }
    }

    /// `aggregate_op [modifier] body [modifier]`.
    fn aggregation(&mut self) -> Parsed<Node> {
        let op = self.advance();
        self.aggregations += 1;
        let result = self.aggregation_rest(op);
        self.aggregations -= 1;
        result
    }

    fn aggregation_rest(&mut self, op: Token) -> Parsed<Node> {
        let mut grouping = None;
        if matches!(self.peek_item(), Item::By | Item::Without) {
            grouping = Some(self.aggregate_modifier()?);
        }
        let (args, close) = self.call_body()?;
        let mut end = close + 1;
        if grouping.is_none() && matches!(self.peek_item(), Item::By | Item::Without) {
            // The aggregation's own `error` rule is no longer on the stack here: grouping
            // errors are worded by the grouping rules.
            let modifier = self.aggregate_modifier()?;
            end = self.tokens[self.next - 1].pos + 1;
            grouping = Some(modifier);
        }
        let start = op.pos;
        let mut node = Node { kind: Kind::Aggregate { op: op.item, grouping, param: None, expr: None }, start, end };
        if args.is_empty() {
            self.error_at(start, "no arguments for aggregate expression provided".to_owned());
            return Ok(node);
        }
        let mut wanted = 1;
        if op.item.is_aggregator_with_param() {
            wanted = 2;
        }
        if args.len() != wanted {
            self.error_at(
                start,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {wanted}, got {}",
                    args.len()
                ),
            );
            return Ok(node);
        }
        let mut args = args.into_iter();
        if let Kind::Aggregate { param, expr, .. } = &mut node.kind {
            if wanted == 2 {
                *param = args.next().map(Box::new);
            }
            *expr = args.next().map(Box::new);
        }
        Ok(node)
    }

    fn aggregate_modifier(&mut self) -> Parsed<Grouping> {
        let without = self.advance().item == Item::Without;
        let labels = self.grouping_labels()?;
        Ok(Grouping { without, labels })
    }

    /// `( label {, label} [,] )` after `by`, `without`, `on`, `ignoring`, `group_left`, ...
    fn grouping_labels(&mut self) -> Parsed<Vec<String>> {
        if self.peek_item() != Item::LeftParen {
            return self.fail("grouping opts", "\"(\"");
        }
        self.advance();
        let mut labels = Vec::new();
        if self.peek_item() == Item::RightParen {
            self.advance();
            return Ok(labels);
        }
        loop {
            let token = self.peek().clone();
            if token.item == Item::String {
                self.advance();
                let name = self.unquote_string(&token);
                if name.is_empty() {
                    self.error_at(token.pos, format!("invalid label name for grouping: {}", quote(&name)));
                }
                labels.push(name);
            } else if is_maybe_label(token.item) {
                self.advance();
                labels.push(token.text.clone());
            } else {
                return self.fail("grouping opts", "label");
            }
            match self.peek_item() {
                Item::Comma => {
                    self.advance();
                    if self.peek_item() == Item::RightParen {
                        self.advance();
                        return Ok(labels);
                    }
                }
                Item::RightParen => {
                    self.advance();
                    return Ok(labels);
                }
                _ => return self.fail("grouping opts", "\",\" or \")\""),
            }
        }
    }

    /// `[bool] [on|ignoring (...) [group_left|group_right [(...)]]] [fill...]`.
    fn bin_modifiers(&mut self) -> Parsed<BinModifiers> {
        let mut modifiers = BinModifiers::default();
        if self.peek_item() == Item::Bool {
            self.advance();
            modifiers.return_bool = true;
        }
        if matches!(self.peek_item(), Item::On | Item::Ignoring) {
            let on = self.advance().item == Item::On;
            modifiers.matching = Some((on, self.grouping_labels()?));
            if matches!(self.peek_item(), Item::GroupLeft | Item::GroupRight) {
                let left = self.advance().item == Item::GroupLeft;
                // Upstream's parser has an `error` action in this state and so no default
                // reduction: anything but `(` or the start of the right operand is a grouping
                // error, not an error of the operand.
                let labels = match self.peek_item() {
                    Item::LeftParen => self.grouping_labels()?,
                    item if starts_expression(item) => Vec::new(),
                    _ => return self.fail("grouping opts", "\"(\""),
                };
                modifiers.group = Some((left, labels));
            }
        }
        let mut seen = Vec::new();
        while matches!(self.peek_item(), Item::Fill | Item::FillLeft | Item::FillRight) {
            let item = self.peek_item();
            // fill() alone, or fill_left() and fill_right() once each, in either order.
            if seen.contains(&Item::Fill) || seen.contains(&item) || (item == Item::Fill && !seen.is_empty()) {
                break;
            }
            self.advance();
            self.fill_value()?;
            seen.push(item);
            modifiers.fill = true;
        }
        Ok(modifiers)
    }

    /// `( [+|-] number )` of a fill modifier.
    fn fill_value(&mut self) -> Parsed<()> {
        if self.peek_item() != Item::LeftParen {
            return self.fail_outer();
        }
        self.advance();
        if matches!(self.peek_item(), Item::Add | Item::Sub) {
            self.advance();
        }
        if !matches!(self.peek_item(), Item::Number | Item::Duration) {
            return self.fail_outer();
        }
        let token = self.advance();
        self.literal_value(&token);
        if self.peek_item() != Item::RightParen {
            return self.fail_outer();
        }
        self.advance();
        Ok(())
    }

    /// `expr [ duration ]` or `expr [ duration : [duration] ]`.
    fn range_or_subquery(&mut self, expr: Node) -> Parsed<Node> {
        let open = self.advance();
        let range = self.duration(DurationContext::Range)?;
        let range_seconds = self.positive(&range);
        match self.peek_item() {
            Item::RightBracket => {
                let close = self.advance();
                let message = match &expr.kind {
                    Kind::Selector(s) if s.offset.is_some_and(|o| o != 0) => {
                        Some("no offset modifiers allowed before range")
                    }
                    Kind::Selector(s) if matches!(s.at, Some(At::Time(_))) => {
                        Some("no @ modifiers allowed before range")
                    }
                    Kind::Selector(_) => None,
                    _ => Some("ranges only allowed for vector selectors"),
                };
                if let Some(message) = message {
                    self.error_at(open.pos, message.to_owned());
                }
                let start = expr.start;
                let range_ns = seconds_to_nanos(range_seconds);
                Ok(Node { kind: Kind::Matrix { selector: Box::new(expr), range_ns }, start, end: close.pos + 1 })
            }
            Item::Colon => {
                self.advance();
                let mut step_seconds = None;
                if self.peek_item() != Item::RightBracket {
                    if !self.duration_starts() {
                        return self.fail("subquery selector", "number, duration, step(), range(), or \"]\"");
                    }
                    let step = self.duration(DurationContext::Step)?;
                    step_seconds = Some(self.positive(&step));
                    if self.peek_item() != Item::RightBracket {
                        return self.fail("subquery selector", "\"]\"");
                    }
                }
                let close = self.advance();
                let start = expr.start;
                let kind = Kind::Subquery {
                    expr: Box::new(expr),
                    range_ns: seconds_to_nanos(range_seconds),
                    step_ns: step_seconds.map(seconds_to_nanos),
                    offset: None,
                    at: None,
                };
                Ok(Node { kind, start, end: close.pos + 1 })
            }
            _ => self.fail("subquery or range", "\":\" or \"]\""),
        }
    }

    /// A range or step must be a positive literal (upstream `positive_duration_expr`).
    fn positive(&mut self, value: &DurationValue) -> f64 {
        match value.seconds {
            Some(seconds) if seconds <= 0.0 => {
                self.error_at(value.start, "duration must be greater than 0".to_owned());
                0.0
            }
            Some(seconds) => seconds,
            None => 0.0,
        }
    }

    fn duration_starts(&mut self) -> bool {
        use Item::*;
        matches!(self.peek_item(), Number | Duration | Add | Sub | LeftParen | Step | Range | MaxOf | MinOf)
    }

    /// A duration inside brackets or after `offset`: a literal, maybe signed, or a duration
    /// expression, which Prometheus 3 refuses without `--enable-feature=promql-duration-expr`.
    fn duration(&mut self, context: DurationContext) -> Parsed<DurationValue> {
        if !self.duration_starts() {
            return self.fail_duration(context);
        }
        self.duration_expr(context, 0, context != DurationContext::Offset)
    }

    fn fail_duration<T>(&mut self, context: DurationContext) -> Parsed<T> {
        match context {
            DurationContext::Range => self.fail("subquery or range selector", "number, duration, step(), or range()"),
            DurationContext::Step => self.fail("subquery selector", "number, duration, step(), range(), or \"]\""),
            DurationContext::Offset => self.fail("offset", "number, duration, step(), or range()"),
        }
    }

    fn experimental(&mut self, start: usize) {
        self.error_at(start, "experimental duration expression is not enabled".to_owned());
    }

    /// A duration expression; `arithmetic` says whether binary operators continue it (not at
    /// the top of an offset, where they belong to the enclosing expression: upstream
    /// `offset_duration_expr`, so that `x offset -2^2` is `(x offset -2)^2`).
    fn duration_expr(
        &mut self,
        context: DurationContext,
        min_precedence: u8,
        arithmetic: bool,
    ) -> Parsed<DurationValue> {
        let mut lhs = self.duration_operand(context, arithmetic)?;
        if !arithmetic {
            return Ok(lhs);
        }
        loop {
            let item = self.peek_item();
            let precedence = match item {
                Item::Add | Item::Sub => 4,
                Item::Mul | Item::Div | Item::Mod => 5,
                Item::Pow => 6,
                _ => return Ok(lhs),
            };
            if precedence < min_precedence {
                return Ok(lhs);
            }
            self.advance();
            if !self.duration_starts() {
                return self.fail_duration(context);
            }
            let next = if item == Item::Pow { precedence } else { precedence + 1 };
            let rhs = self.duration_expr(context, next, true)?;
            self.experimental(lhs.start);
            lhs = DurationValue { seconds: None, start: lhs.start, end: rhs.end };
        }
    }

    fn duration_operand(&mut self, context: DurationContext, arithmetic: bool) -> Parsed<DurationValue> {
        let token = self.peek().clone();
        match token.item {
            Item::Number | Item::Duration => {
                self.advance();
                let mut seconds = self.literal_value(&token);
                if duration_out_of_range(seconds) {
                    self.error_at(token.pos, "duration out of range".to_owned());
                    seconds = 0.0;
                }
                Ok(DurationValue { seconds: Some(seconds), start: token.pos, end: token.pos + token.text.len() })
            }
            Item::Add | Item::Sub => {
                self.advance();
                if !self.duration_starts() {
                    return self.fail_duration(context);
                }
                let mut inner = if arithmetic {
                    self.duration_expr(context, UNARY_OPERAND, true)?
                } else {
                    self.duration_operand(context, false)?
                };
                if let Some(seconds) = inner.seconds {
                    let seconds = if token.item == Item::Sub { -seconds } else { seconds };
                    if duration_out_of_range(seconds) {
                        self.error_at(token.pos, "duration out of range".to_owned());
                        return Ok(DurationValue { seconds: Some(0.0), start: token.pos, end: inner.end });
                    }
                    inner.seconds = Some(seconds);
                }
                inner.start = token.pos;
                Ok(inner)
            }
            Item::LeftParen => {
                self.advance();
                if !self.duration_starts() {
                    return self.fail_duration(context);
                }
                let inner = self.duration_expr(context, 0, true)?;
                if self.peek_item() != Item::RightParen {
                    return self.fail_duration(context);
                }
                let close = self.advance();
                self.experimental(inner.start);
                Ok(DurationValue { seconds: None, start: token.pos, end: close.pos + 1 })
            }
            Item::Step | Item::Range => {
                self.advance();
                if self.peek_item() != Item::LeftParen {
                    return self.fail_duration(context);
                }
                self.advance();
                if self.peek_item() != Item::RightParen {
                    return self.fail_duration(context);
                }
                let close = self.advance();
                self.experimental(token.pos);
                Ok(DurationValue { seconds: None, start: token.pos, end: close.pos + 1 })
            }
            Item::MaxOf | Item::MinOf => {
                self.advance();
                if self.peek_item() != Item::LeftParen {
                    return self.fail_duration(context);
                }
                self.advance();
                for separator in [Item::Comma, Item::RightParen] {
                    if !self.duration_starts() {
                        return self.fail_duration(context);
                    }
                    self.duration_expr(context, 0, true)?;
                    if self.peek_item() != separator {
                        return self.fail_duration(context);
                    }
                    self.advance();
                }
                let end = self.tokens[self.next - 1].pos + 1;
                self.experimental(token.pos);
                Ok(DurationValue { seconds: None, start: token.pos, end })
            }
            _ => self.fail_duration(context),
        }
    }

    /// `expr offset duration`.
    fn offset(&mut self, mut expr: Node) -> Parsed<Node> {
        self.advance();
        let value = self.duration(DurationContext::Offset)?;
        let nanos = value.seconds.map_or(0, seconds_to_nanos_signed);
        let target = match &mut expr.kind {
            Kind::Selector(s) => Some(&mut s.offset),
            Kind::Matrix { selector, .. } => match &mut selector.kind {
                Kind::Selector(s) => Some(&mut s.offset),
                _ => {
                    self.error_at(expr.start, "ranges only allowed for vector selectors".to_owned());
                    return Ok(Node { end: value.end, ..expr });
                }
            },
            Kind::Subquery { offset, .. } => Some(offset),
            _ => None,
        };
        let Some(target) = target else {
            self.error_at(
                expr.start,
                "offset modifier must be preceded by an instant vector selector or range vector selector or a subquery"
                    .to_owned(),
            );
            return Ok(expr);
        };
        // Upstream tests "already set" as a non-zero offset: `offset 0` can be followed by
        // another.
        if target.is_some_and(|o| o != 0) {
            self.error_at(expr.start, "offset may not be set multiple times".to_owned());
        } else {
            *target = Some(nanos);
        }
        Ok(Node { end: value.end, ..expr })
    }

    /// `expr @ number`, `expr @ start()`, `expr @ end()`.
    fn at(&mut self, mut expr: Node) -> Parsed<Node> {
        self.advance();
        let token = self.peek().clone();
        let (at, end) = match token.item {
            Item::Number | Item::Duration | Item::Add | Item::Sub => {
                self.advance();
                let mut sign = 1.0;
                let mut number = token.clone();
                if matches!(token.item, Item::Add | Item::Sub) {
                    if !matches!(self.peek_item(), Item::Number | Item::Duration) {
                        return self.fail("@", "timestamp");
                    }
                    if token.item == Item::Sub {
                        sign = -1.0;
                    }
                    number = self.advance();
                }
                let seconds = sign * self.literal_value(&number);
                if !seconds.is_finite() || seconds >= i64::MAX as f64 || seconds <= i64::MIN as f64 {
                    self.error_at(expr.start, format!("timestamp out of bounds for @ modifier: {}", go_f(seconds)));
                }
                let ms = (seconds * 1000.0).round();
                (At::Time(if ms.is_finite() { ms as i64 } else { 0 }), number.pos + number.text.len())
            }
            Item::Start | Item::End => {
                self.advance();
                if self.peek_item() != Item::LeftParen {
                    return self.fail("@", "timestamp");
                }
                self.advance();
                if self.peek_item() != Item::RightParen {
                    return self.fail("@", "timestamp");
                }
                let close = self.advance();
                (if token.item == Item::Start { At::Start } else { At::End }, close.pos + 1)
            }
            _ => return self.fail("@", "timestamp"),
        };
        let target = match &mut expr.kind {
            Kind::Selector(s) => Some(&mut s.at),
            Kind::Matrix { selector, .. } => match &mut selector.kind {
                Kind::Selector(s) => Some(&mut s.at),
                _ => {
                    self.error_at(expr.start, "ranges only allowed for vector selectors".to_owned());
                    return Ok(expr);
                }
            },
            Kind::Subquery { at, .. } => Some(at),
            _ => None,
        };
        let Some(target) = target else {
            self.error_at(
                expr.start,
                "@ modifier must be preceded by an instant vector selector or range vector selector or a subquery"
                    .to_owned(),
            );
            return Ok(expr);
        };
        if target.is_some() {
            self.error_at(expr.start, "@ <timestamp> may not be set multiple times".to_owned());
            return Ok(expr);
        }
        *target = Some(at);
        Ok(Node { end, ..expr })
    }
}

/// Where a duration is read, which decides how a syntax error in it is worded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DurationContext {
    /// The range of `[...]`, or the range of a subquery.
    Range,
    /// A subquery's step, after the colon.
    Step,
    /// After `offset`.
    Offset,
}

/// Go's `time.Duration(math.Round(seconds * 1e9))` for a positive duration.
fn seconds_to_nanos(seconds: f64) -> u64 {
    (seconds * NANOS).round().max(0.0) as u64
}

/// Go's `time.Duration(math.Round(seconds * 1e9))`; Go on amd64 turns NaN into the smallest
/// int64 (`offset nan` is accepted upstream: `durationLiteralOutOfRange` is false for NaN).
fn seconds_to_nanos_signed(seconds: f64) -> i64 {
    if seconds.is_nan() { i64::MIN } else { (seconds * NANOS).round() as i64 }
}

/// Go's `%f`.
fn go_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".to_owned() } else { "-Inf".to_owned() }
    } else {
        format!("{v:.6}")
    }
}
