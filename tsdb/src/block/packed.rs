//! The packed chunk encoding (chunk record encoding byte 2): a columnar re-encoding of a
//! chunk, made when a block is written, for data scraped at a regular interval.
//!
//! Why: at 1 s resolution Gorilla XOR spends most of its bits on what is nearly constant.
//! Timestamps are `start + i * interval + jitter` with a jitter of a few ms, and XOR's
//! delta-of-delta (the second difference of the jitter) needs 9 bits per sample for it.
//! Counter values are integers, and gauges mostly decimals with few digits, whose
//! consecutive differences are small integers, whereas the XOR of their float bits is wide.
//! Here both columns become small integers, bit-packed per group of [`GROUP`] with the
//! group's minimum subtracted (frame of reference), so each group costs only the bits its
//! actual spread needs: an idle counter costs 2 bytes per 32 samples. Differences are
//! divided by their greatest common divisor, which removes e.g. the page size from
//! memory gauges.
//!
//! Series scraped together repeat each other: every series of one target carries the same
//! timestamps, and a classic histogram's `_count` equals its `+Inf` bucket (often several
//! upper buckets too). So either column may instead refer to the same column of an earlier
//! record of the segment. The block writer aligns chunk boundaries so that such columns
//! coincide. Upper buckets that trail `+Inf` by a few slow requests are written relative
//! to it: only their difference from an earlier decimal column (value kind 3), which the
//! writer tries against the last few inline decimal columns of the segment.
//!
//! Measured by `tests/block_size.rs` (`BLOCK_SIZE_TARGETS=8 BLOCK_SIZE_HOURS=2 cargo test
//! -p tianshu-tsdb --test block_size -- --nocapture`), whole block bytes per sample:
//!
//! | mix (1 s, ±3 ms jitter)            | XOR, 240-sample chunks | packed, 30 min aligned |
//! |------------------------------------|------------------------|------------------------|
//! | counters                           | 4.21                   | 1.10                   |
//! | gauges                             | 2.72                   | 0.46                   |
//! | histogram (buckets, count, sum)    | 3.49                   | 0.99                   |
//! | static and slow series             | 1.32                   | 0.09                   |
//! | all of the above                   | 2.89                   | 0.61                   |
//!
//! The benchmark workload (`benches/src/bin/disk.rs`, 10 k series × 8 h at 1 s, the
//! compacted 6 h block, whole block dirs) before and after value kind 3 and the sharing
//! fix: constant 0.012 → 0.009, counter 0.764 → 0.763, gauge 2.526 → 2.526, histogram
//! `_bucket` 0.719 → 0.558, `_count` 0.825 → 0.023, `_sum` 3.051 → 3.051, all 0.874 →
//! 0.778 (its values' information content is 0.67; see `benches/README.md`).
//!
//! zstd over the packed segments saves a further 5% (0.58), not worth losing random access
//! to chunks in the mmapped segment or a C dependency.
//!
//! Layout (primitive types as in `codec.rs`):
//!
//! | field         | encoding | meaning                                                  |
//! |---------------|----------|----------------------------------------------------------|
//! | n             | uvarint  | number of samples, 1..=[`MAX_SAMPLES`]                   |
//! | ts section    |          | below                                                    |
//! | value section |          | below                                                    |
//!
//! Timestamp section:
//!
//! | field      | encoding | meaning                                                     |
//! |------------|----------|-------------------------------------------------------------|
//! | kind       | u8       | 0 delta residuals, 1 grid residuals, 2 shared               |
//! | — kind 0, 1|          |                                                             |
//! | t0         | varint   | first timestamp                                             |
//! | base       | varint   | the interval; present when n ≥ 2                            |
//! | residuals  | ints     | n − 1 values: kind 0 `r_i = t_i − t_{i−1} − base`,          |
//! |            |          | kind 1 `r_i = t_i − t0 − i·base` (wrapping arithmetic)      |
//! | — kind 2   |          |                                                             |
//! | back       | uvarint  | bytes from this record's start back to the start of an      |
//! |            |          | earlier record of the segment with an inline (kind 0 or 1)  |
//! |            |          | timestamp section and the same n: its timestamps are these  |
//!
//! Value section:
//!
//! | field      | encoding | meaning                                                     |
//! |------------|----------|-------------------------------------------------------------|
//! | kind       | u8       | 0 decimal, 1 float bits, 2 shared, 3 relative               |
//! | — kind 0   |          | `v_i = m_i / 10^scale`, IEEE-754 division                   |
//! | scale      | u8       | 0..=[`MAX_SCALE`]                                           |
//! | exceptions | uvarint  | count e, then e × (uvarint gap, u64 big-endian raw bits);   |
//! |            |          | the first index is `gap`, each next the previous + 1 + `gap`|
//! | integers   | int seq  | the n integers `m_i`                                        |
//! | — kind 1   |          | `v_i = f64::from_bits(m_i as u64)`                          |
//! | integers   | int seq  | the n integers `m_i`                                        |
//! | — kind 2   |          |                                                             |
//! | back       | uvarint  | as for timestamps, for an inline (kind 0 or 1) value section|
//! | — kind 3   |          | `v_i = (b_i + m_i) / 10^scale` (wrapping addition)          |
//! | back       | uvarint  | as for kind 2, to a record with an inline decimal (kind 0)  |
//! |            |          | value section: its scale and integers `b_i` (before its own |
//! |            |          | exceptions) are the base                                    |
//! | exceptions | uvarint  | as for kind 0                                               |
//! | integers   | int seq  | the n integers `m_i`                                        |
//!
//! Kind 3 came after the first blocks were written; those hold kinds 0–2 only and read as
//! before (`tests/block_compat.rs` keeps such a block).
//!
//! An exception (NaN, the staleness marker, ±Inf, -0.0, a value with more digits) keeps
//! the integer sequence going with the previous `m`, so it costs its 8 bytes and nothing
//! else.
//!
//! Integer sequence (`int seq`) of n integers:
//!
//! | field | encoding | meaning                                                         |
//! |-------|----------|-----------------------------------------------------------------|
//! | order | u8       | 1: first differences, 2: second differences (wrapping)          |
//! | gcd   | uvarint  | ≥ 1, divides every stored difference                            |
//! | m0    | varint   | first integer                                                   |
//! | d1    | varint   | `m1 − m0`; present when order = 2 and n ≥ 2                     |
//! | diffs | ints     | n − order values (none when n = 1): the differences / gcd       |
//!
//! `ints` is a sequence of c signed integers as consecutive groups, each starting with a
//! header byte. A group holds the next `len = min(GROUP, values left)` values, except a
//! run, which holds as many as it says:
//!
//! | header    | then                | meaning                                           |
//! |-----------|---------------------|---------------------------------------------------|
//! | 0..=64    | varint min, bytes   | bit-packed: `ceil(len·width/8)` bytes holding each|
//! |           |                     | `x − min` (wrapping, as u64) in `width` bits,     |
//! |           |                     | least-significant bit first                       |
//! | 0xfe      | varint base,        | sparse: every value is `base` except k of them,   |
//! |           | uvarint k,          | each given as (uvarint gap, varint `x − base`);   |
//! |           | k × (gap, offset)   | indexes within the group as for exceptions        |
//! | 0xff      | varint v, uvarint r | run: the next r values (1 ≤ r ≤ values left) are v|
//!
//! The encoder picks per group whichever of packed and sparse is smaller, and a run for
//! [`MIN_RUN`] or more equal values starting at a group boundary: an idle counter's
//! differences become one run, a rarely incremented one mostly sparse groups.
//!
//! Decoding is exact: the encoder keeps a value as decimal only if dividing its integer by
//! `10^scale` gives back the same bits; everything else is integer arithmetic.

use std::path::Path;

use super::codec::{corruption, put_uvarint, put_varint, Cursor};
use crate::error::Result;
use crate::sample::Sample;

/// Values per bit-packed group. Small enough that a burst widens only its own group, large
/// enough that the 2–3 bytes of group header stay under 0.1 byte per sample.
pub(crate) const GROUP: usize = 32;
/// Largest decimal scale tried: sub-nano decimals are rare in metrics, and every further
/// scale costs a pass over the values.
pub(crate) const MAX_SCALE: u8 = 9;
/// Most samples in one packed chunk, as for XOR, so that a chunk can always be handed out
/// as XOR and a corrupt count cannot drive unbounded decoding.
pub(crate) const MAX_SAMPLES: usize = u16::MAX as usize;
/// Integers must stay exact in an f64.
const MAX_EXACT: i64 = 1 << 53;

pub(crate) const TS_DELTA: u8 = 0;
pub(crate) const TS_GRID: u8 = 1;
pub(crate) const SHARED: u8 = 2;
const VALUE_DECIMAL: u8 = 0;
const VALUE_BITS: u8 = 1;
pub(crate) const VALUE_RELATIVE: u8 = 3;

const POW10: [f64; MAX_SCALE as usize + 1] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// A chunk encoded in parts, so that the writer can share columns between chunks.
pub(crate) struct PackedParts {
    pub(crate) n: usize,
    /// The inline timestamp section, kind byte included.
    pub(crate) ts: Vec<u8>,
    /// The inline value section, kind byte included.
    pub(crate) values: Vec<u8>,
    /// When `values` is decimal: its scale and integers, which later chunks' relative
    /// value sections may be written against.
    pub(crate) decimal: Option<(u8, Vec<i64>)>,
}

/// How a record holds its value section.
pub(crate) enum ValuesIn<'a> {
    /// The inline section of [`PackedParts`].
    Inline,
    /// Shared: the same section as the record this many bytes back.
    Shared(u64),
    /// A relative section ([`encode_relative`]) against the record this many bytes back.
    Relative(u64, &'a [u8]),
}

impl PackedParts {
    /// The record data; a column given a `back` distance refers to that earlier record.
    #[cfg(test)]
    pub(crate) fn record(&self, ts_back: Option<u64>, values_back: Option<u64>) -> Vec<u8> {
        let values = match values_back {
            Some(b) => ValuesIn::Shared(b),
            None => ValuesIn::Inline,
        };
        self.record_with(ts_back, values)
    }

    /// The record data with the value section as `values` says.
    pub(crate) fn record_with(&self, ts_back: Option<u64>, values: ValuesIn<'_>) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ts.len() + self.values.len() + 4);
        put_uvarint(&mut out, self.n as u64);
        match ts_back {
            Some(b) => {
                out.push(SHARED);
                put_uvarint(&mut out, b);
            }
            None => out.extend_from_slice(&self.ts),
        }
        match values {
            ValuesIn::Inline => out.extend_from_slice(&self.values),
            ValuesIn::Shared(b) => {
                out.push(SHARED);
                put_uvarint(&mut out, b);
            }
            ValuesIn::Relative(b, section) => {
                out.push(VALUE_RELATIVE);
                put_uvarint(&mut out, b);
                out.extend_from_slice(section);
            }
        }
        out
    }
}

/// Encodes samples (timestamps strictly increasing, 1..=[`MAX_SAMPLES`] of them).
pub(crate) fn encode(samples: &[Sample]) -> PackedParts {
    let (values, decimal) = encode_values(samples);
    PackedParts {
        n: samples.len(),
        ts: encode_timestamps(samples),
        values,
        decimal,
    }
}

fn encode_timestamps(samples: &[Sample]) -> Vec<u8> {
    let n = samples.len();
    let t0 = samples.first().map_or(0, |s| s.t);
    let mut out = Vec::new();
    if n < 2 {
        out.push(TS_DELTA);
        put_varint(&mut out, t0);
        return out;
    }
    let last = samples[n - 1].t;
    // The mean interval; rounding keeps grid residuals centred on the jitter. Wrapping
    // the cast is fine: residuals use the same wrapping base.
    let span = i128::from(last) - i128::from(t0);
    let steps = (n - 1) as i128;
    let base = ((span + steps / 2).div_euclid(steps)) as i64;
    let deltas: Vec<i64> = samples
        .windows(2)
        .map(|w| w[1].t.wrapping_sub(w[0].t).wrapping_sub(base))
        .collect();
    let grid: Vec<i64> = samples
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, s)| {
            s.t.wrapping_sub(t0)
                .wrapping_sub((i as i64).wrapping_mul(base))
        })
        .collect();
    // Jitter around a fixed grid is narrower than its first difference, but a series
    // whose interval drifts or that missed scrapes does better with deltas: try both.
    let mut a = Vec::new();
    put_ints(&mut a, &deltas);
    let mut b = Vec::new();
    put_ints(&mut b, &grid);
    let (kind, ints) = if b.len() < a.len() {
        (TS_GRID, b)
    } else {
        (TS_DELTA, a)
    };
    out.push(kind);
    put_varint(&mut out, t0);
    put_varint(&mut out, base);
    out.extend_from_slice(&ints);
    out
}

/// The integer `m` with `m / 10^k == v` bit for bit, if any.
fn as_decimal(v: f64, k: usize) -> Option<i64> {
    if !v.is_finite() {
        return None;
    }
    let m = (v * POW10[k]).round();
    if m.abs() > MAX_EXACT as f64 {
        return None;
    }
    let m = m as i64;
    ((m as f64 / POW10[k]).to_bits() == v.to_bits()).then_some(m)
}

/// The smallest scale at which all but a few values are decimals, and how many are not.
fn decimal_scale(samples: &[Sample]) -> Option<usize> {
    // Few exceptions are cheap (8 bytes each); many mean the values are not decimals.
    let max_exceptions = samples.len() / 16;
    let mut best: Option<(usize, usize)> = None;
    for k in 0..=MAX_SCALE as usize {
        let limit = best.map_or(max_exceptions, |(_, e)| e.saturating_sub(1));
        let mut exc = 0;
        for s in samples {
            if as_decimal(s.v, k).is_none() {
                exc += 1;
                if exc > limit {
                    break;
                }
            }
        }
        if exc <= limit {
            best = Some((k, exc));
            if exc == 0 {
                break;
            }
        }
    }
    best.map(|(k, _)| k)
}

/// The inline value section, and its scale and integers when it is decimal.
fn encode_values(samples: &[Sample]) -> (Vec<u8>, Option<(u8, Vec<i64>)>) {
    // Raw float bits always work; their differences are small only for floats of similar
    // magnitude (e.g. a histogram's `_sum`), where they still beat XOR's windows.
    let bits: Vec<i64> = samples.iter().map(|s| s.v.to_bits() as i64).collect();
    let mut as_bits = vec![VALUE_BITS];
    put_int_seq(&mut as_bits, &bits);
    let Some(k) = decimal_scale(samples) else {
        return (as_bits, None);
    };
    let mut exceptions = Vec::new();
    let mut ms = Vec::with_capacity(samples.len());
    let mut prev = None;
    for (i, s) in samples.iter().enumerate() {
        match as_decimal(s.v, k) {
            Some(m) => prev = Some(m),
            None => exceptions.push((i, s.v.to_bits())),
        }
        ms.push(prev);
    }
    // Integers before the first decimal value repeat the first one, so they cost no bits.
    let first = ms.iter().flatten().next().copied().unwrap_or(0);
    let ms: Vec<i64> = ms.into_iter().map(|m| m.unwrap_or(first)).collect();
    let mut out = Vec::with_capacity(16 + exceptions.len() * 10 + samples.len());
    out.push(VALUE_DECIMAL);
    out.push(k as u8);
    put_exceptions(&mut out, &exceptions);
    put_int_seq(&mut out, &ms);
    if as_bits.len() < out.len() {
        (as_bits, None)
    } else {
        (out, Some((k as u8, ms)))
    }
}

/// Appends exceptions: count, then (gap, raw bits) per exception.
fn put_exceptions(out: &mut Vec<u8>, exceptions: &[(usize, u64)]) {
    put_uvarint(out, exceptions.len() as u64);
    let mut next = 0usize;
    for &(i, b) in exceptions {
        put_uvarint(out, (i - next) as u64);
        out.extend_from_slice(&b.to_be_bytes());
        next = i + 1;
    }
}

/// The body of a relative value section (after its kind byte and back reference):
/// `samples` as decimals at `scale` minus `base`, the integers of an earlier chunk's
/// decimal value column. `None` when the chunks differ in length or too many values are
/// not decimals at that scale.
pub(crate) fn encode_relative(samples: &[Sample], scale: u8, base: &[i64]) -> Option<Vec<u8>> {
    if base.len() != samples.len() || scale > MAX_SCALE {
        return None;
    }
    let max_exceptions = samples.len() / 16;
    let mut exceptions = Vec::new();
    let mut ds = Vec::with_capacity(samples.len());
    let mut prev = None;
    for (i, (s, &b)) in samples.iter().zip(base).enumerate() {
        match as_decimal(s.v, usize::from(scale)) {
            Some(m) => prev = Some(m.wrapping_sub(b)),
            None => {
                exceptions.push((i, s.v.to_bits()));
                if exceptions.len() > max_exceptions {
                    return None;
                }
            }
        }
        ds.push(prev);
    }
    // As for decimals: differences before the first decimal value repeat the first one.
    let first = ds.iter().flatten().next().copied().unwrap_or(0);
    let ds: Vec<i64> = ds.into_iter().map(|d| d.unwrap_or(first)).collect();
    let mut out = Vec::with_capacity(16 + exceptions.len() * 10 + samples.len() / 2);
    put_exceptions(&mut out, &exceptions);
    put_int_seq(&mut out, &ds);
    Some(out)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Appends an integer sequence (see the module docs), choosing the order and divisor that
/// make it smallest.
fn put_int_seq(out: &mut Vec<u8>, ms: &[i64]) {
    let d1: Vec<i64> = ms.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let d2: Vec<i64> = d1.windows(2).map(|w| w[1].wrapping_sub(w[0])).collect();
    let m0 = ms.first().copied().unwrap_or(0);
    // Counters with a steady rate and smooth gauges favour second differences; random
    // increments favour first differences.
    let mut best: Option<Vec<u8>> = None;
    for order in [1u8, 2] {
        let diffs = if order == 1 { &d1 } else { &d2 };
        let g = diffs.iter().fold(0, |g, d| gcd(g, d.unsigned_abs()));
        // A divisor that does not fit an i64 (only 2^63) is not worth a special case.
        let g = if g == 0 || g > i64::MAX as u64 { 1 } else { g };
        let scaled: Vec<i64> = diffs.iter().map(|d| d / g as i64).collect();
        let mut o = vec![order];
        put_uvarint(&mut o, g);
        put_varint(&mut o, m0);
        if order == 2 {
            if let Some(&first) = d1.first() {
                put_varint(&mut o, first);
            }
        }
        put_ints(&mut o, &scaled);
        if best.as_ref().is_none_or(|b| o.len() < b.len()) {
            best = Some(o);
        }
    }
    out.extend_from_slice(&best.unwrap_or_default());
}

/// Group header byte of a sparse group.
const SPARSE: u8 = 0xfe;
/// Group header byte of a run.
const RUN: u8 = 0xff;
/// Shortest run worth its own header: shorter ones cost no less than a width-0 group.
const MIN_RUN: usize = GROUP;

/// Appends `xs` as groups (see the module docs), choosing per group the smallest form.
pub(crate) fn put_ints(out: &mut Vec<u8>, xs: &[i64]) {
    let mut i = 0;
    while i < xs.len() {
        let v = xs[i];
        let run = xs[i..].iter().take_while(|&&x| x == v).count();
        if run >= MIN_RUN {
            out.push(RUN);
            put_varint(out, v);
            put_uvarint(out, run as u64);
            i += run;
            continue;
        }
        let g = &xs[i..(i + GROUP).min(xs.len())];
        let packed = packed_group(g);
        let sparse = sparse_group(g);
        out.extend_from_slice(if sparse.len() < packed.len() {
            &sparse
        } else {
            &packed
        });
        i += g.len();
    }
}

fn packed_group(g: &[i64]) -> Vec<u8> {
    let min = g.iter().copied().min().unwrap_or(0);
    let max = g.iter().copied().max().unwrap_or(0);
    let width = 64 - (max.wrapping_sub(min) as u64).leading_zeros();
    let mut out = Vec::with_capacity(10 + (g.len() * width as usize).div_ceil(8));
    out.push(width as u8);
    put_varint(&mut out, min);
    let mut acc: u128 = 0;
    let mut nbits = 0u32;
    for &x in g {
        acc |= u128::from(x.wrapping_sub(min) as u64) << nbits;
        nbits += width;
        while nbits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            nbits -= 8;
        }
    }
    if nbits > 0 {
        out.push(acc as u8);
    }
    out
}

/// A group as its most common value plus the positions and offsets of the others: the
/// shape of an idle counter's differences (zeros and a rare increment).
fn sparse_group(g: &[i64]) -> Vec<u8> {
    let mut sorted = g.to_vec();
    sorted.sort_unstable();
    let mut base = sorted.first().copied().unwrap_or(0);
    let mut best = 0;
    for run in sorted.chunk_by(|a, b| a == b) {
        if run.len() > best {
            best = run.len();
            base = run[0];
        }
    }
    let mut out = vec![SPARSE];
    put_varint(&mut out, base);
    put_uvarint(&mut out, (g.len() - best) as u64);
    let mut next = 0;
    for (i, &x) in g.iter().enumerate().filter(|(_, &x)| x != base) {
        put_uvarint(&mut out, (i - next) as u64);
        put_varint(&mut out, x.wrapping_sub(base));
        next = i + 1;
    }
    out
}

/// Reads a sequence written by [`put_ints`], one group at a time.
struct IntReader<'a> {
    c: Cursor<'a>,
    /// Values not yet decoded into `buf` or a run.
    left: usize,
    buf: [i64; GROUP],
    len: usize,
    idx: usize,
    run_value: i64,
    run_left: usize,
}

impl<'a> IntReader<'a> {
    fn new(c: Cursor<'a>, count: usize) -> Self {
        IntReader {
            c,
            left: count,
            buf: [0; GROUP],
            len: 0,
            idx: 0,
            run_value: 0,
            run_left: 0,
        }
    }

    fn next(&mut self) -> Result<Option<i64>> {
        loop {
            if self.idx < self.len {
                let v = self.buf[self.idx];
                self.idx += 1;
                return Ok(Some(v));
            }
            if self.run_left > 0 {
                self.run_left -= 1;
                return Ok(Some(self.run_value));
            }
            if self.left == 0 {
                return Ok(None);
            }
            self.fill()?;
        }
    }

    fn fill(&mut self) -> Result<()> {
        let header = self.c.u8()?;
        if header == RUN {
            self.run_value = self.c.varint()?;
            let at = self.c.offset();
            let n = self.c.uvarint_len(self.left, "run length")?;
            if n == 0 {
                return Err(super::codec::corruption(self.c.path(), at, "empty run"));
            }
            self.run_left = n;
            self.left -= n;
            return Ok(());
        }
        let len = self.left.min(GROUP);
        if header == SPARSE {
            let base = self.c.varint()?;
            self.buf[..len].fill(base);
            let k = self.c.uvarint_len(len, "sparse count")?;
            let mut next = 0usize;
            for _ in 0..k {
                let gap = self.c.uvarint_len(len, "sparse gap")?;
                let i = next + gap;
                let Some(slot) = self.buf[..len].get_mut(i) else {
                    return Err(self.c.err("sparse index past the group"));
                };
                *slot = base.wrapping_add(self.c.varint()?);
                next = i + 1;
            }
        } else {
            self.unpack(u32::from(header), len)?;
        }
        self.left -= len;
        self.len = len;
        self.idx = 0;
        Ok(())
    }

    fn unpack(&mut self, width: u32, len: usize) -> Result<()> {
        if width > 64 {
            return Err(self.c.err(format!("bad group header {width}")));
        }
        let min = self.c.varint()?;
        let data = self.c.bytes((len * width as usize).div_ceil(8))?;
        let mask = if width == 64 {
            u64::MAX
        } else {
            (1u64 << width) - 1
        };
        let mut acc: u128 = 0;
        let mut nbits = 0u32;
        let mut bytes = data.iter();
        for slot in self.buf.iter_mut().take(len) {
            while nbits < width {
                // The byte count was checked above, so this never runs dry; a default
                // keeps it panic-free regardless.
                acc |= u128::from(bytes.next().copied().unwrap_or(0)) << nbits;
                nbits += 8;
            }
            *slot = min.wrapping_add((acc as u64 & mask) as i64);
            acc >>= width;
            nbits -= width;
        }
        Ok(())
    }

    fn cursor(&self) -> &Cursor<'a> {
        &self.c
    }
}

/// Resolves a shared column: `back` bytes before the current record, returns the data of
/// that record and the data's absolute file offset.
pub(crate) type ResolveShared<'r, 'a> = dyn FnMut(u64) -> Result<(&'a [u8], u64)> + 'r;

/// Moves `c` past an `ints` sequence of `count` values.
fn skip_ints(c: &mut Cursor<'_>, count: usize) -> Result<()> {
    let mut r = IntReader::new(c.clone(), count);
    while r.next()?.is_some() {}
    *c = r.c;
    Ok(())
}

/// The decoding state of a timestamp column.
struct TsColumn<'a> {
    grid: bool,
    t0: i64,
    base: i64,
    residuals: IntReader<'a>,
}

impl<'a> TsColumn<'a> {
    /// Parses an inline timestamp section (after its kind byte) and moves `c` past it.
    fn parse(c: &mut Cursor<'a>, kind: u8, n: usize) -> Result<Self> {
        let t0 = c.varint()?;
        let base = if n >= 2 { c.varint()? } else { 0 };
        let residuals = IntReader::new(c.clone(), n - 1);
        skip_ints(c, n - 1)?;
        Ok(TsColumn {
            grid: kind == TS_GRID,
            t0,
            base,
            residuals,
        })
    }
}

/// The decoding state of an integer sequence.
struct IntSeq<'a> {
    order: u8,
    gcd: i64,
    m: i64,
    d: i64,
    diffs: IntReader<'a>,
}

impl<'a> IntSeq<'a> {
    /// Parses the head of an integer sequence; the rest of `c` is its differences.
    fn parse(mut c: Cursor<'a>, n: usize) -> Result<Self> {
        let order = c.u8()?;
        if order != 1 && order != 2 {
            return Err(c.err(format!("difference order {order}")));
        }
        let at = c.offset();
        let gcd = c
            .uvarint()
            .ok()
            .and_then(|g| i64::try_from(g).ok())
            .filter(|&g| g >= 1)
            .ok_or_else(|| c.err(format!("bad divisor at {at}")))?;
        let m = c.varint()?;
        let d = if order == 2 && n >= 2 { c.varint()? } else { 0 };
        let count = if n < 2 { 0 } else { n - usize::from(order) };
        Ok(IntSeq {
            order,
            gcd,
            m,
            d,
            diffs: IntReader::new(c, count),
        })
    }

    /// Integer `i`; called for i = 0, 1, 2, … in turn.
    fn next(&mut self, i: usize) -> Result<i64> {
        if i == 0 {
            return Ok(self.m);
        }
        if i == 1 && self.order == 2 {
            self.m = self.m.wrapping_add(self.d);
            return Ok(self.m);
        }
        let x = self
            .diffs
            .next()?
            .ok_or_else(|| self.diffs.cursor().err("value column ended early"))?
            .wrapping_mul(self.gcd);
        if self.order == 2 {
            self.d = self.d.wrapping_add(x);
            self.m = self.m.wrapping_add(self.d);
        } else {
            self.m = self.m.wrapping_add(x);
        }
        Ok(self.m)
    }
}

/// The decoding state of a value column.
struct ValueColumn<'a> {
    /// `Some(scale)` for decimals, `None` for float bits.
    scale: Option<usize>,
    exceptions: Vec<(usize, u64)>,
    next_exc: usize,
    ints: IntSeq<'a>,
    /// For a relative section: the referenced column's integers, added to `ints`.
    base: Option<IntSeq<'a>>,
}

/// Parses exceptions (count, then gap and raw bits each) of a column of `n` values.
fn parse_exceptions(c: &mut Cursor<'_>, n: usize) -> Result<Vec<(usize, u64)>> {
    // Each exception takes at least 9 bytes: bounds the allocation on bad counts.
    let e = c.uvarint_len(n.min(c.remaining() / 9), "exception count")?;
    let mut exceptions = Vec::with_capacity(e);
    let mut next = 0usize;
    for _ in 0..e {
        let gap = c.uvarint_len(n, "exception gap")?;
        let idx = next.saturating_add(gap);
        if idx >= n {
            return Err(c.err("exception index past the last sample"));
        }
        exceptions.push((idx, c.u64()?));
        next = idx + 1;
    }
    Ok(exceptions)
}

impl<'a> ValueColumn<'a> {
    /// Parses an inline value section (after its kind byte), which runs to the end of `c`.
    fn parse(mut c: Cursor<'a>, kind: u8, n: usize) -> Result<Self> {
        let mut scale = None;
        let mut exceptions = Vec::new();
        if kind == VALUE_DECIMAL {
            let k = c.u8()?;
            if k > MAX_SCALE {
                return Err(c.err(format!("decimal scale {k} over {MAX_SCALE}")));
            }
            scale = Some(usize::from(k));
            exceptions = parse_exceptions(&mut c, n)?;
        } else if kind != VALUE_BITS {
            return Err(c.err(format!("unknown value kind {kind}")));
        }
        Ok(ValueColumn {
            scale,
            exceptions,
            next_exc: 0,
            ints: IntSeq::parse(c, n)?,
            base: None,
        })
    }

    /// Parses a relative section's body (after its back reference), which runs to the end
    /// of `c`, against `base`, the referenced inline decimal column.
    fn parse_relative(mut c: Cursor<'a>, n: usize, base: ValueColumn<'a>) -> Result<Self> {
        let exceptions = parse_exceptions(&mut c, n)?;
        Ok(ValueColumn {
            scale: base.scale,
            exceptions,
            next_exc: 0,
            ints: IntSeq::parse(c, n)?,
            base: Some(base.ints),
        })
    }

    fn next(&mut self, i: usize) -> Result<f64> {
        let mut m = self.ints.next(i)?;
        if let Some(b) = self.base.as_mut() {
            m = m.wrapping_add(b.next(i)?);
        }
        if let Some(&(idx, bits)) = self.exceptions.get(self.next_exc) {
            if idx == i {
                self.next_exc += 1;
                return Ok(f64::from_bits(bits));
            }
        }
        Ok(match self.scale {
            Some(k) => m as f64 / POW10[k],
            None => f64::from_bits(m as u64),
        })
    }
}

/// Iterates over the samples of a packed chunk, oldest first, decoding one group of each
/// column at a time.
pub(crate) struct PackedIter<'a> {
    n: usize,
    i: usize,
    prev_t: i64,
    ts: TsColumn<'a>,
    values: ValueColumn<'a>,
}

/// Reads the head of a referenced record: checks its sample count and moves past its
/// timestamp section, returning that section's kind.
fn shared_head<'a>(
    path: &'a Path,
    (data, base): (&'a [u8], u64),
    n: usize,
    at: u64,
) -> Result<Cursor<'a>> {
    let mut c = Cursor::new(path, data, base);
    let on = c.uvarint_len(usize::MAX, "sample count")?;
    if on != n {
        return Err(corruption(
            path,
            at,
            format!("shared column of {on} samples for a chunk of {n}"),
        ));
    }
    Ok(c)
}

/// The value section of a referenced record: its kind and a cursor just after the kind.
fn referenced_values<'a>(
    path: &'a Path,
    record: (&'a [u8], u64),
    n: usize,
    at: u64,
) -> Result<(u8, Cursor<'a>)> {
    let mut oc = shared_head(path, record, n, at)?;
    match oc.u8()? {
        k @ (TS_DELTA | TS_GRID) => {
            TsColumn::parse(&mut oc, k, n)?;
        }
        SHARED => {
            oc.uvarint()?;
        }
        k => return Err(oc.err(format!("unknown timestamp kind {k}"))),
    }
    Ok((oc.u8()?, oc))
}

impl<'a> PackedIter<'a> {
    /// Parses the headers of the chunk `data` found at file offset `base` of `path`;
    /// `shared` resolves columns that refer to earlier records.
    pub(crate) fn new(
        path: &'a Path,
        data: &'a [u8],
        base: u64,
        shared: &mut ResolveShared<'_, 'a>,
    ) -> Result<Self> {
        let mut c = Cursor::new(path, data, base);
        let n = c.uvarint_len(MAX_SAMPLES, "sample count")?;
        if n == 0 {
            return Err(c.err("packed chunk without samples"));
        }
        let at = c.offset();
        let ts = match c.u8()? {
            k @ (TS_DELTA | TS_GRID) => TsColumn::parse(&mut c, k, n)?,
            SHARED => {
                let back = c.uvarint()?;
                let mut oc = shared_head(path, shared(back)?, n, at)?;
                match oc.u8()? {
                    k @ (TS_DELTA | TS_GRID) => TsColumn::parse(&mut oc, k, n)?,
                    _ => return Err(corruption(path, at, "shared timestamps are not inline")),
                }
            }
            k => return Err(c.err(format!("unknown timestamp kind {k}"))),
        };
        let at = c.offset();
        let values = match c.u8()? {
            SHARED => {
                let back = c.uvarint()?;
                if !c.is_empty() {
                    return Err(c.err(format!("{} trailing bytes", c.remaining())));
                }
                let (k, oc) = referenced_values(path, shared(back)?, n, at)?;
                if k == SHARED || k == VALUE_RELATIVE {
                    return Err(corruption(path, at, "shared values are not inline"));
                }
                ValueColumn::parse(oc, k, n)?
            }
            VALUE_RELATIVE => {
                let back = c.uvarint()?;
                let (k, oc) = referenced_values(path, shared(back)?, n, at)?;
                if k != VALUE_DECIMAL {
                    return Err(corruption(path, at, "relative values refer to no decimals"));
                }
                ValueColumn::parse_relative(c, n, ValueColumn::parse(oc, k, n)?)?
            }
            k => ValueColumn::parse(c, k, n)?,
        };
        Ok(PackedIter {
            n,
            i: 0,
            prev_t: ts.t0,
            ts,
            values,
        })
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    fn next_t(&mut self) -> Result<i64> {
        let ts = &mut self.ts;
        if self.i == 0 {
            return Ok(ts.t0);
        }
        let r = ts
            .residuals
            .next()?
            .ok_or_else(|| ts.residuals.cursor().err("timestamp column ended early"))?;
        let t = if ts.grid {
            ts.t0
                .wrapping_add((self.i as i64).wrapping_mul(ts.base))
                .wrapping_add(r)
        } else {
            self.prev_t.wrapping_add(ts.base).wrapping_add(r)
        };
        if t <= self.prev_t {
            return Err(ts
                .residuals
                .cursor()
                .err("timestamps of a packed chunk do not increase"));
        }
        Ok(t)
    }

    /// The next sample, `Ok(None)` at the end.
    pub(crate) fn next_sample(&mut self) -> Result<Option<Sample>> {
        if self.i >= self.n {
            return Ok(None);
        }
        let t = self.next_t()?;
        let v = self.values.next(self.i)?;
        self.prev_t = t;
        self.i += 1;
        if self.i == self.n {
            let c = self.values.ints.diffs.cursor();
            if !c.is_empty() {
                return Err(c.err(format!("{} trailing bytes", c.remaining())));
            }
        }
        Ok(Some(Sample { t, v }))
    }
}

/// Decodes `count` values written by [`put_ints`].
#[cfg(test)]
pub(crate) fn decode_ints(data: &[u8], count: usize) -> Result<Vec<i64>> {
    let mut r = IntReader::new(Cursor::new(Path::new("ints"), data, 0), count);
    let mut out = Vec::with_capacity(count);
    while let Some(x) = r.next()? {
        out.push(x);
    }
    Ok(out)
}

/// Byte lengths of a packed chunk's parts: the sample count, the timestamp section and
/// the value section (a shared section counts its reference only), for size reports.
pub(crate) fn part_lengths(path: &Path, data: &[u8]) -> Result<(usize, [usize; 3])> {
    let mut c = Cursor::new(path, data, 0);
    let n = c.uvarint_len(MAX_SAMPLES, "sample count")?;
    if n == 0 {
        return Err(c.err("packed chunk without samples"));
    }
    let head = c.offset() as usize;
    match c.u8()? {
        k @ (TS_DELTA | TS_GRID) => {
            TsColumn::parse(&mut c, k, n)?;
        }
        SHARED => {
            c.uvarint()?;
        }
        k => return Err(c.err(format!("unknown timestamp kind {k}"))),
    }
    let ts = c.offset() as usize - head;
    Ok((n, [head, ts, data.len() - head - ts]))
}
