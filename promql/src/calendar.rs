//! Calendar arithmetic on Unix time (proleptic Gregorian, UTC) for every `i64` day count, as
//! Go's `time` covers it: PromQL's date functions, the API's RFC 3339 times and the log's
//! timestamps. Hand-written (Howard Hinnant's algorithms): a date crate covers a narrower range
//! (chrono stops at ±262143 years, where `year(vector(1e15))` still has an answer upstream) and
//! these are a dozen lines.

/// Days since 1970-01-01 of `year-month-day` (month 1–12, day 1–31, not checked against the
/// month's length).
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

/// Unix seconds as `YYYY-MM-DDTHH:MM:SS`, UTC, without fraction or zone.
pub fn format_date_time(secs: i64) -> String {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `2006-01-02T15:04:05.999999999Z07:00`, Go's `time.RFC3339Nano` layout as the API and the
/// rule unit tests read it, into Unix nanoseconds: a fraction of any length (the first nine
/// digits kept), `Z` or a `±hh:mm` offset.
pub fn parse_rfc3339_nanos(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        s.bytes().all(|c| c.is_ascii_digit()).then(|| s.parse().ok())?
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut pos = 19;
    let mut nanos = 0;
    if b[pos] == b'.' {
        let start = pos + 1;
        pos = start;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == start {
            return None;
        }
        let padded: String = text[start..pos].chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = padded.parse::<i64>().ok()?;
    }
    let offset_secs = match b.get(pos)? {
        b'Z' | b'z' if pos + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if pos + 6 == b.len() && b[pos + 3] == b':' => {
            let secs = num(pos + 1..pos + 3)? * 3600 + num(pos + 4..pos + 6)? * 60;
            if *sign == b'+' { secs } else { -secs }
        }
        _ => return None,
    };
    let secs = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_dates_round_trip_across_eras() {
        for days in [-800_000_000, -719_469, -1, 0, 1, 59, 60, 11_016, 19_723, 2_932_896, 800_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert!((1..=12).contains(&m) && (1..=31).contains(&d), "{days}: {y}-{m}-{d}");
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(days_from_civil(2024, 3, 1) - days_from_civil(2024, 2, 28), 2);
        assert_eq!(format_date_time(1_435_781_451), "2015-07-01T20:10:51");
        assert_eq!(format_date_time(-1), "1969-12-31T23:59:59");
    }

    #[test]
    fn rfc3339_reads_fractions_and_offsets_as_go_does() {
        assert_eq!(parse_rfc3339_nanos("1970-01-01T00:00:01Z"), Some(1_000_000_000));
        assert_eq!(parse_rfc3339_nanos("1970-01-01T00:00:00.1234567891Z"), Some(123_456_789));
        assert_eq!(parse_rfc3339_nanos("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(parse_rfc3339_nanos("2026-12-08T03:00:00.5z"), Some(1_796_698_800_500_000_000));
        assert_eq!(parse_rfc3339_nanos("1970-01-01T00:00:00."), None);
        assert_eq!(parse_rfc3339_nanos("1970-13-01T00:00:00Z"), None);
    }
}
