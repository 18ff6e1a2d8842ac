//! Parse errors in Prometheus's shape, `1:7: parse error: unexpected end of input` (upstream
//! `promql/parser/parse.go` `ParseErr`, `posrange.PositionRange.StartPosInput`): the line and
//! the column in bytes, both from 1, of where the problem starts. An error Prometheus cannot
//! place (the empty query) says `unknown position`. A message is shown cut to
//! [`MAX_MESSAGE_LEN`] bytes, so an error never echoes a giant query back.

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
    /// Where the problem starts; `None` when there is no position to give.
    pub position: Option<Position>,
    /// What is wrong, in Prometheus's words where known.
    pub message: String,
}

/// The most bytes of a message that [`ParseError`]'s `Display` shows. Messages quote names,
/// strings and, in promql-parser's "no expression found", the whole query.
pub(crate) const MAX_MESSAGE_LEN: usize = 300;

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(Position { line, col }) => write!(f, "{line}:{col}: ")?,
            None => f.write_str("unknown position: ")?,
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

/// Prometheus's line:col of a byte offset.
pub(crate) fn position(query: &str, offset: usize) -> Position {
    let before = &query[..offset.min(query.len())];
    let line = before.matches('\n').count() + 1;
    let col = offset.min(query.len()) - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    Position { line, col }
}

#[cfg(test)]
mod tests {
    use crate::parser::parse;

    // Each text is what Prometheus 2.42 answered for the query (its API's error after
    // `invalid parameter "query": `); 3.x words these the same.
    #[test]
    fn errors_carry_prometheus_positions() {
        let err = |q: &str| parse(q).unwrap_err().to_string();
        let table = [
            ("foo{", "1:5: parse error: unexpected end of input inside braces"),
            ("sum(rate(x[5m])", "1:16: parse error: unclosed left parenthesis"),
            ("1)", "1:3: parse error: unexpected right parenthesis ')'"),
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
            ("foo[5m", "1:7: parse error: unclosed left bracket"),
            ("\"abc", "1:1: parse error: unterminated quoted string"),
            ("sum by (a) (x +)", "1:16: parse error: unexpected \")\" in aggregation"),
            ("sum(x) foo", "1:8: parse error: unexpected identifier \"foo\""),
            ("sum(rate(x[1m])) by", "1:20: parse error: unexpected end of input in grouping opts, expected \"(\""),
            ("x offset 5m offset 1m", "1:1: parse error: offset may not be set multiple times"),
            (
                "a + on(b) group_left(b) c",
                "1:3: parse error: label \"b\" must not occur in ON and GROUP clause at once",
            ),
            ("1 == 2", "1:3: parse error: comparisons between scalars must use BOOL modifier"),
            ("x{a!b}", "1:4: parse error: unexpected character after '!' inside braces: 'b'"),
            ("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
            ("{a=~\".*\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
            ("rate(x,,y)", "1:7: parse error: trailing commas not allowed in function call args"),
            (
                "foo{a=\"b\" c}",
                "1:11: parse error: unexpected identifier \"c\" in label matching, expected \",\" or \"}\"",
            ),
            (
                "histogram_quantile(0.9)",
                "1:1: parse error: expected 2 argument(s) in call to \"histogram_quantile\", got 1",
            ),
            ("\"a\" + 1", "1:1: parse error: binary expression must contain only scalar and instant vector types"),
            ("0x", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x\": invalid syntax"),
            ("sum(", "1:5: parse error: unclosed left parenthesis"),
            ("x{a=\"\\q\"}", "1:5: parse error: unknown escape sequence U+0071 'q'"),
            ("  # only a comment", "1:1: parse error: no expression found in input"),
            // Prometheus 3 parses the regex as written (upstream model/labels/regexp.go), 2.42
            // quoted it anchored: `^(?:()$`.
            ("foo{a=~\"(\"}", "1:5: parse error: error parsing regexp: missing closing ): `(`"),
            // Prometheus 3 lexes brackets as duration expressions (upstream promql/parser/lex.go
            // lexDurationExpr); 2.42 said `missing unit character in duration`.
            ("rate(x[$__rate_interval])", "1:8: parse error: unexpected character in duration expression: '$'"),
            // 3.x scans numbers with `_` separators and refuses a dangling exponent in the lexer.
            ("1e", "1:1: parse error: bad number or duration syntax: \"1e\""),
            // 3.x: the empty query has no position (upstream posrange.go StartPosInput).
            ("", "unknown position: parse error: no expression found in input"),
        ];
        for (query, want) in table {
            assert_eq!(err(query), want, "{query}");
        }
        assert!(parse("vector(0e0)").is_ok());
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
