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
}
