//! The chunk-head segment format: full head chunks written to disk so that the head can
//! drop their bytes and read them back through a memory map.
//!
//! A directory `chunks_head/` holds segment files named by their sequence number,
//! zero-padded to 8 digits (`00000001`, …). A segment is preallocated to its full size
//! ([`SEGMENT_SIZE`]) as a sparse file and mapped once; records are written into it with
//! `pwrite` and read through the map. A segment that is finished (rotated, closed, or found
//! at start without one) has its zero tail replaced by its record index (`index.rs`), so
//! that opening it reads a few bytes per chunk rather than every chunk.
//!
//! File header:
//!
//! | offset | size | field                                        |
//! |--------|------|----------------------------------------------|
//! | 0      | 4    | magic `0x5453_4843` ("TSHC"), big-endian     |
//! | 4      | 1    | format version, [`VERSION`]                  |
//! | 5      | 3    | zero                                         |
//!
//! Records follow back to back from offset 8, each:
//!
//! | offset   | size | field                                                   |
//! |----------|------|---------------------------------------------------------|
//! | 0        | 4    | series id, u32 little-endian                            |
//! | 4        | 8    | min_t, i64 little-endian (first sample's timestamp)     |
//! | 12       | 8    | max_t, i64 little-endian (last sample's timestamp)      |
//! | 20       | 1    | encoding, [`ENCODING_XOR`]; 0 never starts a record     |
//! | 21       | 4    | data length `n`, u32 little-endian                      |
//! | 25       | n    | chunk data (`crate::chunk::XorChunk` bytes)             |
//! | 25 + n   | 4    | CRC-32C (Castagnoli) of bytes 0 .. 25 + n, little-endian|
//!
//! The end of the written part of a segment is where a record would start with encoding
//! byte 0: the zero tail of the preallocated file, or the index of a finished segment,
//! which its footer at the file's end locates. A segment scanned for want of a valid index
//! stops at anything that does not parse or whose CRC fails: damage, where the segment is
//! cut. The CRC covers the header, so a flipped id or time range is caught too; it is
//! checked on every read of a chunk, since opening an indexed segment reads no record.
//!
//! A record is addressed by `(segment, offset of its first byte)`, each a u32: segments are
//! far smaller than 4 GiB.

use crate::index::SeriesId;

/// Size a segment is preallocated to; a record that would cross it starts the next segment
/// (a single larger record gets a segment of its own). 128 MiB, Prometheus's size too: few
/// files, each mapped once.
pub(crate) const SEGMENT_SIZE: u64 = 128 << 20;

pub(crate) const MAGIC: u32 = 0x5453_4843;
pub(crate) const VERSION: u8 = 1;
pub(crate) const FILE_HEADER_LEN: usize = 8;
/// Bytes of a record before its data.
pub(crate) const RECORD_HEADER_LEN: usize = 25;
pub(crate) const CRC_LEN: usize = 4;
pub(crate) const ENCODING_XOR: u8 = 1;
/// Largest chunk data accepted on read: far above any chunk (at most 65535 samples),
/// bounds what a corrupt length can make a reader look at.
pub(crate) const MAX_DATA_LEN: usize = 4 << 20;

/// Digits of a segment file name.
const NAME_DIGITS: usize = 8;

pub(crate) fn segment_name(seq: u32) -> String {
    format!("{seq:0width$}", width = NAME_DIGITS)
}

pub(crate) fn parse_segment_name(name: &str) -> Option<u32> {
    if name.len() != NAME_DIGITS || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

pub(crate) fn file_header() -> [u8; FILE_HEADER_LEN] {
    let mut h = [0u8; FILE_HEADER_LEN];
    h[..4].copy_from_slice(&MAGIC.to_be_bytes());
    h[4] = VERSION;
    h
}

/// Where a record lives: segment and offset of its first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ChunkRef {
    pub(crate) seq: u32,
    pub(crate) offset: u32,
}

/// Bytes a record of `data_len` bytes of chunk data takes.
pub(crate) fn record_len(data_len: usize) -> usize {
    RECORD_HEADER_LEN + data_len + CRC_LEN
}

/// Appends one record to `buf`.
pub(crate) fn encode_record(buf: &mut Vec<u8>, id: SeriesId, min_t: i64, max_t: i64, data: &[u8]) {
    let start = buf.len();
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(&min_t.to_le_bytes());
    buf.extend_from_slice(&max_t.to_le_bytes());
    buf.push(ENCODING_XOR);
    buf.extend_from_slice(&(data.len() as u32).to_le_bytes());
    buf.extend_from_slice(data);
    let crc = crc32c::crc32c(&buf[start..]);
    buf.extend_from_slice(&crc.to_le_bytes());
}

/// One record read back, borrowing its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RecordView<'a> {
    pub(crate) id: SeriesId,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) data: &'a [u8],
}

/// What is at an offset of a segment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed<'a> {
    /// A record and the offset after it.
    Record(RecordView<'a>, usize),
    /// The zero tail (or the file's end): no more records.
    End,
    /// Not a valid record; the reason.
    Damage(String),
}

pub(crate) fn le_u32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

pub(crate) fn le_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    i64::from_le_bytes(a)
}

/// Parses the record at `offset` of `seg` (a whole segment, header included), checking its
/// CRC when `verify`.
pub(crate) fn parse_at(seg: &[u8], offset: usize, verify: bool) -> Parsed<'_> {
    let Some(rest) = seg.get(offset..) else {
        return Parsed::End;
    };
    if rest.len() < RECORD_HEADER_LEN {
        return if rest.iter().all(|&b| b == 0) {
            Parsed::End
        } else {
            Parsed::Damage(format!("short record header ({} bytes)", rest.len()))
        };
    }
    let encoding = rest[20];
    if encoding == 0 && rest[..RECORD_HEADER_LEN].iter().all(|&b| b == 0) {
        return Parsed::End;
    }
    if encoding != ENCODING_XOR {
        return Parsed::Damage(format!("unknown chunk encoding {encoding}"));
    }
    let len = le_u32(&rest[21..]) as usize;
    if len > MAX_DATA_LEN || rest.len() < record_len(len) {
        return Parsed::Damage(format!("chunk length {len} beyond the segment"));
    }
    let body = RECORD_HEADER_LEN + len;
    if verify && crc32c::crc32c(&rest[..body]) != le_u32(&rest[body..]) {
        return Parsed::Damage("record CRC mismatch".to_string());
    }
    let view = RecordView {
        id: le_u32(rest),
        min_t: le_i64(&rest[4..]),
        max_t: le_i64(&rest[12..]),
        data: &rest[RECORD_HEADER_LEN..body],
    };
    Parsed::Record(view, offset + record_len(len))
}

/// Checks the file header of a segment.
pub(crate) fn check_file_header(seg: &[u8]) -> Result<(), String> {
    let Some(h) = seg.get(..FILE_HEADER_LEN) else {
        return Err(format!("file of {} bytes has no header", seg.len()));
    };
    if le_u32(&[h[3], h[2], h[1], h[0]]) != MAGIC {
        return Err("bad magic number".to_string());
    }
    if h[4] != VERSION {
        return Err(format!("unsupported version {}", h[4]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn records_round_trip_and_any_flipped_byte_is_caught(
            recs in proptest::collection::vec(
                (any::<u32>(), any::<i64>(), any::<i64>(), proptest::collection::vec(any::<u8>(), 0..300)),
                1..20,
            ),
            flip in any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let mut seg = file_header().to_vec();
            for (id, lo, hi, data) in &recs {
                encode_record(&mut seg, *id, *lo, *hi, data);
            }
            let written = seg.len();
            seg.resize(written + 64, 0);
            let mut off = FILE_HEADER_LEN;
            for (id, lo, hi, data) in &recs {
                match parse_at(&seg, off, true) {
                    Parsed::Record(r, next) => {
                        prop_assert_eq!((r.id, r.min_t, r.max_t, r.data), (*id, *lo, *hi, &data[..]));
                        off = next;
                    }
                    other => prop_assert!(false, "{:?}", other),
                }
            }
            prop_assert_eq!(off, written);
            prop_assert_eq!(parse_at(&seg, off, true), Parsed::End);

            // One flipped bit anywhere in the records: reading stops at or before that
            // record with damage, never returns a record that differs from the one written.
            let at = FILE_HEADER_LEN + flip.index(written - FILE_HEADER_LEN);
            seg[at] ^= 1 << bit;
            let mut off = FILE_HEADER_LEN;
            let mut good = 0;
            while let Parsed::Record(r, next) = parse_at(&seg, off, true) {
                let (id, lo, hi, data) = &recs[good];
                prop_assert_eq!((r.id, r.min_t, r.max_t, r.data), (*id, *lo, *hi, &data[..]));
                good += 1;
                off = next;
            }
            prop_assert!(off <= at, "read past the flipped byte");
            prop_assert!(good < recs.len());
        }
    }

    #[test]
    fn file_header_is_checked() {
        assert!(check_file_header(&file_header()).is_ok());
        assert!(check_file_header(&[0; 8]).is_err());
    }
}
