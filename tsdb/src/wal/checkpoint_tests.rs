//! Checkpoints: what they keep, how replay reads them, and interrupted ones.

use std::path::Path;

use super::super::segment::{list_segments, segment_path};
use super::super::*;
use crate::labels::Labels;

fn opts() -> WalOptions {
    WalOptions {
        segment_size: 1 << 20,
        fsync: FsyncPolicy::Never,
    }
}

fn series(id: u32) -> SeriesRecord {
    SeriesRecord {
        id,
        labels: Labels::from_pairs([("__name__", format!("s{id}"))]),
    }
}

fn sample(id: u32, t: i64) -> RefSample {
    RefSample { id, t, v: t as f64 }
}

fn md(help: &str) -> MetadataRecord {
    MetadataRecord {
        metric_family: "m".into(),
        kind: 1,
        help: help.into(),
        unit: String::new(),
    }
}

fn replay_all(dir: &Path) -> (Vec<Record>, ReplayStats) {
    let mut out = Vec::new();
    let stats = Wal::replay(dir, |r| {
        out.push(r);
        Ok(())
    })
    .unwrap();
    (out, stats)
}

fn no_crash(_: &str) -> crate::Result<()> {
    Ok(())
}

/// Three segments: series 0..3, samples at t 0..3 for each, a metadata record.
fn three_segments(dir: &Path) -> Wal {
    let wal = Wal::open(dir, opts()).unwrap();
    wal.write(&[Record::Series(vec![series(0), series(1), series(2)])])
        .unwrap();
    for t in 0..3 {
        wal.write(&[Record::Samples((0..3).map(|id| sample(id, t)).collect())])
            .unwrap();
        wal.write(&[Record::Metadata(vec![md("old")])]).unwrap();
        assert_eq!(wal.cut_segment().unwrap(), t as u64 + 1);
    }
    wal
}

#[test]
fn a_checkpoint_keeps_live_series_and_recent_samples_and_replaces_segments() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = three_segments(dir);
    wal.write(&[Record::Samples(vec![sample(1, 5)])]).unwrap();
    let keep = |id| id != 0;
    let filter = CheckpointFilter {
        keep_samples: true,
        keep_series: &keep,
        min_time: 1,
        metadata: vec![md("new")],
    };
    let stats = wal.checkpoint(3, &filter, &no_crash).unwrap();
    assert_eq!(stats.seq, 3);
    assert_eq!((stats.series_kept, stats.samples_kept), (2, 4));
    assert_eq!(stats.samples_dropped, 5);
    let segs: Vec<u64> = list_segments(dir).unwrap().iter().map(|s| s.seq).collect();
    assert_eq!(segs, vec![4]);
    assert!(dir.join("checkpoint.00000003").is_dir());
    let on_disk: u64 = std::fs::metadata(dir.join("checkpoint.00000003/00000000"))
        .unwrap()
        .len()
        + std::fs::metadata(segment_path(dir, 4)).unwrap().len();
    assert_eq!(wal.size_bytes(), on_disk);
    drop(wal);

    let (recs, st) = replay_all(dir);
    assert_eq!(st.checkpoint, Some(3));
    assert_eq!(
        recs,
        vec![
            Record::Series(vec![series(1), series(2)]),
            Record::Samples(vec![sample(1, 1), sample(2, 1), sample(1, 2), sample(2, 2)]),
            Record::Metadata(vec![md("new")]),
            Record::Samples(vec![sample(1, 5)]),
        ]
    );
    // Reopening continues after segment 4; a second checkpoint replaces the first.
    let wal = Wal::open(dir, opts()).unwrap();
    wal.write(&[Record::Samples(vec![sample(2, 6)])]).unwrap();
    let last = wal.cut_segment().unwrap();
    assert_eq!(last, 5);
    let stats = wal.checkpoint(last, &filter, &no_crash).unwrap();
    assert_eq!(stats.samples_kept, 6);
    assert!(!dir.join("checkpoint.00000003").exists());
    drop(wal);
    let (recs, st) = replay_all(dir);
    assert_eq!(st.checkpoint, Some(5));
    let n: usize = recs
        .iter()
        .map(|r| match r {
            Record::Samples(s) => s.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(n, 6);
}

#[test]
fn numbering_continues_after_a_checkpoint_that_replaced_every_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wal = three_segments(dir);
    let keep = |_| true;
    let filter = CheckpointFilter {
        keep_samples: true,
        keep_series: &keep,
        min_time: i64::MIN,
        metadata: Vec::new(),
    };
    wal.checkpoint(3, &filter, &no_crash).unwrap();
    drop(wal);
    // The empty current segment was never written; remove it as a crash might.
    std::fs::remove_file(segment_path(dir, 4)).unwrap();
    let wal = Wal::open(dir, opts()).unwrap();
    wal.write(&[Record::Samples(vec![sample(0, 9)])]).unwrap();
    drop(wal);
    assert!(segment_path(dir, 4).exists());
    let (recs, _) = replay_all(dir);
    assert_eq!(recs.last(), Some(&Record::Samples(vec![sample(0, 9)])));
    assert_eq!(recs.len(), 3);
}

#[test]
fn interrupted_checkpoints_leave_the_log_replayable() {
    for point in [
        CRASH_CHECKPOINT_WRITTEN,
        CRASH_CHECKPOINT_RENAMED,
        CRASH_SEGMENTS_PARTLY_DELETED,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let wal = three_segments(dir);
        let keep = |_| true;
        let filter = CheckpointFilter {
            keep_samples: true,
            keep_series: &keep,
            min_time: i64::MIN,
            metadata: vec![md("old")],
        };
        let (full, _) = replay_all(dir);
        let crash = |p: &str| {
            if p == point {
                Err(crate::Error::io(p, std::io::Error::other("crash")))
            } else {
                Ok(())
            }
        };
        assert!(wal.checkpoint(3, &filter, &crash).is_err());
        drop(wal);
        let samples = |recs: &[Record]| -> Vec<RefSample> {
            recs.iter()
                .flat_map(|r| match r {
                    Record::Samples(s) => s.clone(),
                    _ => Vec::new(),
                })
                .collect()
        };
        let (recs, _) = replay_all(dir);
        assert_eq!(samples(&recs), samples(&full), "{point}");
        // Opening removes an unfinished checkpoint; the next one finishes the job.
        let wal = Wal::open(dir, opts()).unwrap();
        assert!(!dir.join("checkpoint.00000003.tmp").exists(), "{point}");
        let last = wal.cut_segment().unwrap();
        wal.checkpoint(last, &filter, &no_crash).unwrap();
        drop(wal);
        let (recs, _) = replay_all(dir);
        assert_eq!(samples(&recs), samples(&full), "{point}");
        let segs: Vec<u64> = list_segments(dir).unwrap().iter().map(|s| s.seq).collect();
        assert_eq!(segs.len(), 1, "{point}: {segs:?}");
    }
}
