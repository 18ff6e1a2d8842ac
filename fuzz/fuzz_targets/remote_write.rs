//! Fuzzes the remote-write receiver's decode path (snappy block, then `prometheus.WriteRequest`)
//! and the remote-read request decoder with arbitrary bytes.
//!
//! What must hold: no panic, and no allocation beyond the 64 MiB decode bound
//! (`prompb::MAX_DECODED_BYTES`) whatever the snappy header claims; and whatever decodes
//! re-encodes to bytes that decode and re-encode to the same bytes (prost keeps every field we
//! model and drops none silently on the second pass).

#![no_main]

use libfuzzer_sys::fuzz_target;
use promlite::remote::prompb::{self, ReadRequest, WriteRequest};

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = prompb::decode_snappy::<WriteRequest>(data) {
        let once = prompb::encode_snappy(&request);
        let again: WriteRequest = prompb::decode_snappy(&once).expect("our own encoding decodes");
        assert_eq!(prompb::encode_snappy(&again), once);
    }
    if let Ok(request) = prompb::decode_snappy::<ReadRequest>(data) {
        let once = prompb::encode_snappy(&request);
        let again: ReadRequest = prompb::decode_snappy(&once).expect("our own encoding decodes");
        assert_eq!(again, request);
    }
});
