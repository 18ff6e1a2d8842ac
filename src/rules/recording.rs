//! Recording rules (upstream `rules/recording.go`): the expression's result stored under the
//! rule's metric name, with the rule's labels.

use std::collections::{BTreeMap, HashSet};

use promlite_storage::{LabelsBuilder, METRIC_NAME};

use super::{RuleError, Sample};

/// A recording rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRule {
    /// `record`: the metric name of the result.
    pub name: String,
    /// `expr`.
    pub expr: String,
    /// The group's and the rule's labels, the rule's winning.
    pub labels: BTreeMap<String, String>,
}

impl RecordingRule {
    /// The series to store for `result`: renamed, relabelled, unique, at most `limit` (0: no
    /// limit).
    pub fn eval(&self, result: Vec<Sample>, limit: u64) -> Result<Vec<Sample>, RuleError> {
        let mut out = Vec::with_capacity(result.len());
        for sample in result {
            let mut builder = LabelsBuilder::new(&sample.labels);
            builder.set(METRIC_NAME.to_owned(), self.name.clone());
            for (name, value) in &self.labels {
                if value.is_empty() {
                    builder.del(name);
                } else {
                    builder.set(name.clone(), value.clone());
                }
            }
            out.push(Sample { labels: builder.labels(), ..sample });
        }
        let mut seen = HashSet::with_capacity(out.len());
        if !out.iter().all(|s| seen.insert(&s.labels)) {
            return Err(RuleError::DuplicateSeries);
        }
        if limit > 0 && out.len() as u64 > limit {
            return Err(RuleError::Limit(format!("exceeded limit of {limit} with {} series", out.len())));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use promlite_storage::Labels;

    use super::*;

    fn sample(pairs: &[(&str, &str)], v: f64) -> Sample {
        Sample { labels: Labels::from_pairs(pairs.iter().copied()), t: 5, v }
    }

    #[test]
    fn results_are_renamed_and_relabelled() {
        let rule = RecordingRule {
            name: "job:up:sum".into(),
            expr: "sum by (job, env) (up)".into(),
            labels: BTreeMap::from([("team".into(), "a".into()), ("env".into(), String::new())]),
        };
        let out = rule.eval(vec![sample(&[("job", "x"), ("env", "prod")], 2.0)], 0).unwrap();
        assert_eq!(out, vec![sample(&[("__name__", "job:up:sum"), ("job", "x"), ("team", "a")], 2.0)]);
    }

    #[test]
    fn label_sets_made_equal_by_the_rule_and_results_over_the_limit_are_errors() {
        let rule =
            RecordingRule { name: "r".into(), expr: "x".into(), labels: BTreeMap::from([("i".into(), "same".into())]) };
        let two = vec![sample(&[("i", "a")], 1.0), sample(&[("i", "b")], 2.0)];
        let err = rule.eval(two.clone(), 0).unwrap_err();
        assert_eq!(err.to_string(), "vector contains metrics with the same labelset after applying rule labels");
        let rule = RecordingRule { labels: BTreeMap::new(), ..rule };
        assert_eq!(rule.eval(two, 1).unwrap_err().to_string(), "exceeded limit of 1 with 2 series");
    }
}
