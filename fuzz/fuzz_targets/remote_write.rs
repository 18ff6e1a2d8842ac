//! Fuzzes the remote-write receiver's decode path with arbitrary bytes: snappy block, then
//! `prometheus.WriteRequest` (1.0) and `io.prometheus.write.v2.Request` (2.0) with its symbol
//! references resolved series by series; and the remote-read request decoder.
//!
//! What must hold: no panic, and no allocation beyond the 64 MiB decode bound
//! (`prompb::MAX_DECODED_BYTES`) whatever the snappy header claims; whatever decodes
//! re-encodes to bytes that decode and re-encode to the same bytes (prost keeps every field we
//! model and drops none silently on the second pass); and resolving a 2.0 series never panics,
//! whatever its references, and gives one label per pair of references when it succeeds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use promlite::remote::prompb::{self, ReadRequest, WriteRequest};
use promlite_web::prompb_v2;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = prompb::decode_snappy::<WriteRequest>(data) {
        let once = prompb::encode_snappy(&request);
        let again: WriteRequest = prompb::decode_snappy(&once).expect("our own encoding decodes");
        assert_eq!(prompb::encode_snappy(&again), once);
    }
    if let Ok(request) = prompb::decode_snappy::<prompb_v2::Request>(data) {
        let once = prompb::encode_snappy(&request);
        let again: prompb_v2::Request = prompb::decode_snappy(&once).expect("our own encoding decodes");
        assert_eq!(prompb::encode_snappy(&again), once);
        for (index, series) in request.timeseries.iter().enumerate() {
            if let Ok(resolved) = request.resolve(index) {
                assert_eq!(resolved.labels.len() * 2, series.labels_refs.len());
            }
        }
    }
    if let Ok(request) = prompb::decode_snappy::<ReadRequest>(data) {
        let once = prompb::encode_snappy(&request);
        let again: ReadRequest = prompb::decode_snappy(&once).expect("our own encoding decodes");
        assert_eq!(again, request);
    }
});
