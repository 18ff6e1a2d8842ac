//! Rule files (upstream `model/rulefmt`): groups of recording and alerting rules as Prometheus 3
//! reads them, strictly (unknown fields are errors), validated with every problem reported as
//! promtool reports it: `FILE: LINE:COL: group "g", rule N, "name": message`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::config::{Duration, Position, from_yaml_error, position};

/// One rule file's groups, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// The file's path as given.
    pub path: String,
    /// Its groups, in file order.
    pub groups: Vec<GroupSpec>,
}

/// A rule group as written.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSpec {
    /// Unique in its file.
    pub name: String,
    /// `interval`; `None` for `global.evaluation_interval`.
    pub interval: Option<std::time::Duration>,
    /// `limit`: most series a recording rule and alerts an alerting rule may produce (0: none).
    pub limit: u64,
    /// `query_offset`; `None` for `global.rule_query_offset`.
    pub query_offset: Option<std::time::Duration>,
    /// `labels`, added to every rule's (a rule's own win).
    pub labels: BTreeMap<String, String>,
    /// The rules, evaluated in this order.
    pub rules: Vec<RuleSpec>,
}

/// A recording or alerting rule as written.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleSpec {
    /// Which kind, and what only that kind has.
    pub kind: RuleKind,
    /// The PromQL expression (already checked to parse).
    pub expr: String,
    /// `labels` of the rule.
    pub labels: BTreeMap<String, String>,
}

/// What is particular to a recording or an alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// `record`: the metric name the result is stored under.
    Recording {
        /// The metric name.
        record: String,
    },
    /// `alert`: the alert name, how long it pends and keeps firing, its annotations.
    Alerting {
        /// The alert name (`alertname`).
        alert: String,
        /// `for`.
        hold: std::time::Duration,
        /// `keep_firing_for`.
        keep_firing_for: std::time::Duration,
        /// `annotations` (templates).
        annotations: BTreeMap<String, String>,
    },
}

impl RuleSpec {
    /// The record or alert name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Recording { record } => record,
            RuleKind::Alerting { alert, .. } => alert,
        }
    }
}

/// One problem in a rule file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleFileError {
    /// The file.
    pub path: String,
    /// Where, when known.
    pub position: Option<Position>,
    /// The group and 1-based rule number and name, for a problem in a rule.
    pub rule: Option<(String, usize, String)>,
    /// What is wrong, in promtool's words.
    pub message: String,
}

impl fmt::Display for RuleFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.path)?;
        if let Some(p) = self.position {
            write!(f, "{}:{}: ", p.line, p.column)?;
        }
        if let Some((group, index, name)) = &self.rule {
            write!(f, "group {group:?}, rule {index}, {name:?}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for RuleFileError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    groups: Vec<Spanned<RawGroup>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGroup {
    #[serde(default)]
    name: Option<Spanned<String>>,
    #[serde(default)]
    interval: Option<Duration>,
    #[serde(default)]
    query_offset: Option<Duration>,
    #[serde(default)]
    limit: Option<i64>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    record: Option<Spanned<String>>,
    #[serde(default)]
    alert: Option<Spanned<String>>,
    #[serde(default)]
    expr: Option<Spanned<String>>,
    #[serde(default, rename = "for")]
    hold: Option<Duration>,
    #[serde(default)]
    keep_firing_for: Option<Duration>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

/// Checks a template of alerting rule `alert` (its name, then the text); returns the problem as
/// promtool shows it (`template: __alert_A:1: ...`). The rule manager passes the template
/// engine's parser.
pub type TemplateCheck<'a> = &'a dyn Fn(&str, &str) -> Option<String>;

/// Reads and validates the rule file at `path`.
pub fn load(path: &str, check_template: TemplateCheck<'_>) -> Result<RuleFile, Vec<RuleFileError>> {
    let text = std::fs::read_to_string(path).map_err(|err| {
        vec![RuleFileError { path: path.to_owned(), position: None, rule: None, message: err.to_string() }]
    })?;
    parse(path, &text, check_template)
}

/// Parses and validates rule file `text`, named `path` in errors.
pub fn parse(path: &str, text: &str, check_template: TemplateCheck<'_>) -> Result<RuleFile, Vec<RuleFileError>> {
    let error = |position: Option<Position>, rule: Option<(String, usize, String)>, message: String| RuleFileError {
        path: path.to_owned(),
        position,
        rule,
        message,
    };
    let is_empty = text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#') || l.trim() == "---");
    let raw = if is_empty {
        RawFile { groups: Vec::new() }
    } else {
        match serde_saphyr::from_str::<Option<RawFile>>(text) {
            Ok(raw) => raw.unwrap_or(RawFile { groups: Vec::new() }),
            Err(err) => {
                let problem = from_yaml_error(&err);
                return Err(vec![error(problem.position, None, problem.message)]);
            }
        }
    };
    let mut errors = Vec::new();
    let mut groups = Vec::with_capacity(raw.groups.len());
    let mut seen = std::collections::HashSet::new();
    for spanned_group in raw.groups {
        let group_at = position(&spanned_group);
        let g = spanned_group.value;
        // Group problems are reported at the group's mapping, as upstream reports them.
        let name = g.name.as_ref().map(|n| n.value.clone()).unwrap_or_default();
        let name_at = group_at;
        if name.is_empty() {
            errors.push(error(name_at, None, "Groupname must not be empty".to_owned()));
        }
        if !seen.insert(name.clone()) {
            errors.push(error(name_at, None, format!("groupname: {name:?} is repeated in the same file")));
        }
        let labels = g.labels.unwrap_or_default();
        for (k, v) in &labels {
            check_label(k, v, &mut |m| errors.push(error(None, None, m)));
        }
        let mut rules = Vec::with_capacity(g.rules.len());
        for (i, r) in g.rules.into_iter().enumerate() {
            let rule_name = r.alert.as_ref().or(r.record.as_ref()).map(|s| s.value.clone()).unwrap_or_default();
            let at_rule = (name.clone(), i + 1, rule_name);
            let mut problem = |at: Option<Position>, message: String| {
                errors.push(error(at, Some(at_rule.clone()), message));
            };
            let record_at = r.record.as_ref().and_then(position);
            let name_node_at = record_at.or(r.alert.as_ref().and_then(position));
            let record = r.record.map(|s| s.value).filter(|s| !s.is_empty());
            let alert = r.alert.map(|s| s.value).filter(|s| !s.is_empty());
            match (&record, &alert) {
                (Some(_), Some(_)) => problem(name_node_at, "only one of 'record' and 'alert' must be set".to_owned()),
                (None, None) => problem(name_node_at, "one of 'record' or 'alert' must be set".to_owned()),
                _ => {}
            }
            let expr_at = r.expr.as_ref().and_then(position);
            let expr = r.expr.map(|s| s.value).unwrap_or_default();
            if expr.is_empty() {
                problem(expr_at, "field 'expr' must be set in rule".to_owned());
            } else if let Err(err) = promlite_promql::parse(&expr) {
                problem(expr_at, format!("could not parse expression: {err}"));
            }
            let hold = r.hold.map(|d| d.0).unwrap_or_default();
            let keep_firing_for = r.keep_firing_for.map(|d| d.0).unwrap_or_default();
            let annotations = r.annotations.unwrap_or_default();
            if let Some(record) = &record {
                if !annotations.is_empty() {
                    problem(record_at, "invalid field 'annotations' in recording rule".to_owned());
                }
                if !hold.is_zero() {
                    problem(record_at, "invalid field 'for' in recording rule".to_owned());
                }
                if !keep_firing_for.is_zero() {
                    problem(record_at, "invalid field 'keep_firing_for' in recording rule".to_owned());
                }
                if record.contains(['{', '}']) {
                    problem(
                        record_at,
                        format!("braces present in the recording rule name; should it be in expr?: {record}"),
                    );
                }
            }
            let rule_labels = r.labels.unwrap_or_default();
            for (k, v) in &rule_labels {
                check_label(k, v, &mut |m| problem(None, m));
            }
            for k in annotations.keys() {
                if k.is_empty() {
                    problem(None, format!("invalid annotation name: {k}"));
                }
            }
            if alert.is_some() {
                for (k, text) in &rule_labels {
                    if let Some(err) = check_template(&at_rule.2, text) {
                        problem(None, format!("label {k:?}: {err}"));
                    }
                }
                for (k, text) in &annotations {
                    if let Some(err) = check_template(&at_rule.2, text) {
                        problem(None, format!("annotation {k:?}: {err}"));
                    }
                }
            }
            let kind = match (record, alert) {
                (Some(record), None) => RuleKind::Recording { record },
                (None, Some(alert)) => RuleKind::Alerting { alert, hold, keep_firing_for, annotations },
                _ => continue,
            };
            rules.push(RuleSpec { kind, expr, labels: rule_labels });
        }
        groups.push(GroupSpec {
            name,
            interval: g.interval.map(|d| d.0).filter(|d| !d.is_zero()),
            limit: u64::try_from(g.limit.unwrap_or(0)).unwrap_or(0),
            query_offset: g.query_offset.map(|d| d.0),
            labels,
            rules,
        });
    }
    if errors.is_empty() { Ok(RuleFile { path: path.to_owned(), groups }) } else { Err(errors) }
}

/// Prometheus 3's label checks (UTF-8 names: any non-empty name but `__name__`).
fn check_label(name: &str, _value: &str, problem: &mut dyn FnMut(String)) {
    if name.is_empty() || name == promlite_storage::METRIC_NAME {
        problem(format!("invalid label name: {name}"));
    }
}

/// Expands `rule_files` entries (globs, as Go's `filepath.Glob`) into the files they name, in
/// order, each once. A pattern that matches nothing names nothing (as upstream); a malformed
/// pattern is an error.
pub fn expand_rule_files(patterns: &[String]) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for pattern in patterns {
        let paths = glob::glob(pattern).map_err(|err| format!("invalid rule file pattern {pattern:?}: {err}"))?;
        let mut matched: Vec<String> = paths.filter_map(Result::ok).map(|p| p.to_string_lossy().into_owned()).collect();
        matched.sort();
        for path in matched {
            if !out.contains(&path) {
                out.push(path);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_templates(_: &str, _: &str) -> Option<String> {
        None
    }

    #[test]
    fn groups_and_rules_are_read_with_their_settings() {
        let text = "groups:\n  - name: g\n    interval: 30s\n    limit: 10\n    query_offset: 1m\n    labels: {team: a}\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up)\n        labels: {x: y}\n      - alert: Down\n        expr: up == 0\n        for: 5m\n        keep_firing_for: 1m\n        annotations: {summary: '{{ $labels.job }} down'}\n";
        let file = parse("r.yml", text, &no_templates).unwrap();
        let g = &file.groups[0];
        assert_eq!((g.name.as_str(), g.interval, g.limit), ("g", Some(std::time::Duration::from_secs(30)), 10));
        assert_eq!(g.query_offset, Some(std::time::Duration::from_secs(60)));
        assert_eq!(g.labels["team"], "a");
        assert_eq!(g.rules[0].kind, RuleKind::Recording { record: "job:up:sum".into() });
        assert_eq!(g.rules[0].labels["x"], "y");
        let RuleKind::Alerting { alert, hold, keep_firing_for, annotations } = &g.rules[1].kind else { panic!() };
        assert_eq!((alert.as_str(), hold.as_secs(), keep_firing_for.as_secs()), ("Down", 300, 60));
        assert_eq!(annotations["summary"], "{{ $labels.job }} down");
    }

    #[test]
    fn problems_are_reported_each_with_file_position_group_and_rule_as_promtool_does() {
        let text = "groups:\n  - name: g1\n    rules:\n      - record: job:up:sum\n        expr: sum by (job) (up\n  - name: g1\n    rules:\n      - record: r\n        expr: up\n        annotations: {a: b}\n      - alert: B\n        record: C\n        expr: up\n";
        let errors: Vec<String> =
            parse("f.yml", text, &no_templates).unwrap_err().iter().map(ToString::to_string).collect();
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(
            errors[0].starts_with("f.yml: 5:15: group \"g1\", rule 1, \"job:up:sum\": could not parse expression: "),
            "{}",
            errors[0]
        );
        assert_eq!(errors[1], "f.yml: 6:5: groupname: \"g1\" is repeated in the same file");
        assert_eq!(
            errors[2],
            "f.yml: 8:17: group \"g1\", rule 1, \"r\": invalid field 'annotations' in recording rule"
        );
        assert_eq!(
            errors[3],
            "f.yml: 12:17: group \"g1\", rule 2, \"B\": only one of 'record' and 'alert' must be set"
        );
    }

    #[test]
    fn unknown_fields_and_bad_durations_are_yaml_errors_with_a_position() {
        let errors = parse(
            "f.yml",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fro: 5m\n",
            &no_templates,
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].to_string().starts_with("f.yml: 6:"), "{}", errors[0]);
        assert!(errors[0].message.contains("fro"), "{}", errors[0]);
        let errors = parse(
            "f.yml",
            "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        for: 5x\n",
            &no_templates,
        )
        .unwrap_err();
        assert!(errors[0].message.contains("5x"), "{}", errors[0]);
    }

    #[test]
    fn template_problems_name_the_label_or_annotation() {
        let templates = crate::rules::template::engine();
        let check = |alert: &str, text: &str| templates.check(alert, text);
        let text = "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations: {summary: '{{ bad'}\n";
        let errors = parse("f.yml", text, &check).unwrap_err();
        assert_eq!(
            errors[0].to_string(),
            "f.yml: group \"g\", rule 1, \"A\": annotation \"summary\": template: __alert_A:1: function \"bad\" not defined"
        );
    }

    #[test]
    fn an_empty_file_has_no_groups() {
        assert_eq!(parse("f.yml", "# nothing\n", &no_templates).unwrap().groups, vec![]);
    }
}
