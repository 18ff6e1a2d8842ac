//! Go's `fmt` as templates reach it: what `{{ x }}` prints, `print`, `println`, `printf` with
//! Go's verbs, flags, width, precision and argument indexes, and Go's error markers
//! (`%!d(string=x)`, `%!v(MISSING)`, `%!(EXTRA int=1)`), plus `strconv` quoting and float
//! formatting. Rust's `{}` is not Go's `%v`: Go prints `1e+06` and `0.30000000000000004`, and
//! `%.4g` trims zeros, so floats are rebuilt here from Rust's correctly rounded digits.

use crate::gotime::duration_string;
use crate::value::{IntTy, Value};

/// Go's `unicode.IsPrint`, closely enough for quoting: graphic characters and ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let format = matches!(c as u32,
        0xAD | 0x600..=0x605 | 0x61C | 0x6DD | 0x70F | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E
        | 0x2060..=0x2064 | 0x2066..=0x206F | 0xFEFF | 0xFFF9..=0xFFFB);
    let private = matches!(c as u32, 0xE000..=0xF8FF | 0xF0000..=0x10FFFF);
    !(c.is_control() || c.is_whitespace() || format || private)
}

fn escape_rune(out: &mut String, c: char, quote: char, ascii_only: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if if ascii_only { c.is_ascii() && is_print(c) } else { is_print(c) } {
        out.push(c);
        return;
    }
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `strconv.Quote`.
pub(crate) fn quote(s: &str) -> String {
    quote_with(s, false)
}

fn quote_with(s: &str, ascii_only: bool) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        escape_rune(&mut out, c, '"', ascii_only);
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune`.
fn quote_rune(c: char) -> String {
    let mut out = String::from("'");
    escape_rune(&mut out, c, '\'', false);
    out.push('\'');
    out
}

/// Go's `%#U`: `U+0041 'A'`, or just `U+00A0` when not printable.
pub(crate) fn sharp_u(c: char) -> String {
    if is_print(c) { format!("U+{:04X} '{c}'", c as u32) } else { format!("U+{:04X}", c as u32) }
}

/// Decimal digits of a positive finite float and its decimal point position (Go's `decimal`:
/// the value is `0.d1d2d3... * 10^dp`), trailing zeros dropped; zero has no digits.
/// `sig` rounds to that many significant digits; `None` is the shortest exact round trip.
fn float_digits(v: f64, sig: Option<usize>) -> (Vec<u8>, i32) {
    let s = match sig {
        None => format!("{v:e}"),
        Some(n) => format!("{v:.*e}", n.saturating_sub(1)),
    };
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    while digits.last() == Some(&b'0') {
        digits.pop();
    }
    if digits.is_empty() {
        return (digits, 0);
    }
    (digits, exp + 1)
}

fn fmt_e(out: &mut String, digits: &[u8], dp: i32, frac: usize, upper: bool) {
    out.push(digits.first().map_or('0', |d| *d as char));
    if frac > 0 {
        out.push('.');
        for i in 1..=frac {
            out.push(digits.get(i).map_or('0', |d| *d as char));
        }
    }
    out.push(if upper { 'E' } else { 'e' });
    let exp = if digits.is_empty() { 0 } else { dp - 1 };
    out.push(if exp < 0 { '-' } else { '+' });
    out.push_str(&format!("{:02}", exp.unsigned_abs()));
}

fn fmt_f(out: &mut String, digits: &[u8], dp: i32, decimals: usize) {
    if dp > 0 {
        for i in 0..dp as usize {
            out.push(digits.get(i).map_or('0', |d| *d as char));
        }
    } else {
        out.push('0');
    }
    if decimals > 0 {
        out.push('.');
        for i in 0..decimals as i32 {
            let idx = dp + i;
            out.push(if idx >= 0 { digits.get(idx as usize).map_or('0', |d| *d as char) } else { '0' });
        }
    }
}

/// Go's `strconv.FormatFloat(v, verb, prec, 64)` for verbs `e E f g G`; `prec < 0` is the
/// shortest representation that round-trips.
pub(crate) fn format_float(v: f64, verb: char, prec: i32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    let a = v.abs();
    let shortest = prec < 0;
    match verb {
        'e' | 'E' => {
            let (digits, dp) = float_digits(a, if shortest { None } else { Some(prec as usize + 1) });
            let frac = if shortest { digits.len().saturating_sub(1) } else { prec as usize };
            fmt_e(&mut out, &digits, dp, frac, verb == 'E');
        }
        'f' | 'F' => {
            if shortest {
                let (digits, dp) = float_digits(a, None);
                fmt_f(&mut out, &digits, dp, (digits.len() as i32 - dp).max(0) as usize);
            } else {
                out.push_str(&format!("{a:.*}", prec as usize));
            }
        }
        _ => {
            let p = if prec == 0 { 1 } else { prec };
            let (digits, dp) = float_digits(a, if shortest { None } else { Some(p as usize) });
            let nd = digits.len() as i32;
            let mut eprec = p;
            if eprec > nd && nd >= dp {
                eprec = nd;
            }
            if shortest {
                eprec = 6;
            }
            let exp = dp - 1;
            let prec = if shortest { nd } else { p };
            if exp < -4 || exp >= eprec {
                fmt_e(&mut out, &digits, dp, (prec.min(nd) - 1).max(0) as usize, verb == 'G');
            } else {
                let prec = if prec > dp { nd } else { prec };
                fmt_f(&mut out, &digits, dp, (prec - dp).max(0) as usize);
            }
        }
    }
    out
}

/// One directive's flags, width and precision.
#[derive(Default, Clone, Copy)]
struct Flags {
    plus: bool,
    minus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    plus_v: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.Sprint`: spaces between operands when neither side is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = false;
    for (i, arg) in args.iter().enumerate() {
        let is_string = arg.is_string_kind();
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        print_arg(&mut out, arg, 'v', Flags::default(), 0);
        prev_string = is_string;
    }
    out
}

/// Go's `fmt.Sprintln`: spaces between all operands, then a newline.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        print_arg(&mut out, arg, 'v', Flags::default(), 0);
    }
    out.push('\n');
    out
}

/// What an action `{{ x }}` prints: pointers are followed first (Go's `printableValue`), and
/// no value prints `<no value>`.
pub(crate) fn print_action_value(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Nil => out.push_str("<no value>"),
        Value::Sample(_) => print_struct(&mut out, v, 'v', Flags::default(), 1),
        other => print_arg(&mut out, &other.indirect(), 'v', Flags::default(), 0),
    }
    out
}

/// What Go's `String()` method returns, for the types that have one.
fn stringer(v: &Value) -> Option<String> {
    Some(match v {
        Value::Time(t) | Value::TimePtr(t) => t.go_string(),
        Value::DurationPtr(d) | Value::Int(d, IntTy::Duration) => duration_string(*d),
        Value::Int(m, IntTy::Month) => crate::gotime::month_name(*m),
        Value::Int(d, IntTy::Weekday) => crate::gotime::weekday_name(*d),
        Value::Histogram(h) => h.display.clone(),
        _ => return None,
    })
}

fn pad(out: &mut String, s: &str, f: Flags) {
    let n = s.chars().count();
    let Some(wid) = f.wid.filter(|w| *w > n) else {
        out.push_str(s);
        return;
    };
    let fill = if f.zero && !f.minus { '0' } else { ' ' };
    let padding: String = std::iter::repeat_n(if f.minus { ' ' } else { fill }, wid - n).collect();
    if f.minus {
        out.push_str(s);
        out.push_str(&padding);
    } else {
        out.push_str(&padding);
        out.push_str(s);
    }
}

fn bad_verb(out: &mut String, arg: &Value, verb: char) {
    out.push_str("%!");
    out.push(verb);
    out.push('(');
    if let Value::Nil = arg {
        out.push_str("<nil>");
    } else {
        out.push_str(&arg.type_name());
        out.push('=');
        print_arg(out, arg, 'v', Flags::default(), 0);
    }
    out.push(')');
}

fn print_arg(out: &mut String, arg: &Value, verb: char, f: Flags, depth: usize) {
    if verb == 'T' {
        return pad(out, &arg.type_name(), f);
    }
    if let Value::Nil = arg {
        return match verb {
            'v' => pad(out, "<nil>", f),
            _ => bad_verb(out, arg, verb),
        };
    }
    if !f.sharp_v
        && matches!(verb, 'v' | 's' | 'x' | 'X' | 'q')
        && let Some(s) = stringer(arg)
    {
        return fmt_string(out, &s, verb, f);
    }
    match arg {
        Value::Bool(b) => match verb {
            't' | 'v' => pad(out, if *b { "true" } else { "false" }, f),
            _ => bad_verb(out, arg, verb),
        },
        Value::Int(i, _) => fmt_integer(out, *i < 0, u128::from(i.unsigned_abs()), arg, verb, f),
        Value::Uint(u, _) => fmt_integer(out, false, u128::from(*u), arg, verb, f),
        Value::Float(v) => match verb {
            'v' => fmt_float(out, *v, 'g', None, f),
            'g' | 'G' => fmt_float(out, *v, verb, f.prec, f),
            'e' | 'E' | 'f' | 'F' => fmt_float(out, *v, verb, Some(f.prec.unwrap_or(6)), f),
            _ => bad_verb(out, arg, verb),
        },
        Value::String(s) | Value::Html(s) => match verb {
            'v' | 's' | 'q' | 'x' | 'X' => fmt_string(out, s, verb, f),
            _ => bad_verb(out, arg, verb),
        },
        Value::List(l) => {
            out.push('[');
            for (i, item) in l.items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print_arg(out, item, verb, f, depth + 1);
            }
            out.push(']');
        }
        Value::Map(m) => {
            out.push_str("map[");
            for (i, (k, v)) in m.entries.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                print_arg(out, &Value::string(k), verb, f, depth + 1);
                out.push(':');
                print_arg(out, v, verb, f, depth + 1);
            }
            out.push(']');
        }
        Value::Sample(_) => {
            out.push('&');
            print_struct(out, arg, verb, f, depth + 1);
        }
        Value::AlertData(_) => print_struct(out, arg, verb, f, depth + 1),
        // Time, Duration and histograms have String(); any other verb on them is a mismatch.
        _ => bad_verb(out, &Value::string(&stringer(arg).unwrap_or_default()), verb),
    }
}

/// A struct as `%v` prints it: `{field field}`, or `{Name:field ...}` with `%+v`.
fn print_struct(out: &mut String, v: &Value, verb: char, f: Flags, depth: usize) {
    let fields: Vec<(&str, Value)> = match v {
        Value::Sample(s) => vec![("Labels", Value::Map(s.labels.clone())), ("Value", s.value.clone())],
        Value::AlertData(d) => vec![
            ("Labels", d.labels.clone()),
            ("ExternalLabels", d.external_labels.clone()),
            ("ExternalURL", d.external_url.clone()),
            ("Value", d.value.clone()),
        ],
        _ => vec![],
    };
    out.push('{');
    for (i, (name, value)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if f.plus_v {
            out.push_str(name);
            out.push(':');
        }
        print_arg(out, value, verb, f, depth);
    }
    out.push('}');
}

fn fmt_string(out: &mut String, s: &str, verb: char, f: Flags) {
    let s: String = match f.prec {
        Some(p) => s.chars().take(p).collect(),
        None => s.to_owned(),
    };
    match verb {
        'q' => {
            let can_backquote = !s.contains('`') && s.chars().all(|c| c == '\t' || !c.is_control());
            if f.sharp && can_backquote {
                pad(out, &format!("`{s}`"), f);
            } else {
                pad(out, &quote_with(&s, f.plus), f);
            }
        }
        'x' | 'X' => {
            let mut hex = String::new();
            for (i, b) in s.bytes().enumerate() {
                if f.space && i > 0 {
                    hex.push(' ');
                }
                if f.sharp && (f.space || i == 0) {
                    hex.push_str(if verb == 'x' { "0x" } else { "0X" });
                }
                hex.push_str(&if verb == 'x' { format!("{b:02x}") } else { format!("{b:02X}") });
            }
            pad(out, &hex, f);
        }
        _ => pad(out, &s, f),
    }
}

fn fmt_integer(out: &mut String, neg: bool, mag: u128, arg: &Value, verb: char, mut f: Flags) {
    let base = match verb {
        'v' | 'd' => 10,
        'b' => 2,
        'o' | 'O' => 8,
        'x' | 'X' => 16,
        'c' => {
            let c = u32::try_from(mag).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
            return pad(out, &c.to_string(), f);
        }
        'q' => {
            let c = u32::try_from(mag).ok().and_then(char::from_u32).unwrap_or('\u{FFFD}');
            return pad(out, &quote_rune(c), f);
        }
        'U' => {
            let c = u32::try_from(mag).ok().and_then(char::from_u32);
            let mut s = format!("U+{:04X}", mag);
            if let Some(c) = c.filter(|c| f.sharp && is_print(*c)) {
                s.push_str(&format!(" '{c}'"));
            }
            return pad(out, &s, f);
        }
        _ => return bad_verb(out, arg, verb),
    };
    if f.prec == Some(0) && mag == 0 {
        f.zero = false;
        return pad(out, "", f);
    }
    let mut digits = match base {
        2 => format!("{mag:b}"),
        8 => format!("{mag:o}"),
        16 if verb == 'X' => format!("{mag:X}"),
        16 => format!("{mag:x}"),
        _ => mag.to_string(),
    };
    let min_digits = match (f.prec, f.wid) {
        (Some(p), _) => p,
        (None, Some(w)) if f.zero && !f.minus => w.saturating_sub(usize::from(neg || f.plus || f.space)),
        _ => 0,
    };
    if digits.len() < min_digits {
        digits = "0".repeat(min_digits - digits.len()) + &digits;
    }
    let prefix = match (base, f.sharp, verb) {
        (2, true, _) => "0b",
        (8, true, 'o') if !digits.starts_with('0') => "0",
        (8, _, 'O') => "0o",
        (16, true, 'x') => "0x",
        (16, true, 'X') => "0X",
        _ => "",
    };
    let sign = if neg {
        "-"
    } else if f.plus {
        "+"
    } else if f.space {
        " "
    } else {
        ""
    };
    f.zero = false;
    pad(out, &format!("{sign}{prefix}{digits}"), f);
}

fn fmt_float(out: &mut String, v: f64, verb: char, prec: Option<usize>, f: Flags) {
    let verb = if verb == 'F' { 'f' } else { verb };
    let num = format_float(v, verb, prec.map_or(-1, |p| p as i32));
    let (mut sign, body) = match num.as_bytes()[0] {
        b'-' | b'+' => (num.as_bytes()[0] as char, &num[1..]),
        _ => ('+', num.as_str()),
    };
    if f.space && sign == '+' && !f.plus {
        sign = ' ';
    }
    if body.starts_with(['I', 'N']) {
        let mut f = f;
        f.zero = false;
        let s = if body == "NaN" && !f.space && !f.plus { body.to_owned() } else { format!("{sign}{body}") };
        return pad(out, &s, f);
    }
    if f.plus || sign != '+' {
        let signed = format!("{sign}{body}");
        if let Some(wid) = f.wid.filter(|w| f.zero && !f.minus && *w > signed.len()) {
            out.push(sign);
            out.push_str(&"0".repeat(wid - signed.len()));
            out.push_str(body);
            return;
        }
        return pad(out, &signed, f);
    }
    pad(out, body, f);
}

/// Go's `fmt.Sprintf`.
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let b = format.as_bytes();
    let end = b.len();
    let mut out = String::new();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0;
    while i < end {
        let mut good_arg_num = true;
        let last = i;
        while i < end && b[i] != b'%' {
            i += 1;
        }
        out.push_str(&format[last..i]);
        if i >= end {
            break;
        }
        i += 1;
        let mut f = Flags::default();
        while i < end {
            match b[i] {
                b'#' => f.sharp = true,
                b'0' => f.zero = !f.minus,
                b'+' => f.plus = true,
                b'-' => {
                    f.minus = true;
                    f.zero = false;
                }
                b' ' => f.space = true,
                _ => break,
            }
            i += 1;
        }
        let mut arg_index = |arg_num: &mut usize, i: &mut usize, good: &mut bool| -> bool {
            if *i >= end || b[*i] != b'[' {
                return false;
            }
            reordered = true;
            let Some(close) = format[*i..].find(']') else {
                *i += 1;
                *good = false;
                return false;
            };
            let inner = &format[*i + 1..*i + close];
            *i += close + 1;
            match inner.parse::<usize>() {
                Ok(n) if n >= 1 && n <= args.len() && !inner.starts_with('+') => {
                    *arg_num = n - 1;
                    true
                }
                Ok(_) => {
                    *good = false;
                    true
                }
                Err(_) => {
                    *good = false;
                    false
                }
            }
        };
        let mut after_index = arg_index(&mut arg_num, &mut i, &mut good_arg_num);
        if i < end && b[i] == b'*' {
            i += 1;
            match int_arg(args, &mut arg_num) {
                Some(w) if w < 0 => {
                    f.minus = true;
                    f.zero = false;
                    f.wid = Some(w.unsigned_abs() as usize);
                }
                Some(w) => f.wid = Some(w as usize),
                None => out.push_str("%!(BADWIDTH)"),
            }
            after_index = false;
        } else {
            let (n, present) = parse_num(b, &mut i);
            f.wid = present.then_some(n);
            if after_index && present {
                good_arg_num = false;
            }
        }
        if i < end && b[i] == b'.' {
            i += 1;
            if after_index {
                good_arg_num = false;
            }
            after_index = arg_index(&mut arg_num, &mut i, &mut good_arg_num);
            if i < end && b[i] == b'*' {
                i += 1;
                match int_arg(args, &mut arg_num) {
                    Some(p) if p < 0 => f.prec = None,
                    Some(p) => f.prec = Some(p as usize),
                    None => out.push_str("%!(BADPREC)"),
                }
                after_index = false;
            } else {
                f.prec = Some(parse_num(b, &mut i).0);
            }
        }
        if !after_index {
            after_index = arg_index(&mut arg_num, &mut i, &mut good_arg_num);
        }
        let _ = after_index;
        let Some(verb) = format[i..].chars().next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        i += verb.len_utf8();
        if verb == '%' {
            out.push('%');
            continue;
        }
        if !good_arg_num {
            out.push_str(&format!("%!{verb}(BADINDEX)"));
            continue;
        }
        let Some(arg) = args.get(arg_num) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        if verb == 'v' {
            f.sharp_v = f.sharp;
            f.sharp = false;
            f.plus_v = f.plus;
            f.plus = false;
        }
        if verb == 'w' {
            bad_verb(&mut out, arg, verb);
        } else {
            print_arg(&mut out, arg, verb, f, 0);
        }
        arg_num += 1;
    }
    if !reordered && arg_num < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, arg) in args[arg_num..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            if let Value::Nil = arg {
                out.push_str("<nil>");
            } else {
                out.push_str(&arg.type_name());
                out.push('=');
                print_arg(&mut out, arg, 'v', Flags::default(), 0);
            }
        }
        out.push(')');
    }
    out
}

/// A `*` width or precision: Go takes it from an integer argument within ±1e6.
fn int_arg(args: &[Value], arg_num: &mut usize) -> Option<i64> {
    let arg = args.get(*arg_num)?;
    *arg_num += 1;
    let n = match arg {
        Value::Int(i, _) => *i,
        Value::Uint(u, _) => i64::try_from(*u).ok()?,
        _ => return None,
    };
    (-1_000_000..=1_000_000).contains(&n).then_some(n)
}

fn parse_num(b: &[u8], i: &mut usize) -> (usize, bool) {
    let mut n = 0usize;
    let mut present = false;
    while *i < b.len() && b[*i].is_ascii_digit() {
        if n > 1_000_000 {
            return (0, false);
        }
        n = n * 10 + usize::from(b[*i] - b'0');
        present = true;
        *i += 1;
    }
    (n, present)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        let cases = [
            (0.1 + 0.2, 'g', -1, "0.30000000000000004"),
            (1353755652.0, 'g', -1, "1.353755652e+09"),
            (100000.0, 'g', -1, "100000"),
            (1e6, 'g', -1, "1e+06"),
            (1e-5, 'g', -1, "1e-05"),
            (0.0001, 'g', -1, "0.0001"),
            (-0.0, 'g', -1, "-0"),
            (1234567.0, 'g', 4, "1.235e+06"),
            (1.235, 'g', 4, "1.235"),
            (120.00000000000001, 'g', 4, "120"),
            (0.12, 'g', 4, "0.12"),
            (0.0, 'g', 4, "0"),
            (3720.01, 'f', 2, "3720.01"),
            (1.0, 'e', 6, "1.000000e+00"),
            (1e21, 'f', -1, "1000000000000000000000"),
            (f64::INFINITY, 'g', 4, "+Inf"),
        ];
        for (v, verb, prec, want) in cases {
            assert_eq!(format_float(v, verb, prec), want, "{v} {verb} {prec}");
        }
    }

    #[test]
    fn printf_verbs_and_errors() {
        let s = Value::string;
        let i = Value::int;
        let cases: Vec<(&str, Vec<Value>, &str)> = vec![
            ("%s|%q|%v", vec![s("a"), s("b\n"), s("c")], "a|\"b\\n\"|c"),
            (
                "%d|%5d|%-5d|%05d|%x|%X|%#x|%o|%b|%c|%q|%U",
                vec![i(42); 12],
                "42|   42|42   |00042|2a|2A|0x2a|52|101010|*|'*'|U+002A",
            ),
            (
                "%.2f|%8.3f|%-8.1f|%+.1e|%g|%G",
                vec![Value::Float(1.23456); 6],
                "1.23|   1.235|1.2     |+1.2e+00|1.23456|1.23456",
            ),
            ("%d", vec![Value::Float(3.0)], "%!d(float64=3)"),
            ("%d %d", vec![i(1)], "1 %!d(MISSING)"),
            ("%d", vec![i(1), s("x")], "1%!(EXTRA string=x)"),
            ("%[2]d %[1]d", vec![i(1), i(2)], "2 1"),
            ("%*d|%-*d", vec![i(4), i(7), i(3), i(8)], "   7|8  "),
            ("%t %v", vec![Value::Bool(true), Value::Nil], "true <nil>"),
            ("100%%", vec![], "100%"),
            ("%z", vec![i(1)], "%!z(int=1)"),
            ("%.1s|%5.2s|%x|% x", vec![s("abc"), s("xyz"), s("hi"), s("hi")], "a|   xy|6869|68 69"),
            ("%6.2f%%", vec![Value::Float(99.5)], " 99.50%"),
            (
                "%v %s",
                vec![Value::DurationPtr(1_500_000_000), Value::Int(90_000_000_000, IntTy::Duration)],
                "1.5s 1m30s",
            ),
        ];
        for (format, args, want) in cases {
            assert_eq!(sprintf(format, &args), want, "{format}");
        }
    }

    #[test]
    fn sprint_spaces_only_between_non_strings() {
        let args = [Value::int(1), Value::int(2), Value::string("a"), Value::int(3), Value::Float(0.5)];
        assert_eq!(sprint(&args), "1 2a3 0.5");
        assert_eq!(sprintln(&args), "1 2 a 3 0.5\n");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c\u{1}\u{a0}é"), "\"a\\\"b\\\\c\\x01\\u00a0é\"");
        assert_eq!(sharp_u('\u{a0}'), "U+00A0");
        assert_eq!(sharp_u(')'), "U+0029 ')'");
    }
}
