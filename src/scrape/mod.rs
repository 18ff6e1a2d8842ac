//! Scraping (upstream `scrape/`): the manager owns one pool per job, a pool runs one loop per
//! target, a loop fetches, parses ([`textparse`]) and appends to storage.
//!
//! Invariant: a failing target never delays another target; every failure is kept on the target
//! as a [`ScrapeError`] a person can act on.

mod error;
mod manager;
mod metrics;
mod pool;
mod scrape_loop;
mod target;
pub mod textparse;

pub use error::ScrapeError;
pub use manager::Manager;
