//! Bit-level writer and reader used by the chunk encodings.
//!
//! Bits are packed most-significant first: the first bit written is bit 7 of byte 0. This
//! matches the order in which Gorilla's variable-length codes are read (control bits first),
//! so a reader can decide on a code after inspecting only its leading bits.

use crate::error::{Error, Result};

/// The low `bits` bits set; all 64 from 64 on (where a plain shift would overflow).
pub(crate) fn low_bits(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// Appends bits to a byte vector.
#[derive(Clone, Debug, Default)]
pub(crate) struct BitWriter {
    /// The stream. Bits of the last byte that are not yet written are zero, so writing is an
    /// OR into that byte.
    bytes: Vec<u8>,
    /// Unwritten bits at the low end of the last byte, 0..=7; 0 also when `bytes` is empty.
    free: u32,
}

impl BitWriter {
    /// Continues a stream whose last byte has `free` unwritten (zero) low bits.
    ///
    /// Callers guarantee `free < 8`, that `bytes` is non-empty when `free > 0`, and that the
    /// free bits are zero.
    pub(crate) fn from_parts(bytes: Vec<u8>, free: u32) -> Self {
        debug_assert!(free < 8 && (free == 0 || !bytes.is_empty()));
        BitWriter { bytes, free }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    pub(crate) fn capacity(&self) -> usize {
        self.bytes.capacity()
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.bytes.shrink_to_fit();
    }

    pub(crate) fn reserve_exact(&mut self, additional: usize) {
        self.bytes.reserve_exact(additional);
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    pub(crate) fn write_bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.bytes.push(0);
            self.free = 8;
        }
        self.free -= 1;
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 1 << self.free;
            }
        }
    }

    /// Appends the low `n` bits of `v`, most significant first. `n` is at most 64.
    pub(crate) fn write_bits(&mut self, v: u64, n: u32) {
        debug_assert!(n <= 64);
        let mut left = n;
        while left > 0 {
            if self.free == 0 {
                self.bytes.push(0);
                self.free = 8;
            }
            let take = left.min(self.free);
            let part = (v >> (left - take)) & ((1u64 << take) - 1);
            if let Some(last) = self.bytes.last_mut() {
                *last |= (part << (self.free - take)) as u8;
            }
            self.free -= take;
            left -= take;
        }
    }

    /// Appends an unsigned LEB128 varint as 8-bit groups (byte-aligned only by accident).
    pub(crate) fn write_uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.write_bits((v & 0x7f) | 0x80, 8);
            v >>= 7;
        }
        self.write_bits(v, 8);
    }
}

/// Reads bits from a byte slice; every read past the end is an error, never a panic.
#[derive(Clone, Debug)]
pub(crate) struct BitReader<'a> {
    data: &'a [u8],
    /// Index of the next byte of `data` not yet loaded into `buf`.
    pos: usize,
    /// Loaded, unread bits, left-aligned; the bits below the top `avail` are zero.
    buf: u64,
    /// Number of valid bits in `buf`, 0..=64.
    avail: u32,
}

fn eof() -> Error {
    Error::CorruptChunk("unexpected end of chunk data".to_string())
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        BitReader {
            data,
            pos: 0,
            buf: 0,
            avail: 0,
        }
    }

    /// Number of bits consumed so far.
    pub(crate) fn bits_read(&self) -> usize {
        self.pos * 8 - self.avail as usize
    }

    fn refill(&mut self) {
        if self.avail <= 56 {
            if let Some(word) = self.data.get(self.pos..self.pos + 8) {
                let mut w = [0u8; 8];
                w.copy_from_slice(word);
                let w = u64::from_be_bytes(w);
                let nbytes = (64 - self.avail) / 8;
                let filled = self.avail + nbytes * 8;
                let mut add = w >> self.avail;
                if filled < 64 {
                    add &= !(u64::MAX >> filled);
                }
                self.buf |= add;
                self.avail = filled;
                self.pos += nbytes as usize;
                return;
            }
        }
        while self.avail <= 56 {
            let Some(&b) = self.data.get(self.pos) else {
                return;
            };
            self.buf |= u64::from(b) << (56 - self.avail);
            self.avail += 8;
            self.pos += 1;
        }
    }

    pub(crate) fn read_bit(&mut self) -> Result<bool> {
        if self.avail == 0 {
            self.refill();
            if self.avail == 0 {
                return Err(eof());
            }
        }
        let bit = self.buf >> 63 == 1;
        self.buf <<= 1;
        self.avail -= 1;
        Ok(bit)
    }

    /// Reads `n` bits (0..=64) as the low bits of the result.
    pub(crate) fn read_bits(&mut self, n: u32) -> Result<u64> {
        debug_assert!(n <= 64);
        if n > 32 {
            // A refill guarantees at least 57 bits only when enough data remains; splitting
            // keeps every single read within what one refill provides.
            let hi = self.read_bits(n - 32)?;
            let lo = self.read_bits(32)?;
            return Ok((hi << 32) | lo);
        }
        if n == 0 {
            return Ok(0);
        }
        if self.avail < n {
            self.refill();
            if self.avail < n {
                return Err(eof());
            }
        }
        let v = self.buf >> (64 - n);
        self.buf <<= n;
        self.avail -= n;
        Ok(v)
    }

    /// Counts up to `max` leading one bits, consuming them and the terminating zero (if
    /// fewer than `max` ones were read).
    pub(crate) fn read_unary(&mut self, max: u32) -> Result<u32> {
        let mut ones = 0;
        while ones < max {
            if !self.read_bit()? {
                break;
            }
            ones += 1;
        }
        Ok(ones)
    }

    pub(crate) fn read_uvarint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.read_bits(8)?;
            if i == 9 && b > 1 {
                return Err(Error::CorruptChunk("varint overflows 64 bits".to_string()));
            }
            v |= (b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Error::CorruptChunk(
            "varint longer than 10 bytes".to_string(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_across_byte_boundaries() {
        let mut w = BitWriter::default();
        let items: Vec<(u64, u32)> = vec![
            (1, 1),
            (0b101, 3),
            (0x7f, 7),
            (u64::MAX, 64),
            (0, 5),
            (0x1234_5678_9abc, 48),
            (1, 2),
            (0xdead_beef, 33),
        ];
        for &(v, n) in &items {
            w.write_bits(v, n);
        }
        w.write_uvarint(300);
        w.write_uvarint(u64::MAX);
        let total: u32 = items.iter().map(|&(_, n)| n).sum::<u32>() + 16 + 80;
        assert_eq!(w.bytes().len(), total.div_ceil(8) as usize);

        let mut r = BitReader::new(w.bytes());
        for &(v, n) in &items {
            assert_eq!(r.read_bits(n).unwrap(), v & low_bits(n), "{n} bits");
        }
        assert_eq!(r.read_uvarint().unwrap(), 300);
        assert_eq!(r.read_uvarint().unwrap(), u64::MAX);
        assert_eq!(r.bits_read(), total as usize);
    }

    #[test]
    fn reading_past_the_end_is_an_error() {
        let mut r = BitReader::new(&[0xff]);
        assert_eq!(r.read_bits(7).unwrap(), 0x7f);
        assert!(r.read_bit().unwrap());
        assert!(matches!(r.read_bit(), Err(Error::CorruptChunk(_))));
        let mut r = BitReader::new(&[0xff, 0xff]);
        assert!(r.read_bits(17).is_err());
    }

    #[test]
    fn unary_stops_at_zero_or_max() {
        let mut w = BitWriter::default();
        w.write_bits(0b110_1111, 7);
        let mut r = BitReader::new(w.bytes());
        assert_eq!(r.read_unary(4).unwrap(), 2);
        assert_eq!(r.read_unary(4).unwrap(), 4);
    }

    #[test]
    fn overlong_varint_is_rejected() {
        let mut r = BitReader::new(&[0xff; 11]);
        assert!(r.read_uvarint().is_err());
    }
}
