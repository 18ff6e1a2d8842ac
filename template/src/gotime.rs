//! Go's `time.Time` (UTC only) and `time.Duration` as templates use them: `toTime` and
//! `toDuration` return these, and templates call their methods (`.Format "2006"`, `.Add`,
//! `.UnixMilli`, `.String`). Formatting follows Go's documented layouts (reference time
//! `Mon Jan 2 15:04:05 MST 2006`). Prometheus converts everything to UTC, so no other zone exists.

/// An instant in UTC: seconds since the Unix epoch plus nanoseconds in that second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Time {
    pub secs: i64,
    pub nanos: u32,
}

const NANOS_PER_SEC: i64 = 1_000_000_000;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

/// Days since 1970-01-01 to a proleptic Gregorian (year, month 1..=12, day 1..=31).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`]; months outside 1..=12 roll over into other years.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = year + (month - 1).div_euclid(12);
    let month = (month - 1).rem_euclid(12) + 1;
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `time.Month.String()`.
pub(crate) fn month_name(m: i64) -> String {
    match usize::try_from(m - 1).ok().and_then(|i| MONTHS.get(i)) {
        Some(name) => (*name).to_owned(),
        None => format!("%!Month({m})"),
    }
}

/// `time.Weekday.String()`.
pub(crate) fn weekday_name(d: i64) -> String {
    match usize::try_from(d).ok().and_then(|i| DAYS.get(i)) {
        Some(name) => (*name).to_owned(),
        None => format!("%!Weekday({d})"),
    }
}

impl Time {
    pub fn from_unix_nanos(nanos: i128) -> Time {
        let secs = nanos.div_euclid(i128::from(NANOS_PER_SEC)) as i64;
        Time { secs, nanos: nanos.rem_euclid(i128::from(NANOS_PER_SEC)) as u32 }
    }

    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.secs) * i128::from(NANOS_PER_SEC) + i128::from(self.nanos)
    }

    fn date(&self) -> (i64, u32, u32) {
        civil_from_days(self.secs.div_euclid(86_400))
    }

    fn clock(&self) -> (u32, u32, u32) {
        let s = self.secs.rem_euclid(86_400) as u32;
        (s / 3600, s / 60 % 60, s % 60)
    }

    pub fn year(&self) -> i64 {
        self.date().0
    }

    pub fn month(&self) -> u32 {
        self.date().1
    }

    pub fn day(&self) -> u32 {
        self.date().2
    }

    pub fn hour(&self) -> u32 {
        self.clock().0
    }

    pub fn minute(&self) -> u32 {
        self.clock().1
    }

    pub fn second(&self) -> u32 {
        self.clock().2
    }

    /// 0 = Sunday.
    pub fn weekday(&self) -> u32 {
        // 1970-01-01 was a Thursday.
        (self.secs.div_euclid(86_400) + 4).rem_euclid(7) as u32
    }

    pub fn year_day(&self) -> u32 {
        let (y, _, _) = self.date();
        (self.secs.div_euclid(86_400) - days_from_civil(y, 1, 1) + 1) as u32
    }

    pub fn add_nanos(&self, d: i64) -> Time {
        Time::from_unix_nanos(self.unix_nanos() + i128::from(d))
    }

    /// Go's `AddDate`: normalizes overflowing months and days like Go's `time.Date`.
    pub fn add_date(&self, years: i64, months: i64, days: i64) -> Time {
        let (y, m, d) = self.date();
        let day = days_from_civil(y + years, i64::from(m) + months, 1) + i64::from(d) - 1 + days;
        Time { secs: day * 86_400 + self.secs.rem_euclid(86_400), nanos: self.nanos }
    }

    /// `time.Time.String()` for a UTC time: `2006-01-02 15:04:05.999999999 +0000 UTC`.
    pub fn go_string(&self) -> String {
        self.format("2006-01-02 15:04:05.999999999 -0700 MST")
    }

    /// `time.Time.Format(layout)`.
    pub fn format(&self, layout: &str) -> String {
        let (year, month, day) = self.date();
        let (hour, min, sec) = self.clock();
        let mut out = String::new();
        let mut rest = layout;
        while !rest.is_empty() {
            let (literal, chunk, after) = next_chunk(rest);
            out.push_str(literal);
            let Some(chunk) = chunk else { break };
            rest = after;
            match chunk {
                Chunk::LongMonth => out.push_str(MONTHS[month as usize - 1]),
                Chunk::Month => out.push_str(&MONTHS[month as usize - 1][..3]),
                Chunk::NumMonth => out.push_str(&month.to_string()),
                Chunk::ZeroMonth => out.push_str(&format!("{month:02}")),
                Chunk::LongWeekDay => out.push_str(DAYS[self.weekday() as usize]),
                Chunk::WeekDay => out.push_str(&DAYS[self.weekday() as usize][..3]),
                Chunk::Day => out.push_str(&day.to_string()),
                Chunk::UnderDay => out.push_str(&format!("{day:>2}")),
                Chunk::ZeroDay => out.push_str(&format!("{day:02}")),
                Chunk::UnderYearDay => out.push_str(&format!("{:>3}", self.year_day())),
                Chunk::ZeroYearDay => out.push_str(&format!("{:03}", self.year_day())),
                Chunk::Hour => out.push_str(&format!("{hour:02}")),
                Chunk::Hour12 => out.push_str(&(if hour % 12 == 0 { 12 } else { hour % 12 }).to_string()),
                Chunk::ZeroHour12 => out.push_str(&format!("{:02}", if hour % 12 == 0 { 12 } else { hour % 12 })),
                Chunk::Minute => out.push_str(&min.to_string()),
                Chunk::ZeroMinute => out.push_str(&format!("{min:02}")),
                Chunk::Second => out.push_str(&sec.to_string()),
                Chunk::ZeroSecond => out.push_str(&format!("{sec:02}")),
                Chunk::LongYear => {
                    if year < 0 {
                        out.push_str(&format!("-{:04}", -year));
                    } else {
                        out.push_str(&format!("{year:04}"));
                    }
                }
                Chunk::Year => out.push_str(&format!("{:02}", year.rem_euclid(100))),
                Chunk::PM => out.push_str(if hour >= 12 { "PM" } else { "AM" }),
                Chunk::Pm => out.push_str(if hour >= 12 { "pm" } else { "am" }),
                Chunk::Tz => out.push_str("UTC"),
                Chunk::Offset(text) => out.push_str(text),
                Chunk::Frac { sep, digits, trim } => {
                    let frac = format!("{:09}", self.nanos);
                    let frac = &frac[..digits];
                    let frac = if trim { frac.trim_end_matches('0') } else { frac };
                    if !frac.is_empty() {
                        out.push(sep);
                        out.push_str(frac);
                    }
                }
            }
        }
        out
    }
}

/// One element of a Go layout string.
enum Chunk {
    LongMonth,
    Month,
    NumMonth,
    ZeroMonth,
    LongWeekDay,
    WeekDay,
    Day,
    UnderDay,
    ZeroDay,
    UnderYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    Year,
    PM,
    Pm,
    Tz,
    /// A zone offset, already rendered for UTC.
    Offset(&'static str),
    Frac {
        sep: char,
        digits: usize,
        trim: bool,
    },
}

/// Splits `layout` into literal text, the next layout element, and the rest (Go's
/// `nextStdChunk`).
fn next_chunk(layout: &str) -> (&str, Option<Chunk>, &str) {
    let b = layout.as_bytes();
    let starts_lower = |i: usize| b.get(i).is_some_and(u8::is_ascii_lowercase);
    for i in 0..b.len() {
        let at = |s: &str| layout[i..].starts_with(s);
        let found = |chunk: Chunk, len: usize| (&layout[..i], Some(chunk), &layout[i + len..]);
        match b[i] {
            b'J' if at("Jan") => {
                if at("January") {
                    return found(Chunk::LongMonth, 7);
                }
                if !starts_lower(i + 3) {
                    return found(Chunk::Month, 3);
                }
            }
            b'M' if at("Mon") => {
                if at("Monday") {
                    return found(Chunk::LongWeekDay, 6);
                }
                if !starts_lower(i + 3) {
                    return found(Chunk::WeekDay, 3);
                }
            }
            b'M' if at("MST") => return found(Chunk::Tz, 3),
            b'0' if at("002") => return found(Chunk::ZeroYearDay, 3),
            b'0' if b.get(i + 1).is_some_and(|c| (b'1'..=b'6').contains(c)) => {
                let chunk = match b[i + 1] {
                    b'1' => Chunk::ZeroMonth,
                    b'2' => Chunk::ZeroDay,
                    b'3' => Chunk::ZeroHour12,
                    b'4' => Chunk::ZeroMinute,
                    b'5' => Chunk::ZeroSecond,
                    _ => Chunk::Year,
                };
                return found(chunk, 2);
            }
            b'1' if at("15") => return found(Chunk::Hour, 2),
            b'1' => return found(Chunk::NumMonth, 1),
            b'2' if at("2006") => return found(Chunk::LongYear, 4),
            b'2' => return found(Chunk::Day, 1),
            b'_' if at("_2") => {
                if at("_2006") {
                    // "_2006" is a literal underscore and then a year.
                    return (&layout[..=i], Some(Chunk::LongYear), &layout[i + 5..]);
                }
                return found(Chunk::UnderDay, 2);
            }
            b'_' if at("__2") => return found(Chunk::UnderYearDay, 3),
            b'3' => return found(Chunk::Hour12, 1),
            b'4' => return found(Chunk::Minute, 1),
            b'5' => return found(Chunk::Second, 1),
            b'P' if at("PM") => return found(Chunk::PM, 2),
            b'p' if at("pm") => return found(Chunk::Pm, 2),
            b'-' | b'Z' => {
                let z = b[i] == b'Z';
                for (pattern, utc) in [
                    ("070000", "+000000"),
                    ("07:00:00", "+00:00:00"),
                    ("0700", "+0000"),
                    ("07:00", "+00:00"),
                    ("07", "+00"),
                ] {
                    if layout[i + 1..].starts_with(pattern) {
                        return found(Chunk::Offset(if z { "Z" } else { utc }), pattern.len() + 1);
                    }
                }
            }
            b'.' | b',' if b.get(i + 1).is_some_and(|c| *c == b'0' || *c == b'9') => {
                let ch = b[i + 1];
                let mut j = i + 1;
                while j < b.len() && b[j] == ch {
                    j += 1;
                }
                if !b.get(j).is_some_and(u8::is_ascii_digit) {
                    let chunk = Chunk::Frac { sep: b[i] as char, digits: (j - i - 1).min(9), trim: ch == b'9' };
                    return (&layout[..i], Some(chunk), &layout[j..]);
                }
            }
            _ => {}
        }
    }
    (layout, None, "")
}

/// `time.Duration.String()`: `72h3m0.5s`, `1.5µs`, `0s`.
pub(crate) fn duration_string(d: i64) -> String {
    if d == 0 {
        return "0s".into();
    }
    let neg = d < 0;
    let u = d.unsigned_abs();
    let mut out = String::new();
    if u < NANOS_PER_SEC as u64 {
        let (unit, scale) = match u {
            0..1_000 => ("ns", 1),
            1_000..1_000_000 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        out.push_str(&fraction(u, scale));
        out.push_str(unit);
    } else {
        let secs = u / NANOS_PER_SEC as u64;
        let frac = fraction(u % NANOS_PER_SEC as u64 + (secs % 60) * NANOS_PER_SEC as u64, NANOS_PER_SEC as u64);
        let mins = secs / 60;
        if mins > 0 {
            let hours = mins / 60;
            if hours > 0 {
                out.push_str(&format!("{hours}h"));
            }
            out.push_str(&format!("{}m", mins % 60));
        }
        out.push_str(&frac);
        out.push('s');
    }
    if neg { format!("-{out}") } else { out }
}

/// `v / scale` with the remainder as decimals, trailing zeros dropped.
fn fraction(v: u64, scale: u64) -> String {
    let int = v / scale;
    let rem = v % scale;
    if rem == 0 {
        return int.to_string();
    }
    let width = scale.ilog10() as usize;
    let decimals = format!("{rem:0width$}");
    format!("{int}.{}", decimals.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64, nanos: u32) -> Time {
        Time { secs, nanos }
    }

    #[test]
    fn string_matches_go() {
        assert_eq!(t(1435065584, 128_000_000).go_string(), "2015-06-23 13:19:44.128 +0000 UTC");
        assert_eq!(t(-1, 0).go_string(), "1969-12-31 23:59:59 +0000 UTC");
        assert_eq!(t(9223372036, 0).go_string(), "2262-04-11 23:47:16 +0000 UTC");
    }

    #[test]
    fn layouts() {
        let now = t(1353755652, 0);
        assert_eq!(now.format("Mon Jan 2 15:04:05 2006"), "Sat Nov 24 11:14:12 2012");
        assert_eq!(now.format("2006-01-02T15:04:05Z07:00"), "2012-11-24T11:14:12Z");
        assert_eq!(now.format("02/01/06 03:04PM -0700 MST"), "24/11/12 11:14AM +0000 UTC");
        assert_eq!(now.format("Monday January _2 002 __2"), "Saturday November 24 329 329");
        assert_eq!(t(0, 120_000_000).format("05.000 05.999 05,9"), "00.120 00.12 00,1");
        assert_eq!(now.format("Janx Mont"), "Janx Mont");
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-719_468, -1, 0, 59, 60, 365, 11_016, 106_751] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, i64::from(m), i64::from(d)), days);
        }
        assert_eq!(t(951_782_400, 0).go_string(), "2000-02-29 00:00:00 +0000 UTC");
        assert_eq!(t(951_782_400, 0).year_day(), 60);
        assert_eq!(t(0, 0).add_date(0, 1, 30).go_string(), "1970-03-03 00:00:00 +0000 UTC");
    }

    #[test]
    fn durations_match_go() {
        let cases = [
            (0, "0s"),
            (1, "1ns"),
            (1_100, "1.1µs"),
            (2_200_000, "2.2ms"),
            (1_800 * NANOS_PER_SEC, "30m0s"),
            (3_600 * NANOS_PER_SEC, "1h0m0s"),
            (-(90 * NANOS_PER_SEC + 500_000_000), "-1m30.5s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ];
        for (d, want) in cases {
            assert_eq!(duration_string(d), want, "{d}");
        }
    }
}
