//! Fault injection: a crash at each step of cutting a block and checkpointing the WAL,
//! then a restart, must leave every acknowledged sample present exactly once.

use std::path::Path;

use crate::block::{is_block_dir, is_tmp_dir, Block};
use crate::fault;
use crate::wal::{
    CRASH_CHECKPOINT_RENAMED, CRASH_CHECKPOINT_WRITTEN, CRASH_SEGMENTS_PARTLY_DELETED,
};
use crate::{Db, DbOptions, FsyncPolicy, Labels, MatchOp, Matcher, Sample, SeriesSamples};

const RANGE: i64 = 10_000;

fn opts() -> DbOptions {
    DbOptions {
        wal_fsync: FsyncPolicy::Never,
        // Several segments per block range, so checkpoints replace many.
        wal_segment_size: 2048,
        block_range_ms: RANGE,
        head_cut_interval: None,
        ..DbOptions::default()
    }
}

fn labels(k: usize) -> Labels {
    Labels::from_pairs([("__name__", "m".to_string()), ("k", k.to_string())])
}

fn value(k: usize, t: i64) -> f64 {
    k as f64 * 1e6 + t as f64
}

/// Appends samples `[from, to)` every 100 ms to three series; the third stops at 15 s,
/// so it leaves the head at a cut.
fn write(db: &Db, from: i64, to: i64) {
    for t in (from..to).step_by(100) {
        let batch: Vec<SeriesSamples> = (0..3)
            .filter(|&k| k < 2 || t < 15_000)
            .map(|k| SeriesSamples {
                labels: labels(k),
                samples: vec![Sample::new(t, value(k, t))],
            })
            .collect();
        let r = db.append(&batch).unwrap();
        assert_eq!(r.rejected, 0, "t={t}");
    }
}

/// Checks that exactly the samples written up to `to` are there, once each, and that the
/// blocks on disk and the head hold disjoint time ranges.
fn check(db: &Db, dir: &Path, to: i64, what: &str) {
    let all = [Matcher::new(MatchOp::Equal, "__name__", "m").unwrap()];
    let got = db.select(&all, i64::MIN, i64::MAX);
    assert_eq!(got.len(), 3, "{what}");
    for (k, s) in got.iter().enumerate() {
        let end = if k < 2 { to } else { to.min(15_000) };
        let want: Vec<Sample> = (0..end)
            .step_by(100)
            .map(|t| Sample::new(t, value(k, t)))
            .collect();
        assert_eq!(s.samples, want, "{what}: series {k}");
    }
    let mut ranges: Vec<(i64, i64)> = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        assert!(!is_tmp_dir(&p), "{what}: leftover {}", p.display());
        if is_block_dir(&p) {
            let b = Block::open(&p).unwrap();
            ranges.push((b.meta().min_time, b.meta().max_time));
        }
    }
    ranges.sort();
    for w in ranges.windows(2) {
        assert!(w[0].1 <= w[1].0, "{what}: overlapping blocks {ranges:?}");
    }
    if let (Some(last), Some(head_min)) = (ranges.last(), db.stats().head_min_time) {
        assert!(head_min >= last.1, "{what}: head overlaps blocks");
    }
    let wal = dir.join("wal");
    for e in std::fs::read_dir(&wal).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".tmp"), "{what}: leftover {name}");
    }
}

#[test]
fn a_crash_at_any_step_of_a_cut_loses_and_duplicates_nothing() {
    let points = [
        fault::BEFORE_BLOCK_WRITE,
        fault::BLOCK_WRITTEN,
        fault::BLOCK_LOADED,
        fault::HEAD_TRUNCATED,
        CRASH_CHECKPOINT_WRITTEN,
        CRASH_CHECKPOINT_RENAMED,
        CRASH_SEGMENTS_PARTLY_DELETED,
    ];
    for point in points {
        // With and without an earlier checkpoint: the second cut also rewrites one.
        for earlier_cut in [false, true] {
            let what = format!("{point} (earlier cut: {earlier_cut})");
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            {
                let db = Db::open(dir, opts()).unwrap();
                let mut to = 30_000;
                write(&db, 0, to);
                if earlier_cut {
                    assert!(db.compact_head().unwrap() > 0);
                    write(&db, to, 45_000);
                    to = 45_000;
                }
                db.inner().crash_points.arm(point);
                assert!(db.compact_head().is_err(), "{what}: no crash");
                assert!(!db.inner().crash_points.pending());
                let _ = to;
            }
            let to = if earlier_cut { 45_000 } else { 30_000 };
            let db = Db::open(dir, opts()).unwrap();
            check(&db, dir, to, &format!("{what}, reopened"));
            // The interrupted work completes on the next cut, and more writes survive it.
            write(&db, to, to + 20_000);
            db.compact_head().unwrap();
            check(&db, dir, to + 20_000, &format!("{what}, cut again"));
            drop(db);
            let db = Db::open(dir, opts()).unwrap();
            check(&db, dir, to + 20_000, &format!("{what}, reopened again"));
        }
    }
}

#[test]
fn a_crash_during_compaction_loses_and_duplicates_nothing() {
    for point in [fault::COMPACTION_WRITTEN, fault::COMPACTION_PARTLY_DELETED] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let copts = || DbOptions {
            compaction_ranges_ms: vec![3 * RANGE],
            ..opts()
        };
        {
            let db = Db::open(dir, copts()).unwrap();
            write(&db, 0, 60_000);
            db.compact_head().unwrap();
            db.inner().crash_points.arm(point);
            assert!(db.compact_blocks().is_err(), "{point}: no crash");
        }
        let db = Db::open(dir, copts()).unwrap();
        check(&db, dir, 60_000, &format!("{point}, reopened"));
        assert_eq!(db.stats().num_blocks, 3, "{point}");
        assert_eq!(db.compact_blocks().unwrap(), 0, "{point}");
        write(&db, 60_000, 80_000);
        db.compact_head().unwrap();
        db.compact_blocks().unwrap();
        check(&db, dir, 80_000, &format!("{point}, compacted again"));
        drop(db);
        let db = Db::open(dir, copts()).unwrap();
        check(&db, dir, 80_000, &format!("{point}, reopened again"));
    }
}
