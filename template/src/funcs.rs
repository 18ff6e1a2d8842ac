//! The function table: Go's builtins (`and`, `eq`, `index`, `printf`, ...), the methods
//! templates call on `time.Time` and `time.Duration` values, and dispatch to Prometheus's
//! functions in [`crate::prom`]. Each entry has a Go signature, because the executor checks
//! arguments against parameter types the way Go's reflection does, with Go's error texts.

use crate::QueryFn;
use crate::gofmt;
use crate::gotime::{Time, duration_string};
use crate::value::{BasicKind, IntTy, ListTy, MapTy, UintTy, Value};

/// A Go parameter type, as far as argument checking needs to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Param {
    /// `interface{}`.
    Any,
    /// `reflect.Value` (builtins): like `Any`, but a missing value stays missing.
    Reflect,
    String,
    /// Prometheus's `queryResult`.
    QueryResult,
    /// Prometheus's `*sample`.
    SamplePtr,
    Duration,
    Time,
    Int,
}

impl Param {
    pub fn go_name(self) -> &'static str {
        match self {
            Param::Any => "interface {}",
            Param::Reflect => "reflect.Value",
            Param::String => "string",
            Param::QueryResult => "template.queryResult",
            Param::SamplePtr => "*template.sample",
            Param::Duration => "time.Duration",
            Param::Time => "time.Time",
            Param::Int => "int",
        }
    }

    /// What nil becomes for this parameter; `None` when nil cannot be assigned to it.
    pub fn zero(self) -> Option<Value> {
        match self {
            Param::Any | Param::Reflect | Param::SamplePtr => Some(Value::Nil),
            Param::QueryResult => Some(Value::list(ListTy::QueryResult, Vec::new())),
            Param::String | Param::Duration | Param::Time | Param::Int => None,
        }
    }
}

/// A function's parameters; `variadic` is the element type of a trailing `...` parameter.
pub(crate) struct Sig {
    pub params: &'static [Param],
    pub variadic: Option<Param>,
}

/// What an identifier or field calls.
pub(crate) enum Callable {
    /// A function from the table, by name.
    Func,
    /// A method of this receiver.
    Method(Value),
}

/// What Prometheus's functions read besides their arguments.
pub(crate) struct Env<'a> {
    pub query: &'a dyn QueryFn,
    /// The evaluation time, in milliseconds since the epoch (`now`).
    pub now_ms: i64,
    /// `--web.external-url` (`externalURL`, `pathPrefix`).
    pub external_url: &'a str,
}

type FuncResult = Result<Value, String>;

const fn sig(params: &'static [Param], variadic: Option<Param>) -> Option<Sig> {
    Some(Sig { params, variadic })
}

use Param::{Any, Duration as Dur, Int as IntP, QueryResult, Reflect, SamplePtr, String as Str, Time as TimeP};

/// The signature of the function `name`, if there is one.
pub(crate) fn signature(name: &str) -> Option<Sig> {
    match name {
        "and" | "or" | "eq" | "index" | "slice" | "call" => sig(&[Reflect], Some(Reflect)),
        "not" | "len" => sig(&[Reflect], None),
        "ne" | "lt" | "le" | "gt" | "ge" => sig(&[Reflect, Reflect], None),
        "print" | "println" | "html" | "js" | "urlquery" | "args" => sig(&[], Some(Any)),
        "printf" => sig(&[Str], Some(Any)),
        "query" | "reReplaceAll" | "safeHtml" | "title" | "toUpper" | "toLower" | "graphLink" | "tableLink"
        | "stripPort" | "stripDomain" | "parseDuration" | "urlQueryEscape" => match name {
            "reReplaceAll" => sig(&[Str, Str, Str], None),
            _ => sig(&[Str], None),
        },
        "match" => sig(&[Str, Str], None),
        "first" => sig(&[QueryResult], None),
        "label" => sig(&[Str, SamplePtr], None),
        "value" | "strvalue" => sig(&[SamplePtr], None),
        "sortByLabel" => sig(&[Str, QueryResult], None),
        "humanize" | "humanize1024" | "humanizeDuration" | "humanizePercentage" | "humanizeTimestamp" | "toTime"
        | "toDuration" => sig(&[Any], None),
        "now" | "pathPrefix" | "externalURL" => sig(&[], None),
        _ => None,
    }
}

/// Calls the function `name` with checked arguments.
pub(crate) fn call(env: &Env<'_>, name: &str, args: Vec<Value>) -> FuncResult {
    match name {
        "not" => Ok(Value::Bool(!args[0].is_true())),
        "eq" => eq(&args[0], &args[1..]).map(Value::Bool),
        "ne" => eq(&args[0], &args[1..]).map(|b| Value::Bool(!b)),
        "lt" => lt(&args[0], &args[1]).map(Value::Bool),
        "le" => le(&args[0], &args[1]).map(Value::Bool),
        "gt" => le(&args[0], &args[1]).map(|b| Value::Bool(!b)),
        "ge" => lt(&args[0], &args[1]).map(|b| Value::Bool(!b)),
        "index" => index(&args[0], &args[1..]),
        "slice" => slice(&args[0], &args[1..]),
        "len" => length(&args[0]),
        "call" => match &args[0] {
            Value::Nil => Err("call of nil".into()),
            other => Err(format!(
                "non-function {} of type {}",
                gofmt::sprint(std::slice::from_ref(other)),
                other.type_name()
            )),
        },
        "print" => Ok(Value::string(&gofmt::sprint(&args))),
        "println" => Ok(Value::string(&gofmt::sprintln(&args))),
        "printf" => {
            let Value::String(format) = &args[0] else { unreachable!("printf's format is a checked string") };
            Ok(Value::string(&gofmt::sprintf(format, &args[1..])))
        }
        "html" => Ok(Value::string(&html_escape(&eval_args(&args)))),
        "js" => Ok(Value::string(&js_escape(&eval_args(&args)))),
        "urlquery" => Ok(Value::string(&crate::prom::query_escape(&eval_args(&args)))),
        _ => crate::prom::call(env, name, args),
    }
}

/// Go's `evalArgs`: the arguments as `fmt.Sprint` prints them, pointers followed.
fn eval_args(args: &[Value]) -> String {
    if let [Value::String(s)] = args {
        return s.to_string();
    }
    let printable: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Value::Nil | Value::Sample(_) => Value::string(&gofmt::print_action_value(a)),
            other => other.indirect(),
        })
        .collect();
    gofmt::sprint(&printable)
}

/// Go's `template.HTMLEscapeString`.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push('\u{FFFD}'),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Go's `template.JSEscapeString`.
fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if c.is_ascii() || gofmt::is_print(c) => out.push(c),
            c => out.push_str(&format!("\\u{:04X}", c as u32)),
        }
    }
    out
}

fn type_error(a: &Value, b: &Value) -> String {
    format!("incompatible types for comparison: {} and {}", a.type_name(), b.type_name())
}

/// Go's reflection kind for values with no basic kind: maps and slices never compare.
fn reflect_kind(v: &Value) -> &'static str {
    match v {
        Value::Map(_) => "map",
        Value::List(_) => "slice",
        Value::Time(_) | Value::AlertData(_) => "struct",
        _ => "ptr",
    }
}

/// Go's `eq`: true if `a` equals any of `others`.
fn eq(a: &Value, others: &[Value]) -> Result<bool, String> {
    if others.is_empty() {
        return Err("missing argument for comparison".into());
    }
    let k1 = a.basic_kind();
    for b in others {
        let k2 = b.basic_kind();
        let truth = if k1 != k2 {
            match (a, b) {
                (Value::Int(i, _), Value::Uint(u, _)) | (Value::Uint(u, _), Value::Int(i, _)) => {
                    *i >= 0 && *i as u64 == *u
                }
                (Value::Nil, _) | (_, Value::Nil) => false,
                _ => return Err(type_error(a, b)),
            }
        } else {
            match (a, b) {
                (Value::Bool(x), Value::Bool(y)) => x == y,
                (Value::Float(x), Value::Float(y)) => x == y,
                (Value::Int(x, _), Value::Int(y, _)) => x == y,
                (Value::Uint(x, _), Value::Uint(y, _)) => x == y,
                (Value::String(x) | Value::Html(x), Value::String(y) | Value::Html(y)) => x == y,
                (Value::Nil, Value::Nil) => true,
                _ => {
                    if reflect_kind(a) != reflect_kind(b) {
                        return Err(format!(
                            "non-comparable types {}: {}, {}: {}",
                            gofmt::sprintf("%s", std::slice::from_ref(a)),
                            a.type_name(),
                            b.type_name(),
                            gofmt::sprint(std::slice::from_ref(b))
                        ));
                    }
                    match (a, b) {
                        (Value::Time(x), Value::Time(y)) => x == y,
                        (Value::Sample(x), Value::Sample(y)) => std::rc::Rc::ptr_eq(x, y),
                        (Value::Histogram(x), Value::Histogram(y)) => std::rc::Rc::ptr_eq(x, y),
                        // Every call of toTime/toDuration returns a new pointer.
                        (Value::TimePtr(_), Value::TimePtr(_)) | (Value::DurationPtr(_), Value::DurationPtr(_)) => {
                            false
                        }
                        _ => {
                            return Err(format!(
                                "non-comparable type {}: {}",
                                gofmt::sprintf("%s", std::slice::from_ref(b)),
                                b.type_name()
                            ));
                        }
                    }
                }
            }
        };
        if truth {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Go's `lt`: ordered comparison of basic values of one kind (signed and unsigned mix).
fn lt(a: &Value, b: &Value) -> Result<bool, String> {
    let bad = || "invalid type for comparison".to_owned();
    if matches!(a.basic_kind(), BasicKind::Other | BasicKind::Invalid)
        || matches!(b.basic_kind(), BasicKind::Other | BasicKind::Invalid)
    {
        return Err(bad());
    }
    Ok(match (a, b) {
        (Value::Int(i, _), Value::Uint(u, _)) => *i < 0 || (*i as u64) < *u,
        (Value::Uint(u, _), Value::Int(i, _)) => *i >= 0 && *u < *i as u64,
        (Value::Int(x, _), Value::Int(y, _)) => x < y,
        (Value::Uint(x, _), Value::Uint(y, _)) => x < y,
        (Value::Float(x), Value::Float(y)) => x < y,
        (Value::String(x) | Value::Html(x), Value::String(y) | Value::Html(y)) => x < y,
        (Value::Bool(_), Value::Bool(_)) => return Err(bad()),
        _ => return Err(type_error(a, b)),
    })
}

fn le(a: &Value, b: &Value) -> Result<bool, String> {
    if lt(a, b)? {
        return Ok(true);
    }
    eq(a, std::slice::from_ref(b))
}

/// Go's `indexArg`: an integer index within `0..=cap`.
fn index_arg(index: &Value, cap: usize) -> Result<usize, String> {
    let x = match index {
        Value::Int(i, _) => *i,
        Value::Uint(u, _) => *u as i64,
        Value::Nil => return Err("cannot index slice/array with nil".into()),
        other => return Err(format!("cannot index slice/array with type {}", other.type_name())),
    };
    if x < 0 || x as u64 > cap as u64 {
        return Err(format!("index out of range: {x}"));
    }
    Ok(x as usize)
}

fn index(item: &Value, indexes: &[Value]) -> FuncResult {
    if let Value::Nil = item {
        return Err("index of untyped nil".into());
    }
    let mut item = item.clone();
    for idx in indexes {
        item = match item.indirect() {
            Value::List(l) => {
                let x = index_arg(idx, l.items.len())?;
                l.items.get(x).cloned().ok_or("reflect: slice index out of range")?
            }
            Value::String(s) | Value::Html(s) => {
                let x = index_arg(idx, s.len())?;
                Value::Uint(u64::from(*s.as_bytes().get(x).ok_or("reflect: string index out of range")?), UintTy::Uint8)
            }
            Value::Map(m) => match idx {
                Value::String(k) => m.entries.get(&**k).cloned().unwrap_or_else(|| m.zero()),
                Value::Nil => return Err("value is nil; should be of type string".into()),
                other => return Err(format!("value has type {}; should be string", other.type_name())),
            },
            Value::Sample(_) => return Err("can't index item of type template.sample".into()),
            other => return Err(format!("can't index item of type {}", other.type_name())),
        };
    }
    Ok(item)
}

fn slice(item: &Value, indexes: &[Value]) -> FuncResult {
    if let Value::Nil = item {
        return Err("slice of untyped nil".into());
    }
    if indexes.len() > 3 {
        return Err(format!("too many slice indexes: {}", indexes.len()));
    }
    let len = match item {
        Value::String(s) | Value::Html(s) => {
            if indexes.len() == 3 {
                return Err("cannot 3-index slice a string".into());
            }
            s.len()
        }
        Value::List(l) => l.items.len(),
        other => return Err(format!("can't slice item of type {}", other.type_name())),
    };
    let mut idx = [0, len, len];
    for (i, index) in indexes.iter().enumerate() {
        idx[i] = index_arg(index, len)?;
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if indexes.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    Ok(match item {
        Value::String(s) => Value::string(&String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]])),
        Value::Html(s) => Value::Html(String::from_utf8_lossy(&s.as_bytes()[idx[0]..idx[1]]).into()),
        Value::List(l) => Value::list(l.ty, l.items[idx[0]..idx[1]].to_vec()),
        _ => unreachable!("checked above"),
    })
}

fn length(item: &Value) -> FuncResult {
    let n = match item.indirect() {
        Value::List(l) => l.items.len(),
        Value::Map(m) => m.entries.len(),
        Value::String(s) | Value::Html(s) => s.len(),
        Value::Nil => return Err("reflect: call of reflect.Value.Type on zero Value".into()),
        Value::Sample(_) => return Err("len of type template.sample".into()),
        other => return Err(format!("len of type {}", other.type_name())),
    };
    Ok(Value::int(n as i64))
}

/// The signature of method `name` on `receiver`, if it has one.
pub(crate) fn method_signature(receiver: &Value, name: &str) -> Option<Sig> {
    match receiver {
        Value::Time(_) | Value::TimePtr(_) => match name {
            "Format" => sig(&[Str], None),
            "Add" => sig(&[Dur], None),
            "Sub" | "Before" | "After" | "Equal" => sig(&[TimeP], None),
            "AddDate" => sig(&[IntP, IntP, IntP], None),
            "String" | "Unix" | "UnixMilli" | "UnixMicro" | "UnixNano" | "UTC" | "Year" | "Month" | "Day" | "Hour"
            | "Minute" | "Second" | "Nanosecond" | "Weekday" | "YearDay" | "IsZero" => sig(&[], None),
            _ => None,
        },
        Value::DurationPtr(_) | Value::Int(_, IntTy::Duration) => match name {
            "String" | "Seconds" | "Minutes" | "Hours" | "Milliseconds" | "Microseconds" | "Nanoseconds" | "Abs" => {
                sig(&[], None)
            }
            "Round" | "Truncate" => sig(&[Dur], None),
            _ => None,
        },
        Value::Int(_, IntTy::Month | IntTy::Weekday) | Value::Histogram(_) if name == "String" => sig(&[], None),
        _ => None,
    }
}

/// Calls method `name` on `receiver` with checked arguments.
pub(crate) fn call_method(receiver: &Value, name: &str, args: Vec<Value>) -> FuncResult {
    let int64 = |v: i128| Value::Int(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64, IntTy::Int64);
    let arg_time = |i: usize| match &args[i] {
        Value::Time(t) => *t,
        _ => unreachable!("checked time.Time argument"),
    };
    let arg_int = |i: usize| match &args[i] {
        Value::Int(v, _) => *v,
        _ => unreachable!("checked integer argument"),
    };
    match receiver.indirect() {
        Value::Time(t) => Ok(match name {
            "Format" => match &args[0] {
                Value::String(layout) => Value::string(&t.format(layout)),
                _ => unreachable!("checked string argument"),
            },
            "String" => Value::string(&t.go_string()),
            "Unix" => int64(i128::from(t.secs)),
            "UnixMilli" => int64(t.unix_nanos().div_euclid(1_000_000)),
            "UnixMicro" => int64(t.unix_nanos().div_euclid(1_000)),
            "UnixNano" => int64(t.unix_nanos()),
            "Add" => Value::Time(t.add_nanos(arg_int(0))),
            "Sub" => {
                let d = t.unix_nanos() - arg_time(0).unix_nanos();
                Value::Int(d.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64, IntTy::Duration)
            }
            "Before" => Value::Bool(t < arg_time(0)),
            "After" => Value::Bool(t > arg_time(0)),
            "Equal" => Value::Bool(t == arg_time(0)),
            "AddDate" => {
                // Bounded so the calendar arithmetic cannot overflow; Go wraps instead.
                let bound = |v: i64| v.clamp(-10_000_000, 10_000_000);
                Value::Time(t.add_date(bound(arg_int(0)), bound(arg_int(1)), bound(arg_int(2))))
            }
            "UTC" => Value::Time(t),
            "Year" => Value::int(t.year()),
            "Month" => Value::Int(i64::from(t.month()), IntTy::Month),
            "Day" => Value::int(i64::from(t.day())),
            "Hour" => Value::int(i64::from(t.hour())),
            "Minute" => Value::int(i64::from(t.minute())),
            "Second" => Value::int(i64::from(t.second())),
            "Nanosecond" => Value::int(i64::from(t.nanos)),
            "Weekday" => Value::Int(i64::from(t.weekday()), IntTy::Weekday),
            "YearDay" => Value::int(i64::from(t.year_day())),
            // Go's zero time is January 1, year 1, 00:00:00 UTC.
            "IsZero" => Value::Bool(t == Time { secs: -62_135_596_800, nanos: 0 }),
            _ => unreachable!("method_signature lists the methods"),
        }),
        Value::Int(d, IntTy::Duration) => Ok(match name {
            "String" => Value::string(&duration_string(d)),
            "Seconds" => Value::Float((d / 1_000_000_000) as f64 + (d % 1_000_000_000) as f64 / 1e9),
            "Minutes" => Value::Float((d / 60_000_000_000) as f64 + (d % 60_000_000_000) as f64 / 60e9),
            "Hours" => Value::Float((d / 3_600_000_000_000) as f64 + (d % 3_600_000_000_000) as f64 / 3600e9),
            "Milliseconds" => Value::Int(d / 1_000_000, IntTy::Int64),
            "Microseconds" => Value::Int(d / 1_000, IntTy::Int64),
            "Nanoseconds" => Value::Int(d, IntTy::Int64),
            "Abs" => Value::Int(if d == i64::MIN { i64::MAX } else { d.abs() }, IntTy::Duration),
            "Round" => Value::Int(round_duration(d, arg_int(0)), IntTy::Duration),
            "Truncate" => Value::Int(if arg_int(0) <= 0 { d } else { d - d % arg_int(0) }, IntTy::Duration),
            _ => unreachable!("method_signature lists the methods"),
        }),
        Value::Int(m, IntTy::Month) => Ok(Value::string(&crate::gotime::month_name(m))),
        Value::Int(d, IntTy::Weekday) => Ok(Value::string(&crate::gotime::weekday_name(d))),
        Value::Histogram(h) => Ok(Value::string(&h.display)),
        _ => unreachable!("method_signature lists the receivers"),
    }
}

/// Go's `Duration.Round`: halfway values round away from zero, saturating at the limits.
fn round_duration(d: i64, m: i64) -> i64 {
    if m <= 0 {
        return d;
    }
    let less_than_half = |x: i64| (x as u64).wrapping_add(x as u64) < m as u64;
    let mut r = d % m;
    if d < 0 {
        r = -r;
        if less_than_half(r) {
            return d + r;
        }
        return d.checked_sub(m - r).unwrap_or(i64::MIN);
    }
    if less_than_half(r) {
        return d - r;
    }
    d.checked_add(m - r).unwrap_or(i64::MAX)
}

/// `map[string]interface{}` with keys `arg0`, `arg1`, ...: Prometheus's `args`.
pub(crate) fn args_map(args: Vec<Value>) -> Value {
    let entries = args.into_iter().enumerate().map(|(i, v)| (format!("arg{i}"), v)).collect();
    Value::Map(std::rc::Rc::new(crate::value::MapValue { ty: MapTy::Any, entries }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapers_match_go() {
        assert_eq!(
            html_escape("<a href=\"x\">'&'</a>\0"),
            "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#39;&lt;/a&gt;\u{FFFD}"
        );
        assert_eq!(js_escape("it's <b>=\"\\\n\u{2028}é"), "it\\'s \\u003Cb\\u003E\\u003D\\\"\\\\\\u000A\\u2028é");
    }

    #[test]
    fn duration_round_matches_go() {
        assert_eq!(round_duration(1_500, 1_000), 2_000);
        assert_eq!(round_duration(-1_500, 1_000), -2_000);
        assert_eq!(round_duration(1_499, 1_000), 1_000);
        assert_eq!(round_duration(i64::MAX, 1_000), i64::MAX);
    }
}
