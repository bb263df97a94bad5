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
//! actual spread needs: an idle counter costs 2 bytes per 32 samples.
//!
//! Second, every series scraped from one target carries the same timestamps, so a chunk
//! may reference the timestamp column of an earlier chunk of the same segment instead of
//! repeating it (`ts kind 2`). The block writer aligns chunk boundaries so such columns
//! coincide.
//!
//! Layout (primitive types as in `codec.rs`):
//!
//! | field            | encoding | meaning                                                    |
//! |------------------|----------|------------------------------------------------------------|
//! | n                | uvarint  | number of samples, ≥ 1                                     |
//! | ts kind          | u8       | 0 delta residuals, 1 grid residuals, 2 shared              |
//! | — kind 0 and 1:  |          |                                                            |
//! | t0               | varint   | first timestamp                                            |
//! | base             | varint   | the interval; present when n ≥ 2                           |
//! | residuals        | ints     | n − 1 values: kind 0 `r_i = t_i − t_{i−1} − base`,         |
//! |                  |          | kind 1 `r_i = t_i − t0 − i·base` (all wrapping arithmetic) |
//! | — kind 2:        |          |                                                            |
//! | back             | uvarint  | bytes from this record's start back to the start of an     |
//! |                  |          | earlier record of the same segment whose ts kind is 0 or 1 |
//! |                  |          | and whose n is equal; its timestamps are this chunk's      |
//! | value kind       | u8       | 0 decimal (the only kind so far)                           |
//! | scale k          | u8       | 0..=[`MAX_SCALE`]; `v_i = m_i / 10^k` in IEEE-754 division |
//! | order            | u8       | 1: ints are `m_i − m_{i−1}`; 2: second differences         |
//! | exceptions       | uvarint  | count e, then e × (uvarint gap, u64 big-endian raw bits)   |
//! | m0               | varint   | first integer                                              |
//! | d1               | varint   | `m1 − m0`; present when order = 2 and n ≥ 2                |
//! | differences      | ints     | the remaining n − order differences                        |
//!
//! Exception indexes: the first is `gap`, each next is the previous index + 1 + `gap`.
//! An exception keeps the integer sequence going with the previous `m` (so NaN, the
//! staleness marker, ±Inf or -0.0 cost their 8 bytes and nothing else).
//!
//! `ints` is a sequence of c signed integers in groups of [`GROUP`] (the last may be
//! shorter), each group:
//!
//! | field | encoding | meaning                                                         |
//! |-------|----------|-----------------------------------------------------------------|
//! | width | u8       | bits per value, 0..=64                                          |
//! | min   | varint   | the group's minimum                                             |
//! | data  | bytes    | `ceil(len·width/8)` bytes: `x − min` (wrapping, as u64) packed  |
//! |       |          | least-significant bit first                                     |
//!
//! Decoding is exact: the encoder keeps a value as decimal only if dividing its integer by
//! `10^k` gives back the same bits, and timestamps are integers throughout.

use std::path::Path;

use super::codec::{put_uvarint, put_varint, Cursor};
use crate::error::Result;
use crate::sample::Sample;

/// Values per bit-packed group. Small enough that a burst widens only its own group, large
/// enough that the 2–3 bytes of group header stay under 0.1 byte per sample.
pub(crate) const GROUP: usize = 32;
/// Largest decimal scale tried: sub-microsecond decimals are rare in metrics, and every
/// further scale costs a pass over the values.
pub(crate) const MAX_SCALE: u8 = 9;
/// Integers must stay exact in an f64.
const MAX_EXACT: i64 = 1 << 53;

pub(crate) const TS_DELTA: u8 = 0;
pub(crate) const TS_GRID: u8 = 1;
pub(crate) const TS_SHARED: u8 = 2;
const VALUE_DECIMAL: u8 = 0;

const POW10: [f64; MAX_SCALE as usize + 1] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// A chunk encoded in parts, so that the writer can share `ts` between chunks.
pub(crate) struct PackedParts {
    pub(crate) n: usize,
    /// The timestamp section, ts kind byte included.
    pub(crate) ts: Vec<u8>,
    /// The value section, value kind byte included.
    pub(crate) values: Vec<u8>,
}

impl PackedParts {
    /// The record data with timestamps inline.
    pub(crate) fn inline(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.ts.len() + self.values.len() + 3);
        put_uvarint(&mut out, self.n as u64);
        out.extend_from_slice(&self.ts);
        out.extend_from_slice(&self.values);
        out
    }

    /// The record data referring to the timestamps of the record `back` bytes earlier.
    pub(crate) fn shared(&self, back: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.values.len() + 8);
        put_uvarint(&mut out, self.n as u64);
        out.push(TS_SHARED);
        put_uvarint(&mut out, back);
        out.extend_from_slice(&self.values);
        out
    }
}

/// Encodes samples (timestamps strictly increasing, at least one), or `None` when the
/// values are not decimals with few digits, for which XOR is kept.
pub(crate) fn encode(samples: &[Sample]) -> Option<PackedParts> {
    let values = encode_values(samples)?;
    Some(PackedParts {
        n: samples.len(),
        ts: encode_timestamps(samples),
        values,
    })
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
    // The mean interval; rounding keeps grid residuals centred on the jitter.
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

fn encode_values(samples: &[Sample]) -> Option<Vec<u8>> {
    let n = samples.len();
    // Few exceptions are cheap (8 bytes each); many mean the values are not decimals.
    let max_exceptions = n / 16;
    let mut best: Option<(usize, usize)> = None; // (scale, exceptions)
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
    let (k, _) = best?;
    let mut exceptions = Vec::new();
    let mut ms = Vec::with_capacity(n);
    let mut prev = 0i64;
    for (i, s) in samples.iter().enumerate() {
        match as_decimal(s.v, k) {
            Some(m) => prev = m,
            None => exceptions.push((i, s.v.to_bits())),
        }
        ms.push(prev);
    }
    // The integers before the first decimal value are unknown yet; use the first known so
    // that they cost no bits.
    if let Some(first) = samples.iter().find_map(|s| as_decimal(s.v, k)) {
        for (m, s) in ms.iter_mut().zip(samples) {
            if as_decimal(s.v, k).is_some() {
                break;
            }
            *m = first;
        }
    }
    let d1: Vec<i64> = ms.windows(2).map(|w| w[1] - w[0]).collect();
    let d2: Vec<i64> = d1.windows(2).map(|w| w[1] - w[0]).collect();
    let mut o1 = Vec::new();
    put_ints(&mut o1, &d1);
    let mut o2 = Vec::new();
    if let Some(&first) = d1.first() {
        put_varint(&mut o2, first);
    }
    put_ints(&mut o2, &d2);
    // Counters with a steady rate and smooth gauges favour second differences; random
    // increments favour first differences.
    let (order, diffs) = if o2.len() < o1.len() {
        (2u8, o2)
    } else {
        (1u8, o1)
    };
    let mut out = Vec::with_capacity(diffs.len() + 16 + exceptions.len() * 10);
    out.push(VALUE_DECIMAL);
    out.push(k as u8);
    out.push(order);
    put_uvarint(&mut out, exceptions.len() as u64);
    let mut next = 0usize;
    for (i, bits) in exceptions {
        put_uvarint(&mut out, (i - next) as u64);
        out.extend_from_slice(&bits.to_be_bytes());
        next = i + 1;
    }
    put_varint(&mut out, ms.first().copied().unwrap_or(0));
    out.extend_from_slice(&diffs);
    Some(out)
}

/// Appends `xs` as bit-packed groups (see the module docs).
pub(crate) fn put_ints(out: &mut Vec<u8>, xs: &[i64]) {
    for g in xs.chunks(GROUP) {
        let min = g.iter().copied().min().unwrap_or(0);
        let max = g.iter().copied().max().unwrap_or(0);
        let width = 64 - (max.wrapping_sub(min) as u64).leading_zeros();
        out.push(width as u8);
        put_varint(out, min);
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
    }
}

/// Reads a sequence written by [`put_ints`], one group at a time.
struct IntReader<'a> {
    c: Cursor<'a>,
    /// Values not yet decoded into `buf`.
    left: usize,
    buf: [i64; GROUP],
    len: usize,
    idx: usize,
}

impl<'a> IntReader<'a> {
    fn new(c: Cursor<'a>, count: usize) -> Self {
        IntReader {
            c,
            left: count,
            buf: [0; GROUP],
            len: 0,
            idx: 0,
        }
    }

    fn next(&mut self) -> Result<Option<i64>> {
        if self.idx == self.len {
            if self.left == 0 {
                return Ok(None);
            }
            self.fill()?;
        }
        let v = self.buf[self.idx];
        self.idx += 1;
        Ok(Some(v))
    }

    fn fill(&mut self) -> Result<()> {
        let len = self.left.min(GROUP);
        let width = u32::from(self.c.u8()?);
        if width > 64 {
            return Err(self.c.err(format!("bit width {width} over 64")));
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
        self.left -= len;
        self.len = len;
        self.idx = 0;
        Ok(())
    }

    fn cursor(&self) -> &Cursor<'a> {
        &self.c
    }
}

/// Where a chunk's timestamps are, for the decoder: `shared(back)` must return the data of
/// the record `back` bytes before this one and that data's absolute file offset.
pub(crate) type ResolveShared<'r, 'a> = dyn FnMut(u64) -> Result<(&'a [u8], u64)> + 'r;

/// Iterates over the samples of a packed chunk, oldest first, decoding one group of each
/// column at a time.
pub(crate) struct PackedIter<'a> {
    n: usize,
    i: usize,
    ts_kind: u8,
    t0: i64,
    base: i64,
    prev_t: i64,
    ts: Option<IntReader<'a>>,
    scale: usize,
    order: u8,
    exceptions: Vec<(usize, u64)>,
    next_exc: usize,
    m: i64,
    d: i64,
    diffs: IntReader<'a>,
}

impl<'a> PackedIter<'a> {
    /// Parses the headers of the chunk `data` found at file offset `base` of `path`.
    pub(crate) fn new(
        path: &'a Path,
        data: &'a [u8],
        base: u64,
        shared: &mut ResolveShared<'_, 'a>,
    ) -> Result<Self> {
        let mut c = Cursor::new(path, data, base);
        let n = c.uvarint_len(usize::MAX, "sample count")?;
        if n == 0 {
            return Err(c.err("packed chunk without samples"));
        }
        let kind = c.u8()?;
        let (ts_kind, t0, tsbase, ts) = match kind {
            TS_DELTA | TS_GRID => {
                let (t0, b, r) = parse_ts_head(c, n)?;
                c = r.0;
                (kind, t0, b, r.1)
            }
            TS_SHARED => {
                let at = c.offset();
                let back = c.uvarint()?;
                let (other, obase) = shared(back)?;
                let mut oc = Cursor::new(path, other, obase);
                let on = oc.uvarint_len(usize::MAX, "sample count")?;
                let okind = oc.u8()?;
                if on != n || !(okind == TS_DELTA || okind == TS_GRID) {
                    return Err(super::codec::corruption(
                        path,
                        at,
                        "shared timestamps refer to a chunk of another shape",
                    ));
                }
                let (t0, b, r) = parse_ts_head(oc, n)?;
                (okind, t0, b, r.1)
            }
            k => return Err(c.err(format!("unknown timestamp kind {k}"))),
        };
        let vkind = c.u8()?;
        if vkind != VALUE_DECIMAL {
            return Err(c.err(format!("unknown value kind {vkind}")));
        }
        let scale = c.u8()?;
        if scale > MAX_SCALE {
            return Err(c.err(format!("decimal scale {scale} over {MAX_SCALE}")));
        }
        let order = c.u8()?;
        if order != 1 && order != 2 {
            return Err(c.err(format!("difference order {order}")));
        }
        // Each exception takes at least 9 bytes: bounds the allocation on corrupt counts.
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
        let m = c.varint()?;
        let d = if order == 2 && n >= 2 { c.varint()? } else { 0 };
        let count = if n < 2 { 0 } else { n - usize::from(order) };
        Ok(PackedIter {
            n,
            i: 0,
            ts_kind,
            t0,
            base: tsbase,
            prev_t: t0,
            ts,
            scale: usize::from(scale),
            order,
            exceptions,
            next_exc: 0,
            m,
            d,
            diffs: IntReader::new(c, count),
        })
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.n
    }

    fn next_t(&mut self) -> Result<i64> {
        if self.i == 0 {
            return Ok(self.t0);
        }
        let r = match self.ts.as_mut() {
            Some(ts) => ts.next()?,
            None => None,
        };
        let r = r.ok_or_else(|| self.diffs.cursor().err("timestamp column ended early"))?;
        let t = if self.ts_kind == TS_GRID {
            self.t0
                .wrapping_add((self.i as i64).wrapping_mul(self.base))
                .wrapping_add(r)
        } else {
            self.prev_t.wrapping_add(self.base).wrapping_add(r)
        };
        if t <= self.prev_t {
            return Err(self
                .diffs
                .cursor()
                .err("timestamps of a packed chunk do not increase"));
        }
        Ok(t)
    }

    fn next_m(&mut self) -> Result<i64> {
        let i = self.i;
        if i == 0 || (i == 1 && self.order == 2) {
            if i == 1 {
                self.m = self.m.wrapping_add(self.d);
            }
            return Ok(self.m);
        }
        let x = self
            .diffs
            .next()?
            .ok_or_else(|| self.diffs.cursor().err("value column ended early"))?;
        if self.order == 2 {
            self.d = self.d.wrapping_add(x);
            self.m = self.m.wrapping_add(self.d);
        } else {
            self.m = self.m.wrapping_add(x);
        }
        Ok(self.m)
    }

    /// The next sample, `Ok(None)` at the end.
    pub(crate) fn next_sample(&mut self) -> Result<Option<Sample>> {
        if self.i >= self.n {
            return Ok(None);
        }
        let t = self.next_t()?;
        let m = self.next_m()?;
        let v = match self.exceptions.get(self.next_exc) {
            Some(&(idx, bits)) if idx == self.i => {
                self.next_exc += 1;
                f64::from_bits(bits)
            }
            _ => m as f64 / POW10[self.scale],
        };
        self.prev_t = t;
        self.i += 1;
        if self.i == self.n && !self.diffs.cursor().is_empty() {
            let c = self.diffs.cursor();
            return Err(c.err(format!("{} trailing bytes", c.remaining())));
        }
        Ok(Some(Sample { t, v }))
    }
}

/// Reads `t0`, `base` and positions the residual reader; returns the cursor after them
/// (for inline timestamps, the values follow the residuals, so the caller must skip them).
#[allow(clippy::type_complexity)]
fn parse_ts_head<'a>(
    mut c: Cursor<'a>,
    n: usize,
) -> Result<(i64, i64, (Cursor<'a>, Option<IntReader<'a>>))> {
    let t0 = c.varint()?;
    if n < 2 {
        return Ok((t0, 0, (c, None)));
    }
    let base = c.varint()?;
    // The values section starts after the residuals, whose length is known only by
    // walking their group headers.
    let mut skip = c.clone();
    let mut left = n - 1;
    while left > 0 {
        let len = left.min(GROUP);
        let width = usize::from(skip.u8()?);
        if width > 64 {
            return Err(skip.err(format!("bit width {width} over 64")));
        }
        skip.varint()?;
        skip.bytes((len * width).div_ceil(8))?;
        left -= len;
    }
    let residuals = IntReader::new(c, n - 1);
    Ok((t0, base, (skip, Some(residuals))))
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
