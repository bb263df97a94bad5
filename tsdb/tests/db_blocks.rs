//! The database with blocks: queries spanning blocks and head, cutting the head, WAL
//! checkpoints, and what start-up does with leftovers and corrupt blocks.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tianshu_tsdb::block::{is_block_dir, Block};
use tianshu_tsdb::{
    Db, DbOptions, FsyncPolicy, Labels, MatchOp, Matcher, RejectReason, Sample, SeriesSamples,
};

/// Blocks of 10 s: a minute of data makes several.
const RANGE: i64 = 10_000;

fn opts() -> DbOptions {
    DbOptions {
        wal_fsync: FsyncPolicy::Never,
        wal_segment_size: 4096,
        block_range_ms: RANGE,
        head_cut_interval: None,
        ..DbOptions::default()
    }
}

fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap()
}

fn labels(name: &str, job: &str, inst: &str) -> Labels {
    Labels::from_pairs([("__name__", name), ("job", job), ("instance", inst)])
}

/// Value of sample `t` of series `k`: unique, so a misplaced sample shows.
fn value(k: usize, t: i64) -> f64 {
    (k as f64) * 1e6 + t as f64 / 7.0
}

/// Series: `k` and the time span each one has samples in (every 100 ms).
fn workload() -> Vec<(Labels, i64, i64)> {
    vec![
        (labels("up", "node", "a"), 0, 60_000),
        (labels("up", "node", "b"), 0, 60_000),
        (labels("up", "prom", "c"), 500, 59_000),
        // Ends early: after the cuts it lives in blocks only.
        (labels("cpu", "node", "a"), 0, 4_000),
        // Starts late: head only.
        (labels("cpu", "node", "b"), 55_000, 60_000),
        // Straddles block boundaries at odd times.
        (labels("mem", "prom", "c"), 9_950, 31_050),
    ]
}

/// Appends the workload in time order, one write per 100 ms step.
fn fill(db: &Db) -> u64 {
    let w = workload();
    let mut n = 0;
    for t in (0..60_000).step_by(100) {
        let batch: Vec<SeriesSamples> = w
            .iter()
            .enumerate()
            .filter(|(_, (_, lo, hi))| t >= *lo && t < *hi)
            .map(|(k, (l, _, _))| SeriesSamples {
                labels: l.clone(),
                samples: vec![Sample::new(t, value(k, t))],
            })
            .collect();
        let r = db.append(&batch).unwrap();
        assert_eq!(r.rejected, 0);
        n += r.appended;
    }
    n
}

/// Everything a query can ask, as comparable strings.
fn answers(db: &Db) -> Vec<String> {
    let selects: Vec<(Vec<Matcher>, i64, i64)> = vec![
        (
            vec![m(MatchOp::Equal, "__name__", "up")],
            i64::MIN,
            i64::MAX,
        ),
        (vec![m(MatchOp::RegexMatch, "job", ".+")], 0, 60_000),
        (vec![m(MatchOp::Equal, "job", "node")], 9_999, 10_000),
        (vec![m(MatchOp::NotEqual, "instance", "a")], 15_000, 45_000),
        (
            vec![m(MatchOp::RegexMatch, "__name__", "cpu|mem")],
            0,
            5_000,
        ),
        (vec![m(MatchOp::Equal, "__name__", "mem")], 31_000, 31_100),
        (vec![m(MatchOp::Equal, "instance", "b")], 50_000, 56_000),
        (vec![m(MatchOp::RegexMatch, "job", "n.*")], 59_900, 70_000),
        (vec![m(MatchOp::Equal, "job", "nope")], 0, 60_000),
    ];
    let mut out = Vec::new();
    for (ms, lo, hi) in &selects {
        out.push(format!(
            "select {ms:?} [{lo},{hi}] {:?}",
            db.select(ms, *lo, *hi)
        ));
        out.push(format!(
            "series {ms:?} [{lo},{hi}] {:?}",
            db.series(ms, *lo, *hi)
        ));
    }
    let all = (i64::MIN, i64::MAX);
    out.push(format!("names {:?}", db.label_names(&[], all.0, all.1)));
    out.push(format!(
        "names job=prom {:?}",
        db.label_names(&[m(MatchOp::Equal, "job", "prom")], all.0, all.1)
    ));
    for name in ["__name__", "job", "instance", "missing"] {
        out.push(format!(
            "values {name} {:?}",
            db.label_values(name, &[], all.0, all.1)
        ));
        out.push(format!(
            "values {name} cpu {:?}",
            db.label_values(name, &[m(MatchOp::Equal, "__name__", "cpu")], 0, 60_000)
        ));
    }
    out
}

fn assert_same(a: &[String], b: &[String], what: &str) {
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(x, y, "{what}");
    }
}

fn block_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| is_block_dir(p))
        .collect();
    out.sort();
    out
}

#[test]
fn queries_answer_the_same_before_and_after_a_cut_and_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let before;
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        let n = fill(&db);
        before = answers(&db);
        assert!(before[0].contains("Sample"), "the workload selects samples");
        // 60 s of data in 10 s blocks: cut until the head spans at most 15 s.
        assert_eq!(db.compact_head().unwrap(), 5);
        assert_eq!(db.compact_head().unwrap(), 0);
        let st = db.stats();
        assert_eq!(st.num_blocks, 5);
        assert!(st.blocks_bytes > 0);
        assert_eq!(st.head_min_time, Some(50_000));
        // The early series left the head; the others are still there.
        assert_eq!(st.num_series, 4);
        assert_same(&before, &answers(&db), "after the cut");
        let total: usize = db
            .select(&[m(MatchOp::RegexMatch, "__name__", ".+")], 0, 60_000)
            .iter()
            .map(|s| s.samples.len())
            .sum();
        assert_eq!(total as u64, n);
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().num_blocks, 5);
    assert_same(&before, &answers(&db), "after restart");
    // The replayed WAL started from a checkpoint, not from the first segment.
    let wal: Vec<String> = std::fs::read_dir(dir.path().join("wal"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        wal.iter().filter(|n| n.starts_with("checkpoint.")).count(),
        1,
        "{wal:?}"
    );
    assert!(!wal.contains(&"00000001".to_string()), "{wal:?}");
}

#[test]
fn samples_in_a_cut_range_are_out_of_bounds() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        DbOptions {
            max_sample_age_ms: i64::MAX / 2,
            ..opts()
        },
    )
    .unwrap();
    fill(&db);
    db.compact_head().unwrap();
    let w = workload();
    // A new series in the closed range, and an old timestamp of an existing one.
    let r = db
        .append(&[
            SeriesSamples {
                labels: labels("new", "x", "y"),
                samples: vec![Sample::new(49_999, 1.0)],
            },
            SeriesSamples {
                labels: w[0].0.clone(),
                samples: vec![Sample::new(20_000, value(0, 20_000))],
            },
        ])
        .unwrap();
    assert_eq!(r.rejected, 2);
    assert_eq!(
        r.first_rejection.map(|x| x.reason),
        Some(RejectReason::TooOld)
    );
    // At the boundary and after it, writes go on.
    let r = db
        .append(&[SeriesSamples {
            labels: labels("new", "x", "y"),
            samples: vec![Sample::new(50_000, 1.0), Sample::new(61_000, 2.0)],
        }])
        .unwrap();
    assert_eq!((r.appended, r.rejected), (2, 0));
}

#[test]
fn cut_checkpoint_then_kill_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let expected;
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        fill(&db);
        db.compact_head().unwrap();
        // More acknowledged writes after the checkpoint, in the head and the new segment.
        let extra: Vec<Sample> = (600..700)
            .map(|i| Sample::new(i * 100, value(0, i * 100)))
            .collect();
        let r = db
            .append(&[SeriesSamples {
                labels: workload()[0].0.clone(),
                samples: extra,
            }])
            .unwrap();
        assert_eq!(r.appended, 100);
        expected = db.select(&[m(MatchOp::RegexMatch, "job", ".+")], i64::MIN, i64::MAX);
        // Dropped without any shutdown step but the WAL's own, as after a kill -9 the OS
        // still has every written byte.
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = db.select(&[m(MatchOp::RegexMatch, "job", ".+")], i64::MIN, i64::MAX);
    assert_eq!(got, expected);
    let up_a = &got[got
        .iter()
        .position(|s| s.labels == workload()[0].0)
        .unwrap()];
    assert_eq!(up_a.samples.len(), 700);
    // Writing and cutting again after the restart keeps everything too.
    let r = db
        .append(&[SeriesSamples {
            labels: workload()[0].0.clone(),
            samples: vec![Sample::new(200_000, 1.0)],
        }])
        .unwrap();
    assert_eq!(r.appended, 1);
    assert!(db.compact_head().unwrap() > 0);
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = db.select(&[m(MatchOp::RegexMatch, "job", ".+")], i64::MIN, 199_999);
    assert_eq!(got, expected);
}

#[test]
fn a_corrupt_block_is_moved_aside_and_the_rest_served() {
    let dir = tempfile::tempdir().unwrap();
    let all = [m(MatchOp::RegexMatch, "__name__", ".+")];
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        fill(&db);
        db.compact_head().unwrap();
    }
    let blocks = block_dirs(dir.path());
    assert_eq!(blocks.len(), 5);
    // Damage a chunk byte in the second block (10 s – 20 s).
    let victim = blocks
        .iter()
        .find(|p| Block::open(p).unwrap().meta().min_time == RANGE)
        .unwrap()
        .clone();
    let seg = victim.join("chunks").join("000001");
    let mut bytes = std::fs::read(&seg).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x5a;
    std::fs::write(&seg, bytes).unwrap();
    // And leave a block write that never finished.
    let tmp = dir.path().join("01JDAZ8K6T5V2Q9X0M3N4P5R6S.tmp");
    std::fs::create_dir_all(tmp.join("chunks")).unwrap();

    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().num_blocks, 4);
    assert!(!tmp.exists());
    let name = victim.file_name().unwrap();
    assert!(dir
        .path()
        .join("corrupted")
        .join(name)
        .join("index")
        .exists());
    assert!(!victim.exists());
    let got = db.select(&all, i64::MIN, i64::MAX);
    let up_a = got.iter().find(|s| s.labels == workload()[0].0).unwrap();
    let ts: Vec<i64> = up_a.samples.iter().map(|s| s.t).collect();
    assert!(ts.contains(&0) && ts.contains(&25_000) && ts.contains(&59_900));
    assert!(!ts.iter().any(|t| (RANGE..2 * RANGE).contains(t)));
    drop(db);
    // The next start finds nothing to move.
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().num_blocks, 4);
}

#[test]
fn the_background_thread_cuts_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(
        dir.path(),
        DbOptions {
            head_cut_interval: Some(Duration::from_millis(10)),
            ..opts()
        },
    )
    .unwrap();
    let before = {
        fill(&db);
        answers(&db)
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.stats().head_min_time != Some(50_000) {
        assert!(Instant::now() < deadline, "no cut: {:?}", db.stats());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(db.stats().num_blocks, 5);
    assert_same(&before, &answers(&db), "after background cuts");
    // Dropping stops the thread; the directory reopens with the same answers.
    drop(db);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_same(&before, &answers(&db), "after restart");
}

#[test]
fn appends_and_queries_run_while_the_head_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let db = std::sync::Arc::new(Db::open(dir.path(), opts()).unwrap());
    let l = labels("live", "w", "1");
    let sel = [m(MatchOp::Equal, "__name__", "live")];
    let writer = {
        let db = db.clone();
        let l = l.clone();
        std::thread::spawn(move || {
            for i in 0..3000i64 {
                let r = db
                    .append(&[SeriesSamples {
                        labels: l.clone(),
                        samples: vec![Sample::new(i * 100, i as f64)],
                    }])
                    .unwrap();
                assert_eq!(r.appended, 1, "sample {i}");
            }
        })
    };
    let mut cuts = 0;
    while !writer.is_finished() {
        cuts += db.compact_head().unwrap();
        // Every query sees a gap-free prefix of what was written.
        if let Some(s) = db.select(&sel, i64::MIN, i64::MAX).first() {
            for (i, smp) in s.samples.iter().enumerate() {
                assert_eq!(smp.t, i as i64 * 100);
            }
        }
    }
    writer.join().unwrap();
    cuts += db.compact_head().unwrap();
    assert!(cuts > 0);
    let s = db.select(&sel, i64::MIN, i64::MAX);
    assert_eq!(s[0].samples.len(), 3000);
}

#[test]
fn db_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Db>();
}

#[test]
fn retention_deletes_the_oldest_blocks_by_time_and_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let all = [m(MatchOp::RegexMatch, "__name__", ".+")];
    let first_t = |db: &Db| {
        db.select(&all, i64::MIN, i64::MAX)
            .iter()
            .filter_map(|s| s.samples.first().map(|x| x.t))
            .min()
    };
    {
        let db = Db::open(
            dir.path(),
            DbOptions {
                retention_ms: Some(25_000),
                ..opts()
            },
        )
        .unwrap();
        fill(&db);
        db.compact_head().unwrap();
        // Blocks end at 10, 20, 30, 40 and 50 s; those 25 s or more behind 50 s go.
        assert_eq!(db.apply_retention().unwrap(), 2);
        assert_eq!(db.apply_retention().unwrap(), 0);
        assert_eq!(db.stats().num_blocks, 3);
        assert_eq!(block_dirs(dir.path()).len(), 3);
        assert_eq!(first_t(&db), Some(20_000));
        // The series that ended at 4 s is gone with its blocks.
        let cpu_a = [
            m(MatchOp::Equal, "__name__", "cpu"),
            m(MatchOp::Equal, "instance", "a"),
        ];
        assert!(db.series(&cpu_a, i64::MIN, i64::MAX).is_empty());
    }
    let db = Db::open(
        dir.path(),
        DbOptions {
            retention_bytes: Some(1),
            ..opts()
        },
    )
    .unwrap();
    assert_eq!(first_t(&db), Some(20_000));
    // Over the size limit every block goes; the head stays.
    assert_eq!(db.apply_retention().unwrap(), 3);
    assert_eq!(db.stats().num_blocks, 0);
    assert_eq!(db.stats().blocks_bytes, 0);
    assert_eq!(first_t(&db), Some(50_000));
    assert!(block_dirs(dir.path()).is_empty());
}

#[test]
fn compaction_merges_closed_windows_and_answers_stay_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let copts = || DbOptions {
        compaction_ranges_ms: vec![3 * RANGE, 6 * RANGE],
        ..opts()
    };
    let sel = [m(MatchOp::RegexMatch, "__name__", ".+")];
    let (before, first_minute);
    {
        let db = Db::open(dir.path(), copts()).unwrap();
        fill(&db);
        before = answers(&db);
        first_minute = db.select(&sel, 0, 59_999);
        db.compact_head().unwrap();
        // Blocks [0,10) … [40,50) s; the floor is 50 s. Only [0,30) is a closed 30 s
        // window; [30,60) still takes blocks, and no 60 s window is closed.
        assert_eq!(db.compact_blocks().unwrap(), 1);
        assert_eq!(db.compact_blocks().unwrap(), 0);
        assert_eq!(db.stats().num_blocks, 3);
        assert_same(&before, &answers(&db), "after compaction");
        let metas: Vec<_> = block_dirs(dir.path())
            .iter()
            .map(|p| Block::open(p).unwrap().meta().clone())
            .collect();
        let merged = metas.iter().find(|m| m.min_time == 0).unwrap();
        assert_eq!(merged.max_time, 3 * RANGE);
        assert_eq!(merged.compaction.level, 2);
        assert_eq!(merged.compaction.sources.len(), 3);

        // Once the head moves on, the second window closes, then the 60 s one.
        let w = workload();
        for t in (60_000..80_000).step_by(100) {
            db.append(&[SeriesSamples {
                labels: w[0].0.clone(),
                samples: vec![Sample::new(t, value(0, t))],
            }])
            .unwrap();
        }
        db.compact_head().unwrap();
        assert_eq!(db.compact_blocks().unwrap(), 2);
        let metas: Vec<_> = block_dirs(dir.path())
            .iter()
            .map(|p| Block::open(p).unwrap().meta().clone())
            .collect();
        let big = metas.iter().find(|m| m.min_time == 0).unwrap();
        assert_eq!((big.max_time, big.compaction.level), (6 * RANGE, 3));
        assert_eq!(big.compaction.sources.len(), 6);
        assert!(db.select(&sel, 0, 59_999) == first_minute);
    }
    let db = Db::open(dir.path(), copts()).unwrap();
    assert!(db.select(&sel, 0, 59_999) == first_minute);
    assert_eq!(db.compact_blocks().unwrap(), 0);
}

#[test]
fn a_corrupt_wal_checkpoint_does_not_stop_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let later = labels("later", "x", "y");
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        fill(&db);
        db.compact_head().unwrap();
        db.append(&[SeriesSamples {
            labels: later.clone(),
            samples: vec![Sample::new(70_000, 1.0)],
        }])
        .unwrap();
    }
    let wal = dir.path().join("wal");
    let cp = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("checkpoint.")
        })
        .unwrap()
        .join("00000000");
    let mut bytes = std::fs::read(&cp).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&cp, bytes).unwrap();

    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(db.stats().num_blocks, 5);
    // Blocks and the segments after the checkpoint are served.
    let up_a = [
        m(MatchOp::Equal, "__name__", "up"),
        m(MatchOp::Equal, "instance", "a"),
    ];
    assert_eq!(db.select(&up_a, 0, 49_999)[0].samples.len(), 500);
    let got = db.select(&[m(MatchOp::Equal, "__name__", "later")], 0, 100_000);
    assert_eq!(got[0].samples, vec![Sample::new(70_000, 1.0)]);
}

#[test]
fn a_snapshot_opens_as_a_database_with_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    fill(&db);
    db.compact_head().unwrap();
    let want = answers(&db);
    let name = db.snapshot(false).unwrap();
    let snap = dir.path().join("snapshots").join(&name);
    assert!(snap.is_dir());
    assert_eq!(block_dirs(&snap).len(), 6, "five blocks and the head");
    drop(db);
    // The snapshot's blocks (hard links) stay when the database deletes its own.
    for p in block_dirs(dir.path()) {
        std::fs::remove_dir_all(p).unwrap();
    }
    let copy = Db::open(&snap, opts()).unwrap();
    assert_eq!(copy.stats().num_blocks, 6);
    assert_same(&want, &answers(&copy), "snapshot");

    let unfinished = dir.path().join("snapshots").join("20250101T000000Z-0.tmp");
    std::fs::create_dir_all(&unfinished).unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    assert!(!unfinished.exists());
    let name = db.snapshot(true).unwrap();
    assert_eq!(
        block_dirs(&dir.path().join("snapshots").join(name)).len(),
        0,
        "no blocks left and the head skipped"
    );
}
