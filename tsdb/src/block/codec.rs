//! Primitive encodings shared by the block files, and a bounds-checked reader over bytes
//! read from disk.
//!
//! | name      | encoding                                                              |
//! |-----------|-----------------------------------------------------------------------|
//! | `u8`      | one byte                                                              |
//! | `u32`     | 4 bytes big-endian                                                    |
//! | `u64`     | 8 bytes big-endian                                                    |
//! | `uvarint` | unsigned LEB128, at most 10 bytes                                     |
//! | `varint`  | zigzag (`(n << 1) ^ (n >> 63)`) then `uvarint`                        |
//! | `crc32c`  | CRC-32C (Castagnoli) as a big-endian `u32`                            |
//!
//! Every read of on-disk bytes goes through [`Cursor`], whose failures carry the file and
//! absolute offset, so corrupt or truncated files surface as [`Error::Corruption`] rather
//! than as a panic on an out-of-range slice.

use std::path::Path;

use crate::error::Error;

pub(crate) fn put_u32(buf: &mut Vec<u8>, v: u32) {
    buf.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub(crate) fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, zigzag(v));
}

pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Builds the error for corrupt on-disk data.
pub(crate) fn corruption(path: &Path, offset: u64, reason: impl Into<String>) -> Error {
    Error::Corruption {
        path: path.to_path_buf(),
        offset,
        reason: reason.into(),
    }
}

/// A bounds-checked reader over a slice of a file.
///
/// `base` is the file offset of `buf[0]`, so errors name the absolute offset of the bad
/// byte, which is what an operator needs to inspect the file.
#[derive(Clone)]
pub(crate) struct Cursor<'a> {
    path: &'a Path,
    buf: &'a [u8],
    base: u64,
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(path: &'a Path, buf: &'a [u8], base: u64) -> Self {
        Cursor {
            path,
            buf,
            base,
            pos: 0,
        }
    }

    pub(crate) fn path(&self) -> &'a Path {
        self.path
    }

    /// The absolute file offset of the next byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub(crate) fn err(&self, reason: impl Into<String>) -> Error {
        corruption(self.path, self.offset(), reason)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err(format!("truncated: need {n} bytes")))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.bytes(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64, Error> {
        let start = self.offset();
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            // The tenth byte may carry only the top bit of a u64.
            if i == 9 && b > 1 {
                return Err(corruption(self.path, start, "uvarint overflows 64 bits"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(corruption(self.path, start, "uvarint longer than 10 bytes"))
    }

    pub(crate) fn varint(&mut self) -> Result<i64, Error> {
        self.uvarint().map(unzigzag)
    }

    /// A uvarint that must fit a `usize` no larger than `max` (counts and lengths, so that
    /// a corrupt count cannot drive a huge allocation).
    pub(crate) fn uvarint_len(&mut self, max: usize, what: &str) -> Result<usize, Error> {
        let start = self.offset();
        let v = self.uvarint()?;
        usize::try_from(v)
            .ok()
            .filter(|&n| n <= max)
            .ok_or_else(|| corruption(self.path, start, format!("{what} {v} exceeds {max}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_extremes() {
        let mut buf = Vec::new();
        let vals = [0i64, 1, -1, 63, -64, i64::MAX, i64::MIN];
        for v in vals {
            put_varint(&mut buf, v);
        }
        put_uvarint(&mut buf, u64::MAX);
        let p = Path::new("x");
        let mut c = Cursor::new(p, &buf, 0);
        for v in vals {
            assert_eq!(c.varint().ok(), Some(v));
        }
        assert_eq!(c.uvarint().ok(), Some(u64::MAX));
        assert!(c.is_empty());
    }

    #[test]
    fn truncated_and_overlong_varints_are_corruption() {
        let p = Path::new("f");
        let mut c = Cursor::new(p, &[0x80, 0x80], 100);
        match c.uvarint() {
            Err(Error::Corruption { offset, .. }) => assert_eq!(offset, 102),
            other => panic!("unexpected {other:?}"),
        }
        let over = [0xff; 10];
        let mut c = Cursor::new(p, &over, 0);
        assert!(matches!(c.uvarint(), Err(Error::Corruption { .. })));
    }
}
