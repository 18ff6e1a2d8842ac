//! Label matchers (upstream `model/labels/matcher.go`, `regexp.go`).
//!
//! A regex matcher is fully anchored like Prometheus's (`^(?s:…)$`), and an empty value matches a
//! missing label: `{a=""}` selects series without `a`, `{a=~".*"}` selects every series.
//! FIXME(#4): the RE2 rewrite here is partial (ASCII `\d \w \s`); relabeling shares this type.

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
#[derive(Debug, thiserror::Error)]
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
}

impl Matcher {
    /// Builds a matcher, compiling the regex for `=~`/`!~`.
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Matcher, BadRegex> {
        let value = value.into();
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => Some(compile_anchored(&value)?),
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher { name: name.into(), op, value, re })
    }

    /// Whether a label value (`""` for absent) satisfies the matcher.
    pub fn matches(&self, value: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => value == self.value,
            (MatchOp::NotEqual, _) => value != self.value,
            (MatchOp::Regex, Some(re)) => re.is_match(value),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(value),
            (MatchOp::Regex | MatchOp::NotRegex, None) => unreachable!("regex matchers always carry a regex"),
        }
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

/// Compiles `pattern` fully anchored, with Go RE2's ASCII meaning of `\d`, `\w`, `\s`.
pub fn compile_anchored(pattern: &str) -> Result<Regex, BadRegex> {
    let source = format!("^(?s:{})$", rewrite_go_classes(pattern));
    Regex::new(&source).map_err(|err| BadRegex { pattern: pattern.to_owned(), reason: err.to_string() })
}

// Go's `\d \w \s` (and negations) are ASCII; Rust's are Unicode. Rewrite them outside classes and
// inside them alike, since `[\d]` means the same ASCII set in Go.
fn rewrite_go_classes(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('d') => out.push_str("[0-9]"),
            Some('D') => out.push_str("[^0-9]"),
            Some('w') => out.push_str("[0-9A-Za-z_]"),
            Some('W') => out.push_str("[^0-9A-Za-z_]"),
            Some('s') => out.push_str("[\\t\\n\\f\\r ]"),
            Some('S') => out.push_str("[^\\t\\n\\f\\r ]"),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
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
    }

    #[test]
    fn empty_value_matches_absent_label() {
        assert!(check(MatchOp::Equal, "", ""));
        assert!(Matcher::new(MatchOp::Regex, "a", ".*").unwrap().matches_empty());
        assert!(!Matcher::new(MatchOp::Regex, "a", ".+").unwrap().matches_empty());
    }

    #[test]
    fn bad_regex_names_the_pattern() {
        let err = Matcher::new(MatchOp::Regex, "a", "(").unwrap_err();
        assert!(err.to_string().starts_with("invalid regular expression \"(\""), "{err}");
    }
}
