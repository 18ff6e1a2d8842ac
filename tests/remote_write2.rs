//! Remote write 2.0 (`io.prometheus.write.v2.Request`) end to end.
