//! Crash points: named steps of block cutting, compaction, WAL checkpointing and
//! truncation, writing head chunks, deletes and tombstone cleanup where tests make the
//! database stop as if the process died there.
//!
//! Outside tests a crash point is a no-op that compiles away. In tests one point can be
//! armed; reaching it returns an error, the operation stops without any cleanup (as a
//! killed process would), and the test drops the database and reopens the directory.

use crate::error::Result;

/// Samples of the range are copied and about to be written as a block.
pub(crate) const BEFORE_BLOCK_WRITE: &str = "before_block_write";
/// The block is renamed into place but not yet served.
pub(crate) const BLOCK_WRITTEN: &str = "block_written";
/// The block is served; the head still holds its samples.
pub(crate) const BLOCK_LOADED: &str = "block_loaded";
/// The head is truncated; the WAL is not yet checkpointed.
pub(crate) const HEAD_TRUNCATED: &str = "head_truncated";

/// A compacted block is in place; the blocks it replaces are still on disk.
pub(crate) const COMPACTION_WRITTEN: &str = "compaction_written";
/// One of the blocks a compaction replaced is deleted, the others not yet.
pub(crate) const COMPACTION_PARTLY_DELETED: &str = "compaction_partly_deleted";

/// A block's new `tombstones.tmp` is durable but not yet renamed over `tombstones`.
pub(crate) const TOMBSTONES_WRITTEN: &str = "tombstones_written";
/// The blocks have their tombstones; the head's deletion is not yet logged.
pub(crate) const DELETE_BLOCKS_DONE: &str = "delete_blocks_done";
/// A block rewritten without its deleted samples is in place; the old one is still on
/// disk (and served).
pub(crate) const CLEAN_WRITTEN: &str = "clean_written";
/// The rewritten block is served; the old one is still on disk.
pub(crate) const CLEAN_SWAPPED: &str = "clean_swapped";
/// One block is cleaned completely, the others not yet.
pub(crate) const CLEAN_ONE_DONE: &str = "clean_one_done";

/// Full chunks are written to a chunk-head segment; the head still holds them in memory.
pub(crate) const HEAD_CHUNKS_WRITTEN: &str = "head_chunks_written";
/// The chunk-head segments are fsynced; the WAL below the watermark is not yet
/// checkpointed (the checkpoint's own steps follow, `wal::CRASH_*`).
pub(crate) const HEAD_CHUNKS_SYNCED: &str = "head_chunks_synced";
/// One chunk-head segment older than the head is deleted, the others not yet.
pub(crate) const CHUNK_SEGMENTS_PARTLY_DELETED: &str = "chunk_segments_partly_deleted";

#[derive(Default)]
pub(crate) struct CrashPoints {
    #[cfg(test)]
    armed: parking_lot::Mutex<Option<String>>,
}

impl CrashPoints {
    /// Arms `point`: the next time it is reached it fails, once.
    #[cfg(test)]
    pub(crate) fn arm(&self, point: &str) {
        *self.armed.lock() = Some(point.to_string());
    }

    /// Whether an armed point has not been reached yet.
    #[cfg(test)]
    pub(crate) fn pending(&self) -> bool {
        self.armed.lock().is_some()
    }

    #[cfg(test)]
    pub(crate) fn check(&self, point: &str) -> Result<()> {
        let mut armed = self.armed.lock();
        if armed.as_deref() != Some(point) {
            return Ok(());
        }
        *armed = None;
        Err(crate::error::Error::io(
            point,
            std::io::Error::other("simulated crash"),
        ))
    }

    #[cfg(not(test))]
    #[inline(always)]
    pub(crate) fn check(&self, _point: &str) -> Result<()> {
        Ok(())
    }
}
