//! The WAL tail at open: out-of-order samples, series created after the checkpoint,
//! records larger than a shard's batch and a torn last record, each against a model of
//! what the database must hold.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::index::{MatchOp, Matcher};
use crate::labels::Labels;
use crate::sample::Sample;
use crate::{Db, DbOptions, SeriesSamples};

/// Samples every second.
const STEP: i64 = 1000;

fn opts() -> DbOptions {
    DbOptions {
        wal_segment_size: 64 << 10,
        head_cut_interval: None,
        head_chunk_write_interval: None,
        head_chunk_segment_size: 16 << 10,
        block_range_ms: 3600 * STEP,
        compaction_ranges_ms: Vec::new(),
        retention_ms: None,
        max_sample_age_ms: i64::MAX / 4,
        ooo_window_ms: 600 * STEP,
        ..DbOptions::default()
    }
}

fn labels(k: usize) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("k", &k.to_string())])
}

fn value(k: usize, t: i64) -> f64 {
    (t / STEP) as f64 * 0.25 + k as f64
}

/// Per series, time → value bits.
type Model = BTreeMap<Labels, BTreeMap<i64, u64>>;

/// Appends one write: series `ks` with samples at steps `steps`; returns it.
fn append(db: &Db, model: &mut Model, ks: std::ops::Range<usize>, steps: &[i64]) {
    let batch: Vec<SeriesSamples> = ks
        .map(|k| SeriesSamples {
            labels: labels(k),
            samples: steps
                .iter()
                .map(|&i| Sample::new(i * STEP, value(k, i * STEP)))
                .collect(),
        })
        .collect();
    let r = db.append(&batch).unwrap();
    assert_eq!(r.rejected, 0, "{r:?}");
    for s in &batch {
        let m = model.entry(s.labels.clone()).or_default();
        for x in &s.samples {
            m.insert(x.t, x.v.to_bits());
        }
    }
}

/// Steps `[from, to)` for series `ks`, `per_write` steps per write.
fn append_range(
    db: &Db,
    model: &mut Model,
    ks: std::ops::Range<usize>,
    from: i64,
    to: i64,
    per_write: i64,
) {
    let mut t = from;
    while t < to {
        let end = (t + per_write).min(to);
        append(db, model, ks.clone(), &(t..end).collect::<Vec<_>>());
        t = end;
    }
}

fn check(db: &Db, model: &Model, what: &str) {
    let m = vec![Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()];
    let got: Model = db
        .try_select(&m, i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            let n = s.samples.len();
            let g: BTreeMap<i64, u64> = s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect();
            assert_eq!(
                g.len(),
                n,
                "{what}: a sample is there twice in {}",
                s.labels
            );
            (s.labels, g)
        })
        .collect();
    for (l, want) in model {
        let g = got.get(l).cloned().unwrap_or_default();
        if g != *want {
            let missing: Vec<_> = want.keys().filter(|t| !g.contains_key(t)).take(5).collect();
            let extra: Vec<_> = g.keys().filter(|t| !want.contains_key(t)).take(5).collect();
            panic!(
                "{what}: {l}: {} samples, want {}; missing {missing:?}, extra {extra:?}",
                g.len(),
                want.len()
            );
        }
    }
    assert_eq!(got.len(), model.len(), "{what}: series");
}

/// The last WAL segment holding bytes.
fn last_wal_segment(dir: &Path) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && std::fs::metadata(p).unwrap().len() > 0)
        .collect();
    files.sort();
    files.pop().expect("a WAL segment with records")
}

#[test]
fn the_wal_tail_replays_out_of_order_samples_new_series_and_large_records_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut model = Model::new();
    {
        let db = Db::open(dir, opts()).unwrap();
        // Chunks on disk and a checkpoint for series 0..50.
        append_range(&db, &mut model, 0..50, 0, 1000, 30);
        db.flush_head_chunks().unwrap();
        assert!(db.truncate_wal().unwrap() > 1);
        // The tail: series 50..80 created after the checkpoint, ...
        append_range(&db, &mut model, 0..80, 1000, 1100, 1);
        // ... out-of-order samples between samples of open and of closed chunks ...
        let ooo: Vec<i64> = vec![1050, 990];
        for &i in &ooo {
            let batch: Vec<SeriesSamples> = (0..80)
                .map(|k| SeriesSamples {
                    labels: labels(k),
                    samples: vec![Sample::new(i * STEP + 500, -(k as f64))],
                })
                .collect();
            assert_eq!(db.append(&batch).unwrap().appended, 80);
            for k in 0..80 {
                model
                    .get_mut(&labels(k))
                    .unwrap()
                    .insert(i * STEP + 500, (-(k as f64)).to_bits());
            }
        }
        // ... one record larger than a shard's batch (80 x 1000 samples), then small
        // records again through the same decoding buffer.
        append_range(&db, &mut model, 0..80, 1100, 2100, 1000);
        append_range(&db, &mut model, 0..80, 2100, 2110, 1);
        check(&db, &model, "before restart");
    }
    let db = Db::open(dir, opts()).unwrap();
    check(&db, &model, "reopened");
    // Appends continue after the replayed samples, and survive another restart.
    append_range(&db, &mut model, 0..90, 2110, 2200, 10);
    drop(db);
    let db = Db::open(dir, opts()).unwrap();
    check(&db, &model, "reopened twice");
}

#[test]
fn a_torn_last_record_loses_only_its_own_samples() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut model = Model::new();
    {
        let db = Db::open(dir, opts()).unwrap();
        append_range(&db, &mut model, 0..20, 0, 600, 30);
        db.flush_head_chunks().unwrap();
        db.truncate_wal().unwrap();
        append_range(&db, &mut model, 0..30, 600, 700, 1);
        check(&db, &model, "before restart");
        // The last write: its record is torn below.
        let mut lost = model.clone();
        append(&db, &mut lost, 0..30, &[700, 701]);
    }
    let seg = last_wal_segment(dir);
    let len = std::fs::metadata(&seg).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let db = Db::open(dir, opts()).unwrap();
    check(&db, &model, "reopened after a torn tail");
    // The tail was cut at the last good record: appends go on where it ended.
    append(&db, &mut model, 0..30, &[700, 702]);
    drop(db);
    let db = Db::open(dir, opts()).unwrap();
    check(&db, &model, "reopened after appending past the torn tail");
}
