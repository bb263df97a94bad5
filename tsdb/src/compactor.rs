//! Compaction: merging adjacent blocks into larger ones (with the default options
//! 2h → 6h → 24h), so that long queries open few blocks and chunks of one series are
//! packed together.
//!
//! Planning: for each compaction range `R` (ascending), blocks are grouped by the aligned
//! window `[k*R, (k+1)*R)` that wholly contains them. A window with two or more blocks is
//! compacted once it is closed, i.e. its end is at or before the block floor (no cut will
//! add to it any more). The oldest such window goes first.
//!
//! Execution, and what a crash after each step leaves:
//!
//! 1. Stream the window's blocks, merged by series (`block/merge.rs`), into the new block
//!    (`.tmp`, fsync, rename). *Crash before the rename:* a `.tmp` directory, removed at start.
//! 2. Serve the new block in place of the old ones, in one swap: a query sees either.
//!    *Crash:* old and new blocks on disk. At start, a block whose sources are all among
//!    another block's sources is superseded and deleted (`blocks.rs`), as Prometheus does.
//! 3. Delete the old blocks (renamed to `.tmp` first, then removed).
//!
//! Deleted samples: the blocks' reads (`Block::all_series`) leave out what their tombstones
//! delete, so the merged block holds none of it and has no tombstones of its own.
//!
//! Memory: one series of each block at a time, and the new block's index (labels and
//! chunk metas of every series) until it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Instant;

use crate::block::{merge_blocks, try_write_block, Block, BlockCompaction, BlockWriterOptions};
use crate::db::DbInner;
use crate::error::Result;
use crate::fault;
use crate::metrics;

impl DbInner {
    /// Compacts closed windows until none is left; returns the number of blocks written.
    pub(crate) fn compact_blocks(&self) -> Result<usize> {
        let _blocks_changing = self.blocks_lock.lock();
        let mut written = 0;
        loop {
            let floor = self.block_floor.load(std::sync::atomic::Ordering::SeqCst);
            let Some(group) = plan(
                &self.blocks.snapshot(),
                &self.opts.compaction_ranges_ms,
                floor,
            ) else {
                return Ok(written);
            };
            let started = Instant::now();
            let m = &self.metrics;
            metrics::count(
                self.compact_group(&group),
                &m.compactions,
                &m.compactions_failed,
            )?;
            metrics::observe(&m.compaction_duration, started.elapsed());
            written += 1;
        }
    }

    fn compact_group(&self, group: &[Arc<Block>]) -> Result<()> {
        let started = Instant::now();
        let mint = group.iter().map(|b| b.meta().min_time).min().unwrap_or(0);
        let maxt = group.iter().map(|b| b.meta().max_time).max().unwrap_or(0);
        let sources: BTreeSet<String> = group
            .iter()
            .flat_map(|b| b.meta().compaction.sources.iter().cloned())
            .collect();
        let level = group
            .iter()
            .map(|b| b.meta().compaction.level)
            .max()
            .unwrap_or(1)
            + 1;
        let opts = BlockWriterOptions {
            compaction: Some(BlockCompaction {
                level,
                sources: sources.into_iter().collect(),
                parents: Vec::new(),
            }),
            ..BlockWriterOptions::default()
        };
        let input = merge_blocks(group.iter().map(|b| &**b));
        let meta = try_write_block(&self.dir, mint, maxt, input, &opts)?;
        self.crash_points.check(fault::COMPACTION_WRITTEN)?;
        let block = Block::open(&self.dir.join(&meta.ulid))?;
        let old: Vec<String> = group.iter().map(|b| b.meta().ulid.clone()).collect();
        self.blocks.replace(&old, block);
        for (i, b) in group.iter().enumerate() {
            crate::blocks::delete_block_dir(b.dir())?;
            if i == 0 {
                self.crash_points.check(fault::COMPACTION_PARTLY_DELETED)?;
            }
        }
        tracing::info!(
            ulid = %meta.ulid,
            mint,
            maxt,
            level,
            merged = group.len(),
            series = meta.stats.num_series,
            samples = meta.stats.num_samples,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "blocks compacted"
        );
        Ok(())
    }
}

/// The oldest group of blocks to compact, per the module docs.
fn plan(blocks: &[Arc<Block>], ranges: &[i64], floor: i64) -> Option<Vec<Arc<Block>>> {
    let mut ranges: Vec<i64> = ranges.iter().copied().filter(|r| *r > 0).collect();
    ranges.sort_unstable();
    for r in ranges {
        let mut windows: BTreeMap<i64, Vec<Arc<Block>>> = BTreeMap::new();
        for b in blocks {
            let k = b.meta().min_time.div_euclid(r);
            let end = k.saturating_add(1).saturating_mul(r);
            if b.meta().max_time <= end && end <= floor {
                windows.entry(k).or_default().push(Arc::clone(b));
            }
        }
        if let Some((_, group)) = windows.into_iter().find(|(_, g)| g.len() >= 2) {
            return Some(group);
        }
    }
    None
}
