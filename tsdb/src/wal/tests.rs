use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::segment::{list_segments, segment_path, HEADER_LEN};
use super::*;
use crate::labels::Labels;
use crate::sample::STALE_NAN_BITS;

fn opts(fsync: FsyncPolicy) -> WalOptions {
    WalOptions {
        segment_size: 1 << 20,
        fsync,
    }
}

fn samples(id: u32, t: i64, n: usize) -> Record {
    Record::Samples(
        (0..n)
            .map(|i| RefSample {
                id: id + i as u32,
                t: t + i as i64,
                v: i as f64 * 0.5,
            })
            .collect(),
    )
}

fn series(id: u32, name: &str) -> Record {
    Record::Series(vec![SeriesRecord {
        id,
        labels: Labels::from_pairs([("__name__", name), ("job", "node")]),
    }])
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

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

#[test]
fn missing_dir_replays_nothing_and_open_creates_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("wal");
    let (recs, stats) = replay_all(&dir);
    assert!(recs.is_empty());
    assert_eq!(stats.segments, 0);
    let wal = Wal::open(&dir, opts(FsyncPolicy::Never)).unwrap();
    assert!(segment_path(&dir, 1).exists());
    assert_eq!(wal.size_bytes(), 0);
    let pos = wal.write(&[]).unwrap();
    assert_eq!(
        pos,
        WalPosition {
            segment: 1,
            offset: 0
        }
    );
}

#[test]
fn write_then_replay_round_trips_all_record_types() {
    let tmp = tempfile::tempdir().unwrap();
    let recs = vec![
        series(1, "up"),
        Record::Samples(vec![
            RefSample {
                id: 1,
                t: 1000,
                v: f64::from_bits(STALE_NAN_BITS),
            },
            RefSample {
                id: 1,
                t: 2000,
                v: 1.0,
            },
        ]),
        Record::Metadata(vec![MetadataRecord {
            metric_family: "up".into(),
            kind: 2,
            help: "Target is up.".into(),
            unit: String::new(),
        }]),
        Record::Samples(Vec::new()),
    ];
    let wal = Wal::open(tmp.path(), opts(FsyncPolicy::Always)).unwrap();
    let pos = wal.write(&recs).unwrap();
    wal.sync_to(pos).unwrap();
    assert_eq!(pos.offset, wal.size_bytes());
    assert_eq!(pos.offset, file_len(&segment_path(tmp.path(), 1)));
    drop(wal);

    let (back, stats) = replay_all(tmp.path());
    assert_eq!(back.len(), 4);
    assert_eq!(back[0], recs[0]);
    assert_eq!(back[2], recs[2]);
    assert_eq!(back[3], recs[3]);
    match &back[1] {
        Record::Samples(s) => {
            assert_eq!(s[0].v.to_bits(), STALE_NAN_BITS);
            assert_eq!((s[1].id, s[1].t, s[1].v), (1, 2000, 1.0));
        }
        other => panic!("unexpected record {other:?}"),
    }
    assert_eq!(stats.records, 4);
    assert_eq!(stats.bytes, pos.offset);
    assert!(!stats.torn_tail_truncated);
}

#[test]
fn torn_tail_at_every_truncation_point_keeps_earlier_records() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let wal = Wal::open(&src, opts(FsyncPolicy::Never)).unwrap();
    let earlier = vec![series(1, "a"), samples(1, 1000, 3), series(2, "b")];
    let good_end = wal.write(&earlier).unwrap().offset;
    let last = samples(1, 5000, 4);
    let full_end = wal.write(std::slice::from_ref(&last)).unwrap().offset;
    drop(wal);
    let seg = std::fs::read(segment_path(&src, 1)).unwrap();
    assert_eq!(seg.len() as u64, full_end);

    for cut in good_end..=full_end {
        let dir = tmp.path().join(format!("cut{cut}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(segment_path(&dir, 1), &seg[..cut as usize]).unwrap();
        let (back, stats) = replay_all(&dir);
        let torn = cut != good_end && cut != full_end;
        assert_eq!(stats.torn_tail_truncated, torn, "cut at {cut}");
        if cut == full_end {
            assert_eq!(back.len(), 4);
            assert_eq!(back[3], last);
        } else {
            assert_eq!(back, earlier, "cut at {cut}");
            // The garbage is gone: a second replay is clean.
            assert_eq!(file_len(&segment_path(&dir, 1)), good_end, "cut at {cut}");
            let (again, stats) = replay_all(&dir);
            assert_eq!(again, earlier);
            assert!(!stats.torn_tail_truncated);
        }
    }
}

#[test]
fn flipped_byte_in_last_segment_truncates_there() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), opts(FsyncPolicy::Never)).unwrap();
    let first = wal.write(&[series(1, "a")]).unwrap().offset;
    wal.write(&[samples(1, 0, 10)]).unwrap();
    wal.write(&[samples(1, 100, 10)]).unwrap();
    drop(wal);
    let path = segment_path(tmp.path(), 1);
    let pristine = std::fs::read(&path).unwrap();
    // Flip every byte of the second record in turn: header or payload, always caught.
    let second_end = first as usize + HEADER_LEN + {
        let mut b = Vec::new();
        samples(1, 0, 10).encode_payload(&mut b);
        b.len()
    };
    for i in first as usize..second_end {
        let mut bytes = pristine.clone();
        bytes[i] ^= 0x40;
        std::fs::write(&path, &bytes).unwrap();
        let (back, stats) = replay_all(tmp.path());
        assert_eq!(back, vec![series(1, "a")], "flip at {i}");
        assert!(stats.torn_tail_truncated);
        assert_eq!(file_len(&path), first);
    }
}

#[test]
fn corruption_in_an_earlier_segment_skips_only_its_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), opts(FsyncPolicy::Never)).unwrap();
    wal.write(&[series(1, "a"), samples(1, 0, 5), samples(1, 10, 5)])
        .unwrap();
    drop(wal);
    let wal = Wal::open(tmp.path(), opts(FsyncPolicy::Never)).unwrap();
    wal.write(&[samples(1, 20, 5)]).unwrap();
    drop(wal);

    let seg1 = segment_path(tmp.path(), 1);
    let mut bytes = std::fs::read(&seg1).unwrap();
    let len_before = bytes.len() as u64;
    // Corrupt the payload of the second record.
    let second = {
        let mut b = Vec::new();
        series(1, "a").encode_payload(&mut b);
        HEADER_LEN + b.len()
    };
    bytes[second + HEADER_LEN + 3] ^= 0xff;
    std::fs::write(&seg1, &bytes).unwrap();

    let (back, stats) = replay_all(tmp.path());
    assert_eq!(back, vec![series(1, "a"), samples(1, 20, 5)]);
    assert_eq!(stats.corrupted_segments, 1);
    assert!(!stats.torn_tail_truncated);
    assert_eq!(stats.segments, 2);
    // Earlier segments are left alone for inspection.
    assert_eq!(file_len(&seg1), len_before);
}

#[test]
fn torn_tail_followed_by_empty_segments_counts_as_the_tail() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), opts(FsyncPolicy::Never)).unwrap();
    let good = wal.write(&[series(1, "a")]).unwrap().offset;
    wal.write(&[samples(1, 0, 5)]).unwrap();
    drop(wal);
    // A crash right after the next open: segment 2 exists but is empty.
    drop(Wal::open(tmp.path(), opts(FsyncPolicy::Never)).unwrap());
    let seg1 = segment_path(tmp.path(), 1);
    let bytes = std::fs::read(&seg1).unwrap();
    std::fs::write(&seg1, &bytes[..bytes.len() - 1]).unwrap();
    let (back, stats) = replay_all(tmp.path());
    assert_eq!(back, vec![series(1, "a")]);
    assert!(stats.torn_tail_truncated);
    assert_eq!(stats.corrupted_segments, 0);
    assert_eq!(file_len(&seg1), good);
}

#[test]
fn segments_rotate_at_the_size_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let seg_size = 1000;
    let wal = Wal::open(
        tmp.path(),
        WalOptions {
            segment_size: seg_size,
            fsync: FsyncPolicy::Always,
        },
    )
    .unwrap();
    let mut written = Vec::new();
    let mut last = WalPosition {
        segment: 0,
        offset: 0,
    };
    for i in 0..60 {
        // A mix of single writes and multi-record writes that must split across segments.
        let batch: Vec<Record> = (0..(i % 4 + 1))
            .map(|j| samples(i * 10 + j, i64::from(i) * 1000, 3 + (i as usize % 5)))
            .collect();
        let pos = wal.write(&batch).unwrap();
        assert!(pos > last);
        last = pos;
        written.extend(batch);
    }
    // One record larger than a whole segment gets a segment of its own.
    let big = samples(0, 0, 200);
    written.push(big.clone());
    let pos = wal.write(&[big]).unwrap();
    wal.sync_to(pos).unwrap();
    let size = wal.size_bytes();
    drop(wal);

    let segs = list_segments(tmp.path()).unwrap();
    assert!(segs.len() > 10, "{} segments", segs.len());
    assert_eq!(segs.iter().map(|s| s.len).sum::<u64>(), size);
    let (last_seg, full) = segs.split_last().unwrap();
    assert!(full.iter().all(|s| s.len <= seg_size && s.len > 0));
    assert!(last_seg.len > seg_size);
    assert_eq!(last_seg.seq, pos.segment);
    let (back, stats) = replay_all(tmp.path());
    assert_eq!(back, written);
    assert_eq!(stats.segments, segs.len());
    assert_eq!(stats.bytes, size);
}

#[test]
fn reopen_appends_to_a_new_segment() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), opts(FsyncPolicy::Always)).unwrap();
    let p1 = wal.write(&[series(1, "a"), samples(1, 0, 3)]).unwrap();
    wal.sync_to(p1).unwrap();
    drop(wal);
    let (first, _) = replay_all(tmp.path());

    let wal = Wal::open(tmp.path(), opts(FsyncPolicy::Always)).unwrap();
    assert_eq!(wal.size_bytes(), p1.offset);
    let p2 = wal.write(&[samples(1, 10, 3)]).unwrap();
    assert_eq!(p2.segment, 2);
    assert_eq!(wal.size_bytes(), p1.offset + p2.offset);
    drop(wal);

    let (all, stats) = replay_all(tmp.path());
    assert_eq!(stats.segments, 2);
    assert_eq!(all.len(), 3);
    assert_eq!(all[..2], first[..]);
    assert_eq!(all[2], samples(1, 10, 3));
}

#[test]
fn group_commit_with_concurrent_writers() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Arc::new(
        Wal::open(
            tmp.path(),
            WalOptions {
                segment_size: 16 << 10,
                fsync: FsyncPolicy::Always,
            },
        )
        .unwrap(),
    );
    let threads = 8u32;
    let per_thread = 100i64;
    let handles: Vec<_> = (0..threads)
        .map(|th| {
            let wal = Arc::clone(&wal);
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let rec = Record::Samples(vec![RefSample {
                        id: th,
                        t: i,
                        v: 1.0,
                    }]);
                    let pos = wal.write(&[rec]).unwrap();
                    wal.sync_to(pos).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let calls = u64::from(threads) * per_thread as u64;
    let fsyncs = wal.fsyncs();
    println!("group commit: {calls} sync_to calls, {fsyncs} fsyncs");
    assert!(fsyncs >= 1 && fsyncs <= calls, "{fsyncs} fsyncs");
    drop(wal);

    let (back, _) = replay_all(tmp.path());
    let mut next = vec![0i64; threads as usize];
    for r in back {
        let Record::Samples(s) = r else {
            panic!("unexpected record")
        };
        assert_eq!(s.len(), 1);
        assert_eq!(
            s[0].t, next[s[0].id as usize],
            "thread {} out of order",
            s[0].id
        );
        next[s[0].id as usize] += 1;
    }
    assert!(next.iter().all(|&n| n == per_thread), "{next:?}");
}

#[test]
fn sync_to_waits_for_a_covering_fsync_only() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(tmp.path(), opts(FsyncPolicy::Always)).unwrap();
    let p1 = wal.write(&[samples(1, 0, 1)]).unwrap();
    let p2 = wal.write(&[samples(1, 1, 1)]).unwrap();
    wal.sync_to(p2).unwrap();
    assert_eq!(wal.fsyncs(), 1);
    // Already covered: no further fsync.
    wal.sync_to(p1).unwrap();
    wal.sync_to(p2).unwrap();
    assert_eq!(wal.fsyncs(), 1);
    let p3 = wal.write(&[samples(1, 2, 1)]).unwrap();
    wal.sync_to(p3).unwrap();
    assert_eq!(wal.fsyncs(), 2);
}

#[test]
fn interval_policy_syncs_in_the_background_and_on_drop() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = Wal::open(
        tmp.path(),
        opts(FsyncPolicy::Interval(Duration::from_millis(5))),
    )
    .unwrap();
    let pos = wal.write(&[series(1, "a")]).unwrap();
    wal.sync_to(pos).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while wal.fsyncs() == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(wal.fsyncs() > 0, "background syncer never ran");
    drop(wal);
    assert_eq!(replay_all(tmp.path()).0, vec![series(1, "a")]);

    // Never: no fsync at all.
    let wal = Wal::open(&tmp.path().join("never"), opts(FsyncPolicy::Never)).unwrap();
    let pos = wal.write(&[series(1, "a")]).unwrap();
    wal.sync_to(pos).unwrap();
    assert_eq!(wal.fsyncs(), 0);
}

#[test]
fn wal_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Wal>();
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the bytes, replay neither panics nor fails: it returns the records up to the
    /// first bad one and repairs the tail.
    #[test]
    fn prop_replay_of_garbage_never_fails(
        prefix_records in 0usize..4,
        garbage in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        garbage_in_middle in proptest::prelude::any::<bool>(),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let wal = Wal::open(tmp.path(), opts(FsyncPolicy::Never)).unwrap();
        let good: Vec<Record> = (0..prefix_records as u32).map(|i| samples(i, 0, 2)).collect();
        wal.write(&good).unwrap();
        drop(wal);
        let seg1 = segment_path(tmp.path(), 1);
        let mut bytes = std::fs::read(&seg1).unwrap();
        bytes.extend_from_slice(&garbage);
        std::fs::write(&seg1, &bytes).unwrap();
        if garbage_in_middle {
            let wal = Wal::open(tmp.path(), opts(FsyncPolicy::Never)).unwrap();
            wal.write(&[series(9, "later")]).unwrap();
            drop(wal);
        }
        let (back, stats) = replay_all(tmp.path());
        // Random garbage may by chance hold valid records; the good prefix always survives.
        proptest::prop_assert_eq!(&back[..good.len()], &good[..]);
        if garbage_in_middle {
            proptest::prop_assert_eq!(back.last(), Some(&series(9, "later")));
            proptest::prop_assert!(!stats.torn_tail_truncated);
        } else {
            // After the repair the segment replays cleanly.
            let (again, stats) = replay_all(tmp.path());
            proptest::prop_assert_eq!(again, back);
            proptest::prop_assert!(!stats.torn_tail_truncated);
        }
    }
}
