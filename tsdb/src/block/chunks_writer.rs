//! Writes chunk segment files `chunks/000001`, `chunks/000002`, … of a block.
//!
//! Segment file layout:
//!
//! | offset | size     | field                                              |
//! |--------|----------|----------------------------------------------------|
//! | 0      | 4        | magic `0x54534348` ("TSCH"), u32 big-endian        |
//! | 4      | 1        | format version, 1                                  |
//! | 5      | 3        | zero padding                                       |
//! | 8      | variable | chunk records, back to back, up to the end of file |
//!
//! Chunk record:
//!
//! | size     | field                                                         |
//! |----------|---------------------------------------------------------------|
//! | 1..=10   | `len`: uvarint, length of `data`                              |
//! | 1        | encoding: 1 Gorilla XOR (`crate::chunk`), 2 packed (`packed.rs`) |
//! | `len`    | data                                                          |
//! | 4        | CRC-32C of the encoding byte and data, u32 big-endian         |
//!
//! A chunk reference (`u64`) is `segment number << 32 | offset of the record in the file`,
//! so a segment holds at most 4 GiB; the writer starts a new one past
//! [`MAX_SEGMENT_BYTES`]. Records of a segment are written in the order of the series in
//! the index, so reading one series' chunks is sequential.

use std::collections::HashMap;
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::codec::{crc32c, put_uvarint};
use super::packed;
use super::{ENC_PACKED, ENC_XOR};
use crate::chunk::XorChunk;
use crate::error::{Error, Result};
use crate::sample::Sample;

pub(crate) const CHUNKS_MAGIC: u32 = 0x5453_4348;
pub(crate) const CHUNKS_VERSION: u8 = 1;
pub(crate) const SEGMENT_HEADER_LEN: u64 = 8;
/// Segments are kept well under the 4 GiB a reference can address, so that a segment can
/// be copied or mmapped on its own without trouble.
pub const MAX_SEGMENT_BYTES: u64 = 512 << 20;
/// Bound on the columns remembered for sharing, so that a huge block cannot make the
/// writer's memory grow without limit; past it, new columns are simply not shared.
const MAX_SHARED_BYTES: usize = 64 << 20;

/// Segment file name for segment number `seq` (1-based).
pub(crate) fn segment_name(seq: u32) -> String {
    format!("{seq:06}")
}

/// How chunks are encoded in the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChunkEncoding {
    /// Keep Gorilla XOR for every chunk.
    Xor,
    /// Re-encode each chunk as packed when that is smaller, else keep XOR.
    Auto,
}

/// Where a written chunk went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WrittenChunk {
    pub(crate) chunk_ref: u64,
    pub(crate) encoding: u8,
    /// Record size on disk, framing included.
    pub(crate) bytes: u64,
}

pub(crate) struct ChunksWriter {
    dir: PathBuf,
    seq: u32,
    out: Option<BufWriter<File>>,
    /// Bytes in the current segment.
    pos: u64,
    max_segment: u64,
    /// Inline columns of the current segment, which later records may refer to.
    shared_ts: Columns,
    shared_values: Columns,
    shared_bytes: usize,
    files: Vec<PathBuf>,
}

impl ChunksWriter {
    /// `dir` is the block's `chunks` directory, which must exist.
    pub(crate) fn new(dir: &Path, max_segment: u64) -> Self {
        ChunksWriter {
            dir: dir.to_path_buf(),
            seq: 0,
            out: None,
            pos: 0,
            max_segment: max_segment.clamp(SEGMENT_HEADER_LEN + 64, u64::from(u32::MAX)),
            shared_ts: HashMap::new(),
            shared_values: HashMap::new(),
            shared_bytes: 0,
            files: Vec::new(),
        }
    }

    fn path(&self) -> PathBuf {
        self.dir.join(segment_name(self.seq))
    }

    /// Opens the next segment when none is open or `need` more bytes would not fit.
    fn ensure_room(&mut self, need: u64) -> Result<()> {
        if self.out.is_some()
            && (self.pos + need <= self.max_segment || self.pos == SEGMENT_HEADER_LEN)
        {
            return Ok(());
        }
        self.close_segment()?;
        self.seq = self
            .seq
            .checked_add(1)
            .ok_or_else(|| Error::io(&self.dir, std::io::Error::other("too many segments")))?;
        let path = self.path();
        let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut header = Vec::with_capacity(8);
        header.extend_from_slice(&CHUNKS_MAGIC.to_be_bytes());
        header.extend_from_slice(&[CHUNKS_VERSION, 0, 0, 0]);
        w.write_all(&header).map_err(|e| Error::io(&path, e))?;
        self.out = Some(w);
        self.pos = SEGMENT_HEADER_LEN;
        self.shared_ts.clear();
        self.shared_values.clear();
        self.shared_bytes = 0;
        self.files.push(path);
        Ok(())
    }

    /// Flushes and fsyncs the open segment.
    fn close_segment(&mut self) -> Result<()> {
        if let Some(w) = self.out.take() {
            let path = self.path();
            let f = w
                .into_inner()
                .map_err(|e| Error::io(&path, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io(&path, e))?;
        }
        Ok(())
    }

    fn write_record(&mut self, encoding: u8, data: &[u8]) -> Result<WrittenChunk> {
        let mut head = Vec::with_capacity(11);
        put_uvarint(&mut head, data.len() as u64);
        head.push(encoding);
        let total = head.len() as u64 + data.len() as u64 + 4;
        self.ensure_room(total)?;
        if self.pos + total > u64::from(u32::MAX) {
            return Err(Error::io(
                self.path(),
                std::io::Error::other("chunk does not fit a segment"),
            ));
        }
        let crc = record_crc(encoding, data);
        let path = self.path();
        let Some(w) = self.out.as_mut() else {
            return Err(Error::io(path, std::io::Error::other("no open segment")));
        };
        let io = |e| Error::io(&path, e);
        w.write_all(&head).map_err(io)?;
        w.write_all(data).map_err(io)?;
        w.write_all(&crc.to_be_bytes()).map_err(io)?;
        let chunk_ref = (u64::from(self.seq) << 32) | self.pos;
        self.pos += total;
        Ok(WrittenChunk {
            chunk_ref,
            encoding,
            bytes: total,
        })
    }

    /// Writes one chunk of `samples` (timestamps strictly increasing, at least one), whose
    /// XOR encoding is `xor` when the caller has it.
    pub(crate) fn write_chunk(
        &mut self,
        samples: &[Sample],
        xor: Option<&[u8]>,
        encoding: ChunkEncoding,
    ) -> Result<WrittenChunk> {
        let reencoded;
        let xor = match xor {
            Some(x) => x,
            None => {
                let mut c = XorChunk::new();
                for s in samples.iter().take(XorChunk::MAX_SAMPLES) {
                    c.append(s.t, s.v);
                }
                reencoded = c.into_bytes();
                &reencoded
            }
        };
        let xor_ok = samples.len() <= XorChunk::MAX_SAMPLES;
        if samples.len() > packed::MAX_SAMPLES {
            return Err(Error::io(
                &self.dir,
                std::io::Error::other("chunk over the maximum sample count"),
            ));
        }
        if encoding == ChunkEncoding::Xor || samples.is_empty() {
            if !xor_ok {
                return Err(Error::io(
                    &self.dir,
                    std::io::Error::other("chunk too long for XOR"),
                ));
            }
            return self.write_record(ENC_XOR, xor);
        }
        let parts = packed::encode(samples);
        // Decide the segment first: sharing only works within one.
        let worst = (parts.ts.len() + parts.values.len()).max(xor.len()) as u64 + 32;
        self.ensure_room(worst)?;
        let ts_key = column_key(parts.n, &parts.ts);
        let values_key = column_key(parts.n, &parts.values);
        let ts_back =
            find_shared(&self.shared_ts, ts_key, parts.n, &parts.ts).map(|o| self.pos - o);
        let values_back = find_shared(&self.shared_values, values_key, parts.n, &parts.values)
            .map(|o| self.pos - o);
        let data = parts.record(ts_back, values_back);
        if xor_ok && xor.len() <= data.len() {
            return self.write_record(ENC_XOR, xor);
        }
        let w = self.write_record(ENC_PACKED, &data)?;
        let offset = w.chunk_ref & u64::from(u32::MAX);
        // Only inline columns may be referred to, which keeps every reference one hop.
        if self.shared_bytes < MAX_SHARED_BYTES {
            if ts_back.is_none() {
                self.shared_bytes += parts.ts.len();
                self.shared_ts
                    .entry(ts_key)
                    .or_default()
                    .push((offset, parts.n, parts.ts));
            }
            if values_back.is_none() {
                self.shared_bytes += parts.values.len();
                self.shared_values.entry(values_key).or_default().push((
                    offset,
                    parts.n,
                    parts.values,
                ));
            }
        }
        Ok(w)
    }

    /// Flushes and fsyncs every segment; returns their paths.
    pub(crate) fn finish(mut self) -> Result<Vec<PathBuf>> {
        self.close_segment()?;
        Ok(std::mem::take(&mut self.files))
    }
}

/// Inline columns of the current segment by hash: (record offset, n, column bytes).
type Columns = HashMap<u64, Vec<(u64, usize, Vec<u8>)>>;

fn column_key(n: usize, column: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    n.hash(&mut h);
    column.hash(&mut h);
    h.finish()
}

/// The offset of an earlier record with the same column; equal bytes and equal n mean
/// equal decoded columns, as the encoding is deterministic.
fn find_shared(columns: &Columns, key: u64, n: usize, column: &[u8]) -> Option<u64> {
    columns
        .get(&key)?
        .iter()
        .find(|(_, cn, c)| *cn == n && c == column)
        .map(|(off, _, _)| *off)
}

/// The CRC of a record, as the reader recomputes it.
pub(crate) fn record_crc(encoding: u8, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c(&[encoding]), data)
}
