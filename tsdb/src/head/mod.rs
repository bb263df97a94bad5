//! The head: every series this database knows, with its samples in Gorilla chunks in memory,
//! and the inverted index over their labels.
//!
//! Concurrency: the series table, the label map and the postings each sit behind their own
//! `RwLock`, taken in that order when more than one is needed; a series' samples sit behind
//! the series' own mutex so that reads of one series never wait on writes to another.
//! Finding or creating a series takes only these locks, so concurrent writes resolve their
//! series in parallel. Validating and applying samples is serialised by the caller
//! ([`crate::Db`] holds its append lock), which is what makes "validate, log to WAL, apply"
//! atomic per write. Removing series (once a cut has moved all their samples into blocks)
//! happens under that same lock and marks them removed, so that an appender holding one
//! resolves it again; see `truncate.rs`.
//!
//! Memory: a series holds its open chunk; its closed chunks go to chunk-head segments on
//! disk (`crate::head_chunks`) through a background writer (`chunk_writer.rs`) and are read
//! back through memory maps, so the head's memory is the open chunks, the series and the
//! index, plus 16 bytes per closed chunk (`chunk_meta.rs`).

mod append;
mod chunk_meta;
mod chunk_writer;
mod delete;
mod footprint;
mod ooo;
mod pending;
mod read;
mod replay;
mod series;
mod series_map;
mod stats;
mod truncate;

#[cfg(test)]
pub(crate) use append::apply as apply_replayed;
pub(crate) use append::{HeadAppender, SampleVerdict};
pub use footprint::HeadFootprint;
pub(crate) use replay::{ReplayShard, ReplayedSample};
pub(crate) use series::MemSeries;
pub(crate) use series_map::SeriesKey;

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::head_chunks::HeadChunks;
use crate::index::{MemPostings, SeriesId};
use crate::labels::{Labels, Symbols};
use series_map::{LabelHashState, SeriesMap};

/// Furthest a series id read from the WAL may lie beyond the table's end. Ids are
/// monotonic, so a checkpoint that dropped many series starts with a gap; a gap this large
/// means a corrupt record (one that passed its CRC), and its series gets a fresh id instead
/// of an allocation sized by garbage.
const MAX_REPLAY_ID_GAP: usize = 1 << 26;

pub(crate) struct Head {
    /// Series by id. Invariant: `series[i]` is `Some(s)` with `s.id == i` for a series in
    /// the head and `None` for an id whose series was removed (all its samples moved into
    /// blocks) or never seen on replay. Ids are handed out as `series.len()`, so they are
    /// monotonic and never reused: an id in the WAL, in a checkpoint or held by an appender
    /// never names another series. A removed id costs one pointer-sized hole until the
    /// table ends; WAL replay keeps ids, so holes survive restarts.
    series: RwLock<Vec<Option<Arc<MemSeries>>>>,
    /// Live series, i.e. `Some` entries in `series`.
    num_series: AtomicUsize,
    /// Label set → series, by the label set's hash under `hash_state`. Holds exactly the
    /// series that `series` holds.
    by_hash: RwLock<SeriesMap>,
    hash_state: LabelHashState,
    postings: RwLock<MemPostings>,
    symbols: Mutex<Symbols>,
    /// Oldest and newest sample timestamps in the head; `i64::MAX`/`i64::MIN` while empty.
    min_time: AtomicI64,
    max_time: AtomicI64,
    /// Oldest timestamp applied since the current truncation pass began (`i64::MAX` when
    /// none); lets the pass, which scans series without blocking appends, finish with an
    /// exact `min_time`. See `truncate.rs`.
    applied_min: AtomicI64,
    /// Where closed chunks go once written (`chunk_writer.rs`).
    pub(crate) chunks: Arc<HeadChunks>,
    /// Series that have closed chunks waiting for the chunk writer; may repeat ids.
    write_queue: Mutex<Vec<SeriesId>>,
    /// Serialises chunk writes with the WAL watermark's scan, which must not see a chunk
    /// as written before its segment is fsynced.
    flush_lock: Mutex<()>,
    /// Keeps the chunk directory of a test head alive.
    #[cfg(test)]
    _tmp: Option<tempfile::TempDir>,
}

impl Head {
    pub(crate) fn new(chunks: Arc<HeadChunks>) -> Self {
        Head {
            series: RwLock::new(Vec::new()),
            num_series: AtomicUsize::new(0),
            by_hash: RwLock::new(SeriesMap::default()),
            hash_state: LabelHashState::default(),
            postings: RwLock::new(MemPostings::default()),
            symbols: Mutex::new(Symbols::default()),
            min_time: AtomicI64::new(i64::MAX),
            max_time: AtomicI64::new(i64::MIN),
            applied_min: AtomicI64::new(i64::MAX),
            chunks,
            write_queue: Mutex::new(Vec::new()),
            flush_lock: Mutex::new(()),
            #[cfg(test)]
            _tmp: None,
        }
    }

    /// A head whose chunk-head segments live in a temporary directory.
    #[cfg(test)]
    pub(crate) fn for_tests() -> Self {
        let tmp = tempfile::tempdir().expect("temporary directory");
        let chunks = HeadChunks::open(tmp.path(), 1 << 20, |_, _| {}).expect("chunk directory");
        Head {
            _tmp: Some(tmp),
            ..Head::new(Arc::new(chunks))
        }
    }

    pub(crate) fn num_series(&self) -> usize {
        self.num_series.load(Ordering::Relaxed)
    }

    pub(crate) fn get(&self, id: SeriesId) -> Option<Arc<MemSeries>> {
        self.series.read().get(id as usize).cloned().flatten()
    }

    #[cfg(test)]
    pub(crate) fn lookup(&self, labels: &Labels) -> Option<SeriesId> {
        let hash = labels.hash_with(&self.hash_state);
        self.by_hash.read().get(hash, labels).map(|s| s.id)
    }

    /// Returns the id of `labels`, creating the series if it is new. The boolean is true
    /// when the series was created by this call.
    #[cfg(test)]
    pub(crate) fn get_or_create(&self, labels: &Labels) -> (SeriesId, bool) {
        let (s, created) = self.resolve(labels);
        (s.id, created)
    }

    /// Returns the series of `key`, creating it if it is new (true when this call created
    /// it). A known series costs one hash of the borrowed labels and a shared lock; only a
    /// new one builds owned labels.
    pub(crate) fn resolve(&self, key: &impl SeriesKey) -> (Arc<MemSeries>, bool) {
        self.create(key, None)
    }

    /// [`Head::resolve`] for a whole write: hashes every key without a lock, looks the
    /// known ones up under one shared lock, then creates the rest. `None` keys (series the
    /// caller skips) stay `None`. Returns the series and how many this call created.
    pub(crate) fn resolve_all<'k, K: SeriesKey + 'k>(
        &self,
        keys: impl ExactSizeIterator<Item = Option<&'k K>>,
    ) -> (Vec<Option<Arc<MemSeries>>>, u64) {
        let keys: Vec<Option<(&K, u64)>> = keys
            .map(|k| k.map(|k| (k, k.hash_with(&self.hash_state))))
            .collect();
        let mut out: Vec<Option<Arc<MemSeries>>> = {
            let map = self.by_hash.read();
            keys.iter()
                .map(|k| k.and_then(|(key, hash)| map.get(hash, key).cloned()))
                .collect()
        };
        let mut created = 0;
        for (slot, key) in out.iter_mut().zip(&keys) {
            if let (None, Some((key, _))) = (&slot, key) {
                let (series, new) = self.create(*key, None);
                created += u64::from(new);
                *slot = Some(series);
            }
        }
        (out, created)
    }

    /// Creates `key` under `want` when that id is free, else under the next id.
    fn create(&self, key: &impl SeriesKey, want: Option<SeriesId>) -> (Arc<MemSeries>, bool) {
        let hash = key.hash_with(&self.hash_state);
        if let Some(s) = self.by_hash.read().get(hash, key) {
            return (Arc::clone(s), false);
        }
        let interned = self.symbols.lock().intern_labels(&key.to_labels());
        let mut series = self.series.write();
        let mut by_hash = self.by_hash.write();
        // Another writer may have created it between our read and write locks.
        if let Some(s) = by_hash.get(hash, key) {
            return (Arc::clone(s), false);
        }
        let slot = want
            .map(|w| w as usize)
            .filter(|&w| w <= series.len().saturating_add(MAX_REPLAY_ID_GAP))
            .filter(|&w| series.get(w).is_none_or(|s| s.is_none()))
            .unwrap_or(series.len());
        let id = SeriesId::try_from(slot).unwrap_or(SeriesId::MAX);
        if slot >= series.len() {
            series.resize(slot + 1, None);
        }
        let created = Arc::new(MemSeries::new(id, interned));
        series[slot] = Some(Arc::clone(&created));
        self.num_series.fetch_add(1, Ordering::Relaxed);
        self.postings.write().add(id, &created.labels);
        by_hash.insert(hash, Arc::clone(&created));
        (created, true)
    }

    /// Creates a series read back from the WAL, keeping the id the WAL gave it when that id
    /// is free (the normal case); otherwise returns the id the head assigned and the caller
    /// records the difference. A series already in the head keeps its id.
    pub(crate) fn create_for_replay(&self, labels: &Labels, wal_id: SeriesId) -> SeriesId {
        let (s, _) = self.create(labels, Some(wal_id));
        s.mark_logged();
        s.id
    }

    /// Removes series `id` from the table, the label map and the postings, and marks it
    /// removed. Call under the database's append lock: an appender checks the mark under
    /// that lock before applying, because samples applied to a removed series are lost.
    pub(crate) fn remove(&self, id: SeriesId) {
        let mut series = self.series.write();
        let mut by_hash = self.by_hash.write();
        let Some(s) = series.get_mut(id as usize).and_then(Option::take) else {
            return;
        };
        s.mark_removed();
        by_hash.remove(s.labels.hash_with(&self.hash_state), id);
        self.postings.write().remove(id, &s.labels);
        self.num_series.fetch_sub(1, Ordering::Relaxed);
    }

    /// Whether series `id` is in the head.
    pub(crate) fn contains(&self, id: SeriesId) -> bool {
        self.series
            .read()
            .get(id as usize)
            .is_some_and(Option::is_some)
    }

    pub(crate) fn note_time(&self, t: i64) {
        self.min_time.fetch_min(t, Ordering::Relaxed);
        self.max_time.fetch_max(t, Ordering::Relaxed);
        self.applied_min.fetch_min(t, Ordering::Relaxed);
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
        self.series.read().iter().flatten().cloned().collect()
    }
}
