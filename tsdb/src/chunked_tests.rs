//! `select_chunks` decoded against `select`, on random data spread over every kind of
//! chunk: head chunks open, waiting for the writer and mapped from chunk-head segments,
//! out-of-order samples, blocks cut from the head mid-series, and extra blocks that
//! overlap the database's blocks and head with samples at the same timestamps (which
//! the later source must win), with tombstones and head deletes on top.

use std::path::Path;
use std::sync::Arc;

use super::*;
use crate::block::{write_block, BlockWriterOptions, InputChunk, SeriesChunks};
use crate::chunk::XorChunk;
use crate::db::{Db, DbOptions, Series, SeriesSamples};
use crate::index::{MatchOp, Matcher};
use crate::querier::{self, OnBlockError};
use crate::wal::FsyncPolicy;

const SERIES: usize = 8;

/// xorshift64*, so that a failing seed repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn labels(k: usize) -> Labels {
    Labels::from_pairs([("__name__", "m"), ("k", &k.to_string())])
}

/// Appends every series' samples in `[from, to)`, each at its own interval, and now and
/// then a late sample inside the out-of-order window.
fn append(db: &Db, rng: &mut Rng, from: i64, to: i64) {
    let mut t = from;
    while t < to {
        let end = (t + 20_000).min(to);
        let batch: Vec<SeriesSamples> = (0..SERIES)
            .map(|k| {
                let every = [1_000, 1_000, 5_000, 15_000][k % 4];
                let mut samples: Vec<Sample> = (t..end)
                    .filter(|x| x % every == 0)
                    .map(|x| Sample::new(x, (rng.below(1000) as f64) / 8.0))
                    .collect();
                if rng.below(3) == 0 && t > 30_000 {
                    // Off the grid, so never a timestamp the series holds.
                    let late = t - 1 - rng.below(25_000) as i64;
                    samples.push(Sample::new(late, -(rng.below(100) as f64)));
                }
                SeriesSamples {
                    labels: labels(k),
                    samples,
                }
            })
            .collect();
        db.append(&batch).unwrap();
        t = end;
    }
}

/// A block beside the database's, over `[mint, maxt)`, for some series, with samples on
/// the same grid as the database's (so timestamps collide) and, for some series, two
/// chunks that overlap each other.
fn extra_block(dir: &Path, rng: &mut Rng, mint: i64, maxt: i64) -> Arc<Block> {
    let mut series = Vec::new();
    for k in (0..SERIES).filter(|k| k % 3 != 2) {
        let mut chunks = Vec::new();
        let parts = 1 + rng.below(2) as i64;
        for p in 0..parts {
            // The second part starts inside the first.
            let lo = mint + p * (maxt - mint) / 3;
            let mut c = XorChunk::new();
            let (mut first, mut last) = (i64::MAX, i64::MIN);
            let mut x = lo;
            while x < maxt && !c.is_full() {
                c.append(x, 1000.0 + rng.below(1000) as f64);
                first = first.min(x);
                last = x;
                x += 1_000 * (1 + rng.below(4) as i64);
            }
            if first <= last {
                chunks.push(InputChunk {
                    min_t: first,
                    max_t: last,
                    data: c.into_bytes(),
                });
            }
        }
        series.push(SeriesChunks {
            labels: labels(k),
            chunks,
        });
    }
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    let meta = write_block(dir, mint, maxt, series, &BlockWriterOptions::default()).unwrap();
    Arc::new(Block::open(&dir.join(&meta.ulid)).unwrap())
}

fn bits(samples: &[Sample]) -> Vec<(i64, u64)> {
    samples.iter().map(|s| (s.t, s.v.to_bits())).collect()
}

fn check(
    db: &Db,
    blocks: &dyn Fn() -> Vec<Arc<Block>>,
    matchers: &[Matcher],
    mint: i64,
    maxt: i64,
    what: &str,
) -> usize {
    let head = &db.inner().head;
    let want: Vec<Series> =
        querier::select(head, blocks, matchers, mint, maxt, OnBlockError::Fail).unwrap();
    let got =
        querier::select_chunks(head, blocks, matchers, mint, maxt, OnBlockError::Fail).unwrap();
    let mut buf = Vec::new();
    let mut decoded = Vec::new();
    for s in &got {
        s.samples_into(mint, maxt, &mut buf).unwrap();
        let newest = s.newest_in(mint, maxt, &mut Vec::new()).unwrap();
        assert_eq!(
            newest.map(|s| (s.t, s.v.to_bits())),
            buf.last().map(|s| (s.t, s.v.to_bits())),
            "{what}: newest of {} in [{mint}, {maxt}]",
            s.labels
        );
        if !buf.is_empty() {
            decoded.push((s.labels.clone(), bits(&buf)));
        }
    }
    let want: Vec<(Labels, Vec<(i64, u64)>)> = want
        .iter()
        .map(|s| (s.labels.clone(), bits(&s.samples)))
        .collect();
    assert_eq!(decoded, want, "{what}: [{mint}, {maxt}] {matchers:?}");
    want.iter().map(|(_, s)| s.len()).sum()
}

#[test]
fn decoded_chunks_are_what_select_returns() {
    let mut compared = 0;
    for seed in 1..=6u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let dir = tempfile::tempdir().unwrap();
        let extra_dir = tempfile::tempdir().unwrap();
        let db = Db::open(
            dir.path(),
            DbOptions {
                wal_fsync: FsyncPolicy::Never,
                block_range_ms: 120_000,
                head_cut_interval: None,
                head_chunk_write_interval: None,
                compaction_ranges_ms: Vec::new(),
                retention_ms: None,
                max_sample_age_ms: i64::MAX / 4,
                ooo_window_ms: 30_000,
                ..DbOptions::default()
            },
        )
        .unwrap();
        append(&db, &mut rng, 0, 300_000);
        // Blocks cut from the head while series go on: chunks straddling the cut are
        // re-encoded in the head.
        assert!(db.compact_head().unwrap() > 0);
        append(&db, &mut rng, 300_000, 420_000);
        // Some closed chunks into chunk-head segments, the newer ones left pending.
        db.flush_head_chunks().unwrap();
        append(&db, &mut rng, 420_000, 600_000);
        let extra = [
            extra_block(extra_dir.path(), &mut rng, 60_000, 200_000),
            extra_block(extra_dir.path(), &mut rng, 350_000, 500_000),
        ];
        // Tombstones in the database's blocks, samples removed from the head, and a
        // tombstone in an extra block.
        for _ in 0..3 {
            let k = rng.below(SERIES as u64).to_string();
            let lo = rng.below(580_000) as i64;
            let m = [Matcher::new(MatchOp::Equal, "k", k.as_str()).unwrap()];
            db.delete_series(&m, lo, lo + rng.below(60_000) as i64)
                .unwrap();
        }
        let all = [Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap()];
        extra[0].delete(&all, 100_000, 110_000, &|| Ok(())).unwrap();
        let order = rng.below(2);
        let blocks = || {
            let mut b = db.inner().blocks.snapshot();
            // The extra blocks rank below or above the database's blocks; the head
            // ranks above all of them.
            if order == 0 {
                b.splice(0..0, extra.iter().cloned());
            } else {
                b.extend(extra.iter().cloned());
            }
            b
        };
        let matcher_sets = [
            all.to_vec(),
            vec![Matcher::new(MatchOp::Equal, "k", "1").unwrap()],
            vec![Matcher::new(MatchOp::RegexMatch, "k", "[0-4]").unwrap()],
        ];
        for round in 0..40 {
            let mint = rng.below(650_000) as i64 - 20_000;
            let maxt = mint + rng.below(300_000) as i64;
            let ms = &matcher_sets[round % matcher_sets.len()];
            let what = format!("seed {seed} round {round}");
            compared += check(&db, &blocks, ms, mint, maxt, &what);
            compared += check(&db, &blocks, ms, i64::MIN, i64::MAX, &what);
        }
        // The public path, without the extra blocks.
        for s in db.select_chunks(&all, 0, 700_000).unwrap() {
            let want = db.select(
                &[Matcher::new(MatchOp::Equal, "k", s.labels.get("k").unwrap_or("")).unwrap()],
                0,
                700_000,
            );
            let got = s.samples(0, 700_000).unwrap();
            assert_eq!(
                want.first().map(|w| bits(&w.samples)).unwrap_or_default(),
                bits(&got)
            );
        }
    }
    assert!(compared > 10_000, "{compared}");
}

#[test]
fn series_from_samples_decode_to_their_samples() {
    let samples = vec![
        Sample::new(1, 1.0),
        Sample::new(5, 2.0),
        Sample::new(9, 3.0),
    ];
    let s = ChunkedSeries::from_samples(labels(0), samples);
    assert_eq!(
        s.samples(2, 9).unwrap(),
        vec![Sample::new(5, 2.0), Sample::new(9, 3.0)]
    );
    assert_eq!(
        s.newest_in(0, 8, &mut Vec::new()).unwrap(),
        Some(Sample::new(5, 2.0))
    );
    assert_eq!(s.newest_in(6, 8, &mut Vec::new()).unwrap(), None);
    assert_eq!(
        ChunkedSeries::from_samples(labels(0), Vec::new()).num_chunks(),
        0
    );
}
