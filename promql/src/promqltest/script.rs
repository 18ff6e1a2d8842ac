//! The promqltest script language (upstream `promql/promqltest/README.md`): `load`, `clear` and
//! `eval` commands with their `expect` lines and expected series, parsed into [`Command`]s.
//!
//! Lines are trimmed and a `#` line counts as blank, so a comment ends a block, as upstream.
//! Native histogram samples are not errors here: they are recorded so the runner can skip
//! whatever depends on them with a reason.

use promlite_storage::Labels;

use super::{SequenceError, duration_ms, parse_number, try_expand_values};

/// One command of a script, with its 1-based line number.
#[derive(Debug, Clone)]
pub(crate) enum Command {
    /// `load <interval>` or `load_with_nhcb <interval>`: samples every `interval_ms` from 0.
    Load(Load),
    /// `clear`: drop all data.
    Clear,
    /// `eval ...`: a query and what it must return.
    Eval(Box<Eval>),
}

/// A `load` block.
#[derive(Debug, Clone)]
pub(crate) struct Load {
    pub(crate) line: usize,
    pub(crate) interval_ms: i64,
    /// `load_with_nhcb`: classic histograms are also loaded as native histograms with custom
    /// buckets, under the name without `_bucket`.
    pub(crate) with_nhcb: bool,
    pub(crate) series: Vec<(Labels, Vec<Option<f64>>)>,
    /// Series whose values include native histogram samples (not loaded).
    pub(crate) histogram_series: Vec<Labels>,
}

/// Which query an eval runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum EvalKind {
    /// `eval instant at <t>`.
    Instant { at_ms: i64 },
    /// `eval range from <start> to <end> step <step>`.
    Range { start_ms: i64, end_ms: i64, step_ms: i64 },
}

/// An annotation or error message expectation: exact text or an unanchored regex.
#[derive(Debug, Clone)]
pub(crate) enum MessageMatch {
    /// Any message.
    Any,
    /// `msg: text`.
    Exact(String),
    /// `regex: pattern`.
    Regex(regex::Regex),
}

impl MessageMatch {
    pub(crate) fn matches(&self, message: &str) -> bool {
        match self {
            MessageMatch::Any => true,
            MessageMatch::Exact(text) => text == message,
            MessageMatch::Regex(regex) => regex.is_match(message),
        }
    }
}

/// What an eval expects as its value.
#[derive(Debug, Clone, Default)]
pub(crate) enum Expected {
    /// No result lines: an empty vector or matrix.
    #[default]
    Empty,
    /// A scalar.
    Scalar(f64),
    /// A string (`expect string "..."`).
    String(String),
    /// Series with their values, in the order written (which matters for `expect ordered`).
    Series(Vec<(Labels, Vec<Option<f64>>)>),
}

/// An `eval` command.
#[derive(Debug, Clone)]
pub(crate) struct Eval {
    pub(crate) line: usize,
    pub(crate) expr: String,
    pub(crate) kind: EvalKind,
    pub(crate) fail: Option<MessageMatch>,
    pub(crate) ordered: bool,
    pub(crate) warn: Vec<MessageMatch>,
    pub(crate) info: Vec<MessageMatch>,
    pub(crate) no_warn: bool,
    pub(crate) no_info: bool,
    /// `expect range vector from .. to .. step ..`: an instant query returning a range vector,
    /// whose points are at these times.
    pub(crate) range_vector: Option<(i64, i64, i64)>,
    pub(crate) expected: Expected,
    /// Set when the expected result holds native histograms.
    pub(crate) expects_histograms: bool,
}

impl Eval {
    /// Instant evals not also run as a range query: those expecting a string or a range vector.
    pub(crate) fn exclude_from_range_query(&self) -> bool {
        self.range_vector.is_some() || matches!(self.expected, Expected::String(_))
    }
}

/// A script error: the line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub(crate) struct ScriptError {
    pub(crate) line: usize,
    pub(crate) message: String,
}

/// Parses a whole script.
pub(crate) fn parse_script(input: &str) -> Result<Vec<Command>, ScriptError> {
    let lines: Vec<&str> = input.lines().map(str::trim).map(|l| if l.starts_with('#') { "" } else { l }).collect();
    let mut commands = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.is_empty() {
            i += 1;
            continue;
        }
        let block_end = lines[i + 1..].iter().position(|l| l.is_empty()).map_or(lines.len(), |n| i + 1 + n);
        let body = &lines[i + 1..block_end];
        let err = |message: String| ScriptError { line: i + 1, message };
        let word = line.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
        if word == "clear" {
            commands.push(Command::Clear);
            i += 1;
            continue;
        }
        if word.starts_with("load") {
            commands.push(Command::Load(parse_load(line, body, i + 1).map_err(err)?));
        } else if word.starts_with("eval") {
            commands.push(Command::Eval(Box::new(parse_eval(line, body, i + 1)?)));
        } else {
            return Err(err(format!("invalid command {line:?}")));
        }
        i = block_end;
    }
    Ok(commands)
}

fn parse_load(header: &str, body: &[&str], line: usize) -> Result<Load, String> {
    let mut words = header.split_whitespace();
    let with_nhcb = match words.next() {
        Some("load") => false,
        Some("load_with_nhcb") => true,
        other => return Err(format!("invalid load command {other:?}")),
    };
    let interval = words.next().ok_or("load without an interval")?;
    let mut load = Load {
        line,
        interval_ms: parse_duration(interval)?,
        with_nhcb,
        series: Vec::new(),
        histogram_series: Vec::new(),
    };
    for def in body {
        let (labels, rest) = parse_series_desc(def)?;
        match try_expand_values(rest) {
            // Upstream keys a load's series by labels: a repeated series replaces the earlier one.
            Ok(values) => match load.series.iter_mut().find(|(l, _)| *l == labels) {
                Some(existing) => existing.1 = values,
                None => load.series.push((labels, values)),
            },
            Err(SequenceError::NativeHistogram(_)) => load.histogram_series.push(labels),
            Err(err) => return Err(err.to_string()),
        }
    }
    Ok(load)
}

fn parse_eval(header: &str, body: &[&str], line: usize) -> Result<Eval, ScriptError> {
    let err = |line: usize, message: String| ScriptError { line, message };
    let (command, rest) = header.split_once(char::is_whitespace).ok_or_else(|| err(line, "bare eval".to_owned()))?;
    let modifier = command.strip_prefix("eval").unwrap_or_default().trim_start_matches('_');
    let rest = rest.trim_start();
    let mut words = rest.splitn(2, char::is_whitespace);
    let (kind, expr) = match words.next() {
        Some("instant") => {
            let rest = words.next().unwrap_or_default().trim_start();
            let rest = rest.strip_prefix("at").ok_or_else(|| err(line, "instant eval without `at`".to_owned()))?;
            let (at, expr) = rest.trim_start().split_once(char::is_whitespace).unwrap_or((rest, ""));
            (EvalKind::Instant { at_ms: parse_duration(at).map_err(|m| err(line, m))? }, expr.trim())
        }
        Some("range") => {
            let parts: Vec<&str> = words.next().unwrap_or_default().splitn(7, char::is_whitespace).collect();
            let [from_kw, start, to_kw, end, step_kw, step, expr] = parts[..] else {
                return Err(err(line, format!("invalid range eval {header:?}")));
            };
            if (from_kw, to_kw, step_kw) != ("from", "to", "step") {
                return Err(err(line, format!("invalid range eval {header:?}")));
            }
            let d = |s: &str| parse_duration(s).map_err(|m| err(line, m));
            (EvalKind::Range { start_ms: d(start)?, end_ms: d(end)?, step_ms: d(step)? }, expr.trim())
        }
        _ => return Err(err(line, format!("invalid eval {header:?}"))),
    };
    let mut eval = Eval {
        line,
        expr: expr.to_owned(),
        kind,
        fail: None,
        ordered: false,
        warn: Vec::new(),
        info: Vec::new(),
        no_warn: false,
        no_info: false,
        range_vector: None,
        expected: Expected::Empty,
        expects_histograms: false,
    };
    match modifier {
        "" => {}
        "fail" => eval.fail = Some(MessageMatch::Any),
        "ordered" => eval.ordered = true,
        "warn" => eval.warn.push(MessageMatch::Any),
        "info" => eval.info.push(MessageMatch::Any),
        other => return Err(err(line, format!("unknown eval modifier {other:?}"))),
    }
    let mut series = Vec::new();
    for (n, def) in body.iter().enumerate() {
        let line = line + 1 + n;
        if eval.fail.is_some() && def.starts_with("expected_fail_message") {
            let text = def["expected_fail_message".len()..].trim();
            eval.fail = Some(MessageMatch::Exact(text.to_owned()));
            break;
        }
        if eval.fail.is_some() && def.starts_with("expected_fail_regexp") {
            let pattern = def["expected_fail_regexp".len()..].trim();
            eval.fail = Some(MessageMatch::Regex(regex::Regex::new(pattern).map_err(|e| err(line, e.to_string()))?));
            break;
        }
        if let Some(range) = def.strip_prefix("expect range vector") {
            let parts: Vec<&str> = range.split_whitespace().collect();
            let ["from", start, "to", end, "step", step] = parts[..] else {
                return Err(err(line, format!("invalid range vector definition {def:?}")));
            };
            let d = |s: &str| parse_duration(s).map_err(|m| err(line, m));
            let end = d(end)?;
            eval.range_vector = Some((d(start)?, end, d(step)?));
            // Upstream evaluates at the end of the expected range, whatever the `at` said.
            eval.kind = EvalKind::Instant { at_ms: end };
            continue;
        }
        if let Some(quoted) = def.strip_prefix("expect string") {
            let (text, rest) = unquote(quoted.trim()).map_err(|m| err(line, m))?;
            if !rest.trim().is_empty() {
                return Err(err(line, "text after the expected string".to_owned()));
            }
            eval.expected = Expected::String(text);
            continue;
        }
        if def.split(' ').next() == Some("expect") {
            parse_expect(&mut eval, def).map_err(|m| err(line, m))?;
            continue;
        }
        if let Some(v) = parse_number(def) {
            eval.expected = Expected::Scalar(v);
            break;
        }
        let (labels, rest) = parse_series_desc(def).map_err(|m| err(line, m))?;
        match try_expand_values(rest) {
            Ok(values) => series.push((labels, values)),
            Err(SequenceError::NativeHistogram(_)) => eval.expects_histograms = true,
            Err(e) => return Err(err(line, e.to_string())),
        }
    }
    if !series.is_empty() {
        eval.expected = Expected::Series(series);
    }
    Ok(eval)
}

fn parse_expect(eval: &mut Eval, def: &str) -> Result<(), String> {
    let rest = def["expect".len()..].trim_start();
    let (kind, matcher) = match rest.split_once(char::is_whitespace) {
        Some((kind, matcher)) => (kind, matcher.trim()),
        None => (rest, ""),
    };
    let matcher = if matcher.is_empty() {
        MessageMatch::Any
    } else if let Some(text) = matcher.strip_prefix("msg:") {
        MessageMatch::Exact(text.trim().to_owned())
    } else if let Some(pattern) = matcher.strip_prefix("regex:") {
        MessageMatch::Regex(regex::Regex::new(pattern.trim()).map_err(|e| e.to_string())?)
    } else {
        return Err(format!("invalid expect line {def:?}"));
    };
    match kind {
        "fail" => eval.fail = Some(matcher),
        "warn" => eval.warn.push(matcher),
        "info" => eval.info.push(matcher),
        "no_warn" => eval.no_warn = true,
        "no_info" => eval.no_info = true,
        "ordered" => eval.ordered = true,
        other => return Err(format!("unknown expectation {other:?}")),
    }
    Ok(())
}

/// A promqltest time or duration: `0`, `5m`, `1h30m`, `-10s`, `100ms`, or bare seconds.
fn parse_duration(text: &str) -> Result<i64, String> {
    let (negative, body) = match text.strip_prefix('-') {
        Some(body) => (true, body),
        None => (false, text),
    };
    if body.is_empty() || !body.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("invalid duration {text:?}"));
    }
    let valid = body.chars().all(|c| c.is_ascii_alphanumeric() || c == '.');
    if !valid {
        return Err(format!("invalid duration {text:?}"));
    }
    let ms = duration_ms(body);
    Ok(if negative { -ms } else { ms })
}

/// Splits `metric{a="b", "utf8.label"="c"} rest` (or `{...}`, or a bare metric name) into its
/// labels and the text after them.
pub(crate) fn parse_series_desc(text: &str) -> Result<(Labels, &str), String> {
    let text = text.trim_start();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let name_end =
        text.find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':' || c == '.')).unwrap_or(text.len());
    if name_end > 0 {
        pairs.push(("__name__".to_owned(), text[..name_end].to_owned()));
    }
    let mut rest = &text[name_end..];
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let name = if rest.starts_with(['"', '\'', '`']) {
                let (name, after) = unquote(rest)?;
                rest = after;
                name
            } else {
                let end = rest.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(rest.len());
                if end == 0 {
                    return Err(format!("invalid series description {text:?}"));
                }
                let name = rest[..end].to_owned();
                rest = &rest[end..];
                name
            };
            rest = rest.trim_start();
            match rest.strip_prefix('=') {
                Some(after) => {
                    let (value, after) = unquote(after.trim_start())?;
                    rest = after;
                    pairs.push((name, value));
                }
                // A quoted name alone inside braces is the metric name.
                None => pairs.push(("__name__".to_owned(), name)),
            }
        }
    } else if name_end == 0 {
        return Err(format!("invalid series description {text:?}"));
    }
    Ok((Labels::from_pairs(pairs), rest))
}

/// Reads a Go-quoted string (`"..."`, `'...'` or a raw `` `...` ``) from the start of `text`:
/// its value and the text after the closing quote.
fn unquote(text: &str) -> Result<(String, &str), String> {
    let mut chars = text.char_indices();
    let quote = match chars.next() {
        Some((_, q @ ('"' | '\'' | '`'))) => q,
        _ => return Err(format!("expected a quoted string at {text:?}")),
    };
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        if c == quote {
            return Ok((out, &text[i + 1..]));
        }
        if c != '\\' || quote == '`' {
            out.push(c);
            continue;
        }
        let Some((_, e)) = chars.next() else { break };
        let mut hex = |n: usize| -> Result<u32, String> {
            let digits: String = (0..n).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
            u32::from_str_radix(&digits, 16).map_err(|_| format!("bad escape in {text:?}"))
        };
        match e {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\x07'),
            'b' => out.push('\x08'),
            'f' => out.push('\x0c'),
            'v' => out.push('\x0b'),
            'x' => {
                // Go's \xNN is a raw byte; as a label value it only round-trips for ASCII.
                let byte = hex(2)?;
                out.push(char::from_u32(byte).unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            'u' => out.push(char::from_u32(hex(4)?).ok_or("bad \\u escape")?),
            'U' => out.push(char::from_u32(hex(8)?).ok_or("bad \\U escape")?),
            other => out.push(other),
        }
    }
    Err(format!("unterminated string in {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_descriptions() {
        let show = |s: &str| {
            let (labels, rest) = parse_series_desc(s).unwrap();
            format!("{labels}|{}", rest.trim())
        };
        assert_eq!(show(r#"foo{a="b", c='d'} 1 2"#), r#"foo{a="b", c="d"}|1 2"#);
        assert_eq!(show("{} 3"), "{}|3");
        assert_eq!(show(r#"{"my.metric", "a.b"="x\n"} 1"#), "my.metric{a.b=\"x\\n\"}|1");
        assert_eq!(show("up 1"), "up{}|1");
    }

    #[test]
    fn eval_blocks_with_expectations() {
        let script = "load 1m\n  m{a=\"1\"} 0+1x3\n\n# c\neval instant at 1m sum(m)\n  expect warn msg: w\n  expect no_info\n  {} 1\n\neval range from 0 to 2m step 1m m\n  m{a=\"1\"} 0 _ 2\n\neval_fail instant at 0 a\n  expected_fail_message boom\n";
        let commands = parse_script(script).unwrap();
        assert_eq!(commands.len(), 4);
        let Command::Eval(eval) = &commands[1] else { panic!("eval") };
        assert_eq!(eval.kind, EvalKind::Instant { at_ms: 60_000 });
        assert!(eval.no_info && eval.warn.len() == 1 && eval.warn[0].matches("w"));
        assert!(matches!(&eval.expected, Expected::Series(s) if s.len() == 1 && s[0].1 == vec![Some(1.0)]));
        let Command::Eval(eval) = &commands[2] else { panic!("eval") };
        assert_eq!(eval.kind, EvalKind::Range { start_ms: 0, end_ms: 120_000, step_ms: 60_000 });
        let Command::Eval(eval) = &commands[3] else { panic!("eval") };
        assert!(matches!(&eval.fail, Some(MessageMatch::Exact(m)) if m == "boom"));
    }
}
