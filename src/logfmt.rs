//! `--log.format=logfmt`: log lines as Prometheus 3 writes them (its `promslog` text handler),
//! so a log pipeline that parses Prometheus's logs (Loki's `logfmt`, `kubectl logs | grep`)
//! parses promlite's:
//!
//! `time=2026-11-28T10:45:31.123Z level=INFO source=main.rs:182 msg="server is ready" address=127.0.0.1:9090`
//!
//! `time` is UTC with milliseconds, `level` upper case, `source` the file name and line of the
//! event. A value is quoted (Go's `strconv.Quote` escapes) when it is empty or holds a space,
//! `=`, `"` or a control character; fields follow in the order the event gives them. Span
//! fields are not written (promlite logs with event fields only).

use std::fmt::{self, Write as _};

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
        let time = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ");
        let meta = event.metadata();
        let mut line = format!("time={time} level={}", level_name(meta.level()));
        if let (Some(file), Some(number)) = (meta.file(), meta.line()) {
            let file = file.rsplit('/').next().unwrap_or(file);
            line.push_str(" source=");
            push_value(&mut line, &format!("{file}:{number}"));
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        line.push_str(" msg=");
        push_value(&mut line, &fields.message);
        line.push_str(&fields.rest);
        writeln!(writer, "{line}")
    }
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
        assert!(rest.starts_with("level=WARN source=logfmt.rs:"), "{rest}");
        assert!(
            rest.ends_with(r#" msg="failed to send batch, retrying" target_url="http://a b/" samples=3"#),
            "{rest}"
        );
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
