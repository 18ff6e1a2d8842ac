//! Prometheus's duration and byte-size syntax (upstream `common/model/time.go` and the `units`
//! package Prometheus uses for `body_size_limit`).
//!
//! A [`Duration`] is a sequence of integer-and-unit terms in the order `y w d h m s ms`, each at
//! most once (`1h30m`, `15s`, `2d`); `0` alone is allowed; fractions (`1.5h`) are not. `y` is
//! 365 days and `w` 7 days. Display prints Prometheus's canonical form, so parse(print(d)) == d.
//! A [`ByteSize`] is `15MB`-style, where every unit is a power of 1024 as in Prometheus.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration in Prometheus's syntax, with millisecond precision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

const MS_PER_SECOND: u64 = 1000;
const MS_PER_MINUTE: u64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: u64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: u64 = 24 * MS_PER_HOUR;
const MS_PER_WEEK: u64 = 7 * MS_PER_DAY;
const MS_PER_YEAR: u64 = 365 * MS_PER_DAY;

/// Units in the order Prometheus requires them.
const UNITS: [(&str, u64); 7] = [
    ("y", MS_PER_YEAR),
    ("w", MS_PER_WEEK),
    ("d", MS_PER_DAY),
    ("h", MS_PER_HOUR),
    ("m", MS_PER_MINUTE),
    ("s", MS_PER_SECOND),
    ("ms", 1),
];

impl Duration {
    /// The zero duration, which Prometheus's config treats as "unset" for intervals and timeouts.
    pub const ZERO: Duration = Duration(std::time::Duration::ZERO);

    /// A duration of `secs` seconds.
    pub const fn from_secs(secs: u64) -> Duration {
        Duration(std::time::Duration::from_secs(secs))
    }

    /// A duration of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Duration {
        Duration(std::time::Duration::from_millis(ms))
    }

    /// The standard-library duration.
    pub fn as_std(self) -> std::time::Duration {
        self.0
    }

    /// Whole milliseconds, saturating.
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether this is zero.
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl From<std::time::Duration> for Duration {
    fn from(d: std::time::Duration) -> Self {
        Duration(d)
    }
}

impl From<Duration> for std::time::Duration {
    fn from(d: Duration) -> Self {
        d.0
    }
}

impl FromStr for Duration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" => return Err("empty duration string".to_owned()),
            "0" => return Ok(Duration::ZERO),
            _ => {}
        }
        let invalid = || format!("not a valid duration string: {s:?}");
        let mut rest = s;
        let mut next_unit = 0;
        let mut total: u64 = 0;
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(invalid());
            }
            let number: u64 = rest[..digits].parse().map_err(|_| "duration out of range".to_owned())?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let position = UNITS[next_unit..].iter().position(|(name, _)| *name == unit).ok_or_else(invalid)?;
            let (_, ms_per_unit) = UNITS[next_unit + position];
            next_unit += position + 1;
            total = number
                .checked_mul(ms_per_unit)
                .and_then(|ms| total.checked_add(ms))
                .filter(|ms| *ms <= i64::MAX as u64)
                .ok_or_else(|| "duration out of range".to_owned())?;
        }
        Ok(Duration::from_millis(total))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ms = self.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        for (unit, size) in UNITS {
            // Years and weeks only when exact: "90d" reads better than "12w6d".
            if (unit == "y" || unit == "w") && !ms.is_multiple_of(size) {
                continue;
            }
            let count = ms / size;
            if count > 0 {
                write!(f, "{count}{unit}")?;
                ms -= count * size;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A size in bytes written as `15MB`, `512KiB`, `1GB`; every unit is a power of 1024, as in
/// Prometheus's `body_size_limit`. A bare number without a unit is an error, as upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

const BYTE_UNITS: [(&str, u64); 7] =
    [("EB", 1 << 60), ("PB", 1 << 50), ("TB", 1 << 40), ("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10), ("B", 1)];

impl ByteSize {
    /// The size in bytes; 0 means "no limit" where Prometheus says so.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl FromStr for ByteSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut rest = s;
        let mut total: u64 = 0;
        if s == "0" {
            return Ok(ByteSize(0));
        }
        if s.is_empty() {
            return Err("units: invalid size \"\"".to_owned());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
            if digits == 0 {
                return Err(format!("units: invalid size {s:?}"));
            }
            let number: f64 = rest[..digits].parse().map_err(|_| format!("units: invalid size {s:?}"))?;
            rest = &rest[digits..];
            let unit_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
            let unit = &rest[..unit_len];
            rest = &rest[unit_len..];
            let size = BYTE_UNITS
                .iter()
                .find(|(name, _)| *name == unit || name.replacen('B', "iB", 1) == unit)
                .map(|(_, size)| *size)
                .ok_or_else(|| format!("units: unknown unit {unit} in {s}"))?;
            total = total.saturating_add((number * size as f64) as u64);
        }
        Ok(ByteSize(total))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0B");
        }
        let (unit, size) =
            BYTE_UNITS.iter().find(|(_, size)| self.0.is_multiple_of(*size)).copied().unwrap_or(("B", 1));
        if unit == "B" {
            return write!(f, "{}B", self.0);
        }
        write!(f, "{}{}iB", self.0 / size, &unit[..1])
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}
