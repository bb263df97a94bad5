//! One chunk-head segment file: created preallocated and mapped, written with `pwrite`,
//! finished by replacing its zero tail with its record index (`index.rs`).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::{Mmap, MmapOptions};

use super::format::{file_header, segment_name, FILE_HEADER_LEN};
use super::index::index_len;
use super::scan::{scan_records, write_index_to};
use crate::error::{Error, Result};

/// A segment that may be read: its map and, for the newest, the file it is written through.
///
/// Invariant: every byte before `written` (of the segment being written) holds complete
/// records, and the map covers at least `written` bytes.
pub(crate) struct Segment {
    pub(crate) seq: u32,
    pub(crate) path: PathBuf,
    pub(crate) map: Arc<Mmap>,
    /// Newest `max_t` of the records in it (`i64::MIN` while none): the segment can go once
    /// the head holds nothing that old.
    pub(crate) max_t: i64,
    /// Bytes of header and records: where the zero tail or the index begins.
    pub(crate) written: u64,
    /// Entries of the index following the records, once the segment is finished (`None`
    /// while it is being written).
    pub(crate) indexed: Option<usize>,
}

impl Segment {
    /// Bytes of the file once finished, or in use while written.
    pub(crate) fn bytes(&self) -> u64 {
        self.written + self.indexed.map_or(0, |n| index_len(n) as u64)
    }
}

/// The segment being written.
pub(crate) struct Active {
    pub(crate) file: File,
    /// Size the file was preallocated to.
    pub(crate) capacity: u64,
    /// Whether records were written since the last fsync.
    pub(crate) dirty: bool,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Creates segment `seq` of `capacity` bytes (sparse) with its header, and maps it.
pub(crate) fn create(dir: &Path, seq: u32, capacity: u64) -> Result<(Segment, Active)> {
    let path = dir.join(segment_name(seq));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(io(&path))?;
    file.set_len(capacity).map_err(io(&path))?;
    file.write_all_at(&file_header(), 0).map_err(io(&path))?;
    // Safety of the map: the file is ours (a directory only this process writes), never
    // shrunk below what a reader may look at while the map lives (see `finish`).
    let map = unsafe { MmapOptions::new().len(capacity as usize).map(&file) }.map_err(io(&path))?;
    let seg = Segment {
        seq,
        path,
        map: Arc::new(map),
        max_t: i64::MIN,
        written: FILE_HEADER_LEN as u64,
        indexed: None,
    };
    let active = Active {
        file,
        capacity,
        dirty: true,
    };
    Ok((seg, active))
}

/// Maps an existing segment of `len` bytes read-only.
pub(crate) fn map_file(path: &Path, len: u64) -> Result<Arc<Mmap>> {
    let file = File::open(path).map_err(io(path))?;
    // Safety: as in `create`; finished segments are never written again.
    let map = unsafe { MmapOptions::new().len(len as usize).map(&file) }.map_err(io(path))?;
    Ok(Arc::new(map))
}

/// Writes a finished segment's index after its records, fsyncs it, and maps the file as it
/// now is. The entries come from the records just written (their CRCs are checked on the
/// way, as cheap as reading them, and a mismatch would stop the index early rather than
/// describe a bad record). Readers still holding the old map only look at records, which
/// lie before the index.
pub(crate) fn finish(seg: &mut Segment, active: &Active) -> Result<()> {
    let records = &seg.map[..(seg.written as usize).min(seg.map.len())];
    let (entries, end, damage) = scan_records(records);
    if let Some(reason) = damage {
        tracing::error!(path = %seg.path.display(), offset = end, reason, "chunk-head segment damaged while being written; cutting it");
    }
    write_index_to(&active.file, &seg.path, &entries, end as u64)?;
    seg.written = end as u64;
    seg.indexed = Some(entries.len());
    seg.map = map_file(&seg.path, seg.bytes())?;
    Ok(())
}
