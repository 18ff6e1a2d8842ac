//! The seam between rules and the template language: what an alerting rule's labels and
//! annotations are expanded with, and the engine that expands them.

use std::collections::BTreeMap;

/// What a template sees (`$labels`, `$externalLabels`, `$externalURL`, `$value`).
#[derive(Debug, Clone, Copy)]
pub struct AlertTemplateData<'a> {
    /// The expression's result's labels, `__name__` included (as upstream's `$labels`).
    pub labels: &'a BTreeMap<String, String>,
    /// `global.external_labels`.
    pub external_labels: &'a BTreeMap<String, String>,
    /// `--web.external-url`.
    pub external_url: &'a str,
    /// The expression's value for this alert.
    pub value: f64,
}

/// Expands templates; implemented over the template engine, with `query` running at the
/// evaluation time.
pub trait Templates: Send + Sync {
    /// Expands `text` (named `name` in errors) for an evaluation at `ts` (Unix nanoseconds).
    fn expand(&self, name: &str, text: &str, data: &AlertTemplateData<'_>, ts: i64) -> Result<String, String>;
    /// Whether `text` parses; the error as promtool shows it (`template: name:1: ...`).
    fn check(&self, name: &str, text: &str) -> Option<String>;
}

/// The template engine rules use.
pub fn engine() -> std::sync::Arc<dyn Templates> {
    // FIXME(#17): Prometheus's template language (promlite-template) is being built; until it
    // is wired in here, templates are left as written.
    std::sync::Arc::new(Unexpanded)
}

struct Unexpanded;

impl Templates for Unexpanded {
    fn expand(&self, _: &str, text: &str, _: &AlertTemplateData<'_>, _: i64) -> Result<String, String> {
        Ok(text.to_owned())
    }

    fn check(&self, _: &str, _: &str) -> Option<String> {
        None
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
