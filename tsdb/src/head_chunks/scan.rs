//! Opening the chunk-head segments found in the directory.
//!
//! A segment with a valid record index (`index.rs`) is opened by checking the index alone:
//! its cost is a few bytes per chunk, and no chunk is read. Any other segment (written
//! before indexes existed, left unfinished by a crash, or with a damaged index) is scanned:
//! every record is checked (CRC included), the segment is cut at its zero tail or at its
//! first damaged record (a torn write, or corruption; the latter logged as an error), the
//! records before stay served, and the index is written so that the next open is cheap.
//! A file with a bad header is moved aside as `<name>.corrupt`. Empty segments are removed.
//!
//! Segments are independent, so they are opened on several threads.

use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::format::{check_file_header, parse_at, parse_segment_name, Parsed, FILE_HEADER_LEN};
use super::index::{encode_index, entries_in_bounds, entry, find_index, index_len, IndexEntry};
use super::segment::{map_file, Segment};
use crate::error::{Error, Result};

/// Most threads opening segments; the work is reading page-cache pages and CRCs, which a
/// few cores saturate.
const MAX_THREADS: usize = 4;

/// Opens every segment of `dir`.
pub(crate) fn scan(dir: &Path) -> Result<BTreeMap<u32, Segment>> {
    let mut files: Vec<(u32, PathBuf, u64)> = Vec::new();
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
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let opened: Vec<Result<Vec<Option<Segment>>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some((seq, path, len)) = files.get(i) else {
                            return Ok(out);
                        };
                        out.push(open_segment(*seq, path, *len)?);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    });
    let mut out = BTreeMap::new();
    for r in opened {
        for seg in r?.into_iter().flatten() {
            out.insert(seg.seq, seg);
        }
    }
    Ok(out)
}

/// Opens one segment file of `len` bytes: through its index when it has a valid one,
/// by a scan otherwise. `None` when nothing is left of it.
fn open_segment(seq: u32, path: &Path, len: u64) -> Result<Option<Segment>> {
    if len <= FILE_HEADER_LEN as u64 {
        // Created, never written.
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
        return Ok(None);
    }
    let map = map_file(path, len)?;
    if let Err(reason) = check_file_header(&map) {
        tracing::error!(path = %path.display(), reason, "corrupt chunk-head segment header; moving the file aside");
        drop(map);
        let aside = path.with_extension("corrupt");
        std::fs::rename(path, &aside).map_err(|e| Error::io(path, e))?;
        return Ok(None);
    }
    match find_index(&map) {
        Ok((_, 0)) => {
            // Finished without records.
            drop(map);
            std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
            return Ok(None);
        }
        Ok((records_end, n)) if entries_in_bounds(&map, records_end, n) => {
            let max_t = (0..n)
                .map(|i| entry(&map, records_end, i).max_t)
                .max()
                .unwrap_or(i64::MIN);
            return Ok(Some(Segment {
                seq,
                path: path.to_path_buf(),
                map,
                max_t,
                written: records_end as u64,
                indexed: Some(n),
            }));
        }
        Ok(_) => {
            tracing::warn!(path = %path.display(), "chunk-head segment index out of bounds; scanning the segment")
        }
        // A segment written before indexes, or not finished: the usual case after a crash.
        Err("no index") => {}
        Err(reason) => {
            tracing::warn!(path = %path.display(), reason, "chunk-head segment index unusable; scanning the segment")
        }
    }
    let (entries, written, damage) = scan_records(&map);
    if let Some(reason) = damage {
        tracing::error!(
            path = %path.display(),
            offset = written,
            reason,
            discarded_bytes = len - written as u64,
            "corrupt chunk-head segment; cutting it at its last good record"
        );
    }
    drop(map);
    if entries.is_empty() {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))?;
        return Ok(None);
    }
    write_index(path, &entries, written as u64)?;
    let map = map_file(path, (written + index_len(entries.len())) as u64)?;
    Ok(Some(Segment {
        seq,
        path: path.to_path_buf(),
        map,
        max_t: entries.iter().map(|e| e.max_t).max().unwrap_or(i64::MIN),
        written: written as u64,
        indexed: Some(entries.len()),
    }))
}

/// Reads the records of a whole segment `seg` from its first, checking each CRC when
/// `verify`, until the zero tail or the first damaged record. Returns their entries, the
/// offset where reading stopped, and the damage, if that is what stopped it.
pub(crate) fn scan_records(seg: &[u8]) -> (Vec<IndexEntry>, usize, Option<String>) {
    let mut entries = Vec::new();
    let mut off = FILE_HEADER_LEN;
    loop {
        match parse_at(seg, off, true) {
            Parsed::Record(r, next) => {
                entries.push(IndexEntry::for_record(
                    off as u32, r.id, r.min_t, r.max_t, r.data,
                ));
                off = next;
            }
            Parsed::End => return (entries, off, None),
            Parsed::Damage(reason) => return (entries, off, Some(reason)),
        }
    }
}

/// Replaces whatever follows the records of the segment at `path` (ending at
/// `records_end`) by the index of `entries`, and fsyncs the file.
pub(crate) fn write_index(path: &Path, entries: &[IndexEntry], records_end: u64) -> Result<()> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    write_index_to(&file, path, entries, records_end)
}

/// [`write_index`] through an open file.
pub(crate) fn write_index_to(
    file: &std::fs::File,
    path: &Path,
    entries: &[IndexEntry],
    records_end: u64,
) -> Result<()> {
    let io = |e| Error::io(path, e);
    let index = encode_index(entries, records_end as u32);
    // Cut first: a crash between the two leaves records and a partial index, which the
    // next open finds without a footer and scans again.
    file.set_len(records_end).map_err(io)?;
    file.write_all_at(&index, records_end).map_err(io)?;
    file.sync_all().map_err(io)
}
