//! Writes a whole block: chunk segments, index and `meta.json`.
//!
//! Crash safety: everything is written under `<parent>/<ulid>.tmp`, every file and
//! directory is fsynced, and only then is the directory renamed to `<parent>/<ulid>` (and
//! the parent fsynced). A crash before the rename leaves a `.tmp` directory, which
//! [`super::is_tmp_dir`] recognises so that start-up can delete it; a crash after it
//! leaves a complete block.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::chunks_writer::{ChunkEncoding, ChunksWriter, MAX_SEGMENT_BYTES};
use super::index_writer::{write_index, ChunkMeta};
use super::meta::{
    new_ulid, now_ms, BlockCompaction, BlockMeta, BlockStats, META_FILENAME, META_VERSION,
};
use super::{CHUNKS_DIR, INDEX_FILENAME, TMP_SUFFIX};
use crate::chunk::{XorChunk, XorIter};
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::sample::Sample;

/// One chunk given to the writer: Gorilla XOR bytes and the time range they span.
#[derive(Clone, Debug, PartialEq)]
pub struct InputChunk {
    pub min_t: i64,
    pub max_t: i64,
    pub data: Vec<u8>,
}

/// One series given to the writer.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesChunks {
    pub labels: Labels,
    pub chunks: Vec<InputChunk>,
}

/// How chunks are laid out in the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rechunk {
    /// Chunk boundaries fall on multiples of this span (ms since the epoch), so that the
    /// chunks of series scraped together cover the same samples and share timestamps.
    pub span_ms: i64,
    /// At most this many samples per chunk.
    pub max_samples: usize,
}

#[derive(Clone, Debug)]
pub struct BlockWriterOptions {
    pub encoding: ChunkEncoding,
    /// `None` keeps the input's chunk boundaries.
    pub rechunk: Option<Rechunk>,
    pub max_segment_bytes: u64,
    /// Compaction level and sources for `meta.json`; level 1 and the block itself when
    /// `None`.
    pub compaction: Option<BlockCompaction>,
}

impl Default for BlockWriterOptions {
    /// Packed encoding with chunks aligned to 30 minutes, chosen by `tests/block_size.rs`:
    /// on its 1 s workload XOR with the head's 240-sample chunks takes 2.89 bytes/sample,
    /// packed with those chunks 0.70, packed with 30 min aligned chunks 0.61 (aligned
    /// chunks of one target share their timestamp column), 2 h chunks 0.60. The last
    /// step is not worth making a query for a few minutes decode two hours per series.
    fn default() -> Self {
        BlockWriterOptions {
            encoding: ChunkEncoding::Auto,
            rechunk: Some(Rechunk {
                span_ms: 30 * 60 * 1000,
                max_samples: XorChunk::MAX_SAMPLES,
            }),
            max_segment_bytes: MAX_SEGMENT_BYTES,
            compaction: None,
        }
    }
}

fn invalid(path: &Path, msg: impl Into<String>) -> Error {
    Error::io(
        path,
        std::io::Error::new(std::io::ErrorKind::InvalidInput, msg.into()),
    )
}

/// Writes a block covering `[mint, maxt)` under `parent` and returns its meta; the block
/// is at `parent/<meta.ulid>`.
///
/// `series` must be sorted by labels without duplicates, where labels with an empty
/// value count as absent (they are not stored). Samples outside the range are dropped, as
/// are series left without samples. Overlapping input chunks are merged
/// (the first of equal timestamps wins).
pub fn write_block(
    parent: &Path,
    mint: i64,
    maxt: i64,
    series: impl IntoIterator<Item = SeriesChunks>,
    opts: &BlockWriterOptions,
) -> Result<BlockMeta> {
    try_write_block(parent, mint, maxt, series.into_iter().map(Ok), opts)
}

/// As [`write_block`], for series read as they are written (another block's, in
/// compaction): the first error stops the writing and leaves no block behind.
pub(crate) fn try_write_block(
    parent: &Path,
    mint: i64,
    maxt: i64,
    series: impl IntoIterator<Item = Result<SeriesChunks>>,
    opts: &BlockWriterOptions,
) -> Result<BlockMeta> {
    let ulid = new_ulid(now_ms());
    let tmp = parent.join(format!("{ulid}{TMP_SUFFIX}"));
    let dst = parent.join(&ulid);
    let res = write_tmp(&tmp, &ulid, mint, maxt, series, opts);
    let meta = match res {
        Ok(m) => m,
        Err(e) => {
            // Best effort: start-up removes leftovers anyway.
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    std::fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    sync_dir(parent)?;
    Ok(meta)
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

fn write_tmp(
    tmp: &Path,
    ulid: &str,
    mint: i64,
    maxt: i64,
    series: impl IntoIterator<Item = Result<SeriesChunks>>,
    opts: &BlockWriterOptions,
) -> Result<BlockMeta> {
    if mint > maxt {
        return Err(invalid(
            tmp,
            format!("block range [{mint}, {maxt}) is inverted"),
        ));
    }
    let chunks_dir = tmp.join(CHUNKS_DIR);
    std::fs::create_dir_all(&chunks_dir).map_err(|e| Error::io(&chunks_dir, e))?;
    let mut cw = ChunksWriter::new(&chunks_dir, opts.max_segment_bytes);
    let mut index: Vec<(Labels, Vec<ChunkMeta>)> = Vec::new();
    let mut stats = BlockStats::default();
    let mut samples = Vec::new();
    for s in series {
        let mut s = s?;
        // An empty value is an absent label (the index does not store it), so compare
        // series as they will be read back.
        if s.labels.iter().any(|l| l.value.is_empty()) {
            let kept = s.labels.iter().filter(|l| !l.value.is_empty()).cloned();
            s.labels = Labels::from_sorted_unchecked(kept.collect());
        }
        if let Some((prev, _)) = index.last() {
            if *prev >= s.labels {
                return Err(invalid(
                    tmp,
                    format!("series not sorted and unique: {} after {}", s.labels, prev),
                ));
            }
        }
        let pieces = collect_samples(&s, mint, maxt, &mut samples)?;
        if samples.is_empty() {
            continue;
        }
        let mut metas = Vec::new();
        let cuts = match opts.rechunk {
            Some(r) => cut_aligned(&samples, r),
            None => pieces.iter().map(|p| p.range.clone()).collect(),
        };
        for range in cuts {
            let part = &samples[range.clone()];
            let (Some(first), Some(last)) = (part.first(), part.last()) else {
                continue;
            };
            // Reuse the input bytes when a chunk passes through untouched.
            let xor = pieces
                .iter()
                .find(|p| p.range == range && p.intact)
                .and_then(|p| s.chunks.get(p.input))
                .map(|c| c.data.as_slice());
            let w = cw.write_chunk(part, xor, opts.encoding)?;
            metas.push(ChunkMeta {
                min_t: first.t,
                max_t: last.t,
                chunk_ref: w.chunk_ref,
            });
            stats.num_chunks += 1;
            stats.num_samples += part.len() as u64;
        }
        stats.num_series += 1;
        index.push((s.labels, metas));
    }
    cw.finish()?;
    sync_dir(&chunks_dir)?;
    write_index(&tmp.join(INDEX_FILENAME), &index)?;
    let meta = BlockMeta {
        ulid: ulid.to_string(),
        min_time: mint,
        max_time: maxt,
        stats,
        compaction: opts.compaction.clone().unwrap_or_else(|| BlockCompaction {
            level: 1,
            sources: vec![ulid.to_string()],
            parents: Vec::new(),
        }),
        version: META_VERSION,
    };
    let json = serde_json::to_vec_pretty(&meta)
        .map_err(|e| Error::io(tmp, std::io::Error::other(e.to_string())))?;
    let meta_path: PathBuf = tmp.join(META_FILENAME);
    std::fs::write(&meta_path, json).map_err(|e| Error::io(&meta_path, e))?;
    File::open(&meta_path)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io(&meta_path, e))?;
    sync_dir(tmp)?;
    Ok(meta)
}

/// Chunk size for merged overlapping input when not rechunking: the head's own size.
const MERGED_CHUNK_SAMPLES: usize = 240;

/// Where one input chunk's samples ended up in the series' merged samples.
struct Piece {
    input: usize,
    range: std::ops::Range<usize>,
    /// All of the input chunk's samples are in `range`, unchanged.
    intact: bool,
}

/// Decodes all chunks of `s` into `out` (sorted, unique timestamps, within the range).
fn collect_samples(
    s: &SeriesChunks,
    mint: i64,
    maxt: i64,
    out: &mut Vec<Sample>,
) -> Result<Vec<Piece>> {
    out.clear();
    let mut pieces = Vec::with_capacity(s.chunks.len());
    let mut sorted = true;
    for (i, c) in s.chunks.iter().enumerate() {
        let start = out.len();
        let mut it = XorIter::from_bytes(&c.data);
        let mut total = 0usize;
        for smp in it.by_ref() {
            total += 1;
            if smp.t >= mint && smp.t < maxt {
                if out.last().is_some_and(|p| p.t >= smp.t) {
                    sorted = false;
                }
                out.push(smp);
            }
        }
        if let Some(e) = it.take_err() {
            return Err(e);
        }
        pieces.push(Piece {
            input: i,
            range: start..out.len(),
            intact: total == out.len() - start,
        });
    }
    if !sorted {
        // Overlapping inputs: merge, keeping the first of equal timestamps.
        out.sort_by_key(|s| s.t);
        out.dedup_by_key(|s| s.t);
        // Input boundaries mean nothing after a merge: one piece, cut by size below.
        let n = out.len();
        return Ok((0..n)
            .step_by(MERGED_CHUNK_SAMPLES)
            .map(|a| Piece {
                input: usize::MAX,
                range: a..(a + MERGED_CHUNK_SAMPLES).min(n),
                intact: false,
            })
            .collect());
    }
    pieces.retain(|p| !p.range.is_empty());
    Ok(pieces)
}

/// Cuts sorted samples at multiples of `r.span_ms` and every `r.max_samples`.
fn cut_aligned(samples: &[Sample], r: Rechunk) -> Vec<std::ops::Range<usize>> {
    let span = r.span_ms.max(1);
    let max = r.max_samples.clamp(1, XorChunk::MAX_SAMPLES);
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=samples.len() {
        let end = i == samples.len()
            || i - start >= max
            || samples[i].t.div_euclid(span) != samples[start].t.div_euclid(span);
        if end {
            out.push(start..i);
            start = i;
        }
    }
    out
}
