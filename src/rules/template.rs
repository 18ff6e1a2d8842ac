//! The seam between rules and the template language (crate `promlite-template`): what an
//! alerting rule's labels and annotations are expanded with, and the engine that expands them.

use std::collections::BTreeMap;
use std::sync::Arc;

use promlite_template::{Data, Expander, QuerySample, SampleValue};

use super::Sample;

/// Runs a template's `query` (an instant query at the evaluation time, milliseconds).
pub type QueryFunc<'a> = &'a dyn Fn(&str, i64) -> Result<Vec<Sample>, String>;

/// What a template sees (`$labels`, `$externalLabels`, `$externalURL`, `$value`), and what
/// its `query` function runs on.
#[derive(Clone, Copy)]
pub struct AlertTemplateData<'a> {
    /// The expression's result's labels, `__name__` included (as upstream's `$labels`).
    pub labels: &'a BTreeMap<String, String>,
    /// `global.external_labels`.
    pub external_labels: &'a BTreeMap<String, String>,
    /// `--web.external-url`.
    pub external_url: &'a str,
    /// The expression's value for this alert.
    pub value: f64,
    /// The template's `query`.
    pub query: QueryFunc<'a>,
}

/// Expands templates.
pub trait Templates: Send + Sync {
    /// Expands `text`, a label or annotation of alerting rule `alert`, for an evaluation at
    /// `ts` (Unix nanoseconds).
    fn expand(&self, alert: &str, text: &str, data: &AlertTemplateData<'_>, ts: i64) -> Result<String, String>;
    /// Whether `text` of alerting rule `alert` parses; the error as promtool shows it
    /// (`template: __alert_A:1: ...`).
    fn check(&self, alert: &str, text: &str) -> Option<String>;
}

/// The template engine rules use: Prometheus's language (Go's text/template and its functions).
pub fn engine() -> Arc<dyn Templates> {
    Arc::new(GoTemplates)
}

struct GoTemplates;

impl Templates for GoTemplates {
    fn expand(&self, alert: &str, text: &str, data: &AlertTemplateData<'_>, ts: i64) -> Result<String, String> {
        let t_ms = ts.div_euclid(1_000_000);
        let query = |q: &str| -> Result<Vec<QuerySample>, String> {
            Ok((data.query)(q, t_ms)?
                .into_iter()
                .map(|s| QuerySample {
                    labels: s.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect(),
                    value: SampleValue::Float(s.v),
                })
                .collect())
        };
        let expander = Expander::new(&query, t_ms, data.external_url);
        let data = Data {
            labels: data.labels.clone(),
            external_labels: data.external_labels.clone(),
            external_url: data.external_url.to_owned(),
            value: SampleValue::Float(data.value),
        };
        expander.expand_alert(alert, text, &data).map_err(|err| err.to_string())
    }

    fn check(&self, alert: &str, text: &str) -> Option<String> {
        promlite_template::check_alert(alert, text).err().map(|err| err.to_string())
    }
}

/// Templates left as written: for tests of the state machine, which do not depend on expansion.
#[cfg(test)]
pub struct Verbatim;

#[cfg(test)]
impl Templates for Verbatim {
    fn expand(&self, _: &str, text: &str, _: &AlertTemplateData<'_>, _: i64) -> Result<String, String> {
        Ok(text.to_owned())
    }

    fn check(&self, _: &str, _: &str) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use promlite_storage::Labels;

    use super::*;

    #[test]
    fn alert_templates_see_labels_value_external_labels_and_query() {
        let labels = BTreeMap::from([("instance".to_owned(), "db-1:9100".to_owned())]);
        let external = BTreeMap::from([("cluster".to_owned(), "eu".to_owned())]);
        let query = |q: &str, t: i64| -> Result<Vec<Sample>, String> {
            assert_eq!((q, t), ("up", 1_700_000_000_000));
            Ok(vec![Sample { labels: Labels::from_pairs([("__name__", "up")]), t, v: 3.0 }])
        };
        let data = AlertTemplateData {
            labels: &labels,
            external_labels: &external,
            external_url: "http://prom:9090",
            value: 0.25,
            query: &query,
        };
        let text = "{{ $labels.instance | stripPort }} in {{ $externalLabels.cluster }}: \
                    {{ $value | humanizePercentage }}, {{ query \"up\" | first | value }} up";
        let out = GoTemplates.expand("Down", text, &data, 1_700_000_000_000_000_000).unwrap();
        assert_eq!(out, "db-1 in eu: 25%, 3 up");
        let err = GoTemplates.expand("Down", "{{ $labels.x | nope }}", &data, 0).unwrap_err();
        assert!(err.contains("__alert_Down"), "{err}");
        assert_eq!(GoTemplates.check("Down", "{{ $labels.instance }}"), None);
        let err = GoTemplates.check("Down", "{{ $labels.instance ").unwrap();
        assert!(err.starts_with("template: __alert_Down:1:"), "{err}");
    }
}
