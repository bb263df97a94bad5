//! The set of persisted blocks a database serves, and loading it from the data directory.
//!
//! At start every `<data-dir>/<ULID>/` directory is opened. Leftovers of a block write that
//! never reached its rename (`<ULID>.tmp/`) are deleted. A block that fails to open or to
//! verify is moved to `<data-dir>/corrupted/<ULID>` with an error logged, and the rest is
//! served: one bad block must not keep a shard down, and moving it (rather than deleting
//! it) leaves it to an operator to inspect or restore. A bad `tombstones` file counts as
//! a bad block: serving the block without it would bring deleted data back.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::block::{is_tmp_dir, is_ulid, Block};
use crate::error::{Error, Result};

/// Where blocks that fail to open are moved, under the data directory.
pub(crate) const CORRUPTED_DIR: &str = "corrupted";

/// Blocks by time. Invariant: sorted by `(min_time, ulid)`, so that a query merging them
/// in order lets the newer of two overlapping blocks win ties on equal timestamps.
#[derive(Default)]
pub(crate) struct BlockSet {
    blocks: RwLock<Vec<Arc<Block>>>,
}

impl BlockSet {
    /// Opens the blocks under `dir`, cleaning up as described in the module docs. Fails
    /// only when `dir` itself cannot be read.
    /// Also returns how many blocks failed verification and were left out.
    pub(crate) fn load(dir: &Path, verify: bool) -> Result<(BlockSet, u64)> {
        let set = BlockSet::default();
        let mut corrupted = 0;
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut paths: Vec<PathBuf> = Vec::new();
        for entry in rd {
            paths.push(entry.map_err(|e| Error::io(dir, e))?.path());
        }
        paths.sort();
        for path in paths {
            if is_tmp_dir(&path) {
                tracing::info!(path = %path.display(), "removing unfinished block");
                if let Err(e) = std::fs::remove_dir_all(&path) {
                    tracing::error!(path = %path.display(), error = %e, "cannot remove unfinished block");
                }
                continue;
            }
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !is_ulid(name) || !path.is_dir() {
                continue;
            }
            crate::tombstones::remove_tmp(&path);
            match open_block(&path, verify) {
                Ok(b) => set.add(b),
                Err(e) => {
                    move_aside(dir, &path, name, &e);
                    corrupted += 1;
                }
            }
        }
        set.remove_superseded();
        Ok((set, corrupted))
    }

    /// Deletes blocks replaced by a compaction or a tombstone cleanup that crashed before
    /// deleting them: those whose sources are all among the sources of a block with more
    /// of them, and those another block names as its parent.
    fn remove_superseded(&self) {
        let blocks = self.snapshot();
        let superseded: Vec<Arc<Block>> = blocks
            .iter()
            .filter(|b| {
                let mine = &b.meta().compaction.sources;
                blocks.iter().any(|c| {
                    let theirs = &c.meta().compaction.sources;
                    let parents = &c.meta().compaction.parents;
                    (theirs.len() > mine.len() && mine.iter().all(|s| theirs.contains(s)))
                        || parents.iter().any(|p| p.ulid == b.meta().ulid)
                })
            })
            .cloned()
            .collect();
        if superseded.is_empty() {
            return;
        }
        let ulids: Vec<String> = superseded.iter().map(|b| b.meta().ulid.clone()).collect();
        self.remove(&ulids);
        for b in superseded {
            tracing::info!(block = %b.meta().ulid, "deleting a block replaced by a compaction");
            if let Err(e) = delete_block_dir(b.dir()) {
                tracing::error!(block = %b.meta().ulid, error = %e, "cannot delete a replaced block");
            }
        }
    }

    /// Serves `block` instead of the blocks `old`, in one step for queries.
    pub(crate) fn replace(&self, old: &[String], block: Block) {
        let mut blocks = self.blocks.write();
        blocks.retain(|b| !old.contains(&b.meta().ulid));
        blocks.push(Arc::new(block));
        sort(&mut blocks);
    }

    pub(crate) fn add(&self, block: Block) {
        let mut blocks = self.blocks.write();
        blocks.push(Arc::new(block));
        sort(&mut blocks);
    }

    /// Stops serving the blocks with these ids.
    pub(crate) fn remove(&self, ulids: &[String]) {
        self.blocks
            .write()
            .retain(|b| !ulids.contains(&b.meta().ulid));
    }

    /// The blocks at this moment; a query works on such a snapshot so that blocks added
    /// meanwhile do not change its answer half-way.
    pub(crate) fn snapshot(&self) -> Vec<Arc<Block>> {
        self.blocks.read().clone()
    }

    /// End (exclusive) of the newest block's range.
    pub(crate) fn max_time(&self) -> Option<i64> {
        self.blocks.read().iter().map(|b| b.meta().max_time).max()
    }

    /// Number of blocks and their bytes on disk.
    pub(crate) fn stats(&self) -> (u64, u64) {
        let blocks = self.blocks.read();
        let bytes = blocks.iter().map(|b| b.size_bytes()).sum();
        (blocks.len() as u64, bytes)
    }
}

fn sort(blocks: &mut [Arc<Block>]) {
    blocks.sort_by(|a, b| {
        (a.meta().min_time, &a.meta().ulid).cmp(&(b.meta().min_time, &b.meta().ulid))
    });
}

/// Deletes a block directory no longer served: renamed to `<ulid>.tmp` first, so that a
/// crash half-way leaves what start-up removes rather than a damaged block.
pub(crate) fn delete_block_dir(dir: &Path) -> Result<()> {
    let Some(name) = dir.file_name().and_then(|n| n.to_str()) else {
        return Ok(());
    };
    let tmp = dir.with_file_name(format!("{name}.tmp"));
    std::fs::rename(dir, &tmp).map_err(|e| Error::io(dir, e))?;
    std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))
}

fn open_block(path: &Path, verify: bool) -> Result<Block> {
    let block = Block::open(path)?;
    if verify {
        block.verify()?;
    }
    Ok(block)
}

/// Moves the block at `path` to `<dir>/corrupted/<name>`; failures are logged, not
/// returned, since the block is left out of the served set either way.
fn move_aside(dir: &Path, path: &Path, name: &str, err: &Error) {
    let corrupted = dir.join(CORRUPTED_DIR);
    let mut dst = corrupted.join(name);
    // A block of the same id moved aside before (restored by hand, failed again).
    let mut n = 1;
    while dst.exists() {
        dst = corrupted.join(format!("{name}.{n}"));
        n += 1;
    }
    let moved = std::fs::create_dir_all(&corrupted).and_then(|()| std::fs::rename(path, &dst));
    match moved {
        Ok(()) => tracing::error!(
            block = name,
            error = %err,
            moved_to = %dst.display(),
            "block failed verification; moved aside, serving the others"
        ),
        Err(e) => tracing::error!(
            block = name,
            error = %err,
            move_error = %e,
            "block failed verification and cannot be moved aside; not serving it"
        ),
    }
}
