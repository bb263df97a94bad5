//! Out-of-order samples within the window: accepted, queryable, replayed, and cut into
//! blocks like the others.

use tianshu_tsdb::{
    Db, DbOptions, FsyncPolicy, Labels, MatchOp, Matcher, RejectReason, Sample, SeriesSamples,
};

const MIN: i64 = 60_000;

fn opts() -> DbOptions {
    DbOptions {
        wal_fsync: FsyncPolicy::Never,
        ooo_window_ms: 10 * MIN,
        block_range_ms: 20 * MIN,
        head_cut_interval: None,
        ..DbOptions::default()
    }
}

fn write(db: &Db, name: &str, samples: &[(i64, f64)]) -> tianshu_tsdb::AppendReport {
    db.append(&[SeriesSamples {
        labels: Labels::from_pairs([("__name__", name)]),
        samples: samples.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
    }])
    .unwrap()
}

fn read(db: &Db, name: &str) -> Vec<(i64, f64)> {
    let m = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
    db.select(&[m], i64::MIN, i64::MAX)
        .first()
        .map(|s| s.samples.iter().map(|x| (x.t, x.v)).collect())
        .unwrap_or_default()
}

#[test]
fn samples_within_the_window_are_accepted_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        assert_eq!(
            write(&db, "m", &[(20 * MIN, 1.0), (30 * MIN, 3.0)]).appended,
            2
        );
        // 5 and 9 minutes late: accepted, in one write and out of order within it.
        let r = write(&db, "m", &[(25 * MIN, 2.0), (21 * MIN, 1.5)]);
        assert_eq!((r.appended, r.rejected), (2, 0));
        // The same sample again is a no-op; another value at its timestamp is not.
        let r = write(&db, "m", &[(25 * MIN, 2.0)]);
        assert_eq!(r.duplicates, 1);
        let r = write(&db, "m", &[(25 * MIN, 9.0)]);
        assert_eq!(
            r.first_rejection.map(|x| x.reason),
            Some(RejectReason::DuplicateTimestamp)
        );
        // Beyond the window: out of order, naming the sample.
        let r = write(&db, "m", &[(19 * MIN, 0.5)]);
        let rej = r.first_rejection.unwrap();
        assert_eq!((rej.reason, rej.t), (RejectReason::OutOfOrder, 19 * MIN));
        assert_eq!(
            read(&db, "m"),
            vec![
                (20 * MIN, 1.0),
                (21 * MIN, 1.5),
                (25 * MIN, 2.0),
                (30 * MIN, 3.0)
            ]
        );
        // In-order samples still follow.
        assert_eq!(write(&db, "m", &[(31 * MIN, 4.0)]).appended, 1);
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(
        read(&db, "m"),
        vec![
            (20 * MIN, 1.0),
            (21 * MIN, 1.5),
            (25 * MIN, 2.0),
            (30 * MIN, 3.0),
            (31 * MIN, 4.0)
        ]
    );
    // A duplicate of a replayed out-of-order sample is still recognised.
    assert_eq!(write(&db, "m", &[(21 * MIN, 1.5)]).duplicates, 1);
}

#[test]
fn out_of_order_samples_are_cut_into_blocks_with_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let want;
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        // Every minute for an hour, each write also carrying a sample 90 s late.
        for i in 0..60i64 {
            let t = i * MIN;
            let mut batch = vec![(t + 30_000, i as f64)];
            if i > 1 {
                batch.push((t - 90_000 + 15_000, -(i as f64)));
            }
            let r = write(&db, "m", &batch);
            assert_eq!(r.rejected, 0, "minute {i}");
        }
        want = read(&db, "m");
        assert_eq!(want.len(), 60 + 58);
        assert!(want.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(db.compact_head().unwrap() > 0);
        assert!(db.stats().num_blocks > 0);
        assert_eq!(read(&db, "m"), want);
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(read(&db, "m"), want);
}
