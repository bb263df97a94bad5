//! Reading the chunk-head segments back at open.
//!
//! Every record is checked (CRC included) once here, so that later reads need not. A
//! segment ends at its zero tail (a preallocated file the process stopped writing) or at
//! its first damaged record (a torn write, or corruption): either way it is cut there, the
//! latter with an error logged, and the records before stay served. A file with a bad
//! header is moved aside as `<name>.corrupt`. Empty segments are removed.

use std::collections::BTreeMap;
use std::path::Path;

use super::format::{
    check_file_header, parse_at, parse_segment_name, ChunkRef, Parsed, RecordView, FILE_HEADER_LEN,
};
use super::segment::{map_file, truncate_file, Segment};
use crate::error::{Error, Result};

/// Reads every segment of `dir` in order, passing each good record to `f`.
pub(crate) fn scan(
    dir: &Path,
    mut f: impl FnMut(ChunkRef, RecordView<'_>),
) -> Result<BTreeMap<u32, Segment>> {
    let mut files: Vec<(u32, std::path::PathBuf, u64)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let Some(seq) = entry.file_name().to_str().and_then(parse_segment_name) else {
            continue;
        };
        let meta = entry.metadata().map_err(|e| Error::io(entry.path(), e))?;
        if meta.is_file() {
            files.push((seq, entry.path(), meta.len()));
        }
    }
    files.sort_by_key(|f| f.0);
    let mut out = BTreeMap::new();
    for (seq, path, len) in files {
        if len <= FILE_HEADER_LEN as u64 {
            // Created, never written.
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            continue;
        }
        let map = map_file(&path, len)?;
        if let Err(reason) = check_file_header(&map) {
            tracing::error!(path = %path.display(), reason, "corrupt chunk-head segment header; moving the file aside");
            drop(map);
            let aside = path.with_extension("corrupt");
            std::fs::rename(&path, &aside).map_err(|e| Error::io(&path, e))?;
            continue;
        }
        let mut off = FILE_HEADER_LEN;
        let mut max_t = i64::MIN;
        let mut damage = None;
        loop {
            match parse_at(&map, off, true) {
                Parsed::Record(r, next) => {
                    f(
                        ChunkRef {
                            seq,
                            offset: off as u32,
                        },
                        r,
                    );
                    max_t = max_t.max(r.max_t);
                    off = next;
                }
                Parsed::End => break,
                Parsed::Damage(reason) => {
                    damage = Some(reason);
                    break;
                }
            }
        }
        if let Some(reason) = damage {
            tracing::error!(
                path = %path.display(),
                offset = off,
                reason,
                discarded_bytes = len - off as u64,
                "corrupt chunk-head segment; cutting it at its last good record"
            );
        }
        let written = off as u64;
        if written <= FILE_HEADER_LEN as u64 {
            drop(map);
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            continue;
        }
        let map = if written < len {
            drop(map);
            truncate_file(&path, written)?;
            map_file(&path, written)?
        } else {
            map
        };
        out.insert(
            seq,
            Segment {
                seq,
                path,
                map,
                max_t,
                written,
            },
        );
    }
    Ok(out)
}
