//! Chunk-head segments: the head's full chunks on disk, read back through memory maps, so
//! that the head keeps in memory only its open chunks, its index and its series.
//!
//! The head hands full chunks to [`HeadChunks::write`] from a background thread, and
//! replaces each in memory by the [`ChunkRef`] it gets back; reads go through
//! [`HeadChunks::read`]. Records are never rewritten: a chunk changed by a delete or a
//! truncation is written again as a new record, which supersedes the old one on replay
//! (see `head/replay.rs`). Whole segments go once the head holds nothing as old as their
//! newest chunk ([`HeadChunks::truncate_before`]).
//!
//! Opening costs a few bytes per chunk: a finished segment carries an index of its records
//! (series, time range, last value), read at open instead of the records; a chunk's CRC is
//! checked when it is read.
//!
//! Files: `format.rs` (layout, records), `index.rs` (the record index), `segment.rs` (one
//! file), `scan.rs` (opening the segments), this file (the set of segments, writing,
//! reading).

mod format;
mod index;
mod scan;
mod segment;

pub(crate) use format::{ChunkRef, SEGMENT_SIZE};
pub(crate) use index::IndexEntry;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use memmap2::Mmap;
use parking_lot::{Mutex, RwLock};

use crate::error::{Error, Result};
use crate::index::SeriesId;
use format::{encode_record, parse_at, record_len, Parsed, FILE_HEADER_LEN};
use index::entry;
use segment::{Active, Segment};

/// Name of the directory under the data directory.
pub(crate) const DIR_NAME: &str = "chunks_head";

/// One chunk to write.
pub(crate) struct ChunkToWrite<'a> {
    pub(crate) id: SeriesId,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) data: &'a [u8],
}

/// A chunk read back: its exact time range and its bytes, borrowed from the segment's map
/// (kept alive by this value even if the segment is deleted meanwhile).
pub(crate) struct MappedChunk {
    map: Arc<Mmap>,
    start: usize,
    len: usize,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
}

impl MappedChunk {
    pub(crate) fn data(&self) -> &[u8] {
        &self.map[self.start..self.start + self.len]
    }
}

/// The writer's state: the segment being written, if any, and the next sequence number.
struct Writer {
    active: Option<(u32, Active)>,
    next_seq: u32,
    /// Reused encoding buffer.
    buf: Vec<u8>,
}

/// The chunk-head segments of one database.
pub(crate) struct HeadChunks {
    dir: PathBuf,
    segment_size: u64,
    /// Readable segments by sequence number.
    segments: RwLock<BTreeMap<u32, Segment>>,
    /// Serialises writes, fsyncs and rotation; taken before `segments`.
    writer: Mutex<Writer>,
    /// Bytes in use in all segments (headers and records).
    bytes: AtomicU64,
}

impl HeadChunks {
    /// Opens `dir` (creating it) and passes every record of its segments, in write order,
    /// to `f`. A segment without a valid index is scanned: a damaged record cuts it there
    /// (logged as an error). Start never fails for damage, only for I/O errors. Writing
    /// continues in a new segment.
    pub(crate) fn open(
        dir: &Path,
        segment_size: u64,
        f: impl FnMut(ChunkRef, IndexEntry),
    ) -> Result<HeadChunks> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let segments = scan::scan(dir)?;
        let next_seq = segments.keys().next_back().map_or(1, |s| s + 1);
        let bytes = segments.values().map(Segment::bytes).sum();
        let hc = HeadChunks {
            dir: dir.to_path_buf(),
            segment_size: segment_size.max(FILE_HEADER_LEN as u64 + 64),
            segments: RwLock::new(segments),
            writer: Mutex::new(Writer {
                active: None,
                next_seq,
                buf: Vec::new(),
            }),
            bytes: AtomicU64::new(bytes),
        };
        hc.for_each_record(f);
        Ok(hc)
    }

    /// Appends `chunks` and returns where each went. The records are in the OS when this
    /// returns, not yet durable: see [`HeadChunks::sync`].
    pub(crate) fn write(&self, chunks: &[ChunkToWrite<'_>]) -> Result<Vec<ChunkRef>> {
        let mut w = self.writer.lock();
        let mut refs = Vec::with_capacity(chunks.len());
        let mut i = 0;
        while i < chunks.len() {
            let need = record_len(chunks[i].data.len()) as u64;
            let (seq, start) = self.room_for(&mut w, need)?;
            let Writer { active, buf, .. } = &mut *w;
            let Some((_, act)) = active.as_mut() else {
                break;
            };
            // As many records as fit the segment go in one write.
            buf.clear();
            let mut max_t = i64::MIN;
            while let Some(c) = chunks.get(i) {
                let len = record_len(c.data.len()) as u64;
                if !buf.is_empty() && start + buf.len() as u64 + len > act.capacity {
                    break;
                }
                refs.push(ChunkRef {
                    seq,
                    offset: (start + buf.len() as u64) as u32,
                });
                encode_record(buf, c.id, c.min_t, c.max_t, c.data);
                max_t = max_t.max(c.max_t);
                i += 1;
            }
            let path = self.dir.join(format::segment_name(seq));
            std::os::unix::fs::FileExt::write_all_at(&act.file, buf, start)
                .map_err(|e| Error::io(&path, e))?;
            act.dirty = true;
            let mut segs = self.segments.write();
            if let Some(s) = segs.get_mut(&seq) {
                s.written = start + buf.len() as u64;
                s.max_t = s.max_t.max(max_t);
            }
            self.bytes.fetch_add(buf.len() as u64, Ordering::Relaxed);
        }
        Ok(refs)
    }

    /// Makes sure the active segment has room for `need` more bytes, rotating (or creating
    /// it) otherwise; returns its number and where the next record goes.
    fn room_for(&self, w: &mut Writer, need: u64) -> Result<(u32, u64)> {
        if let Some((seq, act)) = &w.active {
            let written = self.segments.read().get(seq).map_or(0, |s| s.written);
            let empty = written <= FILE_HEADER_LEN as u64;
            if written + need <= act.capacity || (empty && need <= act.capacity) {
                return Ok((*seq, written));
            }
            self.finish_active(w)?;
        }
        let seq = w.next_seq;
        w.next_seq += 1;
        let capacity = self.segment_size.max(FILE_HEADER_LEN as u64 + need);
        let (seg, act) = segment::create(&self.dir, seq, capacity)?;
        crate::wal::sync_dir(&self.dir)?;
        self.bytes
            .fetch_add(FILE_HEADER_LEN as u64, Ordering::Relaxed);
        self.segments.write().insert(seq, seg);
        w.active = Some((seq, act));
        Ok((seq, FILE_HEADER_LEN as u64))
    }

    /// Writes the active segment's index after its records, fsyncs it and stops writing it.
    fn finish_active(&self, w: &mut Writer) -> Result<()> {
        let Some((seq, act)) = w.active.take() else {
            return Ok(());
        };
        let mut segs = self.segments.write();
        if let Some(seg) = segs.get_mut(&seq) {
            let before = seg.bytes();
            segment::finish(seg, &act)?;
            let after = seg.bytes();
            let _ = self
                .bytes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                    Some((b + after).saturating_sub(before))
                });
        }
        Ok(())
    }

    /// Makes every record written so far durable. Finished segments were fsynced when they
    /// were finished, so this fsyncs the active one if it changed.
    pub(crate) fn sync(&self) -> Result<()> {
        let mut w = self.writer.lock();
        if let Some((seq, act)) = w.active.as_mut() {
            if act.dirty {
                act.file
                    .sync_data()
                    .map_err(|e| Error::io(self.dir.join(format::segment_name(*seq)), e))?;
                act.dirty = false;
            }
        }
        Ok(())
    }

    /// Reads the chunk at `r`, checking its CRC (opening did not); `None` when no valid
    /// record is there (its segment is gone, or the record is damaged), which callers log
    /// and treat as an empty chunk.
    pub(crate) fn read(&self, r: ChunkRef) -> Option<MappedChunk> {
        let map = {
            let segs = self.segments.read();
            let seg = segs.get(&r.seq)?;
            if u64::from(r.offset) >= seg.written {
                return None;
            }
            Arc::clone(&seg.map)
        };
        match parse_at(&map, r.offset as usize, true) {
            Parsed::Record(v, _) => {
                let start = v.data.as_ptr() as usize - map.as_ptr() as usize;
                let (len, min_t, max_t) = (v.data.len(), v.min_t, v.max_t);
                Some(MappedChunk {
                    map,
                    start,
                    len,
                    min_t,
                    max_t,
                })
            }
            Parsed::End | Parsed::Damage(_) => None,
        }
    }

    /// Deletes the segments (but the one being written) whose newest chunk is older than
    /// `t`: the head holds nothing from them any more. `crash_point` is called after the
    /// first deletion. Returns the number deleted.
    pub(crate) fn truncate_before(
        &self,
        t: i64,
        crash_point: &dyn Fn(&str) -> Result<()>,
    ) -> Result<usize> {
        let w = self.writer.lock();
        let active = w.active.as_ref().map(|(s, _)| *s);
        let old: Vec<(u32, PathBuf, u64)> = self
            .segments
            .read()
            .values()
            .filter(|s| Some(s.seq) != active && s.max_t < t)
            .map(|s| (s.seq, s.path.clone(), s.bytes()))
            .collect();
        for (i, (seq, path, len)) in old.iter().enumerate() {
            self.segments.write().remove(seq);
            std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
            let _ = self
                .bytes
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| {
                    Some(b.saturating_sub(*len))
                });
            if i == 0 {
                crash_point(crate::fault::CHUNK_SEGMENTS_PARTLY_DELETED)?;
            }
        }
        drop(w);
        if !old.is_empty() {
            crate::wal::sync_dir(&self.dir)?;
        }
        Ok(old.len())
    }

    /// Passes every record, in write order, to `f`: from the index of a finished segment
    /// (no chunk is read), by reading the records of the one being written.
    pub(crate) fn for_each_record(&self, mut f: impl FnMut(ChunkRef, IndexEntry)) {
        let maps: Vec<(u32, Arc<Mmap>, u64, Option<usize>)> = self
            .segments
            .read()
            .values()
            .map(|s| (s.seq, Arc::clone(&s.map), s.written, s.indexed))
            .collect();
        for (seq, map, written, indexed) in maps {
            let records_end = (written as usize).min(map.len());
            let r = |offset| ChunkRef { seq, offset };
            match indexed {
                Some(n) => {
                    for i in 0..n {
                        let e = entry(&map, records_end, i);
                        f(r(e.offset), e);
                    }
                }
                None => {
                    for e in scan::scan_records(&map[..records_end]).0 {
                        f(r(e.offset), e);
                    }
                }
            }
        }
    }

    /// The index entry of the record at `r`, from its segment's index: a binary search, no
    /// chunk read. `None` when the segment is gone or has no index yet (being written), or
    /// no record starts at `r`.
    #[cfg(test)]
    pub(crate) fn entry_at(&self, r: ChunkRef) -> Option<IndexEntry> {
        let (map, records_end, n) = {
            let segs = self.segments.read();
            let seg = segs.get(&r.seq)?;
            (Arc::clone(&seg.map), seg.written as usize, seg.indexed?)
        };
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = entry(&map, records_end, mid);
            match e.offset.cmp(&r.offset) {
                std::cmp::Ordering::Equal => return Some(e),
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// Segments on disk and their bytes in use.
    pub(crate) fn stats(&self) -> (u64, u64) {
        let n = self.segments.read().len() as u64;
        (n, self.bytes.load(Ordering::Relaxed))
    }
}

/// Cuts every segment of `dir` back to its records, as segments written before indexes
/// existed were; returns how many had an index.
#[cfg(test)]
pub(crate) fn strip_indexes(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        if let Ok((end, _)) = index::find_index(&bytes) {
            let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
            f.set_len(end as u64).unwrap();
            n += 1;
        }
    }
    n
}

impl Drop for HeadChunks {
    fn drop(&mut self) {
        let mut w = self.writer.lock();
        if let Err(e) = self.finish_active(&mut w) {
            tracing::error!(error = %e, "finishing the chunk-head segment failed");
        }
    }
}

#[cfg(test)]
mod tests;
