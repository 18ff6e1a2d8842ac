//! `--log.format`: log lines shaped as Prometheus 3 writes them (its `promslog` handlers), so a
//! log pipeline that parses Prometheus's logs (Loki's `logfmt` or `json`, `kubectl logs | grep`)
//! parses promlite's:
//!
//! - [`Logfmt`]: `time=2026-11-28T10:45:31.123Z level=INFO source=main.rs:182 msg="server is ready" address=127.0.0.1:9090`
//! - [`Json`]: `{"time":"2026-11-28T10:45:31.123Z","level":"INFO","source":"main.rs:182","msg":"server is ready","address":"127.0.0.1:9090"}`
//!
//! `time` is UTC with milliseconds, `level` upper case, `source` the file name and line of the
//! event. In logfmt a value is quoted (Go's `strconv.Quote` escapes) when it is empty or holds a
//! space, `=`, `"` or a control character; in JSON numbers and booleans stay numbers and
//! booleans. Fields follow in the order the event gives them. Span fields are not written
//! (promlite logs with event fields only).

use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The logfmt event formatter for `tracing_subscriber::fmt`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Logfmt;

impl<S, N> FormatEvent<S, N> for Logfmt
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let meta = event.metadata();
        let mut line = format!("time={} level={}", now(), level_name(meta.level()));
        if let Some(source) = source(meta) {
            line.push_str(" source=");
            push_value(&mut line, &source);
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        line.push_str(" msg=");
        push_value(&mut line, &fields.message);
        line.push_str(&fields.rest);
        writeln!(writer, "{line}")
    }
}

/// The JSON event formatter for `tracing_subscriber::fmt`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json;

impl<S, N> FormatEvent<S, N> for Json
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        // Written key by key: Prometheus's key order (time, level, source, msg, fields), which a
        // `serde_json::Map` (sorted) would not keep.
        let meta = event.metadata();
        let quote = |text: &str| serde_json::Value::from(text).to_string();
        let mut line = format!("{{\"time\":{},\"level\":{}", quote(&now()), quote(level_name(meta.level())));
        if let Some(source) = source(meta) {
            let _ = write!(line, ",\"source\":{}", quote(&source));
        }
        let mut fields = JsonFields { message: None, rest: Vec::new() };
        event.record(&mut fields);
        let _ = write!(line, ",\"msg\":{}", quote(fields.message.as_deref().unwrap_or("")));
        for (name, value) in fields.rest {
            let _ = write!(line, ",{}:{value}", quote(name));
        }
        writeln!(writer, "{line}}}")
    }
}

/// An event's `message` and its other fields as JSON values.
struct JsonFields {
    message: Option<String>,
    rest: Vec<(&'static str, serde_json::Value)>,
}

impl JsonFields {
    fn push(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = Some(value.as_str().map_or_else(|| value.to_string(), str::to_owned));
        } else {
            self.rest.push((field.name(), value));
        }
    }
}

impl Visit for JsonFields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.push(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, serde_json::Number::from_f64(value).map_or_else(|| value.to_string().into(), Into::into));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format!("{value:?}").into());
    }
}

/// The current time as both formats write it: UTC, milliseconds.
fn now() -> String {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let date_time = promlite_promql::calendar::format_date_time(since.as_secs() as i64);
    format!("{date_time}.{:03}Z", since.subsec_millis())
}

/// `file:line` of an event, the file without its directories.
fn source(meta: &tracing::Metadata<'_>) -> Option<String> {
    let (file, line) = (meta.file()?, meta.line()?);
    Some(format!("{}:{line}", file.rsplit('/').next().unwrap_or(file)))
}

fn level_name(level: &tracing::Level) -> &'static str {
    match *level {
        tracing::Level::ERROR => "ERROR",
        tracing::Level::WARN => "WARN",
        tracing::Level::INFO => "INFO",
        tracing::Level::DEBUG | tracing::Level::TRACE => "DEBUG",
    }
}

/// An event's `message` and its other fields as ` key=value` pairs.
#[derive(Default)]
struct Fields {
    message: String,
    rest: String,
}

impl Fields {
    fn push(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_owned();
            return;
        }
        self.rest.push(' ');
        self.rest.push_str(field.name());
        self.rest.push('=');
        push_value(&mut self.rest, value);
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.push(field, &value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, &format!("{value:?}"));
    }
}

/// Appends `value`, quoted as Go's `strconv.Quote` would when logfmt needs quotes.
fn push_value(out: &mut String, value: &str) {
    let needs_quotes = value.is_empty() || value.chars().any(|c| c == ' ' || c == '=' || c == '"' || c.is_control());
    if !needs_quotes {
        out.push_str(value);
        return;
    }
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(value: &str) -> String {
        let mut out = String::new();
        push_value(&mut out, value);
        out
    }

    #[test]
    fn values_are_quoted_only_when_logfmt_needs_it() {
        assert_eq!(quoted("127.0.0.1:9090"), "127.0.0.1:9090");
        assert_eq!(quoted(""), "\"\"");
        assert_eq!(quoted("server is ready"), "\"server is ready\"");
        assert_eq!(quoted("a=b"), "\"a=b\"");
        assert_eq!(quoted("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
        assert_eq!(quoted("bell\u{7}"), "\"bell\\u0007\"");
    }

    #[test]
    fn an_event_is_one_logfmt_line() {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = std::sync::Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .event_format(Logfmt)
            .with_writer(move || SharedWriter(std::sync::Arc::clone(&sink)))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(target_url = "http://a b/", samples = 3, "failed to send batch, retrying");
        });
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        let line = text.strip_suffix('\n').expect("one line");
        let (time, rest) = line.split_once(' ').unwrap();
        assert!(
            time.starts_with("time=20") && time.ends_with('Z') && time.len() == "time=2026-11-28T10:45:31.123Z".len()
        );
        assert!(rest.starts_with("level=WARN source=log_format.rs:"), "{rest}");
        assert!(
            rest.ends_with(r#" msg="failed to send batch, retrying" target_url="http://a b/" samples=3"#),
            "{rest}"
        );
    }

    #[test]
    fn an_event_is_one_json_object() {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = std::sync::Arc::clone(&buffer);
        let subscriber = tracing_subscriber::fmt()
            .event_format(Json)
            .with_writer(move || SharedWriter(std::sync::Arc::clone(&sink)))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(url = "http://a/", samples = 3, recoverable = false, "dropping \"them\"");
        });
        let text = String::from_utf8(buffer.lock().unwrap().clone()).unwrap();
        let object: serde_json::Value = serde_json::from_str(text.trim_end()).expect("one JSON object");
        assert_eq!(object["level"], "ERROR");
        assert_eq!(object["msg"], "dropping \"them\"");
        assert_eq!((object["url"].clone(), object["samples"].clone()), ("http://a/".into(), 3.into()));
        assert_eq!(object["recoverable"], false);
        assert!(object["source"].as_str().unwrap().starts_with("log_format.rs:"));
        let order: Vec<usize> = ["\"time\"", "\"level\"", "\"source\"", "\"msg\"", "\"url\""]
            .iter()
            .map(|k| text.find(k).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "Prometheus's key order: {text}");
    }

    /// A `MakeWriter` target appending to a shared buffer.
    struct SharedWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for SharedWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
