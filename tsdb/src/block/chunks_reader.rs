//! Reads the chunk segments of a block through memory maps (layout in `chunks_writer.rs`).
//!
//! Opening checks each segment's header; a record's CRC is checked whenever the record is
//! read, and [`ChunksReader::verify`] checks every record (a full scan, for tools and for
//! start-up checks that can afford it). Every failure is [`Error::Corruption`] naming the
//! segment file and the offset of the bad record.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::chunks_writer::{
    record_crc, segment_name, CHUNKS_MAGIC, CHUNKS_VERSION, SEGMENT_HEADER_LEN,
};
use super::codec::{corruption, Cursor};
use super::packed::PackedIter;
use super::{ENC_PACKED, ENC_XOR};
use crate::chunk::{XorChunk, XorIter};
use crate::error::{Error, Result};
use crate::sample::Sample;

struct Segment {
    path: PathBuf,
    map: Mmap,
}

pub(crate) struct ChunksReader {
    /// `segments[i]` is segment number `i + 1`.
    segments: Vec<Segment>,
}

/// One chunk record, borrowed from the map.
pub(crate) struct Record<'a> {
    pub(crate) path: &'a Path,
    pub(crate) encoding: u8,
    pub(crate) data: &'a [u8],
    /// File offset of `data`.
    pub(crate) data_offset: u64,
    seg: &'a Segment,
    /// File offset of the record.
    offset: u64,
}

/// Maps a file read-only.
pub(crate) fn map_file(path: &Path) -> Result<Mmap> {
    let f = File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: block files are never modified after the block directory is renamed into
    // place (blocks are immutable; deletion unlinks the files, which keeps the mapping
    // valid). A file truncated behind our back by another process would fault; that is
    // outside what the database guards against, as in every mmap-based TSDB.
    unsafe { Mmap::map(&f) }.map_err(|e| Error::io(path, e))
}

impl ChunksReader {
    /// Opens every segment in `dir` (the block's `chunks` directory). Segments must be
    /// numbered 1, 2, … without gaps.
    pub(crate) fn open(dir: &Path) -> Result<Self> {
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut nums = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let name = entry.file_name();
            let Some(num) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            nums.push(num);
        }
        nums.sort_unstable();
        let mut segments = Vec::with_capacity(nums.len());
        for (i, num) in nums.into_iter().enumerate() {
            let path = dir.join(segment_name(num));
            if num as usize != i + 1 {
                return Err(corruption(
                    &path,
                    0,
                    format!("segment {num} out of sequence"),
                ));
            }
            let map = map_file(&path)?;
            let mut c = Cursor::new(&path, &map, 0);
            let magic = c.u32()?;
            if magic != CHUNKS_MAGIC {
                return Err(corruption(&path, 0, format!("bad magic {magic:#010x}")));
            }
            let version = c.u8()?;
            if version != CHUNKS_VERSION {
                return Err(corruption(
                    &path,
                    4,
                    format!("unsupported version {version}"),
                ));
            }
            if c.bytes(3)? != [0, 0, 0] {
                return Err(corruption(&path, 5, "non-zero header padding"));
            }
            segments.push(Segment { path, map });
        }
        Ok(ChunksReader { segments })
    }

    pub(crate) fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.map.len() as u64).sum()
    }

    pub(crate) fn num_segments(&self) -> usize {
        self.segments.len()
    }

    fn segment(&self, chunk_ref: u64) -> Option<&Segment> {
        let seq = (chunk_ref >> 32) as usize;
        seq.checked_sub(1).and_then(|i| self.segments.get(i))
    }

    /// The record at `chunk_ref`, CRC checked. `index_path` names the file that held the
    /// reference, for the error when the reference itself is bad.
    pub(crate) fn record(&self, chunk_ref: u64, index_path: &Path) -> Result<Record<'_>> {
        let Some(seg) = self.segment(chunk_ref) else {
            return Err(corruption(
                index_path,
                0,
                format!("chunk reference {chunk_ref:#x} names no segment"),
            ));
        };
        seg.record_at(chunk_ref & u64::from(u32::MAX))
    }

    /// Iterates over a chunk's samples.
    pub(crate) fn iter(&self, chunk_ref: u64, index_path: &Path) -> Result<ChunkIter<'_>> {
        let rec = self.record(chunk_ref, index_path)?;
        rec.iter()
    }

    /// Appends the chunk's samples within `[mint, maxt]` to `out`.
    pub(crate) fn samples_in(
        &self,
        chunk_ref: u64,
        index_path: &Path,
        mint: i64,
        maxt: i64,
        out: &mut Vec<Sample>,
    ) -> Result<()> {
        let mut it = self.iter(chunk_ref, index_path)?;
        while let Some(s) = it.next_sample()? {
            if s.t > maxt {
                break;
            }
            if s.t >= mint {
                out.push(s);
            }
        }
        Ok(())
    }

    /// Checks the CRC of every record and decodes every chunk.
    pub(crate) fn verify(&self) -> Result<()> {
        for seg in &self.segments {
            let mut off = SEGMENT_HEADER_LEN;
            while off < seg.map.len() as u64 {
                let rec = seg.record_at(off)?;
                let mut it = rec.iter()?;
                while it.next_sample()?.is_some() {}
                off = rec.data_offset + rec.data.len() as u64 + 4;
            }
        }
        Ok(())
    }
}

impl Segment {
    fn record_at(&self, offset: u64) -> Result<Record<'_>> {
        let start = usize::try_from(offset)
            .ok()
            .filter(|&o| o >= SEGMENT_HEADER_LEN as usize && o < self.map.len())
            .ok_or_else(|| corruption(&self.path, offset, "chunk reference outside the segment"))?;
        let mut c = Cursor::new(&self.path, &self.map[start..], offset);
        // A bad length runs past the end: report the record, whose start is the last
        // position known to be good.
        let framing = |e: Error| match e {
            Error::Corruption { reason, .. } => corruption(
                &self.path,
                offset,
                format!("chunk record framing: {reason}"),
            ),
            e => e,
        };
        let len = c
            .uvarint_len(self.map.len(), "chunk length")
            .map_err(framing)?;
        let encoding = c.u8().map_err(framing)?;
        let data_offset = c.offset();
        let data = c.bytes(len).map_err(framing)?;
        let crc = c.u32().map_err(framing)?;
        if record_crc(encoding, data) != crc {
            return Err(corruption(&self.path, offset, "chunk checksum mismatch"));
        }
        Ok(Record {
            path: &self.path,
            encoding,
            data,
            data_offset,
            seg: self,
            offset,
        })
    }
}

impl<'a> Record<'a> {
    /// Bytes of the record around its data: length, encoding byte and CRC.
    pub(crate) fn framing_bytes(&self) -> u64 {
        self.data_offset - self.offset + 4
    }

    pub(crate) fn iter(&self) -> Result<ChunkIter<'a>> {
        match self.encoding {
            ENC_XOR => Ok(ChunkIter::Xor {
                it: XorIter::from_bytes(self.data),
                path: self.path,
                offset: self.offset,
            }),
            ENC_PACKED => {
                let seg = self.seg;
                let here = self.offset;
                let mut resolve = |back: u64| -> Result<(&'a [u8], u64)> {
                    let at = here.checked_sub(back).filter(|_| back > 0).ok_or_else(|| {
                        corruption(&seg.path, here, "shared timestamps point forward")
                    })?;
                    let other = seg.record_at(at)?;
                    if other.encoding != ENC_PACKED {
                        return Err(corruption(
                            &seg.path,
                            here,
                            "shared timestamps refer to a chunk that is not packed",
                        ));
                    }
                    Ok((other.data, other.data_offset))
                };
                let it = PackedIter::new(self.path, self.data, self.data_offset, &mut resolve)?;
                Ok(ChunkIter::Packed(Box::new(it)))
            }
            e => Err(corruption(
                self.path,
                self.offset,
                format!("unknown chunk encoding {e}"),
            )),
        }
    }

    /// The chunk as Gorilla XOR bytes: borrowed when stored so, re-encoded otherwise.
    pub(crate) fn to_xor(&self) -> Result<std::borrow::Cow<'a, [u8]>> {
        if self.encoding == ENC_XOR {
            return Ok(std::borrow::Cow::Borrowed(self.data));
        }
        let mut it = self.iter()?;
        let mut c = XorChunk::new();
        while let Some(s) = it.next_sample()? {
            if c.is_full() {
                return Err(corruption(self.path, self.offset, "chunk too long for XOR"));
            }
            c.append(s.t, s.v);
        }
        Ok(std::borrow::Cow::Owned(c.into_bytes()))
    }
}

/// Samples of one chunk, whatever its encoding.
pub(crate) enum ChunkIter<'a> {
    Xor {
        it: XorIter<'a>,
        path: &'a Path,
        offset: u64,
    },
    Packed(Box<PackedIter<'a>>),
}

impl ChunkIter<'_> {
    /// The next sample; corruption is an error naming the segment and record.
    pub(crate) fn next_sample(&mut self) -> Result<Option<Sample>> {
        match self {
            ChunkIter::Xor { it, path, offset } => match it.next() {
                Some(s) => Ok(Some(s)),
                None => match it.take_err() {
                    Some(e) => Err(corruption(path, *offset, e.to_string())),
                    None => Ok(None),
                },
            },
            ChunkIter::Packed(it) => it.next_sample(),
        }
    }
}
