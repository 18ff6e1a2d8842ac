//! Fuzzes the remote-write receiver's decode path with arbitrary bytes: snappy block, then
//! `prometheus.WriteRequest` (1.0) and `io.prometheus.write.v2.Request` (2.0) with its symbol
//! references resolved series by series; and the remote-read request decoder.
//!
//! What must hold: no panic, and no allocation beyond the 64 MiB decode bound
//! (`prompb::MAX_DECODED_BYTES`) whatever the snappy header claims; whatever decodes
//! re-encodes to bytes that decode and re-encode to the same bytes (prost keeps every field we
//! model and drops none silently on the second pass); and resolving a 2.0 series never panics,
//! whatever its references, and gives one label per pair of references when it succeeds. The
//! receiver's own 1.0 decoder (`prompb::recv`) accepts exactly the bodies prost accepts, with
//! the same labels, samples and counts.

#![no_main]

use libfuzzer_sys::fuzz_target;
use promlite::remote::prompb::{self, ReadRequest, WriteRequest};
use promlite::remote::prompb::v2 as prompb_v2;

fuzz_target!(|data: &[u8]| {
    // The fuzz input as an uncompressed body: the receive-side decoder against prost's.
    let ours = prompb::recv::decode(data);
    let prost = <WriteRequest as prost::Message>::decode(data);
    assert!(
        !matches!(ours, Err(prompb::DecodeError::RecvDecoder { .. })),
        "prompb::recv refused a body prost accepts"
    );
    assert_eq!(ours.is_ok(), prost.is_ok(), "decoders disagree on acceptance");
    if let (Ok(ours), Ok(prost)) = (ours, prost) {
        assert_eq!(ours.timeseries.len(), prost.timeseries.len());
        assert_eq!(ours.metadata, prost.metadata.len());
        for (mine, theirs) in ours.timeseries.iter().zip(&prost.timeseries) {
            let labels: Vec<(&str, &str)> = ours.labels(mine).iter().map(|l| (l.name, l.value)).collect();
            let want: Vec<(&str, &str)> = theirs.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())).collect();
            assert_eq!(labels, want);
            let samples: Vec<(i64, u64)> = ours.samples(mine).iter().map(|s| (s.timestamp, s.value.to_bits())).collect();
            let want: Vec<(i64, u64)> = theirs.samples.iter().map(|s| (s.timestamp, s.value.to_bits())).collect();
            assert_eq!(samples, want);
            assert_eq!((mine.exemplars, mine.histograms), (theirs.exemplars.len(), theirs.histograms.len()));
        }
    }
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
