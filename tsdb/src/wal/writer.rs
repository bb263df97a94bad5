//! Appending framed records to the current segment, and rotation.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::segment::{segment_path, sync_dir};
use super::sync::GroupSync;
use super::{FsyncPolicy, WalPosition};
use crate::error::{Error, Result};

/// The segment being written. Lives behind the WAL's writer mutex.
pub(crate) struct SegmentWriter {
    dir: PathBuf,
    segment_size: u64,
    fsync: FsyncPolicy,
    /// Open in append mode, so writes land at the end even after a truncation. Shared with
    /// the fsync leader, which syncs it without holding the writer lock.
    file: Arc<File>,
    path: PathBuf,
    /// Sequence number of `file`.
    seq: u64,
    /// Bytes of complete records in `file`; equals its length unless `damaged`.
    offset: u64,
    /// A failed write left bytes after `offset` that could not be cut off; the next write
    /// starts a new segment so that no record follows the garbage.
    damaged: bool,
}

impl SegmentWriter {
    /// Starts a new, empty segment `seq` in `dir`.
    pub(crate) fn create(
        dir: &Path,
        seq: u64,
        segment_size: u64,
        fsync: FsyncPolicy,
    ) -> Result<Self> {
        let (file, path) = create_segment(dir, seq, fsync)?;
        Ok(SegmentWriter {
            dir: dir.to_path_buf(),
            segment_size,
            fsync,
            file: Arc::new(file),
            path,
            seq,
            offset: 0,
            damaged: false,
        })
    }

    pub(crate) fn position(&self) -> WalPosition {
        WalPosition {
            segment: self.seq,
            offset: self.offset,
        }
    }

    /// The current file and the position up to which an fsync of it makes the WAL durable.
    pub(crate) fn sync_target(&self) -> (Arc<File>, PathBuf, WalPosition) {
        (Arc::clone(&self.file), self.path.clone(), self.position())
    }

    /// Writes framed records: `bytes` holds them back to back and `ends[i]` is the end of
    /// record `i`. Records go to the current segment as long as it stays within the segment
    /// size, then to new ones; a record larger than a segment gets one of its own. One
    /// `write_all` per segment touched, usually exactly one.
    pub(crate) fn write(
        &mut self,
        bytes: &[u8],
        ends: &[usize],
        group: &GroupSync,
        size: &AtomicU64,
    ) -> Result<WalPosition> {
        let mut start = 0;
        let mut i = 0;
        while i < ends.len() {
            if self.damaged {
                self.rotate(group)?;
            }
            let room = self.segment_size.saturating_sub(self.offset);
            let fit = ends[i..].partition_point(|&e| (e - start) as u64 <= room);
            let k = match fit {
                0 if self.offset > 0 => {
                    self.rotate(group)?;
                    continue;
                }
                0 => i + 1,
                n => i + n,
            };
            let end = ends[k - 1];
            self.append(&bytes[start..end], size)?;
            start = end;
            i = k;
        }
        Ok(self.position())
    }

    fn append(&mut self, data: &[u8], size: &AtomicU64) -> Result<()> {
        match (&*self.file).write_all(data) {
            Ok(()) => {
                self.offset += data.len() as u64;
                size.fetch_add(data.len() as u64, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                // Cut off a partial record so that later records do not follow garbage.
                if let Err(undo) = self.file.set_len(self.offset) {
                    tracing::error!(
                        path = %self.path.display(),
                        error = %undo,
                        "cannot truncate a failed WAL write; continuing in a new segment"
                    );
                    self.damaged = true;
                }
                Err(Error::io(&self.path, e))
            }
        }
    }

    /// Makes the current segment the last one written, starting the next one unless it is
    /// still empty; returns the number of the last segment holding records.
    pub(crate) fn cut(&mut self, group: &GroupSync) -> Result<u64> {
        if self.offset == 0 && !self.damaged {
            return Ok(self.seq.saturating_sub(1));
        }
        let last = self.seq;
        self.rotate(group)?;
        Ok(last)
    }

    /// Finishes the current segment (fsynced unless the policy is `Never`) and starts the
    /// next one.
    fn rotate(&mut self, group: &GroupSync) -> Result<()> {
        if self.fsync != FsyncPolicy::Never {
            self.file
                .sync_data()
                .map_err(|e| Error::io(&self.path, e))?;
            group.mark_synced(self.position());
        }
        let seq = self.seq + 1;
        let (file, path) = create_segment(&self.dir, seq, self.fsync)?;
        tracing::debug!(segment = seq, "WAL segment started");
        self.file = Arc::new(file);
        self.path = path;
        self.seq = seq;
        self.offset = 0;
        self.damaged = false;
        Ok(())
    }
}

fn create_segment(dir: &Path, seq: u64, fsync: FsyncPolicy) -> Result<(File, PathBuf)> {
    let path = segment_path(dir, seq);
    let file = OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    if fsync != FsyncPolicy::Never {
        sync_dir(dir)?;
    }
    Ok((file, path))
}
