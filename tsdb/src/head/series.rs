//! One series in the head: its labels and its chunks.
//!
//! A series keeps its open chunk in memory and its closed chunks in a bit-packed
//! [`ChunkList`] (a few bytes a chunk, `chunk_meta.rs`): a closed chunk waits in `pending`
//! until the background writer has put it into a chunk-head segment (`chunk_writer.rs`),
//! and is read back through the segment's map from then on. Every method that reads closed
//! chunks takes the [`HeadChunks`] they live in.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::chunk_meta::{BulkBounds, ChunkList, ChunkMeta, Loc};
use super::ooo::OooSamples;
use super::pending::PendingChunks;
use super::symbols::SeriesLabels;
use crate::block::InputChunk;
use crate::chunk::{XorChunk, XorIter};
use crate::head_chunks::{HeadChunks, MappedChunk};
use crate::index::SeriesId;
use crate::sample::Sample;

/// A chunk is closed once it holds this many samples. At 1 s resolution this is 4 minutes;
/// larger chunks compress better but cost more to decode for short queries.
pub(crate) const SAMPLES_PER_CHUNK: usize = 240;

/// A chunk is also closed once it spans this long, so that sparse series do not keep one
/// chunk open for days.
pub(crate) const MAX_CHUNK_SPAN_MS: i64 = 2 * 60 * 60 * 1000;

/// A head series as the head's tables, selections and the chunk writer share it. Nothing
/// holds a series weakly, so its `Arc` has no weak count (`triomphe`): an 8-byte header
/// instead of 16 on each of the head's millions of series.
pub(crate) type SharedSeries = triomphe::Arc<MemSeries>;

pub(crate) struct MemSeries {
    pub(crate) id: SeriesId,
    /// Ids in the head's symbol table; `labels.to_labels()` gives the owned label set.
    pub(crate) labels: SeriesLabels,
    /// Whether the WAL holds this series' record. Appends resolve series before they take
    /// the database's append lock, so the append that created a series is not always the
    /// first to log samples for it: every append logs the records of its unlogged series
    /// in the same WAL write as (and before) their samples. Set only under the append lock,
    /// after that write; true from the start for series read back from the WAL.
    logged: AtomicBool,
    /// Set (under the append lock) when the series leaves the head. An appender that
    /// resolved the series before then must resolve its labels again.
    removed: AtomicBool,
    pub(crate) data: Mutex<SeriesData>,
}

impl MemSeries {
    pub(crate) fn new(id: SeriesId, labels: SeriesLabels) -> Self {
        MemSeries {
            id,
            labels,
            logged: AtomicBool::new(false),
            removed: AtomicBool::new(false),
            data: Mutex::new(SeriesData::default()),
        }
    }

    pub(crate) fn is_logged(&self) -> bool {
        self.logged.load(Ordering::Acquire)
    }

    pub(crate) fn mark_logged(&self) {
        self.logged.store(true, Ordering::Release);
    }

    pub(crate) fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Acquire)
    }

    pub(crate) fn mark_removed(&self) {
        self.removed.store(true, Ordering::Release);
    }
}

/// A closed chunk not yet in a chunk-head segment.
pub(crate) struct PendingChunk {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    /// WAL segment of its oldest sample, or [`NO_WAL_SEGMENT`] when the chunk is rebuilt
    /// on replay without the WAL (a rewrite of a chunk on disk by a delete or truncation).
    pub(crate) wal_segment: u32,
    pub(crate) data: Box<[u8]>,
}

/// Most bytes one sample adds to a chunk (the 64-bit timestamp escape and a full XOR code).
const OPEN_CHUNK_MAX_SAMPLE_BYTES: usize = 19;
/// Bytes the open chunk's buffer grows by: about 25 samples at second resolution, so a
/// 240-sample chunk reallocates about ten times.
const OPEN_CHUNK_GROWTH_BYTES: usize = 64;

/// "No WAL segment needed" in the WAL marks below.
pub(crate) const NO_WAL_SEGMENT: u32 = u32::MAX;

/// The samples of one series.
///
/// Invariants: timestamps strictly increase across `chunks` (oldest first) then `open`;
/// every `chunks` entry whose location is pending has exactly one `pending` entry with its
/// `hi` as `max_t`, and vice versa. `open.newest()` is the series' newest sample
/// (its timestamp is [`SeriesData::last_t`], `i64::MIN` while there was none):
/// the open chunk's last one, or the one its empty chunk follows ([`XorChunk::empty_after`])
/// — the newest in `chunks`, or one an edit has since removed, which still orders the next
/// append. `ooo` holds the accepted samples older than `last_t` that arrived
/// after it, none at a timestamp the chunks hold. `open_wal_segment` is the WAL segment of
/// the open chunk's first sample, `ooo_wal_segment` at or before that of every sample in
/// `ooo` and of the open chunk when each arrived (so that replay finds, before an
/// out-of-order sample, the newer sample it was accepted behind).
pub(crate) struct SeriesData {
    pub(crate) chunks: ChunkList,
    pub(crate) pending: PendingChunks,
    pub(crate) open: XorChunk,
    pub(crate) ooo: OooSamples,
    pub(crate) open_wal_segment: u32,
    pub(crate) ooo_wal_segment: u32,
}

impl Default for SeriesData {
    fn default() -> Self {
        SeriesData {
            chunks: ChunkList::default(),
            pending: PendingChunks::default(),
            open: XorChunk::new(),
            ooo: OooSamples::default(),
            open_wal_segment: NO_WAL_SEGMENT,
            ooo_wal_segment: NO_WAL_SEGMENT,
        }
    }
}

/// A closed chunk's bytes and exact range, from memory or from a segment's map.
pub(crate) enum ChunkBytes<'a> {
    Pending(&'a PendingChunk),
    Disk(MappedChunk),
}

impl ChunkBytes<'_> {
    pub(crate) fn data(&self) -> &[u8] {
        match self {
            ChunkBytes::Pending(p) => &p.data,
            ChunkBytes::Disk(m) => m.data(),
        }
    }

    pub(crate) fn range(&self) -> (i64, i64) {
        match self {
            ChunkBytes::Pending(p) => (p.min_t, p.max_t),
            ChunkBytes::Disk(m) => (m.min_t, m.max_t),
        }
    }

    pub(crate) fn iter(&self) -> XorIter<'_> {
        XorIter::from_bytes(self.data())
    }
}

impl SeriesData {
    /// The newest sample's timestamp (`i64::MIN` while there was none), which orders
    /// appends: a later one is appended, an earlier one is out of order.
    pub(crate) fn last_t(&self) -> i64 {
        self.open.newest().0
    }

    /// The open chunk's first timestamp, `i64::MIN` while it is empty.
    pub(crate) fn open_min_t(&self) -> i64 {
        self.open.first_time().unwrap_or(i64::MIN)
    }

    /// Appends a sample logged in WAL segment `wal_segment`. Precondition: `t > self.last_t()`
    /// (checked by the appender). Returns true when this closed a chunk, which the caller
    /// queues for the chunk writer.
    pub(crate) fn push(&mut self, t: i64, v: f64, wal_segment: u32) -> bool {
        let n = self.open.num_samples();
        let mut closed = false;
        if n > 0 && (n >= SAMPLES_PER_CHUNK || t - self.open_min_t() >= MAX_CHUNK_SPAN_MS) {
            self.close_open();
            closed = true;
        }
        if self.open.num_samples() == 0 {
            self.open_wal_segment = wal_segment;
        }
        // A sample takes at most 19 bytes (68 + 76 bits); grow the open chunk's buffer by
        // small steps rather than by doubling, which would leave a third of it unused.
        if self.open.capacity_bytes() - self.open.size_bytes() < OPEN_CHUNK_MAX_SAMPLE_BYTES {
            self.open.reserve_exact(OPEN_CHUNK_GROWTH_BYTES);
        }
        self.open.append(t, v);
        closed
    }

    /// Moves the open chunk (when it has samples) to the pending closed chunks.
    pub(crate) fn close_open(&mut self) -> bool {
        if self.open.num_samples() == 0 {
            return false;
        }
        let (t, v_bits) = self.open.newest();
        let full = std::mem::replace(&mut self.open, XorChunk::empty_after(t, v_bits));
        self.close_chunk(full);
        true
    }

    /// Moves `chunk`, the open chunk's samples, to the pending closed chunks, with the
    /// open chunk's WAL segment. Precondition: `chunk` is not empty.
    fn close_chunk(&mut self, chunk: XorChunk) {
        let (min_t, max_t) = (chunk.first_time(), chunk.last_time());
        debug_assert!(min_t.is_some(), "closing an empty chunk");
        let (min_t, max_t) = (min_t.unwrap_or(i64::MIN), max_t.unwrap_or(i64::MIN));
        // Newer than every chunk held: the open chunk's samples are.
        self.chunks.push(min_t, max_t, Loc::Pending);
        self.pending.push(PendingChunk {
            min_t,
            max_t,
            wal_segment: self.open_wal_segment,
            data: chunk.into_bytes().into_boxed_slice(),
        });
        self.open_wal_segment = NO_WAL_SEGMENT;
    }

    /// Puts `rewritten`, the open chunk's samples after an edit (a truncation or a delete),
    /// in its place, keeping the series' newest sample: it orders the next append even
    /// when the edit removed it (Prometheus's tombstones leave a series' append state
    /// alone too). A rewrite that lost that sample but kept others is closed instead, and
    /// the open chunk left empty after the newest sample.
    pub(crate) fn replace_open(&mut self, rewritten: XorChunk) {
        let (t, v_bits) = self.open.newest();
        if rewritten.num_samples() == 0 {
            let mut empty = rewritten;
            empty.follow(t, v_bits);
            self.open = empty;
            self.open_wal_segment = NO_WAL_SEGMENT;
        } else if rewritten.newest() == (t, v_bits) {
            self.open = rewritten;
        } else {
            self.open = XorChunk::empty_after(t, v_bits);
            self.close_chunk(rewritten);
        }
    }

    /// Puts a chunk read back from a chunk-head segment into place, replacing the chunks it
    /// overlaps: those are older versions of it (a rewrite by a delete or a truncation is a
    /// later record with a range inside the original's). Records come in write order.
    /// The newest sample ends as the newest chunk's last (`last_v_bits` is the value of the
    /// record's last sample). Only for loading a series before any sample is appended to
    /// it: `last_t()` is then the newest chunk's end. `bounds` are those the
    /// list was reserved with ([`ChunkList::reserve_bulk`]).
    pub(crate) fn attach(
        &mut self,
        min_t: i64,
        max_t: i64,
        last_v_bits: u64,
        r: crate::head_chunks::ChunkRef,
        hc: &HeadChunks,
        bounds: &BulkBounds,
    ) {
        debug_assert!(self.open.num_samples() == 0 && self.ooo.is_empty());
        debug_assert!(self.chunks.last_hi().is_none_or(|hi| hi == self.last_t()));
        // The common case: a chunk newer than every chunk held (a series' records are
        // written in time order), appended without reading the list.
        if self.chunks.is_empty() || self.last_t() < min_t {
            self.chunks.push_bulk(min_t, max_t, r, bounds);
            self.open.follow(max_t, last_v_bits);
            return;
        }
        let mut metas = self.chunks.to_vec();
        let first = metas.partition_point(|m| m.hi < min_t);
        let mut end = first;
        while let Some(m) = metas.get(end) {
            if m.lo > max_t {
                break;
            }
            // A chunk ending inside this one's range overlaps it. One ending after it (the
            // last candidate, as the next starts after that end) overlaps only if it
            // starts in the range, and its `lo` is only a bound: across a gap it may lie
            // before the chunk's start. Read the start then (a rewrite that cut a chunk's
            // end, or a record whose original is lost); an unreadable chunk holds nothing
            // to keep.
            if m.hi > max_t && self.exact_min_t(m, hc).is_some_and(|t| t > max_t) {
                break;
            }
            end += 1;
        }
        // Only the first `lo` is kept (as the list's base): `min_t` is exact.
        let new = ChunkMeta {
            lo: min_t,
            hi: max_t,
            loc: Loc::Disk(r),
        };
        let replaced: Vec<ChunkMeta> = metas.splice(first..end, [new]).collect();
        for m in &replaced {
            self.forget_pending(m);
        }
        self.chunks.replace(&metas);
        // Chunks after this one did not overlap it and are unchanged, so the newest chunk
        // changed only if this one is it.
        if first + 1 == metas.len() {
            self.open.follow(max_t, last_v_bits);
        }
    }

    /// A chunk's first timestamp, from its pending entry or its record's header; `None`
    /// when it cannot be read.
    fn exact_min_t(&self, m: &ChunkMeta, hc: &HeadChunks) -> Option<i64> {
        self.load(m, hc).map(|c| c.range().0)
    }

    /// Replaces pending chunk `(min_t, max_t, data)` by its copy on disk at `r`. False when
    /// the series no longer holds that chunk as it was (a delete or truncation changed it
    /// meanwhile): then the record on disk is dead, superseded by the newer one.
    pub(crate) fn mark_written(
        &mut self,
        min_t: i64,
        max_t: i64,
        data: &[u8],
        r: crate::head_chunks::ChunkRef,
    ) -> bool {
        let Some(i) = self
            .pending
            .iter()
            .position(|p| p.min_t == min_t && p.max_t == max_t && *p.data == *data)
        else {
            return false;
        };
        // The chunk ending at `max_t`, if it is still the pending one.
        let at = self.chunks.first_ending_at_or_after(max_t);
        let still_pending = at < self.chunks.len() && {
            let m = self.chunks.get(at);
            m.hi == max_t && m.loc == Loc::Pending
        };
        if !still_pending {
            return false;
        }
        self.chunks.set_loc(at, Loc::Disk(r));
        self.pending.swap_remove(i);
        true
    }

    /// The bytes of a closed chunk; `None` when its record cannot be read (logged).
    pub(crate) fn load<'a>(&'a self, m: &ChunkMeta, hc: &HeadChunks) -> Option<ChunkBytes<'a>> {
        match m.loc {
            Loc::Pending => self
                .pending
                .iter()
                .find(|p| p.max_t == m.hi)
                .map(ChunkBytes::Pending),
            Loc::Disk(r) => {
                let c = hc.read(r);
                if c.is_none() {
                    tracing::error!(
                        segment = r.seq,
                        offset = r.offset,
                        "head chunk unreadable; its samples are skipped"
                    );
                }
                c.map(ChunkBytes::Disk)
            }
        }
    }

    /// Stores a sample older than `last_t()` (accepted out of order) unless the series
    /// holds that timestamp already, which makes replaying it twice harmless.
    pub(crate) fn insert_ooo(&mut self, t: i64, v: f64, wal_segment: u32, hc: &HeadChunks) -> bool {
        if self.chunk_value_bits_at(t, hc).is_some() || !self.ooo.insert(t, v) {
            return false;
        }
        let open = if self.open.num_samples() > 0 {
            self.open_wal_segment
        } else {
            NO_WAL_SEGMENT
        };
        self.ooo_wal_segment = self.ooo_wal_segment.min(wal_segment).min(open);
        true
    }

    /// Appends to `out` the samples with `mint <= t <= maxt`, oldest first.
    pub(crate) fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>, hc: &HeadChunks) {
        let from = out.len();
        self.chunk_samples_in(mint, maxt, out, hc);
        if !self.ooo.is_empty() {
            self.ooo.merge_into(mint, maxt, out, from);
        }
    }

    fn chunk_samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>, hc: &HeadChunks) {
        let first = self.chunks.first_ending_at_or_after(mint);
        for m in self.chunks.iter_from(first) {
            if m.lo > maxt {
                break;
            }
            if let Some(c) = self.load(&m, hc) {
                extend_in_range(c.iter(), mint, maxt, out);
            }
        }
        if self.open.num_samples() > 0 && self.open_min_t() <= maxt && self.last_t() >= mint {
            extend_in_range(self.open.iter(), mint, maxt, out);
        }
    }

    /// The value bits of the sample at exactly `t`, if the series has one. Decodes at most
    /// the chunks whose ranges hold `t` (one, unless ranges are approximate).
    pub(crate) fn value_bits_at(&self, t: i64, hc: &HeadChunks) -> Option<u64> {
        self.ooo
            .value_bits_at(t)
            .or_else(|| self.chunk_value_bits_at(t, hc))
    }

    fn chunk_value_bits_at(&self, t: i64, hc: &HeadChunks) -> Option<u64> {
        let find = |it: XorIter<'_>| {
            let mut it = it;
            it.find(|s| s.t >= t)
                .filter(|s| s.t == t)
                .map(|s| s.v.to_bits())
        };
        if self.open.num_samples() > 0 && t >= self.open_min_t() {
            return find(self.open.iter());
        }
        let first = self.chunks.first_ending_at_or_after(t);
        for m in self.chunks.iter_from(first) {
            if m.lo > t {
                break;
            }
            let Some(c) = self.load(&m, hc) else { continue };
            let (lo, hi) = c.range();
            if lo <= t && t <= hi {
                return find(c.iter());
            }
        }
        None
    }

    /// Timestamp of the oldest sample, if any.
    pub(crate) fn first_t(&self, hc: &HeadChunks) -> Option<i64> {
        let in_order = match self.chunks.iter().find_map(|m| self.load(&m, hc)) {
            Some(c) => Some(c.range().0),
            None => self.open.first_time(),
        };
        match (in_order, self.ooo.first_t()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty() && self.open.num_samples() == 0 && self.ooo.is_empty()
    }

    /// Copies the chunks holding samples older than `maxt`, the open one included, as
    /// encoded bytes; a chunk straddling `maxt` is copied whole (the block writer drops what
    /// lies outside its range).
    pub(crate) fn chunks_before(&self, maxt: i64, out: &mut Vec<InputChunk>, hc: &HeadChunks) {
        for m in self.chunks.iter().take_while(|m| m.lo < maxt) {
            let Some(c) = self.load(&m, hc) else { continue };
            let (min_t, max_t) = c.range();
            if min_t < maxt {
                out.push(InputChunk {
                    min_t,
                    max_t,
                    data: c.data().to_vec(),
                });
            }
        }
        if self.open.num_samples() > 0 && self.open_min_t() < maxt {
            out.push(InputChunk {
                min_t: self.open_min_t(),
                max_t: self.last_t(),
                data: self.open.bytes().to_vec(),
            });
        }
        // Overlapping the chunks above; the block writer merges them.
        self.ooo.chunks_before(maxt, out);
    }

    /// Drops every sample older than `t`. A chunk straddling `t` is re-encoded with its
    /// newer samples so that the head and the blocks never hold the same sample, which keeps
    /// the head's time range exact. The newest sample is kept: it still orders the next
    /// append.
    pub(crate) fn truncate_before(&mut self, t: i64, hc: &HeadChunks) {
        self.ooo.truncate_before(t);
        if self.ooo.is_empty() {
            self.ooo_wal_segment = NO_WAL_SEGMENT;
        }
        self.truncate_chunks_before(t, hc);
        if self.open.num_samples() > 0 && self.open_min_t() < t {
            let rest = reencode_from(self.open.bytes(), t).0;
            self.replace_open(rest);
        }
    }

    fn truncate_chunks_before(&mut self, t: i64, hc: &HeadChunks) {
        // Chunks ending before `t` go; the next may straddle it (the ones after start
        // after its end, which is at or after `t`).
        let mut drop = self.chunks.first_ending_at_or_after(t);
        let mut first = None;
        let mut first_lo = t;
        if let Some(m) = (drop < self.chunks.len()).then(|| self.chunks.get(drop)) {
            first_lo = m.lo.max(t);
            if m.lo < t {
                let cut = self.load(&m, hc).map(|c| {
                    let (min_t, max_t) = c.range();
                    let rewritten = (min_t < t && max_t >= t).then(|| reencode_from(c.data(), t));
                    (min_t, max_t, rewritten)
                });
                match cut {
                    // Starts at or after `t` after all: its start is the new base.
                    Some((min_t, _, None)) if min_t >= t => first_lo = min_t,
                    Some((_, max_t, Some((chunk, min_t)))) if chunk.num_samples() > 0 => {
                        drop += 1;
                        first = Some((min_t, max_t, chunk));
                    }
                    // Unreadable (or wholly older than `t`, which its end rules out).
                    _ => drop += 1,
                }
            }
        }
        if drop == 0 && first.is_none() {
            return;
        }
        let mut metas = self.chunks.to_vec();
        for m in metas.drain(..drop) {
            self.forget_pending(&m);
        }
        match first {
            // Its start is exact.
            Some((min_t, max_t, chunk)) => {
                let m = self.pend_rewritten(min_t, max_t, chunk);
                metas.insert(0, m);
            }
            // Every sample left is at or after `t`.
            None => {
                if let Some(m) = metas.first_mut() {
                    m.lo = first_lo;
                }
            }
        }
        self.chunks = ChunkList::from_metas(&metas);
    }

    /// A chunk rewritten from one on disk (or pending), as a pending chunk: it waits in
    /// `pending` for the writer, and needs no WAL, since replay rebuilds it from the
    /// original record and the delete or truncation that made it. Returns its entry for
    /// the caller to put into `chunks`.
    pub(crate) fn pend_rewritten(&mut self, min_t: i64, max_t: i64, chunk: XorChunk) -> ChunkMeta {
        self.pending.push(PendingChunk {
            min_t,
            max_t,
            wal_segment: NO_WAL_SEGMENT,
            data: chunk.into_bytes().into_boxed_slice(),
        });
        ChunkMeta {
            lo: min_t,
            hi: max_t,
            loc: Loc::Pending,
        }
    }

    /// Drops the pending entry of chunk `m`, if it is pending; the caller takes it out of
    /// `chunks`.
    pub(crate) fn forget_pending(&mut self, m: &ChunkMeta) {
        if m.loc == Loc::Pending {
            self.pending.retain(|p| p.max_t != m.hi);
        }
    }

    /// True when any sample lies in `[mint, maxt]`. Approximated by chunk ranges, which is
    /// exact at the ends of the series and errs on "yes" only inside gaps between samples.
    pub(crate) fn overlaps(&self, mint: i64, maxt: i64, hc: &HeadChunks) -> bool {
        let Some(first) = self.first_t(hc) else {
            return false;
        };
        let last = self.last_t().max(self.ooo.last_t().unwrap_or(i64::MIN));
        first <= maxt && last >= mint
    }

    /// The oldest WAL segment whose samples this series still needs for replay: those of
    /// its open chunk, of its chunks not yet written, and of its out-of-order samples.
    pub(crate) fn wal_mark(&self) -> u32 {
        let mut mark = self
            .pending
            .iter()
            .map(|p| p.wal_segment)
            .min()
            .unwrap_or(NO_WAL_SEGMENT);
        if self.open.num_samples() > 0 {
            mark = mark.min(self.open_wal_segment);
        }
        if !self.ooo.is_empty() {
            mark = mark.min(self.ooo_wal_segment);
        }
        mark
    }
}

/// A chunk of the samples of chunk bytes `c` at or after `t`, and its first timestamp.
/// Callers pass a chunk holding at least one such sample, except for the open chunk, which
/// may end empty.
fn reencode_from(c: &[u8], t: i64) -> (XorChunk, i64) {
    let mut out = XorChunk::new();
    let mut first = i64::MAX;
    for s in XorIter::from_bytes(c).filter(|s| s.t >= t) {
        first = first.min(s.t);
        out.append(s.t, s.v);
    }
    out.shrink_to_fit();
    (out, first)
}

fn extend_in_range(it: impl Iterator<Item = Sample>, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
    for s in it {
        if s.t > maxt {
            break;
        }
        if s.t >= mint {
            out.push(s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every sample time the series holds, oldest first.
    fn times(d: &SeriesData, hc: &HeadChunks) -> Vec<i64> {
        let mut out = Vec::new();
        d.samples_in(i64::MIN, i64::MAX, &mut out, hc);
        out.iter().map(|s| s.t).collect()
    }

    /// A chunk's start is kept as the gap after the chunk before, which a tightly encoded
    /// list lets saturate across an outage: its bound then lies before the start, and
    /// replay must not take a record inside the gap for a newer version of the chunk after
    /// it. A bulk load keeps every start exact; both attach alike.
    #[test]
    fn attached_records_replace_only_the_chunks_they_overlap() {
        let head = crate::head::Head::for_tests();
        let hc = &head.chunks;
        let write = |ts: &[i64]| {
            let mut c = XorChunk::new();
            for &t in ts {
                c.append(t, t as f64);
            }
            let (min_t, max_t) = (ts[0], ts[ts.len() - 1]);
            let to_write = crate::head_chunks::ChunkToWrite {
                id: 0,
                min_t,
                max_t,
                data: c.bytes(),
            };
            let r = hc.write(&[to_write]).expect("written")[0];
            (min_t, max_t, (max_t as f64).to_bits(), r)
        };
        // Ten chunks of samples 10 ms apart, then an outage before `b`.
        let mut records: Vec<_> = (0..10)
            .map(|k| write(&[k * 30, k * 30 + 10, k * 30 + 20]))
            .collect();
        let b = write(&[5000, 5010]);
        // Written later, inside the outage: no chunk of the list is its original (say it
        // was lost).
        let in_gap = write(&[2000, 2010]);
        // `b` with its end deleted: replaces `b`.
        let b_cut = write(&[5000]);
        let mut bounds = BulkBounds::default();
        for &(_, max_t, _, r) in records.iter().chain([&b, &in_gap, &b_cut]) {
            bounds.note(max_t, r);
        }
        records.push(b);
        let mut want: Vec<i64> = (0..300).step_by(10).collect();
        for bulk in [true, false] {
            let mut d = SeriesData::default();
            if bulk {
                d.chunks.reserve_bulk(13, &bounds);
            }
            for &(min_t, max_t, v, r) in &records {
                d.attach(min_t, max_t, v, r, hc, &bounds);
            }
            let b_lo = d.chunks.get(10).lo;
            assert!(if bulk { b_lo == 5000 } else { b_lo < 2000 }, "{b_lo}");
            let (min_t, max_t, v, r) = in_gap;
            d.attach(min_t, max_t, v, r, hc, &bounds);
            want.extend([2000, 2010, 5000, 5010]);
            assert_eq!(times(&d, hc), want, "bulk {bulk}");
            assert_eq!(d.open.newest(), (5010, 5010f64.to_bits()));
            let (min_t, max_t, v, r) = b_cut;
            d.attach(min_t, max_t, v, r, hc, &bounds);
            want.pop();
            assert_eq!(times(&d, hc), want, "bulk {bulk}");
            assert_eq!((d.chunks.len(), d.last_t()), (12, 5000));
            // A read ending inside the outage finds nothing of the chunk after it.
            let mut out = Vec::new();
            d.samples_in(2011, 4999, &mut out, hc);
            assert!(out.is_empty());
            d.chunks.compact(&mut Default::default());
            assert_eq!(times(&d, hc), want, "bulk {bulk}");
            want.truncate(30);
        }
    }

    /// Every series in the head holds one of these (in a [`SharedSeries`], whose 8-byte
    /// count comes on top): keep it within 160 bytes, so that the 168-byte allocation
    /// takes a 176-byte chunk of glibc's malloc (the binary's allocator; 8 bytes of header,
    /// 16-byte steps) and mimalloc's 192-byte size class. It was 200 bytes before the
    /// out-of-order samples went behind an optional box and the open chunk's first
    /// timestamp was read from its bytes, and 176 before the newest sample was read from
    /// the open chunk's encoder; with `std`'s 16-byte `Arc` header that was a 208-byte
    /// glibc chunk.
    #[test]
    fn series_state_fits_its_size_class() {
        let size = std::mem::size_of::<MemSeries>();
        assert!(size <= 160, "MemSeries is {size} bytes");
    }
}
