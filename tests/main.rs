//! End-to-end tests: the real `promlite` binary on loopback, against HTTP targets served by the
//! tests themselves. One test binary (see `[[test]]` in Cargo.toml); a module per area.

mod admin;
mod api;
mod api_errors;
mod api_floats;
mod api_fuzz;
mod api_oracle;
mod api_stats;
mod check_config;
mod cli;
mod discovery;
mod fake_kube;
mod faults;
mod kubernetes;
mod notifier;
mod oracle;
mod persistence;
mod query_limits;
mod reload;
mod remote;
mod remote_util;
mod rule_unittest;
mod rules;
mod scrape;
mod scrape_engine;
mod self_metrics;
mod tsdb;
mod tsdb_interop;
// The upstream config file tables, shared with the unit tests of src/config.
#[path = "../src/config/tests/upstream_files.rs"]
mod upstream_files;
mod util;
mod web_config;
mod web_server;
