//! The series notation of rule unit tests (upstream `promql/parser` `ParseSeriesDesc` and
//! `ParseMetric`): `metric{label="value", ...}` then the expanding notation of values, and
//! `metric{...}` alone for an expected sample's labels.
//!
//! Values, separated by spaces: a number (`1`, `-2.5`, `1e3`, `Inf`, `NaN`, `010` is octal as
//! in Go), `stale` (a staleness marker), `_` (no sample), and the expansions `axn` (`a` n+1
//! times), `a+bxn` and `a-bxn` (n further values, each `b` more or less than the one before,
//! added up as upstream adds them) and `_xn` (n missing samples). Native histograms
//! (`{{...}}`) are refused: promlite's storage has none yet.
//!
//! Errors read as Prometheus's parser words them, `LINE:COL: parse error: MESSAGE`, with
//! promtool's line numbers (the line of the series in promtool's `load` command).

use promlite_storage::{Labels, METRIC_NAME, STALE_NAN};

use super::format::{go_quote, go_quote_rune};

/// The most values one series may expand to: far beyond any test, short of exhausting memory.
const MAX_VALUES: u64 = 50_000_000;

/// A series notation that does not parse, at a 1-based line and column (in bytes, as Go's).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{line}:{column}: parse error: {message}")]
pub struct SeriesError {
    /// The line, counted as promtool counts it.
    pub line: usize,
    /// The column, 1-based, in bytes.
    pub column: usize,
    /// Prometheus's message.
    pub message: String,
}

/// One value of a series: a float (maybe a staleness marker), or no sample.
pub type SeriesValue = Option<f64>;

/// Parses `text`, a series and its values, given as line `line_offset + 1` of promtool's load
/// command (0 for a text of its own).
pub fn parse_series_desc(text: &str, line_offset: usize) -> Result<(Labels, Vec<SeriesValue>), SeriesError> {
    let mut scanner = Scanner { text, pos: 0, line_offset };
    let labels = scanner.metric(true)?;
    let values = scanner.values()?;
    Ok((labels, values))
}

/// Parses an expected sample's labels, `metric{label="value"}`; empty text is no labels.
pub fn parse_metric(text: &str) -> Result<Labels, SeriesError> {
    let mut scanner = Scanner { text, pos: 0, line_offset: 0 };
    scanner.skip_spaces();
    if scanner.at_end() {
        return Ok(Labels::empty());
    }
    let labels = scanner.metric(false)?;
    scanner.skip_spaces();
    if !scanner.at_end() {
        let token = scanner.token_desc();
        return Err(scanner.error(scanner.pos, format!("unexpected {token}")));
    }
    Ok(labels)
}

struct Scanner<'a> {
    text: &'a str,
    pos: usize,
    line_offset: usize,
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alphanumeric(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

impl Scanner<'_> {
    fn error(&self, at: usize, message: String) -> SeriesError {
        let before = &self.text[..at.min(self.text.len())];
        let line = self.line_offset + 1 + before.matches('\n').count();
        let column = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        SeriesError { line, column, message }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &str {
        let start = self.pos;
        while let Some(c) = self.peek().filter(|c| keep(*c)) {
            self.pos += c.len_utf8();
        }
        &self.text[start..self.pos]
    }

    /// How the parser names what is at the current position in an "unexpected" message.
    fn token_desc(&self) -> String {
        let rest = &self.text[self.pos..];
        match rest.chars().next() {
            None => "end of input".to_owned(),
            Some(c) if is_alpha(c) => {
                let word: String = rest.chars().take_while(|c| is_alphanumeric(*c) || *c == ':').collect();
                format!("identifier {}", go_quote(&word))
            }
            Some(c) if c.is_ascii_digit() => {
                let word: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
                format!("number {}", go_quote(&word))
            }
            Some(c) => go_quote(&c.to_string()),
        }
    }

    /// `name`, `name{...}` or `{...}`. In a series description the name is followed at once
    /// by the braces or the values.
    fn metric(&mut self, series: bool) -> Result<Labels, SeriesError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut has_name = false;
        if self.peek().is_some_and(is_alpha) {
            let name = self.take_while(|c| is_alphanumeric(c) || c == ':').to_owned();
            pairs.push((METRIC_NAME.to_owned(), name));
            has_name = true;
            if !series {
                self.skip_spaces();
            }
        }
        if self.peek() == Some('{') && !self.text[self.pos..].starts_with("{{") {
            self.pos += 1;
            self.label_set(&mut pairs)?;
        } else if !has_name {
            let token = self.token_desc();
            return Err(self.error(self.pos, format!("unexpected {token}")));
        }
        pairs.sort();
        Ok(Labels::from_pairs(pairs))
    }

    /// The inside of `{...}` after the brace: `name="value"` or `"name"="value"` items, or a
    /// quoted metric name alone, separated by commas.
    fn label_set(&mut self, pairs: &mut Vec<(String, String)>) -> Result<(), SeriesError> {
        let mut expect_item = true;
        loop {
            self.skip_spaces();
            let at = self.pos;
            let Some(c) = self.peek() else {
                return Err(self.error(at, "unexpected end of input inside braces".to_owned()));
            };
            match c {
                '}' => {
                    self.pos += 1;
                    return Ok(());
                }
                ',' if !expect_item => {
                    self.pos += 1;
                    expect_item = true;
                }
                _ if !expect_item => {
                    self.lex_inside_braces()?;
                    let token = self.token_desc();
                    return Err(self.error(at, format!("unexpected {token} in label set, expected \",\" or \"}}\"")));
                }
                c if is_alpha(c) || matches!(c, '"' | '\'' | '`') => {
                    let quoted = !is_alpha(c);
                    let name = if quoted { self.string()? } else { self.take_while(is_alphanumeric).to_owned() };
                    self.skip_spaces();
                    if self.peek() == Some('=') && !self.text[self.pos..].starts_with("=~") {
                        self.pos += 1;
                        self.skip_spaces();
                        let value_at = self.pos;
                        if !matches!(self.peek(), Some('"' | '\'' | '`')) {
                            self.lex_inside_braces()?;
                            let token = self.token_desc();
                            return Err(
                                self.error(value_at, format!("unexpected {token} in label set, expected string"))
                            );
                        }
                        let value = self.string()?;
                        pairs.retain(|(n, _)| *n != name);
                        pairs.push((name, value));
                    } else if quoted {
                        pairs.retain(|(n, _)| n != METRIC_NAME);
                        pairs.push((METRIC_NAME.to_owned(), name));
                    } else {
                        let next_at = self.pos;
                        self.lex_inside_braces()?;
                        let token = self.token_desc();
                        return Err(self.error(next_at, format!("unexpected {token} in label set, expected \"=\"")));
                    }
                    expect_item = false;
                }
                _ => {
                    self.lex_inside_braces()?;
                    let token = self.token_desc();
                    return Err(
                        self.error(at, format!("unexpected {token} in label set, expected identifier or \"}}\""))
                    );
                }
            }
        }
    }

    /// Fails as the lexer does on a character it has no token for inside braces.
    fn lex_inside_braces(&self) -> Result<(), SeriesError> {
        match self.peek() {
            None => Err(self.error(self.pos, "unexpected end of input inside braces".to_owned())),
            Some(',' | '"' | '\'' | '`' | '=' | '}') => Ok(()),
            Some('!') => match self.text[self.pos + 1..].chars().next() {
                Some('~' | '=') => Ok(()),
                next => Err(self.error(
                    self.pos,
                    format!("unexpected character after '!' inside braces: {}", go_quote_rune(next.unwrap_or('\0'))),
                )),
            },
            Some('{') => Err(self.error(self.pos, "unexpected left brace '{'".to_owned())),
            Some(c) if is_alpha(c) => Ok(()),
            Some(c) => Err(self.error(self.pos, format!("unexpected character inside braces: {}", go_quote_rune(c)))),
        }
    }

    /// A quoted string (`"..."`, `'...'`, or raw `` `...` ``) with Go's escapes.
    fn string(&mut self) -> Result<String, SeriesError> {
        let start = self.pos;
        let quote = self.peek().expect("at a quote");
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(c) = self.peek() else {
                let message = if quote == '`' { "unterminated raw string" } else { "unterminated quoted string" };
                return Err(self.error(start, message.to_owned()));
            };
            self.pos += c.len_utf8();
            if c == quote {
                return Ok(out);
            }
            if c == '\n' && quote != '`' {
                return Err(self.error(start, "unterminated quoted string".to_owned()));
            }
            if c != '\\' || quote == '`' {
                out.push(c);
                continue;
            }
            // The lexer reports escape problems at the string token's start.
            let escape_at = start;
            let Some(e) = self.peek() else { continue };
            self.pos += e.len_utf8();
            let simple = match e {
                'a' => Some('\x07'),
                'b' => Some('\x08'),
                'f' => Some('\x0c'),
                'n' => Some('\n'),
                'r' => Some('\r'),
                't' => Some('\t'),
                'v' => Some('\x0b'),
                '\\' => Some('\\'),
                c if c == quote => Some(c),
                _ => None,
            };
            if let Some(c) = simple {
                out.push(c);
                continue;
            }
            let (digits, radix, first) = match e {
                '0'..='7' => (3, 8, Some(e)),
                'x' => (2, 16, None),
                'u' => (4, 16, None),
                'U' => (8, 16, None),
                _ => {
                    return Err(self.error(escape_at, format!("unknown escape sequence {}", go_rune_u(e))));
                }
            };
            let mut text: String = first.into_iter().collect();
            while text.len() < digits {
                match self.peek() {
                    Some(d) if d.is_digit(radix) => {
                        text.push(d);
                        self.pos += 1;
                    }
                    _ => return Err(self.error(escape_at, "illegal character in escape sequence".to_owned())),
                }
            }
            let code = u32::from_str_radix(&text, radix).unwrap_or(u32::MAX);
            match char::from_u32(code) {
                Some(c) => out.push(c),
                None => {
                    return Err(self.error(escape_at, "escape sequence is an invalid Unicode code point".to_owned()));
                }
            }
        }
    }

    /// The values after the labels: items separated by spaces.
    fn values(&mut self) -> Result<Vec<SeriesValue>, SeriesError> {
        let mut values: Vec<SeriesValue> = Vec::new();
        if self.at_end() {
            return Ok(values);
        }
        if !self.peek().is_some_and(is_space) {
            let at = self.pos;
            self.lex_value()?;
            let token = self.token_desc();
            return Err(self.error(at, format!("unexpected {token} in series values")));
        }
        loop {
            self.skip_spaces();
            if self.at_end() {
                return Ok(values);
            }
            let item_at = self.pos;
            let item = self.take_while(|c| !is_space(c)).to_owned();
            self.item(&item, item_at, &mut values)?;
            if values.len() as u64 > MAX_VALUES {
                return Err(self.error(item_at, format!("more than {MAX_VALUES} values in one series")));
            }
        }
    }

    /// Fails as the lexer does on a character the value sequence has no token for.
    fn lex_value(&self) -> Result<(), SeriesError> {
        match self.peek() {
            Some('{') if self.text[self.pos..].starts_with("{{") => Err(self.error(self.pos, histograms())),
            Some(c) if c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_' | '.') || is_space(c) => Ok(()),
            Some(c) => {
                Err(self.error(self.pos, format!("unexpected character in series sequence: {}", go_quote_rune(c))))
            }
            None => Ok(()),
        }
    }

    /// One item: `_`, `_xN`, a value, `axN`, `a+bxN`, `a-bxN`.
    fn item(&self, item: &str, at: usize, values: &mut Vec<SeriesValue>) -> Result<(), SeriesError> {
        if item.starts_with("{{") {
            return Err(self.error(at, histograms()));
        }
        if let Some(bad) =
            item.char_indices().find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '_' | '.' | ':')))
        {
            return Err(
                self.error(at + bad.0, format!("unexpected character in series sequence: {}", go_quote_rune(bad.1)))
            );
        }
        let times = |text: &str, at: usize| -> Result<u64, SeriesError> {
            if !text.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(self.unexpected_in_values(at, text));
            }
            text.parse::<u64>().map_err(|_| self.error(at, format!("invalid repetition in series values: {text}")))
        };
        if item == "_" {
            values.push(None);
            return Ok(());
        }
        if let Some(n) = item.strip_prefix("_x") {
            let n = times(n, at + 2)?;
            check_count(self, at, n)?;
            values.extend(std::iter::repeat_n(None, n as usize));
            return Ok(());
        }
        // The first value: a signed number or `stale`, up to an operator or `x` after it.
        let (first, first_len) = self.value_prefix(item, at)?;
        let rest = &item[first_len..];
        if rest.is_empty() {
            values.push(Some(first));
            return Ok(());
        }
        if let Some(n) = rest.strip_prefix('x') {
            let n = times(n, at + first_len + 1)?;
            check_count(self, at, n)?;
            values.extend(std::iter::repeat_n(Some(first), n as usize + 1));
            return Ok(());
        }
        if rest.starts_with(['+', '-']) {
            let step_at = at + first_len;
            let (step, step_len) = self.value_prefix(rest, step_at)?;
            let after = &rest[step_len..];
            let Some(n) = after.strip_prefix('x') else {
                return Err(self.unexpected_in_values(step_at + step_len, after));
            };
            let n = times(n, step_at + step_len + 1)?;
            check_count(self, at, n)?;
            let mut current = first;
            for _ in 0..=n {
                values.push(Some(current));
                current += step;
            }
            return Ok(());
        }
        Err(self.unexpected_in_values(at + first_len, rest))
    }

    fn unexpected_in_values(&self, at: usize, rest: &str) -> SeriesError {
        let desc = match rest.chars().next() {
            None => "<space>".to_owned(),
            Some(c) if is_alpha(c) && c != 'x' && c != '_' => {
                let word: String = rest.chars().take_while(|c| is_alphanumeric(*c) || *c == ':').collect();
                format!("identifier {}", go_quote(&word))
            }
            Some(c) if c.is_ascii_digit() => {
                let word: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
                format!("number {}", go_quote(&word))
            }
            Some(c @ ('+' | '-')) => format!("<op:{c}>"),
            Some(c) => go_quote(&c.to_string()),
        };
        self.error(at, format!("unexpected {desc} in series values"))
    }

    /// A value at the start of `text`: an optionally signed number, `Inf`, `NaN` or `stale`;
    /// returns it and how many bytes it took.
    fn value_prefix(&self, text: &str, at: usize) -> Result<(f64, usize), SeriesError> {
        let (sign, body, sign_len) = match text.as_bytes().first() {
            Some(b'+') => (1.0, &text[1..], 1),
            Some(b'-') => (-1.0, &text[1..], 1),
            _ => (1.0, text, 0),
        };
        let body_at = at + sign_len;
        if body.starts_with(['x', '_']) {
            return Err(self.unexpected_in_values(body_at, body));
        }
        if body.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let word_len = body.find(|c: char| !(is_alphanumeric(c) || c == ':')).unwrap_or(body.len());
            let word = &body[..word_len];
            let value = match word.to_ascii_lowercase().as_str() {
                "inf" => f64::INFINITY,
                "nan" => f64::NAN,
                // Returned as is: arithmetic would quiet the signalling NaN that marks staleness.
                _ if word == "stale" && sign_len == 0 => return Ok((STALE_NAN, word_len)),
                _ => {
                    return Err(self.error(
                        body_at,
                        format!(
                            "unexpected identifier {} in series values, expected number or \"stale\"",
                            go_quote(word)
                        ),
                    ));
                }
            };
            return Ok((sign * value, sign_len + word_len));
        }
        let len = number_len(body);
        if len == 0 {
            return Err(self.unexpected_in_values(body_at, body));
        }
        let number = &body[..len];
        let after = body[len..].chars().next();
        if after.is_some_and(|c| c != 'x' && is_alphanumeric(c)) {
            return Err(self.error(body_at, format!("bad number syntax: {}", go_quote(number))));
        }
        let value = parse_go_number(number).ok_or_else(|| {
            self.error(
                body_at,
                format!("error parsing number: strconv.ParseFloat: parsing {}: invalid syntax", go_quote(number)),
            )
        })?;
        Ok((sign * value, sign_len + len))
    }
}

fn check_count(scanner: &Scanner<'_>, at: usize, n: u64) -> Result<(), SeriesError> {
    if n >= MAX_VALUES {
        return Err(scanner.error(at, format!("more than {MAX_VALUES} values in one series")));
    }
    Ok(())
}

fn histograms() -> String {
    "native histograms ({{...}}) are not supported by promlite yet".to_owned()
}

/// The length of the number at the start of `text`: digits, one `.`, an exponent, `_`.
fn number_len(text: &str) -> usize {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut seen_exponent = false;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' | b'.' | b'_' => i += 1,
            b'e' | b'E' if !seen_exponent && i > 0 => {
                seen_exponent = true;
                i += 1;
                if matches!(bytes.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    i
}

/// A number as upstream's parser reads one: Go's `ParseInt(text, 0, 64)` first (so `010` is
/// octal and `1_000` is 1000), else `ParseFloat` (no underscores there).
fn parse_go_number(text: &str) -> Option<f64> {
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'_') && underscores_between_digits(text) {
        let digits = text.replace('_', "");
        let parsed = match digits.strip_prefix('0') {
            Some(octal) if !octal.is_empty() => i64::from_str_radix(octal, 8),
            _ => digits.parse::<i64>(),
        };
        if let Ok(n) = parsed {
            return Some(n as f64);
        }
    }
    if text.contains('_') {
        return None;
    }
    text.parse::<f64>().ok()
}

/// Go's `underscoreOK` for a decimal or octal integer: each `_` between two digits.
fn underscores_between_digits(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.iter().enumerate().all(|(i, b)| {
        *b != b'_' || (i > 0 && bytes[i - 1].is_ascii_digit() && bytes.get(i + 1).is_some_and(u8::is_ascii_digit))
    })
}

/// Go's `%#U` of a rune: `U+0071 'q'`.
fn go_rune_u(c: char) -> String {
    format!("U+{:04X} {}", c as u32, go_quote_rune(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        let (_, values) = parse_series_desc(&format!("m {text}"), 0).unwrap_or_else(|e| panic!("{text}: {e}"));
        values
            .into_iter()
            .map(|v| match v {
                None => "_".to_owned(),
                Some(v) if promlite_storage::is_stale_nan(v) => "stale".to_owned(),
                Some(v) => v.to_string(),
            })
            .collect()
    }

    fn error(text: &str) -> String {
        parse_series_desc(text, 1).unwrap_err().to_string()
    }

    #[test]
    fn the_documented_examples_expand_as_the_docs_say() {
        // docs/configuration/unit_testing_rules.md, `<series>`.
        assert_eq!(values("-2+4x3"), ["-2", "2", "6", "10"]);
        assert_eq!(values("1-2x4"), ["1", "-1", "-3", "-5", "-7"]);
        assert_eq!(values("1x4"), ["1", "1", "1", "1", "1"]);
        assert_eq!(values("1 _x3 stale"), ["1", "_", "_", "_", "stale"]);
        // The docs' test.yml comments.
        assert_eq!(values("1+0x6 0 0"), ["1", "1", "1", "1", "1", "1", "1", "0", "0"]);
        assert_eq!(values("10+10x2 30+20x5"), ["10", "20", "30", "30", "50", "70", "90", "110", "130"]);
    }

    #[test]
    fn numbers_read_as_upstream_reads_them() {
        assert_eq!(values("0x10").len(), 11, "0x10 is 0 eleven times, not hex");
        assert_eq!(
            values("010 1e3 .5 +Inf -inf 2.9999999999999996"),
            ["8", "1000", "0.5", "inf", "-inf", "2.9999999999999996"]
        );
        assert_eq!(values("NaN"), ["NaN"]);
        // Go's ParseInt with base 0 takes underscores between digits (3.x lexes them; 2.42 did not).
        assert_eq!(values("1_000 0_7"), ["1000", "7"]);
    }

    #[test]
    fn additions_accumulate_as_upstream_adds() {
        // 0.1 added ten times is not 1.0 in floats; upstream adds, it does not multiply.
        let sum = (0..10).fold(0.0f64, |a, _| a + 0.1);
        assert_ne!(sum, 1.0);
        assert_eq!(values("0+0.1x10").last().unwrap(), &sum.to_string());
        assert_eq!(values("5-1x2 stale"), ["5", "4", "3", "stale"]);
    }

    #[test]
    fn labels_and_quoting() {
        let (labels, _) = parse_series_desc(r#"up{job="a\"b", 'i'='x', "utf.8"=`raw\n`,} 1"#, 0).unwrap();
        assert_eq!(labels, Labels::from_pairs([("__name__", "up"), ("i", "x"), ("job", "a\"b"), ("utf.8", "raw\\n")]));
        let (labels, values) = parse_series_desc(r#"{"quoted.name", a="1"}"#, 0).unwrap();
        assert_eq!(labels, Labels::from_pairs([("__name__", "quoted.name"), ("a", "1")]));
        assert!(values.is_empty());
        assert_eq!(parse_metric("").unwrap(), Labels::empty());
        assert_eq!(parse_metric(r#"{job="x"}"#).unwrap(), Labels::from_pairs([("job", "x")]));
        assert_eq!(parse_metric("test").unwrap(), Labels::from_pairs([("__name__", "test")]));
    }

    #[test]
    fn errors_read_as_upstream_words_them() {
        // cmd/promtool/testdata/bad-input-series.yml, the series as line 1 of the load command.
        assert_eq!(
            error(r#"up{job="prometheus", instance="localhost:9090" 0+0x1440"#),
            "2:48: parse error: unexpected character inside braces: '0'"
        );
        assert_eq!(error(r#"up{job="x""#), "2:11: parse error: unexpected end of input inside braces");
        assert_eq!(error(r#"up{job="x} 1"#), "2:8: parse error: unterminated quoted string");
        assert_eq!(
            error("up 1 foo"),
            "2:6: parse error: unexpected identifier \"foo\" in series values, expected number or \"stale\""
        );
        assert_eq!(
            error("up 1 {{schema:1}}"),
            "2:6: parse error: native histograms ({{...}}) are not supported by promlite yet"
        );
        // As promtool 2.42 words them (it numbers the line 1; 3.x the series' line in the load).
        assert_eq!(error("up 1x-1"), "2:6: parse error: unexpected <op:-> in series values");
        assert_eq!(error("up 1+x3"), "2:6: parse error: unexpected \"x\" in series values");
        assert_eq!(error("up 0b1"), "2:4: parse error: bad number syntax: \"0\"");
        assert_eq!(error("up 1 @ 2"), "2:6: parse error: unexpected character in series sequence: '@'");
        assert_eq!(error(r#"up{job="\q"} 1"#), "2:8: parse error: unknown escape sequence U+0071 'q'");
        assert_eq!(error("up{job=x} 1"), "2:8: parse error: unexpected identifier \"x\" in label set, expected string");
        assert_eq!(error("up{job} 1"), "2:7: parse error: unexpected \"}\" in label set, expected \"=\"");
        assert_eq!(
            error(r#"up{"a.b"="c" x="y"} 1"#),
            "2:14: parse error: unexpected identifier \"x\" in label set, expected \",\" or \"}\""
        );
        assert_eq!(error(r#"up {job="x"} 1"#), "2:4: parse error: unexpected character in series sequence: '{'");
        assert_eq!(
            error("up stalex2"),
            "2:4: parse error: unexpected identifier \"stalex2\" in series values, expected number or \"stale\""
        );
    }
}
