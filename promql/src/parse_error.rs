//! Parse errors in Prometheus's shape, `1:7: parse error: unexpected end of input` (upstream
//! `promql/parser/parse.go` `ParseErr` and `lex.go` item descriptions).
//!
//! promql-parser reports no positions, and for grammar errors only "invalid promql query".
//! [`locate`] recovers what it can from its own token scan of the query: the position of a
//! lexer-class error (unclosed or unexpected brackets, unterminated strings, end of input), of
//! the argument or name a type error is about, and, for a grammar error, the first token that
//! cannot follow the one before it. When it cannot tell, the error keeps promql-parser's text
//! and no position rather than a wrong one. The same token scan lets `parser.rs` bound a
//! query's nesting before promql-parser builds its tree. A message is shown cut to
//! [`MAX_MESSAGE_LEN`] bytes, so an error never echoes a giant query back.
//! FIXME(#7): full parity needs our own parser; see ARCHITECTURE.md for the measurement.

use std::fmt;

/// A 1-based line and column, counted in bytes as Prometheus does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// A query that is not valid PromQL: the message and, when known, where.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// Where the problem is, when it could be located.
    pub position: Option<Position>,
    /// What is wrong, in Prometheus's words where known.
    pub message: String,
}

/// The most bytes of a message that [`ParseError`]'s `Display` shows. Messages quote names,
/// strings and, in promql-parser's "no expression found", the whole query.
pub(crate) const MAX_MESSAGE_LEN: usize = 300;

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(Position { line, col }) = self.position {
            write!(f, "{line}:{col}: ")?;
        }
        if self.message.len() <= MAX_MESSAGE_LEN {
            return write!(f, "parse error: {}", self.message);
        }
        let cut = (0..=MAX_MESSAGE_LEN).rev().find(|&i| self.message.is_char_boundary(i)).unwrap_or(0);
        write!(f, "parse error: {}… ({} more bytes)", &self.message[..cut], self.message.len() - cut)
    }
}

impl ParseError {
    /// An error with no position.
    pub(crate) fn new(message: impl Into<String>) -> ParseError {
        ParseError { position: None, message: message.into() }
    }
}

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
    pub(crate) offset: usize,
}

const WORD_OPERATORS: &[&str] = &["and", "or", "unless", "atan2"];
const KEYWORDS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"];

/// Scans `query` into tokens, and the offset of an unterminated string's quote if there is one
/// (the tokens then stop before it).
fn scan(query: &str) -> (Vec<Token<'_>>, Option<usize>) {
    let mut scanner = Scanner::new(query);
    let tokens = scanner.by_ref().collect();
    (tokens, scanner.unterminated)
}

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
            return Some(Token { kind, text: &query[start..i], offset: start });
        }
        self.i = i;
        None
    }
}

/// Prometheus's line:col of a byte offset.
pub(crate) fn position(query: &str, offset: usize) -> Position {
    let before = &query[..offset.min(query.len())];
    let line = before.matches('\n').count() + 1;
    let col = offset - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Position { line, col }
}

/// How Prometheus describes a token in "unexpected ..." messages.
fn describe(token: &Token) -> String {
    match token.kind {
        Kind::Identifier if KEYWORDS.contains(&token.text) => format!("<{}>", token.text),
        Kind::Identifier => format!("identifier \"{}\"", token.text),
        Kind::Number => format!("number \"{}\"", token.text),
        Kind::Duration => format!("duration \"{}\"", token.text),
        Kind::String => format!("string {}", token.text),
        Kind::Operator => format!("<op:{}>", token.text),
        Kind::Open | Kind::Close | Kind::Comma | Kind::Other => format!("\"{}\"", token.text),
    }
}

/// Whether a token can end an operand (so that a binary operator may follow it).
fn ends_operand(token: &Token) -> bool {
    matches!(token.kind, Kind::Identifier | Kind::Number | Kind::String | Kind::Duration | Kind::Close)
        && !KEYWORDS.contains(&token.text)
}

/// Turns promql-parser's message for `query` into Prometheus's wording and position.
pub(crate) fn locate(query: &str, message: String) -> ParseError {
    let at = |offset: usize, message: String| ParseError { position: Some(position(query, offset)), message };
    let (tokens, unterminated) = scan(query);
    if let Some(quote) = unterminated {
        return at(quote, message);
    }
    // Prometheus's lexer reports these on reaching the end of the input, trailing whitespace
    // and comments included (upstream `parse_test.go`: `((1)` at 4, `sum(rate(` at 9).
    let end = query.len();
    if message.starts_with("unexpected end of input") || message == "unclosed left parenthesis" {
        return at(end, message);
    }
    if message == "no expression found in input" {
        return at(0, message);
    }
    if let Some(close) = message.strip_prefix("unexpected right parenthesis") {
        let mut depth = 0i32;
        for token in &tokens {
            match token.text {
                "(" => depth += 1,
                ")" if depth == 0 => return at(token.offset, format!("unexpected right parenthesis{close}")),
                ")" => depth -= 1,
                _ => {}
            }
        }
        return ParseError::new(message);
    }
    if let Some(name) = message.strip_prefix("unknown function with name \"").and_then(|m| m.strip_suffix('"')) {
        let call = tokens.windows(2).find(|w| w[0].text == name && w[1].text == "(");
        return match call {
            Some(w) => at(w[0].offset, message),
            None => ParseError::new(message),
        };
    }
    if let Some(function) =
        message.split("in call to function \"").nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned)
    {
        // Prometheus points at the offending argument; promql-parser does not say which, so
        // point at the first argument of the call, which is what most such errors are about.
        let call = tokens.windows(3).find(|w| w[0].text == function && w[1].text == "(");
        return match call {
            Some(w) if w[2].text != ")" => at(w[2].offset, message),
            _ => ParseError::new(message),
        };
    }
    if message != "invalid promql query" {
        return ParseError::new(message);
    }
    // A grammar error: find the first token that cannot follow the previous one.
    for pair in tokens.windows(2) {
        let (previous, token) = (&pair[0], &pair[1]);
        let operand_starts = matches!(token.kind, Kind::Identifier | Kind::Number | Kind::String | Kind::Duration)
            && !KEYWORDS.contains(&token.text)
            && !WORD_OPERATORS.contains(&token.text);
        let after_operand = ends_operand(previous) && previous.text != "]";
        if operand_starts && after_operand && previous.kind != Kind::Identifier {
            return at(token.offset, format!("unexpected {}", describe(token)));
        }
        if operand_starts && previous.kind == Kind::Identifier && after_operand && token.text != "(" {
            return at(token.offset, format!("unexpected {}", describe(token)));
        }
        let binary_only = token.kind == Kind::Operator && !matches!(token.text, "+" | "-");
        if binary_only && matches!(previous.kind, Kind::Operator | Kind::Open | Kind::Comma) {
            return at(token.offset, format!("unexpected {}", describe(token)));
        }
    }
    match tokens.last() {
        Some(last) if matches!(last.kind, Kind::Operator | Kind::Comma) || last.text == "@" => {
            at(end, "unexpected end of input".to_owned())
        }
        _ => ParseError::new(message),
    }
}

#[cfg(test)]
mod tests {
    use crate::parser::parse;

    #[test]
    fn errors_carry_prometheus_positions() {
        let err = |q: &str| parse(q).unwrap_err().to_string();
        let table = [
            ("foo{", "1:5: parse error: unexpected end of input inside braces"),
            ("sum(rate(x[5m])", "1:16: parse error: unclosed left parenthesis"),
            ("sum(\n", "2:1: parse error: unclosed left parenthesis"),
            ("up + ", "1:6: parse error: unexpected end of input"),
            ("", "1:1: parse error: no expression found in input"),
            ("# just a comment\n\n", "1:1: parse error: no expression found in input"),
            ("1)", "1:2: parse error: unexpected right parenthesis ')'"),
            ("up +", "1:5: parse error: unexpected end of input"),
            ("-", "1:2: parse error: unexpected end of input"),
            ("1 +* 2", "1:4: parse error: unexpected <op:*>"),
            ("foo bar", "1:5: parse error: unexpected identifier \"bar\""),
            ("1 2", "1:3: parse error: unexpected number \"2\""),
            (
                "rate(up)",
                "1:6: parse error: expected type range vector in call to function \"rate\", got instant vector",
            ),
            ("x + nosuch(up)", "1:5: parse error: unknown function with name \"nosuch\""),
            ("foo[5m", "1:7: parse error: unexpected end of input inside brackets"),
            ("\"abc", "1:1: parse error: unterminated quoted string \""),
        ];
        for (query, want) in table {
            assert_eq!(err(query), want, "{query}");
        }
    }
}

#[cfg(test)]
mod robustness {
    use crate::error::QueryError;
    use crate::parser::parse;

    // Every short query over characters that stress the scanners (quotes, escapes, brackets,
    // multi-byte UTF-8) parses or fails with a parse error; none panics.
    #[test]
    fn short_queries_never_panic() {
        let alphabet =
            ["a", "1", "\"", "'", "`", "\\", "x", "{", "}", "(", ")", "[", "]", "é", "+", " ", "#", "@", ":", "5m"];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let query = format!("{a}{b}{c}");
                    let result = parse(&query);
                    assert!(matches!(result, Ok(_) | Err(QueryError::Parse(_))), "{query:?}: {result:?}");
                }
            }
        }
    }
}
