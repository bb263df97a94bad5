use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::block::{write_block, BlockWriterOptions, ChunkEncoding};
use crate::chunk::XorChunk;
use crate::index::{MatchOp, Matcher};
use crate::labels::Labels;

fn all() -> Matcher {
    Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap_or_else(|e| panic!("{e}"))
}

fn chunk(ts: &[i64], k: usize) -> InputChunk {
    let mut c = XorChunk::new();
    for &t in ts {
        c.append(t, (t as f64) * 0.5 + k as f64);
    }
    InputChunk {
        min_t: ts[0],
        max_t: ts[ts.len() - 1],
        data: c.into_bytes(),
    }
}

fn labels(k: usize) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("k", &format!("{k:03}"))])
}

/// A block of the series `ks`, each with chunks of 10 samples at 1 s from `from_s`, for
/// `secs` seconds. `shift` moves the values so that blocks differ where they overlap.
fn block(parent: &Path, ks: &[usize], from_s: i64, secs: i64, shift: usize) -> Block {
    let series = ks.iter().map(|&k| {
        let ts: Vec<i64> = (from_s..from_s + secs).map(|s| s * 1000).collect();
        SeriesChunks {
            labels: labels(k),
            chunks: ts.chunks(10).map(|part| chunk(part, k + shift)).collect(),
        }
    });
    let opts = BlockWriterOptions {
        encoding: ChunkEncoding::Xor,
        ..BlockWriterOptions::default()
    };
    let meta = write_block(parent, from_s * 1000, (from_s + secs) * 1000, series, &opts)
        .unwrap_or_else(|e| panic!("write_block: {e}"));
    Block::open(&parent.join(meta.ulid)).unwrap_or_else(|e| panic!("open: {e}"))
}

/// What compaction did before it streamed: every block's series read whole into one map,
/// chunks of equal labels appended in block order.
fn merged_whole(blocks: &[&Block]) -> Vec<SeriesChunks> {
    let mut map: BTreeMap<Labels, Vec<InputChunk>> = BTreeMap::new();
    for b in blocks {
        let read = b
            .chunks_for(&[all()], i64::MIN, i64::MAX)
            .unwrap_or_else(|e| panic!("chunks_for: {e}"));
        for s in read {
            map.entry(s.labels)
                .or_default()
                .extend(s.chunks.into_iter().map(|c| InputChunk {
                    min_t: c.min_t,
                    max_t: c.max_t,
                    data: c.data.into_owned(),
                }));
        }
    }
    map.into_iter()
        .map(|(labels, chunks)| SeriesChunks { labels, chunks })
        .collect()
}

fn collect(m: MergedSeries<'_>) -> Vec<SeriesChunks> {
    m.collect::<Result<Vec<_>>>()
        .unwrap_or_else(|e| panic!("merge: {e}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Overlapping and disjoint series sets, overlapping time ranges (so equal labels meet
    /// with equal timestamps) and tombstones that cut chunks or empty series.
    #[test]
    fn streaming_merge_equals_merging_whole_blocks(
        sets in prop::collection::vec(prop::collection::btree_set(0usize..12, 0..8), 1..5),
        starts in prop::collection::vec(0i64..40, 4),
        deletes in prop::collection::vec((0usize..12, 0i64..60, 0i64..30), 0..4),
    ) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let blocks: Vec<Block> = sets
            .iter()
            .enumerate()
            .map(|(i, ks)| {
                let ks: Vec<usize> = ks.iter().copied().collect();
                block(dir.path(), &ks, starts[i % starts.len()], 25, i)
            })
            .collect();
        for (n, (k, from, len)) in deletes.iter().enumerate() {
            let b = &blocks[n % blocks.len()];
            let k = Matcher::new(MatchOp::Equal, "k", format!("{k:03}"))
                .unwrap_or_else(|e| panic!("{e}"));
            b.delete(&[k], from * 1000, (from + len) * 1000, &|| Ok(()))
                .unwrap_or_else(|e| panic!("delete: {e}"));
        }
        let refs: Vec<&Block> = blocks.iter().collect();
        let streamed = collect(merge_blocks(refs.iter().copied()));
        prop_assert_eq!(streamed, merged_whole(&refs));
    }
}

#[test]
fn a_damaged_chunk_fails_the_merge_only_when_its_series_is_reached() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let a = block(dir.path(), &[0, 1, 2, 3, 4], 0, 30, 0);
    let b = block(dir.path(), &[1, 3], 10, 30, 1);
    // The last record of `a`'s only segment belongs to its last series, k=004: break
    // its checksum.
    let seg = a.dir().join("chunks").join("000001");
    let mut bytes = std::fs::read(&seg).unwrap_or_else(|e| panic!("{e}"));
    if let Some(last) = bytes.last_mut() {
        *last ^= 0xff;
    }
    std::fs::write(&seg, bytes).unwrap_or_else(|e| panic!("{e}"));
    let a = Block::open(a.dir()).unwrap_or_else(|e| panic!("reopen: {e}"));

    // Each block is read one series ahead of the merge: the error comes with the
    // series before the damaged one, k=003, whose output needs `a`'s next series.
    let mut m = merge_blocks([&a, &b]);
    let first: Vec<String> = (0..3)
        .map(|_| match m.next() {
            Some(Ok(s)) => s.labels.to_string(),
            other => panic!("expected a series, got {other:?}"),
        })
        .collect();
    let want: Vec<String> = (0..3).map(|k| labels(k).to_string()).collect();
    assert_eq!(first, want);
    assert!(
        matches!(m.next(), Some(Err(crate::Error::Corruption { .. }))),
        "the damaged series is an error"
    );
    assert!(m.next().is_none(), "the merge ends after an error");
}

#[test]
fn a_failed_merge_leaves_no_block_behind() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let a = block(src.path(), &[0, 1, 2], 0, 30, 0);
    let seg = a.dir().join("chunks").join("000001");
    let mut bytes = std::fs::read(&seg).unwrap_or_else(|e| panic!("{e}"));
    if let Some(last) = bytes.last_mut() {
        *last ^= 0xff;
    }
    std::fs::write(&seg, bytes).unwrap_or_else(|e| panic!("{e}"));
    let a = Block::open(a.dir()).unwrap_or_else(|e| panic!("reopen: {e}"));

    let res = try_write_block(
        dir.path(),
        0,
        30_000,
        merge_blocks([&a]),
        &BlockWriterOptions::default(),
    );
    assert!(
        matches!(res, Err(crate::Error::Corruption { .. })),
        "{res:?}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "nothing is left of the new block: {left:?}"
    );
}
