//! Relabel rules: the model of one `relabel_configs` entry (upstream `model/relabel/relabel.go`).
//!
//! A [`RelabelConfig`] is what `relabel_configs`, `metric_relabel_configs` and
//! `write_relabel_configs` hold. Its defaults are Prometheus's (`separator: ";"`, `regex: "(.*)"`,
//! `replacement: "$1"`, `action: replace`) and [`RelabelConfig::validate`] applies exactly the
//! checks of Prometheus's relabel `Config.Validate`. A [`Regexp`] is fully anchored and compiled
//! with Go RE2 semantics rewritten for the `regex` crate; it keeps the user's text for display.
//! This file holds the model only: applying rules to labels belongs to `relabel::process`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How label names are checked (upstream `metric_name_validation_scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NameValidation {
    /// Prometheus 3's default: any non-empty UTF-8 string is a valid name.
    #[default]
    Utf8,
    /// Prometheus 2's rule: `[a-zA-Z_][a-zA-Z0-9_]*`.
    Legacy,
}

impl NameValidation {
    /// Whether `name` is a legal label name under this scheme.
    pub fn is_valid_label_name(self, name: &str) -> bool {
        match self {
            NameValidation::Utf8 => !name.is_empty(),
            NameValidation::Legacy => is_legacy_label_name(name),
        }
    }
}

fn is_legacy_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is a legacy label name in which `$1`, `${1}`, `$name` or `${name}` may stand
/// for letters (upstream's `relabelTarget` pattern).
fn is_legacy_target_template(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() {
        return false;
    }
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    let mut first = true;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'$' {
            if bytes.get(i + 1) == Some(&b'{') {
                let close = match bytes[i + 2..].iter().position(|&b| b == b'}') {
                    Some(n) => i + 2 + n,
                    None => return false,
                };
                if close == i + 2 || !bytes[i + 2..close].iter().all(|&b| word(b)) {
                    return false;
                }
                i = close + 1;
            } else {
                let len = bytes[i + 1..].iter().take_while(|&&b| word(b)).count();
                if len == 0 {
                    return false;
                }
                i += 1 + len;
            }
        } else if b.is_ascii_alphabetic() || b == b'_' || (!first && b.is_ascii_digit()) {
            i += 1;
        } else {
            return false;
        }
        first = false;
    }
    true
}

/// What a relabel rule does (upstream `relabel.Action`); parsed case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Action {
    /// Write `replacement`, expanded with the regex's groups, to `target_label`.
    #[default]
    Replace,
    /// Drop the target or series unless the regex matches the source value.
    Keep,
    /// Drop the target or series if the regex matches the source value.
    Drop,
    /// Drop unless the source value equals the value of `target_label`.
    KeepEqual,
    /// Drop if the source value equals the value of `target_label`.
    DropEqual,
    /// Set `target_label` to the MD5 hash of the source value modulo `modulus`.
    HashMod,
    /// Copy every label whose name matches the regex to the name given by `replacement`.
    LabelMap,
    /// Remove every label whose name matches the regex.
    LabelDrop,
    /// Remove every label whose name does not match the regex.
    LabelKeep,
    /// Write the lowercased source value to `target_label`.
    Lowercase,
    /// Write the uppercased source value to `target_label`.
    Uppercase,
}

impl Action {
    /// The name Prometheus uses in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Replace => "replace",
            Action::Keep => "keep",
            Action::Drop => "drop",
            Action::KeepEqual => "keepequal",
            Action::DropEqual => "dropequal",
            Action::HashMod => "hashmod",
            Action::LabelMap => "labelmap",
            Action::LabelDrop => "labeldrop",
            Action::LabelKeep => "labelkeep",
            Action::Lowercase => "lowercase",
            Action::Uppercase => "uppercase",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let action = match s.to_lowercase().as_str() {
            "replace" => Action::Replace,
            "keep" => Action::Keep,
            "drop" => Action::Drop,
            "keepequal" => Action::KeepEqual,
            "dropequal" => Action::DropEqual,
            "hashmod" => Action::HashMod,
            "labelmap" => Action::LabelMap,
            "labeldrop" => Action::LabelDrop,
            "labelkeep" => Action::LabelKeep,
            "lowercase" => Action::Lowercase,
            "uppercase" => Action::Uppercase,
            "" => return Err("relabel action cannot be empty".to_owned()),
            _ => return Err(format!("unknown relabel action {s:?}")),
        };
        Ok(action)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A fully anchored regular expression with Go RE2 semantics, as Prometheus's `relabel.Regexp`.
///
/// Compiled as `^(?s:…)$` after rewriting what Go and the `regex` crate read differently:
/// `\d \w \s \b` (and their negations) are ASCII in Go, `\Q…\E` quotes a literal, and a `[`
/// inside a character class is a literal in Go but a nested class here.
#[derive(Clone)]
pub struct Regexp {
    original: String,
    regex: regex::Regex,
}

impl Regexp {
    /// Compiles `pattern`; the error is the `regex` crate's message.
    pub fn new(pattern: &str) -> Result<Regexp, regex::Error> {
        let regex = regex::Regex::new(&promlite_storage::anchored_regex_source(pattern))?;
        Ok(Regexp { original: pattern.to_owned(), regex })
    }

    /// The pattern as the user wrote it.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The compiled, anchored expression.
    pub fn regex(&self) -> &regex::Regex {
        &self.regex
    }

    /// Whether the whole of `text` matches.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

impl Default for Regexp {
    fn default() -> Self {
        Regexp::new(DEFAULT_REGEX).expect("the default relabel regex compiles")
    }
}

impl PartialEq for Regexp {
    fn eq(&self, other: &Self) -> bool {
        self.original == other.original
    }
}

impl Eq for Regexp {}

impl fmt::Debug for Regexp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Regexp({:?})", self.original)
    }
}

impl fmt::Display for Regexp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl<'de> Deserialize<'de> for Regexp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // An explicit null is the empty pattern, as in Prometheus (`regex:` matches only "").
        let pattern = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
        Regexp::new(&pattern).map_err(|err| serde::de::Error::custom(regexp_error(&pattern, &err)))
    }
}

/// Go's `regexp/syntax` wording, `error parsing regexp: CODE: `PATTERN``, with the pattern as
/// the user wrote it (not the anchored, rewritten form the `regex` crate saw).
fn regexp_error(pattern: &str, err: &regex::Error) -> String {
    let reason = first_line(err);
    format!("error parsing regexp: {}: `{pattern}`", go_error_code(&reason).unwrap_or(&reason))
}

/// The Go RE2 error code for a `regex` crate complaint, where the two mean the same thing.
/// Complaints without a Go counterpart (Go accepts `a{1,` as literal text, for one) keep the
/// crate's words.
fn go_error_code(reason: &str) -> Option<&'static str> {
    let code = match reason {
        "unclosed group" => "missing closing )",
        "unopened group" => "unexpected )",
        "unclosed character class" => "missing closing ]",
        "repetition operator missing expression" => "missing argument to repetition operator",
        "incomplete escape sequence, reached end of pattern prematurely" => "trailing backslash at end of expression",
        "unrecognized escape sequence"
        | "invalid escape sequence found in character class"
        | "backreferences are not supported"
        | "hexadecimal literal empty"
        | "invalid hexadecimal digit"
        | "hexadecimal literal is not a Unicode scalar value" => "invalid escape sequence",
        "invalid character class range, the start must be <= the end"
        | "invalid range boundary, must be a literal"
        | "invalid Unicode character class"
        | "Unicode property not found"
        | "Unicode property value not found" => "invalid character class range",
        "invalid repetition count range, the start must be <= the end" => "invalid repeat count",
        "empty capture group name" | "invalid capture group character" | "unclosed capture group name" => {
            "invalid named capture"
        }
        "unrecognized flag"
        | "duplicate flag"
        | "dangling flag negation operator"
        | "flag negation operator repeated"
        | "expected flag but got end of regex" => "invalid or unsupported Perl syntax",
        _ if reason.starts_with("look-around") => "invalid or unsupported Perl syntax",
        _ if reason.starts_with("exceed the maximum number of nested") => "expression nests too deeply",
        _ if reason.starts_with("Compiled regex exceeds size limit") => "expression too large",
        _ => return None,
    };
    Some(code)
}

impl Serialize for Regexp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.original)
    }
}

fn first_line(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines().last().unwrap_or_default().trim().trim_start_matches("error: ").to_owned()
}

/// The default `regex` of a relabel rule.
pub const DEFAULT_REGEX: &str = "(.*)";
/// The default `separator` of a relabel rule.
pub const DEFAULT_SEPARATOR: &str = ";";
/// The default `replacement` of a relabel rule.
pub const DEFAULT_REPLACEMENT: &str = "$1";

fn default_separator() -> String {
    DEFAULT_SEPARATOR.to_owned()
}

fn default_replacement() -> String {
    DEFAULT_REPLACEMENT.to_owned()
}

/// One relabel rule (upstream `relabel.Config`), with Prometheus's defaults filled in.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the source value.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_labels: Vec<String>,
    /// Joins the source label values; `;` by default.
    #[serde(default = "default_separator")]
    pub separator: String,
    /// Matched against the source value; `(.*)` by default.
    #[serde(default)]
    pub regex: Regexp,
    /// The modulus of `hashmod`; 0 when unset.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub modulus: u64,
    /// The label written by `replace`, `hashmod`, `lowercase`, `uppercase`, or compared by
    /// `keepequal`/`dropequal`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_label: String,
    /// The value written by `replace` (or the name written by `labelmap`); `$1` by default.
    #[serde(default = "default_replacement")]
    pub replacement: String,
    /// What the rule does; `replace` by default.
    #[serde(default)]
    pub action: Action,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Default for RelabelConfig {
    fn default() -> Self {
        RelabelConfig {
            source_labels: Vec::new(),
            separator: default_separator(),
            regex: Regexp::default(),
            modulus: 0,
            target_label: String::new(),
            replacement: default_replacement(),
            action: Action::Replace,
        }
    }
}

impl RelabelConfig {
    /// Applies Prometheus's relabel `Config.Validate`; the error is upstream's message.
    pub fn validate(&self, names: NameValidation) -> Result<(), String> {
        let action = self.action;
        let target = self.target_label.as_str();
        let writes_target = matches!(
            action,
            Action::Replace
                | Action::HashMod
                | Action::Lowercase
                | Action::Uppercase
                | Action::KeepEqual
                | Action::DropEqual
        );
        if action == Action::HashMod && self.modulus == 0 {
            return Err("relabel configuration for hashmod requires non-zero modulus".to_owned());
        }
        if writes_target && target.is_empty() {
            return Err(format!("relabel configuration for {action} action requires 'target_label' value"));
        }
        let invalid_target = || format!("{target:?} is invalid 'target_label' for {action} action");
        if action == Action::Replace {
            let valid = if target.contains('$') {
                match names {
                    NameValidation::Utf8 => !target.is_empty(),
                    NameValidation::Legacy => is_legacy_target_template(target),
                }
            } else {
                names.is_valid_label_name(target)
            };
            if !valid {
                return Err(invalid_target());
            }
        }
        let value_action =
            matches!(action, Action::Lowercase | Action::Uppercase | Action::KeepEqual | Action::DropEqual);
        if value_action && !names.is_valid_label_name(target) {
            return Err(invalid_target());
        }
        if value_action && self.replacement != DEFAULT_REPLACEMENT {
            return Err(format!("'replacement' can not be set for {action} action"));
        }
        if action == Action::LabelMap {
            let valid = match names {
                NameValidation::Utf8 => !self.replacement.is_empty(),
                NameValidation::Legacy => is_legacy_target_template(&self.replacement),
            };
            if !valid {
                return Err(format!("{:?} is invalid 'replacement' for {action} action", self.replacement));
            }
        }
        if action == Action::HashMod && !names.is_valid_label_name(target) {
            return Err(invalid_target());
        }
        if matches!(action, Action::KeepEqual | Action::DropEqual)
            && (self.regex.original() != DEFAULT_REGEX
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!(
                "{action} action requires only 'source_labels' and `target_label`, and no other fields"
            ));
        }
        if matches!(action, Action::LabelDrop | Action::LabelKeep)
            && (!self.source_labels.is_empty()
                || !target.is_empty()
                || self.modulus != 0
                || self.separator != DEFAULT_SEPARATOR
                || self.replacement != DEFAULT_REPLACEMENT)
        {
            return Err(format!("{action} action requires only 'regex', and no other fields"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(yaml: &str) -> String {
        match serde_saphyr::from_str::<RelabelConfig>(yaml) {
            Ok(rule) => match rule.validate(NameValidation::Utf8) {
                Ok(()) => "ok".to_owned(),
                Err(err) => err,
            },
            Err(err) => {
                use serde_saphyr::MessageFormatter;
                serde_saphyr::DefaultMessageFormatter.format_message(err.without_snippet()).into_owned()
            }
        }
    }

    fn matches(pattern: &str, text: &str) -> bool {
        Regexp::new(pattern).unwrap().is_match(text)
    }

    #[test]
    fn defaults_are_prometheus_defaults() {
        let rule: RelabelConfig = serde_saphyr::from_str("target_label: a").unwrap();
        assert_eq!(rule.separator, ";");
        assert_eq!(rule.regex.original(), "(.*)");
        assert_eq!(rule.replacement, "$1");
        assert_eq!(rule.action, Action::Replace);
        assert_eq!(rule, RelabelConfig { target_label: "a".into(), ..RelabelConfig::default() });
    }

    #[test]
    fn null_regex_is_the_empty_pattern() {
        let rule: RelabelConfig = serde_saphyr::from_str("regex:\ntarget_label: a").unwrap();
        assert_eq!(rule.regex.original(), "");
        assert!(rule.regex.is_match(""));
        assert!(!rule.regex.is_match("x"));
    }

    #[test]
    fn action_is_case_insensitive() {
        let rule: RelabelConfig = serde_saphyr::from_str("action: LabelDrop\nregex: a").unwrap();
        assert_eq!(rule.action, Action::LabelDrop);
    }

    // Self-comparison: these snapshots pin promlite's own texts (written to Prometheus's
    // wording) against accidental change; they cannot show that Prometheus says the same.
    #[test]
    fn validation_messages() {
        insta::assert_snapshot!(check("action: replace"), @"relabel configuration for replace action requires 'target_label' value");
        insta::assert_snapshot!(check("action: hashmod\ntarget_label: a"), @"relabel configuration for hashmod requires non-zero modulus");
        insta::assert_snapshot!(check("action: hashmod\nmodulus: 8"), @"relabel configuration for hashmod action requires 'target_label' value");
        insta::assert_snapshot!(check("action: lowercase\ntarget_label: a\nreplacement: b"), @"'replacement' can not be set for lowercase action");
        insta::assert_snapshot!(check("action: keepequal\ntarget_label: a\nregex: b"), @"keepequal action requires only 'source_labels' and `target_label`, and no other fields");
        insta::assert_snapshot!(check("action: dropequal"), @"relabel configuration for dropequal action requires 'target_label' value");
        insta::assert_snapshot!(check("action: labeldrop\nsource_labels: [a]"), @"labeldrop action requires only 'regex', and no other fields");
        insta::assert_snapshot!(check("action: labelkeep\nseparator: ','"), @"labelkeep action requires only 'regex', and no other fields");
        insta::assert_snapshot!(check("action: labelmap\nreplacement: ''"), @r#""" is invalid 'replacement' for labelmap action"#);
        insta::assert_snapshot!(check("action: frobnicate"), @r#"unknown relabel action "frobnicate""#);
        insta::assert_snapshot!(check("action: ''"), @"relabel action cannot be empty");
        insta::assert_snapshot!(check("action: labelmap\nregex: __meta_(.+)"), @"ok");
        insta::assert_snapshot!(check("target_label: ${1}\nreplacement: ${2}"), @"ok");
    }

    #[test]
    fn legacy_names() {
        let rule = RelabelConfig { target_label: "${1}_x".into(), ..RelabelConfig::default() };
        assert_eq!(rule.validate(NameValidation::Legacy), Ok(()));
        // The error names the bad label and the field and action it was given for.
        let rule = RelabelConfig { target_label: "1abc".into(), ..RelabelConfig::default() };
        assert_eq!(
            rule.validate(NameValidation::Legacy),
            Err(r#""1abc" is invalid 'target_label' for replace action"#.to_owned())
        );
        assert_eq!(rule.validate(NameValidation::Utf8), Ok(()));
        let rule = RelabelConfig { target_label: "a.b".into(), ..RelabelConfig::default() };
        assert_eq!(
            rule.validate(NameValidation::Legacy),
            Err(r#""a.b" is invalid 'target_label' for replace action"#.to_owned())
        );
        assert_eq!(rule.validate(NameValidation::Utf8), Ok(()));
    }

    #[test]
    fn regex_is_anchored_and_dot_matches_newline() {
        assert!(matches("foo", "foo"));
        assert!(!matches("foo", "foobar"));
        assert!(!matches("foo", "xfoo"));
        assert!(matches("a|b", "b"));
        assert!(matches("a.b", "a\nb"));
    }

    #[test]
    fn regex_perl_classes_are_ascii_like_go() {
        assert!(matches(r"\d+", "123"));
        assert!(!matches(r"\d", "٣"));
        assert!(!matches(r"\w", "é"));
        assert!(matches(r"\W", "é"));
        assert!(!matches(r"\s", "\u{a0}"));
        assert!(matches(r"[\d.]+", "1.2"));
        assert!(matches(r"[^\d]", "x"));
        assert!(matches(r"[\D]", "x"));
        assert!(matches(r"a\b.*", "a-b"));
        assert!(!matches(r"\bé", "é"));
    }

    #[test]
    fn regex_quoting_and_literal_brackets() {
        assert!(matches(r"\Qa.b*\E", "a.b*"));
        assert!(!matches(r"\Qa.b\E", "axb"));
        assert!(matches(r"\Qa.b", "a.b"));
        assert!(matches(r"[[]", "["));
        assert!(matches(r"[]a]", "]"));
        assert!(matches(r"[[:alpha:]]+", "abc"));
        assert!(matches(r"[a&&b]", "&"));
        assert!(matches("(.*)some-[regex]", "xsome-r"));
    }

    #[test]
    fn regex_error_names_the_pattern() {
        insta::assert_snapshot!(check("regex: abc(def"), @"error parsing regexp: missing closing ): `abc(def`");
        // Backslashes as written, not doubled by quoting.
        insta::assert_snapshot!(check(r"regex: 'a\d(b'"), @r"error parsing regexp: missing closing ): `a\d(b`");
        insta::assert_snapshot!(check(r"regex: 'a)'"), @"error parsing regexp: unexpected ): `a)`");
        insta::assert_snapshot!(check(r"regex: '[a'"), @"error parsing regexp: missing closing ]: `[a`");
        insta::assert_snapshot!(check(r"regex: '*a'"), @"error parsing regexp: missing argument to repetition operator: `*a`");
        // As in Go, the anchoring group's `)` is what a trailing backslash escapes.
        insta::assert_snapshot!(check(r"regex: 'a\'"), @r"error parsing regexp: missing closing ): `a\`");
        insta::assert_snapshot!(check(r"regex: '(?<!a)b'"), @"error parsing regexp: invalid or unsupported Perl syntax: `(?<!a)b`");
    }

    #[test]
    fn serializes_with_defaults() {
        let rule: RelabelConfig = serde_saphyr::from_str("target_label: a").unwrap();
        insta::assert_snapshot!(serde_saphyr::to_string(&rule).unwrap(), @r#"
        separator: ;
        regex: (.*)
        target_label: a
        replacement: $1
        action: replace
        "#);
    }
}
