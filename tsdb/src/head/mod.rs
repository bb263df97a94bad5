//! The head: every series this database knows, with its samples in Gorilla chunks in memory,
//! and the inverted index over their labels.
//!
//! Concurrency: the series table, the label map and the postings each sit behind their own
//! `RwLock`, taken in that order when more than one is needed; a series' samples sit behind
//! the series' own mutex so that reads of one series never wait on writes to another.
//! Appends are serialised by the caller ([`crate::Db`] holds its append lock), which is what
//! makes "validate, log to WAL, apply" atomic per write.

mod append;
mod read;
mod series;

pub(crate) use append::{apply as apply_replayed, HeadAppender, SampleVerdict};
pub(crate) use series::MemSeries;

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::index::{MemPostings, SeriesId};
use crate::labels::{Labels, Symbols};

pub(crate) struct Head {
    /// Series by id. Invariant: `series[i].id == i`; append-only (series are never removed
    /// until retention exists), so an id handed out stays valid.
    series: RwLock<Vec<Arc<MemSeries>>>,
    /// Label set → id. Keys share their strings with `series` through `symbols`.
    by_labels: RwLock<HashMap<Labels, SeriesId>>,
    postings: RwLock<MemPostings>,
    symbols: Mutex<Symbols>,
    /// Oldest and newest sample timestamps in the head; `i64::MAX`/`i64::MIN` while empty.
    min_time: AtomicI64,
    max_time: AtomicI64,
}

impl Head {
    pub(crate) fn new() -> Self {
        Head {
            series: RwLock::new(Vec::new()),
            by_labels: RwLock::new(HashMap::new()),
            postings: RwLock::new(MemPostings::default()),
            symbols: Mutex::new(Symbols::default()),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
        }
    }

    pub(crate) fn num_series(&self) -> usize {
        self.series.read().len()
    }

    pub(crate) fn get(&self, id: SeriesId) -> Option<Arc<MemSeries>> {
        self.series.read().get(id as usize).cloned()
    }

    pub(crate) fn lookup(&self, labels: &Labels) -> Option<SeriesId> {
        self.by_labels.read().get(labels).copied()
    }

    /// Returns the id of `labels`, creating the series if it is new. The boolean is true
    /// when the series was created by this call.
    pub(crate) fn get_or_create(&self, labels: &Labels) -> (SeriesId, bool) {
        if let Some(id) = self.lookup(labels) {
            return (id, false);
        }
        let interned = self.symbols.lock().intern_labels(labels);
        let mut series = self.series.write();
        let mut by_labels = self.by_labels.write();
        // Another writer may have created it between our read and write locks.
        if let Some(id) = by_labels.get(labels) {
            return (*id, false);
        }
        let id = SeriesId::try_from(series.len()).unwrap_or(SeriesId::MAX);
        series.push(Arc::new(MemSeries::new(id, interned.clone())));
        self.postings.write().add(id, &interned);
        by_labels.insert(interned, id);
        (id, true)
    }

    /// Creates a series with a given id, as read back from the WAL. Ids in the WAL are dense
    /// and in order, so the expected case is `id == len`; anything else returns the id the
    /// head assigned, and the caller records the difference.
    pub(crate) fn create_for_replay(&self, labels: &Labels) -> SeriesId {
        self.get_or_create(labels).0
    }

    pub(crate) fn note_time(&self, t: i64) {
        self.min_time.fetch_min(t, Ordering::Relaxed);
        self.max_time.fetch_max(t, Ordering::Relaxed);
    }

    pub(crate) fn min_time(&self) -> Option<i64> {
        let t = self.min_time.load(Ordering::Relaxed);
        (t != i64::MAX).then_some(t)
    }

    pub(crate) fn max_time(&self) -> Option<i64> {
        let t = self.max_time.load(Ordering::Relaxed);
        (t != i64::MIN).then_some(t)
    }

    /// True when the head holds samples overlapping `[mint, maxt]`.
    pub(crate) fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        match (self.min_time(), self.max_time()) {
            (Some(lo), Some(hi)) => lo <= maxt && mint <= hi,
            _ => false,
        }
    }

    pub(crate) fn postings(&self) -> parking_lot::RwLockReadGuard<'_, MemPostings> {
        self.postings.read()
    }

    pub(crate) fn all_series(&self) -> Vec<Arc<MemSeries>> {
        self.series.read().clone()
    }
}
