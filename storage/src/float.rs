//! Floats written as Prometheus writes them: Go's `strconv.FormatFloat(v, 'g', -1, 64)`, the
//! form of sample values in the text format and federation, of `le`/`quantile` label values
//! (with `.0` added, in the scrape parser) and of numbers in PromQL's messages (Go's `%v`).
//! Here because every crate that writes one depends on storage.

/// `v` as Go's `strconv.FormatFloat(v, 'g', -1, 64)` writes it: the shortest digits that read
/// back to `v`, in exponent form (`1.234567e+06`, at least two exponent digits) when the decimal
/// exponent is below -4 or at least 6 (Go's threshold for the shortest precision); `NaN`,
/// `+Inf`, `-Inf`.
pub fn format_go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    // Rust's `{:e}` and `{}` pick the same shortest round-trip digits Go does.
    let scientific = format!("{v:e}");
    let (mantissa, exp) = scientific.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    if (-4..6).contains(&exp) {
        return format!("{v}");
    }
    go_exponent_form(mantissa, exp)
}

/// `v` as Prometheus's HTTP API writes a sample value (`jsonutil.MarshalFloat`): Go's
/// `FormatFloat(v, 'f', -1, 64)`, or `'e'` (`3.3e-07`, `1e+22`) when `|v|` is below 1e-6 or at
/// least 1e21; `NaN`, `+Inf`, `-Inf`.
pub fn format_api_value(v: f64) -> String {
    if !v.is_finite() {
        return format_go_g(v);
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let scientific = format!("{v:e}");
        let (mantissa, exp) = scientific.split_once('e').expect("{:e} has an exponent");
        return go_exponent_form(mantissa, exp.parse().expect("{:e} exponent is an integer"));
    }
    format_go_f(v)
}

/// `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)` writes it: the shortest digits that read
/// back to `v`, never an exponent (`10000000000000000000000`); `NaN`, `+Inf`, `-Inf`. How
/// Prometheus's API writes a scalar result.
pub fn format_go_f(v: f64) -> String {
    if !v.is_finite() {
        return format_go_g(v);
    }
    // Rust's `{}` never uses an exponent and picks the shortest round-trip digits, as Go's 'f' -1.
    format!("{v}")
}

/// Go's exponent notation: the mantissa, `e`, the exponent's sign and at least two digits.
fn go_exponent_form(mantissa: &str, exp: i32) -> String {
    format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

#[cfg(test)]
mod tests {
    use super::{format_api_value, format_go_f, format_go_g};

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
}
