//! The series every scrape writes about itself, Prometheus's report samples: `up`,
//! `scrape_duration_seconds`, `scrape_samples_scraped`,
//! `scrape_samples_post_metric_relabeling` and `scrape_series_added`, with the target's
//! labels; and their staleness markers when the target goes away.

use tianshu_tsdb::{stale_nan, Labels, Sample, SeriesSamples, METRIC_NAME};

pub const UP: &str = "up";
pub const DURATION: &str = "scrape_duration_seconds";
pub const SCRAPED: &str = "scrape_samples_scraped";
pub const POST_RELABEL: &str = "scrape_samples_post_metric_relabeling";
pub const SERIES_ADDED: &str = "scrape_series_added";

/// The report of one scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Report {
    pub up: bool,
    pub duration_seconds: f64,
    pub scraped: u64,
    pub post_relabel: u64,
    pub series_added: u64,
}

/// The report series' samples at `ts`, labelled with the target's labels.
pub fn samples(target: &Labels, ts: i64, r: &Report) -> Vec<SeriesSamples> {
    [
        (UP, if r.up { 1.0 } else { 0.0 }),
        (DURATION, r.duration_seconds),
        (SCRAPED, r.scraped as f64),
        (POST_RELABEL, r.post_relabel as f64),
        (SERIES_ADDED, r.series_added as f64),
    ]
    .into_iter()
    .map(|(name, v)| SeriesSamples {
        labels: named(target, name),
        samples: vec![Sample::new(ts, v)],
    })
    .collect()
}

/// Staleness markers for every report series at `ts`.
pub fn stale(target: &Labels, ts: i64) -> Vec<SeriesSamples> {
    [UP, DURATION, SCRAPED, POST_RELABEL, SERIES_ADDED]
        .into_iter()
        .map(|name| SeriesSamples {
            labels: named(target, name),
            samples: vec![Sample::new(ts, stale_nan())],
        })
        .collect()
}

/// The target's labels with the metric name: report series carry no labels of their own,
/// so the target's always win.
fn named(target: &Labels, name: &str) -> Labels {
    let mut l = target.clone();
    l.set(METRIC_NAME, name);
    l
}
