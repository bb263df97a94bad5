//! Retention: deleting the oldest blocks once they fall out of the time window or the data
//! directory outgrows its size limit, as Prometheus's `--storage.tsdb.retention.*` do.
//!
//! Time: a block goes once its end is `retention_ms` or more behind the end of the newest
//! block. Size: the oldest blocks go while blocks and WAL together exceed
//! `retention_bytes`. Only whole blocks are deleted; the head is never touched.
//!
//! A deleted block leaves the served set first, then its directory is renamed to
//! `<ulid>.tmp` and removed: a crash in between leaves a `.tmp` directory, which start-up
//! removes, never a half-deleted block that would be served. Queries already holding the
//! block keep reading it; its files stay mapped until they finish.

use std::sync::Arc;

use crate::block::Block;
use crate::blocks::delete_block_dir;
use crate::db::DbInner;
use crate::error::Result;

impl DbInner {
    /// Deletes the blocks retention no longer keeps; returns how many.
    pub(crate) fn apply_retention(&self) -> Result<usize> {
        // Compaction removes blocks too: one at a time.
        let _blocks_changing = self.blocks_lock.lock();
        let blocks = self.blocks.snapshot();
        let (by_time, doomed) = beyond_retention(
            &blocks,
            self.opts.retention_ms,
            self.opts.retention_bytes,
            self.wal.size_bytes() + self.head.chunks.stats().1,
        );
        if doomed.is_empty() {
            return Ok(0);
        }
        let m = &self.metrics;
        m.time_retentions.inc_by(by_time as u64);
        m.size_retentions.inc_by((doomed.len() - by_time) as u64);
        let ulids: Vec<String> = doomed.iter().map(|b| b.meta().ulid.clone()).collect();
        self.blocks.remove(&ulids);
        for b in &doomed {
            delete_block_dir(b.dir())?;
            tracing::info!(
                block = %b.meta().ulid,
                mint = b.meta().min_time,
                maxt = b.meta().max_time,
                bytes = b.size_bytes(),
                "block deleted by retention"
            );
        }
        Ok(doomed.len())
    }
}

/// The blocks (sorted by time) that retention deletes, the first of them by time and
/// the rest by size. `head_bytes` is what the WAL and the head's chunk segments take:
/// the size limit counts them with the blocks, as Prometheus's does.
fn beyond_retention(
    blocks: &[Arc<Block>],
    retention_ms: Option<i64>,
    retention_bytes: Option<u64>,
    head_bytes: u64,
) -> (usize, Vec<Arc<Block>>) {
    let newest_end = blocks.iter().map(|b| b.meta().max_time).max();
    let mut doomed = 0;
    if let (Some(keep), Some(end)) = (retention_ms, newest_end) {
        doomed = blocks
            .iter()
            .take_while(|b| end.saturating_sub(b.meta().max_time) >= keep)
            .count();
    }
    let by_time = doomed;
    if let Some(limit) = retention_bytes {
        let mut total: u64 = head_bytes + blocks.iter().map(|b| b.size_bytes()).sum::<u64>();
        total -= blocks[..doomed].iter().map(|b| b.size_bytes()).sum::<u64>();
        while total > limit && doomed < blocks.len() {
            total -= blocks[doomed].size_bytes();
            doomed += 1;
        }
    }
    (by_time, blocks[..doomed].to_vec())
}
