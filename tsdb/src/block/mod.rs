//! Immutable persisted blocks: a time range of series written once, then read through
//! memory maps.
//!
//! A block is a directory named by its ULID:
//!
//! ```text
//! 01JDAZ8K6T5V2Q9X0M3N4P5R6S/
//! ├── meta.json        id, time range, stats, compaction level    (meta.rs)
//! ├── index            symbols, series, label index, postings      (index_writer.rs)
//! ├── tombstones       deleted intervals per series, if any        (../tombstones.rs)
//! └── chunks/
//!     ├── 000001       chunk segment: header, chunk records        (chunks_writer.rs)
//!     └── 000002
//! ```
//!
//! Every byte layout is documented as tables in the header of the file that writes it;
//! `packed.rs` documents the packed chunk encoding and `codec.rs` the primitive types.
//!
//! - Writing: [`write_block`] takes series sorted by labels with their XOR chunks, writes
//!   the block under `<id>.tmp`, fsyncs and renames it into place.
//! - Reading: [`Block::open`] maps the files and checks checksums; [`Block::select`],
//!   [`Block::series`], [`Block::label_names`], [`Block::label_values`] answer as the head
//!   does, and [`Block::chunks_for`] hands out XOR chunk bytes. All of them leave out
//!   samples deleted by tombstones (`delete.rs`).
//! - Chunk encodings: 1 is Gorilla XOR, as in the head; 2 is the packed encoding, chosen
//!   per chunk at write time when it is smaller (see `packed.rs` for why it usually is).

mod chunks_reader;
mod chunks_writer;
pub(crate) mod codec;
mod delete;
mod index_reader;
mod index_writer;
mod merge;
mod meta;
mod packed;
mod reader;
mod select;
mod sizes;
mod writer;

use std::path::Path;

pub use chunks_writer::{ChunkEncoding, MAX_SEGMENT_BYTES};
pub use index_writer::ChunkMeta;
pub(crate) use merge::merge_blocks;
pub use meta::{
    is_ulid, new_ulid, BlockCompaction, BlockDesc, BlockMeta, BlockStats, META_FILENAME,
};
pub use reader::{Block, RawChunk, SeriesRawChunks};
pub use sizes::{BlockFileSizes, SeriesChunkBytes};
pub(crate) use writer::try_write_block;
pub use writer::{write_block, BlockWriterOptions, InputChunk, Rechunk, SeriesChunks};

/// Chunk record encoding byte of Gorilla XOR chunks (the same number as Prometheus's).
pub const ENC_XOR: u8 = 1;
/// Chunk record encoding byte of packed chunks.
pub const ENC_PACKED: u8 = 2;

pub(crate) const CHUNKS_DIR: &str = "chunks";
pub(crate) const INDEX_FILENAME: &str = "index";
pub(crate) const TMP_SUFFIX: &str = ".tmp";

/// Whether `path` is a block directory whose writing never finished (a crash before the
/// rename), to be deleted at start-up.
pub fn is_tmp_dir(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(TMP_SUFFIX))
        .is_some_and(is_ulid)
        && path.is_dir()
}

/// Whether `path` looks like a complete block directory (a ULID name with a meta.json).
pub fn is_block_dir(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(is_ulid)
        && path.join(META_FILENAME).is_file()
}

#[cfg(test)]
mod tests;
