//! The syntax errors Go's `regexp/syntax` reports for a label matcher's regex, in its words:
//! `error parsing regexp: missing closing ): `(``. Prometheus 3 parses the regex as written
//! (flags `Perl|DotNL`, upstream `model/labels/regexp.go`), so the quoted fragment is part of
//! what the user wrote. The regex crate, which storage compiles with, words its errors
//! differently and accepts some patterns Go refuses (`(?x)`), so the check is ours: a scan of
//! Go's grammar that stops at the first problem Go's parser would stop at. It covers Go's
//! error codes but `expression too large` and nesting depth; anything it lets through that the
//! regex crate then refuses is reported with the regex crate's reason.

/// `Err` with Prometheus's message when Go would not parse `pattern`.
pub(crate) fn check(pattern: &str) -> Result<(), String> {
    Scan { pattern, rest: pattern, depth: 0, operand: false, last_repeat: None }
        .run()
        .map_err(|(code, expr)| format!("error parsing regexp: {code}: `{expr}`"))
}

type Problem = (&'static str, String);

struct Scan<'a> {
    pattern: &'a str,
    rest: &'a str,
    /// Open groups.
    depth: usize,
    /// Whether something a repetition can apply to was just read.
    operand: bool,
    /// The input from the previous repetition operator on, when the last thing read was one.
    last_repeat: Option<&'a str>,
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'a> Scan<'a> {
    fn run(&mut self) -> Result<(), Problem> {
        while let Some(c) = self.rest.chars().next() {
            let before = self.rest;
            let mut repeat = None;
            match c {
                '(' => {
                    self.group()?;
                    self.operand = false;
                }
                '|' => {
                    self.rest = &self.rest[1..];
                    self.operand = false;
                }
                ')' => {
                    if self.depth == 0 {
                        return Err(("unexpected )", self.pattern.to_owned()));
                    }
                    self.depth -= 1;
                    self.rest = &self.rest[1..];
                    self.operand = true;
                }
                '^' | '$' | '.' => {
                    self.rest = &self.rest[1..];
                    self.operand = true;
                }
                '[' => {
                    self.class()?;
                    self.operand = true;
                }
                '*' | '+' | '?' => {
                    let mut after = &self.rest[1..];
                    self.repetition(before, &mut after)?;
                    self.rest = after;
                    repeat = Some(before);
                }
                '{' => match repeat_braces(self.rest) {
                    Some((len, min, max)) => {
                        let mut after = &self.rest[len..];
                        self.repetition(before, &mut after)?;
                        let text = &before[..before.len() - after.len()];
                        if min > 1000 || max > 1000 || (max >= 0 && min > max) {
                            return Err(("invalid repeat count", text.to_owned()));
                        }
                        self.rest = after;
                        repeat = Some(before);
                    }
                    None => {
                        self.rest = &self.rest[1..];
                        self.operand = true;
                    }
                },
                '\\' => {
                    self.escape(false)?;
                    self.operand = true;
                }
                _ => {
                    self.rest = &self.rest[c.len_utf8()..];
                    self.operand = true;
                }
            }
            self.last_repeat = repeat;
        }
        if self.depth > 0 {
            return Err(("missing closing )", self.pattern.to_owned()));
        }
        Ok(())
    }

    /// A repetition operator at `before`; `after` is past it and moves past a `?`.
    fn repetition(&mut self, before: &'a str, after: &mut &'a str) -> Result<(), Problem> {
        if let Some(rest) = after.strip_prefix('?') {
            *after = rest;
        }
        if let Some(last) = self.last_repeat {
            return Err(("invalid nested repetition operator", last[..last.len() - after.len()].to_owned()));
        }
        if !self.operand {
            return Err(("missing argument to repetition operator", before[..before.len() - after.len()].to_owned()));
        }
        Ok(())
    }

    /// `(`, `(?flags)`, `(?flags:`, `(?P<name>`, `(?<name>`.
    fn group(&mut self) -> Result<(), Problem> {
        let start = self.rest;
        if !self.rest.starts_with("(?") {
            self.rest = &self.rest[1..];
            self.depth += 1;
            return Ok(());
        }
        let named = if start.starts_with("(?P<") {
            Some(4)
        } else if start.starts_with("(?<") {
            Some(3)
        } else {
            None
        };
        if let Some(skip) = named {
            let Some(end) = start.find('>') else {
                return Err(("invalid named capture", start.to_owned()));
            };
            let name = &start[skip..end];
            if name.is_empty() || !name.chars().all(is_word) {
                return Err(("invalid named capture", start[..=end].to_owned()));
            }
            self.rest = &start[end + 1..];
            self.depth += 1;
            return Ok(());
        }
        // Flags: [imsU]*(-[imsU]*)?, then `)` or `:`.
        let mut chars = start.char_indices().skip(2);
        let mut negated = false;
        let mut since_sign = 0;
        for (i, c) in chars.by_ref() {
            match c {
                'i' | 'm' | 's' | 'U' => since_sign += 1,
                '-' if !negated => {
                    negated = true;
                    since_sign = 0;
                }
                ':' | ')' => {
                    if negated && since_sign == 0 {
                        return Err(("invalid or unsupported Perl syntax", start[..=i].to_owned()));
                    }
                    self.rest = &start[i + 1..];
                    if c == ':' {
                        self.depth += 1;
                    }
                    return Ok(());
                }
                _ => return Err(("invalid or unsupported Perl syntax", start[..i + c.len_utf8()].to_owned())),
            }
        }
        Err(("missing closing )", self.pattern.to_owned()))
    }

    /// A bracketed class, from `[` to its `]`.
    fn class(&mut self) -> Result<(), Problem> {
        let whole = self.rest;
        let mut t = &self.rest[1..];
        if let Some(rest) = t.strip_prefix('^') {
            t = rest;
        }
        let mut first = true;
        while first || !t.starts_with(']') {
            first = false;
            if t.starts_with("[:")
                && t.len() > 2
                && let Some(end) = t[2..].find(":]")
            {
                let name = &t[2..2 + end];
                let name = name.strip_prefix('^').unwrap_or(name);
                const POSIX: [&str; 14] = [
                    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space",
                    "upper", "word", "xdigit",
                ];
                if !POSIX.contains(&name) {
                    return Err(("invalid character class range", t[..end + 4].to_owned()));
                }
                t = &t[end + 4..];
                continue;
            }
            let range = t;
            let (lo, rest) = self.class_char(t, whole)?;
            t = rest;
            if t.len() >= 2 && t.starts_with('-') && !t[1..].starts_with(']') {
                let (hi, rest) = self.class_char(&t[1..], whole)?;
                t = rest;
                if let (Some(lo), Some(hi)) = (lo, hi)
                    && hi < lo
                {
                    return Err(("invalid character class range", range[..range.len() - t.len()].to_owned()));
                }
            }
        }
        self.rest = &t[1..];
        Ok(())
    }

    /// One character of a class (`None` for a class escape such as `\d`) and what follows.
    fn class_char(&mut self, t: &'a str, whole: &'a str) -> Result<(Option<char>, &'a str), Problem> {
        let Some(c) = t.chars().next() else {
            return Err(("missing closing ]", whole.to_owned()));
        };
        if c != '\\' {
            return Ok((Some(c), &t[c.len_utf8()..]));
        }
        self.rest = t;
        let value = self.escape(true)?;
        Ok((value, self.rest))
    }

    /// An escape at `self.rest`, which starts with a backslash; the character it stands for,
    /// when it is one.
    fn escape(&mut self, in_class: bool) -> Result<Option<char>, Problem> {
        let start = self.rest;
        let mut t = &start[1..];
        let Some(c) = t.chars().next() else {
            return Err(("trailing backslash at end of expression", String::new()));
        };
        t = &t[c.len_utf8()..];
        let invalid = |t: &str| Err(("invalid escape sequence", start[..start.len() - t.len()].to_owned()));
        let value = match c {
            '1'..='7' if !t.starts_with(|d: char| ('0'..='7').contains(&d)) => return invalid(t),
            '0'..='7' => {
                let mut value = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match t.chars().next().and_then(|d| d.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            t = &t[1..];
                        }
                        None => break,
                    }
                }
                char::from_u32(value)
            }
            'x' => {
                if let Some(body) = t.strip_prefix('{') {
                    // Any number of hex digits, then `}`.
                    let mut value: u32 = 0;
                    let mut digits = 0;
                    let mut rest = body;
                    loop {
                        let Some(h) = rest.chars().next() else { return invalid("") };
                        rest = &rest[h.len_utf8()..];
                        if h == '}' {
                            break;
                        }
                        let Some(d) = h.to_digit(16) else { return invalid(rest) };
                        value = value.saturating_mul(16).saturating_add(d);
                        if value > 0x10FFFF {
                            return invalid(rest);
                        }
                        digits += 1;
                    }
                    if digits == 0 {
                        return invalid(rest);
                    }
                    t = rest;
                    char::from_u32(value)
                } else {
                    // Exactly two hex digits; Go reads two characters either way.
                    let taken: usize = t.chars().take(2).map(char::len_utf8).sum();
                    let pair = &t[..taken];
                    t = &t[taken..];
                    if pair.len() != 2 || !pair.bytes().all(|h| h.is_ascii_hexdigit()) {
                        return invalid(t);
                    }
                    u32::from_str_radix(pair, 16).ok().and_then(char::from_u32)
                }
            }
            'a' => Some('\u{7}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            'd' | 'D' | 's' | 'S' | 'w' | 'W' => None,
            'p' | 'P' => {
                if let Some(body) = t.strip_prefix('{') {
                    let Some(end) = body.find('}') else {
                        return Err(("invalid character class range", start.to_owned()));
                    };
                    t = &body[end + 1..];
                } else if let Some(n) = t.chars().next() {
                    t = &t[n.len_utf8()..];
                } else {
                    return Err(("invalid character class range", start.to_owned()));
                }
                None
            }
            'b' | 'B' | 'A' | 'z' if !in_class => None,
            'Q' if !in_class => {
                // Literal text up to `\E` or the end.
                t = match t.find("\\E") {
                    Some(end) => &t[end + 2..],
                    None => "",
                };
                None
            }
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Some(c),
            _ => return invalid(t),
        };
        self.rest = t;
        Ok(value)
    }
}

/// A `{n}`, `{n,}` or `{n,m}` at the start of `s`: its length, n, and m (-1 for none). Go
/// reads anything else starting with `{` as a literal brace.
fn repeat_braces(s: &str) -> Option<(usize, i64, i64)> {
    let body = s.strip_prefix('{')?;
    let end = body.find('}')?;
    let inner = &body[..end];
    let number = |d: &str| -> Option<i64> {
        if d.is_empty() || !d.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(d.parse::<i64>().unwrap_or(i64::MAX).min(1_000_000))
    };
    let (min, max) = match inner.split_once(',') {
        None => {
            let n = number(inner)?;
            (n, n)
        }
        Some((lo, "")) => (number(lo)?, -1),
        Some((lo, hi)) => (number(lo)?, number(hi)?),
    };
    Some((end + 2, min, max))
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn errors_are_worded_as_go_words_them() {
        let err = |p: &str| check(p).unwrap_err();
        assert_eq!(err("("), "error parsing regexp: missing closing ): `(`");
        assert_eq!(err("a)"), "error parsing regexp: unexpected ): `a)`");
        assert_eq!(err("[a"), "error parsing regexp: missing closing ]: `[a`");
        assert_eq!(err("x[z-a]"), "error parsing regexp: invalid character class range: `z-a`");
        assert_eq!(err("*a"), "error parsing regexp: missing argument to repetition operator: `*`");
        assert_eq!(err("a**"), "error parsing regexp: invalid nested repetition operator: `**`");
        assert_eq!(err("a{1001}"), "error parsing regexp: invalid repeat count: `{1001}`");
        assert_eq!(err("a\\"), "error parsing regexp: trailing backslash at end of expression: ``");
        assert_eq!(err("\\q"), "error parsing regexp: invalid escape sequence: `\\q`");
        assert_eq!(err("(?x)a"), "error parsing regexp: invalid or unsupported Perl syntax: `(?x`");
        for fine in ["", "a|b", ".*", "(?i)foo", "(?P<n>a)+", "a{2,3}?", "[]a]", "[a-]", "\\d+\\.\\Qa.b\\E", "x{", "^*"]
        {
            assert_eq!(check(fine), Ok(()), "{fine}");
        }
    }
}
