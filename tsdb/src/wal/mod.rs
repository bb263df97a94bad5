//! Write-ahead log (stub: being implemented).

mod record;
pub use record::{MetadataRecord, Record, RefSample, SeriesRecord};

use std::path::Path;
use std::time::Duration;

use crate::error::Result;

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
    pub segments: usize,
    pub records: u64,
    pub bytes: u64,
    pub torn_tail_truncated: bool,
}

pub struct Wal {}

impl Wal {
    pub fn replay(_dir: &Path, _f: impl FnMut(Record) -> Result<()>) -> Result<ReplayStats> {
        unimplemented!()
    }
    pub fn open(_dir: &Path, _opts: WalOptions) -> Result<Wal> {
        unimplemented!()
    }
    pub fn write(&self, _records: &[Record]) -> Result<WalPosition> {
        unimplemented!()
    }
    pub fn sync_to(&self, _pos: WalPosition) -> Result<()> {
        unimplemented!()
    }
    pub fn size_bytes(&self) -> u64 {
        unimplemented!()
    }
}
