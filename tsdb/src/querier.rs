//! Answering queries over the head and the blocks together.
//!
//! Each source answers on its own (sorted by labels); the answers are merged per series by
//! labels. The head and the blocks normally hold disjoint time ranges, but a crash between
//! writing a block and truncating the head, or blocks that overlap, can leave a sample in
//! two places; samples are therefore deduplicated by timestamp, the later source winning.
//! Sources are ordered blocks by time, then the head, so the head wins over any block.
//!
//! Deleted samples are left out by each source itself: blocks filter their tombstones
//! (`block/delete.rs`), the head has removed them (`head/delete.rs`). A series with no
//! sample left in the range is therefore absent from every source's answer.
//!
//! Read order matters while a block is being cut: the head is read first, the block list
//! after. A cut adds its block before it truncates the head, so a series read from the
//! head after its truncation is always found in a block listed later.

use std::sync::Arc;

use crate::block::Block;
use crate::chunked::{merge_sources, ChunkedSeries};
use crate::db::Series;
use crate::error::Result;
use crate::head::Head;
use crate::index::Matcher;
use crate::labels::Labels;
use crate::sample::Sample;

/// What to do when a block cannot be read (corruption found by a query).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnBlockError {
    /// Return the error.
    Fail,
    /// Log it and answer from the other sources.
    Skip,
}

/// Runs `f` on each block, collecting answers; errors per `on_err`.
fn per_block<T>(
    blocks: &[Arc<Block>],
    on_err: OnBlockError,
    mut f: impl FnMut(&Arc<Block>) -> Result<T>,
) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(blocks.len());
    for b in blocks {
        match f(b) {
            Ok(v) => out.push(v),
            Err(e) if on_err == OnBlockError::Skip => {
                tracing::error!(
                    block = %b.meta().ulid,
                    error = %e,
                    "cannot read block; answering without it"
                );
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub(crate) fn select(
    head: &Head,
    blocks: &dyn Fn() -> Vec<Arc<Block>>,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    on_err: OnBlockError,
) -> Result<Vec<Series>> {
    let from_head = head.select(matchers, mint, maxt);
    let mut parts = per_block(&blocks(), on_err, |b| b.select(matchers, mint, maxt))?;
    parts.push(from_head);
    Ok(merge_series(parts))
}

/// As [`select`], with handles to each series' chunks instead of decoded samples (see
/// `chunked.rs`, which decodes them as `select` merges them). Same read order: the head
/// first, then the block list.
pub(crate) fn select_chunks(
    head: &Head,
    blocks: &dyn Fn() -> Vec<Arc<Block>>,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    on_err: OnBlockError,
) -> Result<Vec<ChunkedSeries>> {
    let from_head = head.select_chunks(matchers, mint, maxt);
    let mut parts = per_block(&blocks(), on_err, |b| b.select_chunks(matchers, mint, maxt))?;
    parts.push(from_head);
    Ok(merge_sources(parts))
}

pub(crate) fn series(
    head: &Head,
    blocks: &dyn Fn() -> Vec<Arc<Block>>,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    on_err: OnBlockError,
) -> Result<Vec<Labels>> {
    let from_head = head.series_labels(matchers, mint, maxt);
    let mut parts = per_block(&blocks(), on_err, |b| b.series(matchers, mint, maxt))?;
    parts.push(from_head);
    Ok(union_sorted(parts))
}

pub(crate) fn label_names(
    head: &Head,
    blocks: &dyn Fn() -> Vec<Arc<Block>>,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    on_err: OnBlockError,
) -> Result<Vec<String>> {
    let from_head = head.label_names(matchers, mint, maxt);
    let mut parts = per_block(&blocks(), on_err, |b| b.label_names(matchers, mint, maxt))?;
    parts.push(from_head);
    Ok(union_sorted(parts))
}

pub(crate) fn label_values(
    head: &Head,
    blocks: &dyn Fn() -> Vec<Arc<Block>>,
    name: &str,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    on_err: OnBlockError,
) -> Result<Vec<String>> {
    let from_head = head.label_values(name, matchers, mint, maxt);
    let mut parts = per_block(&blocks(), on_err, |b| {
        b.label_values(name, matchers, mint, maxt)
    })?;
    parts.push(from_head);
    Ok(union_sorted(parts))
}

impl crate::db::Db {
    /// How many distinct series match all `matchers` with data in `[mint, maxt]`. Reads
    /// the index and chunk time ranges only, never a sample, so that a query can be
    /// refused for touching too many series before it loads them. A block that cannot be
    /// read is left out of the count; reading its samples reports it.
    pub fn count_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> usize {
        self.series(matchers, mint, maxt).len()
    }
}

/// Merges sorted, deduplicated lists into one.
fn union_sorted<T: Ord>(mut parts: Vec<Vec<T>>) -> Vec<T> {
    parts.retain(|p| !p.is_empty());
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut all: Vec<T> = parts.into_iter().flatten().collect();
    // The input is a few sorted runs, which the stable sort merges in about linear time.
    all.sort();
    all.dedup();
    all
}

/// Merges per-source answers (each sorted by labels) into one answer sorted by labels,
/// a series' samples sorted by time with one sample per timestamp, taken from the last
/// source that has it.
pub(crate) fn merge_series(mut parts: Vec<Vec<Series>>) -> Vec<Series> {
    parts.retain(|p| !p.is_empty());
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut all: Vec<(usize, Series)> = parts
        .into_iter()
        .enumerate()
        .flat_map(|(i, p)| p.into_iter().map(move |s| (i, s)))
        .collect();
    // Stable, so the entries of one series stay in source order.
    all.sort_by(|a, b| a.1.labels.cmp(&b.1.labels));
    let mut out: Vec<Series> = Vec::with_capacity(all.len());
    let mut merged_last = false;
    for (_, s) in all {
        match out.last_mut() {
            Some(prev) if prev.labels == s.labels => {
                prev.samples.extend(s.samples);
                merged_last = true;
            }
            _ => {
                if merged_last {
                    if let Some(prev) = out.last_mut() {
                        normalize(&mut prev.samples);
                    }
                }
                merged_last = false;
                out.push(s);
            }
        }
    }
    if merged_last {
        if let Some(prev) = out.last_mut() {
            normalize(&mut prev.samples);
        }
    }
    out
}

/// Sorts samples concatenated from several sources by time and keeps, of equal
/// timestamps, the one from the latest source (the last one in the input).
fn normalize(samples: &mut Vec<Sample>) {
    if samples.windows(2).all(|w| w[0].t < w[1].t) {
        return;
    }
    samples.sort_by_key(|s| s.t);
    let mut out: Vec<Sample> = Vec::with_capacity(samples.len());
    for s in samples.drain(..) {
        match out.last_mut() {
            Some(last) if last.t == s.t => *last = s,
            _ => out.push(s),
        }
    }
    *samples = out;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(name: &str, samples: &[(i64, f64)]) -> Series {
        Series {
            labels: Labels::from_pairs([("__name__", name)]),
            samples: samples.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
        }
    }

    #[test]
    fn merge_joins_series_by_labels_and_later_sources_win() {
        let blocks = vec![s("a", &[(1, 1.0), (2, 2.0)]), s("c", &[(1, 1.0)])];
        let head = vec![
            s("a", &[(2, 20.0), (3, 3.0)]),
            s("b", &[(5, 5.0)]),
            s("c", &[(4, 4.0)]),
        ];
        let got = merge_series(vec![blocks, head]);
        assert_eq!(
            got,
            vec![
                s("a", &[(1, 1.0), (2, 20.0), (3, 3.0)]),
                s("b", &[(5, 5.0)]),
                s("c", &[(1, 1.0), (4, 4.0)]),
            ]
        );
    }

    #[test]
    fn count_series_counts_a_series_in_head_and_block_once() {
        use crate::{Db, DbOptions, FsyncPolicy, MatchOp, SeriesSamples};
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            DbOptions {
                wal_fsync: FsyncPolicy::Never,
                block_range_ms: 10_000,
                head_cut_interval: None,
                ..DbOptions::default()
            },
        )
        .unwrap();
        let lbl =
            |k: usize| Labels::from_pairs([("__name__", "m".to_string()), ("k", k.to_string())]);
        // Series 0 and 1 span the cut, series 2 ends before it and lives only in a block.
        for t in (0..25_000).step_by(1000) {
            let batch: Vec<SeriesSamples> = (0..3)
                .filter(|&k| k < 2 || t < 5_000)
                .map(|k| SeriesSamples {
                    labels: lbl(k),
                    samples: vec![Sample::new(t, 1.0)],
                })
                .collect();
            db.append(&batch).unwrap();
        }
        assert!(db.compact_head().unwrap() > 0);
        let all = [Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap()];
        assert_eq!(db.count_series(&all, i64::MIN, i64::MAX), 3);
        assert_eq!(db.count_series(&all, 20_000, 30_000), 2);
        let one = [Matcher::new(MatchOp::Equal, "k", "2").unwrap()];
        assert_eq!(db.count_series(&one, 0, 30_000), 1);
        assert_eq!(db.count_series(&one, 20_000, 30_000), 0);
    }

    #[test]
    fn union_of_sorted_lists_is_sorted_and_unique() {
        let got = union_sorted(vec![vec![1, 3, 5], vec![], vec![2, 3, 6]]);
        assert_eq!(got, vec![1, 2, 3, 5, 6]);
        assert_eq!(union_sorted::<u8>(vec![]), Vec::<u8>::new());
    }
}
