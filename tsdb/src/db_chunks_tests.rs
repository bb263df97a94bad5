//! Head chunks on disk and WAL truncation at the database level: reads, restarts, deletes,
//! out-of-order samples, damaged chunk-head segments and crashes at every step.

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::fault;
use crate::index::MatchOp;
use crate::wal::{
    CRASH_CHECKPOINT_RENAMED, CRASH_CHECKPOINT_WRITTEN, CRASH_SEGMENTS_PARTLY_DELETED,
};

const SERIES: usize = 6;
/// Samples every second.
const STEP: i64 = 1000;

fn opts() -> DbOptions {
    DbOptions {
        wal_segment_size: 4096,
        head_cut_interval: None,
        head_chunk_write_interval: None,
        head_chunk_segment_size: 4096,
        block_range_ms: 600 * STEP,
        compaction_ranges_ms: Vec::new(),
        retention_ms: None,
        max_sample_age_ms: i64::MAX / 4,
        ooo_window_ms: 60 * STEP,
        ..DbOptions::default()
    }
}

fn labels(k: usize) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("k", &k.to_string())])
}

fn value(k: usize, t: i64) -> f64 {
    (t / STEP) as f64 * 0.5 + k as f64
}

/// What the database must hold: per series, time → value.
type Model = BTreeMap<Labels, BTreeMap<i64, f64>>;

/// Appends samples `[from, to)` (in steps) to every series, 30 s per write.
fn write(db: &Db, model: &mut Model, from: i64, to: i64) {
    let mut t = from;
    while t < to {
        let end = (t + 30).min(to);
        let batch: Vec<SeriesSamples> = (0..SERIES)
            .map(|k| SeriesSamples {
                labels: labels(k),
                samples: (t..end)
                    .map(|i| Sample::new(i * STEP, value(k, i * STEP)))
                    .collect(),
            })
            .collect();
        let r = db.append(&batch).unwrap();
        assert_eq!(r.rejected, 0, "{r:?}");
        for s in &batch {
            let m = model.entry(s.labels.clone()).or_default();
            for x in &s.samples {
                m.insert(x.t, x.v);
            }
        }
        t = end;
    }
}

/// [`write`], writing closed chunks every 4 minutes of samples as the background writer
/// would: chunk segments then fill in time order.
fn write_flushing(db: &Db, model: &mut Model, from: i64, to: i64) {
    let mut t = from;
    while t < to {
        let end = (t + 240).min(to);
        write(db, model, t, end);
        db.flush_head_chunks().unwrap();
        t = end;
    }
}

fn all() -> Vec<Matcher> {
    vec![Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()]
}

fn check(db: &Db, model: &Model, what: &str) {
    let got: Model = db
        .try_select(&all(), i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            let n = s.samples.len();
            let m: BTreeMap<i64, f64> = s.samples.iter().map(|x| (x.t, x.v)).collect();
            assert_eq!(
                m.len(),
                n,
                "{what}: a sample is there twice in {}",
                s.labels
            );
            (s.labels, m)
        })
        .collect();
    let want: Model = model
        .iter()
        .filter(|(_, m)| !m.is_empty())
        .map(|(l, m)| (l.clone(), m.clone()))
        .collect();
    for (l, m) in &want {
        let g = got.get(l).cloned().unwrap_or_default();
        if g != *m {
            let missing: Vec<_> = m.keys().filter(|t| !g.contains_key(t)).take(5).collect();
            let extra: Vec<_> = g.keys().filter(|t| !m.contains_key(t)).take(5).collect();
            panic!(
                "{what}: {l}: {} samples, want {}; missing {missing:?}, extra {extra:?}",
                g.len(),
                m.len()
            );
        }
    }
    assert_eq!(got.len(), want.len(), "{what}: series");
}

fn wal_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("wal")).unwrap().count()
}

#[test]
fn closed_chunks_leave_memory_and_are_read_back_from_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), opts()).unwrap();
    let mut model = Model::new();
    write(&db, &mut model, 0, 2000);
    let before = db.head_footprint();
    assert_eq!(before.mmapped_chunks, 0);
    let (_, pending) = db.head_chunk_counts();
    // 2000 samples in 240-sample chunks: 8 closed per series.
    assert_eq!(pending, 8 * SERIES as u64);
    assert_eq!(db.flush_head_chunks().unwrap(), 8 * SERIES);
    let after = db.head_footprint();
    assert_eq!(after.mmapped_chunks, 8 * SERIES as u64);
    assert_eq!(db.head_chunk_counts(), (8 * SERIES as u64, 0));
    // A closed chunk costs its series a few bytes of chunk list, the lists' headers
    // included (`head/chunk_meta.rs`).
    assert!(
        after.chunk_list_bytes <= 8 * after.mmapped_chunks,
        "{after:?}"
    );
    assert!(
        after.chunk_capacity_bytes * 4 < before.chunk_capacity_bytes,
        "{before:?} {after:?}"
    );
    assert!(db.stats().head_chunk_segments > 1);
    check(&db, &model, "after flush");
    // Exact lookups (duplicates of old samples) read the chunks on disk.
    let resend = vec![SeriesSamples {
        labels: labels(0),
        samples: vec![Sample::new(100 * STEP, value(0, 100 * STEP))],
    }];
    assert_eq!(db.append(&resend).unwrap().duplicates, 1);
}

#[test]
fn truncated_wal_with_deletes_and_out_of_order_samples_replays_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut model = Model::new();
    {
        let db = Db::open(dir, opts()).unwrap();
        write(&db, &mut model, 0, 1500);
        db.flush_head_chunks().unwrap();
        let files = wal_files(dir);
        let mark = db.truncate_wal().unwrap();
        assert!(mark > 1);
        assert!(wal_files(dir) < files, "nothing truncated");
        // A delete through chunks on disk, whole and cut.
        db.delete_series(&all()[..], 100 * STEP, 700 * STEP)
            .unwrap();
        for m in model.values_mut() {
            m.retain(|t, _| !(100 * STEP..=700 * STEP).contains(t));
        }
        // Out-of-order samples between the newest ones.
        write(&db, &mut model, 1500, 1530);
        let ooo: Vec<SeriesSamples> = (0..SERIES)
            .map(|k| SeriesSamples {
                labels: labels(k),
                samples: vec![Sample::new(1520 * STEP + 500, 7.0)],
            })
            .collect();
        assert_eq!(db.append(&ooo).unwrap().appended, SERIES as u64);
        for k in 0..SERIES {
            model
                .get_mut(&labels(k))
                .unwrap()
                .insert(1520 * STEP + 500, 7.0);
        }
        write(&db, &mut model, 1530, 2300);
        db.flush_head_chunks().unwrap();
        db.truncate_wal().unwrap();
        check(&db, &model, "before restart");
    }
    let db = Db::open(dir, opts()).unwrap();
    check(&db, &model, "reopened");
    write(&db, &mut model, 2300, 2600);
    db.flush_head_chunks().unwrap();
    db.truncate_wal().unwrap();
    drop(db);
    let db = Db::open(dir, opts()).unwrap();
    check(&db, &model, "reopened again");
}

#[test]
fn a_flipped_byte_in_a_chunk_segment_loses_only_what_follows_it_there() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut model = Model::new();
    {
        let db = Db::open(dir, opts()).unwrap();
        write(&db, &mut model, 0, 3000);
        db.flush_head_chunks().unwrap();
        db.truncate_wal().unwrap();
    }
    let chunks = dir.join(crate::head_chunks::DIR_NAME);
    let mut segs: Vec<_> = std::fs::read_dir(&chunks)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segs.sort();
    assert!(segs.len() > 3);
    let victim = &segs[1];
    let mut bytes = std::fs::read(victim).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(victim, &bytes).unwrap();

    let db = Db::open(dir, opts()).unwrap();
    let got = db.try_select(&all(), i64::MIN, i64::MAX).unwrap();
    assert_eq!(got.len(), SERIES);
    let (mut served, mut total) = (0, 0);
    for s in &got {
        let m = &model[&s.labels];
        total += m.len();
        for x in &s.samples {
            assert_eq!(m.get(&x.t), Some(&x.v), "{}: wrong sample", s.labels);
        }
        served += s.samples.len();
        // The newest samples (open chunks, WAL) are all there.
        assert_eq!(s.samples.last().map(|x| x.t), Some(2999 * STEP));
    }
    assert!(served < total, "nothing lost from a damaged segment");
    assert!(served > total / 2, "{served} of {total}");
}

#[test]
fn segments_written_before_indexes_reopen_the_same_and_keep_each_series_last_value() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut model = Model::new();
    let quiet = Labels::from_pairs([("__name__", "m"), ("k", "quiet")]);
    let quiet_value = |t: i64| (t / STEP) as f64 * 0.25 + 0.125;
    {
        let db = Db::open(dir, opts()).unwrap();
        // One series stops after 100 s; the others go on long enough for its open chunk
        // to be closed as idle and written: its last sample is then on disk only.
        let batch = [SeriesSamples {
            labels: quiet.clone(),
            samples: (0..100)
                .map(|i| Sample::new(i * STEP, quiet_value(i * STEP)))
                .collect(),
        }];
        assert_eq!(db.append(&batch).unwrap().rejected, 0);
        model.insert(
            quiet.clone(),
            batch[0].samples.iter().map(|s| (s.t, s.v)).collect(),
        );
        write_flushing(&db, &mut model, 0, 2000);
        for _ in 0..2 {
            db.truncate_wal().unwrap();
            db.flush_head_chunks().unwrap();
        }
        db.truncate_wal().unwrap();
    }
    let check_quiet = |db: &Db, what: &str| {
        // The same sample again is a duplicate, another value at that time a conflict:
        // both need the last value, which came from disk without the WAL.
        let again = |v: f64| {
            db.append(&[SeriesSamples {
                labels: quiet.clone(),
                samples: vec![Sample::new(99 * STEP, v)],
            }])
            .unwrap()
        };
        let r = again(quiet_value(99 * STEP));
        assert_eq!((r.duplicates, r.rejected), (1, 0), "{what}: {r:?}");
        let r = again(quiet_value(99 * STEP) + 1.0);
        assert_eq!((r.duplicates, r.rejected), (0, 1), "{what}: {r:?}");
    };
    let chunks_dir = dir.join(crate::head_chunks::DIR_NAME);
    let db = Db::open(dir, opts()).unwrap();
    check(&db, &model, "reopened");
    check_quiet(&db, "reopened");
    drop(db);
    // As a database written before segments carried indexes.
    assert!(crate::head_chunks::strip_indexes(&chunks_dir) > 2);
    let db = Db::open(dir, opts()).unwrap();
    check(&db, &model, "reopened without indexes");
    check_quiet(&db, "reopened without indexes");
    drop(db);
    // Every segment got its index back (stripping again counts them).
    let segments = std::fs::read_dir(&chunks_dir).unwrap().count();
    assert_eq!(crate::head_chunks::strip_indexes(&chunks_dir), segments);
    let db = Db::open(dir, opts()).unwrap();
    check(&db, &model, "reopened after the indexes were rebuilt");
}

#[test]
fn block_cuts_drop_chunk_segments_older_than_the_head() {
    let tmp = tempfile::tempdir().unwrap();
    let db = Db::open(tmp.path(), opts()).unwrap();
    let mut model = Model::new();
    write_flushing(&db, &mut model, 0, 2400);
    db.truncate_wal().unwrap();
    let before = db.stats().head_chunk_segments;
    assert!(db.compact_head().unwrap() > 0);
    db.truncate_wal().unwrap();
    let after = db.stats().head_chunk_segments;
    assert!(after < before, "{before} -> {after}");
    check(&db, &model, "after the cut");
    drop(db);
    let db = Db::open(tmp.path(), opts()).unwrap();
    check(&db, &model, "reopened after the cut");
}

#[test]
fn a_crash_at_any_step_of_writing_chunks_or_truncating_loses_and_duplicates_nothing() {
    let points = [
        fault::HEAD_CHUNKS_WRITTEN,
        fault::HEAD_CHUNKS_SYNCED,
        CRASH_CHECKPOINT_WRITTEN,
        CRASH_CHECKPOINT_RENAMED,
        CRASH_SEGMENTS_PARTLY_DELETED,
        fault::CHUNK_SEGMENTS_PARTLY_DELETED,
    ];
    for point in points {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut model = Model::new();
        {
            let db = Db::open(dir, opts()).unwrap();
            write_flushing(&db, &mut model, 0, 1300);
            db.truncate_wal().unwrap();
            assert!(db.compact_head().unwrap() > 0, "{point}");
            db.delete_series(&all()[..], 950 * STEP, 1000 * STEP)
                .unwrap();
            for m in model.values_mut() {
                m.retain(|t, _| !(950 * STEP..=1000 * STEP).contains(t));
            }
            write(&db, &mut model, 1300, 2000);
            db.inner().crash_points.arm(point);
            let res = db
                .flush_head_chunks()
                .and_then(|_| db.truncate_wal().map(|_| 0));
            assert!(res.is_err(), "{point}: no crash");
            assert!(!db.inner().crash_points.pending(), "{point}");
        }
        let db = Db::open(dir, opts()).unwrap();
        check(&db, &model, &format!("{point}: reopened"));
        write(&db, &mut model, 2000, 2500);
        db.flush_head_chunks().unwrap();
        db.truncate_wal().unwrap();
        check(&db, &model, &format!("{point}: truncated again"));
        drop(db);
        let db = Db::open(dir, opts()).unwrap();
        check(&db, &model, &format!("{point}: reopened again"));
    }
}
