//! One sample and Prometheus's staleness marker (upstream `model/value/value.go`: `StaleNaN`,
//! `IsStaleNaN`). A leaf: the chunk encodings, the WAL, the head and the querier all use it, and
//! it uses nothing of theirs.

/// One sample: a millisecond timestamp and a float value (stale markers are a special NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// Milliseconds since the Unix epoch.
    pub t: i64,
    /// The value; [`STALE_NAN`] bits mark staleness.
    pub v: f64,
}

/// The bit pattern Prometheus writes as a staleness marker.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a float. Compare with [`is_stale_nan`], never with `==`.
pub const STALE_NAN: f64 = f64::from_bits(STALE_NAN_BITS);

/// Whether `v` is a staleness marker (bit-exact; any other NaN is an ordinary value).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}
