//! Test-only helpers in the spirit of upstream `promql/promqltest`: load series written as
//! `metric{a="b"} 0+10x5 _ stale` into a [`Db`], and check query results against expected text.
//!
//! Only float samples: native histograms (`{{...}}`) make [`load`] fail loudly. [`script`]
//! parses whole promqltest files and [`run`] executes them; `upstream` runs every upstream file.

pub(crate) mod run;
pub(crate) mod script;
mod upstream;

use promlite_storage::{Db, Labels, Options, STALE_NAN};

use crate::parser::parse;
use promql_parser::parser::Expr;

/// A fresh database in a temporary directory that lives as long as the returned guard.
pub(crate) fn db() -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = Db::open(dir.path(), Options::default()).expect("open db");
    (dir, db)
}

/// Loads `series values` lines, one sample every `interval_ms` starting at 0.
pub(crate) fn load(db: &Db, interval_ms: i64, text: &str) {
    let mut app = db.appender();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (labels, values) = split_series_line(line);
        for (i, v) in values.into_iter().enumerate() {
            if let Some(v) = v {
                app.append(&labels, i as i64 * interval_ms, v).expect("append");
            }
        }
    }
    assert!(app.commit().expect("commit").is_empty(), "all samples accepted");
}

/// Splits `metric{a="b"} 1 2 3` into labels and expanded values (`None` for `_`).
pub(crate) fn split_series_line(line: &str) -> (Labels, Vec<Option<f64>>) {
    let split = match line.rfind('}') {
        Some(i) => i + 1,
        None => line.find(char::is_whitespace).unwrap_or(line.len()),
    };
    let (series, values) = line.split_at(split);
    (parse_labels(series.trim()), expand_values(values))
}

/// Labels of a series written as a selector with only `=` matchers.
pub(crate) fn parse_labels(series: &str) -> Labels {
    let Ok(Expr::VectorSelector(vs)) = parse(series) else { panic!("bad series {series:?}") };
    let mut pairs: Vec<(String, String)> =
        vs.matchers.matchers.iter().map(|m| (m.name.clone(), m.value.clone())).collect();
    if let Some(name) = vs.name {
        pairs.push(("__name__".to_owned(), name));
    }
    Labels::from_pairs(pairs)
}

/// Expands promqltest's value notation: `1 _ stale 0+10x3 5-1x2 _x2 7x2`. Panics on bad input.
pub(crate) fn expand_values(text: &str) -> Vec<Option<f64>> {
    try_expand_values(text).unwrap_or_else(|err| panic!("{err}"))
}

/// Why a value sequence could not be expanded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum SequenceError {
    /// A `{{...}}` native histogram sample, which promlite does not store.
    #[error("native histogram sample {0:?}")]
    NativeHistogram(String),
    /// A token that is not a number, `_`, `stale` or an `a+bxn` expansion.
    #[error("bad value {0:?}")]
    Bad(String),
}

/// Expands promqltest's value notation, reporting native histograms and bad tokens.
pub(crate) fn try_expand_values(text: &str) -> Result<Vec<Option<f64>>, SequenceError> {
    if let Some(i) = text.find("{{") {
        return Err(SequenceError::NativeHistogram(text[i..].chars().take(40).collect()));
    }
    let number = |t: &str| parse_number(t).ok_or_else(|| SequenceError::Bad(t.to_owned()));
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        if token == "_" {
            out.push(None);
        } else if token == "stale" {
            out.push(Some(STALE_NAN));
        } else if let Some((head, times)) =
            token.rsplit_once('x').filter(|(h, _)| !h.is_empty() && !h.starts_with("0x"))
        {
            let times: usize = times.parse().map_err(|_| SequenceError::Bad(token.to_owned()))?;
            if head == "_" {
                out.extend(std::iter::repeat_n(None, times));
                continue;
            }
            // `a+b` or `a-b`: the operator is the last sign not at the start and not an exponent's.
            let bytes = head.as_bytes();
            let op = (1..bytes.len())
                .rev()
                .find(|&i| matches!(bytes[i], b'+' | b'-') && !matches!(bytes[i - 1], b'e' | b'E'));
            let (start, step) = match op {
                Some(i) => {
                    let step: f64 = number(&head[i + 1..])?;
                    (number(&head[..i])?, if bytes[i] == b'-' { -step } else { step })
                }
                None => (number(head)?, 0.0),
            };
            // Upstream adds the step repeatedly; so does this, to round the same way.
            let mut v = start;
            for _ in 0..=times {
                out.push(Some(v));
                v += step;
            }
        } else {
            out.push(Some(number(token)?));
        }
    }
    Ok(out)
}

/// A number as Go's `strconv.ParseInt(s, 0, 64)` or `ParseFloat` reads it: `12`, `0x1f`,
/// `-1.5e3`, `Inf`, `+Inf`, `NaN`.
pub(crate) fn parse_number(text: &str) -> Option<f64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let sign = if negative { -1.0 } else { 1.0 };
    if let Some(hex) = digits.strip_prefix("0x").or_else(|| digits.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok().map(|n| sign * n as f64);
    }
    if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit()) {
        return i64::from_str_radix(&digits[1..], 8).ok().map(|n| sign * n as f64);
    }
    match digits.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => return Some(sign * f64::INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if !digits.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    digits.parse::<f64>().ok().map(|v| sign * v)
}

/// Parses promqltest durations and times: `5m`, `1h30m`, `10s`, or plain seconds `100`.
pub(crate) fn duration_ms(text: &str) -> i64 {
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds * 1000.0).round() as i64;
    }
    let mut total = 0;
    let mut digits = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                1
            }
            ('m', _) => 60_000,
            ('s', _) => 1_000,
            ('h', _) => 3_600_000,
            ('d', _) => 86_400_000,
            ('w', _) => 7 * 86_400_000,
            ('y', _) => 365 * 86_400_000,
            _ => panic!("bad duration {text:?}"),
        };
        total += digits.parse::<i64>().unwrap_or_else(|_| panic!("bad duration {text:?}")) * unit;
        digits.clear();
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_notation_expands_like_promqltest() {
        let show = |s: &str| {
            expand_values(s).iter().map(|v| v.map_or("_".to_owned(), |v| v.to_string())).collect::<Vec<_>>().join(" ")
        };
        assert_eq!(show("0+10x3 _ 5-1x2 _x2 7x1 -1-1x1 1e2"), "0 10 20 30 _ 5 4 3 _ _ 7 7 -1 -2 100");
        assert!(expand_values("stale")[0].is_some_and(promlite_storage::is_stale_nan));
        assert_eq!(duration_ms("1h30m"), 5_400_000);
        assert_eq!(duration_ms("100"), 100_000);
        assert_eq!(duration_ms("5ms"), 5);
    }
}
