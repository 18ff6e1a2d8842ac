//! Number and duration literals as Prometheus reads them: `strconv.ParseInt(text, 0, 64)`
//! first (so `0x1f` is hexadecimal and `0755` octal), then `strconv.ParseFloat` (upstream
//! `promql/parser/parse.go` `number`), and durations as `model.ParseDuration` of
//! prometheus/common. The error texts are Go's.

use super::quote::quote;

/// The value of a NUMBER token, or Go's complaint about it.
pub(crate) fn parse_number(text: &str) -> Result<f64, String> {
    if let Some(i) = parse_int_base0(text) {
        return Ok(i as f64);
    }
    parse_float(text)
}

/// Go's `strconv.ParseInt(text, 0, 64)` for what the lexer can produce (no sign): `None` on any
/// error, overflow included.
fn parse_int_base0(text: &str) -> Option<i64> {
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        (hex, 16)
    } else if text.len() > 1 && text.starts_with('0') {
        (&text[1..], 8)
    } else {
        (text, 10)
    };
    if !underscores_ok(text) {
        return None;
    }
    let digits: String = digits.chars().filter(|&c| c != '_').collect();
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    i64::from_str_radix(&digits, radix).ok()
}

/// Go's `underscoreOK`: underscores only between digits, or between a base prefix and a digit.
fn underscores_ok(text: &str) -> bool {
    if !text.contains('_') {
        return true;
    }
    let bytes = text.as_bytes();
    // The class of the last byte seen: start, digit (or base prefix), underscore, other.
    let mut saw = b'^';
    let mut i = 0;
    let hex = bytes.len() >= 2 && bytes[0] == b'0' && matches!(bytes[1], b'x' | b'X');
    if hex {
        i = 2;
        saw = b'0';
    }
    for &c in &bytes[i..] {
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
    }
    saw != b'_'
}

/// Go's `strconv.ParseFloat(text, 64)` for what the lexer can produce: decimal floats with
/// underscores, `inf` and `nan` in any case. Overflow is an error, as in Go (with ±Inf).
fn parse_float(text: &str) -> Result<f64, String> {
    let invalid = || format!("strconv.ParseFloat: parsing {}: invalid syntax", quote(text));
    match text.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => return Ok(f64::INFINITY),
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    let decimal = text.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-' | b'_'));
    if !decimal || !underscores_ok(text) {
        return Err(invalid());
    }
    let cleaned: String = text.chars().filter(|&c| c != '_').collect();
    // Go's grammar: digits with at most one dot, at least one digit, an optional exponent
    // with at least one digit.
    let (mantissa, exponent) = match cleaned.find(['e', 'E']) {
        Some(i) => (&cleaned[..i], Some(&cleaned[i + 1..])),
        None => (cleaned.as_str(), None),
    };
    let mantissa_ok = mantissa.bytes().filter(|&b| b == b'.').count() <= 1
        && mantissa.bytes().any(|b| b.is_ascii_digit())
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    if !mantissa_ok || !exponent_ok {
        return Err(invalid());
    }
    let value: f64 = cleaned.parse().map_err(|_| invalid())?;
    if value.is_infinite() {
        return Err(format!("strconv.ParseFloat: parsing {}: value out of range", quote(text)));
    }
    Ok(value)
}

/// `model.ParseDuration` of prometheus/common: whole numbers with units from `y` down to `ms`,
/// each unit at most once and in that order; in milliseconds. The error is Go's text.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    match text {
        "0" => return Ok(0),
        "" => return Err("empty duration string".to_owned()),
        _ => {}
    }
    const UNITS: [(&str, u64); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let invalid = || format!("not a valid duration string: {}", quote(text));
    let mut rest = text;
    let mut total_ns: u64 = 0;
    let mut last_unit = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid());
        }
        let value: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit_len = rest.bytes().take_while(|b| !b.is_ascii_digit()).count();
        if unit_len == 0 {
            return Err(invalid());
        }
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let Some(position) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!("unknown unit {} in duration {}", quote(unit), quote(text)));
        };
        if position < last_unit {
            return Err(invalid());
        }
        last_unit = position + 1;
        let mult_ns = UNITS[position].1 * 1_000_000;
        if value > (1u64 << 63) / mult_ns {
            return Err("duration out of range".to_owned());
        }
        total_ns += value * mult_ns;
        if total_ns > (1u64 << 63) - 1 {
            return Err("duration out of range".to_owned());
        }
    }
    Ok((total_ns / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_go_reads_them() {
        let ok = |t: &str| parse_number(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        assert_eq!(ok("0755"), 493.0);
        assert_eq!(ok("08"), 8.0);
        assert_eq!(ok("0x1F"), 31.0);
        assert_eq!(ok("0X_1f"), 31.0);
        assert_eq!(ok("1_000"), 1000.0);
        assert_eq!(ok("0e0"), 0.0);
        assert_eq!(ok(".5"), 0.5);
        assert_eq!(ok("5."), 5.0);
        assert_eq!(ok("1_000.5"), 1000.5);
        assert_eq!(ok("99999999999999999999"), 1e20);
        assert!(ok("NaN").is_nan());
        assert_eq!(ok("Inf"), f64::INFINITY);
        assert_eq!(parse_number("0x").unwrap_err(), r#"strconv.ParseFloat: parsing "0x": invalid syntax"#);
        assert_eq!(parse_number("1e").unwrap_err(), r#"strconv.ParseFloat: parsing "1e": invalid syntax"#);
        assert_eq!(parse_number(".5.5").unwrap_err(), r#"strconv.ParseFloat: parsing ".5.5": invalid syntax"#);
        assert_eq!(parse_number("1e400").unwrap_err(), r#"strconv.ParseFloat: parsing "1e400": value out of range"#);
        assert_eq!(
            parse_number("0xfffffffffffffffff").unwrap_err(),
            r#"strconv.ParseFloat: parsing "0xfffffffffffffffff": invalid syntax"#
        );
    }

    #[test]
    fn durations_read_as_prometheus_reads_them() {
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("54s321ms"), Ok(54_321));
        assert_eq!(parse_duration("1m1h"), Err(r#"not a valid duration string: "1m1h""#.to_owned()));
        assert_eq!(parse_duration("1.5h"), Err(r#"unknown unit "." in duration "1.5h""#.to_owned()));
        assert_eq!(parse_duration("5hs"), Err(r#"unknown unit "hs" in duration "5hs""#.to_owned()));
        assert_eq!(parse_duration("300000y"), Err("duration out of range".to_owned()));
    }
}
