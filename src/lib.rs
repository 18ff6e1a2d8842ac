//! promlite's server: configuration, discovery, scraping and the wiring between them.
//!
//! The binary (`src/main.rs`) parses flags and wires these modules to the storage, PromQL and web
//! crates. Nothing here serves HTTP itself: the `web` crate does, and sees scrape state through
//! its `TargetsView` trait.

#![deny(unsafe_code)]

pub mod config;
pub mod discovery;
pub mod http_client;
pub mod http_server;
pub mod log_format;
pub mod notifier;
pub mod relabel;
pub mod remote;
pub mod rules;
pub mod scrape;
