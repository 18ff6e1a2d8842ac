//! The Prometheus HTTP API (upstream `web/api/`).

pub mod v1;
