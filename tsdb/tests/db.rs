//! The database through its public API: appends, rejections, reads, and WAL replay.

use tianshu_tsdb::{
    is_stale_nan, stale_nan, Db, DbOptions, FsyncPolicy, Labels, MatchOp, Matcher, MetricMetadata,
    RejectReason, Sample, SeriesSamples,
};

fn opts() -> DbOptions {
    DbOptions {
        wal_fsync: FsyncPolicy::Never,
        ..DbOptions::default()
    }
}

fn series(name: &str, extra: &[(&str, &str)], samples: &[(i64, f64)]) -> SeriesSamples {
    let mut pairs = vec![("__name__", name)];
    pairs.extend_from_slice(extra);
    SeriesSamples {
        labels: Labels::from_pairs(pairs),
        samples: samples.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
    }
}

fn eq(name: &str, value: &str) -> Matcher {
    Matcher::new(MatchOp::Equal, name, value).unwrap()
}

#[test]
fn append_then_select_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let r = db
        .append(&[
            series("up", &[("job", "a")], &[(1000, 1.0), (2000, 0.0)]),
            series("up", &[("job", "b")], &[(1000, 1.0)]),
        ])
        .unwrap();
    assert_eq!(r.appended, 3);
    assert_eq!(r.new_series, 2);
    assert_eq!(r.rejected, 0);

    let got = db.select(&[eq("__name__", "up")], 0, 10_000);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].labels.get("job"), Some("a"));
    assert_eq!(
        got[0].samples,
        vec![Sample::new(1000, 1.0), Sample::new(2000, 0.0)]
    );
    // The time range bounds are inclusive at both ends.
    let got = db.select(&[eq("job", "a")], 2000, 2000);
    assert_eq!(got[0].samples, vec![Sample::new(2000, 0.0)]);
    // Series without samples in the range are left out.
    assert!(db.select(&[eq("job", "b")], 1500, 3000).is_empty());
}

#[test]
fn rejections_follow_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.append(&[series("m", &[], &[(10_000, 1.0)])]).unwrap();

    // Identical sample: a no-op, not an error, so retries are harmless.
    let r = db.append(&[series("m", &[], &[(10_000, 1.0)])]).unwrap();
    assert_eq!((r.appended, r.duplicates, r.rejected), (0, 1, 0));

    let r = db.append(&[series("m", &[], &[(10_000, 2.0)])]).unwrap();
    assert_eq!(
        r.first_rejection.map(|x| x.reason),
        Some(RejectReason::DuplicateTimestamp)
    );

    // One request: the in-order samples are kept, the out-of-order one is reported.
    let r = db
        .append(&[series("m", &[], &[(9_000, 1.0), (11_000, 3.0)])])
        .unwrap();
    assert_eq!((r.appended, r.rejected), (1, 1));
    let rej = r.first_rejection.unwrap();
    assert_eq!(rej.reason, RejectReason::OutOfOrder);
    assert_eq!(rej.t, 9_000);
    assert_eq!(rej.reason.to_string(), "out of order sample");

    // A new series far behind the head's newest sample is out of bounds.
    let hour = 3_600_000;
    db.append(&[series("m", &[], &[(10 * hour, 1.0)])]).unwrap();
    let r = db
        .append(&[series("other", &[], &[(8 * hour, 1.0)])])
        .unwrap();
    assert_eq!(
        r.first_rejection.map(|x| x.reason),
        Some(RejectReason::TooOld)
    );
}

#[test]
fn resending_a_stored_write_is_a_no_op() {
    // A client whose first attempt was stored but never answered (crash) resends the
    // whole request; every sample in it is a duplicate, not an out-of-order sample.
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let write = [series("m", &[], &[(1000, 1.0), (2000, 2.0), (3000, 3.0)])];
    db.append(&write).unwrap();
    let r = db.append(&write).unwrap();
    assert_eq!((r.appended, r.duplicates, r.rejected), (0, 3, 0));
    // Also across chunk boundaries: fill several chunks, then resend an old part.
    let many: Vec<(i64, f64)> = (4..1000).map(|i| (i * 1000, i as f64)).collect();
    db.append(&[series("m", &[], &many)]).unwrap();
    let r = db.append(&[series("m", &[], &many[10..20])]).unwrap();
    assert_eq!((r.duplicates, r.rejected), (10, 0));
    // A different value at an old timestamp is still out of order.
    let r = db.append(&[series("m", &[], &[(5000, 7.0)])]).unwrap();
    assert_eq!(
        r.first_rejection.map(|x| x.reason),
        Some(RejectReason::OutOfOrder)
    );
    // An old timestamp the series never had is out of order as well.
    let r = db.append(&[series("m", &[], &[(5500, 5.0)])]).unwrap();
    assert_eq!(r.rejected, 1);
}

#[test]
fn same_series_twice_in_one_write_is_checked_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    let r = db
        .append(&[
            series("m", &[], &[(1000, 1.0), (2000, 2.0)]),
            series("m", &[], &[(1500, 9.0), (3000, 3.0)]),
        ])
        .unwrap();
    assert_eq!((r.appended, r.rejected), (3, 1));
    let got = db.select(&[eq("__name__", "m")], 0, 10_000);
    let ts: Vec<i64> = got[0].samples.iter().map(|s| s.t).collect();
    assert_eq!(ts, vec![1000, 2000, 3000]);
}

#[test]
fn stale_markers_survive_storage_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        db.append(&[series("m", &[], &[(1000, 1.0), (2000, stale_nan())])])
            .unwrap();
    }
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = db.select(&[eq("__name__", "m")], 0, 10_000);
    assert!(is_stale_nan(got[0].samples[1].v));
}

#[test]
fn replay_restores_series_samples_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let md = MetricMetadata {
        metric_family: "http_requests_total".into(),
        kind: "counter".into(),
        help: "Requests.".into(),
        unit: String::new(),
    };
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        for i in 0..1000i64 {
            db.append(&[
                series(
                    "http_requests_total",
                    &[("code", "200")],
                    &[(i * 1000, i as f64)],
                ),
                series(
                    "http_requests_total",
                    &[("code", "500")],
                    &[(i * 1000, 0.5)],
                ),
            ])
            .unwrap();
        }
        db.set_metadata(vec![md.clone()]).unwrap();
    }
    // Reopen twice: the second replay reads segments of both earlier runs.
    for round in 0..2 {
        let db = Db::open(dir.path(), opts()).unwrap();
        let got = db.select(&[eq("code", "200")], 0, i64::MAX);
        // Each round appends one sample past the first thousand.
        assert_eq!(got[0].samples.len(), 1000 + round as usize, "round {round}");
        assert_eq!(got[0].samples[999], Sample::new(999_000, 999.0));
        assert_eq!(db.stats().num_series, 2);
        assert_eq!(
            db.metadata(Some("http_requests_total"), None)["http_requests_total"],
            vec![md.clone()]
        );
        // New writes after a replay keep working and keep their order rules.
        let t = 1_000_000 + round * 1000;
        let r = db
            .append(&[series(
                "http_requests_total",
                &[("code", "200")],
                &[(t, 1.0)],
            )])
            .unwrap();
        assert_eq!(r.appended, 1);
    }
}

#[test]
fn torn_wal_tail_loses_only_the_torn_record() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(dir.path(), opts()).unwrap();
        db.append(&[series("m", &[], &[(1000, 1.0)])]).unwrap();
        db.append(&[series("m", &[], &[(2000, 2.0)])]).unwrap();
    }
    // Cut the newest non-empty segment in the middle of its last record.
    let wal = dir.path().join("wal");
    let mut segs: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::metadata(p).unwrap().len() > 0)
        .collect();
    segs.sort();
    let last = segs.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(last).unwrap();
    f.set_len(len - 3).unwrap();
    drop(f);

    let db = Db::open(dir.path(), opts()).unwrap();
    let got = db.select(&[eq("__name__", "m")], 0, 10_000);
    assert_eq!(got[0].samples, vec![Sample::new(1000, 1.0)]);
    // The database accepts writes after the truncated point.
    let r = db.append(&[series("m", &[], &[(2000, 2.0)])]).unwrap();
    assert_eq!(r.appended, 1);
}

#[test]
fn label_queries_and_series() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), opts()).unwrap();
    db.append(&[
        series("up", &[("job", "node"), ("instance", "a")], &[(1000, 1.0)]),
        series("up", &[("job", "prom"), ("instance", "b")], &[(1000, 1.0)]),
        series("go_goroutines", &[("job", "prom")], &[(5000, 9.0)]),
    ])
    .unwrap();
    assert_eq!(
        db.label_names(&[], 0, 10_000),
        vec!["__name__", "instance", "job"]
    );
    assert_eq!(
        db.label_values("__name__", &[], 0, 10_000),
        vec!["go_goroutines", "up"]
    );
    assert_eq!(
        db.label_values("instance", &[eq("job", "prom")], 0, 10_000),
        vec!["b"]
    );
    // Outside the head's time range there is nothing.
    assert!(db.label_names(&[], 20_000, 30_000).is_empty());

    let re = Matcher::new(MatchOp::RegexMatch, "job", "pro.*").unwrap();
    let s = db.series(&[re], 0, 10_000);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].metric_name(), Some("go_goroutines"));
    // Series filters by each series' own time range.
    assert_eq!(db.series(&[eq("job", "prom")], 4000, 6000).len(), 1);
}
