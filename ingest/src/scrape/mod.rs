//! Scraping: pulling exposition bodies from targets and turning them into series.
//!
//! Module map: `config` (the configuration file), `discovery` (providers of target
//! groups), `target` (discovered target → scrape target), `pool` (one job's targets and
//! loops), `manager` (the jobs of the loaded configuration, reload), `scrape_loop` (one
//! target's timing and health), `client` (HTTP), `append` (body → samples, staleness),
//! `report` (`up` and friends), `sink` (where samples go), `remote_sink` (a scraper's
//! samples through the disk-backed remote-write queue), `work_slots` (how many scrapes parse
//! and append at once), `shard` (which targets a replica scrapes), `api` (targets,
//! metadata, config and reload endpoints), `matchers` (`match_target` selectors), `metrics` (discovery and scrape metrics as
//! Prometheus names them); `parse`,
//! `relabel*`, `duration` are the building blocks.

pub mod api;
pub mod append;
pub mod client;
#[cfg(test)]
mod client_tests;
pub mod config;
pub mod discovery;
pub mod duration;
pub mod manager;
mod matchers;
pub mod metrics;
pub mod parse;
pub mod pool;
pub mod relabel;
pub mod relabel_config;
pub mod relabel_regex;
pub mod remote_sink;
pub mod report;
pub mod scrape_loop;
pub mod shard;
pub mod sink;
pub mod target;
pub mod work_slots;

pub use api::ScrapeApi;
pub use manager::{ReloadError, ScrapeManager};
pub use sink::{DbSink, Sink};
