//! The queue's durable log: remote-write requests waiting to be sent, in segment files, and
//! a cursor naming the first one not yet acknowledged by the receiver.
//!
//! Directory layout:
//!
//! | file              | what it holds                                                   |
//! |-------------------|-----------------------------------------------------------------|
//! | `00000000` …      | segments, numbered in order; only the newest is appended to    |
//! | `cursor`          | position of the first unacknowledged record                     |
//!
//! Segment layout (integers little-endian):
//!
//! | field        | size | meaning                                                     |
//! |--------------|------|-------------------------------------------------------------|
//! | magic        | 4    | `TSRQ`                                                      |
//! | version      | 1    | 1                                                           |
//! | reserved     | 3    | zero                                                        |
//! | — records —  |      | until the end of the file                                   |
//! | length       | 4    | payload bytes, at most [`MAX_RECORD_BYTES`]                 |
//! | crc          | 4    | CRC-32C (Castagnoli) of the payload                         |
//! | payload      | n    | one `WriteRequest`, protobuf, snappy block-compressed       |
//!
//! Cursor layout: segment (8), offset (8), CRC-32C of those 16 bytes (4). It is replaced by
//! rename after every acknowledgement but not fsynced: after a crash it may lag, so a few
//! requests are sent twice. Receivers treat a resent sample (same series, timestamp and
//! value) as a no-op, which is why the queue is at-least-once rather than exactly-once.
//!
//! Why records are whole requests: a push is one scrape's or one batch's samples, already
//! encoded; the sender concatenates several payloads into one request (protobuf repeated
//! fields concatenate), so nothing is decoded on the way out.
//!
//! Recovery on open: segments before the cursor's are deleted; the newest segment is cut at
//! its first torn or corrupt record (the tail a crash left half-written). A corrupt record
//! in an older segment, which no crash produces, ends that segment for the reader: its
//! remaining records are counted as lost and logged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Segment header: magic, version, reserved.
const SEGMENT_MAGIC: [u8; 4] = *b"TSRQ";
const SEGMENT_VERSION: u8 = 1;
pub(crate) const SEGMENT_HEADER_BYTES: u64 = 8;
/// Record header: length and CRC.
const RECORD_HEADER_BYTES: u64 = 8;
/// Largest payload a record may carry; a longer length field means a torn or corrupt record.
pub(crate) const MAX_RECORD_BYTES: usize = 64 << 20;
const CURSOR_FILE: &str = "cursor";
const CURSOR_BYTES: usize = 20;

/// A byte position in the log: segment number and offset in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Pos {
    pub(crate) seg: u64,
    pub(crate) off: u64,
}

/// Records read for one send, and the position just past the last of them.
pub(crate) struct Batch {
    pub(crate) payloads: Vec<Vec<u8>>,
    pub(crate) end: Pos,
}

pub(crate) struct QueueLog {
    dir: PathBuf,
    /// Segments roll over once they would grow past this.
    segment_bytes: u64,
    /// Whether each append is fsynced before it returns.
    fsync: bool,
    /// The segment appended to, open for writing. Invariant: `head.seg` is the highest
    /// segment number in `dir`, and `head.off` is its length.
    head: Pos,
    head_file: File,
    /// First record not yet acknowledged. Invariant: `read <= head`.
    read: Pos,
    /// Corrupt records met in older segments since open (each skips the rest of its segment).
    corrupt_records: u64,
}

impl QueueLog {
    /// Opens (creating if needed) the log in `dir` and recovers it as the module header
    /// describes.
    pub(crate) fn open(dir: &Path, segment_bytes: u64, fsync: bool) -> io::Result<QueueLog> {
        fs::create_dir_all(dir)?;
        let mut segs = list_segments(dir)?;
        let cursor = read_cursor(dir);
        // Without a readable cursor everything on disk is resent (at least once).
        let first = segs.first().copied().unwrap_or(0);
        let mut read = match cursor {
            Some(p) if segs.contains(&p.seg) => p,
            Some(p) => {
                tracing::warn!(segment = p.seg, "queue cursor names a missing segment");
                Pos {
                    seg: segs.iter().copied().find(|&s| s > p.seg).unwrap_or(first),
                    off: SEGMENT_HEADER_BYTES,
                }
            }
            None => Pos {
                seg: first,
                off: SEGMENT_HEADER_BYTES,
            },
        };
        for &s in segs.iter().filter(|&&s| s < read.seg) {
            fs::remove_file(segment_path(dir, s))?;
        }
        segs.retain(|&s| s >= read.seg);
        let head = match segs.last() {
            Some(&seg) => match valid_length(&segment_path(dir, seg))? {
                // A bad header: nothing in the segment can be trusted; it starts over.
                None => {
                    tracing::warn!(
                        segment = seg,
                        "queue segment with a bad header started over"
                    );
                    create_segment(dir, seg)?
                }
                Some(valid) => {
                    let mut file = OpenOptions::new()
                        .write(true)
                        .open(segment_path(dir, seg))?;
                    if file.metadata()?.len() != valid {
                        tracing::warn!(segment = seg, valid, "queue segment cut at a torn record");
                        file.set_len(valid)?;
                        file.sync_all()?;
                    }
                    file.seek(SeekFrom::Start(valid))?;
                    (Pos { seg, off: valid }, file)
                }
            },
            None => create_segment(dir, read.seg)?,
        };
        read.off = read.off.max(SEGMENT_HEADER_BYTES);
        if read > head.0 {
            read = head.0;
        }
        Ok(QueueLog {
            dir: dir.to_path_buf(),
            segment_bytes,
            fsync,
            head: head.0,
            head_file: head.1,
            read,
            corrupt_records: 0,
        })
    }

    /// Appends one payload; durable on return when the log fsyncs.
    pub(crate) fn append(&mut self, payload: &[u8]) -> io::Result<()> {
        if payload.len() > MAX_RECORD_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "request of {} bytes is larger than the queue's limit of {MAX_RECORD_BYTES}",
                    payload.len()
                ),
            ));
        }
        let size = RECORD_HEADER_BYTES + payload.len() as u64;
        if self.head.off > SEGMENT_HEADER_BYTES && self.head.off + size > self.segment_bytes {
            if self.fsync {
                self.head_file.sync_data()?;
            }
            let (pos, file) = create_segment(&self.dir, self.head.seg + 1)?;
            self.head = pos;
            self.head_file = file;
        }
        let mut rec = Vec::with_capacity(size as usize);
        rec.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        rec.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
        rec.extend_from_slice(payload);
        if let Err(e) = self.head_file.write_all(&rec) {
            // A partial write would hide every later record behind a torn one: cut it off.
            let _ = self.head_file.set_len(self.head.off);
            let _ = self.head_file.seek(SeekFrom::Start(self.head.off));
            return Err(e);
        }
        if self.fsync {
            self.head_file.sync_data()?;
        }
        self.head.off += size;
        Ok(())
    }

    /// Whether every record has been acknowledged.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.read == self.head
    }

    /// Bytes of records (headers included) not yet acknowledged, counting whole segments
    /// between the cursor and the head.
    pub(crate) fn pending_bytes(&self) -> u64 {
        if self.read.seg == self.head.seg {
            return self.head.off - self.read.off;
        }
        let mut total = self.head.off - SEGMENT_HEADER_BYTES;
        for seg in self.read.seg..self.head.seg {
            let len = fs::metadata(segment_path(&self.dir, seg)).map_or(0, |m| m.len());
            total += len.saturating_sub(if seg == self.read.seg {
                self.read.off
            } else {
                SEGMENT_HEADER_BYTES
            });
        }
        total
    }

    pub(crate) fn corrupt_records(&self) -> u64 {
        self.corrupt_records
    }

    /// Reads records from the cursor on, up to `max_bytes` of payload (at least one record
    /// when any is pending). Does not move the cursor: see [`Self::ack`].
    pub(crate) fn next_batch(&mut self, max_bytes: usize) -> io::Result<Batch> {
        let mut payloads = Vec::new();
        let mut pos = self.read;
        let mut bytes = 0usize;
        loop {
            if pos == self.head || bytes >= max_bytes {
                break;
            }
            let path = segment_path(&self.dir, pos.seg);
            let end = if pos.seg == self.head.seg {
                self.head.off
            } else {
                fs::metadata(&path)?.len()
            };
            if pos.off >= end {
                pos = Pos {
                    seg: pos.seg + 1,
                    off: SEGMENT_HEADER_BYTES,
                };
                continue;
            }
            let mut f = File::open(&path)?;
            f.seek(SeekFrom::Start(pos.off))?;
            let mut r = io::BufReader::new(f.take(end - pos.off));
            while pos.off < end && bytes < max_bytes {
                match read_record(&mut r)? {
                    Some(p) => {
                        pos.off += RECORD_HEADER_BYTES + p.len() as u64;
                        bytes += p.len();
                        payloads.push(p);
                    }
                    None => {
                        // Only an older segment gets here (the head was validated on
                        // open and is written only by us): skip its rest.
                        self.corrupt_records += 1;
                        tracing::error!(
                            segment = pos.seg,
                            offset = pos.off,
                            "corrupt record in the remote-write queue; the rest of its segment is skipped"
                        );
                        pos.off = end;
                    }
                }
            }
        }
        Ok(Batch { payloads, end: pos })
    }

    /// Marks everything before `end` acknowledged: moves the cursor and deletes segments
    /// wholly before it.
    pub(crate) fn ack(&mut self, end: Pos) -> io::Result<()> {
        debug_assert!(end <= self.head);
        let old = self.read;
        self.read = end;
        write_cursor(&self.dir, end)?;
        for seg in old.seg..end.seg {
            match fs::remove_file(segment_path(&self.dir, seg)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn segment_path(dir: &Path, seg: u64) -> PathBuf {
    dir.join(format!("{seg:08}"))
}

fn list_segments(dir: &Path) -> io::Result<Vec<u64>> {
    let mut segs = Vec::new();
    for e in fs::read_dir(dir)? {
        let name = e?.file_name();
        let name = name.to_string_lossy();
        if name.len() >= 8 && name.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(n) = name.parse::<u64>() {
                segs.push(n);
            }
        }
    }
    segs.sort_unstable();
    Ok(segs)
}

fn create_segment(dir: &Path, seg: u64) -> io::Result<(Pos, File)> {
    let path = segment_path(dir, seg);
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    f.write_all(&segment_header())?;
    f.sync_all()?;
    File::open(dir)?.sync_all()?;
    Ok((
        Pos {
            seg,
            off: SEGMENT_HEADER_BYTES,
        },
        f,
    ))
}

/// Reads one record; `None` for a torn or corrupt one (or the end of the data).
fn read_record(r: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut h = [0u8; RECORD_HEADER_BYTES as usize];
    if !read_full(r, &mut h)? {
        return Ok(None);
    }
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if len > MAX_RECORD_BYTES {
        return Ok(None);
    }
    let mut p = vec![0u8; len];
    if !read_full(r, &mut p)? || crc32c::crc32c(&p) != crc {
        return Ok(None);
    }
    Ok(Some(p))
}

/// Fills `buf`; `false` when the data ends first.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// Magic and version, then reserved zeros.
fn segment_header() -> [u8; SEGMENT_HEADER_BYTES as usize] {
    let mut h = [0u8; SEGMENT_HEADER_BYTES as usize];
    h[..4].copy_from_slice(&SEGMENT_MAGIC);
    h[4] = SEGMENT_VERSION;
    h
}

/// Length of the valid prefix of a segment: its header and whole, intact records; `None`
/// when its header (magic and version) is missing or wrong.
fn valid_length(path: &Path) -> io::Result<Option<u64>> {
    let mut r = io::BufReader::new(File::open(path)?);
    let mut header = [0u8; SEGMENT_HEADER_BYTES as usize];
    if !read_full(&mut r, &mut header)? || header[..5] != segment_header()[..5] {
        return Ok(None);
    }
    let mut off = SEGMENT_HEADER_BYTES;
    while let Some(p) = read_record(&mut r)? {
        off += RECORD_HEADER_BYTES + p.len() as u64;
    }
    Ok(Some(off))
}

fn read_cursor(dir: &Path) -> Option<Pos> {
    let b = fs::read(dir.join(CURSOR_FILE)).ok()?;
    if b.len() != CURSOR_BYTES {
        return None;
    }
    let crc = u32::from_le_bytes(b[16..20].try_into().ok()?);
    if crc32c::crc32c(&b[..16]) != crc {
        return None;
    }
    Some(Pos {
        seg: u64::from_le_bytes(b[0..8].try_into().ok()?),
        off: u64::from_le_bytes(b[8..16].try_into().ok()?),
    })
}

fn write_cursor(dir: &Path, pos: Pos) -> io::Result<()> {
    let mut b = Vec::with_capacity(CURSOR_BYTES);
    b.extend_from_slice(&pos.seg.to_le_bytes());
    b.extend_from_slice(&pos.off.to_le_bytes());
    b.extend_from_slice(&crc32c::crc32c(&b).to_le_bytes());
    let tmp = dir.join("cursor.tmp");
    fs::write(&tmp, &b)?;
    fs::rename(tmp, dir.join(CURSOR_FILE))
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
