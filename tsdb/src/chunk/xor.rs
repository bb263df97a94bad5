//! Gorilla XOR chunk: delta-of-delta timestamps and XOR-compressed float values.
//!
//! Layout, as a bit stream packed most-significant bit first (see `bstream`):
//!
//! | field                      | size             | encoding                                  |
//! |----------------------------|------------------|-------------------------------------------|
//! | sample count               | 16 bits          | u16 big-endian, rewritten on every append |
//! | sample 0 timestamp         | 1..=10 bytes     | zigzag LEB128 varint of `t0`              |
//! | sample 0 value             | 64 bits          | raw IEEE-754 bits of `v0`                 |
//! | sample 1 timestamp         | 1..=10 bytes     | LEB128 varint of `t1 - t0` (always > 0)   |
//! | sample 1 value             | variable         | XOR code (below)                          |
//! | sample n >= 2 timestamp    | variable         | delta-of-delta code (below)               |
//! | sample n >= 2 value        | variable         | XOR code (below)                          |
//! | padding                    | 0..=7 bits       | zero bits up to the byte boundary         |
//!
//! Delta-of-delta code, `dod = (t[n] - t[n-1]) - (t[n-1] - t[n-2])` in milliseconds (all
//! arithmetic wraps, so any `i64` timestamps round-trip):
//!
//! | control | payload                | range of dod                  | total bits |
//! |---------|------------------------|-------------------------------|------------|
//! | `0`     | none                   | 0                             | 1          |
//! | `10`    | 7 bits two's complement| -64 ..= 63                    | 9          |
//! | `110`   | 14 bits                | -8192 ..= 8191                | 17         |
//! | `1110`  | 20 bits                | -524288 ..= 524287            | 24         |
//! | `1111`  | 64 bits                | any                           | 68         |
//!
//! Why these buckets: at 1 s resolution scrapers stamp samples with a jitter of a few ms,
//! and `dod` is the second difference of those jitters (`e[n] - 2e[n-1] + e[n-2]`), so it
//! is rarely 0 but stays within ±4× the jitter, ±12 ms for ±3 ms. The 7-bit bucket holds
//! jitters up to ±16 ms in 9 bits, where Prometheus's smallest non-zero bucket costs 16.
//! The 14-bit bucket (±8 s) covers a missed scrape or an interval change at second-level
//! resolution; the 20-bit bucket (±8.7 min) covers missed scrapes at 15 s–60 s intervals;
//! anything else (gaps of years, clock jumps) takes the 64-bit escape.
//!
//! XOR code, `x = bits(v[n]) ^ bits(v[n-1])` (values are compared by bits, so NaN payloads
//! such as the staleness marker, ±Inf and -0.0 round-trip exactly):
//!
//! | control | payload                                                   | used when           |
//! |---------|-----------------------------------------------------------|---------------------|
//! | `0`     | none                                                      | `x == 0`            |
//! | `10`    | the meaningful bits of `x` within the previous window     | `x` fits the window |
//! | `11`    | 5 bits leading zeros (capped at 31), 6 bits meaningful-bit count (64 written as 0), then the meaningful bits | otherwise |
//!
//! The "window" is the leading/trailing zero counts last written with a `11` code.

use super::bstream::{low_bits, BitReader, BitWriter};
use crate::error::{Error, Result};
use crate::sample::Sample;

/// Bytes of the sample-count header.
const HEADER_LEN: usize = 2;
/// Marks "no XOR window yet" in the decoder's leading-zeros state.
const NO_WINDOW: u32 = u32::MAX;
/// The same mark in the encoder's one-byte state (leading zeros are at most 31).
const NO_WINDOW_U8: u8 = u8::MAX;

/// A Gorilla-compressed run of float samples with strictly increasing timestamps.
///
/// Besides the encoded bytes it keeps the encoder state (last timestamp, last delta, last
/// value, current XOR window) so that [`XorChunk::append`] is O(1). Every series in the
/// head holds one open chunk, so the struct is kept to 64 bytes (a test guards it): the
/// first timestamp is kept as a 32-bit span back from the last, and the window and count
/// share one word.
#[derive(Clone, Debug)]
pub struct XorChunk {
    /// The encoded chunk; always at least the 2-byte header.
    w: BitWriter,
    /// Number of samples; equals the header.
    count: u16,
    /// Leading zeros of the current XOR window (at most 31), or `NO_WINDOW_U8`.
    leading: u8,
    /// Trailing zeros of the current XOR window; meaningful only with a window.
    trailing: u8,
    /// `last_t - ` the first timestamp, in ms, saturated at `u32::MAX` (49.7 days): the
    /// head checks the open chunk's span on every append, and this is its first timestamp
    /// without decoding (it fills what was padding). Meaningless while `count == 0`.
    span: u32,
    /// Timestamp of the last sample; while `count == 0`, that of the sample the chunk
    /// follows ([`XorChunk::empty_after`]), or `i64::MIN`.
    last_t: i64,
    /// `last_t - previous t` (wrapping); meaningless while `count < 2`.
    last_delta: u64,
    /// Raw bits of the last value; while `count == 0`, those of the sample the chunk
    /// follows, or 0.
    last_v: u64,
}

impl Default for XorChunk {
    fn default() -> Self {
        XorChunk::new()
    }
}

impl PartialEq for XorChunk {
    /// Two chunks are equal when their encodings are: equal samples, bit for bit.
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl XorChunk {
    /// The most samples one chunk can hold (the header is 16 bits).
    pub const MAX_SAMPLES: usize = u16::MAX as usize;

    pub fn new() -> Self {
        XorChunk {
            w: BitWriter::from_parts(vec![0; HEADER_LEN], 0),
            count: 0,
            leading: NO_WINDOW_U8,
            trailing: 0,
            span: 0,
            last_t: i64::MIN,
            last_delta: 0,
            last_v: 0,
        }
    }

    /// An empty chunk that follows a sample at `t` with value bits `v_bits`, which
    /// [`XorChunk::newest`] gives until a sample is appended. The head's open chunk carries
    /// its series' newest sample this way across a close, so that no series keeps a
    /// second copy of what the encoder already holds (16 bytes of every head series).
    pub fn empty_after(t: i64, v_bits: u64) -> Self {
        let mut c = XorChunk::new();
        c.follow(t, v_bits);
        c
    }

    /// Makes this empty chunk follow the sample at `t` with value bits `v_bits`, as
    /// [`XorChunk::empty_after`] does, keeping its buffer (replay sets a series' newest
    /// sample once per chunk it attaches).
    ///
    /// Panics if the chunk holds samples: the encoder's state is then its last sample's.
    pub fn follow(&mut self, t: i64, v_bits: u64) {
        assert!(self.count == 0, "only an empty chunk follows a sample");
        self.last_t = t;
        self.last_v = v_bits;
    }

    /// Takes an encoded chunk, e.g. read from disk, and validates it completely by decoding
    /// every sample; this also restores the encoder state, so the result can be appended to.
    ///
    /// Returns [`Error::CorruptChunk`] when the bytes are not a chunk this codec writes:
    /// truncated data, impossible codes, timestamps not increasing, trailing garbage.
    /// To iterate over borrowed bytes without the validation pass use [`XorIter::from_bytes`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        let mut d = Decoder::new(&bytes)?;
        let count = d.count;
        let mut first = None;
        let mut last = None;
        while let Some(s) = d.next_sample()? {
            first = first.or(Some(s.t));
            last = Some(s);
        }
        let used = HEADER_LEN * 8 + d.r.bits_read();
        let total = bytes.len() * 8;
        if total - used >= 8 {
            return Err(Error::CorruptChunk(format!(
                "{} trailing bytes after {} samples",
                (total - used) / 8,
                count
            )));
        }
        let free = (total - used) as u32;
        if free > 0 {
            let pad_mask = (1u8 << free) - 1;
            if bytes.last().is_some_and(|b| b & pad_mask != 0) {
                return Err(Error::CorruptChunk("non-zero padding bits".to_string()));
            }
        }
        let (last_t, last_v) = match last {
            Some(l) => (l.t, l.v.to_bits()),
            None => (i64::MIN, 0),
        };
        // The decoder checked the window: leading zeros are at most 31, trailing at most 64.
        let (leading, trailing) = match d.leading {
            NO_WINDOW => (NO_WINDOW_U8, 0),
            lead => (lead as u8, d.trailing as u8),
        };
        let span = first.map_or(0, |f| span_ms(f, last_t));
        Ok(XorChunk {
            count,
            span,
            last_t,
            last_delta: d.delta,
            last_v,
            leading,
            trailing,
            w: BitWriter::from_parts(bytes, free),
        })
    }

    /// The encoded chunk, as [`XorChunk::from_bytes`] takes it back.
    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    /// The encoded chunk, without copying.
    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_bytes()
    }

    /// Encoded size in bytes, header included.
    pub fn size_bytes(&self) -> usize {
        self.w.bytes().len()
    }

    /// Allocated size of the encoded buffer (≥ [`XorChunk::size_bytes`]).
    pub fn capacity_bytes(&self) -> usize {
        self.w.capacity()
    }

    /// Releases spare capacity; worth calling when a chunk is closed, as the buffer grows by
    /// doubling and a closed chunk is kept for hours.
    pub fn shrink_to_fit(&mut self) {
        self.w.shrink_to_fit();
    }

    /// Makes room for at least `additional` more bytes without growing by doubling: for a
    /// chunk kept open in memory, whose spare capacity would otherwise average a third.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.w.reserve_exact(additional);
    }

    pub fn num_samples(&self) -> usize {
        usize::from(self.count)
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when no further sample fits ([`XorChunk::MAX_SAMPLES`]).
    pub fn is_full(&self) -> bool {
        usize::from(self.count) >= Self::MAX_SAMPLES
    }

    /// The first sample's timestamp, in O(1) unless the chunk spans more than `span` holds.
    pub fn first_time(&self) -> Option<i64> {
        if self.count == 0 {
            return None;
        }
        if self.span < u32::MAX {
            return Some(self.last_t.wrapping_sub(i64::from(self.span)));
        }
        self.iter().next().map(|s| s.t)
    }

    pub fn last_time(&self) -> Option<i64> {
        (self.count > 0).then_some(self.last_t)
    }

    /// The timestamp and value bits of the last sample appended, or for an empty chunk of
    /// the sample it follows ([`XorChunk::empty_after`]); `(i64::MIN, 0)` for a new one.
    pub fn newest(&self) -> (i64, u64) {
        (self.last_t, self.last_v)
    }

    /// Appends a sample in O(1).
    ///
    /// Preconditions, checked by the caller (the head): `t` is greater than the last
    /// timestamp and the chunk is not full. A non-increasing `t` produces a chunk that
    /// [`XorChunk::from_bytes`] rejects; appending to a full chunk panics, as the count
    /// could not be represented.
    pub fn append(&mut self, t: i64, v: f64) {
        debug_assert!(self.count == 0 || t > self.last_t, "append out of order");
        assert!(
            !self.is_full(),
            "XorChunk holds at most {} samples",
            Self::MAX_SAMPLES
        );
        let vb = v.to_bits();
        match self.count {
            0 => {
                self.w.write_uvarint(zigzag(t));
                self.w.write_bits(vb, 64);
                self.span = 0;
            }
            1 => {
                let delta = t.wrapping_sub(self.last_t) as u64;
                self.span = span_ms(self.last_t, t);
                self.w.write_uvarint(delta);
                self.write_value(vb);
                self.last_delta = delta;
            }
            _ => {
                let delta = t.wrapping_sub(self.last_t) as u64;
                self.span = self
                    .span
                    .saturating_add(u32::try_from(delta).unwrap_or(u32::MAX));
                self.write_dod(delta.wrapping_sub(self.last_delta) as i64);
                self.write_value(vb);
                self.last_delta = delta;
            }
        }
        self.last_t = t;
        self.last_v = vb;
        self.count += 1;
        self.w.bytes_mut()[..HEADER_LEN].copy_from_slice(&self.count.to_be_bytes());
    }

    fn write_dod(&mut self, dod: i64) {
        if dod == 0 {
            self.w.write_bit(false);
            return;
        }
        for &(control, control_bits, payload_bits) in DOD_BUCKETS {
            if fits_signed(dod, payload_bits) {
                let payload = (dod as u64) & low_bits(payload_bits);
                self.w.write_bits(
                    (control << payload_bits) | payload,
                    control_bits + payload_bits,
                );
                return;
            }
        }
        self.w.write_bits(0b1111, 4);
        self.w.write_bits(dod as u64, 64);
    }

    fn write_value(&mut self, vb: u64) {
        let x = vb ^ self.last_v;
        if x == 0 {
            self.w.write_bit(false);
            return;
        }
        let lead = x.leading_zeros().min(31);
        let trail = x.trailing_zeros();
        let (leading, trailing) = (u32::from(self.leading), u32::from(self.trailing));
        if self.leading != NO_WINDOW_U8 && lead >= leading && trail >= trailing {
            let sig = 64 - leading - trailing;
            self.w.write_bits(0b10, 2);
            self.w.write_bits(x >> trailing, sig);
        } else {
            let sig = 64 - lead - trail;
            // 2 control bits, 5 bits leading zeros, 6 bits count (64 wraps to 0).
            let head = (0b11 << 11) | (u64::from(lead) << 6) | u64::from(sig & 63);
            self.w.write_bits(head, 13);
            self.w.write_bits(x >> trail, sig);
            // lead ≤ 31 and trail < 64 here (x != 0).
            self.leading = lead as u8;
            self.trailing = trail as u8;
        }
    }

    pub fn iter(&self) -> XorIter<'_> {
        XorIter::from_bytes(self.bytes())
    }
}

/// Non-zero delta-of-delta buckets: (control code, control bits, payload bits).
const DOD_BUCKETS: &[(u64, u32, u32)] = &[(0b10, 2, 7), (0b110, 3, 14), (0b1110, 4, 20)];

fn fits_signed(v: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    (-half..half).contains(&v)
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// `to - from` in ms as [`XorChunk`]'s `span` holds it: saturated at `u32::MAX`.
fn span_ms(from: i64, to: i64) -> u32 {
    u32::try_from(i128::from(to) - i128::from(from)).unwrap_or(u32::MAX)
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Decoding state shared by the iterator and the validation in `from_bytes`.
#[derive(Clone, Debug)]
struct Decoder<'a> {
    r: BitReader<'a>,
    /// Samples announced by the header.
    count: u16,
    /// Samples decoded so far.
    read: u16,
    t: i64,
    delta: u64,
    v: u64,
    leading: u32,
    trailing: u32,
}

impl<'a> Decoder<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self> {
        let Some(h) = bytes.get(..HEADER_LEN) else {
            return Err(Error::CorruptChunk(format!(
                "chunk of {} bytes is shorter than its header",
                bytes.len()
            )));
        };
        let count = u16::from_be_bytes([h[0], h[1]]);
        Ok(Decoder {
            r: BitReader::new(bytes.get(HEADER_LEN..).unwrap_or_default()),
            count,
            read: 0,
            t: 0,
            delta: 0,
            v: 0,
            leading: NO_WINDOW,
            trailing: 0,
        })
    }

    fn remaining(&self) -> usize {
        usize::from(self.count - self.read)
    }

    fn next_sample(&mut self) -> Result<Option<Sample>> {
        if self.read >= self.count {
            return Ok(None);
        }
        match self.read {
            0 => {
                self.t = unzigzag(self.r.read_uvarint()?);
                self.v = self.r.read_bits(64)?;
            }
            1 => {
                self.delta = self.r.read_uvarint()?;
                self.advance_time()?;
                self.read_value()?;
            }
            _ => {
                let dod = match self.r.read_unary(4)? {
                    0 => 0,
                    4 => self.r.read_bits(64)? as i64,
                    n => {
                        let bits = DOD_BUCKETS[n as usize - 1].2;
                        sign_extend(self.r.read_bits(bits)?, bits)
                    }
                };
                self.delta = self.delta.wrapping_add(dod as u64);
                self.advance_time()?;
                self.read_value()?;
            }
        }
        self.read += 1;
        Ok(Some(Sample {
            t: self.t,
            v: f64::from_bits(self.v),
        }))
    }

    fn advance_time(&mut self) -> Result<()> {
        let t = self.t.wrapping_add(self.delta as i64);
        if t <= self.t {
            return Err(Error::CorruptChunk(format!(
                "timestamp {t} of sample {} not after {}",
                self.read, self.t
            )));
        }
        self.t = t;
        Ok(())
    }

    fn read_value(&mut self) -> Result<()> {
        if !self.r.read_bit()? {
            return Ok(());
        }
        if self.r.read_bit()? {
            let lead = self.r.read_bits(5)? as u32;
            let sig = match self.r.read_bits(6)? as u32 {
                0 => 64,
                s => s,
            };
            if lead + sig > 64 {
                return Err(Error::CorruptChunk(format!(
                    "XOR window of {lead} leading zeros and {sig} bits exceeds 64 bits"
                )));
            }
            self.leading = lead;
            self.trailing = 64 - lead - sig;
        } else if self.leading == NO_WINDOW {
            return Err(Error::CorruptChunk(
                "XOR code reuses a window before one was set".to_string(),
            ));
        }
        let sig = 64 - self.leading - self.trailing;
        let bits = self.r.read_bits(sig)?;
        self.v ^= bits << self.trailing;
        Ok(())
    }
}

/// Iterates over the samples of a chunk, oldest first.
///
/// On corrupt data the iterator ends early and [`XorIter::err`] holds the
/// [`Error::CorruptChunk`]; it never panics, whatever the bytes.
pub struct XorIter<'a> {
    /// `None` when the header itself is missing.
    d: Option<Decoder<'a>>,
    /// A sample decoded by [`XorIter::seek`] and not yet returned by `next`.
    peeked: Option<Sample>,
    err: Option<Error>,
}

impl<'a> XorIter<'a> {
    /// Iterates over encoded chunk bytes (e.g. an mmapped block) without first validating
    /// them; corruption surfaces through [`XorIter::err`].
    pub fn from_bytes(bytes: &'a [u8]) -> Self {
        match Decoder::new(bytes) {
            Ok(d) => XorIter {
                d: Some(d),
                peeked: None,
                err: None,
            },
            Err(e) => XorIter {
                d: None,
                peeked: None,
                err: Some(e),
            },
        }
    }

    /// The error that ended iteration early, if any.
    pub fn err(&self) -> Option<&Error> {
        self.err.as_ref()
    }

    /// Takes the error that ended iteration early, if any.
    pub fn take_err(&mut self) -> Option<Error> {
        self.err.take()
    }

    /// Advances to the first sample with timestamp `>= t` and returns it without consuming
    /// it: the next call to `next` returns the same sample. Never moves backwards: if the
    /// iterator is already past `t`, returns the next sample. `None` at the end.
    pub fn seek(&mut self, t: i64) -> Option<Sample> {
        loop {
            let s = match self.peeked {
                Some(s) => s,
                None => self.decode()?,
            };
            if s.t >= t {
                self.peeked = Some(s);
                return Some(s);
            }
            self.peeked = None;
        }
    }

    fn decode(&mut self) -> Option<Sample> {
        let d = self.d.as_mut()?;
        match d.next_sample() {
            Ok(s) => s,
            Err(e) => {
                self.err = Some(e);
                self.d = None;
                None
            }
        }
    }
}

impl Iterator for XorIter<'_> {
    type Item = Sample;

    fn next(&mut self) -> Option<Sample> {
        match self.peeked.take() {
            Some(s) => Some(s),
            None => self.decode(),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let peeked = usize::from(self.peeked.is_some());
        let rest = self.d.as_ref().map_or(0, Decoder::remaining);
        // Corruption may end iteration early, so only the upper bound is exact.
        (0, Some(rest + peeked))
    }
}

impl std::iter::FusedIterator for XorIter<'_> {}

impl<'a> IntoIterator for &'a XorChunk {
    type Item = Sample;
    type IntoIter = XorIter<'a>;
    fn into_iter(self) -> XorIter<'a> {
        self.iter()
    }
}

#[cfg(test)]
#[path = "xor_tests.rs"]
mod tests;
