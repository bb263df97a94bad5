//! An itemised estimate of the head's memory, for the footprint benchmark and capacity
//! planning. Computed on request by visiting every series (O(series + label pairs)); it
//! counts the bytes the head's structures ask the allocator for, by capacity (vectors,
//! hash tables and bitmaps included), which the footprint bench checks against a
//! counting allocator. It does not count what the allocator adds: rounding to its size
//! classes and free memory it keeps (with glibc's malloc, the freed buffers of closed
//! chunks), so RSS grows by more than this total.

use std::mem::size_of;

use super::series::{MemSeries, SharedSeries};
use super::Head;

/// The reference count in front of a [`SharedSeries`] allocation (no weak count).
const SERIES_ARC_HEADER: usize = size_of::<usize>();

/// Where the head's memory goes, in bytes, by structure.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeadFootprint {
    pub series: u64,
    /// Samples in the chunks held in memory (open ones and closed ones not yet written),
    /// not counting out-of-order samples. Chunks on disk are not read to count theirs.
    pub chunk_samples: u64,
    /// Chunks: open ones with samples and closed ones, wherever they are.
    pub chunks: u64,
    /// Closed chunks in chunk-head segments, held as references in the chunk lists.
    pub mmapped_chunks: u64,
    /// Encoded length of the chunks in memory: what they cost once buffers are trimmed.
    pub chunk_bytes: u64,
    /// Allocated capacity of the buffers of the chunks in memory (≥ `chunk_bytes`).
    pub chunk_capacity_bytes: u64,
    /// The series' chunk lists (bit-packed, a few bytes a chunk: `head/chunk_meta.rs`) and
    /// pending-chunk lists, by capacity.
    pub chunk_list_bytes: u64,
    /// Out-of-order samples, kept uncompressed.
    pub ooo_bytes: u64,
    /// `MemSeries` with its `Arc` header and its labels' symbol ids (4 bytes a string), the
    /// series table and the label-set map (both by capacity).
    pub series_struct_bytes: u64,
    /// The symbol table: every distinct label name and value once, with its slots, its
    /// string map and its reference counts.
    pub symbol_bytes: u64,
    /// The postings index: bitmaps and the name/value maps' entries.
    pub postings_bytes: u64,
}

impl HeadFootprint {
    /// Sum of the itemised bytes.
    pub fn total_bytes(&self) -> u64 {
        self.chunk_capacity_bytes
            + self.chunk_list_bytes
            + self.ooo_bytes
            + self.series_struct_bytes
            + self.symbol_bytes
            + self.postings_bytes
    }
}

impl Head {
    /// See [`HeadFootprint`]. Locks one series at a time, as [`Head::num_chunks`] does.
    pub(crate) fn footprint(&self) -> HeadFootprint {
        let all = self.all_series();
        let tables = self.series.read().capacity() * size_of::<Option<SharedSeries>>()
            + self.by_hash.read().heap_bytes();
        let mut f = HeadFootprint {
            series: all.len() as u64,
            series_struct_bytes: tables as u64,
            ..HeadFootprint::default()
        };
        for s in &all {
            let d = s.data.lock();
            f.chunks += d.chunks.len() as u64 + u64::from(d.open.num_samples() > 0);
            f.mmapped_chunks += (d.chunks.len() - d.pending.len()) as u64;
            f.chunk_samples += d.open.num_samples() as u64;
            f.chunk_bytes += d.open.size_bytes() as u64;
            f.chunk_capacity_bytes += d.open.capacity_bytes() as u64;
            for p in &d.pending {
                // The sample count is the chunk's first two bytes (big-endian).
                let n = p
                    .data
                    .get(..2)
                    .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                f.chunk_samples += u64::from(n);
                f.chunk_bytes += p.data.len() as u64;
                f.chunk_capacity_bytes += p.data.len() as u64;
            }
            f.chunk_list_bytes += (d.chunks.heap_bytes() + d.pending.heap_bytes()) as u64;
            f.ooo_bytes += d.ooo.heap_bytes() as u64;
            f.series_struct_bytes += (SERIES_ARC_HEADER
                + size_of::<MemSeries>()
                + std::mem::size_of_val(s.labels.ids()))
                as u64;
        }
        f.symbol_bytes = self.symbols.heap_bytes() as u64;
        f.postings_bytes = self.postings().heap_bytes_estimate() as u64;
        f
    }
}
