//! Test-only helpers in the spirit of upstream `promql/promqltest`: load series written as
//! `metric{a="b"} 0+10x5 _ stale` into a [`Db`], and check query results against expected text.
//!
//! Only float samples: native histograms (`{{...}}`) make [`load`] fail loudly.

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
    assert!(app.commit().is_empty(), "all samples accepted");
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

/// Expands promqltest's value notation: `1 _ stale 0+10x3 5-1x2 _x2 7x2`.
pub(crate) fn expand_values(text: &str) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        assert!(!token.starts_with("{{"), "native histograms are not supported: {token}");
        if token == "_" {
            out.push(None);
        } else if token == "stale" {
            out.push(Some(STALE_NAN));
        } else if let Some((head, times)) =
            token.rsplit_once('x').filter(|(h, _)| !h.is_empty() && !h.starts_with("0x"))
        {
            let times: usize = times.parse().unwrap_or_else(|_| panic!("bad repeat in {token}"));
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
                    let step: f64 = number(&head[i + 1..]);
                    (number(&head[..i]), if bytes[i] == b'-' { -step } else { step })
                }
                None => (number(head), 0.0),
            };
            for k in 0..=times {
                out.push(Some(start + step * k as f64));
            }
        } else {
            out.push(Some(number(token)));
        }
    }
    out
}

fn number(text: &str) -> f64 {
    text.parse().unwrap_or_else(|_| panic!("bad number {text:?}"))
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
