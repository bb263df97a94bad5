//! Shared inputs of the criterion micro-benchmarks, built from the side-by-side workload so
//! that micro and macro numbers describe the same data.

use std::time::{SystemTime, UNIX_EPOCH};

use tianshu_tsdb::{Db, Labels, Sample, SeriesSamples};

use crate::workload::Workload;

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Where the profiling examples end their workload: `PROFILE_END_MS` (Unix milliseconds)
/// when set, else now. Where the samples fall against the queries' 15-second step grid,
/// and the digits of every timestamp in an answer, depend on the end, so instruction
/// counts compared between two builds are only repeatable with the same end.
pub fn profile_end_ms() -> Result<i64, String> {
    match std::env::var("PROFILE_END_MS") {
        Ok(v) => v.parse().map_err(|e| format!("PROFILE_END_MS={v:?}: {e}")),
        Err(_) => Ok(now_ms()),
    }
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

/// Refills `out` with one entry per series: `labels[i]` with `columns[i]` as its values,
/// one second apart from `t0_ms` (a window of seconds of data, series by series).
pub fn column_batch(
    labels: &[Labels],
    columns: &[Vec<f64>],
    t0_ms: i64,
    out: &mut Vec<SeriesSamples>,
) {
    out.clear();
    for (l, c) in labels.iter().zip(columns) {
        out.push(SeriesSamples {
            labels: l.clone(),
            samples: c
                .iter()
                .enumerate()
                .map(|(k, &v)| Sample {
                    t: t0_ms + k as i64 * 1000,
                    v,
                })
                .collect(),
        });
    }
}

/// Appends `batch`, failing if the database refused any sample: a benchmark that lost
/// samples would measure less data than it reports.
pub fn append_all(db: &Db, batch: &[SeriesSamples]) -> Result<(), String> {
    let r = db.append(batch).map_err(|e| e.to_string())?;
    if r.rejected > 0 {
        return Err(format!(
            "{} samples rejected: {:?}",
            r.rejected, r.first_rejection
        ));
    }
    Ok(())
}
