//! Decoding a Gorilla XOR chunk (layout: `chunk/xor.rs`) straight into a query's buffer.
//!
//! Queries spend most of their time here: a range query at a 15 s step over 10 minutes
//! of 1 s data decodes 600 samples a series to answer 40 steps. `XorIter` reads bit by
//! bit through a checked reader, with a `Result` per field; this loop loads a 64-bit
//! window at the sample's first bit, takes the delta-of-delta (its control bits counted
//! with one `leading_ones`), the XOR control and usually the XOR payload from it, checks
//! the end of the data once per sample, and keeps the decoder state in locals.
//!
//! It must give exactly what `XorIter` gives, corruption included: the samples before
//! the first field that cannot be read (past the end, a timestamp not after the previous
//! one, an invalid XOR window) and none after. `chunked_xor_tests.rs` compares the two on
//! valid, truncated and random bytes.

use crate::sample::Sample;

/// Bytes of the sample-count header.
const HEADER_LEN: usize = 2;

/// Payload bits of the delta-of-delta buckets after 1, 2 and 3 control ones (`10`, `110`,
/// `1110`); four ones (`1111`) escape to 64 bits.
const DOD_PAYLOAD: [u32; 3] = [7, 14, 20];

/// A bit position in `data`, most significant bit first.
struct Bits<'a> {
    data: &'a [u8],
    /// Next bit to read. Invariant: `pos <= end`.
    pos: usize,
    /// Bits in `data`.
    end: usize,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8]) -> Self {
        Bits {
            data,
            pos: 0,
            end: data.len() * 8,
        }
    }

    /// The 64 bits from `pos`, the first at the top; at least 57 of them are data bits
    /// (or zeros past the end of the data).
    #[inline(always)]
    fn window(&self) -> u64 {
        let byte = self.pos >> 3;
        let mut w = [0u8; 8];
        match self.data.get(byte..byte + 8) {
            Some(b) => w.copy_from_slice(b),
            None => {
                let tail = self.data.get(byte..).unwrap_or_default();
                w[..tail.len()].copy_from_slice(tail);
            }
        }
        u64::from_be_bytes(w) << (self.pos & 7)
    }

    /// Whether `n` more bits are there.
    #[inline(always)]
    fn has(&self, n: usize) -> bool {
        self.end - self.pos >= n
    }

    /// The next `n` bits, `1 <= n <= 56`; `None` past the end.
    #[inline(always)]
    fn read(&mut self, n: u32) -> Option<u64> {
        if !self.has(n as usize) {
            return None;
        }
        let v = self.window() >> (64 - n);
        self.pos += n as usize;
        Some(v)
    }

    /// The next `n` bits, `1 <= n <= 64`.
    #[inline(always)]
    fn read_long(&mut self, n: u32) -> Option<u64> {
        if n <= 56 {
            return self.read(n);
        }
        let hi = self.read(n - 32)?;
        let lo = self.read(32)?;
        Some((hi << 32) | lo)
    }

    /// An unsigned LEB128 varint of at most 10 bytes that fits 64 bits.
    fn uvarint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.read(8)?;
            if i == 9 && b > 1 {
                return None;
            }
            v |= (b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
}

/// Appends the samples of chunk `bytes` with `mint <= t <= maxt` to `out`, stopping at
/// the first sample after `maxt` or at the first field that cannot be decoded.
pub(crate) fn extend_xor(bytes: &[u8], mint: i64, maxt: i64, out: &mut Vec<Sample>) {
    let Some(h) = bytes.get(..HEADER_LEN) else {
        return;
    };
    let count = usize::from(u16::from_be_bytes([h[0], h[1]]));
    if count == 0 {
        return;
    }
    let mut r = Bits::new(bytes.get(HEADER_LEN..).unwrap_or_default());
    // Sample 0: zigzag varint time, raw value bits.
    let Some(z) = r.uvarint() else {
        return;
    };
    let mut t = ((z >> 1) as i64) ^ -((z & 1) as i64);
    let Some(mut v) = r.read_long(64) else {
        return;
    };
    if t > maxt {
        return;
    }
    if t >= mint {
        out.push(Sample::new(t, f64::from_bits(v)));
    }
    out.reserve(count - 1);
    let mut delta = 0u64;
    // The XOR window: leading zeros (`u32::MAX` until a `11` code sets one) and trailing.
    let (mut leading, mut trailing) = (u32::MAX, 0u32);
    for n in 1..count {
        // `w` holds the bits from `r.pos` on, of which `k` belong to this sample so far;
        // `pos` moves once the sample is whole. A sample's codes fit one window but for
        // the 64-bit escape and wide XOR payloads, which read on from `pos + k`.
        let (mut w, mut k);
        if n == 1 {
            let Some(d) = r.uvarint() else {
                return;
            };
            delta = d;
            (w, k) = (r.window(), 0);
        } else {
            w = r.window();
            // Up to four control ones, then a zero unless there were four.
            let ones = w.leading_ones();
            if ones >= 4 {
                if !r.has(4) {
                    return;
                }
                r.pos += 4;
                let Some(dod) = r.read_long(64) else {
                    return;
                };
                delta = delta.wrapping_add(dod);
                (w, k) = (r.window(), 0);
            } else if ones == 0 {
                k = 1;
            } else {
                let bits = DOD_PAYLOAD[ones as usize - 1];
                let control = ones + 1;
                // Arithmetic shift: the payload sign-extended.
                let dod = (((w << control) as i64) >> (64 - bits)) as u64;
                delta = delta.wrapping_add(dod);
                k = control + bits;
            }
        }
        let next = t.wrapping_add(delta as i64);
        if next <= t {
            return;
        }
        t = next;
        // The value: `0` unchanged, `10` the current window, `11` a new window. At most
        // 4 + 20 + 13 bits of the window are used before the payload, within its 57.
        let avail = r.end - r.pos;
        match (w << k) >> 62 {
            0 | 1 => {
                k += 1;
                if k as usize > avail {
                    return;
                }
                r.pos += k as usize;
            }
            code => {
                if code == 3 {
                    let x = (w << (k + 2)) >> 53;
                    let lead = (x >> 6) as u32;
                    let sig = match (x & 0x3f) as u32 {
                        0 => 64,
                        s => s,
                    };
                    if lead + sig > 64 {
                        return;
                    }
                    leading = lead;
                    trailing = 64 - lead - sig;
                    k += 13;
                } else if leading == u32::MAX {
                    return;
                } else {
                    k += 2;
                }
                let sig = 64 - leading - trailing;
                let x = if k + sig <= 57 {
                    if (k + sig) as usize > avail {
                        return;
                    }
                    r.pos += (k + sig) as usize;
                    (w << k) >> (64 - sig)
                } else {
                    if k as usize > avail {
                        return;
                    }
                    r.pos += k as usize;
                    let Some(x) = r.read_long(sig) else {
                        return;
                    };
                    x
                };
                v ^= x << trailing;
            }
        }
        if t > maxt {
            return;
        }
        if t >= mint {
            out.push(Sample::new(t, f64::from_bits(v)));
        }
    }
}

#[cfg(test)]
#[path = "chunked_xor_tests.rs"]
mod tests;
