//! The head: every series this database knows, with its samples in Gorilla chunks in memory,
//! and the inverted index over their labels.
//!
//! Concurrency: the series table, the label map and the postings each sit behind their own
//! `RwLock`, taken in that order when more than one is needed; a series' samples sit behind
//! the series' own mutex so that reads of one series never wait on writes to another.
//! Finding or creating a series takes only these locks, so concurrent writes resolve their
//! series in parallel. The symbol table's mutex (`symbols.rs`) is taken last and alone: a
//! series' labels are interned before the write locks and released when it is dropped,
//! which may happen under them. Validating and applying samples is serialised by the caller
//! ([`crate::Db`] holds its append lock), which is what makes "validate, log to WAL, apply"
//! atomic per write. Removing series (once a cut has moved all their samples into blocks)
//! happens under that same lock and marks them removed, so that an appender holding one
//! resolves it again; see `truncate.rs`.
//!
//! Memory: a series holds its open chunk; its closed chunks go to chunk-head segments on
//! disk (`crate::head_chunks`) through a background writer (`chunk_writer.rs`) and are read
//! back through memory maps, so the head's memory is the open chunks, the series and the
//! index, plus a few bytes per closed chunk (`chunk_meta.rs`).

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
mod symbols;
mod truncate;

#[cfg(test)]
pub(crate) use append::apply as apply_replayed;
pub(crate) use append::{HeadAppender, SampleVerdict};
pub use footprint::HeadFootprint;
pub(crate) use replay::{ReplayShard, ReplayedSample};
pub(crate) use series::{MemSeries, SharedSeries};
pub(crate) use series_map::SeriesKey;

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::head_chunks::HeadChunks;
use crate::index::{MemPostings, SeriesId};
use crate::labels::Labels;
use crate::selection::SelectionCache;
use series_map::{LabelHashState, SeriesMap};
use symbols::SymbolTable;

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
    series: RwLock<Vec<Option<SharedSeries>>>,
    /// Live series, i.e. `Some` entries in `series`.
    num_series: AtomicUsize,
    /// Label set → series, by the label set's hash under `hash_state`. Holds exactly the
    /// series that `series` holds.
    by_hash: RwLock<SeriesMap>,
    hash_state: LabelHashState,
    postings: RwLock<MemPostings>,
    /// Every label name and value of the series in the head, once; series hold their
    /// labels as ids in it and release them when dropped.
    symbols: Arc<SymbolTable>,
    /// Matchers → the series they select, reused while no series is created or removed
    /// (`crate::selection`; invalidated under the postings' write lock).
    pub(crate) selections: SelectionCache,
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
            symbols: Arc::new(SymbolTable::default()),
            selections: SelectionCache::default(),
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

    pub(crate) fn get(&self, id: SeriesId) -> Option<SharedSeries> {
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
    pub(crate) fn resolve(&self, key: &impl SeriesKey) -> (SharedSeries, bool) {
        self.create(key, None)
    }

    /// [`Head::resolve`] for a whole write: hashes every key without a lock, looks the
    /// known ones up under one shared lock, then creates the rest. `None` keys (series the
    /// caller skips) stay `None`. Returns the series and how many this call created.
    pub(crate) fn resolve_all<'k, K: SeriesKey + 'k>(
        &self,
        keys: impl ExactSizeIterator<Item = Option<&'k K>>,
    ) -> (Vec<Option<SharedSeries>>, u64) {
        let keys: Vec<Option<(&K, u64)>> = keys
            .map(|k| k.map(|k| (k, k.hash_with(&self.hash_state))))
            .collect();
        let mut out: Vec<Option<SharedSeries>> = {
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
    fn create(&self, key: &impl SeriesKey, want: Option<SeriesId>) -> (SharedSeries, bool) {
        let hash = key.hash_with(&self.hash_state);
        if let Some(s) = self.by_hash.read().get(hash, key) {
            return (SharedSeries::clone(s), false);
        }
        let labels = key.intern(&self.symbols);
        let mut series = self.series.write();
        let mut by_hash = self.by_hash.write();
        let mut postings = self.postings.write();
        self.insert_locked(
            &mut series,
            &mut by_hash,
            &mut postings,
            (key, hash, labels),
            want,
        )
    }

    /// Adds a series under the three write locks, unless another writer created it
    /// between the caller's lookup and its locks.
    fn insert_locked(
        &self,
        series: &mut Vec<Option<SharedSeries>>,
        by_hash: &mut SeriesMap,
        postings: &mut MemPostings,
        (key, hash, labels): (&impl SeriesKey, u64, symbols::SeriesLabels),
        want: Option<SeriesId>,
    ) -> (SharedSeries, bool) {
        if let Some(s) = by_hash.get(hash, key) {
            return (SharedSeries::clone(s), false);
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
        let created = SharedSeries::new(MemSeries::new(id, labels));
        series[slot] = Some(SharedSeries::clone(&created));
        self.num_series.fetch_add(1, Ordering::Relaxed);
        postings.add(id, &created.labels.to_labels());
        self.selections.invalidate();
        by_hash.insert(hash, SharedSeries::clone(&created));
        (created, true)
    }

    /// Creates series read back from the WAL, keeping the id the WAL gave each when that id
    /// is free (the normal case); otherwise the head assigns one and the caller records the
    /// difference. A series already in the head keeps its id. Takes a whole series record
    /// (of a WAL or a checkpoint): hashes and interns first, then takes the head's write
    /// locks once for the whole batch. Returns the series in the order given.
    pub(crate) fn create_many_for_replay<'a>(
        &self,
        records: impl IntoIterator<Item = (&'a Labels, SeriesId)>,
    ) -> Vec<SharedSeries> {
        let prepared: Vec<(&Labels, u64, SeriesId)> = records
            .into_iter()
            .map(|(l, id)| (l, l.hash_with(&self.hash_state), id))
            .collect();
        let interned: Vec<symbols::SeriesLabels> = prepared
            .iter()
            .map(|(l, _, _)| self.symbols.labels_of(l))
            .collect();
        let mut series = self.series.write();
        let mut by_hash = self.by_hash.write();
        let mut postings = self.postings.write();
        let out: Vec<SharedSeries> = prepared
            .into_iter()
            .zip(interned)
            .map(|((l, hash, want), labels)| {
                let (s, _) = self.insert_locked(
                    &mut series,
                    &mut by_hash,
                    &mut postings,
                    (l, hash, labels),
                    Some(want),
                );
                s.mark_logged();
                s
            })
            .collect();
        out
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
        let mut postings = self.postings.write();
        postings.remove(id, &s.labels.to_labels());
        self.selections.invalidate();
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

    pub(crate) fn all_series(&self) -> Vec<SharedSeries> {
        self.series.read().iter().flatten().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pod: usize) -> Labels {
        Labels::from_pairs([
            ("__name__", "up".to_string()),
            ("job", "node".to_string()),
            ("pod", format!("pod-{pod}")),
        ])
    }

    #[test]
    fn removed_series_release_their_symbols() {
        let head = Head::for_tests();
        let ids: Vec<SeriesId> = (0..100).map(|i| head.get_or_create(&labels(i)).0).collect();
        // "__name__", "up", "job", "node", "pod" and 100 pod names.
        assert_eq!(head.symbols.len(), 105);
        let full = head.footprint().symbol_bytes;
        for &id in &ids[..90] {
            head.remove(id);
        }
        assert_eq!(head.symbols.len(), 15);
        assert!(head.footprint().symbol_bytes < full);
        assert_eq!(head.lookup(&labels(95)), Some(ids[95]));
        assert_eq!(
            head.get(ids[95]).map(|s| s.labels.to_labels()),
            Some(labels(95))
        );
        // A series an appender still holds keeps its symbols until it is dropped.
        let held = head.get(ids[99]);
        head.remove(ids[99]);
        assert_eq!(head.symbols.len(), 15);
        drop(held);
        assert_eq!(head.symbols.len(), 14);
        // Freed ids are reused by new series: 80 new pod names take 80 of the 91 free ids.
        assert_eq!(head.symbols.ids_assigned(), 105);
        for i in 200..280 {
            head.get_or_create(&labels(i));
        }
        assert_eq!(head.symbols.len(), 94);
        assert_eq!(head.symbols.ids_assigned(), 105);
    }

    #[test]
    fn replayed_series_are_created_in_one_batch_under_their_ids() {
        let head = Head::for_tests();
        let (a, b, c) = (labels(1), labels(2), labels(3));
        let made = head.create_many_for_replay([(&a, 5), (&b, 9), (&c, 5), (&a, 7)]);
        let ids: Vec<SeriesId> = made.iter().map(|s| s.id).collect();
        // `c` asked for a taken id and got the next free one; `a` again is the same series.
        assert_eq!(ids, [5, 9, 10, 5]);
        assert!(made.iter().all(|s| s.is_logged()));
        assert_eq!(head.num_series(), 3);
        assert_eq!(head.lookup(&c), Some(10));
        assert_eq!(head.symbols.len(), 8);
        assert_eq!(
            head.series_labels(&[], i64::MIN, i64::MAX).len(),
            0,
            "no matchers select nothing"
        );
    }
}
