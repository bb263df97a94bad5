//! Series selected without decoding: labels and handles to the chunks that overlap a
//! query range, decoded later, on the caller's thread, straight into the caller's buffer.
//!
//! [`crate::Db::select`] decodes every chunk of every matching series into a fresh vector
//! before the query engine sees any of it; the engine then walks those vectors. With
//! [`crate::Db::select_chunks`] the engine holds [`ChunkedSeries`] instead: cheap to
//! collect (a few handles a series), decoded per series into one reused buffer on the
//! engine's own threads, and only as far as needed (an instant selector decodes the
//! newest chunk only, see [`ChunkedSeries::newest_in`]).
//!
//! A handle stays valid whatever the database does meanwhile: head chunks are copied
//! (the open chunk and chunks waiting for the chunk writer: a few hundred bytes each) or
//! hold the memory map of their chunk-head segment; block chunks hold their block. So a
//! query sees the data as it was when it selected, as with `select`.
//!
//! Decoding gives exactly what `select` gives for the same range (see `querier.rs`):
//!
//! | step | what                                                                   |
//! |------|------------------------------------------------------------------------|
//! | 1    | chunks are grouped by source: blocks by time, then the head (`source` rank) |
//! | 2    | a group's chunks are decoded in order; where one starts at or before the group's last decoded sample the group is sorted by time, keeping the first sample of a timestamp (a block's overlapping chunks; the head's out-of-order samples, which never repeat a timestamp) |
//! | 3    | a block group drops the samples its tombstones delete                  |
//! | 4    | groups are concatenated; unless that is strictly increasing, it is sorted by time keeping the last sample of a timestamp: the later source wins |
//!
//! In the common case (one source, or sources with disjoint ranges) steps 2 and 4 find
//! the samples in order and cost one comparison a chunk and one pass.

use std::sync::Arc;

use crate::block::Block;
use crate::error::Result;
use crate::head_chunks::MappedChunk;
use crate::labels::Labels;
use crate::sample::Sample;
use crate::tombstones::Intervals;

/// One chunk of a [`ChunkedSeries`]: its exact time range and where its samples are.
pub struct SeriesChunk {
    /// Time of the chunk's first sample. Invariant: `min_t <= max_t`.
    pub min_t: i64,
    /// At or after the time of the chunk's last sample: exact but for the head's open
    /// chunk after a delete, whose bound stays at the series' newest append.
    pub max_t: i64,
    /// Rank of the source the chunk came from (blocks in time order, then the head):
    /// of two samples at one timestamp from different sources, the higher rank wins.
    /// Set by [`merge_sources`]; 0 until then.
    source: u32,
    data: ChunkData,
}

/// Where a chunk's samples are.
enum ChunkData {
    /// Gorilla XOR bytes copied out of the head (the open chunk, or a closed chunk not
    /// yet in a chunk-head segment).
    Xor(Box<[u8]>),
    /// A closed head chunk in a chunk-head segment, holding the segment's map.
    Mapped(MappedChunk),
    /// A chunk of a block, by its reference in the block's chunk segments; `deleted` are
    /// the series' tombstones in that block, if any (shared by its chunks there).
    Block {
        block: Arc<Block>,
        chunk_ref: u64,
        deleted: Option<Arc<Intervals>>,
    },
    /// Samples already decoded, sorted by time: the head's out-of-order samples in the
    /// selected range, or a whole series from a source that only answers with samples.
    Samples(Box<[Sample]>),
}

impl SeriesChunk {
    pub(crate) fn xor(min_t: i64, max_t: i64, bytes: Box<[u8]>) -> Self {
        SeriesChunk {
            min_t,
            max_t,
            source: 0,
            data: ChunkData::Xor(bytes),
        }
    }

    pub(crate) fn mapped(c: MappedChunk) -> Self {
        SeriesChunk {
            min_t: c.min_t,
            max_t: c.max_t,
            source: 0,
            data: ChunkData::Mapped(c),
        }
    }

    pub(crate) fn block(
        min_t: i64,
        max_t: i64,
        block: Arc<Block>,
        chunk_ref: u64,
        deleted: Option<Arc<Intervals>>,
    ) -> Self {
        SeriesChunk {
            min_t,
            max_t,
            source: 0,
            data: ChunkData::Block {
                block,
                chunk_ref,
                deleted,
            },
        }
    }

    /// A chunk of decoded samples, sorted by time; `None` when there are none.
    pub(crate) fn samples(samples: Vec<Sample>) -> Option<Self> {
        let (first, last) = (samples.first()?.t, samples.last()?.t);
        Some(SeriesChunk {
            min_t: first,
            max_t: last,
            source: 0,
            data: ChunkData::Samples(samples.into_boxed_slice()),
        })
    }

    fn deleted(&self) -> Option<&Intervals> {
        match &self.data {
            ChunkData::Block { deleted, .. } => deleted.as_deref(),
            _ => None,
        }
    }

    /// Appends the chunk's samples in `[mint, maxt]` to `out`, in the chunk's order.
    /// Tombstones are not applied here (see the module docs, step 3).
    fn decode_into(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        match &self.data {
            ChunkData::Xor(b) => extend_xor(b, mint, maxt, out),
            ChunkData::Mapped(m) => extend_xor(m.data(), mint, maxt, out),
            ChunkData::Block {
                block, chunk_ref, ..
            } => return block.decode_chunk(*chunk_ref, mint, maxt, out),
            ChunkData::Samples(s) => {
                let lo = s.partition_point(|p| p.t < mint);
                let hi = s.partition_point(|p| p.t <= maxt);
                if lo < hi {
                    out.extend_from_slice(&s[lo..hi]);
                }
            }
        }
        Ok(())
    }
}

// Head chunks (copied or mapped) decode through `xor::extend_xor`, which appends the
// samples of XOR bytes within `[mint, maxt]`. The head's own chunks are read like this by
// `select` too: a damaged chunk ends early rather than failing.
#[path = "chunked_xor.rs"]
mod xor;
use xor::extend_xor;

/// A series selected by [`crate::Db::select_chunks`]: its labels and its chunks that
/// overlap the selected range, not yet decoded.
///
/// Chunks are selected by their time ranges, so a series may hold chunks but no sample
/// in the range (a gap inside a chunk, or samples its tombstones delete); decoding tells.
pub struct ChunkedSeries {
    pub labels: Labels,
    /// Invariant: ordered by `source`, then as the source lists them (by time).
    chunks: Vec<SeriesChunk>,
}

impl ChunkedSeries {
    pub(crate) fn new(labels: Labels, chunks: Vec<SeriesChunk>) -> Self {
        ChunkedSeries { labels, chunks }
    }

    /// A series given by its samples (sorted by time, one per timestamp), for sources
    /// that only answer with samples.
    pub fn from_samples(labels: Labels, samples: Vec<Sample>) -> Self {
        ChunkedSeries {
            labels,
            chunks: SeriesChunk::samples(samples).into_iter().collect(),
        }
    }

    /// The time ranges of the chunks, by source then time.
    pub fn chunk_ranges(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.chunks.iter().map(|c| (c.min_t, c.max_t))
    }

    pub fn num_chunks(&self) -> usize {
        self.chunks.len()
    }

    /// Replaces `out` by the series' samples in `[mint, maxt]`, sorted by time with one
    /// sample per timestamp, as [`crate::Db::select`] returns them (module docs). Errors
    /// are a block chunk that cannot be read.
    pub fn samples_into(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) -> Result<()> {
        out.clear();
        let mut groups = 0;
        let mut rest = &self.chunks[..];
        while let Some(first) = rest.first() {
            let n = rest
                .iter()
                .position(|c| c.source != first.source)
                .unwrap_or(rest.len());
            let (group, tail) = rest.split_at(n);
            rest = tail;
            let start = out.len();
            let mut ordered = true;
            for c in group {
                if c.min_t > maxt || c.max_t < mint {
                    continue;
                }
                if out.len() > start && out.last().is_some_and(|s| s.t >= c.min_t) {
                    ordered = false;
                }
                c.decode_into(mint, maxt, out)?;
            }
            if !ordered {
                if let Some(keep) = sort_keep_first(&mut out[start..]) {
                    out.truncate(start + keep);
                }
            }
            if let Some(d) = group.iter().find_map(SeriesChunk::deleted) {
                let mut tail = out.split_off(start);
                d.remove_from(&mut tail);
                out.append(&mut tail);
            }
            groups += 1;
        }
        if groups > 1 && !out.windows(2).all(|w| w[0].t < w[1].t) {
            sort_keep_last(out);
        }
        Ok(())
    }

    /// The newest sample in `[mint, maxt]`, as the last of [`ChunkedSeries::samples_into`]
    /// would be. When the chunks are disjoint and in time order (the usual case), only
    /// the chunks from the end back to the first holding such a sample are decoded: one,
    /// unless the newest chunk has no sample in the range. `scratch` is a buffer to decode
    /// into, reused across calls.
    pub fn newest_in(
        &self,
        mint: i64,
        maxt: i64,
        scratch: &mut Vec<Sample>,
    ) -> Result<Option<Sample>> {
        let disjoint = self.chunks.windows(2).all(|w| w[0].max_t < w[1].min_t);
        if !disjoint {
            self.samples_into(mint, maxt, scratch)?;
            return Ok(scratch.last().copied());
        }
        for c in self.chunks.iter().rev() {
            if c.min_t > maxt {
                continue;
            }
            if c.max_t < mint {
                break;
            }
            scratch.clear();
            c.decode_into(mint, maxt, scratch)?;
            if let Some(d) = c.deleted() {
                d.remove_from(scratch);
            }
            if let Some(s) = scratch.last() {
                return Ok(Some(*s));
            }
        }
        Ok(None)
    }

    /// All samples in `[mint, maxt]` in a new vector; see [`ChunkedSeries::samples_into`].
    pub fn samples(&self, mint: i64, maxt: i64) -> Result<Vec<Sample>> {
        let mut out = Vec::new();
        self.samples_into(mint, maxt, &mut out)?;
        Ok(out)
    }
}

/// Sorts by time (stably) and moves the first sample of each timestamp to the front;
/// returns how many are kept, or `None` when the slice was already strictly increasing.
fn sort_keep_first(s: &mut [Sample]) -> Option<usize> {
    if s.windows(2).all(|w| w[0].t < w[1].t) {
        return None;
    }
    s.sort_by_key(|p| p.t);
    let mut keep = 0;
    for i in 0..s.len() {
        if keep == 0 || s[keep - 1].t != s[i].t {
            s[keep] = s[i];
            keep += 1;
        }
    }
    Some(keep)
}

/// Sorts by time (stably) and keeps the last sample of each timestamp.
fn sort_keep_last(samples: &mut Vec<Sample>) {
    samples.sort_by_key(|p| p.t);
    let mut keep = 0;
    for i in 0..samples.len() {
        if keep > 0 && samples[keep - 1].t == samples[i].t {
            samples[keep - 1] = samples[i];
        } else {
            samples[keep] = samples[i];
            keep += 1;
        }
    }
    samples.truncate(keep);
}

/// Merges per-source answers (each sorted by labels, source `i` ranking below `i + 1`)
/// into one list sorted by labels, a series' chunks ordered by source.
pub(crate) fn merge_sources(parts: Vec<Vec<ChunkedSeries>>) -> Vec<ChunkedSeries> {
    let mut tagged: Vec<(u32, ChunkedSeries)> = Vec::new();
    let mut single: Option<(u32, Vec<ChunkedSeries>)> = None;
    let mut non_empty = 0;
    for (rank, part) in parts.into_iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        non_empty += 1;
        let rank = rank as u32;
        if non_empty == 1 {
            single = Some((rank, part));
            continue;
        }
        if let Some((r, first)) = single.take() {
            tagged.extend(first.into_iter().map(|s| (r, s)));
        }
        tagged.extend(part.into_iter().map(|s| (rank, s)));
    }
    if let Some((rank, part)) = single {
        return part.into_iter().map(|s| s.ranked(rank)).collect();
    }
    // Stable: a series' entries stay in source order.
    tagged.sort_by(|a, b| a.1.labels.cmp(&b.1.labels));
    let mut out: Vec<ChunkedSeries> = Vec::with_capacity(tagged.len());
    for (rank, s) in tagged {
        let s = s.ranked(rank);
        match out.last_mut() {
            Some(prev) if prev.labels == s.labels => prev.chunks.extend(s.chunks),
            _ => out.push(s),
        }
    }
    out
}

impl ChunkedSeries {
    fn ranked(mut self, rank: u32) -> Self {
        for c in &mut self.chunks {
            c.source = rank;
        }
        self
    }
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
