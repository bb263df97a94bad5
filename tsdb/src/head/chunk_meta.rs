//! A series' closed chunks, oldest first: where each one is and bounds on its time range,
//! good enough to skip chunks without reading them, bit-packed into about 4–5 bytes a
//! chunk at 1 s resolution (fixed 16-byte entries were the largest item per series once
//! the head spans hours: 30–45 closed chunks at 1 s).
//!
//! Per chunk the list stores its last timestamp `hi` (exact: the chunk's `max_t`), a lower
//! bound `lo` on its first timestamp as the gap after the chunk before, and its location:
//! a chunk-head [`ChunkRef`], or "pending" for a closed chunk still in memory
//! (`SeriesData::pending`, found by its `max_t`, which no other chunk of the series
//! shares). Chunks do not overlap and timestamps strictly increase, so a gap is never
//! negative. `lo` is the chunk's first timestamp unless its gap exceeds the list's
//! smallest by more than [`MAX_GAP_BITS`] allow (an outage in the series), where it stays a
//! bound below it, or unless an edit left a bound there (a chunk deleted before it). Bounds
//! never narrow: pruning by them never skips a chunk it needs.
//!
//! `words` is empty for a list that holds nothing and has nothing reserved; otherwise:
//!
//! | word | bits   | field    | meaning                                                      |
//! |------|--------|----------|--------------------------------------------------------------|
//! | 0    | 0..64  | `t0`     | `hi` of entry `i` is `t0 + i·t_step + t_code(i)`, mod 2^64, as i64 |
//! | 1    | 0..32  | `t_step` | ms; the median step between consecutive `hi`s (0 in a bulk load) |
//! | 1    | 32..64 | `s0`     | the segment of entry `i` is `s0 + s_code(i)`                  |
//! | 2    | 0..64  | `base_t` | `lo` of entry 0, as i64                                      |
//! | 3..  |        | entries  | entry `i` in bits `192 + i·W .. 192 + (i+1)·W` of the words, bit `k` being bit `k % 64` of word `k / 64`; `W = w_off + w_seq + w_t + w_gap` |
//!
//! An entry:
//!
//! | bits                      | field      | meaning                                        |
//! |---------------------------|------------|------------------------------------------------|
//! | 0 .. w_off                | offset     | the record's offset in its segment (0 if pending) |
//! | .. + w_seq                | `s_code`   | segment − `s0`; all ones (`2^w_seq − 1`) marks a pending chunk |
//! | .. + w_t                  | `t_code`   | `hi − t0 − i·t_step`, mod 2^64                 |
//! | .. + w_gap (= W)          | `gap_code` | entry `i > 0`: `lo = hi(i−1) + 1 + g0 + gap_code`, the code saturated at all ones; 0 in entry 0 |
//!
//! The widths (`w_off` ≤ 32, `w_seq` ≤ 33, `w_t` ≤ 64, `w_gap` ≤ [`MAX_GAP_BITS`], 64 in a
//! bulk load) and `g0` (the smallest gap) live in the struct. The widths are the fewest
//! bits that hold every entry's field, so any values fit; what keeps them small is the
//! data. A series' chunks close every 240 samples at a steady interval, so their `hi`s
//! lie on a line and their gaps are one interval: `t_code` and `gap_code` take 0 bits, or
//! a few for jitter; segments are those written during the head's span (8 bits for 1 M
//! series over 3 h at 1 s); offsets take what the segment size needs (27 bits for
//! 128 MiB). An append or relocation that fits the widths writes its bits in place; one
//! that does not re-encodes the list (tens of entries), which happens a few times as a
//! series' head span grows. Other edits (truncation, deletes, a rewritten chunk replacing
//! the older one on replay) decode the list, change it and encode it again.
//!
//! Replay fills every list at once (`head/replay.rs`), one record at a time across all
//! series, each a cache miss on its series: [`ChunkList::reserve_bulk`] sizes a list for
//! its final count, anchored at the lowest end and segment among the records on disk (a
//! flat line, `g0` 0) with widths that hold all of them exactly, so that appending a
//! record reads only the entry before it and never re-encodes; [`ChunkList::compact`]
//! encodes it tightly after its last.

use crate::head_chunks::ChunkRef;

/// Words, and bits, of the header before the entries.
const HEADER_WORDS: usize = 3;
const HEADER_BITS: u64 = 64 * HEADER_WORDS as u64;

/// Most bits of a tight list's gap codes: a gap more than 4 s past the list's smallest
/// saturates (its `lo` then lies up to that much before the chunk's start) rather than
/// widening every entry for one outage.
pub(crate) const MAX_GAP_BITS: u8 = 12;

/// Where a chunk is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    Disk(ChunkRef),
    /// In `SeriesData::pending`, as the pending chunk whose `max_t` is the entry's `hi`.
    Pending,
}

/// One closed chunk, decoded: `lo` is at or before its first timestamp, `hi` is its last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkMeta {
    pub(crate) lo: i64,
    pub(crate) hi: i64,
    pub(crate) loc: Loc,
}

/// See the module docs. Invariants: `len` entries are encoded in `words` as the tables
/// say, with `hi` strictly increasing and each `lo` at or before its chunk's first
/// timestamp; `words` is empty or holds the header and at least `len` entries. While
/// `bulk` (from [`ChunkList::reserve_bulk`] to [`ChunkList::compact`]) the header holds
/// the anchors of the bounds it was reserved with (`t_step` and `g0` 0), and neither the
/// widths nor the words shrink.
#[derive(Default)]
pub(crate) struct ChunkList {
    words: Box<[u64]>,
    len: u32,
    g0: u32,
    w: Widths,
    bulk: bool,
}

/// Bits of each field of an entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Widths {
    off: u8,
    seq: u8,
    t: u8,
    gap: u8,
}

impl Widths {
    fn entry_bits(self) -> u64 {
        u64::from(self.off) + u64::from(self.seq) + u64::from(self.t) + u64::from(self.gap)
    }
}

/// The fields of one entry as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Codes {
    off: u64,
    s: u64,
    t: u64,
    gap: u64,
}

/// The header, `g0` and widths an encoding uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    t0: u64,
    t_step: u32,
    s0: u32,
    g0: u32,
    w: Widths,
}

impl Layout {
    /// The smallest layout holding `metas`, with `t_step` the median step between their
    /// `hi`s and gap codes of at most [`MAX_GAP_BITS`] wide enough for every gap but
    /// outliers (`steps` is room to find both).
    fn fit(metas: &[ChunkMeta], steps: &mut Vec<u32>) -> Layout {
        let t_step = median_step(metas, steps);
        let (t0, w_t, t_step) = match time_codes(metas, t_step) {
            Some((t0, max)) => (t0, bits(max), t_step),
            // Codes around that line would not fit 64 bits: without a line they always do.
            None => {
                let (t0, max) = time_codes(metas, 0).unwrap_or((0, u64::MAX));
                (t0, bits(max), 0)
            }
        };
        let (mut s_min, mut s_max, mut off_max, mut any) = (u32::MAX, 0u32, 0u32, false);
        for m in metas {
            if let Loc::Disk(r) = m.loc {
                s_min = s_min.min(r.seq);
                s_max = s_max.max(r.seq);
                off_max = off_max.max(r.offset);
                any = true;
            }
        }
        let (s0, w_seq) = if any {
            // One more than the largest code, so that all ones stays free for "pending".
            (s_min, bits(u64::from(s_max - s_min) + 1))
        } else {
            (0, 0)
        };
        let gaps = || metas.windows(2).map(|w| gap_between(w[0].hi, w[1].lo));
        let g0 = gaps()
            .min()
            .map_or(0, |g| u32::try_from(g).unwrap_or(u32::MAX));
        // An outage in a series should not widen every entry: gaps far beyond seven in
        // eight saturate, while jitter (gaps spread a few ms around the interval) fits.
        steps.clear();
        let widest = mask(MAX_GAP_BITS);
        steps.extend(gaps().map(|g| (g - u64::from(g0)).min(widest) as u32));
        let gap_max: u32 = match steps.len().checked_sub(1 + steps.len() / 8) {
            Some(k) => {
                let typical = *steps.select_nth_unstable(k).1;
                let limit = typical.saturating_mul(4).saturating_add(15);
                steps
                    .iter()
                    .copied()
                    .filter(|&g| g <= limit)
                    .max()
                    .unwrap_or(0)
            }
            None => 0,
        };
        Layout {
            t0,
            t_step,
            s0,
            g0,
            w: Widths {
                off: bits(u64::from(off_max)),
                seq: w_seq,
                t: w_t,
                gap: bits(u64::from(gap_max)),
            },
        }
    }

    /// This bulk layout (a flat line from `t0`, segments from `s0`, `g0` 0) widened to
    /// hold `metas` exactly; `None` when one of them lies below those anchors.
    fn anchored(&self, metas: &[ChunkMeta]) -> Option<Layout> {
        let mut w = self.w;
        for (i, m) in metas.iter().enumerate() {
            let t = u64::try_from(i128::from(m.hi) - i128::from(self.t0 as i64)).ok()?;
            w.t = w.t.max(bits(t));
            if i > 0 {
                w.gap = w.gap.max(bits(gap_between(metas[i - 1].hi, m.lo)));
            }
            if let Loc::Disk(r) = m.loc {
                let s = r.seq.checked_sub(self.s0)?;
                w.seq = w.seq.max(bits(u64::from(s) + 1));
                w.off = w.off.max(bits(u64::from(r.offset)));
            }
        }
        Some(Layout { w, ..*self })
    }

    /// Entry `i`'s time code for `hi`, if it fits.
    fn t_code(&self, i: usize, hi: i64) -> Option<u64> {
        let t = (hi as u64)
            .wrapping_sub(self.t0)
            .wrapping_sub((i as u64).wrapping_mul(u64::from(self.t_step)));
        (t <= mask(self.w.t)).then_some(t)
    }

    /// The offset and `s_code` of `loc`, if they fit.
    fn loc_codes(&self, loc: Loc) -> Option<(u64, u64)> {
        let pending = mask(self.w.seq);
        match loc {
            Loc::Pending => Some((0, pending)),
            Loc::Disk(r) => {
                let s = u64::from(r.seq.checked_sub(self.s0)?);
                let off = u64::from(r.offset);
                (s < pending && off <= mask(self.w.off)).then_some((off, s))
            }
        }
    }

    /// The code of a gap (`lo - hi(i-1) - 1`, or `None` for entry 0), if it fits: `None`
    /// below `g0`, and above the width unless `saturate` (which only widens the bound: an
    /// encoding saturates the outliers its fit chose to; an append re-encodes instead).
    fn gap_code(&self, gap: Option<u64>, saturate: bool) -> Option<u64> {
        let Some(g) = gap else { return Some(0) };
        let code = g.checked_sub(u64::from(self.g0))?;
        match code <= mask(self.w.gap) {
            true => Some(code),
            false => saturate.then_some(mask(self.w.gap)),
        }
    }

    /// Entry `i`'s codes, if they fit this layout (see [`Layout::gap_code`]).
    fn codes(
        &self,
        i: usize,
        hi: i64,
        gap: Option<u64>,
        loc: Loc,
        saturate: bool,
    ) -> Option<Codes> {
        let (off, s) = self.loc_codes(loc)?;
        Some(Codes {
            off,
            s,
            t: self.t_code(i, hi)?,
            gap: self.gap_code(gap, saturate)?,
        })
    }
}

/// The gap before a chunk starting at or after `lo`, after one ending at `prev_hi`: how far
/// past `prev_hi + 1` the bound lies (0 for a bound at or before it).
fn gap_between(prev_hi: i64, lo: i64) -> u64 {
    let d = i128::from(lo) - i128::from(prev_hi) - 1;
    u64::try_from(d.max(0)).unwrap_or(u64::MAX)
}

/// The bound a gap code gives after a chunk ending at `prev_hi`.
fn lo_after(prev_hi: i64, g0: u32, code: u64) -> i64 {
    let lo = i128::from(prev_hi) + 1 + i128::from(g0) + i128::from(code);
    i64::try_from(lo).unwrap_or(i64::MAX)
}

/// The line's anchor (`t0`, mod 2^64) and the largest code for `t_step`, so that every
/// code is `hi - i·t_step - t0 >= 0`; `None` when the codes would span more than 64 bits.
fn time_codes(metas: &[ChunkMeta], t_step: u32) -> Option<(u64, u64)> {
    if metas.is_empty() {
        return Some((0, 0));
    }
    let on_line = |i: usize, m: &ChunkMeta| i128::from(m.hi) - i as i128 * i128::from(t_step);
    let (mut lo, mut hi) = (i128::MAX, i128::MIN);
    for (i, m) in metas.iter().enumerate() {
        let v = on_line(i, m);
        lo = lo.min(v);
        hi = hi.max(v);
    }
    let span = u64::try_from(hi - lo).ok()?;
    // Truncating to 64 bits keeps `t0` right modulo 2^64, which is all decoding needs.
    Some((lo as u64, span))
}

/// The median of the steps between consecutive `hi`s, capped at `u32::MAX` ms: robust to a
/// gap or an early-closed chunk, so that the chunks after one still lie on the line.
fn median_step(metas: &[ChunkMeta], steps: &mut Vec<u32>) -> u32 {
    if metas.len() < 2 {
        return 0;
    }
    steps.clear();
    steps.extend(metas.windows(2).map(|w| {
        let d = i128::from(w[1].hi) - i128::from(w[0].hi);
        u32::try_from(d.max(0)).unwrap_or(u32::MAX)
    }));
    let mid = steps.len() / 2;
    *steps.select_nth_unstable(mid).1
}

/// Bits needed to hold `x`.
fn bits(x: u64) -> u8 {
    (u64::BITS - x.leading_zeros()) as u8
}

fn mask(w: u8) -> u64 {
    crate::chunk::low_bits(u32::from(w))
}

/// The `w` bits (at most 64) at bit `pos`.
fn read_bits(words: &[u64], pos: u64, w: u8) -> u64 {
    if w == 0 {
        return 0;
    }
    let (i, sh) = ((pos / 64) as usize, (pos % 64) as u32);
    let mut v = words[i] >> sh;
    if sh + u32::from(w) > 64 {
        v |= words[i + 1] << (64 - sh);
    }
    v & mask(w)
}

/// Stores `v` (below 2^w) in the `w` bits at bit `pos`.
fn write_bits(words: &mut [u64], pos: u64, w: u8, v: u64) {
    if w == 0 {
        return;
    }
    let (i, sh) = ((pos / 64) as usize, (pos % 64) as u32);
    let m = mask(w);
    words[i] = (words[i] & !(m << sh)) | (v << sh);
    if sh + u32::from(w) > 64 {
        let done = 64 - sh;
        words[i + 1] = (words[i + 1] & !(m >> done)) | (v >> done);
    }
}

/// Words holding the header and `n` entries of `entry_bits` bits.
fn words_for(n: usize, entry_bits: u64) -> usize {
    HEADER_WORDS + (n as u64 * entry_bits).div_ceil(64) as usize
}

/// Buffers [`ChunkList::compact`] reuses.
#[derive(Default)]
pub(crate) struct Scratch {
    metas: Vec<ChunkMeta>,
    steps: Vec<u32>,
}

/// The lowest and highest ends, segments and offsets of the records being loaded, and
/// the largest gap between a series' consecutive records: a bulk list's anchors and
/// widths (see [`ChunkList::reserve_bulk`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct BulkBounds {
    hi_min: i64,
    hi_max: i64,
    seq_min: u32,
    seq_max: u32,
    off_max: u32,
    gap_max: u64,
}

impl Default for BulkBounds {
    fn default() -> Self {
        BulkBounds {
            hi_min: i64::MAX,
            hi_max: i64::MIN,
            seq_min: u32::MAX,
            seq_max: 0,
            off_max: 0,
            gap_max: 0,
        }
    }
}

impl BulkBounds {
    /// Takes in a record that ends at `max_t` and lives at `r`.
    pub(crate) fn note(&mut self, max_t: i64, r: ChunkRef) {
        self.hi_min = self.hi_min.min(max_t);
        self.hi_max = self.hi_max.max(max_t);
        self.seq_min = self.seq_min.min(r.seq);
        self.seq_max = self.seq_max.max(r.seq);
        self.off_max = self.off_max.max(r.offset);
    }

    /// Takes in a record starting at `min_t` that follows one of its series ending at
    /// `prev_max_t`. Records that do not follow (rewrites) need not be noted: a list
    /// re-encodes, as a bulk list still, for what does not fit.
    pub(crate) fn note_gap(&mut self, prev_max_t: i64, min_t: i64) {
        self.gap_max = self.gap_max.max(gap_between(prev_max_t, min_t));
    }

    /// The layout holding lists of the records noted exactly: anchored at the lowest end
    /// and segment, gaps up to the largest noted.
    fn layout(&self) -> Layout {
        let t_span = (i128::from(self.hi_max) - i128::from(self.hi_min)).max(0);
        let s_span = u64::from(self.seq_max.saturating_sub(self.seq_min));
        Layout {
            t0: self.hi_min as u64,
            t_step: 0,
            s0: self.seq_min,
            g0: 0,
            w: Widths {
                off: bits(u64::from(self.off_max)),
                seq: bits(s_span + 1),
                t: bits(u64::try_from(t_span).unwrap_or(u64::MAX)),
                gap: bits(self.gap_max),
            },
        }
    }
}

impl ChunkList {
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes on the heap: the header and the entries' words, reserved ones included.
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.words)
    }

    fn layout(&self) -> Layout {
        Layout {
            t0: self.words[0],
            t_step: self.words[1] as u32,
            s0: (self.words[1] >> 32) as u32,
            g0: self.g0,
            w: self.w,
        }
    }

    fn base_t(&self) -> i64 {
        self.words[2] as i64
    }

    fn entry_pos(&self, i: usize) -> u64 {
        HEADER_BITS + i as u64 * self.w.entry_bits()
    }

    /// The codes of the entry at bit `pos`.
    fn read(&self, pos: u64) -> Codes {
        let w = self.w;
        let at_t = u64::from(w.off) + u64::from(w.seq);
        let at_gap = at_t + u64::from(w.t);
        let bits = at_gap + u64::from(w.gap);
        if bits <= 64 {
            // The usual case: one load, as `write_at` makes one store.
            let v = read_bits(&self.words, pos, bits as u8);
            let field = |at: u64, width: u8| {
                if width == 0 {
                    0
                } else {
                    (v >> at) & mask(width)
                }
            };
            return Codes {
                off: field(0, w.off),
                s: field(u64::from(w.off), w.seq),
                t: field(at_t, w.t),
                gap: field(at_gap, w.gap),
            };
        }
        Codes {
            off: read_bits(&self.words, pos, w.off),
            s: read_bits(&self.words, pos + u64::from(w.off), w.seq),
            t: read_bits(&self.words, pos + at_t, w.t),
            gap: read_bits(&self.words, pos + at_gap, w.gap),
        }
    }

    fn write_at(&mut self, pos: u64, c: Codes) {
        let w = self.w;
        let at_t = u64::from(w.off) + u64::from(w.seq);
        let at_gap = at_t + u64::from(w.t);
        let bits = at_gap + u64::from(w.gap);
        if bits <= 64 {
            // The usual case (offsets 27 bits, segments a few, times and gaps a few): one
            // store. A field of width 0 holds 0, and a shift by 64 only comes with one.
            let put = |v: u64, at: u64| if v == 0 { 0 } else { v << at };
            let v = c.off | put(c.s, u64::from(w.off)) | put(c.t, at_t) | put(c.gap, at_gap);
            write_bits(&mut self.words, pos, bits as u8, v);
            return;
        }
        write_bits(&mut self.words, pos, w.off, c.off);
        write_bits(&mut self.words, pos + u64::from(w.off), w.seq, c.s);
        write_bits(&mut self.words, pos + at_t, w.t, c.t);
        write_bits(&mut self.words, pos + at_gap, w.gap, c.gap);
    }

    /// The last timestamp of chunk `i < len`.
    pub(crate) fn hi(&self, i: usize) -> i64 {
        let pos = self.entry_pos(i) + u64::from(self.w.off) + u64::from(self.w.seq);
        let code = read_bits(&self.words, pos, self.w.t);
        let step = self.words[1] & u64::from(u32::MAX);
        self.words[0]
            .wrapping_add((i as u64).wrapping_mul(step))
            .wrapping_add(code) as i64
    }

    /// The location an entry's codes give.
    fn loc_of(&self, c: &Codes) -> Loc {
        if c.s == mask(self.w.seq) {
            return Loc::Pending;
        }
        let s0 = (self.words[1] >> 32) as u32;
        Loc::Disk(ChunkRef {
            // The encoder kept `s0 + s` within u32.
            seq: s0.wrapping_add(c.s as u32),
            offset: c.off as u32,
        })
    }

    /// Chunk `i < len`.
    pub(crate) fn get(&self, i: usize) -> ChunkMeta {
        let c = self.read(self.entry_pos(i));
        let hi = self.hi(i);
        let lo = match i.checked_sub(1) {
            None => self.base_t(),
            Some(prev) => lo_after(self.hi(prev), self.g0, c.gap),
        };
        ChunkMeta {
            lo,
            hi,
            loc: self.loc_of(&c),
        }
    }

    pub(crate) fn first(&self) -> Option<ChunkMeta> {
        (self.len > 0).then(|| self.get(0))
    }

    /// The last chunk's last timestamp.
    pub(crate) fn last_hi(&self) -> Option<i64> {
        self.len().checked_sub(1).map(|i| self.hi(i))
    }

    /// The index of the first chunk ending at or after `t` (`len` if none): the chunks
    /// before it hold nothing at or after `t`. A binary search.
    pub(crate) fn first_ending_at_or_after(&self, t: i64) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.hi(mid) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Chunks from index `i` on, oldest first.
    pub(crate) fn iter_from(&self, i: usize) -> Iter<'_> {
        let i = i.min(self.len());
        let (line, step, prev_hi) = if self.words.is_empty() {
            (0, 0, 0)
        } else {
            let step = self.words[1] & u64::from(u32::MAX);
            let line = self.words[0].wrapping_add((i as u64).wrapping_mul(step));
            let prev_hi = i.checked_sub(1).map_or(0, |p| self.hi(p));
            (line, step, prev_hi)
        };
        Iter {
            list: self,
            i,
            pos: self.entry_pos(i),
            line,
            step,
            prev_hi,
        }
    }

    pub(crate) fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Every chunk, decoded.
    pub(crate) fn to_vec(&self) -> Vec<ChunkMeta> {
        self.iter().collect()
    }

    /// Encodes `metas` (sorted by `hi`, strictly increasing; each `lo` at or before its
    /// chunk's start and after the `hi` before) tightly.
    pub(crate) fn from_metas(metas: &[ChunkMeta]) -> ChunkList {
        if metas.is_empty() {
            return ChunkList::default();
        }
        let layout = Layout::fit(metas, &mut Vec::new());
        Self::encode(metas, layout, metas.len(), false)
    }

    fn encode(metas: &[ChunkMeta], layout: Layout, capacity: usize, bulk: bool) -> ChunkList {
        let mut words = vec![0u64; words_for(capacity.max(metas.len()), layout.w.entry_bits())];
        words[0] = layout.t0;
        words[1] = u64::from(layout.t_step) | (u64::from(layout.s0) << 32);
        words[2] = metas.first().map_or(0, |m| m.lo) as u64;
        let mut list = ChunkList {
            words: words.into_boxed_slice(),
            len: 0,
            g0: layout.g0,
            w: layout.w,
            bulk,
        };
        let (w, mut pos) = (layout.w.entry_bits(), HEADER_BITS);
        for (i, m) in metas.iter().enumerate() {
            let gap = i.checked_sub(1).map(|p| gap_between(metas[p].hi, m.lo));
            // `layout` was fitted to `metas` (or widened beyond them).
            let codes = layout.codes(i, m.hi, gap, m.loc, true);
            debug_assert!(codes.is_some(), "{m:?} does not fit {layout:?}");
            if let Some(c) = codes {
                list.write_at(pos, c);
            }
            pos += w;
        }
        list.len = metas.len() as u32;
        list
    }

    /// Replaces the list by `metas` (as [`ChunkList::from_metas`] takes them). A bulk list
    /// keeps its anchors, widths and capacity, so that the loads after stay in place (and
    /// stops being one if `metas` do not fit its anchors).
    pub(crate) fn replace(&mut self, metas: &[ChunkMeta]) {
        let anchored = self.bulk.then(|| self.layout().anchored(metas)).flatten();
        *self = match anchored {
            Some(layout) => {
                let capacity = self.capacity_for(layout.w.entry_bits());
                Self::encode(metas, layout, capacity, true)
            }
            None => Self::from_metas(metas),
        };
    }

    /// Entries the words hold at `entry_bits` bits each.
    fn capacity_for(&self, entry_bits: u64) -> usize {
        let bits = (self.words.len().saturating_sub(HEADER_WORDS) as u64) * 64;
        bits.checked_div(entry_bits)
            .map_or(self.len(), |n| n as usize)
    }

    /// Appends a chunk newer than every chunk held: `min_t` must lie after the last `hi`
    /// (the caller's invariant; a chunk that does not is put in order by `hi`, its `lo`
    /// kept at or before the chunks it comes before).
    pub(crate) fn push(&mut self, min_t: i64, max_t: i64, loc: Loc) {
        let n = self.len();
        let prev_hi = self.last_hi();
        if prev_hi.is_some_and(|hi| hi >= min_t) {
            debug_assert!(false, "chunk [{min_t}, {max_t}] overlaps the list's last");
            let mut metas = self.to_vec();
            let at = metas.partition_point(|m| m.hi < max_t);
            let lo = metas.get(at).map_or(min_t, |next| min_t.min(next.lo));
            metas.insert(at, ChunkMeta { lo, hi: max_t, loc });
            self.replace(&metas);
            return;
        }
        if n == 0 && !self.bulk {
            *self = Self::from_metas(&[ChunkMeta {
                lo: min_t,
                hi: max_t,
                loc,
            }]);
            return;
        }
        let gap = prev_hi.map(|hi| gap_between(hi, min_t));
        match self.layout().codes(n, max_t, gap, loc, false) {
            Some(codes) => {
                self.reserve_words(words_for(n + 1, self.w.entry_bits()));
                if n == 0 {
                    // A bulk list's anchors are set already.
                    self.words[2] = min_t as u64;
                }
                self.write_at(self.entry_pos(n), codes);
                self.len += 1;
            }
            None => {
                let mut metas = self.to_vec();
                metas.push(ChunkMeta {
                    lo: min_t,
                    hi: max_t,
                    loc,
                });
                self.replace(&metas);
            }
        }
    }

    /// [`ChunkList::push`] for a record of a bulk load, `bounds` being those given to
    /// [`ChunkList::reserve_bulk`]: the entry's codes come from the bounds, which are the
    /// list's anchors, rather than from its header, so that appending reads only the entry
    /// before (beside the one it writes; at open every record is a cache miss on its
    /// series and its list).
    pub(crate) fn push_bulk(&mut self, min_t: i64, max_t: i64, r: ChunkRef, bounds: &BulkBounds) {
        let n = self.len();
        let layout = Layout {
            w: self.w,
            ..bounds.layout()
        };
        let room = self.words.len() >= words_for(n + 1, layout.w.entry_bits());
        if self.bulk && room {
            let prev_hi = n.checked_sub(1).map(|p| {
                let at_t = self.entry_pos(p) + u64::from(self.w.off) + u64::from(self.w.seq);
                layout
                    .t0
                    .wrapping_add(read_bits(&self.words, at_t, self.w.t)) as i64
            });
            let newer = prev_hi.is_none_or(|hi| hi < min_t);
            let gap = prev_hi.map(|hi| gap_between(hi, min_t));
            let codes = layout.codes(n, max_t, gap, Loc::Disk(r), false);
            if let (true, Some(codes)) = (newer, codes) {
                debug_assert_eq!(layout.t0, self.words[0]);
                debug_assert_eq!(u64::from(layout.s0) << 32, self.words[1]);
                debug_assert_eq!(self.g0, 0);
                if n == 0 {
                    self.words[2] = min_t as u64;
                }
                self.write_at(self.entry_pos(n), codes);
                self.len += 1;
                return;
            }
        }
        self.push(min_t, max_t, Loc::Disk(r));
    }

    /// Grows `words` to `n` words, exactly: a doubling vector would leave room unused in
    /// every series.
    fn reserve_words(&mut self, n: usize) {
        if self.words.len() >= n {
            return;
        }
        let mut v = std::mem::take(&mut self.words).into_vec();
        v.reserve_exact(n - v.len());
        v.resize(n, 0);
        self.words = v.into_boxed_slice();
    }

    /// Moves chunk `i < len` to `loc`.
    pub(crate) fn set_loc(&mut self, i: usize, loc: Loc) {
        let pos = self.entry_pos(i);
        match self.layout().loc_codes(loc) {
            Some((off, s)) => {
                let c = self.read(pos);
                self.write_at(pos, Codes { off, s, ..c });
            }
            None => {
                let mut metas = self.to_vec();
                metas[i].loc = loc;
                self.replace(&metas);
            }
        }
    }

    /// Sizes an empty list for `n` chunks with the anchors and widths of `bounds`, which
    /// hold every record they noted exactly, so that appending those (in write order, with
    /// [`ChunkList::push_bulk`]) never re-encodes; [`ChunkList::compact`] encodes the list
    /// tightly afterwards.
    pub(crate) fn reserve_bulk(&mut self, n: usize, bounds: &BulkBounds) {
        if !self.is_empty() {
            return;
        }
        let layout = bounds.layout();
        let mut words = vec![0; words_for(n, layout.w.entry_bits())];
        words[0] = layout.t0;
        words[1] = u64::from(layout.s0) << 32;
        *self = ChunkList {
            words: words.into_boxed_slice(),
            len: 0,
            g0: 0,
            w: layout.w,
            bulk: true,
        };
    }

    /// Encodes the list tightly, ending a bulk load: fewest widths, `t_step` on the line
    /// of its chunks, no reserved room. `scratch` is reused from list to list.
    pub(crate) fn compact(&mut self, scratch: &mut Scratch) {
        scratch.metas.clear();
        scratch.metas.extend(self.iter());
        *self = if scratch.metas.is_empty() {
            ChunkList::default()
        } else {
            let layout = Layout::fit(&scratch.metas, &mut scratch.steps);
            Self::encode(&scratch.metas, layout, scratch.metas.len(), false)
        };
    }
}

/// Chunks of a list in order, decoded one after another: each `lo` from the `hi` before,
/// the bit position and the line's value carried from entry to entry.
pub(crate) struct Iter<'a> {
    list: &'a ChunkList,
    i: usize,
    /// Bit position of entry `i`, `t0 + i·t_step`, and entry `i - 1`'s `hi`.
    pos: u64,
    line: u64,
    step: u64,
    prev_hi: i64,
}

impl Iterator for Iter<'_> {
    type Item = ChunkMeta;

    fn next(&mut self) -> Option<ChunkMeta> {
        let list = self.list;
        if self.i >= list.len() {
            return None;
        }
        let c = list.read(self.pos);
        let hi = self.line.wrapping_add(c.t) as i64;
        let lo = if self.i == 0 {
            list.base_t()
        } else {
            lo_after(self.prev_hi, list.g0, c.gap)
        };
        let m = ChunkMeta {
            lo,
            hi,
            loc: list.loc_of(&c),
        };
        self.prev_hi = hi;
        self.i += 1;
        self.pos += list.w.entry_bits();
        self.line = self.line.wrapping_add(self.step);
        Some(m)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.list.len().saturating_sub(self.i);
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn disk(seq: u32, offset: u32) -> Loc {
        Loc::Disk(ChunkRef { seq, offset })
    }

    /// A series at 1 s: chunks of 240 samples, each written a few segments after the one
    /// before, at offsets spread over a 128 MiB segment; timestamps off their second by
    /// up to `jitter` ms.
    fn regular(n: usize, jitter: i64) -> Vec<ChunkMeta> {
        let t0 = 1_700_000_000_000i64;
        let off = |k: i64| (k.wrapping_mul(2_654_435_761) % (2 * jitter + 1)) - jitter;
        (0..n)
            .map(|i| {
                let (first, last) = (i as i64 * 240, i as i64 * 240 + 239);
                let seq = 3 + (i as u32 * 46) / 10;
                let offset = 8 + (i as u32).wrapping_mul(2_654_435_761) % (128 << 20);
                ChunkMeta {
                    lo: t0 + first * 1000 + off(first),
                    hi: t0 + last * 1000 + off(last),
                    loc: disk(seq, offset),
                }
            })
            .collect()
    }

    /// What the list must give back for `metas`: every `hi` and location exactly, and a
    /// `lo` at or before the chunk's; the same from each way of reading it.
    fn check(list: &ChunkList, metas: &[ChunkMeta]) {
        assert_eq!(list.len(), metas.len());
        let got = list.to_vec();
        for (i, (g, m)) in got.iter().zip(metas).enumerate() {
            assert_eq!((g.hi, g.loc), (m.hi, m.loc), "entry {i}");
            assert!(g.lo <= m.lo, "entry {i}: lo {} past {}", g.lo, m.lo);
            if i > 0 {
                assert!(
                    g.lo > metas[i - 1].hi,
                    "entry {i}: lo {} before the last end",
                    g.lo
                );
            }
            assert_eq!(list.get(i), *g);
            assert_eq!(list.iter_from(i).next(), Some(*g));
        }
        for t in metas
            .iter()
            .flat_map(|m| [m.lo.saturating_sub(1), m.lo, m.hi, m.hi.saturating_add(1)])
        {
            let want = metas.partition_point(|m| m.hi < t);
            assert_eq!(list.first_ending_at_or_after(t), want, "t {t}");
        }
    }

    fn pushed(metas: &[ChunkMeta]) -> ChunkList {
        let mut list = ChunkList::default();
        for m in metas {
            list.push(m.lo, m.hi, m.loc);
        }
        list
    }

    #[test]
    fn a_regular_series_takes_under_six_bytes_a_chunk_with_exact_bounds() {
        // The struct stays the size of the `Vec` and base time it replaced.
        assert_eq!(std::mem::size_of::<ChunkList>(), 32);
        let metas = regular(45, 0);
        for list in [ChunkList::from_metas(&metas), pushed(&metas)] {
            check(&list, &metas);
            // Offsets 27 bits, segments 8; times on the line and gaps of one second, 0.
            let w = list.w;
            assert_eq!((w.off, w.seq, w.t, w.gap), (27, 8, 0, 0));
            assert!(list.heap_bytes() <= 45 * 6, "{} bytes", list.heap_bytes());
            assert!(list.iter().zip(&metas).all(|(g, m)| g.lo == m.lo));
        }
        // Timestamps a few ms off their second cost a few bits, and bounds stay exact.
        let metas = regular(45, 5);
        for list in [ChunkList::from_metas(&metas), pushed(&metas)] {
            check(&list, &metas);
            assert!(list.heap_bytes() <= 45 * 7, "{} bytes", list.heap_bytes());
            assert!(list.iter().zip(&metas).all(|(g, m)| g.lo == m.lo));
        }
    }

    #[test]
    fn an_outage_leaves_one_loose_bound_and_widens_nothing() {
        let mut metas = regular(30, 0);
        // The series stops for an hour before chunk 20.
        for m in &mut metas[20..] {
            m.lo += 3_600_000;
            m.hi += 3_600_000;
        }
        for list in [ChunkList::from_metas(&metas), pushed(&metas)] {
            check(&list, &metas);
            assert_eq!((list.w.t, list.w.gap), (22, 0));
            let got = list.to_vec();
            for (i, (g, m)) in got.iter().zip(&metas).enumerate() {
                if i == 20 {
                    // Saturated: after the last end, before the start.
                    assert!(g.lo > metas[19].hi && g.lo < m.lo);
                } else {
                    assert_eq!(g.lo, m.lo, "entry {i}");
                }
            }
        }
    }

    #[test]
    fn pending_chunks_and_relocation() {
        let mut metas = regular(10, 0);
        let mut list = ChunkList::default();
        for m in &metas {
            list.push(m.lo, m.hi, Loc::Pending);
        }
        assert!(list.iter().all(|m| m.loc == Loc::Pending));
        // Written one by one, the widths grow as needed.
        for (i, m) in metas.iter().enumerate() {
            list.set_loc(i, m.loc);
        }
        check(&list, &metas);
        // A rewrite of the first chunk goes pending again.
        list.set_loc(0, Loc::Pending);
        metas[0].loc = Loc::Pending;
        check(&list, &metas);
        // A later segment far from the rest.
        list.set_loc(0, disk(u32::MAX, u32::MAX));
        metas[0].loc = disk(u32::MAX, u32::MAX);
        check(&list, &metas);
    }

    #[test]
    fn extreme_values_round_trip() {
        let metas = [
            ChunkMeta {
                lo: i64::MIN,
                hi: i64::MIN + 1,
                loc: disk(0, 0),
            },
            ChunkMeta {
                lo: i64::MIN + 2,
                hi: -5,
                loc: Loc::Pending,
            },
            ChunkMeta {
                lo: 0,
                hi: i64::MAX - 1,
                loc: disk(u32::MAX, u32::MAX),
            },
        ];
        check(&ChunkList::from_metas(&metas), &metas);
        check(&pushed(&metas), &metas);
    }

    #[test]
    fn bulk_loading_never_reencodes_and_compacts_tightly() {
        let metas = regular(29, 5);
        let mut bounds = BulkBounds::default();
        for m in &metas {
            if let Loc::Disk(r) = m.loc {
                bounds.note(m.hi, r);
            }
        }
        for w in metas.windows(2) {
            bounds.note_gap(w[0].hi, w[1].lo);
        }
        let mut list = ChunkList::default();
        list.reserve_bulk(metas.len(), &bounds);
        let reserved = list.heap_bytes();
        for m in &metas {
            let Loc::Disk(r) = m.loc else { unreachable!() };
            list.push_bulk(m.lo, m.hi, r, &bounds);
            // Still the words reserved: nothing was reallocated.
            assert_eq!(list.heap_bytes(), reserved);
        }
        check(&list, &metas);
        // Replacing a chunk by a rewrite keeps the bulk layout.
        let mut edited = metas.clone();
        edited[10].loc = disk(40, 12);
        list.replace(&edited);
        assert_eq!(list.heap_bytes(), reserved);
        check(&list, &edited);
        list.compact(&mut Scratch::default());
        check(&list, &edited);
        assert!(list.heap_bytes() < reserved);
        // Every start came through exactly.
        assert!(list.iter().zip(&edited).all(|(g, m)| g.lo == m.lo));
    }

    /// Chunks with gaps, jitter and irregular spans, and locations in any order.
    fn arb_metas() -> impl Strategy<Value = Vec<ChunkMeta>> {
        let chunk = (
            prop_oneof![0i64..3, 990i64..1010, 0i64..3_000_000],
            0i64..500_000,
            prop::option::weighted(0.8, (0u32..300, 0u32..(1 << 27))),
        );
        (any::<i64>(), prop::collection::vec(chunk, 0..60)).prop_map(|(start, chunks)| {
            let mut t = i128::from(start.clamp(i64::MIN / 2, i64::MAX / 2));
            chunks
                .into_iter()
                .map(|(gap, span, at)| {
                    let lo = (t + i128::from(gap)) as i64;
                    let hi = lo + span;
                    t = i128::from(hi) + 1;
                    let loc = at.map_or(Loc::Pending, |(seq, offset)| disk(seq, offset));
                    ChunkMeta { lo, hi, loc }
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn any_list_round_trips_by_push_encode_and_edits(metas in arb_metas(), cut in 0usize..60) {
            check(&ChunkList::from_metas(&metas), &metas);
            let mut list = pushed(&metas);
            check(&list, &metas);
            // Dropping a prefix, the bounds read back kept.
            let cut = cut.min(metas.len());
            let mut rest = list.to_vec().split_off(cut);
            list.replace(&rest);
            check(&list, &metas[cut..]);
            // Every chunk written somewhere else, one at a time.
            for (i, m) in rest.iter_mut().enumerate() {
                m.loc = disk(1000 + i as u32, i as u32 * 7);
                list.set_loc(i, m.loc);
            }
            check(&list, &rest);
        }
    }
}
