//! The Prometheus text format 0.0.4 (upstream `model/textparse/promparse.go` for semantics).
//!
//! Grammar per line: `# HELP name text`, `# TYPE name type`, other `#` comments, blank lines, or
//! `name[{label="value",...}] value [timestamp]`, tokens separated by spaces or tabs, CRLF
//! accepted. A label value escapes only `\\`, `\"` and `\n`.

use std::borrow::Cow;

use super::{Entry, MetricType, ParseError, ParseErrorKind, SampleLine};

/// Iterates over the entries of a text-format body. Stops at the first error.
pub struct PromParser<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
    failed: bool,
}

impl<'a> PromParser<'a> {
    /// A parser over `body`; a body that is not UTF-8 fails on the first `next`.
    pub fn new(body: &'a [u8]) -> PromParser<'a> {
        match std::str::from_utf8(body) {
            Ok(text) => PromParser { text, pos: 0, line: 0, failed: false },
            Err(err) => {
                let line = body[..err.valid_up_to()].iter().filter(|b| **b == b'\n').count() as u32;
                PromParser { text: "", pos: usize::MAX, line, failed: false }
            }
        }
    }

    fn error(&self, line_text: &str, col: usize, kind: ParseErrorKind) -> ParseError {
        let mut end = line_text.len().min(120);
        while !line_text.is_char_boundary(end) {
            end -= 1;
        }
        ParseError { line: self.line, col: col as u32 + 1, kind, context: Some(line_text[..end].to_owned()) }
    }

    fn parse_line(&self, line: &'a str) -> Result<Option<Entry<'a>>, ParseError> {
        let trimmed = line.trim_start_matches([' ', '\t']);
        if trimmed.is_empty() {
            return Ok(None);
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            return self.parse_comment(line, comment);
        }
        let start = line.len() - trimmed.len();
        self.parse_sample(line, start).map(|s| Some(Entry::Sample(s)))
    }

    fn parse_comment(&self, line: &'a str, comment: &'a str) -> Result<Option<Entry<'a>>, ParseError> {
        let mut words = comment.trim_start_matches([' ', '\t']).splitn(2, [' ', '\t']);
        let keyword = words.next().unwrap_or("");
        if keyword != "HELP" && keyword != "TYPE" {
            return Ok(None);
        }
        let rest = words.next().unwrap_or("").trim_start_matches([' ', '\t']);
        let (name, tail) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
        if !is_metric_name(name) {
            let col = line.len() - rest.len();
            return Err(self.error(line, col, ParseErrorKind::ExpectedMetricName { got: name.to_owned() }));
        }
        let tail = tail.trim_start_matches([' ', '\t']);
        if keyword == "HELP" {
            return Ok(Some(Entry::Help { name, text: tail }));
        }
        let kind = match tail.trim_end_matches([' ', '\t']) {
            "counter" => MetricType::Counter,
            "gauge" => MetricType::Gauge,
            "histogram" => MetricType::Histogram,
            "summary" => MetricType::Summary,
            "untyped" => MetricType::Unknown,
            other => {
                let col = line.len() - tail.len();
                return Err(self.error(line, col, ParseErrorKind::InvalidType { text: other.to_owned() }));
            }
        };
        Ok(Some(Entry::Type { name, kind }))
    }

    fn parse_sample(&self, line: &'a str, start: usize) -> Result<SampleLine<'a>, ParseError> {
        let bytes = line.as_bytes();
        let mut pos = start;
        while pos < bytes.len() && is_name_byte(bytes[pos], pos == start, true) {
            pos += 1;
        }
        let name = &line[start..pos];
        if name.is_empty() {
            let got = line[start..].chars().take(10).collect();
            return Err(self.error(line, start, ParseErrorKind::ExpectedMetricName { got }));
        }
        let mut labels_text = "";
        if bytes.get(pos) == Some(&b'{') {
            let open = pos + 1;
            pos = self.scan_labels(line, open)?;
            labels_text = &line[open..pos - 1];
        }
        let series = &line[start..pos];

        let rest = &line[pos..];
        let after_ws = rest.trim_start_matches([' ', '\t']);
        let value_col = line.len() - after_ws.len();
        if after_ws.len() == rest.len() {
            let got = rest.chars().take(10).collect::<String>();
            return Err(self.error(line, value_col, ParseErrorKind::InvalidValue { text: got }));
        }
        let mut fields = after_ws.split([' ', '\t']).filter(|f| !f.is_empty());
        let value_text = fields.next().unwrap_or("");
        let value = parse_go_float(value_text)
            .ok_or_else(|| self.error(line, value_col, ParseErrorKind::InvalidValue { text: value_text.to_owned() }))?;
        let timestamp = match fields.next() {
            None => None,
            Some(ts) => {
                let col =
                    line.len() - line[value_col..].trim_start_matches(value_text).trim_start_matches([' ', '\t']).len();
                Some(
                    ts.parse::<i64>()
                        .map_err(|_| self.error(line, col, ParseErrorKind::InvalidTimestamp { text: ts.to_owned() }))?,
                )
            }
        };
        if let Some(extra) = fields.next() {
            let col = line.rfind(extra).unwrap_or(0);
            return Err(self.error(line, col, ParseErrorKind::TrailingText { text: extra.to_owned() }));
        }
        Ok(SampleLine { series, name, labels_text, value, timestamp })
    }

    /// Validates `name="value",...}` starting after `{`; returns the position after `}`.
    fn scan_labels(&self, line: &str, open: usize) -> Result<usize, ParseError> {
        let bytes = line.as_bytes();
        let mut pos = open;
        let mut seen: Vec<&str> = Vec::new();
        loop {
            while pos < bytes.len() && (bytes[pos] == b' ' || bytes[pos] == b'\t') {
                pos += 1;
            }
            if bytes.get(pos) == Some(&b'}') {
                return Ok(pos + 1);
            }
            let name_start = pos;
            while pos < bytes.len() && is_name_byte(bytes[pos], pos == name_start, false) {
                pos += 1;
            }
            let name = &line[name_start..pos];
            if name.is_empty() {
                let got = line[pos..].chars().take(10).collect();
                return Err(self.error(line, pos, ParseErrorKind::ExpectedLabelName { got }));
            }
            if seen.contains(&name) {
                return Err(self.error(line, name_start, ParseErrorKind::DuplicateLabel { name: name.to_owned() }));
            }
            seen.push(name);
            while pos < bytes.len() && (bytes[pos] == b' ' || bytes[pos] == b'\t') {
                pos += 1;
            }
            if bytes.get(pos) != Some(&b'=') {
                return Err(self.error(line, pos, ParseErrorKind::ExpectedEquals { name: name.to_owned() }));
            }
            pos += 1;
            while pos < bytes.len() && (bytes[pos] == b' ' || bytes[pos] == b'\t') {
                pos += 1;
            }
            if bytes.get(pos) != Some(&b'"') {
                return Err(self.error(line, pos, ParseErrorKind::ExpectedQuote { name: name.to_owned() }));
            }
            pos += 1;
            loop {
                match bytes.get(pos) {
                    None => {
                        return Err(self.error(line, pos, ParseErrorKind::UnterminatedValue { name: name.to_owned() }));
                    }
                    Some(b'\\') => pos += 2,
                    Some(b'"') => break,
                    Some(_) => pos += 1,
                }
            }
            pos += 1;
            while pos < bytes.len() && (bytes[pos] == b' ' || bytes[pos] == b'\t') {
                pos += 1;
            }
            match bytes.get(pos) {
                Some(b',') => pos += 1,
                Some(b'}') => return Ok(pos + 1),
                _ => {
                    let got = line.get(pos..).unwrap_or("").chars().take(10).collect();
                    return Err(self.error(
                        line,
                        pos,
                        ParseErrorKind::ExpectedCommaOrBrace { name: name.to_owned(), got },
                    ));
                }
            }
        }
    }
}

impl<'a> Iterator for PromParser<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if self.pos == usize::MAX {
            self.failed = true;
            return Some(Err(ParseError {
                line: self.line + 1,
                col: 1,
                kind: ParseErrorKind::InvalidUtf8,
                context: None,
            }));
        }
        while self.pos < self.text.len() {
            let rest = &self.text[self.pos..];
            let end = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
            let line = rest[..end].strip_suffix('\r').unwrap_or(&rest[..end]);
            self.pos += end + 1;
            self.line += 1;
            match self.parse_line(line) {
                Ok(None) => continue,
                Ok(Some(entry)) => return Some(Ok(entry)),
                Err(err) => {
                    self.failed = true;
                    return Some(Err(err));
                }
            }
        }
        None
    }
}

/// Splits validated label text into pairs, unescaping values.
pub(super) fn split_labels(text: &str) -> Vec<(&str, Cow<'_, str>)> {
    let mut out = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let Some(eq) = rest.find('=') else { return out };
        let name = rest[..eq].trim_end_matches([' ', '\t']);
        let after = rest[eq + 1..].trim_start_matches([' ', '\t']);
        let body = &after[1..];
        let bytes = body.as_bytes();
        let mut i = 0;
        let mut escaped = false;
        while bytes[i] != b'"' {
            if bytes[i] == b'\\' {
                escaped = true;
                i += 1;
            }
            i += 1;
        }
        let raw = &body[..i];
        let value = if escaped { Cow::Owned(unescape(raw)) } else { Cow::Borrowed(raw) };
        out.push((name, value));
        rest = &body[i + 1..];
    }
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some(other @ ('\\' | '"')) => out.push(other),
            // Prometheus keeps an unknown escape as written.
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn is_name_byte(b: u8, first: bool, metric: bool) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || (metric && b == b':') || (!first && b.is_ascii_digit())
}

fn is_metric_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().enumerate().all(|(i, b)| is_name_byte(b, i == 0, true))
}

/// Go's ParseFloat spellings of the special values, then Rust's decimal syntax.
fn parse_go_float(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "+inf" | "Inf" | "inf" => return Some(f64::INFINITY),
        "-Inf" | "-inf" => return Some(f64::NEG_INFINITY),
        "NaN" | "nan" => return Some(f64::NAN),
        _ => {}
    }
    if text.chars().any(|c| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(body: &str) -> Vec<String> {
        PromParser::new(body.as_bytes())
            .map(|entry| match entry.unwrap() {
                Entry::Sample(s) => {
                    let labels: Vec<String> = s.labels().iter().map(|(n, v)| format!("{n}={v:?}")).collect();
                    format!("{} [{}] {} {:?}", s.name, labels.join(","), s.value, s.timestamp)
                }
                Entry::Help { name, text } => format!("HELP {name} {text}"),
                Entry::Type { name, kind } => format!("TYPE {name} {}", kind.as_str()),
            })
            .collect()
    }

    fn error(body: &str) -> String {
        PromParser::new(body.as_bytes()).find_map(Result::err).expect("an error").to_string()
    }

    #[test]
    fn families_samples_and_comments() {
        let body = "# HELP http_requests_total The total.\n# TYPE http_requests_total counter\n\
                    # a plain comment\n\nhttp_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\r\n\
                    http_requests_total{method=\"post\",code=\"400\",} 3\nup 1\n  go_goroutines\t 12.5\n";
        insta::assert_debug_snapshot!(samples(body), @r#"
        [
            "HELP http_requests_total The total.",
            "TYPE http_requests_total counter",
            "http_requests_total [method=\"post\",code=\"200\"] 1027 Some(1395066363000)",
            "http_requests_total [method=\"post\",code=\"400\"] 3 None",
            "up [] 1 None",
            "go_goroutines [] 12.5 None",
        ]
        "#);
    }

    #[test]
    fn escapes_special_values_and_series_text() {
        let body = "msg{path=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\"} +Inf\nx NaN\ny -Inf\nz 1e3\n";
        insta::assert_debug_snapshot!(samples(body), @r#"
        [
            "msg [path=\"C:\\\\dir\",q=\"say \\\"hi\\\"\",nl=\"a\\nb\"] inf None",
            "x [] NaN None",
            "y [] -inf None",
            "z [] 1000 None",
        ]
        "#);
        let first = PromParser::new(b"a{b=\"c\"} 1 2\n").next().unwrap().unwrap();
        let Entry::Sample(sample) = first else { panic!("expected a sample") };
        assert_eq!(sample.series, "a{b=\"c\"}");
    }

    #[test]
    fn errors_say_line_column_and_what() {
        insta::assert_snapshot!(error("up 1\nfoo{le 1}\n"), @r#"line 2, column 8: expected '=' after label name "le" in "foo{le 1}""#);
        insta::assert_snapshot!(error("a{b=\"1\",b=\"2\"} 1"), @r#"line 1, column 9: duplicate label name "b" in "a{b=\"1\",b=\"2\"} 1""#);
        insta::assert_snapshot!(error("a 1x"), @r#"line 1, column 3: invalid sample value "1x" in "a 1x""#);
        insta::assert_snapshot!(error("a 1 12.5"), @r#"line 1, column 5: invalid timestamp "12.5" in "a 1 12.5""#);
        insta::assert_snapshot!(error("a{b=\"1} 1"), @r#"line 1, column 10: unterminated value of label "b" in "a{b=\"1} 1""#);
        insta::assert_snapshot!(error("# TYPE a countr"), @r##"line 1, column 10: invalid metric type "countr" in "# TYPE a countr""##);
        insta::assert_snapshot!(error("{a=\"b\"} 1"), @r#"line 1, column 1: expected metric name, got "{a=\"b\"} 1" in "{a=\"b\"} 1""#);
        insta::assert_snapshot!(error("a"), @r#"line 1, column 2: invalid sample value "" in "a""#);
    }
}
