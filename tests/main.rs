//! End-to-end tests: the real `promlite` binary on loopback, against HTTP targets served by the
//! tests themselves. One test binary (see `[[test]]` in Cargo.toml); a module per area.

mod api;
mod api_errors;
mod api_floats;
mod api_fuzz;
mod api_stats;
mod cli;
mod discovery;
mod fake_kube;
mod faults;
mod kubernetes;
mod oracle;
mod persistence;
mod query_limits;
mod reload;
mod remote;
mod remote_util;
mod scrape;
mod scrape_engine;
mod self_metrics;
mod tsdb;
mod tsdb_interop;
mod util;
mod web_config;
mod web_server;
