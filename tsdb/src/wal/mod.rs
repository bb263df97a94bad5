//! Write-ahead log: segmented, checksummed, with group commit.
//!
//! Every write is encoded into a reusable buffer and handed to the OS with one `write_all`
//! before [`Wal::write`] returns, so a killed process loses nothing that was acknowledged;
//! surviving power loss additionally needs [`Wal::sync_to`] under [`FsyncPolicy::Always`].
//! On start, [`Wal::replay`] reads everything back and [`Wal::open`] continues in a fresh
//! segment. File layout and framing: `segment.rs`; record payloads: `record.rs`.

mod checkpoint;
mod codec;
mod reader;
mod record;
mod segment;
mod sync;
mod writer;

pub use checkpoint::{
    CheckpointFilter, CheckpointStats, CRASH_CHECKPOINT_RENAMED, CRASH_CHECKPOINT_WRITTEN,
    CRASH_SEGMENTS_PARTLY_DELETED,
};
pub use record::{Decoded, MetadataRecord, Record, RefSample, SeriesRecord, TombstoneRecord};
pub(crate) use segment::sync_dir;
pub(crate) use sync::BackgroundSyncer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use segment::{encode_framed, list_segments, MAX_PAYLOAD_LEN};
use sync::GroupSync;
use writer::SegmentWriter;

/// When the WAL calls fsync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// Before a write is acknowledged (group commit: concurrent writers share one fsync).
    Always,
    /// Every interval, in the background.
    Interval(Duration),
    /// Never explicitly; the OS writes back.
    Never,
}

#[derive(Clone, Debug)]
pub struct WalOptions {
    /// A segment is finished when the next write would take it past this many bytes. A
    /// single record larger than this gets a segment of its own.
    pub segment_size: u64,
    pub fsync: FsyncPolicy,
}

/// A position in the WAL: everything before it has been written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct WalPosition {
    pub segment: u64,
    pub offset: u64,
}

#[derive(Debug, Default, Clone)]
pub struct ReplayStats {
    /// Segment files read.
    pub segments: usize,
    /// Records passed to the callback.
    pub records: u64,
    /// Bytes of those records, headers included.
    pub bytes: u64,
    /// The last segment ended in a torn or corrupt record and was truncated before it.
    pub torn_tail_truncated: bool,
    /// Segments other than the last whose remaining records were skipped as corrupt.
    pub corrupted_segments: usize,
    /// The checkpoint read before the segments: the last segment it covers.
    pub checkpoint: Option<u64>,
}

/// Buffers kept for reuse; bounds memory held by the pool after a burst of huge writes.
const POOL_MAX_BUFFERS: usize = 16;
const POOL_MAX_CAPACITY: usize = 8 << 20;

/// An encoding buffer: framed records back to back and where each ends.
#[derive(Default)]
struct EncodeBuf {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

/// State shared with the background syncer.
struct Shared {
    dir: PathBuf,
    writer: Mutex<SegmentWriter>,
    group: GroupSync,
    /// Bytes in all segments of the directory, including those from before `open`, and in
    /// the newest checkpoint.
    size: AtomicU64,
    /// Encoding happens outside the writer lock, each writer in a buffer from here.
    pool: Mutex<Vec<EncodeBuf>>,
}

impl Shared {
    /// Fsyncs the current segment; returns the position that is now durable.
    fn sync_current(&self) -> Result<WalPosition> {
        let (file, path, pos) = self.writer.lock().sync_target();
        file.sync_data().map_err(|e| Error::io(path, e))?;
        Ok(pos)
    }
}

/// The write-ahead log of one shard. `Send + Sync`: writes and syncs take `&self`.
pub struct Wal {
    shared: Arc<Shared>,
    fsync: FsyncPolicy,
    /// Present with [`FsyncPolicy::Interval`]; dropped (and joined) before the final sync.
    syncer: Option<BackgroundSyncer>,
}

impl Wal {
    /// Reads every record in `dir`, oldest first, and passes it to `f`.
    ///
    /// Never fails for corruption: a torn or corrupt tail of the last segment is truncated at
    /// the last good record (warning logged, `torn_tail_truncated` set); corruption in an
    /// earlier segment is logged as an error and the rest of that segment skipped. I/O errors
    /// and errors returned by `f` stop the replay and are returned. A missing `dir` has no
    /// records. Call before [`Wal::open`] on the same directory.
    pub fn replay(dir: &Path, mut f: impl FnMut(Record) -> Result<()>) -> Result<ReplayStats> {
        reader::replay(dir, true, |_, r| f(r))
    }

    /// [`Wal::replay`], also passing the number of the segment each record was read from
    /// (the checkpoint's number for its records).
    pub fn replay_with_segments(
        dir: &Path,
        f: impl FnMut(u64, Record) -> Result<()>,
    ) -> Result<ReplayStats> {
        reader::replay(dir, true, f)
    }

    /// [`Wal::replay_with_segments`] without the newest checkpoint's records, which the
    /// caller read first with [`Wal::checkpoint_records`]: the segments after it only.
    /// Sample records come borrowed from a buffer reused from record to record.
    pub fn replay_segments_after_checkpoint(
        dir: &Path,
        f: impl FnMut(u64, Decoded<'_>) -> Result<()>,
    ) -> Result<ReplayStats> {
        reader::replay_decoded(dir, false, f)
    }

    /// Every record of the newest checkpoint in `dir`, if any; returns the checkpoint's
    /// number (the last segment it stands for).
    pub fn checkpoint_records(dir: &Path, f: impl FnMut(Record)) -> Result<Option<u64>> {
        reader::checkpoint_records(dir, f)
    }

    /// The `Series` records of the newest checkpoint in `dir`; read before the chunk-head
    /// segments at open, whose records name series by id.
    pub fn checkpoint_series(dir: &Path, f: impl FnMut(SeriesRecord)) -> Result<()> {
        reader::checkpoint_series(dir, f)
    }

    /// Opens `dir` (creating it) for writing, in a new segment after the existing ones and
    /// after the newest checkpoint. Removes checkpoints whose writing never finished.
    pub fn open(dir: &Path, opts: WalOptions) -> Result<Wal> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        checkpoint::remove_tmp(dir)?;
        let existing = list_segments(dir)?;
        let newest_cp = checkpoint::list(dir)?.pop();
        let cp_size = match &newest_cp {
            Some(cp) => cp.size_bytes()?,
            None => 0,
        };
        let size: u64 = existing.iter().map(|s| s.len).sum::<u64>() + cp_size;
        // Segment numbers continue after the checkpoint even when every segment it covers
        // is gone, or replay would skip the new segments as covered by it.
        let seq = existing
            .last()
            .map_or(0, |s| s.seq)
            .max(newest_cp.map_or(0, |c| c.seq))
            + 1;
        let writer = SegmentWriter::create(dir, seq, opts.segment_size, opts.fsync)?;
        let start = writer.position();
        let shared = Arc::new(Shared {
            dir: dir.to_path_buf(),
            writer: Mutex::new(writer),
            group: GroupSync::new(start),
            size: AtomicU64::new(size),
            pool: Mutex::new(Vec::new()),
        });
        let syncer = match opts.fsync {
            FsyncPolicy::Interval(every) => {
                let s = Arc::clone(&shared);
                let syncer =
                    BackgroundSyncer::spawn(every, move || s.group.sync_now(|| s.sync_current()))
                        .map_err(|e| Error::io(dir, e))?;
                Some(syncer)
            }
            FsyncPolicy::Always | FsyncPolicy::Never => None,
        };
        tracing::debug!(dir = %dir.display(), segment = seq, "WAL opened");
        Ok(Wal {
            shared,
            fsync: opts.fsync,
            syncer,
        })
    }

    /// Appends `records` and returns the position after them. When this returns the bytes
    /// are in the OS (one `write_all` per segment touched), not yet necessarily on disk:
    /// pass the position to [`Wal::sync_to`] before acknowledging.
    pub fn write(&self, records: &[Record]) -> Result<WalPosition> {
        let mut buf = self.shared.pool.lock().pop().unwrap_or_default();
        buf.bytes.clear();
        buf.ends.clear();
        let res = self.encode_and_write(records, &mut buf);
        if buf.bytes.capacity() <= POOL_MAX_CAPACITY {
            let mut pool = self.shared.pool.lock();
            if pool.len() < POOL_MAX_BUFFERS {
                pool.push(buf);
            }
        }
        res
    }

    fn encode_and_write(&self, records: &[Record], buf: &mut EncodeBuf) -> Result<WalPosition> {
        for r in records {
            encode_framed(&mut buf.bytes, r).map_err(|len| {
                Error::io(
                    &self.shared.dir,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("WAL record of {len} bytes exceeds {MAX_PAYLOAD_LEN}"),
                    ),
                )
            })?;
            buf.ends.push(buf.bytes.len());
        }
        let sh = &*self.shared;
        sh.writer
            .lock()
            .write(&buf.bytes, &buf.ends, &sh.group, &sh.size)
    }

    /// Makes everything before `pos` durable as the policy asks: with `Always`, returns once
    /// an fsync covering `pos` has completed (shared with concurrent callers); with
    /// `Interval` and `Never`, returns at once.
    pub fn sync_to(&self, pos: WalPosition) -> Result<()> {
        match self.fsync {
            FsyncPolicy::Always => {
                let sh = &*self.shared;
                sh.group.sync_to(pos, || sh.sync_current())
            }
            FsyncPolicy::Interval(_) | FsyncPolicy::Never => Ok(()),
        }
    }

    /// Closes the current segment (unless it is empty) so that everything written so far is
    /// in segments no write will touch again; returns the last such segment's number.
    pub fn cut_segment(&self) -> Result<u64> {
        let sh = &*self.shared;
        sh.writer.lock().cut(&sh.group)
    }

    /// Checkpoints the segments up to `last` (see `checkpoint.rs`) and deletes them and
    /// older checkpoints. `crash_point` is called at each named step (`CRASH_*`); an error
    /// from it stops there, as a crash would.
    pub fn checkpoint(
        &self,
        last: u64,
        filter: &CheckpointFilter<'_>,
        crash_point: &dyn Fn(&str) -> Result<()>,
    ) -> Result<CheckpointStats> {
        let sh = &*self.shared;
        let res = checkpoint::write(&sh.dir, last, filter, crash_point);
        if let Ok(stats) = &res {
            let size = &sh.size;
            let _ = size.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s.saturating_sub(stats.deleted_bytes) + stats.bytes)
            });
        }
        res
    }

    /// Total bytes in all segment files and the newest checkpoint.
    pub fn size_bytes(&self) -> u64 {
        self.shared.size.load(Ordering::Relaxed)
    }

    /// The position after the last write.
    pub fn position(&self) -> WalPosition {
        self.shared.writer.lock().position()
    }

    pub fn dir(&self) -> &Path {
        &self.shared.dir
    }

    /// fsyncs run so far (by `sync_to`, the background syncer and the final one on drop;
    /// not those on segment rotation).
    pub fn fsyncs(&self) -> u64 {
        self.shared.group.fsyncs()
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        // Stop the periodic syncer first so that the final sync is the last one.
        drop(self.syncer.take());
        if self.fsync != FsyncPolicy::Never {
            let sh = &*self.shared;
            if let Err(e) = sh.group.sync_now(|| sh.sync_current()) {
                tracing::error!(error = %e, "final WAL fsync failed");
            }
        }
    }
}

#[cfg(test)]
mod tests;
