//! Go's quoting as Prometheus's messages use it (`%q` of strings and runes, `%#U`), and the
//! unquoting of PromQL string literals (upstream `util/strutil/quote.go`, Go's
//! `strconv.Unquote` with single quotes meaning what double quotes mean).

/// Whether Go's `strconv.IsPrint` holds: letters, marks, numbers, punctuation, symbols and the
/// ASCII space. Rust's std has no Unicode categories, so format, private-use and separator
/// characters are listed; unassigned code points count as printable here (Go escapes them).
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c,
        '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
        | '\u{e000}'..='\u{f8ff}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}' | '\u{fffe}' | '\u{ffff}'
        | '\u{f0000}'..='\u{10ffff}')
}

fn push_escaped(out: &mut String, c: char, quote: char) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if is_print(c) {
        out.push(c);
        return;
    }
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// Go's `%q` of a string (`strconv.Quote`).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        push_escaped(&mut out, c, '"');
    }
    out.push('"');
    out
}

/// Go's `%q` of a rune (`strconv.QuoteRune`); `None` is the lexer's end of input, which Go
/// prints as the replacement character.
pub(crate) fn quote_rune(c: Option<char>) -> String {
    let mut out = String::from("'");
    push_escaped(&mut out, c.unwrap_or('\u{fffd}'), '\'');
    out.push('\'');
    out
}

/// Go's `%#U` of a rune: `U+0071 'q'`, the character left out when it is not printable.
pub(crate) fn quote_rune_unicode(c: char) -> String {
    if is_print(c) { format!("U+{:04X} '{c}'", c as u32) } else { format!("U+{:04X}", c as u32) }
}

/// Why a string literal could not be unquoted: Go's `strconv.ErrSyntax`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidSyntax;

impl std::fmt::Display for InvalidSyntax {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid syntax")
    }
}

/// The value of a single-, double- or back-quoted string literal. `\x` and octal escapes are
/// bytes, as in Go; bytes that do not form UTF-8 become U+FFFD.
pub(crate) fn unquote(s: &str) -> Result<String, InvalidSyntax> {
    let bytes = s.as_bytes();
    let n = bytes.len();
    if n < 2 || bytes[0] != bytes[n - 1] {
        return Err(InvalidSyntax);
    }
    let quote = bytes[0];
    let inner = &s[1..n - 1];
    if quote == b'`' {
        return if inner.contains('`') { Err(InvalidSyntax) } else { Ok(inner.to_owned()) };
    }
    if quote != b'"' && quote != b'\'' {
        return Err(InvalidSyntax);
    }
    if inner.contains('\n') {
        return Err(InvalidSyntax);
    }
    if !inner.contains('\\') && !inner.contains(quote as char) {
        return Ok(inner.to_owned());
    }
    let mut out: Vec<u8> = Vec::with_capacity(inner.len());
    let mut rest = inner;
    while let Some(c) = rest.chars().next() {
        if c as u32 == u32::from(quote) {
            return Err(InvalidSyntax);
        }
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            rest = &rest[c.len_utf8()..];
            continue;
        }
        rest = &rest[1..];
        let Some(e) = rest.chars().next() else { return Err(InvalidSyntax) };
        rest = &rest[e.len_utf8()..];
        let simple = match e {
            'a' => Some(0x07),
            'b' => Some(0x08),
            'f' => Some(0x0c),
            'n' => Some(b'\n'),
            'r' => Some(b'\r'),
            't' => Some(b'\t'),
            'v' => Some(0x0b),
            '\\' => Some(b'\\'),
            '\'' | '"' if e as u32 == u32::from(quote) => Some(quote),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            continue;
        }
        let (digits, radix) = match e {
            'x' => (2, 16),
            'u' => (4, 16),
            'U' => (8, 16),
            '0'..='7' => (2, 8),
            _ => return Err(InvalidSyntax),
        };
        let head = if radix == 8 { e.to_digit(8).unwrap_or(0) } else { 0 };
        let text = rest.get(..digits).ok_or(InvalidSyntax)?;
        if !text.bytes().all(|b| (b as char).is_digit(radix)) {
            return Err(InvalidSyntax);
        }
        let value = u32::from_str_radix(text, radix).map_err(|_| InvalidSyntax)?;
        rest = &rest[digits..];
        match e {
            'x' => out.push(value as u8),
            '0'..='7' => {
                let value = head * 64 + value;
                if value > 255 {
                    return Err(InvalidSyntax);
                }
                out.push(value as u8);
            }
            _ => {
                let c = char::from_u32(value).ok_or(InvalidSyntax)?;
                let mut buf = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_go_does() {
        assert_eq!(quote("a\"b\\c\n\u{1}é\u{2028}"), r#""a\"b\\c\n\x01é\u2028""#);
        assert_eq!(quote_rune(Some('\'')), r"'\''");
        assert_eq!(quote_rune(Some('"')), r#"'"'"#);
        assert_eq!(quote_rune(None), "'\u{fffd}'");
        assert_eq!(quote_rune_unicode('q'), "U+0071 'q'");
        assert_eq!(quote_rune_unicode('\n'), "U+000A");
    }

    #[test]
    fn unquotes_as_go_does() {
        assert_eq!(unquote(r#""a\x41\101\u00e9\U0001F600\n""#).as_deref(), Ok("aAAé😀\n"));
        assert_eq!(unquote(r#""\xc3\xbf""#).as_deref(), Ok("ÿ"));
        assert_eq!(unquote(r#"'it\'s'"#).as_deref(), Ok("it's"));
        assert_eq!(unquote(r"`\n`").as_deref(), Ok("\\n"));
        assert_eq!(unquote(r#""\'""#), Err(InvalidSyntax));
        assert_eq!(unquote(r#""\400""#), Err(InvalidSyntax));
    }
}
