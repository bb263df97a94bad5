//! Segment files and the framing of records inside them.
//!
//! A WAL directory holds segment files named by their sequence number, zero-padded to 8
//! digits (`00000001`, `00000002`, ...), so that a directory listing sorts in write order.
//! Files with other names are ignored. A segment is a plain concatenation of records; a
//! record never spans two segments. Each record is framed as:
//!
//! | offset | size | field                                                    |
//! |--------|------|----------------------------------------------------------|
//! | 0      | 4    | payload length, u32 little-endian                        |
//! | 4      | 4    | CRC32C (Castagnoli) of the type byte and the payload, LE |
//! | 8      | 1    | record type (see `record.rs`)                            |
//! | 9      | len  | payload                                                  |
//!
//! The CRC covers the type so that a flipped type byte is caught, and the length is checked
//! against the file size and [`MAX_PAYLOAD_LEN`] before anything is allocated, so a torn or
//! corrupt header cannot trigger a huge read.

use std::fs::File;
use std::path::{Path, PathBuf};

use super::record::Record;
use crate::error::{Error, Result};

/// Bytes of the record header.
pub(crate) const HEADER_LEN: usize = 9;

/// Largest payload accepted, on write and on replay. Far above any sane batch; bounds the
/// allocation a corrupt length field can cause.
pub(crate) const MAX_PAYLOAD_LEN: usize = 256 << 20;

/// Digits of a segment file name.
const NAME_DIGITS: usize = 8;

pub(crate) fn segment_path(dir: &Path, seq: u64) -> PathBuf {
    dir.join(format!("{seq:0width$}", width = NAME_DIGITS))
}

/// One segment file found in a WAL directory.
#[derive(Clone, Debug)]
pub(crate) struct SegmentFile {
    pub(crate) seq: u64,
    pub(crate) path: PathBuf,
    pub(crate) len: u64,
}

/// Segment files of `dir` in sequence order; an absent directory has none.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<SegmentFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name();
        let Some(seq) = name.to_str().and_then(parse_name) else {
            continue;
        };
        let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
        if !meta.is_file() {
            continue;
        }
        out.push(SegmentFile {
            seq,
            path: entry.path(),
            len: meta.len(),
        });
    }
    out.sort_by_key(|s| s.seq);
    Ok(out)
}

fn parse_name(name: &str) -> Option<u64> {
    if name.len() < NAME_DIGITS || !name.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse().ok()
}

/// Makes a directory entry change (a created or removed file) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

/// Appends `rec` to `buf` with its header.
pub(crate) fn encode_framed(buf: &mut Vec<u8>, rec: &Record) -> std::result::Result<(), usize> {
    let start = buf.len();
    buf.extend_from_slice(&[0; HEADER_LEN]);
    buf[start + 8] = rec.type_byte();
    rec.encode_payload(buf);
    let len = buf.len() - start - HEADER_LEN;
    if len > MAX_PAYLOAD_LEN {
        buf.truncate(start);
        return Err(len);
    }
    let crc = crc32c::crc32c(&buf[start + 8..]);
    buf[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    buf[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// A decoded record header.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    pub(crate) len: usize,
    pub(crate) crc: u32,
    pub(crate) kind: u8,
}

impl Header {
    pub(crate) fn parse(b: &[u8; HEADER_LEN]) -> Header {
        Header {
            len: u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
            crc: u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            kind: b[8],
        }
    }

    /// True when the CRC matches the type byte and `payload`.
    pub(crate) fn checks(&self, payload: &[u8]) -> bool {
        crc32c::crc32c_append(crc32c::crc32c(&[self.kind]), payload) == self.crc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_and_foreign_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        for seq in [10, 2, 1] {
            std::fs::write(segment_path(dir.path(), seq), b"x").unwrap();
        }
        std::fs::write(dir.path().join("00000003.tmp"), b"").unwrap();
        std::fs::write(dir.path().join("checkpoint"), b"").unwrap();
        std::fs::create_dir(dir.path().join("00000004")).unwrap();
        let segs = list_segments(dir.path()).unwrap();
        let seqs: Vec<u64> = segs.iter().map(|s| s.seq).collect();
        assert_eq!(seqs, vec![1, 2, 10]);
        assert!(segs[0].path.ends_with("00000001"));
        assert_eq!(segs[0].len, 1);
        assert!(list_segments(&dir.path().join("missing"))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn frame_header_round_trips_and_crc_covers_type() {
        let mut buf = Vec::new();
        encode_framed(&mut buf, &Record::Samples(Vec::new())).unwrap();
        let mut h = [0u8; HEADER_LEN];
        h.copy_from_slice(&buf[..HEADER_LEN]);
        let header = Header::parse(&h);
        assert_eq!(header.len, buf.len() - HEADER_LEN);
        assert!(header.checks(&buf[HEADER_LEN..]));
        let other = Header { kind: 1, ..header };
        assert!(!other.checks(&buf[HEADER_LEN..]));
    }
}
