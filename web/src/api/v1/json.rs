//! JSON text byte for byte as Prometheus writes it: Go's `encoding/json` string escaping
//! (jsoniter's `ConfigCompatibleWithStandardLibrary`, upstream `web/api/v1/api.go`).
//!
//! Go escapes `<`, `>` and `&` as `\u003c`, `\u003e`, `\u0026` (HTML-safe output), the line
//! and paragraph separators U+2028 and U+2029, and every control character but `\n`, `\r` and
//! `\t` as `\u00XX`; serde_json writes those raw or as `\b`/`\f`. Everything the API writes
//! goes through here, so a label value or an error message reads the same from both servers.

use serde::Serialize;
use serde_json::ser::{CharEscape, Formatter};

/// Appends `s` to `out` as a JSON string, quotes included, escaped as Go escapes it.
pub(crate) fn write_string(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            _ => None,
        };
        let needs_code = matches!(c, '\u{0}'..='\u{1f}' | '<' | '>' | '&' | '\u{2028}' | '\u{2029}');
        if escape.is_none() && !needs_code {
            continue;
        }
        out.push_str(&s[plain..i]);
        match escape {
            Some(text) => out.push_str(text),
            None => out.push_str(&format!("\\u{:04x}", c as u32)),
        }
        plain = i + c.len_utf8();
    }
    out.push_str(&s[plain..]);
    out.push('"');
}

/// Appends a finite `v` as Go's `encoding/json` writes a float64: the shortest digits, in
/// exponent form below 1e-6 and from 1e21 on, the exponent without a leading zero (`5e-7`).
pub(crate) fn write_float(out: &mut String, v: f64) {
    let text = promlite_storage::format_api_value(v);
    match text.find("e-0") {
        Some(at) if text.len() == at + 4 => {
            out.push_str(&text[..at + 2]);
            out.push_str(&text[at + 3..]);
        }
        _ => out.push_str(&text),
    }
}

/// `value` as JSON text with Go's string escaping (serde_json's compact layout otherwise,
/// which is Go's too: no spaces, fields in declaration order).
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> String {
    let mut bytes = Vec::with_capacity(128);
    let mut serializer = serde_json::Serializer::with_formatter(&mut bytes, GoFormatter);
    value.serialize(&mut serializer).expect("API data serializes");
    String::from_utf8(bytes).expect("serde_json writes UTF-8")
}

/// serde_json's compact formatter with Go's escapes for the characters it would leave raw.
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        let mut plain = 0;
        for (i, c) in fragment.char_indices() {
            if matches!(c, '<' | '>' | '&' | '\u{2028}' | '\u{2029}') {
                writer.write_all(&fragment.as_bytes()[plain..i])?;
                write!(writer, "\\u{:04x}", c as u32)?;
                plain = i + c.len_utf8();
            }
        }
        writer.write_all(&fragment.as_bytes()[plain..])
    }

    fn write_char_escape<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        escape: CharEscape,
    ) -> std::io::Result<()> {
        let text: &[u8] = match escape {
            CharEscape::Quote => b"\\\"",
            CharEscape::ReverseSolidus => b"\\\\",
            CharEscape::LineFeed => b"\\n",
            CharEscape::CarriageReturn => b"\\r",
            CharEscape::Tab => b"\\t",
            CharEscape::Solidus => b"/",
            CharEscape::Backspace => b"\\u0008",
            CharEscape::FormFeed => b"\\u000c",
            CharEscape::AsciiControl(byte) => return write!(writer, "\\u{:04x}", byte),
        };
        writer.write_all(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected texts: what Prometheus 2.42 answered for a label value holding these characters
    // (`/api/v1/series`), and the same through serde.
    #[test]
    fn floats_are_written_as_go_writes_them() {
        let cases = [
            (0.0, "0"),
            (0.000_012_345, "0.000012345"),
            (5e-7, "5e-7"),
            (1.25e-10, "1.25e-10"),
            (2.5, "2.5"),
            (1e21, "1e+21"),
        ];
        for (v, want) in cases {
            let mut out = String::new();
            super::write_float(&mut out, v);
            assert_eq!(out, want, "{v}");
        }
    }

    #[test]
    fn strings_are_escaped_as_go_escapes_them() {
        let value = "a<b>&\"\\ \n é \u{2028} \u{1} \t \u{7f} \u{8}\u{c}\u{1f}\u{2029}";
        let want = format!(r#""a\u003cb\u003e\u0026\"\\ \n é \u2028 \u0001 \t {} \u0008\u000c\u001f\u2029""#, '\u{7f}');
        let mut written = String::new();
        write_string(&mut written, value);
        assert_eq!(written, want);
        assert_eq!(to_string(value), want);
        assert_eq!(to_string(&[("k<", 1)]), r#"[["k\u003c",1]]"#);
    }
}
