//! Shared inputs of the criterion micro-benchmarks, built from the side-by-side workload so
//! that micro and macro numbers describe the same data.

use std::time::{SystemTime, UNIX_EPOCH};

use tianshu_tsdb::{Labels, Sample, SeriesSamples};

use crate::workload::Workload;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The workload's label sets as tsdb labels.
pub fn tsdb_labels(w: &Workload) -> Vec<Labels> {
    w.series
        .iter()
        .map(|s| Labels::from_pairs(s.labels.iter().map(|(n, v)| (*n, v.as_str()))))
        .collect()
}

/// Every series' samples, second by second, as batches ready for `Db::append` (one batch
/// per second of data, all series in it, as a scrape-driven sender produces them).
pub fn append_batches(w: &Workload) -> Vec<Vec<SeriesSamples>> {
    let labels = tsdb_labels(w);
    let mut values = w.values();
    let mut v = Vec::new();
    (0..w.duration_secs)
        .map(|s| {
            values.next_second(&mut v);
            let t = w.start_ms + s as i64 * 1000;
            labels
                .iter()
                .zip(&v)
                .map(|(l, &x)| SeriesSamples {
                    labels: l.clone(),
                    samples: vec![Sample::new(t, x)],
                })
                .collect()
        })
        .collect()
}
