//! Values as a template sees them. Go templates are typed through reflection: a missing map key
//! prints `""` for `map[string]string` but `<no value>` for `map[string]interface{}`, `humanize`
//! accepts `int64` but not `int32`, and error texts name Go types. So each value carries the Go
//! type Prometheus would have given it, and [`Value::type_name`] spells that type as Go does.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::gotime::Time;

/// Named Go integer types we produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntTy {
    Int,
    Int64,
    /// `time.Duration`, in nanoseconds.
    Duration,
    /// `time.Month`, 1..=12.
    Month,
    /// `time.Weekday`, 0 = Sunday.
    Weekday,
}

/// Named Go unsigned integer types we produce.
#[cfg_attr(not(test), expect(dead_code, reason = "uint and uint64 data reach templates only in tests today"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UintTy {
    Uint,
    Uint64,
    /// A byte of a string (`index "abc" 0`).
    Uint8,
}

/// What a slice holds; it decides the Go type name and nothing else.
#[cfg_attr(not(test), expect(dead_code, reason = "typed slices reach templates only in tests today"))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListTy {
    Float64,
    Int,
    Int64,
    Uint,
    Uint64,
    String,
    /// Prometheus's `queryResult` (`[]*sample`), what `query` returns.
    QueryResult,
}

/// What a map holds: its zero value for a missing key under `missingkey=zero`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MapTy {
    /// `map[string]string`: labels.
    String,
    /// `map[string]interface{}`: what `args` builds.
    Any,
}

/// A native histogram as the template sees it: Go's `*histogram.FloatHistogram`.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramValue {
    /// The observation count (`.Count`).
    pub count: f64,
    /// The sum of observations (`.Sum`).
    pub sum: f64,
    /// The histogram as Prometheus's `FloatHistogram.String()` renders it, e.g.
    /// `{count:3, sum:10, [1,2):3}`: what `{{ $value }}` prints. The caller owns the
    /// histogram type, so it renders this.
    pub display: String,
}

/// A sample value: a float, or a native histogram.
#[derive(Clone, Debug, PartialEq)]
pub enum SampleValue {
    /// A float sample.
    Float(f64),
    /// A native histogram sample.
    Histogram(HistogramValue),
}

impl From<f64> for SampleValue {
    fn from(v: f64) -> Self {
        SampleValue::Float(v)
    }
}

impl SampleValue {
    pub(crate) fn to_value(&self) -> Value {
        match self {
            SampleValue::Float(f) => Value::Float(*f),
            SampleValue::Histogram(h) => Value::Histogram(Rc::new(h.clone())),
        }
    }
}

/// Prometheus's `*template.sample`: the element of a query result.
#[derive(Debug)]
pub(crate) struct Sample {
    pub labels: Rc<MapValue>,
    pub value: Value,
}

/// The struct Prometheus's `AlertTemplateData` builds.
#[derive(Debug)]
pub(crate) struct AlertData {
    pub labels: Value,
    pub external_labels: Value,
    pub external_url: Value,
    pub value: Value,
}

#[derive(Debug)]
pub(crate) struct ListValue {
    pub ty: ListTy,
    pub items: Vec<Value>,
}

#[derive(Debug)]
pub(crate) struct MapValue {
    pub ty: MapTy,
    pub entries: BTreeMap<String, Value>,
}

impl MapValue {
    pub fn labels(entries: &BTreeMap<String, String>) -> Rc<MapValue> {
        let entries = entries.iter().map(|(k, v)| (k.clone(), Value::string(v))).collect();
        Rc::new(MapValue { ty: MapTy::String, entries })
    }

    /// The value a missing key yields under `missingkey=zero` (and always for `index`).
    pub fn zero(&self) -> Value {
        match self.ty {
            MapTy::String => Value::string(""),
            MapTy::Any => Value::Nil,
        }
    }
}

/// A template value.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    /// No value: Go's invalid `reflect.Value` or a nil interface (prints `<no value>`).
    Nil,
    Bool(bool),
    Int(i64, IntTy),
    Uint(u64, UintTy),
    Float(f64),
    String(Rc<str>),
    /// `html/template.HTML`, what `safeHtml` returns: a string kind, but not a `string`.
    Html(Rc<str>),
    /// `time.Time`, always in UTC.
    Time(Time),
    /// `*time.Time`, what `toTime` returns.
    TimePtr(Time),
    /// `*time.Duration`, what `toDuration` returns.
    DurationPtr(i64),
    List(Rc<ListValue>),
    Map(Rc<MapValue>),
    Sample(Rc<Sample>),
    Histogram(Rc<HistogramValue>),
    AlertData(Rc<AlertData>),
}

/// Go's comparison kinds (`text/template`'s `basicKind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BasicKind {
    Bool,
    Int,
    Uint,
    Float,
    String,
    /// Not comparable with `lt`; `eq` compares these only with nil or by identity.
    Other,
    Invalid,
}

impl Value {
    pub fn string(s: &str) -> Value {
        Value::String(Rc::from(s))
    }

    pub fn int(i: i64) -> Value {
        Value::Int(i, IntTy::Int)
    }

    pub fn list(ty: ListTy, items: Vec<Value>) -> Value {
        Value::List(Rc::new(ListValue { ty, items }))
    }

    /// The Go type, spelled as `%T` and reflection errors spell it.
    pub fn type_name(&self) -> String {
        match self {
            Value::Nil => "<nil>".into(),
            Value::Bool(_) => "bool".into(),
            Value::Int(_, ty) => match ty {
                IntTy::Int => "int",
                IntTy::Int64 => "int64",
                IntTy::Duration => "time.Duration",
                IntTy::Month => "time.Month",
                IntTy::Weekday => "time.Weekday",
            }
            .into(),
            Value::Uint(_, ty) => match ty {
                UintTy::Uint => "uint",
                UintTy::Uint64 => "uint64",
                UintTy::Uint8 => "uint8",
            }
            .into(),
            Value::Float(_) => "float64".into(),
            Value::String(_) => "string".into(),
            Value::Html(_) => "template.HTML".into(),
            Value::Time(_) => "time.Time".into(),
            Value::TimePtr(_) => "*time.Time".into(),
            Value::DurationPtr(_) => "*time.Duration".into(),
            Value::List(l) => match l.ty {
                ListTy::Float64 => "[]float64",
                ListTy::Int => "[]int",
                ListTy::Int64 => "[]int64",
                ListTy::Uint => "[]uint",
                ListTy::Uint64 => "[]uint64",
                ListTy::String => "[]string",
                ListTy::QueryResult => "template.queryResult",
            }
            .into(),
            Value::Map(m) => match m.ty {
                MapTy::String => "map[string]string",
                MapTy::Any => "map[string]interface {}",
            }
            .into(),
            Value::Sample(_) => "*template.sample".into(),
            Value::Histogram(_) => "*histogram.FloatHistogram".into(),
            Value::AlertData(_) => {
                "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; Value interface {} }"
                    .into()
            }
        }
    }

    /// Go's truth: the zero value of every type is false, structs are always true.
    pub fn is_true(&self) -> bool {
        match self {
            Value::Nil => false,
            Value::Bool(b) => *b,
            Value::Int(i, _) => *i != 0,
            Value::Uint(u, _) => *u != 0,
            Value::Float(f) => *f != 0.0,
            Value::String(s) | Value::Html(s) => !s.is_empty(),
            Value::List(l) => !l.items.is_empty(),
            Value::Map(m) => !m.entries.is_empty(),
            Value::Time(_)
            | Value::TimePtr(_)
            | Value::DurationPtr(_)
            | Value::Sample(_)
            | Value::Histogram(_)
            | Value::AlertData(_) => true,
        }
    }

    pub fn basic_kind(&self) -> BasicKind {
        match self {
            Value::Nil => BasicKind::Invalid,
            Value::Bool(_) => BasicKind::Bool,
            Value::Int(..) => BasicKind::Int,
            Value::Uint(..) => BasicKind::Uint,
            Value::Float(_) => BasicKind::Float,
            Value::String(_) | Value::Html(_) => BasicKind::String,
            _ => BasicKind::Other,
        }
    }

    /// Whether Go's reflection kind is `String` (`fmt.Sprint` puts no space next to these).
    pub fn is_string_kind(&self) -> bool {
        matches!(self, Value::String(_) | Value::Html(_))
    }

    /// Follows a pointer to what it points at (Go's `indirect`), for ranging and printing.
    pub fn indirect(&self) -> Value {
        match self {
            Value::TimePtr(t) => Value::Time(*t),
            Value::DurationPtr(d) => Value::Int(*d, IntTy::Duration),
            other => other.clone(),
        }
    }
}
