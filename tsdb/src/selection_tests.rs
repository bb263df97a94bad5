use std::cell::Cell;
use std::sync::Arc;

use crate::head::Head;
use crate::{Db, DbOptions, FsyncPolicy, Labels, MatchOp, Matcher, Sample, SeriesSamples};

fn labels(pod: usize) -> Labels {
    Labels::from_pairs([
        ("__name__", "m".to_string()),
        ("job", "api".to_string()),
        ("pod", format!("p{pod}")),
    ])
}

fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher::new(op, name, value).expect("matcher")
}

/// Each pod's labels and samples as `select_chunks` answers them, decoded.
fn selected(db: &Db, matchers: &[Matcher]) -> Vec<(String, Vec<Sample>)> {
    db.select_chunks(matchers, i64::MIN, i64::MAX)
        .expect("select")
        .into_iter()
        .map(|s| {
            let pod = s.labels.get("pod").unwrap_or("").to_string();
            (pod, s.samples(i64::MIN, i64::MAX).expect("decode"))
        })
        .collect()
}

fn open(block_range_ms: i64) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("tmp");
    let db = Db::open(
        dir.path(),
        DbOptions {
            wal_fsync: FsyncPolicy::Never,
            block_range_ms,
            head_cut_interval: None,
            head_chunk_write_interval: None,
            ..DbOptions::default()
        },
    )
    .expect("open");
    (dir, db)
}

fn append(db: &Db, pods: impl IntoIterator<Item = usize>, t: i64) {
    let batch: Vec<SeriesSamples> = pods
        .into_iter()
        .map(|p| SeriesSamples {
            labels: labels(p),
            samples: vec![Sample::new(t, p as f64)],
        })
        .collect();
    db.append(&batch).expect("append");
}

#[test]
fn repeated_matchers_reuse_their_selection_until_a_series_is_created_or_removed() {
    let head = Head::for_tests();
    let ids: Vec<_> = (0..3).map(|p| head.get_or_create(&labels(p)).0).collect();
    let by_job = [
        m("__name__", MatchOp::Equal, "m"),
        m("job", MatchOp::RegexMatch, "a.*"),
    ];
    let resolved = Cell::new(0);
    let get = |ms: &[Matcher]| {
        head.selections.get_or_resolve(ms, || {
            resolved.set(resolved.get() + 1);
            head.selection(ms)
        })
    };
    let first = get(&by_job);
    assert_eq!(first.series.len(), 3);
    let pods: Vec<_> = first.series.iter().map(|(_, l)| l.clone()).collect();
    assert_eq!(pods, [labels(0), labels(1), labels(2)]);
    // The same matchers, in any order, are answered from the cache.
    let swapped = [by_job[1].clone(), by_job[0].clone()];
    assert!(Arc::ptr_eq(&first, &get(&swapped)));
    assert!(Arc::ptr_eq(&first, &get(&by_job)));
    assert_eq!(resolved.get(), 1);
    // Other matchers are another entry, not a wrong hit.
    let one = [m("pod", MatchOp::Equal, "p1")];
    assert_eq!(get(&one).series.len(), 1);
    assert_eq!(resolved.get(), 2);
    assert_eq!(head.selections.len(), 2);

    head.get_or_create(&labels(7));
    let after_create = get(&by_job);
    assert_eq!(resolved.get(), 3);
    assert_eq!(after_create.series.len(), 4);
    assert_eq!(after_create.series[3].1, labels(7));
    // Creating a known series changes nothing.
    head.get_or_create(&labels(7));
    assert!(Arc::ptr_eq(&after_create, &get(&by_job)));

    head.remove(ids[1]);
    let after_remove = get(&by_job);
    assert_eq!(resolved.get(), 4, "one resolve after the removal");
    let left: Vec<_> = after_remove.series.iter().map(|(s, _)| s.id).collect();
    assert!(!left.contains(&ids[1]), "{left:?}");
    assert_eq!(left.len(), 3);
    // Stale selections were dropped, releasing the removed series.
    assert_eq!(head.selections.len(), 1);
}

#[test]
fn a_series_created_between_two_ticks_appears_in_the_next_and_a_deleted_one_goes() {
    let (_dir, db) = open(2 * 3_600_000);
    let all = [m("__name__", MatchOp::Equal, "m")];
    append(&db, 0..3, 1_000);
    let pods = |db: &Db| -> Vec<String> { selected(db, &all).into_iter().map(|s| s.0).collect() };
    assert_eq!(pods(&db), ["p0", "p1", "p2"]);
    assert_eq!(pods(&db), ["p0", "p1", "p2"]);
    append(&db, [3, 0, 1, 2], 2_000);
    assert_eq!(pods(&db), ["p0", "p1", "p2", "p3"]);
    let got = selected(&db, &all);
    assert_eq!(
        got[3].1,
        [Sample::new(2_000, 3.0)],
        "the new series' samples"
    );
    assert_eq!(got[0].1, [Sample::new(1_000, 0.0), Sample::new(2_000, 0.0)]);
    db.delete_series(&[m("pod", MatchOp::Equal, "p1")], i64::MIN, i64::MAX)
        .expect("delete");
    assert_eq!(pods(&db), ["p0", "p2", "p3"]);
}

#[test]
fn a_series_a_cut_removes_from_the_head_is_answered_from_its_block_once() {
    let (_dir, db) = open(10_000);
    let all = [m("__name__", MatchOp::Equal, "m")];
    // p0 and p1 span the cut; p2 ends before it and leaves the head with it.
    for t in (0..25_000).step_by(1000) {
        let pods: Vec<usize> = (0..3).filter(|&p| p < 2 || t < 5_000).collect();
        append(&db, pods, t);
    }
    let before = selected(&db, &all);
    assert_eq!(before.len(), 3);
    assert!(db.compact_head().expect("cut") > 0);
    let after = selected(&db, &all);
    assert_eq!(after, before, "same series and samples after the cut");
    append(&db, [4, 0], 25_000);
    let pods: Vec<String> = selected(&db, &all).into_iter().map(|s| s.0).collect();
    assert_eq!(pods, ["p0", "p1", "p2", "p4"]);
}
