//! Byte-level primitives of the WAL record encodings: LEB128 varints, zigzag, raw floats and
//! length-prefixed strings.

/// Why a record payload could not be decoded. Static: decoding runs per record on replay
/// and must not allocate for the common case of success.
pub(crate) type DecodeError = &'static str;

pub(crate) fn put_uvarint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

pub(crate) fn put_varint(buf: &mut Vec<u8>, v: i64) {
    put_uvarint(buf, ((v << 1) ^ (v >> 63)) as u64);
}

pub(crate) fn put_f64(buf: &mut Vec<u8>, v: f64) {
    buf.extend_from_slice(&v.to_bits().to_le_bytes());
}

pub(crate) fn put_str(buf: &mut Vec<u8>, s: &str) {
    put_uvarint(buf, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// Reads a payload front to back; every read checks bounds.
pub(crate) struct Decoder<'a> {
    b: &'a [u8],
}

impl<'a> Decoder<'a> {
    pub(crate) fn new(b: &'a [u8]) -> Self {
        Decoder { b }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.b.len()
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.b.split_first().ok_or("unexpected end of record")?;
        self.b = rest;
        Ok(first)
    }

    pub(crate) fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for (i, &byte) in self.b.iter().enumerate().take(10) {
            if i == 9 && byte > 1 {
                return Err("varint overflows 64 bits");
            }
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.b = &self.b[i + 1..];
                return Ok(v);
            }
        }
        Err("truncated or overlong varint")
    }

    pub(crate) fn varint(&mut self) -> Result<i64, DecodeError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// A count of items that each take at least `min_item_len` bytes; rejecting counts the
    /// payload cannot hold keeps corrupt data from causing huge allocations.
    pub(crate) fn count(&mut self, min_item_len: usize) -> Result<usize, DecodeError> {
        let n = self.uvarint()?;
        if n > (self.b.len() / min_item_len.max(1)) as u64 {
            return Err("item count exceeds record length");
        }
        Ok(n as usize)
    }

    pub(crate) fn f64(&mut self) -> Result<f64, DecodeError> {
        let (head, rest) = self.b.split_first_chunk::<8>().ok_or("truncated float")?;
        self.b = rest;
        Ok(f64::from_bits(u64::from_le_bytes(*head)))
    }

    pub(crate) fn str(&mut self) -> Result<&'a str, DecodeError> {
        let len = self.uvarint()?;
        if len > self.b.len() as u64 {
            return Err("string length exceeds record length");
        }
        let (s, rest) = self.b.split_at(len as usize);
        self.b = rest;
        std::str::from_utf8(s).map_err(|_| "string is not UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_boundaries() {
        let us = [0, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX];
        let is = [0, -1, 1, -64, 64, i64::MIN, i64::MAX];
        let mut buf = Vec::new();
        for &u in &us {
            put_uvarint(&mut buf, u);
        }
        for &i in &is {
            put_varint(&mut buf, i);
        }
        put_str(&mut buf, "héllo");
        put_f64(&mut buf, -0.0);
        let mut d = Decoder::new(&buf);
        for &u in &us {
            assert_eq!(d.uvarint(), Ok(u));
        }
        for &i in &is {
            assert_eq!(d.varint(), Ok(i));
        }
        assert_eq!(d.str(), Ok("héllo"));
        assert_eq!(d.f64().map(f64::to_bits), Ok((-0.0f64).to_bits()));
        assert_eq!(d.remaining(), 0);
        assert!(d.u8().is_err());
    }

    #[test]
    fn malformed_input_is_an_error() {
        assert!(Decoder::new(&[0x80]).uvarint().is_err());
        assert!(Decoder::new(&[0xff; 10]).uvarint().is_err());
        assert!(Decoder::new(&[5, b'a']).str().is_err());
        assert!(Decoder::new(&[2, 0xff, 0xfe]).str().is_err());
        assert!(Decoder::new(&[1, 2, 3]).f64().is_err());
        assert!(Decoder::new(&[200, 1, 0, 0]).count(1).is_err());
    }
}
