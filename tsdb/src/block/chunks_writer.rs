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

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::codec::{crc32c, put_uvarint};
use super::packed::{self, PackedParts, ValuesIn};
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
/// Bound on the columns remembered for sharing (about 40 bytes each: their bytes stay in
/// the file), so that a huge block cannot make the writer's memory grow without limit;
/// past it, new columns are simply not shared. 10 k series × 6 h need 240 k.
const MAX_SHARED_COLUMNS: usize = 2 << 20;
/// Inline decimal value columns remembered as bases for relative value sections: the most
/// recent ones of the segment. A classic histogram's buckets are written one after the
/// other, so its upper buckets find `+Inf` a few series back, i.e. a few series' chunk
/// counts back: 256 covers 5 series of 48 chunks (a 24 h block of 30 min chunks), at
/// 1800 samples about 4 MB.
const RELATIVE_REMEMBERED: usize = 256;
/// Of those, at most this many (the newest with the same timestamp column) are tried.
const RELATIVE_TRIED: usize = 4;

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
    /// Entries in `shared_ts` and `shared_values`.
    shared_columns: usize,
    /// A read handle on the current segment, to compare a column with an earlier one
    /// whose hash it matches; opened on the first match.
    reader: Option<File>,
    /// The latest inline decimal value columns of the segment, newest last: candidates
    /// for relative value sections.
    recent: VecDeque<RecentDecimal>,
    files: Vec<PathBuf>,
}

/// An inline decimal value column written to the current segment.
struct RecentDecimal {
    /// Offset of its record in the segment.
    record: u64,
    /// Key of its chunk's timestamp column: only chunks of the same scrapes are tried.
    ts_key: u64,
    scale: u8,
    ints: Vec<i64>,
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
            shared_columns: 0,
            reader: None,
            recent: VecDeque::new(),
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
        self.shared_columns = 0;
        self.reader = None;
        self.recent.clear();
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
        let ts_back = self
            .find_shared(true, ts_key, parts.n, &parts.ts)?
            .map(|o| self.pos - o);
        let values_back = self
            .find_shared(false, values_key, parts.n, &parts.values)?
            .map(|o| self.pos - o);
        let relative = match values_back {
            Some(_) => None,
            None => self.best_relative(samples, ts_key, parts.values.len()),
        };
        let values = match (values_back, &relative) {
            (Some(b), _) => ValuesIn::Shared(b),
            (None, Some((b, section))) => ValuesIn::Relative(*b, section),
            (None, None) => ValuesIn::Inline,
        };
        let data = parts.record_with(ts_back, values);
        if xor_ok && xor.len() <= data.len() {
            return self.write_record(ENC_XOR, xor);
        }
        let w = self.write_record(ENC_PACKED, &data)?;
        let offset = w.chunk_ref & u64::from(u32::MAX);
        // Where the record's data starts: after its length and encoding byte.
        let mut head = Vec::with_capacity(10);
        put_uvarint(&mut head, data.len() as u64);
        let mut at = offset + head.len() as u64 + 1;
        head.clear();
        put_uvarint(&mut head, parts.n as u64);
        at += head.len() as u64;
        // Only inline columns may be referred to, which keeps every reference one hop.
        if ts_back.is_none() {
            self.remember(true, ts_key, offset, at, &parts);
            at += parts.ts.len() as u64;
        } else {
            // The kind byte and back reference.
            head.clear();
            put_uvarint(&mut head, ts_back.unwrap_or(0));
            at += 1 + head.len() as u64;
        }
        if values_back.is_none() && relative.is_none() {
            self.remember(false, values_key, offset, at, &parts);
            if let Some((scale, ints)) = parts.decimal {
                if self.recent.len() == RELATIVE_REMEMBERED {
                    self.recent.pop_front();
                }
                self.recent.push_back(RecentDecimal {
                    record: offset,
                    ts_key,
                    scale,
                    ints,
                });
            }
        }
        Ok(w)
    }

    /// Records an inline column at file offset `at` of the record at `offset`.
    fn remember(&mut self, ts: bool, key: u64, offset: u64, at: u64, parts: &PackedParts) {
        if self.shared_columns >= MAX_SHARED_COLUMNS {
            return;
        }
        let len = if ts {
            parts.ts.len()
        } else {
            parts.values.len()
        };
        let map = if ts {
            &mut self.shared_ts
        } else {
            &mut self.shared_values
        };
        self.shared_columns += 1;
        map.entry(key).or_default().push(ColumnAt {
            record: offset,
            at,
            len,
            n: parts.n,
        });
    }

    /// The record offset of an earlier record with the same column. Equal bytes and equal
    /// n mean equal decoded columns, as the encoding is deterministic; the bytes are
    /// compared with what was written, so a hash collision only costs a read.
    fn find_shared(&mut self, ts: bool, key: u64, n: usize, column: &[u8]) -> Result<Option<u64>> {
        let map = if ts {
            &self.shared_ts
        } else {
            &self.shared_values
        };
        let Some(candidates) = map.get(&key) else {
            return Ok(None);
        };
        let candidates: Vec<ColumnAt> = candidates
            .iter()
            .filter(|c| c.n == n && c.len == column.len())
            .copied()
            .collect();
        for c in candidates {
            if self.written_equals(c.at, column)? {
                return Ok(Some(c.record));
            }
        }
        Ok(None)
    }

    /// Whether the current segment holds `bytes` at file offset `at`.
    fn written_equals(&mut self, at: u64, bytes: &[u8]) -> Result<bool> {
        let path = self.path();
        let Some(w) = self.out.as_mut() else {
            return Ok(false);
        };
        // Bytes still in the buffer are compared there, the rest read back from the file.
        let buffered = w.buffer();
        let in_file = self.pos - buffered.len() as u64;
        if at >= in_file {
            let start = (at - in_file) as usize;
            return Ok(buffered.get(start..start + bytes.len()) == Some(bytes));
        }
        if at + bytes.len() as u64 > in_file {
            w.flush().map_err(|e| Error::io(&path, e))?;
        }
        if self.reader.is_none() {
            self.reader = Some(File::open(&path).map_err(|e| Error::io(&path, e))?);
        }
        let Some(r) = self.reader.as_mut() else {
            return Ok(false);
        };
        let mut buf = vec![0u8; bytes.len()];
        r.seek(SeekFrom::Start(at))
            .and_then(|_| r.read_exact(&mut buf))
            .map_err(|e| Error::io(&path, e))?;
        Ok(buf == bytes)
    }

    /// The smallest relative value section for `samples` against a recent decimal column,
    /// with its back reference, if smaller than `inline_len`.
    fn best_relative(
        &self,
        samples: &[Sample],
        ts_key: u64,
        inline_len: usize,
    ) -> Option<(u64, Vec<u8>)> {
        let mut best: Option<(u64, Vec<u8>)> = None;
        let mut best_len = inline_len;
        let same_scrapes = self.recent.iter().rev().filter(|c| c.ts_key == ts_key);
        for c in same_scrapes.take(RELATIVE_TRIED) {
            let Some(body) = packed::encode_relative(samples, c.scale, &c.ints) else {
                continue;
            };
            let back = self.pos - c.record;
            // Kind byte, back reference (at most 5 bytes within a segment), body.
            if 1 + 5 + body.len() < best_len {
                best_len = 1 + 5 + body.len();
                best = Some((back, body));
            }
        }
        best
    }

    /// Flushes and fsyncs every segment; returns their paths.
    pub(crate) fn finish(mut self) -> Result<Vec<PathBuf>> {
        self.close_segment()?;
        Ok(std::mem::take(&mut self.files))
    }
}

/// Where an inline column of the current segment is.
#[derive(Clone, Copy)]
struct ColumnAt {
    /// Offset of its record in the segment.
    record: u64,
    /// File offset of the column's first byte (its kind).
    at: u64,
    len: usize,
    /// Samples of its chunk.
    n: usize,
}

/// Inline columns of the current segment by hash of (n, bytes).
type Columns = HashMap<u64, Vec<ColumnAt>>;

fn column_key(n: usize, column: &[u8]) -> u64 {
    let mut h = DefaultHasher::new();
    n.hash(&mut h);
    column.hash(&mut h);
    h.finish()
}

/// The CRC of a record, as the reader recomputes it.
pub(crate) fn record_crc(encoding: u8, data: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c(&[encoding]), data)
}
