//! The few functions of Go's `math` package whose results differ from Rust's in the last bits
//! and that PromQL uses for whole classes of queries: `^` (Go's `Pow` multiplies out the
//! integer part of the exponent instead of computing `exp(y·ln x)`), and `log2`/`log10` (Go
//! derives both from `Frexp` and the natural logarithm). Prometheus answers with Go's bits, so
//! promlite computes them the same way; the other functions (trigonometric, hyperbolic, `exp`,
//! `ln`, `atan2`) use Rust's, which agree with Go's except now and then in the last bit.

/// `x` split as `frac × 2^exp` with `frac` in [0.5, 1) (Go's `Frexp`); zero, infinities and
/// NaN come back whole with exponent 0.
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let (mut x, mut exp) = (x, 0);
    if x.abs() < f64::MIN_POSITIVE {
        // Subnormal: scale into the normal range first.
        x *= (1u64 << 52) as f64;
        exp = -52;
    }
    let bits = x.to_bits();
    exp += ((bits >> 52) & 0x7ff) as i32 - 1022;
    let frac = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (frac, exp)
}

/// `frac × 2^exp` (Go's `Ldexp`), rounded once when the result is subnormal.
fn ldexp(frac: f64, exp: i32) -> f64 {
    if frac == 0.0 || !frac.is_finite() {
        return frac;
    }
    let (frac, e) = frexp(frac);
    let exp = i64::from(exp) + i64::from(e);
    if exp < -1075 {
        return 0.0f64.copysign(frac);
    }
    if exp > 1024 {
        return f64::INFINITY.copysign(frac);
    }
    let (mut exp, mut scale) = (exp, 1.0);
    if exp < -1021 {
        // The result is subnormal: build it 2^53 larger and let one multiplication round it.
        exp += 53;
        scale = 1.0 / (1u64 << 53) as f64;
    }
    let bits = (frac.to_bits() & !(0x7ff << 52)) | (((exp + 1022) as u64) << 52);
    f64::from_bits(bits) * scale
}

/// Go's `math.Pow`.
pub(crate) fn pow(x: f64, y: f64) -> f64 {
    // The special cases are IEEE 754's, as in Rust.
    if y == 0.0 || x == 1.0 {
        return 1.0;
    }
    if y == 1.0 {
        return x;
    }
    if x.is_nan() || y.is_nan() || x == 0.0 || x.is_infinite() || y.is_infinite() {
        return x.powf(y);
    }
    if y == 0.5 {
        return x.sqrt();
    }
    if y == -0.5 {
        return 1.0 / x.sqrt();
    }
    let (mut yi, mut yf) = (y.abs().trunc(), y.abs().fract());
    if yf != 0.0 && x < 0.0 {
        return f64::NAN;
    }
    if yi >= (1u64 << 63) as f64 {
        // A huge even exponent: overflow or underflow for every x but -1.
        return if x == -1.0 {
            1.0
        } else if (x.abs() < 1.0) == (y > 0.0) {
            0.0
        } else {
            f64::INFINITY
        };
    }
    // The answer is a1 × 2^ae: x^yf through exp and ln, then x^yi by repeated squaring of x's
    // mantissa, keeping the exponents apart so that nothing overflows on the way.
    let mut a1 = 1.0;
    let mut ae: i64 = 0;
    if yf != 0.0 {
        if yf > 0.5 {
            yf -= 1.0;
            yi += 1.0;
        }
        a1 = (yf * x.ln()).exp();
    }
    let (mut x1, xe) = frexp(x);
    let mut xe = i64::from(xe);
    let mut i = yi as i64;
    while i != 0 {
        if !(-(1 << 12)..=(1 << 12)).contains(&xe) {
            // Overflow either way: the final scaling saturates.
            ae += xe;
            break;
        }
        if i & 1 == 1 {
            a1 *= x1;
            ae += xe;
        }
        x1 *= x1;
        xe <<= 1;
        if x1 < 0.5 {
            x1 += x1;
            xe -= 1;
        }
        i >>= 1;
    }
    if y < 0.0 {
        a1 = 1.0 / a1;
        ae = -ae;
    }
    ldexp(a1, ae.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
}

/// Go's `math.Log2`: exact for powers of two, else `ln(frac)/ln 2 + exp`.
pub(crate) fn log2(x: f64) -> f64 {
    let (frac, exp) = frexp(x);
    if frac == 0.5 {
        return f64::from(exp - 1);
    }
    frac.ln() * std::f64::consts::LOG2_E + f64::from(exp)
}

/// Go's `math.Log10`: `ln(x) × (1 / ln 10)`.
pub(crate) fn log10(x: f64) -> f64 {
    x.ln() * std::f64::consts::LOG10_E
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each expected value is Prometheus 2.42's answer for the same PromQL expression
    // (`vector(...)`), which is Go's math.Pow, Log10 or Log2.
    #[test]
    fn results_have_gos_bits() {
        assert_eq!(pow(100.0, 100.0), 1.0000000000000005e200);
        assert_eq!(pow(4903.0, 42.0), 9.986182907151853e154);
        assert_eq!(pow(2.0, 0.5), std::f64::consts::SQRT_2);
        assert_eq!(pow(-2.0, 3.0), -8.0);
        assert!(pow(-8.0, 1.0 / 3.0).is_nan());
        assert_eq!(pow(0.1, 300.0), 1.0000000000000324e-300);
        assert_eq!(pow(1.1, 1.7), 1.1758923494079665);
        assert_eq!(pow(3.7, -2.5), 0.03797481701315093);
        assert_eq!(pow(10.0, -2.0), 0.01);
        assert_eq!(pow(2.0, -1074.0), 5e-324);
        assert_eq!(pow(2.0, 1024.0), f64::INFINITY);
        assert_eq!(log10(400.0), 2.602059991327962);
        assert_eq!(log10(1e-300), -300.0);
        // Go answers 3.321928094887362, the correctly rounded log2(10).
        assert_eq!(log2(10.0), std::f64::consts::LOG2_10);
        assert_eq!(log2(0.75), -0.41503749927884376);
        assert_eq!(log2(8.0), 3.0);
        assert_eq!(log2(0.0), f64::NEG_INFINITY);
        assert!(log10(-1.0).is_nan());
    }
}
