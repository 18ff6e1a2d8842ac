//! Go RE2 regular expressions on the `regex` crate, for `match` and `reReplaceAll`. The syntax
//! is nearly the same; the differences that change matches are rewritten: `\d \w \s \b` are
//! ASCII-only in Go (Unicode in `regex`), and Go has `\Q...\E` literal quoting.
//!
//! Compile errors keep Go's shape (`error parsing regexp: <what>: `<where>``), but the wording
//! of `<what>` is the `regex` crate's, not RE2's.

use regex::Regex;

/// Compiles a Go regular expression, unanchored.
pub(crate) fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(&rewrite(pattern)).map_err(|e| {
        let what = match &e {
            regex::Error::Syntax(s) => s.lines().rev().find_map(|l| l.strip_prefix("error: ")).unwrap_or(s).to_owned(),
            other => other.to_string(),
        };
        format!("error parsing regexp: {what}: `{pattern}`")
    })
}

fn class_body(c: char) -> Option<&'static str> {
    Some(match c {
        'd' => "0-9",
        'w' => "0-9A-Za-z_",
        's' => "\\t\\n\\x0C\\r ",
        _ => return None,
    })
}

fn rewrite(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match e {
                    'Q' => {
                        let mut literal = String::new();
                        while let Some(q) = chars.next() {
                            if q == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            literal.push(q);
                        }
                        out.push_str(&regex::escape(&literal));
                    }
                    'd' | 'w' | 's' => {
                        let body = class_body(e).expect("listed");
                        if in_class {
                            out.push_str(body);
                        } else {
                            out.push('[');
                            out.push_str(body);
                            out.push(']');
                        }
                    }
                    'D' | 'W' | 'S' => {
                        let body = class_body(e.to_ascii_lowercase()).expect("listed");
                        out.push_str("[^");
                        out.push_str(body);
                        out.push(']');
                    }
                    'b' | 'B' if !in_class => {
                        out.push_str("(?-u:\\");
                        out.push(e);
                        out.push(')');
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // A leading `]` (after an optional `^`) is a literal in a class.
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().expect("peeked"));
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // A POSIX class like [:alpha:] stays as it is.
                out.push('[');
                for p in chars.by_ref() {
                    out.push(p);
                    if p == ']' {
                        break;
                    }
                }
            }
            '[' => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_are_ascii_like_go() {
        assert!(!compile(r"^\d$").unwrap().is_match("٣"));
        assert!(compile(r"^[\d.]+$").unwrap().is_match("1.5"));
        assert!(!compile(r"^\w+$").unwrap().is_match("é"));
        assert!(compile(r"^\W$").unwrap().is_match("é"));
        assert!(compile(r"^\Qa.b\E$").unwrap().is_match("a.b"));
        assert!(!compile(r"^\Qa.b\E$").unwrap().is_match("axb"));
        assert!(compile(r"^[]a]+$").unwrap().is_match("]a"));
        assert!(compile(r"^[[:alpha:]]+$").unwrap().is_match("ab"));
    }

    #[test]
    fn errors_keep_go_shape() {
        let e = compile("(").unwrap_err();
        assert!(e.starts_with("error parsing regexp: ") && e.ends_with(": `(`"), "{e}");
    }
}
