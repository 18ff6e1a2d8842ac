//! Floats written as Prometheus writes them: Go's `strconv.FormatFloat(v, 'g', -1, 64)`, the
//! form of sample values in the text format and federation, of `le`/`quantile` label values
//! (with `.0` added, in the scrape parser) and of numbers in PromQL's messages (Go's `%v`).
//! Here because every crate that writes one depends on storage.
//!
//! All forms start from the shortest digits that read back to the value. Rust's formatter
//! and Go's pick the same digits but for one case: when two candidates of that length are
//! equally close to the value (`1125899906842625.25` between `…625.2` and `…625.3`), Rust
//! rounds the last digit up and Go to even; [`shortest`] corrects Rust's choice.

/// The shortest decimal digits that read back to `v` (finite, not negative) and the decimal
/// exponent of the first: `v ≈ 0.d₁d₂… × 10^(exp+1)`, as Go's `strconv` chooses them.
fn shortest(v: f64) -> (String, i32) {
    let scientific = format!("{v:e}");
    let (mantissa, exp) = scientific.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let last = digits.as_bytes()[digits.len() - 1];
    // Two candidates of n digits can both read back only when n-digit decimals are closer
    // together than doubles are, which takes 16 or 17 digits.
    if digits.len() >= 16 && (last - b'0') % 2 == 1 {
        // An odd last digit may be Rust's round-half-up of an exact tie: then the digit below
        // reads back to `v` too, and `v` is exactly half-way between the two.
        let mut down = digits.clone();
        down.pop();
        down.push((last - 1) as char);
        let read_back = |d: &str| format!("{}.{}e{exp}", &d[..1], &d[1..]).parse::<f64>().ok() == Some(v);
        if read_back(&down) {
            let mut half = down.clone();
            half.push('5');
            // Exactly half-way: the value's own digits, written out far, are `half` then
            // zeros (a double that is a tie has few digits).
            let precision = half.len() + 30;
            let exact = format!("{v:.precision$e}");
            let exact_digits: String =
                exact.split_once('e').map_or("", |(m, _)| m).chars().filter(char::is_ascii_digit).collect();
            if exact_digits.starts_with(&half) && exact_digits[half.len()..].bytes().all(|b| b == b'0') {
                digits = down;
            }
        }
    }
    (digits, exp)
}

/// Digits and exponent in Go's `'e'` form: `d.ddde±XX`.
fn exponent_form(negative: bool, digits: &str, exp: i32) -> String {
    let sign = if negative { "-" } else { "" };
    let fraction = if digits.len() > 1 { format!(".{}", &digits[1..]) } else { String::new() };
    format!("{sign}{}{fraction}e{}{:02}", &digits[..1], if exp < 0 { '-' } else { '+' }, exp.abs())
}

/// Digits and exponent in Go's `'f'` form: no exponent, as many zeros as it takes.
fn fixed_form(negative: bool, digits: &str, exp: i32) -> String {
    let sign = if negative { "-" } else { "" };
    if exp < 0 {
        return format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize));
    }
    let integer_len = exp as usize + 1;
    if digits.len() <= integer_len {
        return format!("{sign}{digits}{}", "0".repeat(integer_len - digits.len()));
    }
    format!("{sign}{}.{}", &digits[..integer_len], &digits[integer_len..])
}

/// `NaN`, `+Inf`, `-Inf` as Go writes them, or `None` for a finite value.
fn special(v: f64) -> Option<String> {
    if v.is_nan() {
        return Some("NaN".to_owned());
    }
    if v.is_infinite() {
        return Some(if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned());
    }
    None
}

/// `v` as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it: the shortest digits that read
/// back to `v`, in exponent form (`1.234567e+06`, at least two exponent digits) when the decimal
/// exponent is below -4 or at least 6 (Go's threshold for the shortest precision); `NaN`,
/// `+Inf`, `-Inf`.
pub fn format_go_g(v: f64) -> String {
    if let Some(text) = special(v) {
        return text;
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let (digits, exp) = shortest(v.abs());
    if (-4..6).contains(&exp) {
        return fixed_form(v < 0.0, &digits, exp);
    }
    exponent_form(v < 0.0, &digits, exp)
}

/// `v` as Go's `strconv.FormatFloat(v, 'e', -1, 64)` writes it: the shortest digits that read
/// back to `v`, always in exponent form (`1e+00`, `2.5e-07`); `NaN`, `+Inf`, `-Inf`. The API
/// gives alert values so.
pub fn format_go_e(v: f64) -> String {
    if let Some(text) = special(v) {
        return text;
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0e+00" } else { "0e+00" }.to_owned();
    }
    let (digits, exp) = shortest(v.abs());
    exponent_form(v < 0.0, &digits, exp)
}

/// `v` as Prometheus's HTTP API writes a sample value (`jsonutil.MarshalFloat`): Go's
/// `FormatFloat(v, 'f', -1, 64)`, or `'e'` (`3.3e-07`, `1e+22`) when `|v|` is below 1e-6 or at
/// least 1e21; `NaN`, `+Inf`, `-Inf`.
pub fn format_api_value(v: f64) -> String {
    let abs = v.abs();
    if v.is_finite() && abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (digits, exp) = shortest(abs);
        return exponent_form(v < 0.0, &digits, exp);
    }
    format_go_f(v)
}

/// `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it: the shortest digits that read
/// back to `v`, never an exponent (`10000000000000000000000`); `NaN`, `+Inf`, `-Inf`. How
/// Prometheus's API writes a scalar result.
pub fn format_go_f(v: f64) -> String {
    if let Some(text) = special(v) {
        return text;
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let (digits, exp) = shortest(v.abs());
    fixed_form(v < 0.0, &digits, exp)
}

#[cfg(test)]
mod tests {
    use super::{format_api_value, format_go_e, format_go_f, format_go_g};

    #[test]
    fn api_values_print_like_prometheus_json() {
        let cases = [
            (1.0, "1"),
            (0.0, "0"),
            (-0.0, "-0"),
            (3.3e-7, "3.3e-07"),
            (1e-6, "0.000001"),
            (9.99e-7, "9.99e-07"),
            (1234567.0, "1234567"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1e22, "1e+22"),
            (-2.5e-300, "-2.5e-300"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_api_value(v), want, "{v}");
        }
        assert_eq!(format_go_f(3.3e-7), "0.00000033");
        // Exact ties between two shortest candidates go to the even digit, as in Go (these are
        // Prometheus 2.42's answers for `vector(...)`; Rust's formatter rounds them up).
        assert_eq!(format_api_value(1204173839236758.0 + 0.25), "1204173839236758.2");
        assert_eq!(format_api_value(1125899906842625.0 + 0.25), "1125899906842625.2");
        assert_eq!(format_api_value(1204173839236758.0 + 0.75), "1204173839236758.8");
        assert_eq!(format_api_value(2251799813685249.5), "2251799813685249.5");
        assert_eq!(format_go_g(1125899906842625.0 + 0.25), "1.1258999068426252e+15");
        assert_eq!(format_go_f(1e22), "10000000000000000000000");
        assert_eq!(format_go_f(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn floats_print_like_go_g() {
        let cases = [
            (1.0, "1"),
            (0.5, "0.5"),
            (0.0, "0"),
            (-0.0, "-0"),
            (123456.0, "123456"),
            (1234567.0, "1.234567e+06"),
            (-1234567.5, "-1.2345675e+06"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (5e-324, "5e-324"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (v, want) in cases {
            assert_eq!(format_go_g(v), want, "{v}");
        }
    }

    #[test]
    fn values_are_in_go_exponent_form() {
        assert_eq!(format_go_e(1.0), "1e+00");
        assert_eq!(format_go_e(0.0), "0e+00");
        assert_eq!(format_go_e(2.5e-7), "2.5e-07");
        assert_eq!(format_go_e(-123.456), "-1.23456e+02");
        assert_eq!(format_go_e(1e100), "1e+100");
        assert_eq!(format_go_e(f64::NAN), "NaN");
        assert_eq!(format_go_e(f64::NEG_INFINITY), "-Inf");
    }
}
