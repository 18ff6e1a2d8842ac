//! Times and durations as the API reads and writes them (upstream `web/api/v1/api.go`
//! `parseTime`, `parseDuration`; `util/jsonutil` for output).
//!
//! Input: float Unix seconds (rounded to the millisecond) or RFC 3339. Output: timestamps as
//! JSON numbers `secs[.mmm]`, values as Prometheus's `jsonutil.MarshalFloat` in a string (Go's
//! `'f'` form, `'e'` below 1e-6 and from 1e21).

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use promlite_promql::go_quote;

use super::{ApiError, Params};

/// A time or duration parameter that does not parse; the texts are upstream's, the parameter
/// quoted as Go's `%q` quotes it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TimeParseError {
    /// Neither float seconds nor RFC 3339.
    #[error("cannot parse {} to a valid timestamp", go_quote(text))]
    Timestamp {
        /// The parameter as given.
        text: String,
    },
    /// Neither float seconds nor a PromQL duration.
    #[error("cannot parse {} to a valid duration", go_quote(text))]
    Duration {
        /// The parameter as given.
        text: String,
    },
    /// Float seconds beyond what int64 nanoseconds hold.
    #[error("cannot parse {} to a valid duration. It overflows int64", go_quote(text))]
    DurationOverflow {
        /// The parameter as given.
        text: String,
    },
}

/// Upstream's `MinTime` and `MaxTime`, the defaults of optional time ranges, in milliseconds,
/// and as Go's RFC 3339 writes them: clients send these back (client_golang, Thanos), and
/// `parseTime` takes them although their years have more than four digits.
const MIN_TIME: (i64, &str) = (-9_223_309_901_257_974_000, "-292273086-05-16T16:47:06Z");
const MAX_TIME: (i64, &str) = (9_223_309_901_257_974_999, "292277025-08-18T07:12:54.999999999Z");

/// Parses an API time into Unix milliseconds.
pub(crate) fn parse_time(text: &str) -> Result<i64, TimeParseError> {
    if text == MIN_TIME.1 {
        return Ok(MIN_TIME.0);
    }
    if text == MAX_TIME.1 {
        return Ok(MAX_TIME.0);
    }
    if let Ok(secs) = text.parse::<f64>()
        && secs.is_finite()
    {
        let whole = secs.trunc();
        let frac = ((secs - whole) * 1000.0).round();
        return Ok(whole as i64 * 1000 + frac as i64);
    }
    parse_rfc3339(text).ok_or_else(|| TimeParseError::Timestamp { text: text.to_owned() })
}

/// Parses an API duration (float seconds or `5m`) into milliseconds.
pub(crate) fn parse_duration(text: &str) -> Result<i64, TimeParseError> {
    if let Ok(secs) = text.parse::<f64>() {
        let ms = secs * 1000.0;
        if !ms.is_finite() || ms.abs() > (i64::MAX / 1_000_000) as f64 {
            return Err(TimeParseError::DurationOverflow { text: text.to_owned() });
        }
        return Ok(ms as i64);
    }
    promlite_promql::parse_model_duration(text).map_err(|_| TimeParseError::Duration { text: text.to_owned() })
}

/// An optional time parameter (upstream `parseTimeParam`): `default` when absent or empty.
pub(crate) fn time_param(params: &Params, name: &str, default: i64) -> Result<i64, ApiError> {
    let Some(text) = params.get(name) else { return Ok(default) };
    parse_time(text)
        .map_err(|err| ApiError::BadData(format!("invalid parameter {name:?}: invalid time value for '{name}': {err}")))
}

/// The `limit` parameter (upstream `parseLimitParam`): 0, no limit, when absent or empty;
/// Go's `strconv.Atoi` reads it, and says why it does not.
pub(crate) fn limit_param(params: &Params) -> Result<usize, ApiError> {
    let Some(text) = params.get("limit") else { return Ok(0) };
    let bad = |why: &str| ApiError::BadData(format!("invalid parameter \"limit\": {why}"));
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(&format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(text))));
    }
    let limit: i64 =
        text.parse().map_err(|_| bad(&format!("strconv.Atoi: parsing {}: value out of range", go_quote(text))))?;
    usize::try_from(limit).map_err(|_| bad("limit must be non-negative"))
}

/// `2006-01-02T15:04:05.999999999Z07:00` into Unix milliseconds.
fn parse_rfc3339(text: &str) -> Option<i64> {
    promlite_promql::calendar::parse_rfc3339_nanos(text).map(|ns| ns.div_euclid(1_000_000))
}

/// RFC 3339 with nanoseconds in UTC, as Go's `time.RFC3339Nano` prints it (trailing zeros of the
/// fraction trimmed); `None` prints Go's zero time.
pub(crate) fn format_rfc3339(time: Option<SystemTime>) -> String {
    let Some(time) = time else { return "0001-01-01T00:00:00Z".to_owned() };
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let mut out = promlite_promql::calendar::format_date_time(since.as_secs() as i64);
    let nanos = since.subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// A millisecond timestamp as a JSON number of seconds: `1435781451.781`, or `1435781451` when
/// whole (upstream `jsonutil.MarshalTimestamp`).
pub(crate) fn write_timestamp(out: &mut String, t: i64) {
    if t < 0 {
        out.push('-');
    }
    let abs = t.unsigned_abs();
    let _ = write!(out, "{}", abs / 1000);
    let frac = abs % 1000;
    if frac != 0 {
        let _ = write!(out, ".{frac:03}");
    }
}

/// A sample value as a JSON string, as Prometheus's `jsonutil.MarshalFloat` spells it.
pub(crate) fn write_value(out: &mut String, v: f64) {
    out.push('"');
    out.push_str(&promlite_storage::format_api_value(v));
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_like_prometheus() {
        assert_eq!(parse_time("1435781451.781"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("1435781451"), Ok(1_435_781_451_000));
        assert_eq!(parse_time("1.0006"), Ok(1_001));
        // Float rounding as in Go: 0.0005 * 1000 is just below one half.
        assert_eq!(parse_time("1.0005"), Ok(1_000));
        assert_eq!(parse_time("2015-07-01T20:10:51.781Z"), Ok(1_435_781_451_781));
        assert_eq!(parse_time("2015-07-01T22:10:51+02:00"), Ok(1_435_781_451_000));
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Ok(0));
        // What Prometheus 2.42 takes as its own MinTime and MaxTime.
        assert_eq!(parse_time("-292273086-05-16T16:47:06Z"), Ok(-9_223_309_901_257_974_000));
        assert_eq!(parse_time("292277025-08-18T07:12:54.999999999Z"), Ok(9_223_309_901_257_974_999));
        assert_eq!(
            parse_time("yesterday").map_err(|e| e.to_string()),
            Err("cannot parse \"yesterday\" to a valid timestamp".to_owned())
        );
    }

    #[test]
    fn durations_parse_like_prometheus() {
        assert_eq!(parse_duration("15"), Ok(15_000));
        assert_eq!(parse_duration("0.5"), Ok(500));
        assert_eq!(parse_duration("1m30s"), Ok(90_000));
        // model.ParseDuration: each unit once, largest first.
        assert_eq!(parse_duration("1y2w"), Ok((365 + 14) * 86_400_000));
        assert!(parse_duration("1h1d").is_err());
        assert!(parse_duration("1ms1s").is_err());
        assert_eq!(
            parse_duration("x").map_err(|e| e.to_string()),
            Err("cannot parse \"x\" to a valid duration".to_owned())
        );
    }

    #[test]
    fn output_matches_go() {
        let mut out = String::new();
        write_timestamp(&mut out, 1_435_781_451_781);
        out.push(' ');
        write_timestamp(&mut out, 1_435_781_451_000);
        out.push(' ');
        write_timestamp(&mut out, 1_500);
        out.push(' ');
        for v in [1.0, 0.1, 1e21, 1e-7, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, -2.5] {
            write_value(&mut out, v);
        }
        assert_eq!(out, r#"1435781451.781 1435781451 1.500 "1""0.1""1e+21""1e-07""NaN""+Inf""-Inf""-2.5""#);
        let t = UNIX_EPOCH + Duration::new(1_435_781_451, 781_000_000);
        assert_eq!(format_rfc3339(Some(t)), "2015-07-01T20:10:51.781Z");
        assert_eq!(format_rfc3339(None), "0001-01-01T00:00:00Z");
    }
}
