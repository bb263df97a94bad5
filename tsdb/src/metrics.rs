//! The storage engine's own metrics: what it did in the background (cuts, compactions,
//! checkpoints, WAL truncations, retention, tombstone cleaning) and what it found on
//! opening (corrupt WAL segments, blocks moved aside), so that a server running for months
//! can be watched and alerted on. Names follow Prometheus's `prometheus_tsdb_*` ones under
//! the `tianshu_tsdb_` prefix, so that an operator's Prometheus alerts translate one to one
//! (`prometheus_tsdb_compactions_failed_total` → `tianshu_tsdb_compactions_failed_total`).
//!
//! Counted where the work is done (`compact.rs`, `compactor.rs`, `retention.rs`, …): a step
//! counts as failed when it returned an error, whatever state the error left behind (every
//! state a failure leaves is consistent; see those files).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::error::Result;

/// One database's metrics; cheap to share (every field is a handle to shared atomics).
#[derive(Debug)]
pub struct TsdbMetrics {
    /// Blocks written from the head or merged from other blocks (Prometheus counts both
    /// as compactions too).
    pub(crate) compactions: Counter,
    pub(crate) compactions_failed: Counter,
    /// Seconds each of those took, from reading to the new block served.
    pub(crate) compaction_duration: Histogram,
    /// Head ranges dropped from memory once their block was served.
    pub(crate) head_truncations: Counter,
    pub(crate) checkpoint_creations: Counter,
    pub(crate) checkpoint_creations_failed: Counter,
    /// WAL truncations below the head's low watermark (between cuts, see `db.rs`).
    pub(crate) wal_truncations: Counter,
    pub(crate) wal_truncations_failed: Counter,
    /// Corruptions replay met and read past: a corrupt segment (its rest skipped) or a
    /// torn tail (truncated).
    pub(crate) wal_corruptions: Counter,
    /// Blocks deleted by time retention and by size retention.
    pub(crate) time_retentions: Counter,
    pub(crate) size_retentions: Counter,
    /// Blocks that failed verification when the database opened and were moved aside.
    pub(crate) blocks_corrupted: Counter,
    /// Seconds each `clean_tombstones` took.
    pub(crate) tombstone_cleanup: Histogram,
    /// How long opening the database took replaying its WAL and chunks, in seconds.
    pub(crate) data_replay_duration: Gauge<f64, AtomicU64>,
}

impl Default for TsdbMetrics {
    fn default() -> Self {
        TsdbMetrics {
            compactions: Counter::default(),
            compactions_failed: Counter::default(),
            // 1 s .. about 2.3 h by powers of 2: a 2 h block of 1 M series takes minutes.
            compaction_duration: Histogram::new(exponential_buckets(1.0, 2.0, 14)),
            head_truncations: Counter::default(),
            checkpoint_creations: Counter::default(),
            checkpoint_creations_failed: Counter::default(),
            wal_truncations: Counter::default(),
            wal_truncations_failed: Counter::default(),
            wal_corruptions: Counter::default(),
            time_retentions: Counter::default(),
            size_retentions: Counter::default(),
            blocks_corrupted: Counter::default(),
            // 0.25 s .. about 34 min by powers of 2.
            tombstone_cleanup: Histogram::new(exponential_buckets(0.25, 2.0, 14)),
            data_replay_duration: Gauge::default(),
        }
    }
}

impl TsdbMetrics {
    /// Registers every metric under the `tianshu_tsdb_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("tianshu_tsdb");
        let counters: [(&str, &str, &Counter); 11] = [
            (
                "compactions",
                "Blocks written by cutting the head or merging blocks",
                &self.compactions,
            ),
            (
                "compactions_failed",
                "Head cuts and block merges that failed",
                &self.compactions_failed,
            ),
            (
                "head_truncations",
                "Head ranges dropped from memory after their block was served",
                &self.head_truncations,
            ),
            (
                "checkpoint_creations",
                "WAL checkpoints written",
                &self.checkpoint_creations,
            ),
            (
                "checkpoint_creations_failed",
                "WAL checkpoints that failed",
                &self.checkpoint_creations_failed,
            ),
            (
                "wal_truncations",
                "WAL truncations below the head's low watermark",
                &self.wal_truncations,
            ),
            (
                "wal_truncations_failed",
                "WAL truncations that failed",
                &self.wal_truncations_failed,
            ),
            (
                "wal_corruptions",
                "Corrupt WAL segments and torn tails met and read past at start",
                &self.wal_corruptions,
            ),
            (
                "time_retentions",
                "Blocks deleted by time retention",
                &self.time_retentions,
            ),
            (
                "size_retentions",
                "Blocks deleted by size retention",
                &self.size_retentions,
            ),
            (
                "blocks_corrupted",
                "Blocks that failed verification at start and were moved aside",
                &self.blocks_corrupted,
            ),
        ];
        for (name, help, c) in counters {
            r.register(name, help, c.clone());
        }
        r.register(
            "compaction_duration_seconds",
            "Time a head cut or block merge took",
            self.compaction_duration.clone(),
        );
        r.register(
            "tombstone_cleanup_seconds",
            "Time a clean_tombstones took",
            self.tombstone_cleanup.clone(),
        );
        r.register(
            "data_replay_duration_seconds",
            "Time opening the database took to replay its WAL and head chunks",
            self.data_replay_duration.clone(),
        );
    }
}

/// Counts `r` in `ok` or `failed`, and passes it on.
pub(crate) fn count<T>(r: Result<T>, ok: &Counter, failed: &Counter) -> Result<T> {
    match &r {
        Ok(_) => ok.inc(),
        Err(_) => failed.inc(),
    };
    r
}

/// Observes `d` in seconds.
pub(crate) fn observe(h: &Histogram, d: Duration) {
    h.observe(d.as_secs_f64());
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
