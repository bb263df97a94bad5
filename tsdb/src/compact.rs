//! Cutting the head into blocks, and the background thread that does it.
//!
//! Once the head spans more than 1.5 block ranges, the oldest aligned range
//! `[k*range, (k+1)*range)` is written as a block. The steps, and what a crash after each
//! leaves (every state is consistent: see `fault.rs` for the crash points tests use):
//!
//! 1. Raise the block floor under the append lock: from now on samples older than the
//!    range's end are out of bounds, so the copy taken next is the whole range.
//! 2. Write the block, copying each series' chunks out of the head under that series'
//!    lock only as the writer reaches it; appends and queries go on.
//!    *Crash:* a `.tmp` directory, removed at start; the WAL still has every sample.
//! 3. Open the block and serve it. *Crash:* the block is found at start; replay rebuilds
//!    the head from the WAL, and the samples the block holds are dropped from it again.
//! 4. Drop the range from the head; series left without samples are removed (under the
//!    append lock, see `head/truncate.rs`). Queries never miss data: they read the head
//!    before the block list (`querier.rs`).
//! 5. Checkpoint the WAL and delete the segments it replaces (`wal/checkpoint.rs`), only
//!    now that the block is durable.
//!
//! Deleted samples never reach a cut block: the head removes them in place when they are
//! deleted (`head/delete.rs`), and a delete waits for a cut in progress (`delete.rs`).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::block::{write_block, Block, BlockMeta, BlockWriterOptions};
use crate::db::DbInner;
use crate::error::{Error, Result};
use crate::fault;
use crate::metrics;
use crate::wal::CheckpointFilter;

impl DbInner {
    /// The next range to cut, if the head spans more than 1.5 block ranges.
    fn next_cut(&self) -> Option<(i64, i64)> {
        let range = self.opts.block_range_ms.max(1);
        let (lo, hi) = (self.head.min_time()?, self.head.max_time()?);
        if hi.saturating_sub(lo) <= range / 2 * 3 {
            return None;
        }
        let mint = lo.div_euclid(range).saturating_mul(range);
        Some((mint, mint.saturating_add(range)))
    }

    /// Cuts blocks until the head spans at most 1.5 block ranges; returns how many.
    pub(crate) fn compact_head(&self) -> Result<usize> {
        let _cutting = self.cut_lock.lock();
        let mut cut = 0;
        while let Some((mint, maxt)) = self.next_cut() {
            self.cut_block(mint, maxt)?;
            cut += 1;
        }
        Ok(cut)
    }

    /// Steps 1–5 of the module docs for `[mint, maxt)`. Holds `cut_lock` (the caller).
    fn cut_block(&self, mint: i64, maxt: i64) -> Result<()> {
        let started = Instant::now();
        let m = &self.metrics;
        let (meta, block_bytes) = metrics::count(
            self.write_cut(mint, maxt),
            &m.compactions,
            &m.compactions_failed,
        )?;
        metrics::observe(&m.compaction_duration, started.elapsed());
        self.crash_points.check(fault::BLOCK_LOADED)?;

        let pass = self.head.truncate_before(maxt);
        let removed = {
            let _appends = self.append_lock.lock();
            self.head.remove_empty(pass)
        };
        m.head_truncations.inc();
        self.crash_points.check(fault::HEAD_TRUNCATED)?;
        tracing::info!(
            ulid = %meta.ulid,
            mint,
            maxt,
            series = meta.stats.num_series,
            samples = meta.stats.num_samples,
            bytes = block_bytes,
            series_removed_from_head = removed,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "head cut into a block"
        );
        self.checkpoint_wal(maxt)
    }

    /// Steps 1–3: the range written as a block and served; its meta and bytes on disk.
    fn write_cut(&self, mint: i64, maxt: i64) -> Result<(BlockMeta, u64)> {
        {
            let _appends = self.append_lock.lock();
            self.block_floor.fetch_max(maxt, Ordering::SeqCst);
        }
        let series = self.head.chunks_before(maxt);
        self.crash_points.check(fault::BEFORE_BLOCK_WRITE)?;
        let meta = write_block(
            &self.dir,
            mint,
            maxt,
            series,
            &BlockWriterOptions::default(),
        )?;
        self.crash_points.check(fault::BLOCK_WRITTEN)?;
        let block_dir = self.dir.join(&meta.ulid);
        let block = match Block::open(&block_dir) {
            Ok(b) => b,
            Err(e) => {
                // Not served, so the next attempt cuts the range again; left in place it
                // would be a second block of the same range at the next start.
                if let Err(rm) = std::fs::remove_dir_all(&block_dir) {
                    tracing::error!(block = %meta.ulid, error = %rm, "cannot remove unservable block");
                }
                return Err(e);
            }
        };
        let bytes = block.size_bytes();
        self.blocks.add(block);
        Ok((meta, bytes))
    }

    /// Step 5: checkpoints every WAL segment but the one being written.
    fn checkpoint_wal(&self, min_time: i64) -> Result<()> {
        let started = Instant::now();
        let last = self.wal.cut_segment()?;
        if last == 0 {
            return Ok(());
        }
        let metadata = self.metadata_records();
        let keep = |id| self.head.contains(id);
        let filter = CheckpointFilter {
            keep_series: &keep,
            min_time,
            keep_samples: true,
            metadata,
        };
        let m = &self.metrics;
        let stats = metrics::count(
            self.wal
                .checkpoint(last, &filter, &|p| self.crash_points.check(p)),
            &m.checkpoint_creations,
            &m.checkpoint_creations_failed,
        )?;
        tracing::info!(
            last_segment = stats.seq,
            series = stats.series_kept,
            samples = stats.samples_kept,
            samples_dropped = stats.samples_dropped,
            bytes = stats.bytes,
            deleted_bytes = stats.deleted_bytes,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "WAL checkpointed"
        );
        Ok(())
    }
}

/// The thread that cuts the head, compacts blocks and applies retention periodically. Stops (and is joined) when dropped.
pub(crate) struct HeadCutter {
    /// Set to stop the thread; the condvar wakes it early.
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl HeadCutter {
    pub(crate) fn spawn(db: Arc<DbInner>, every: Duration) -> Result<HeadCutter> {
        let every = every.max(Duration::from_millis(1));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = Arc::clone(&stop);
        let dir = db.dir.clone();
        let handle = std::thread::Builder::new()
            .name("tsdb-head-cut".to_string())
            .spawn(move || loop {
                {
                    let mut stopped = stop2.0.lock();
                    if !*stopped {
                        stop2.1.wait_for(&mut stopped, every);
                    }
                    if *stopped {
                        return;
                    }
                }
                // A failed cut leaves a consistent state (see the module docs); the next
                // tick tries again.
                if let Err(e) = db.compact_head() {
                    tracing::error!(error = %e, "cutting the head into a block failed");
                }
                if let Err(e) = db.compact_blocks() {
                    tracing::error!(error = %e, "compacting blocks failed");
                }
                if let Err(e) = db.apply_retention() {
                    tracing::error!(error = %e, "deleting blocks beyond retention failed");
                }
            })
            .map_err(|e| Error::io(dir, e))?;
        Ok(HeadCutter {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for HeadCutter {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(h) = self.handle.take() {
            // A cut in progress finishes first; a panic in the thread was logged by the
            // panic hook already.
            let _ = h.join();
        }
    }
}

#[cfg(test)]
#[path = "compact_tests.rs"]
mod tests;
