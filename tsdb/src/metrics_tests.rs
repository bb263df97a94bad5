//! The engine's metrics count what it did: cuts, merges, checkpoints, retention by time
//! and by size, tombstone cleaning, failures, and what opening found damaged.

use prometheus_client::encoding::text::encode;
use prometheus_client::registry::Registry;

use crate::fault;
use crate::{Db, DbOptions, FsyncPolicy, Labels, MatchOp, Matcher, Sample, SeriesSamples};

const RANGE: i64 = 10_000;

fn opts() -> DbOptions {
    DbOptions {
        wal_fsync: FsyncPolicy::Never,
        wal_segment_size: 2048,
        block_range_ms: RANGE,
        compaction_ranges_ms: vec![3 * RANGE],
        head_cut_interval: None,
        head_chunk_write_interval: None,
        ..DbOptions::default()
    }
}

fn labels(k: usize) -> Labels {
    Labels::from_pairs([("__name__", "m".to_string()), ("k", k.to_string())])
}

/// Two series, a sample every 100 ms in `[from, to)`.
fn write(db: &Db, from: i64, to: i64) {
    for t in (from..to).step_by(100) {
        let batch: Vec<SeriesSamples> = (0..2)
            .map(|k| SeriesSamples {
                labels: labels(k),
                samples: vec![Sample::new(t, t as f64)],
            })
            .collect();
        let r = db.append(&batch).unwrap_or_else(|e| panic!("append: {e}"));
        assert_eq!(r.rejected, 0, "t={t}");
    }
}

fn exposition(db: &Db) -> String {
    let mut registry = Registry::default();
    db.metrics().register(&mut registry);
    let mut out = String::new();
    encode(&mut out, &registry).unwrap_or_else(|e| panic!("encode: {e}"));
    out
}

/// The value of the sample line `name` (with no labels) in `text`.
fn value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[test]
fn cuts_merges_checkpoints_retention_and_cleaning_are_counted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = Db::open(
        dir.path(),
        DbOptions {
            retention_ms: Some(2 * RANGE),
            ..opts()
        },
    )
    .unwrap_or_else(|e| panic!("open: {e}"));
    write(&db, 0, 45_000);
    // The head spans 4.5 ranges: the cuts leave it at most 1.5, i.e. [0, 30 s) in blocks.
    let cut = db.compact_head().unwrap_or_else(|e| panic!("cut: {e}"));
    assert_eq!(cut, 3);
    let text = exposition(&db);
    assert_eq!(value(&text, "tianshu_tsdb_compactions_total"), 3.0);
    assert_eq!(value(&text, "tianshu_tsdb_head_truncations_total"), 3.0);
    assert_eq!(
        value(&text, "tianshu_tsdb_compaction_duration_seconds_count"),
        3.0
    );
    assert_eq!(value(&text, "tianshu_tsdb_checkpoint_creations_total"), 3.0);
    assert_eq!(value(&text, "tianshu_tsdb_compactions_failed_total"), 0.0);

    // The closed window [0, 30 s) is merged into one block.
    assert_eq!(db.compact_blocks().unwrap_or_else(|e| panic!("{e}")), 1);
    let text = exposition(&db);
    assert_eq!(value(&text, "tianshu_tsdb_compactions_total"), 4.0);
    assert_eq!(
        value(&text, "tianshu_tsdb_compaction_duration_seconds_count"),
        4.0
    );

    // Deleted samples in the block, then cleaned out of it.
    let k0 = Matcher::new(MatchOp::Equal, "k", "0").unwrap_or_else(|e| panic!("{e}"));
    db.delete_series(&[k0], 0, 5_000)
        .unwrap_or_else(|e| panic!("delete: {e}"));
    assert_eq!(db.clean_tombstones().unwrap_or_else(|e| panic!("{e}")), 1);
    assert_eq!(
        value(
            &exposition(&db),
            "tianshu_tsdb_tombstone_cleanup_seconds_count"
        ),
        1.0
    );

    // Two more ranges cut: the merged block ends 20 s behind the newest block's end.
    write(&db, 45_000, 65_000);
    assert_eq!(db.compact_head().unwrap_or_else(|e| panic!("{e}")), 2);
    assert_eq!(db.apply_retention().unwrap_or_else(|e| panic!("{e}")), 1);
    let text = exposition(&db);
    assert_eq!(value(&text, "tianshu_tsdb_time_retentions_total"), 1.0);
    assert_eq!(value(&text, "tianshu_tsdb_size_retentions_total"), 0.0);
}

#[test]
fn size_retention_is_counted_apart_from_time_retention() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = Db::open(
        dir.path(),
        DbOptions {
            // Less than any data: every block but what the limit cannot reach goes.
            retention_bytes: Some(1),
            compaction_ranges_ms: Vec::new(),
            ..opts()
        },
    )
    .unwrap_or_else(|e| panic!("open: {e}"));
    write(&db, 0, 35_000);
    assert_eq!(db.compact_head().unwrap_or_else(|e| panic!("{e}")), 2);
    assert_eq!(db.apply_retention().unwrap_or_else(|e| panic!("{e}")), 2);
    let text = exposition(&db);
    assert_eq!(value(&text, "tianshu_tsdb_size_retentions_total"), 2.0);
    assert_eq!(value(&text, "tianshu_tsdb_time_retentions_total"), 0.0);
}

#[test]
fn a_failed_cut_counts_as_a_failed_compaction() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let db = Db::open(dir.path(), opts()).unwrap_or_else(|e| panic!("open: {e}"));
    write(&db, 0, 25_000);
    db.inner().crash_points.arm(fault::BLOCK_WRITTEN);
    assert!(db.compact_head().is_err());
    let text = exposition(&db);
    assert_eq!(value(&text, "tianshu_tsdb_compactions_failed_total"), 1.0);
    assert_eq!(value(&text, "tianshu_tsdb_compactions_total"), 0.0);
    assert_eq!(value(&text, "tianshu_tsdb_head_truncations_total"), 0.0);
}

#[test]
fn opening_counts_blocks_moved_aside_and_wal_damage() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    {
        let db = Db::open(dir.path(), opts()).unwrap_or_else(|e| panic!("open: {e}"));
        write(&db, 0, 25_000);
        assert_eq!(db.compact_head().unwrap_or_else(|e| panic!("{e}")), 1);
    }
    let block = std::fs::read_dir(dir.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.path())
        .find(|p| crate::block::is_block_dir(p))
        .unwrap_or_else(|| panic!("no block"));
    let index = block.join("index");
    let mut bytes = std::fs::read(&index).unwrap_or_else(|e| panic!("{e}"));
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&index, bytes).unwrap_or_else(|e| panic!("{e}"));
    // A torn record at the end of the newest WAL segment.
    let wal = dir.path().join("wal");
    let newest = std::fs::read_dir(&wal)
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .max()
        .unwrap_or_else(|| panic!("no WAL segment"));
    let mut seg = std::fs::OpenOptions::new()
        .append(true)
        .open(&newest)
        .unwrap_or_else(|e| panic!("{e}"));
    std::io::Write::write_all(&mut seg, &[0x01, 0x00, 0x00, 0x40, 0xde, 0xad])
        .unwrap_or_else(|e| panic!("{e}"));
    drop(seg);

    let db = Db::open(dir.path(), opts()).unwrap_or_else(|e| panic!("reopen: {e}"));
    let text = exposition(&db);
    assert_eq!(value(&text, "tianshu_tsdb_blocks_corrupted_total"), 1.0);
    assert_eq!(value(&text, "tianshu_tsdb_wal_corruptions_total"), 1.0);
    assert!(value(&text, "tianshu_tsdb_data_replay_duration_seconds") >= 0.0);
}
