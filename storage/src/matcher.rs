//! Label matchers (upstream `model/labels/matcher.go`, `regexp.go`).
//!
//! A regex matcher is fully anchored like Prometheus's (`^(?s:…)$`), and an empty value matches a
//! missing label: `{a=""}` selects series without `a`, `{a=~".*"}` selects every series.
//! Like upstream's `FastRegexMatcher`, common regex shapes skip the regex engine: `.*`, `.+`,
//! literal alternations (`a|b|c`, answered by set lookups in the postings) and literal prefixes
//! (`foo.*`). The Go RE2 rewrite here is the one relabeling uses too.

use std::fmt;

use regex::Regex;

/// The four matcher operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// The operator as written in PromQL.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// A regex matcher's pattern did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid regular expression {pattern:?}: {reason}")]
pub struct BadRegex {
    /// The pattern as the user wrote it.
    pub pattern: String,
    /// The compiler's complaint.
    pub reason: String,
}

/// `name op value`, with the compiled regex for `=~` and `!~`.
#[derive(Debug, Clone)]
pub struct Matcher {
    /// Label name.
    pub name: String,
    /// Operator.
    pub op: MatchOp,
    /// Value or regex source, as written.
    pub value: String,
    re: Option<Regex>,
    fast: Fast,
}

/// A regex shape answered without the regex engine.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fast {
    /// No shortcut: ask the regex.
    None,
    /// `.*`: every value, the empty one included.
    Any,
    /// `.+`: every non-empty value.
    NonEmpty,
    /// A literal or an alternation of literals: exactly these values.
    Set(Vec<String>),
    /// `literal.*`.
    Prefix(String),
}

// Characters that make a pattern more than a literal in RE2 syntax.
fn is_meta(c: char) -> bool {
    matches!(c, '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$')
}

fn analyze(pattern: &str) -> Fast {
    match pattern {
        ".*" => return Fast::Any,
        ".+" => return Fast::NonEmpty,
        _ => {}
    }
    if let Some(prefix) = pattern.strip_suffix(".*")
        && !prefix.contains(is_meta)
    {
        return Fast::Prefix(prefix.to_owned());
    }
    if pattern.split('|').all(|alt| !alt.contains(is_meta)) {
        let mut values: Vec<String> = pattern.split('|').map(str::to_owned).collect();
        values.sort();
        values.dedup();
        return Fast::Set(values);
    }
    Fast::None
}

impl Matcher {
    /// Builds a matcher, compiling the regex for `=~`/`!~`.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Matcher, BadRegex> {
        let value = value.into();
        let (re, fast) = match op {
            // Compiled even when a shortcut applies, so an invalid pattern is still an error.
            MatchOp::Regex | MatchOp::NotRegex => (Some(compile_anchored(&value)?), analyze(&value)),
            MatchOp::Equal | MatchOp::NotEqual => (None, Fast::Set(vec![value.clone()])),
        };
        Ok(Matcher { name: name.into(), op, value, re, fast })
    }

    /// Whether a label value (`""` for absent) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        let positive = match (&self.fast, &self.re) {
            (Fast::Any, _) => true,
            (Fast::NonEmpty, _) => !value.is_empty(),
            (Fast::Set(values), _) if values.len() == 1 => values[0] == value,
            (Fast::Set(values), _) => values.binary_search_by(|v| v.as_str().cmp(value)).is_ok(),
            (Fast::Prefix(prefix), _) => value.starts_with(prefix.as_str()),
            (Fast::None, Some(re)) => re.is_match(value),
            (Fast::None, None) => unreachable!("only regex matchers lack a shortcut, and they carry a regex"),
        };
        match self.op {
            MatchOp::Equal | MatchOp::Regex => positive,
            MatchOp::NotEqual | MatchOp::NotRegex => !positive,
        }
    }

    /// The exact values the positive form of this matcher accepts (`=`/`!=` value, or a literal
    /// alternation for `=~`/`!~`), when it is a finite set; lets the postings look values up
    /// instead of scanning them.
    pub fn set_matches(&self) -> Option<&[String]> {
        match &self.fast {
            Fast::Set(values) => Some(values),
            _ => None,
        }
    }

    /// Whether the positive form accepts every value (`=~".*"`): the matcher filters nothing
    /// (`=~`) or everything (`!~`).
    pub fn matches_everything_positive(&self) -> bool {
        self.fast == Fast::Any
    }

    /// Whether the matcher selects series that lack the label.
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op.as_str(), self.value)
    }
}

/// The `regex`-crate source for a Prometheus regex: Go RE2 syntax rewritten, fully anchored as
/// `^(?s:…)$`. Matchers and relabel rules both compile through this.
pub fn anchored_regex_source(pattern: &str) -> String {
    format!("^(?s:{})$", rewrite_go_regex(pattern))
}

/// Compiles `pattern` fully anchored with Go RE2's meaning (see [`anchored_regex_source`]).
pub fn compile_anchored(pattern: &str) -> Result<Regex, BadRegex> {
    Regex::new(&anchored_regex_source(pattern))
        .map_err(|err| BadRegex { pattern: shorten(pattern), reason: shorten_reason(&err.to_string()) })
}

/// At most this many bytes of a pattern are quoted back in an error: the text goes into an API
/// answer and a log line, and a client can send a pattern of megabytes.
const MAX_QUOTED: usize = 200;

/// `text`, cut to [`MAX_QUOTED`] bytes (at a character boundary) with a note of its length.
fn shorten(text: &str) -> String {
    if text.len() <= MAX_QUOTED {
        return text.to_owned();
    }
    let mut end = MAX_QUOTED;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}

/// The regex crate's message quotes the whole pattern with a caret line under it; for a long
/// pattern only its closing `error: …` line is kept.
fn shorten_reason(reason: &str) -> String {
    if reason.len() <= MAX_QUOTED * 2 {
        return reason.to_owned();
    }
    let last = reason.lines().rev().find(|l| l.trim_start().starts_with("error:")).unwrap_or("");
    shorten(last.trim())
}

const ASCII_DIGIT: &str = "0-9";
const ASCII_WORD: &str = "0-9A-Za-z_";
const ASCII_SPACE: &str = r"\t\n\x0C\r ";

/// Rewrites a Go RE2 pattern into one the `regex` crate reads the same way: `\d \w \s \b`
/// (and negations) are ASCII in Go, `\Q…\E` quotes a literal, a `[` inside a class is a
/// literal, `&&`/`~~` are not set operators, and a `{` that does not open a repetition count
/// (`{n}`, `{n,}`, `{n,m}`) is a literal brace.
fn rewrite_go_regex(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut in_class = false;
    // Index of the first character inside the current class, where `]` is a literal.
    let mut class_start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let next = chars[i + 1];
            let class = match next {
                'd' => Some((ASCII_DIGIT, false)),
                'D' => Some((ASCII_DIGIT, true)),
                'w' => Some((ASCII_WORD, false)),
                'W' => Some((ASCII_WORD, true)),
                's' => Some((ASCII_SPACE, false)),
                'S' => Some((ASCII_SPACE, true)),
                _ => None,
            };
            if let Some((set, negated)) = class {
                let caret = if negated { "^" } else { "" };
                if in_class && !negated {
                    out.push_str(set);
                } else {
                    out.push_str(&format!("[{caret}{set}]"));
                }
                i += 2;
                continue;
            }
            match next {
                'b' | 'B' if !in_class => {
                    out.push_str(&format!("(?-u:\\{next})"));
                    i += 2;
                }
                'Q' => {
                    let mut j = i + 2;
                    let mut literal = String::new();
                    while j < chars.len() && !(chars[j] == '\\' && chars.get(j + 1) == Some(&'E')) {
                        literal.push(chars[j]);
                        j += 1;
                    }
                    for lc in literal.chars() {
                        if in_class {
                            if lc.is_ascii_punctuation() {
                                out.push('\\');
                            }
                            out.push(lc);
                        } else {
                            out.push_str(&regex::escape(&lc.to_string()));
                        }
                    }
                    i = if j < chars.len() { j + 2 } else { j };
                }
                _ => {
                    out.push(c);
                    out.push(next);
                    i += 2;
                }
            }
            continue;
        }
        if in_class {
            match c {
                ']' if i > class_start => in_class = false,
                '[' if chars.get(i + 1) == Some(&':') => {
                    // A POSIX class such as `[:alpha:]` is copied whole.
                    let end = (i + 2..chars.len().saturating_sub(1)).find(|&j| chars[j] == ':' && chars[j + 1] == ']');
                    if let Some(end) = end {
                        out.extend(&chars[i..end + 2]);
                        i = end + 2;
                        continue;
                    }
                    out.push('\\');
                }
                '[' => out.push('\\'),
                // `&&` and `~~` are set operators in the `regex` crate, plain characters in Go.
                '&' | '~' if chars.get(i + 1) == Some(&c) => out.push('\\'),
                _ => {}
            }
            out.push(c);
            i += 1;
            continue;
        }
        if c == '{' && !opens_repetition(&chars[i + 1..]) {
            out.push_str("\\{");
            i += 1;
            continue;
        }
        if c == '[' {
            in_class = true;
            out.push(c);
            i += 1;
            if chars.get(i) == Some(&'^') {
                out.push('^');
                i += 1;
            }
            class_start = i;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

/// Whether what follows a `{` is `n}`, `n,}` or `n,m}` with decimal n and m, Go's only
/// repetition counts.
fn opens_repetition(rest: &[char]) -> bool {
    let digits = |from: usize| rest[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let first = digits(0);
    if first == 0 {
        return false;
    }
    match rest.get(first) {
        Some('}') => true,
        Some(',') => {
            let second = digits(first + 1);
            rest.get(first + 1 + second) == Some(&'}')
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_huge_bad_pattern_is_not_quoted_back_whole() {
        let pattern = format!("({}", "a".repeat(169_000));
        let err = super::compile_anchored(&pattern).unwrap_err().to_string();
        assert!(err.len() < 600, "{} bytes: {}", err.len(), &err[..600]);
        assert!(err.contains("169001 bytes"), "{err}");
        assert!(err.contains("unclosed group"), "{err}");
    }

    use super::*;

    fn check(op: MatchOp, value: &str, input: &str) -> bool {
        Matcher::new(op, "a", value).unwrap().matches(input)
    }

    #[test]
    fn regex_is_fully_anchored_and_dot_matches_newline() {
        assert!(check(MatchOp::Regex, "fo+", "foo"));
        assert!(!check(MatchOp::Regex, "fo+", "xfoo"));
        assert!(!check(MatchOp::Regex, "fo+", "foox"));
        assert!(check(MatchOp::Regex, "a.b", "a\nb"));
        assert!(check(MatchOp::Regex, "a|b", "b"));
        assert!(!check(MatchOp::NotRegex, ".*", ""));
    }

    #[test]
    fn go_classes_are_ascii() {
        assert!(check(MatchOp::Regex, r"\d+", "42"));
        assert!(!check(MatchOp::Regex, r"\d", "٣"));
        assert!(!check(MatchOp::Regex, r"\w", "é"));
        assert!(check(MatchOp::Regex, r"\.", "."));
        // The rest of the Go RE2 rewrite, shared with relabeling: quoting and class brackets.
        assert!(check(MatchOp::Regex, r"\Qa.b\E", "a.b"));
        assert!(!check(MatchOp::Regex, r"\Qa.b\E", "axb"));
        assert!(check(MatchOp::Regex, r"[[]", "["));
        // Go reads a brace that opens no repetition count as a literal (found by the API fuzz
        // test: `job!~"{web"` selected as in Prometheus).
        assert!(check(MatchOp::Regex, "{web", "{web"));
        assert!(check(MatchOp::Regex, "a{,2}", "a{,2}"));
        assert!(check(MatchOp::Regex, "a{2}x{", "aax{"));
        assert!(!check(MatchOp::Regex, "a{2,3}", "a{2,3}"));
    }

    #[test]
    fn empty_value_matches_absent_label() {
        assert!(check(MatchOp::Equal, "", ""));
        assert!(Matcher::new(MatchOp::Regex, "a", ".*").unwrap().matches_empty());
        assert!(!Matcher::new(MatchOp::Regex, "a", ".+").unwrap().matches_empty());
    }

    #[test]
    fn shortcuts_agree_with_the_regex() {
        let patterns = ["", ".*", ".+", "foo", "foo|bar|", "a|b|c", "foo.*", "fo.*x", "f(o)o", "a+|b", "x\\.y.*"];
        let inputs = ["", "foo", "bar", "a", "b", "c", "foox", "fox", "x.y", "x.yz", "xzy", "ab"];
        for pattern in patterns {
            let re = compile_anchored(pattern).unwrap();
            for op in [MatchOp::Regex, MatchOp::NotRegex] {
                let m = Matcher::new(op, "a", pattern).unwrap();
                for input in inputs {
                    assert_eq!(m.matches(input), re.is_match(input) == (op == MatchOp::Regex), "{m} on {input:?}");
                }
            }
        }
        assert_eq!(Matcher::new(MatchOp::Regex, "a", "b|a|b").unwrap().set_matches().unwrap(), ["a", "b"]);
        assert!(Matcher::new(MatchOp::Regex, "a", "a.").unwrap().set_matches().is_none());
    }

    #[test]
    fn bad_regex_names_the_pattern() {
        let err = Matcher::new(MatchOp::Regex, "a", "(").unwrap_err();
        assert!(err.to_string().starts_with("invalid regular expression \"(\""), "{err}");
    }
}
