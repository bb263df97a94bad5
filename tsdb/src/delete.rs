//! Deleting series data (`Db::delete_series`) and rewriting blocks without it
//! (`Db::clean_tombstones`), as Prometheus's admin API does.
//!
//! ## Delete
//! Under the cut lock and the blocks lock (no head cut, compaction, retention or cleanup
//! runs meanwhile, so no block or head range changes hands half-way):
//!
//! 1. Each block overlapping the range gets tombstones for its matching series
//!    (`block/delete.rs`), each block's file replaced atomically. *Crash:* some blocks
//!    have them, the delete was not acknowledged; a repeat finishes it.
//! 2. Under the append lock, the head's deletions are planned, logged to the WAL as one
//!    `Tombstones` record, applied in place (`head/delete.rs`), and series left without
//!    samples are removed. *Crash:* replay applies the record at its place in the log.
//! 3. The WAL is synced per the fsync policy; only then does the caller answer 2xx.
//!
//! ## Clean tombstones
//! Head samples are deleted physically at once, so only blocks have tombstones. Each
//! block with tombstones is rewritten, under the blocks lock, like a compaction of one:
//!
//! | step                                                       | a crash here leaves                         |
//! |------------------------------------------------------------|---------------------------------------------|
//! | write the new block (`.tmp`, fsync, rename); its `meta.json` names the old one in `compaction.parents` | a `.tmp` removed at start, or both blocks: at start the old one is deleted as the new one's parent (`blocks.rs`) |
//! | serve the new block instead of the old one, in one swap   | the same                                    |
//! | delete the old block (renamed to `.tmp`, then removed)     | a `.tmp` removed at start                   |
//!
//! A block left without any sample is deleted instead of rewritten, unless it is the
//! newest block, whose end bounds WAL replay: that one is rewritten empty.

use std::time::Instant;

use crate::block::{
    merge_blocks, try_write_block, Block, BlockCompaction, BlockDesc, BlockWriterOptions,
};
use crate::db::DbInner;
use crate::error::Result;
use crate::fault;
use crate::index::Matcher;
use crate::wal::Record;

impl DbInner {
    /// Steps 1–3 of the module docs.
    pub(crate) fn delete_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<()> {
        if matchers.is_empty() || mint > maxt {
            return Ok(());
        }
        let started = Instant::now();
        let _cutting = self.cut_lock.lock();
        let _blocks_changing = self.blocks_lock.lock();
        let mut block_series = 0;
        for b in self.blocks.snapshot() {
            block_series += b.delete(matchers, mint, maxt, &|| {
                self.crash_points.check(fault::TOMBSTONES_WRITTEN)
            })?;
        }
        self.crash_points.check(fault::DELETE_BLOCKS_DONE)?;
        let (pos, head_series) = {
            let _appends = self.append_lock.lock();
            let plan = self.head.plan_delete(matchers, mint, maxt);
            if plan.is_empty() {
                (None, 0)
            } else {
                let pos = self.wal.write(&[Record::Tombstones(plan.clone())])?;
                self.head.apply_deletes(&plan);
                // Drops nothing by time; removes the series left empty and makes the
                // head's time range exact again.
                let pass = self.head.truncate_before(i64::MIN);
                self.head.remove_empty(pass);
                (Some(pos), plan.len())
            }
        };
        if let Some(pos) = pos {
            self.wal.sync_to(pos)?;
        }
        tracing::info!(
            mint,
            maxt,
            block_series,
            head_series,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "series data deleted"
        );
        Ok(())
    }

    /// Rewrites every block with tombstones; returns how many.
    pub(crate) fn clean_tombstones(&self) -> Result<usize> {
        let _blocks_changing = self.blocks_lock.lock();
        let started = Instant::now();
        let mut cleaned = 0;
        for b in self.blocks.snapshot() {
            if b.tombstones().is_empty() {
                continue;
            }
            self.clean_block(&b)?;
            cleaned += 1;
            self.crash_points.check(fault::CLEAN_ONE_DONE)?;
        }
        crate::metrics::observe(&self.metrics.tombstone_cleanup, started.elapsed());
        Ok(cleaned)
    }

    fn clean_block(&self, old: &Block) -> Result<()> {
        let started = Instant::now();
        let meta = old.meta();
        // The block's own reads leave the deleted samples out; the block is read one
        // series at a time as the new one is written.
        let mut series = merge_blocks([old]).peekable();
        let old_ulid = meta.ulid.clone();
        // The newest block's end is where WAL replay starts keeping samples (the block
        // floor), so it is kept, empty, rather than deleted: samples of its range that the
        // WAL still holds (a checkpoint failed) must not come back at the next start.
        let newest = self.blocks.max_time().is_some_and(|t| t <= meta.max_time);
        if series.peek().is_none() && !newest {
            self.blocks.remove(std::slice::from_ref(&old_ulid));
            crate::blocks::delete_block_dir(old.dir())?;
            tracing::info!(block = %old_ulid, "block left without samples by deletes removed");
            return Ok(());
        }
        let opts = BlockWriterOptions {
            compaction: Some(BlockCompaction {
                level: meta.compaction.level,
                sources: meta.compaction.sources.clone(),
                parents: vec![BlockDesc {
                    ulid: old_ulid.clone(),
                    min_time: meta.min_time,
                    max_time: meta.max_time,
                }],
            }),
            ..BlockWriterOptions::default()
        };
        let new_meta = try_write_block(&self.dir, meta.min_time, meta.max_time, series, &opts)?;
        self.crash_points.check(fault::CLEAN_WRITTEN)?;
        let block = Block::open(&self.dir.join(&new_meta.ulid))?;
        self.blocks.replace(std::slice::from_ref(&old_ulid), block);
        self.crash_points.check(fault::CLEAN_SWAPPED)?;
        crate::blocks::delete_block_dir(old.dir())?;
        tracing::info!(
            old = %old_ulid,
            new = %new_meta.ulid,
            series = new_meta.stats.num_series,
            samples = new_meta.stats.num_samples,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "block rewritten without deleted samples"
        );
        Ok(())
    }
}

#[cfg(test)]
#[path = "delete_tests.rs"]
mod tests;
