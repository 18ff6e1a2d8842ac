//! Block ids: ULIDs (github.com/oklog/ulid, as upstream `tsdb/compact.go` makes them with
//! `ulid.MustNew(ulid.Now(), rand.Reader)`): 48 bits of milliseconds since the epoch, then 80
//! random bits, written as 26 characters of Crockford base32.
//! The random part only has to make ids unique, not secret, so it comes from std's randomly
//! keyed SipHash over the time, the process id and a counter instead of a CSPRNG crate.

use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Length of a ULID's text form.
const LEN: usize = 26;

/// A new ULID for a block, stamped with the current time as Prometheus does.
pub(crate) fn new_ulid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let millis = (now.as_millis() as u64) & ((1 << 48) - 1);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    // Two differently keyed hashers give 128 random-looking bits, of which 80 are kept.
    let random = |salt: u64| {
        let mut hasher = std::hash::RandomState::new().build_hasher();
        hasher.write_u128(now.as_nanos());
        hasher.write_u32(std::process::id());
        hasher.write_u64(count);
        hasher.write_u64(salt);
        hasher.finish()
    };
    let entropy = (u128::from(random(1)) << 64 | u128::from(random(2))) & ((1 << 80) - 1);
    encode(u128::from(millis) << 80 | entropy)
}

/// The 26-character Crockford base32 form of a 128-bit value (the first character carries 3 bits).
fn encode(value: u128) -> String {
    (0..LEN).map(|i| ALPHABET[((value >> (5 * (LEN - 1 - i))) & 0x1f) as usize] as char).collect()
}

/// Whether `text` is a ULID as `ulid.Parse` accepts it: 26 Crockford base32 characters
/// (either case) whose value fits in 128 bits.
pub(crate) fn is_valid(text: &str) -> bool {
    text.len() == LEN
        && text.bytes().all(|b| ALPHABET.contains(&b.to_ascii_uppercase()))
        // The first character holds only the top 3 bits.
        && text.as_bytes()[0] <= b'7'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ulids_are_valid_distinct_and_time_stamped() {
        let a = new_ulid();
        let b = new_ulid();
        assert!(is_valid(&a) && is_valid(&b), "{a} {b}");
        assert_ne!(a, b);
        // The first 10 characters (50 bits, the top 2 zero) are the milliseconds.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let digit = |b: u8| ALPHABET.iter().position(|&c| c == b).unwrap() as u64;
        let millis = a.bytes().take(10).fold(0, |acc, b| acc * 32 + digit(b));
        assert!(now.abs_diff(millis) < 10_000, "{millis} vs {now}");
        assert!(is_valid("01DXXFZDYD1MQW6079WK0K6EDQ"));
        assert!(!is_valid("81DXXFZDYD1MQW6079WK0K6EDQ"));
        assert!(!is_valid("01DXXFZDYD1MQW6079WK0K6EDU"));
        assert!(!is_valid("01DXXFZDYD"));
    }

    #[test]
    fn encodes_like_oklog_ulid() {
        // oklog/ulid: the zero value and the maximum.
        assert_eq!(encode(0), "00000000000000000000000000");
        assert_eq!(encode(u128::MAX), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
        assert_eq!(encode(1), "00000000000000000000000001");
    }
}
