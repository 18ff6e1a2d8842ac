//! Relabeling (upstream `model/relabel/relabel.go`): rules in [`config`], applied by [`process`].
//!
//! Each rule joins its `source_labels` values with `separator` and acts on the result, in order;
//! a `keep`/`drop`/`keepequal`/`dropequal` rule can drop the whole label set, and
//! [`process_explained`] says which rule did, so a dropped target keeps its reason.
//! `$1`, `${1}`, `$name` and `$$` in `target_label`/`replacement` expand like Go's
//! `Regexp.ExpandString` (the `regex` crate's `Captures::expand` has the same rules: the longest
//! `[A-Za-z0-9_]` run names the group, an unknown group expands to nothing).

mod config;

use md5::{Digest, Md5};
use promlite_storage::{Labels, LabelsBuilder};

pub use config::{Action, NameValidation, Regexp, RelabelConfig};

/// Why [`process_explained`] dropped a label set: the rule, by its index in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedBy {
    /// Index of the rule in its `relabel_configs` list (0-based).
    pub index: usize,
    /// The rule, printed for a person.
    pub rule: String,
}

impl std::fmt::Display for DroppedBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "dropped by relabel rule #{} ({})", self.index + 1, self.rule)
    }
}

/// Applies `rules` to `labels`; `None` when a rule dropped the set (or nothing is left).
pub fn process(labels: &Labels, rules: &[RelabelConfig]) -> Option<Labels> {
    process_explained(labels, rules).ok()
}

/// Like [`process`], but says which rule dropped the set.
pub fn process_explained(labels: &Labels, rules: &[RelabelConfig]) -> Result<Labels, DroppedBy> {
    let mut builder = LabelsBuilder::new(labels);
    for (index, rule) in rules.iter().enumerate() {
        if !apply(rule, &mut builder) {
            return Err(DroppedBy { index, rule: describe(rule) });
        }
    }
    let out = builder.labels();
    if out.is_empty() {
        return Err(DroppedBy {
            index: rules.len().saturating_sub(1),
            rule: "no labels left after relabeling".to_owned(),
        });
    }
    Ok(out)
}

fn describe(rule: &RelabelConfig) -> String {
    let mut out = format!("action: {}", rule.action);
    if !rule.source_labels.is_empty() {
        out.push_str(&format!(", source_labels: [{}]", rule.source_labels.join(", ")));
    }
    out.push_str(&format!(", regex: {:?}", rule.regex.original()));
    if !rule.target_label.is_empty() {
        out.push_str(&format!(", target_label: {}", rule.target_label));
    }
    out
}

/// One rule; `false` drops the label set.
fn apply(rule: &RelabelConfig, builder: &mut LabelsBuilder) -> bool {
    let value = rule.source_labels.iter().map(|name| builder.get(name)).collect::<Vec<_>>().join(&rule.separator);
    match rule.action {
        Action::Drop => return !rule.regex.is_match(&value),
        Action::Keep => return rule.regex.is_match(&value),
        Action::DropEqual => return builder.get(&rule.target_label) != value,
        Action::KeepEqual => return builder.get(&rule.target_label) == value,
        Action::Replace => {
            let Some(captures) = rule.regex.regex().captures(&value) else { return true };
            let mut target = String::new();
            captures.expand(&rule.target_label, &mut target);
            // Prometheus 3 validates names as UTF-8: any non-empty name is a valid target.
            if target.is_empty() {
                return true;
            }
            let mut replacement = String::new();
            captures.expand(&rule.replacement, &mut replacement);
            if replacement.is_empty() {
                builder.del(&target);
            } else {
                builder.set(target, replacement);
            }
        }
        Action::Lowercase => {
            builder.set(rule.target_label.clone(), value.to_lowercase());
        }
        Action::Uppercase => {
            builder.set(rule.target_label.clone(), value.to_uppercase());
        }
        Action::HashMod => {
            let digest = Md5::digest(value.as_bytes());
            // The last 8 bytes, big-endian, as Prometheus has always done.
            let tail: [u8; 8] = digest[8..16].try_into().expect("an MD5 digest is 16 bytes");
            let modulus = rule.modulus.max(1);
            builder.set(rule.target_label.clone(), (u64::from_be_bytes(tail) % modulus).to_string());
        }
        Action::LabelMap => {
            for label in &builder.labels() {
                if rule.regex.is_match(&label.name) {
                    let name = rule.regex.regex().replace_all(&label.name, rule.replacement.as_str()).into_owned();
                    builder.set(name, label.value.clone());
                }
            }
        }
        Action::LabelDrop => {
            for label in &builder.labels() {
                if rule.regex.is_match(&label.name) {
                    builder.del(&label.name);
                }
            }
        }
        Action::LabelKeep => {
            for label in &builder.labels() {
                if !rule.regex.is_match(&label.name) {
                    builder.del(&label.name);
                }
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs YAML `rules` over a `{a="b", …}` label set and prints the result like Prometheus.
    fn check(rules: &str, labels: &str) -> String {
        let rules: Vec<RelabelConfig> = serde_saphyr::from_str(rules).expect("rules parse");
        for rule in &rules {
            rule.validate(NameValidation::Utf8).expect("rules are valid");
        }
        let pairs = labels.trim_matches(['{', '}']).split(", ").filter(|p| !p.is_empty()).map(|pair| {
            let (name, value) = pair.split_once('=').expect("name=value");
            (name.to_owned(), value.trim_matches('"').to_owned())
        });
        match process_explained(&Labels::from_pairs(pairs), &rules) {
            Ok(out) => out.to_string(),
            Err(dropped) => dropped.to_string(),
        }
    }

    #[test]
    fn replace_with_capture_group() {
        let rules = "- {source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'x${1}'}";
        insta::assert_snapshot!(check(rules, r#"{a="foo"}"#), @r#"{a="foo", d="xoo"}"#);
    }

    #[test]
    fn replace_joins_sources_and_expands_target_names() {
        let rules =
            "- {source_labels: [a, b], separator: '-', regex: '(.)-(.*)', target_label: 'l_$1', replacement: '$2'}";
        insta::assert_snapshot!(check(rules, r#"{a="x", b="yz"}"#), @r#"{a="x", b="yz", l_x="yz"}"#);
    }

    #[test]
    fn replace_without_match_changes_nothing_and_empty_result_deletes() {
        let rules = "- {source_labels: [a], regex: 'nomatch', target_label: a, replacement: 'x'}";
        insta::assert_snapshot!(check(rules, r#"{a="foo"}"#), @r#"{a="foo"}"#);
        let rules = "- {source_labels: [missing], target_label: a}";
        insta::assert_snapshot!(check(rules, r#"{a="foo", b="1"}"#), @r#"{b="1"}"#);
        let rules = "- {target_label: env, replacement: prod}";
        insta::assert_snapshot!(check(rules, r#"{a="foo"}"#), @r#"{a="foo", env="prod"}"#);
    }

    #[test]
    fn unknown_group_and_dollar_dollar_expand_like_go() {
        let rules = "- {source_labels: [a], regex: '(.*)', target_label: b, replacement: '$1x-$$-${1}'}";
        insta::assert_snapshot!(check(rules, r#"{a="v"}"#), @r#"{a="v", b="-$-v"}"#);
    }

    // The drop reasons here are promlite's own text (Prometheus names no rule): the snapshots
    // pin it against accidental change, a self-comparison; which sets are kept is upstream's.
    #[test]
    fn keep_and_drop_say_which_rule_dropped() {
        let rules = "- {source_labels: [job], regex: 'node|api', action: keep}\n- {source_labels: [env], regex: dev, action: drop}";
        insta::assert_snapshot!(check(rules, r#"{job="api", env="prod"}"#), @r#"{env="prod", job="api"}"#);
        insta::assert_snapshot!(check(rules, r#"{job="db"}"#), @r#"dropped by relabel rule #1 (action: keep, source_labels: [job], regex: "node|api")"#);
        insta::assert_snapshot!(check(rules, r#"{job="node", env="dev"}"#), @r#"dropped by relabel rule #2 (action: drop, source_labels: [env], regex: "dev")"#);
    }

    #[test]
    fn keepequal_and_dropequal_compare_with_target_label() {
        let keep = "- {source_labels: [port], target_label: want, action: keepequal}";
        insta::assert_snapshot!(check(keep, r#"{port="80", want="80"}"#), @r#"{port="80", want="80"}"#);
        insta::assert_snapshot!(check(keep, r#"{port="80", want="81"}"#), @"dropped by relabel rule #1 (action: keepequal, source_labels: [port], regex: \"(.*)\", target_label: want)");
        let drop = "- {source_labels: [port], target_label: want, action: dropequal}";
        insta::assert_snapshot!(check(drop, r#"{port="80", want="81"}"#), @r#"{port="80", want="81"}"#);
    }

    #[test]
    fn hashmod_uses_the_last_8_bytes_of_md5() {
        // md5("foo") = acbd18db4cc2f85cedef654fccc4a4d8; 0xedef654fccc4a4d8 % 1000 = 696.
        let rules = "- {source_labels: [a], target_label: h, modulus: 1000, action: hashmod}";
        insta::assert_snapshot!(check(rules, r#"{a="foo"}"#), @r#"{a="foo", h="696"}"#);
    }

    #[test]
    fn labelmap_labeldrop_labelkeep() {
        let map = "- {regex: '__meta_(.+)', action: labelmap}";
        insta::assert_snapshot!(check(map, r#"{__meta_pod="p", a="1"}"#), @r#"{__meta_pod="p", a="1", pod="p"}"#);
        let map = "- {regex: 'a(.*)', replacement: 'b${1}_x', action: labelmap}";
        insta::assert_snapshot!(check(map, r#"{a1="v", c="w"}"#), @r#"{a1="v", b1_x="v", c="w"}"#);
        let drop = "- {regex: 'tmp_.*', action: labeldrop}";
        insta::assert_snapshot!(check(drop, r#"{tmp_a="1", tmp_b="2", keep="3"}"#), @r#"{keep="3"}"#);
        let keep = "- {regex: 'job|instance', action: labelkeep}";
        insta::assert_snapshot!(check(keep, r#"{job="j", instance="i", other="o"}"#), @r#"{instance="i", job="j"}"#);
    }

    #[test]
    fn lowercase_and_uppercase() {
        let rules = "- {source_labels: [a], target_label: lo, action: lowercase}\n- {source_labels: [a], target_label: up, action: uppercase}";
        insta::assert_snapshot!(check(rules, r#"{a="MiXeD"}"#), @r#"{a="MiXeD", lo="mixed", up="MIXED"}"#);
    }

    #[test]
    fn dropping_every_label_drops_the_set() {
        let rules = "- {regex: '.*', action: labeldrop}";
        insta::assert_snapshot!(check(rules, r#"{a="1"}"#), @"dropped by relabel rule #1 (no labels left after relabeling)");
    }
}
