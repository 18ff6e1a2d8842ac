//! The PromQL lexer, token for token as Prometheus 3's (upstream `promql/parser/lex.go`): the
//! same item types, the same states (statements, inside braces, inside brackets), the same
//! error texts at the same positions. Prometheus's error positions and wording depend on where
//! its lexer stops and what it calls each item, so this is a port of its behaviour, not a
//! tokenizer of our own design.
//!
//! Invariant: [`lex`] always ends with exactly one [`Item::Eof`] or [`Item::Error`] token, and
//! never panics, whatever the input.

use super::quote::{quote_rune, quote_rune_unicode};

/// What a token is (upstream `ItemType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Item {
    Eof,
    /// A lexer error; the token's text is the message.
    Error,
    Identifier,
    MetricIdentifier,
    Number,
    Duration,
    String,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Comma,
    Colon,
    Eql,
    // Operators.
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eqlc,
    Neq,
    Lte,
    Lss,
    Gte,
    Gtr,
    TrimUpper,
    TrimLower,
    EqlRegex,
    NeqRegex,
    At,
    Atan2,
    Land,
    Lor,
    Lunless,
    // Aggregators.
    Avg,
    Bottomk,
    Count,
    CountValues,
    Group,
    Max,
    Min,
    Quantile,
    Stddev,
    Stdvar,
    Sum,
    Topk,
    Limitk,
    LimitRatio,
    // Keywords.
    Bool,
    By,
    GroupLeft,
    GroupRight,
    Fill,
    FillLeft,
    FillRight,
    Ignoring,
    Offset,
    Smoothed,
    Anchored,
    On,
    Without,
    // Preprocessors.
    Start,
    End,
    Step,
    Range,
    MaxOf,
    MinOf,
}

impl Item {
    pub(crate) fn is_operator(self) -> bool {
        use Item::*;
        matches!(
            self,
            Add | Sub
                | Mul
                | Div
                | Mod
                | Pow
                | Eqlc
                | Neq
                | Lte
                | Lss
                | Gte
                | Gtr
                | TrimUpper
                | TrimLower
                | EqlRegex
                | NeqRegex
                | At
                | Atan2
                | Land
                | Lor
                | Lunless
        )
    }

    pub(crate) fn is_aggregator(self) -> bool {
        use Item::*;
        matches!(
            self,
            Avg | Bottomk
                | Count
                | CountValues
                | Group
                | Max
                | Min
                | Quantile
                | Stddev
                | Stdvar
                | Sum
                | Topk
                | Limitk
                | LimitRatio
        )
    }

    /// Aggregators that take a parameter before the vector (upstream `IsAggregatorWithParam`).
    pub(crate) fn is_aggregator_with_param(self) -> bool {
        matches!(
            self,
            Item::Topk | Item::Bottomk | Item::CountValues | Item::Quantile | Item::Limitk | Item::LimitRatio
        )
    }

    pub(crate) fn is_keyword(self) -> bool {
        use Item::*;
        matches!(
            self,
            Bool | By
                | GroupLeft
                | GroupRight
                | Fill
                | FillLeft
                | FillRight
                | Ignoring
                | Offset
                | Smoothed
                | Anchored
                | On
                | Without
        )
    }

    pub(crate) fn is_comparison(self) -> bool {
        matches!(self, Item::Eqlc | Item::Neq | Item::Lte | Item::Lss | Item::Gte | Item::Gtr)
    }

    pub(crate) fn is_set_operator(self) -> bool {
        matches!(self, Item::Land | Item::Lor | Item::Lunless)
    }

    /// Whether upstream's `ItemTypeStr` names this type, which decides how an "unexpected"
    /// message describes the token: by its text alone, or by kind and text.
    fn has_type_str(self) -> bool {
        !matches!(
            self,
            Item::Eof
                | Item::Error
                | Item::Identifier
                | Item::MetricIdentifier
                | Item::Number
                | Item::Duration
                | Item::String
        )
    }
}

/// One token: its type, byte offset and text (for [`Item::Error`], the message).
#[derive(Debug, Clone)]
pub(crate) struct Token {
    pub(crate) item: Item,
    pub(crate) pos: usize,
    pub(crate) text: String,
}

impl Token {
    /// How Prometheus names the token in `unexpected ...` messages (upstream `Item.desc`).
    pub(crate) fn describe(&self) -> String {
        if self.item == Item::Eof {
            return "end of input".to_owned();
        }
        if self.item.has_type_str() {
            return self.show();
        }
        let kind = match self.item {
            Item::Identifier => "identifier",
            Item::MetricIdentifier => "metric identifier",
            Item::Number => "number",
            Item::Duration => "duration",
            Item::String => "string",
            _ => "error",
        };
        format!("{kind} {}", self.show())
    }

    /// Upstream `Item.String`.
    fn show(&self) -> String {
        use super::quote::quote;
        if self.item == Item::Identifier || self.item == Item::MetricIdentifier {
            return quote(&self.text);
        }
        if self.item.is_keyword() {
            return format!("<{}>", self.text);
        }
        if self.item.is_operator() {
            return format!("<op:{}>", self.text);
        }
        if self.item.is_aggregator() {
            return format!("<aggr:{}>", self.text);
        }
        if self.text.chars().count() > 10 {
            // Go's `%.10q...`: the first ten characters, quoted.
            let head: String = self.text.chars().take(10).collect();
            return format!("{}...", quote(&head));
        }
        quote(&self.text)
    }
}

/// The keyword a word is, in any case (upstream's `key` map, with `inf` and `nan` as numbers).
fn keyword(word: &str) -> Option<Item> {
    use Item::*;
    let item = match word.to_ascii_lowercase().as_str() {
        "and" => Land,
        "or" => Lor,
        "unless" => Lunless,
        "atan2" => Atan2,
        "sum" => Sum,
        "avg" => Avg,
        "count" => Count,
        "min" => Min,
        "max" => Max,
        "group" => Group,
        "stddev" => Stddev,
        "stdvar" => Stdvar,
        "topk" => Topk,
        "bottomk" => Bottomk,
        "count_values" => CountValues,
        "quantile" => Quantile,
        "limitk" => Limitk,
        "limit_ratio" => LimitRatio,
        "offset" => Offset,
        "smoothed" => Smoothed,
        "anchored" => Anchored,
        "by" => By,
        "without" => Without,
        "on" => On,
        "ignoring" => Ignoring,
        "group_left" => GroupLeft,
        "group_right" => GroupRight,
        "fill" => Fill,
        "fill_left" => FillLeft,
        "fill_right" => FillRight,
        "bool" => Bool,
        "start" => Start,
        "end" => End,
        "step" => Step,
        "range" => Range,
        "max_of" => MaxOf,
        "min_of" => MinOf,
        "inf" | "nan" => Number,
        _ => return None,
    };
    Some(item)
}

/// The keywords of duration expressions inside brackets.
fn duration_keyword(word: &str) -> Option<Item> {
    match word.to_ascii_lowercase().as_str() {
        "step" => Some(Item::Step),
        "range" => Some(Item::Range),
        "max_of" => Some(Item::MaxOf),
        "min_of" => Some(Item::MinOf),
        _ => None,
    }
}

fn is_space(c: Option<char>) -> bool {
    matches!(c, Some(' ' | '\t' | '\n' | '\r'))
}

fn is_alpha(c: Option<char>) -> bool {
    matches!(c, Some('_' | 'a'..='z' | 'A'..='Z'))
}

fn is_digit(c: Option<char>) -> bool {
    matches!(c, Some('0'..='9'))
}

fn is_alphanumeric(c: Option<char>) -> bool {
    is_alpha(c) || is_digit(c)
}

fn in_set(c: Option<char>, set: &str) -> bool {
    c.is_some_and(|c| set.contains(c))
}

/// The lexer's next state function.
#[derive(Clone, Copy, PartialEq)]
enum State {
    Statements,
    InsideBraces,
    DurationExpr,
    /// A lexer error was emitted: nothing follows.
    Done,
}

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    start: usize,
    /// Width of the last character read (0 at the end), for `backup`.
    width: usize,
    paren_depth: i64,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    got_duration: bool,
    string_open: char,
    tokens: Vec<Token>,
}

/// Lexes `input` up to and including its end, or its first error.
pub(crate) fn lex(input: &str) -> Vec<Token> {
    let mut lexer = Lexer {
        input,
        pos: 0,
        start: 0,
        width: 0,
        paren_depth: 0,
        brace_open: false,
        bracket_open: false,
        got_colon: false,
        got_duration: false,
        string_open: '"',
        tokens: Vec::new(),
    };
    let mut state = State::Statements;
    while state != State::Done {
        state = match state {
            State::Statements => lexer.statements(),
            State::InsideBraces => lexer.inside_braces(),
            State::DurationExpr => lexer.duration_expr(),
            State::Done => State::Done,
        };
    }
    lexer.tokens
}

impl Lexer<'_> {
    fn next(&mut self) -> Option<char> {
        match self.input[self.pos..].chars().next() {
            Some(c) => {
                self.width = c.len_utf8();
                self.pos += self.width;
                Some(c)
            }
            None => {
                self.width = 0;
                None
            }
        }
    }

    fn peek(&self) -> Option<char> {
        self.input[self.pos..].chars().next()
    }

    fn backup(&mut self) {
        self.pos -= self.width;
    }

    fn accept(&mut self, valid: &str) -> bool {
        let c = self.next();
        if in_set(c, valid) {
            return true;
        }
        self.backup();
        false
    }

    fn accept_run(&mut self, valid: &str) {
        while in_set(self.next(), valid) {}
        self.backup();
    }

    fn emit(&mut self, item: Item) {
        self.tokens.push(Token { item, pos: self.start, text: self.input[self.start..self.pos].to_owned() });
        self.start = self.pos;
    }

    /// An error token at the current token's start; lexing ends. If a token was emitted in the
    /// same step, the error replaces it, as upstream's `errorf` overwrites the item.
    fn error(&mut self, message: String) -> State {
        self.tokens.push(Token { item: Item::Error, pos: self.start, text: message });
        State::Done
    }

    /// `emit` then `error` in one step: only the error is seen.
    fn emit_then_error(&mut self, message: String) -> State {
        self.start = self.pos;
        self.error(message)
    }

    fn skip_spaces(&mut self) {
        while is_space(self.peek()) {
            self.next();
        }
        self.start = self.pos;
    }

    fn line_comment(&mut self) -> State {
        self.pos += 1;
        loop {
            let c = self.next();
            if c.is_none() || matches!(c, Some('\n' | '\r')) {
                break;
            }
        }
        self.backup();
        // Dropped here rather than skipped by the parser, which never sees them. The
        // statements state hands back to the braces state while a brace is open.
        self.start = self.pos;
        State::Statements
    }

    fn statements(&mut self) -> State {
        if self.brace_open {
            return State::InsideBraces;
        }
        if self.input[self.pos..].starts_with('#') {
            return self.line_comment();
        }
        let c = self.next();
        match c {
            None => {
                if self.paren_depth != 0 {
                    return self.error("unclosed left parenthesis".to_owned());
                }
                if self.bracket_open {
                    return self.error("unclosed left bracket".to_owned());
                }
                self.emit(Item::Eof);
                return State::Done;
            }
            Some(',') => self.emit(Item::Comma),
            _ if is_space(c) => {
                self.skip_spaces();
            }
            Some('*') => self.emit(Item::Mul),
            Some('/') => self.emit(Item::Div),
            Some('%') => self.emit(Item::Mod),
            Some('+') => self.emit(Item::Add),
            Some('-') => self.emit(Item::Sub),
            Some('^') => self.emit(Item::Pow),
            Some('=') => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(Item::Eqlc);
                }
                Some('~') => return self.error(format!("unexpected character after '=': {}", quote_rune(Some('~')))),
                _ => self.emit(Item::Eql),
            },
            Some('!') => {
                let t = self.next();
                if t != Some('=') {
                    return self.error(format!("unexpected character after '!': {}", quote_rune(t)));
                }
                self.emit(Item::Neq);
            }
            Some('<') => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(Item::Lte);
                }
                Some('/') => {
                    self.next();
                    self.emit(Item::TrimUpper);
                }
                _ => self.emit(Item::Lss),
            },
            Some('>') => match self.peek() {
                Some('=') => {
                    self.next();
                    self.emit(Item::Gte);
                }
                Some('/') => {
                    self.next();
                    self.emit(Item::TrimLower);
                }
                _ => self.emit(Item::Gtr),
            },
            _ if is_digit(c) || (c == Some('.') && is_digit(self.peek())) => {
                self.backup();
                return self.number_or_duration();
            }
            Some(quote @ ('"' | '\'')) => {
                self.string_open = quote;
                return self.string();
            }
            Some('`') => {
                self.string_open = '`';
                return self.raw_string();
            }
            _ if is_alpha(c) || c == Some(':') => {
                if !self.bracket_open {
                    self.backup();
                    return self.keyword_or_identifier();
                }
                let r = c.expect("matched a character");
                if r == ':' {
                    if self.got_colon {
                        return self.error(format!("unexpected colon {}", quote_rune(Some(':'))));
                    }
                    self.emit(Item::Colon);
                    self.got_colon = true;
                    return State::Statements;
                }
                if matches!(r.to_ascii_lowercase(), 's' | 'r' | 'm') && self.duration_keyword() {
                    return State::Statements;
                }
                return self.error(format!(
                    "unexpected character: {}, expected {}",
                    quote_rune(c),
                    quote_rune(Some(':'))
                ));
            }
            Some('(') => {
                self.emit(Item::LeftParen);
                self.paren_depth += 1;
            }
            Some(')') => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.emit_then_error(format!("unexpected right parenthesis {}", quote_rune(c)));
                }
                self.emit(Item::RightParen);
            }
            Some('{') => {
                self.emit(Item::LeftBrace);
                self.brace_open = true;
                return State::InsideBraces;
            }
            Some('[') => {
                if self.bracket_open {
                    return self.error(format!("unexpected left bracket {}", quote_rune(c)));
                }
                self.got_colon = false;
                self.emit(Item::LeftBracket);
                if is_space(self.peek()) {
                    self.skip_spaces();
                }
                self.bracket_open = true;
                return State::DurationExpr;
            }
            Some(']') => {
                if !self.bracket_open {
                    return self.error(format!("unexpected right bracket {}", quote_rune(c)));
                }
                self.emit(Item::RightBracket);
                self.bracket_open = false;
            }
            Some('@') => self.emit(Item::At),
            _ => return self.error(format!("unexpected character: {}", quote_rune(c))),
        }
        State::Statements
    }

    fn inside_braces(&mut self) -> State {
        if self.input[self.pos..].starts_with('#') {
            return self.line_comment();
        }
        let c = self.next();
        match c {
            None => return self.error("unexpected end of input inside braces".to_owned()),
            _ if is_space(c) => self.skip_spaces(),
            _ if is_alpha(c) => {
                while is_alphanumeric(self.next()) {}
                self.backup();
                self.emit(Item::Identifier);
            }
            Some(',') => self.emit(Item::Comma),
            Some(quote @ ('"' | '\'')) => {
                self.string_open = quote;
                return self.string();
            }
            Some('`') => {
                self.string_open = '`';
                return self.raw_string();
            }
            Some('=') => {
                if self.next() == Some('~') {
                    self.emit(Item::EqlRegex);
                } else {
                    self.backup();
                    self.emit(Item::Eql);
                }
            }
            Some('!') => match self.next() {
                Some('~') => self.emit(Item::NeqRegex),
                Some('=') => self.emit(Item::Neq),
                other => {
                    return self.error(format!("unexpected character after '!' inside braces: {}", quote_rune(other)));
                }
            },
            Some('{') => return self.error(format!("unexpected left brace {}", quote_rune(c))),
            Some('}') => {
                self.emit(Item::RightBrace);
                self.brace_open = false;
                return State::Statements;
            }
            _ => return self.error(format!("unexpected character inside braces: {}", quote_rune(c))),
        }
        State::InsideBraces
    }

    fn duration_expr(&mut self) -> State {
        let c = self.next();
        match c {
            None => return self.error("unexpected end of input in duration expression".to_owned()),
            Some(']') => {
                self.emit(Item::RightBracket);
                self.bracket_open = false;
                self.got_colon = false;
                return State::Statements;
            }
            Some(':') => {
                if !self.got_duration {
                    return self.emit_then_error("unexpected colon before duration in duration expression".to_owned());
                }
                if self.got_colon {
                    return self.emit_then_error("unexpected repeated colon in duration expression".to_owned());
                }
                self.emit(Item::Colon);
                self.got_colon = true;
            }
            Some('(') => {
                self.emit(Item::LeftParen);
                self.paren_depth += 1;
            }
            Some(')') => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return self.emit_then_error(format!("unexpected right parenthesis {}", quote_rune(c)));
                }
                self.emit(Item::RightParen);
            }
            _ if is_space(c) => self.skip_spaces(),
            Some('+') => self.emit(Item::Add),
            Some('-') => self.emit(Item::Sub),
            Some('*') => self.emit(Item::Mul),
            Some('/') => self.emit(Item::Div),
            Some('%') => self.emit(Item::Mod),
            Some('^') => self.emit(Item::Pow),
            Some(',') => self.emit(Item::Comma),
            Some(r) if matches!(r.to_ascii_lowercase(), 's' | 'r' | 'm') => {
                if !self.duration_keyword() {
                    return self.error(format!("unexpected character in duration expression: {}", quote_rune(Some(r))));
                }
            }
            _ if is_digit(c) || (c == Some('.') && is_digit(self.peek())) => {
                self.backup();
                self.got_duration = true;
                return self.number_or_duration();
            }
            _ => return self.error(format!("unexpected character in duration expression: {}", quote_rune(c))),
        }
        State::DurationExpr
    }

    /// Reads the rest of a word begun by its first letter; emits it if it is a duration keyword.
    fn duration_keyword(&mut self) -> bool {
        while is_alpha(self.next()) {}
        self.backup();
        match duration_keyword(&self.input[self.start..self.pos]) {
            Some(item) => {
                self.emit(item);
                true
            }
            None => false,
        }
    }

    fn escape(&mut self) -> Option<State> {
        let mut ch = self.next();
        let (mut n, base, max): (u32, u32, u32) = match ch {
            Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => return None,
            Some(c) if c == self.string_open => return None,
            Some('0'..='7') => (3, 8, 255),
            Some('x') => {
                ch = self.next();
                (2, 16, 255)
            }
            Some('u') => {
                ch = self.next();
                (4, 16, 0x10FFFF)
            }
            Some('U') => {
                ch = self.next();
                (8, 16, 0x10FFFF)
            }
            None => return Some(self.error("escape sequence not terminated".to_owned())),
            Some(c) => return Some(self.error(format!("unknown escape sequence {}", quote_rune_unicode(c)))),
        };
        let mut x: u32 = 0;
        while n > 0 {
            let d = ch.and_then(|c| c.to_digit(16)).unwrap_or(16);
            if d >= base {
                return Some(match ch {
                    None => self.error("escape sequence not terminated".to_owned()),
                    Some(c) => self.error(format!("illegal character {} in escape sequence", quote_rune_unicode(c))),
                });
            }
            x = x.wrapping_mul(base).wrapping_add(d);
            n -= 1;
            if n > 0 {
                ch = self.next();
            }
        }
        if x > max || (0xD800..0xE000).contains(&x) {
            return Some(self.error("escape sequence is an invalid Unicode code point".to_owned()));
        }
        None
    }

    fn string(&mut self) -> State {
        loop {
            match self.next() {
                Some('\\') => {
                    if let Some(state) = self.escape() {
                        return state;
                    }
                }
                // Go decodes invalid UTF-8 as U+FFFD and refuses it; a query reaching us as
                // Rust text has U+FFFD where its bytes were invalid.
                Some('\u{fffd}') => return self.error("invalid UTF-8 rune".to_owned()),
                None | Some('\n') => return self.error("unterminated quoted string".to_owned()),
                Some(c) if c == self.string_open => break,
                Some(_) => {}
            }
        }
        self.emit(Item::String);
        self.after_string()
    }

    fn raw_string(&mut self) -> State {
        loop {
            match self.next() {
                Some('\u{fffd}') => return self.error("invalid UTF-8 rune".to_owned()),
                None => return self.error("unterminated raw string".to_owned()),
                Some('`') => break,
                Some(_) => {}
            }
        }
        self.emit(Item::String);
        self.after_string()
    }

    /// Strings return to the statements state, which hands back to the braces state while a
    /// brace is open.
    fn after_string(&self) -> State {
        if self.brace_open { State::InsideBraces } else { State::Statements }
    }

    fn number_or_duration(&mut self) -> State {
        if self.scan_number() {
            self.emit(Item::Number);
            return State::Statements;
        }
        if self.accept_remaining_duration() {
            self.backup();
            self.emit(Item::Duration);
            return State::Statements;
        }
        let text = &self.input[self.start..self.pos];
        self.error(format!("bad number or duration syntax: {}", super::quote::quote(text)))
    }

    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept("smhdwy") {
            return false;
        }
        self.accept("s");
        while self.accept("0123456789") {
            while self.accept("0123456789") {}
            if !self.accept("smhdw") {
                return false;
            }
            self.accept("s");
        }
        !is_alphanumeric(self.next())
    }

    /// Upstream `scanNumber`: decimal, hexadecimal, with `.`, exponent and `_` separators;
    /// whether what was read may be a number (the parser checks the value).
    fn scan_number(&mut self) -> bool {
        let initial = self.pos;
        let mut digits = "0123456789";
        if self.accept("0") && self.accept("xX") {
            self.accept("_");
            digits = "0123456789abcdefABCDEF";
        }
        self.accept(".");
        self.accept(digits);
        let mut dot = false;
        let mut exponent = false;
        let hex = digits.len() > 10;
        loop {
            let c = self.peek();
            if !(in_set(c, digits) || in_set(c, "._eE")) {
                break;
            }
            if c == Some('.') && dot {
                self.accept(".");
                return false;
            }
            if in_set(c, "eE") && exponent {
                self.accept("eE");
                return false;
            }
            if self.accept(".") {
                dot = true;
                if self.accept("_.") || hex {
                    return false;
                }
                continue;
            }
            if self.accept("eE") {
                exponent = true;
                self.accept("+-");
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept("_") {
                if self.accept("._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            self.accept_run(digits);
        }
        if self.pos == initial {
            return false;
        }
        !is_alphanumeric(self.peek())
    }

    fn keyword_or_identifier(&mut self) -> State {
        loop {
            let c = self.next();
            if !(is_alphanumeric(c) || c == Some(':')) {
                break;
            }
        }
        self.backup();
        let word = &self.input[self.start..self.pos];
        let item = match keyword(word) {
            // fill, fill_left and fill_right are keywords only before a `(`, so that they stay
            // usable as metric names.
            Some(Item::Fill | Item::FillLeft | Item::FillRight) if !self.followed_by_left_paren() => Item::Identifier,
            Some(item) => item,
            None if word.contains(':') => Item::MetricIdentifier,
            None => Item::Identifier,
        };
        self.emit(item);
        State::Statements
    }

    fn followed_by_left_paren(&self) -> bool {
        self.input[self.pos..].trim_start_matches([' ', '\t', '\n', '\r']).starts_with('(')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(input: &str) -> Vec<String> {
        lex(input).iter().map(|t| format!("{:?}@{}:{}", t.item, t.pos, t.text)).collect()
    }

    #[test]
    fn tokens_and_errors_as_upstream_lexes_them() {
        assert_eq!(
            show("sum by (a)"),
            ["Sum@0:sum", "By@4:by", "LeftParen@7:(", "Identifier@8:a", "RightParen@9:)", "Eof@10:"]
        );
        assert_eq!(
            show("x[5m:1m]")[1..6],
            ["LeftBracket@1:[", "Duration@2:5m", "Colon@4::", "Duration@5:1m", "RightBracket@7:]"]
        );
        assert_eq!(show("1)"), ["Number@0:1", "Error@2:unexpected right parenthesis ')'"]);
        assert_eq!(
            show("foo[5m"),
            ["Identifier@0:foo", "LeftBracket@3:[", "Duration@4:5m", "Error@6:unclosed left bracket"]
        );
        assert_eq!(show("1e"), ["Error@0:bad number or duration syntax: \"1e\""]);
        assert_eq!(
            show("0x1e5 0X_1f 1_000 .5"),
            ["Number@0:0x1e5", "Number@6:0X_1f", "Number@12:1_000", "Number@18:.5", "Eof@20:"]
        );
        assert_eq!(
            show("x{a=~\"b\"} # c\n+ y")[2..8],
            ["Identifier@2:a", "EqlRegex@3:=~", "String@5:\"b\"", "RightBrace@8:}", "Add@14:+", "Identifier@16:y"]
        );
        assert_eq!(show("\"\\q\""), ["Error@0:unknown escape sequence U+0071 'q'"]);
        assert_eq!(show("x[$__rate_interval]")[2], "Error@2:unexpected character in duration expression: '$'");
        assert_eq!(show("fill + fill_left(1)")[..3], ["Identifier@0:fill", "Add@5:+", "FillLeft@7:fill_left"]);
    }
}
