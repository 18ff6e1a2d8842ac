//! Prometheus's templating for alerting-rule labels and annotations (and `promtool test rules`):
//! Go's `text/template` language with Prometheus 3.14's function set (upstream
//! `template/template.go`).
//!
//! # Decision: our own implementation, not a crate
//!
//! Measured on 2026-12-08 with a throwaway spike: 31 probes taken from upstream
//! `template/template_test.go` and from everyday alert templates (expected outputs and error
//! texts as Go prints them), with Prometheus's functions registered as closures where the crate
//! allowed it:
//!
//! - `gotmpl` 0.6.1 (maintained, 2024 edition): **19/31**. It fails every execution error text
//!   (no `name:line:col: executing "name" at <node>:` prefix, so none of upstream's error cases can
//!   pass), prints `{{ $labels.missing }}` as `<no value>` instead of `""` (its values are untyped,
//!   so `missingkey=zero` on `map[string]string` cannot work, and Prometheus sets that option for
//!   every alert), prints floats with Rust's `{}` (`1353755652` where Go prints
//!   `1.353755652e+09`), has no methods on values (`(toTime x).Format "2006"`, `.Add`,
//!   `.UnixMilli`, `(toDuration x).String` appear in upstream's tests), prints
//!   `printf "%d" 3.0` as `3` instead of `%!d(float64=3)`, and accepts `{{ /* c */ }}`, which Go
//!   rejects.
//! - `gtmpl` 0.7.1 ("passively maintained", 2018 edition): **10/31**. Besides the above, custom
//!   functions are bare `fn` pointers (no closure can carry the query function or the evaluation
//!   time), maps are `HashMap` (range order differs from Go's sorted order), and it lacks `slice`,
//!   `break`/`continue`, `$x = ` assignment and multi-argument `eq`; `{{ .Foo }}` on nil data is an
//!   error instead of `<no value>`.
//!
//! This crate passes all 82 text-mode cases of upstream's table (`tests::upstream`).
//!
//! Both would need a fork to carry typed values, so this crate implements the language itself,
//! following Go's documented semantics (lexer, parser, executor, `fmt` verbs, `time` layouts).
//!
//! # Model
//!
//! An [`Expander`] holds what Prometheus's `NewTemplateExpander` gets besides the text: the
//! [`QueryFn`] behind `query`, the evaluation time behind `now`, and the external URL. Its
//! [`Expander::expand_alert`] prepends the four definitions Prometheus's alerting rules prepend
//! ([`ALERT_TEMPLATE_DEFS`]), so `$labels`, `$externalLabels`, `$externalURL` and `$value` exist
//! next to `.Labels`, `.ExternalLabels`, `.ExternalURL` and `.Value` from [`Data`]. Errors render
//! exactly like Prometheus's ([`TemplateError`]); [`check`] is `promtool check rules`' parse test.
//!
//! ```
//! use std::collections::BTreeMap;
//! use promlite_template::{Data, Expander, QuerySample};
//!
//! let query = |_: &str| -> Result<Vec<QuerySample>, String> { Ok(vec![]) };
//! let expander = Expander::new(&query, 1_353_755_652_000, "http://prom:9090");
//! let data = Data {
//!     labels: BTreeMap::from([("instance".to_owned(), "a:9100".to_owned())]),
//!     value: 0.1.into(),
//!     ..Data::default()
//! };
//! let text = "{{ $labels.instance | stripPort }} at {{ $value | humanizePercentage }}";
//! assert_eq!(expander.expand_alert("HighLoad", text, &data).unwrap(), "a at 10%");
//! ```
//!
//! # Where we differ from Prometheus
//!
//! - Only text mode: `html/template`'s contextual escaping (`ExpandHTML`, console templates) and
//!   the console-only `tmpl` function are not implemented; promlite serves no consoles.
//! - Complex-number literals (`{{ 1+2i }}`) are a parse error.
//! - Regular-expression compile errors keep Go's shape but use the `regex` crate's wording.
//! - Nesting is bounded at 50 levels: `{{template}}` calls plus `if`/`range`/`with` bodies when
//!   executing, blocks plus parentheses when parsing (Go: 100000 template calls, 10000
//!   parentheses). We recurse on the native stack, and this keeps a hostile template inside a
//!   2 MiB thread stack even in debug builds.
//! - Pointers nested inside composite values print as `&{...}`, not as Go's memory addresses.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod error;
mod exec;
mod funcs;
mod gofmt;
mod goregex;
mod gotime;
mod lex;
mod node;
mod parse;
mod prom;
mod value;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::rc::Rc;

pub use error::{ExecError, Location, ParseError, TemplateError};
pub use value::{HistogramValue, SampleValue};

use exec::MissingKey;
use value::{AlertData, MapValue, Value};

/// What Prometheus's alerting rules put before every label and annotation template, so that the
/// `$labels`, `$externalLabels`, `$externalURL` and `$value` variables exist. Error columns on
/// line 1 count these bytes too, as Prometheus's do.
pub const ALERT_TEMPLATE_DEFS: &str =
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// One element of an instant-query result, for the template's `query` function.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySample {
    /// The series labels, `__name__` included.
    pub labels: BTreeMap<String, String>,
    /// The sample value.
    pub value: SampleValue,
}

/// Runs the instant query behind the template's `query` function, at the evaluation time the
/// caller chose. An `Err` becomes the template error `error calling query: <message>`.
pub trait QueryFn {
    /// Evaluates the PromQL expression `q`.
    fn query(&self, q: &str) -> Result<Vec<QuerySample>, String>;
}

impl<F> QueryFn for F
where
    F: Fn(&str) -> Result<Vec<QuerySample>, String>,
{
    fn query(&self, q: &str) -> Result<Vec<QuerySample>, String> {
        self(q)
    }
}

/// The data an alert template sees (Prometheus's `AlertTemplateData`).
#[derive(Clone, Debug, PartialEq)]
pub struct Data {
    /// The alert's labels: `.Labels`, `$labels`.
    pub labels: BTreeMap<String, String>,
    /// The configured external labels: `.ExternalLabels`, `$externalLabels`.
    pub external_labels: BTreeMap<String, String>,
    /// `--web.external-url`: `.ExternalURL`, `$externalURL`.
    pub external_url: String,
    /// The alert's sample value: `.Value`, `$value`.
    pub value: SampleValue,
}

impl Default for Data {
    fn default() -> Self {
        Data {
            labels: BTreeMap::new(),
            external_labels: BTreeMap::new(),
            external_url: String::new(),
            value: SampleValue::Float(0.0),
        }
    }
}

impl Data {
    fn to_value(&self) -> Value {
        Value::AlertData(Rc::new(AlertData {
            labels: Value::Map(MapValue::labels(&self.labels)),
            external_labels: Value::Map(MapValue::labels(&self.external_labels)),
            external_url: Value::string(&self.external_url),
            value: self.value.to_value(),
        }))
    }
}

/// Expands templates the way Prometheus's `template.Expander` does in text mode.
pub struct Expander<'a> {
    query: &'a dyn QueryFn,
    eval_time_ms: i64,
    external_url: String,
    missing_key: MissingKey,
}

impl<'a> Expander<'a> {
    /// An expander whose `query` runs on `query`, whose `now` is `eval_time_ms` (milliseconds
    /// since the epoch) and whose `externalURL`/`pathPrefix` come from `external_url`.
    pub fn new(query: &'a dyn QueryFn, eval_time_ms: i64, external_url: &str) -> Self {
        Expander { query, eval_time_ms, external_url: external_url.to_owned(), missing_key: MissingKey::Zero }
    }

    /// Expands `text` as the template `name` with `data` as dot.
    pub fn expand(&self, name: &str, text: &str, data: &Data) -> Result<String, TemplateError> {
        self.expand_value(name, text, data.to_value())
    }

    /// Expands an alerting rule's label or annotation template as Prometheus's rule evaluation
    /// does: named `__alert_<alert name>`, with [`ALERT_TEMPLATE_DEFS`] prepended.
    pub fn expand_alert(&self, alert_name: &str, text: &str, data: &Data) -> Result<String, TemplateError> {
        self.expand(&format!("__alert_{alert_name}"), &format!("{ALERT_TEMPLATE_DEFS}{text}"), data)
    }

    pub(crate) fn expand_value(&self, name: &str, text: &str, data: Value) -> Result<String, TemplateError> {
        let set = parse::parse(name, text, &|f| funcs::signature(f).is_some())
            .map_err(|source| TemplateError::Parse { name: name.to_owned(), source })?;
        let env = funcs::Env { query: self.query, now_ms: self.eval_time_ms, external_url: &self.external_url };
        exec::execute(&set, &env, self.missing_key, data)
            .map_err(|source| TemplateError::Exec { name: name.to_owned(), source: Box::new(source) })
    }
}

/// Parses `text` as the template `name` without running it (Prometheus's `ParseTest`).
pub fn check(name: &str, text: &str) -> Result<(), ParseError> {
    parse::parse(name, text, &|f| funcs::signature(f).is_some()).map(|_| ())
}

/// Parses an alerting rule's label or annotation template as rule loading does: named
/// `__alert_<alert name>`, with [`ALERT_TEMPLATE_DEFS`] prepended.
pub fn check_alert(alert_name: &str, text: &str) -> Result<(), ParseError> {
    check(&format!("__alert_{alert_name}"), &format!("{ALERT_TEMPLATE_DEFS}{text}"))
}
