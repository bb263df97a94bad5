//! Where a block's bytes go: per file, per index section, and per series split into chunk
//! framing, timestamps and values. For measuring encodings (`benches/src/bin/disk.rs`),
//! not for queries: it reads every chunk record of the block.

use super::index_reader::SymbolCache;
use super::packed;
use super::reader::Block;
use super::{ENC_PACKED, INDEX_FILENAME};
use crate::error::{Error, Result};
use crate::labels::Labels;
use crate::tombstones::TOMBSTONES_FILENAME;

/// Bytes of a block's files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockFileSizes {
    /// All chunk segment files, headers included.
    pub chunks: u64,
    /// The whole `index` file.
    pub index: u64,
    /// Payloads of the index's symbols, series, label index and postings sections; the
    /// rest of the file is framing and the table of contents.
    pub index_sections: [u64; 4],
    pub meta: u64,
    /// 0 when the block has no `tombstones` file.
    pub tombstones: u64,
}

impl BlockFileSizes {
    pub fn total(&self) -> u64 {
        self.chunks + self.index + self.meta + self.tombstones
    }
}

/// One series' chunk bytes in a block. Every byte of every chunk record is in exactly one
/// field, so the fields of all series add up to the segments' size less their headers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeriesChunkBytes {
    pub labels: Labels,
    pub chunks: u64,
    pub samples: u64,
    /// Record length, encoding byte and CRC.
    pub framing: u64,
    /// Packed chunks: sample counts.
    pub headers: u64,
    /// Packed chunks: timestamp sections (a shared one counts only its reference).
    pub timestamps: u64,
    /// Packed chunks: value sections (a shared one counts only its reference).
    pub values: u64,
    /// XOR chunks: the whole chunk data, timestamps and values interleaved.
    pub xor: u64,
}

impl Block {
    /// Bytes of the block's files.
    pub fn file_sizes(&self) -> Result<BlockFileSizes> {
        let len = |name: &str| -> Result<u64> {
            let p = self.dir.join(name);
            match std::fs::metadata(&p) {
                Ok(m) => Ok(m.len()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
                Err(e) => Err(Error::io(&p, e)),
            }
        };
        Ok(BlockFileSizes {
            chunks: self.chunks.size_bytes(),
            index: len(INDEX_FILENAME)?,
            index_sections: self.index.section_sizes(),
            meta: len(super::META_FILENAME)?,
            tombstones: len(TOMBSTONES_FILENAME)?,
        })
    }

    /// Chunk bytes of every series, in label order. Reads every chunk record.
    pub fn chunk_bytes(&self) -> Result<Vec<SeriesChunkBytes>> {
        let mut cache = SymbolCache::default();
        let mut out = Vec::with_capacity(self.index.num_series() as usize);
        for id in 0..self.index.num_series() {
            let (labels, metas) = self.index.series(id, &mut cache)?;
            let mut s = SeriesChunkBytes {
                labels,
                ..SeriesChunkBytes::default()
            };
            for m in &metas {
                let rec = self.chunks.record(m.chunk_ref, self.index.path())?;
                s.chunks += 1;
                s.framing += rec.framing_bytes();
                if rec.encoding == ENC_PACKED {
                    let (n, [head, ts, values]) = packed::part_lengths(rec.path, rec.data)?;
                    s.samples += n as u64;
                    s.headers += head as u64;
                    s.timestamps += ts as u64;
                    s.values += values as u64;
                } else {
                    let mut it = rec.iter()?;
                    while it.next_sample()?.is_some() {
                        s.samples += 1;
                    }
                    s.xor += rec.data.len() as u64;
                }
            }
            out.push(s);
        }
        Ok(out)
    }
}
