//! The record index a finished segment carries after its records, so that opening the
//! segments costs a few bytes per chunk instead of reading every chunk.
//!
//! Written when a segment is finished (rotated, or closed with the database) and when a
//! segment found at open has none; read at open instead of the records. Layout, from the
//! end of the records (`records_end`, where the zero tail of the preallocated file began):
//!
//! | offset           | size   | field                                                |
//! |------------------|--------|------------------------------------------------------|
//! | 0                | 32 × n | entries, in record order, each as below              |
//! | 32 n             | 4      | entry count `n`, u32 little-endian                   |
//! | 32 n + 4         | 4      | `records_end`, u32 little-endian                     |
//! | 32 n + 8         | 4      | CRC-32C of bytes 0 .. 32 n + 8 of the index          |
//! | 32 n + 12        | 4      | magic `0x5453_4849` ("TSHI"), big-endian             |
//!
//! An entry:
//!
//! | offset | size | field                                                           |
//! |--------|------|-----------------------------------------------------------------|
//! | 0      | 4    | record offset in the segment, u32 little-endian                 |
//! | 4      | 4    | series id, u32 little-endian                                    |
//! | 8      | 8    | min_t, i64 little-endian                                        |
//! | 16     | 8    | max_t, i64 little-endian                                        |
//! | 24     | 8    | bits of the value of the sample at max_t (the chunk's last one) |
//!
//! The index is found from the file's end: a file is indexed when its last 16 bytes carry
//! the magic, its length is exactly `records_end + 32 n + 16` and the CRC matches. Anything
//! else (no index: a segment written before indexes existed, or one the process did not
//! finish; or a damaged index) is read by a full scan, which checks every record's CRC and
//! then writes the index. Since the records themselves are not read at open, their CRCs are
//! checked when a chunk is read (`HeadChunks::read`).
//!
//! The last sample's value is there because replay needs it for every series' newest chunk
//! (it decides whether a sample appended again at that timestamp is a duplicate or a
//! conflict): with it, opening decodes no chunk at all.

use super::format::{le_i64, le_u32, FILE_HEADER_LEN};
use crate::chunk::XorIter;
use crate::index::SeriesId;

pub(crate) const INDEX_MAGIC: u32 = 0x5453_4849;
pub(crate) const ENTRY_LEN: usize = 32;
pub(crate) const FOOTER_LEN: usize = 16;

/// One record as the index describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IndexEntry {
    /// Offset of the record's first byte in its segment.
    pub(crate) offset: u32,
    pub(crate) id: SeriesId,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    /// Bits of the chunk's last sample's value; 0 for a chunk without samples.
    pub(crate) last_v_bits: u64,
}

impl IndexEntry {
    /// The entry for the record at `offset` holding chunk `data`; decodes the chunk for its
    /// last value.
    pub(crate) fn for_record(
        offset: u32,
        id: SeriesId,
        min_t: i64,
        max_t: i64,
        data: &[u8],
    ) -> Self {
        let last_v_bits = XorIter::from_bytes(data)
            .last()
            .map_or(0, |s| s.v.to_bits());
        IndexEntry {
            offset,
            id,
            min_t,
            max_t,
            last_v_bits,
        }
    }
}

/// Bytes the index of `n` entries takes.
pub(crate) fn index_len(n: usize) -> usize {
    n * ENTRY_LEN + FOOTER_LEN
}

/// The index of `entries`, for records ending at `records_end`.
pub(crate) fn encode_index(entries: &[IndexEntry], records_end: u32) -> Vec<u8> {
    let mut buf = Vec::with_capacity(index_len(entries.len()));
    for e in entries {
        buf.extend_from_slice(&e.offset.to_le_bytes());
        buf.extend_from_slice(&e.id.to_le_bytes());
        buf.extend_from_slice(&e.min_t.to_le_bytes());
        buf.extend_from_slice(&e.max_t.to_le_bytes());
        buf.extend_from_slice(&e.last_v_bits.to_le_bytes());
    }
    buf.extend_from_slice(&(entries.len() as u32).to_le_bytes());
    buf.extend_from_slice(&records_end.to_le_bytes());
    let crc = crc32c::crc32c(&buf);
    buf.extend_from_slice(&crc.to_le_bytes());
    buf.extend_from_slice(&INDEX_MAGIC.to_be_bytes());
    buf
}

/// Where the index of a whole segment file `seg` lies: `(records_end, entry count)`, or
/// why the file has no usable index. Checks the CRC of the index, not of the records.
pub(crate) fn find_index(seg: &[u8]) -> Result<(usize, usize), &'static str> {
    let len = seg.len();
    if len < FILE_HEADER_LEN + FOOTER_LEN {
        return Err("file too short for an index");
    }
    let footer = &seg[len - FOOTER_LEN..];
    if u32::from_be_bytes([footer[12], footer[13], footer[14], footer[15]]) != INDEX_MAGIC {
        return Err("no index");
    }
    let n = le_u32(footer) as usize;
    let records_end = le_u32(&footer[4..]) as usize;
    let expected = n
        .checked_mul(ENTRY_LEN)
        .and_then(|b| b.checked_add(FOOTER_LEN))
        .and_then(|b| b.checked_add(records_end));
    if records_end < FILE_HEADER_LEN || expected != Some(len) {
        return Err("index size does not match the file");
    }
    let body = &seg[records_end..len - 8];
    if crc32c::crc32c(body) != le_u32(&footer[8..]) {
        return Err("index CRC mismatch");
    }
    Ok((records_end, n))
}

/// Entry `i` of an index starting at `records_end` of `seg` (checked by [`find_index`]).
pub(crate) fn entry(seg: &[u8], records_end: usize, i: usize) -> IndexEntry {
    let b = &seg[records_end + i * ENTRY_LEN..records_end + (i + 1) * ENTRY_LEN];
    IndexEntry {
        offset: le_u32(b),
        id: le_u32(&b[4..]),
        min_t: le_i64(&b[8..]),
        max_t: le_i64(&b[16..]),
        last_v_bits: le_i64(&b[24..]) as u64,
    }
}

/// Checks what the CRC cannot: that entries lie in the records, in increasing order. An
/// index written by a bug or a foreign tool must not make a read look outside the records.
pub(crate) fn entries_in_bounds(seg: &[u8], records_end: usize, n: usize) -> bool {
    let mut prev = None;
    for i in 0..n {
        let off = entry(seg, records_end, i).offset as usize;
        if off < FILE_HEADER_LEN || off >= records_end || prev.is_some_and(|p| off <= p) {
            return false;
        }
        prev = Some(off);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entries(n: usize) -> Vec<IndexEntry> {
        (0..n)
            .map(|i| IndexEntry {
                offset: (FILE_HEADER_LEN + i * 40) as u32,
                id: i as u32 * 3,
                min_t: i as i64 * 1000 - 7,
                max_t: i as i64 * 1000 + 999,
                last_v_bits: (i as f64 * 0.25).to_bits(),
            })
            .collect()
    }

    fn segment(n: usize) -> (Vec<u8>, usize) {
        let records_end = FILE_HEADER_LEN + n * 40;
        let mut seg = vec![7u8; records_end];
        seg.extend_from_slice(&encode_index(&entries(n), records_end as u32));
        (seg, records_end)
    }

    #[test]
    fn an_index_round_trips() {
        for n in [0, 1, 5, 100] {
            let (seg, records_end) = segment(n);
            assert_eq!(find_index(&seg), Ok((records_end, n)));
            assert!(entries_in_bounds(&seg, records_end, n));
            let got: Vec<_> = (0..n).map(|i| entry(&seg, records_end, i)).collect();
            assert_eq!(got, entries(n));
        }
    }

    #[test]
    fn a_cut_or_extended_file_has_no_index() {
        let (seg, _) = segment(10);
        assert!(find_index(&seg[..seg.len() - 1]).is_err());
        let mut longer = seg.clone();
        longer.push(0);
        assert!(find_index(&longer).is_err());
        // Records and a zero tail, as a segment written before indexes existed.
        assert!(find_index(&[1u8; 200]).is_err());
        assert!(find_index(&[0u8; 200]).is_err());
    }

    #[test]
    fn entries_outside_the_records_are_refused() {
        let records_end = FILE_HEADER_LEN + 80;
        let mut bad = entries(2);
        bad[1].offset = records_end as u32;
        let mut seg = vec![7u8; records_end];
        seg.extend_from_slice(&encode_index(&bad, records_end as u32));
        assert!(find_index(&seg).is_ok());
        assert!(!entries_in_bounds(&seg, records_end, 2));
    }

    proptest! {
        #[test]
        fn any_flipped_bit_of_the_index_is_caught(
            n in 1usize..30,
            flip in any::<proptest::sample::Index>(),
            bit in 0u8..8,
        ) {
            let (mut seg, records_end) = segment(n);
            let at = records_end + flip.index(seg.len() - records_end);
            seg[at] ^= 1 << bit;
            prop_assert!(find_index(&seg).is_err());
        }
    }
}
