//! The head's label set → series map, keyed by a 64-bit hash of the label set.
//!
//! Keying by hash (as Prometheus's `stripeSeries` does) lets an append find a known series
//! from labels borrowed out of the request ([`LabelsRef`]) without building, hashing
//! and comparing an owned [`Labels`] through SipHash: the hash is computed once per series
//! and per write, outside every lock, and the map itself hashes nothing. Two label sets
//! with one hash are legal and handled: the first is in `primary`, the others in
//! `conflicts`. The hash state is seeded at random per head, so a client cannot choose
//! label sets that collide.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::symbols::{SeriesLabels, SymbolTable};
use super::SharedSeries;
use crate::labels::{Labels, LabelsRef};

/// Hash state of the label-set hashes. Fast on short strings, which label names and values
/// are; seeded at random per instance.
pub(crate) type LabelHashState = foldhash::fast::RandomState;

/// A label set that can be looked up: owned or borrowed.
pub(crate) trait SeriesKey {
    fn hash_with(&self, state: &LabelHashState) -> u64;
    /// Whether `labels` is this label set.
    fn matches(&self, labels: &SeriesLabels) -> bool;
    /// The label set as a series' labels in `table`.
    fn intern(&self, table: &Arc<SymbolTable>) -> SeriesLabels;
    fn to_labels(&self) -> Labels;
}

impl SeriesKey for Labels {
    fn hash_with(&self, state: &LabelHashState) -> u64 {
        Labels::hash_with(self, state)
    }
    fn matches(&self, labels: &SeriesLabels) -> bool {
        self.len() == labels.len()
            && self
                .iter()
                .zip(labels.iter())
                .all(|(l, (n, v))| *l.name == *n && *l.value == *v)
    }
    fn intern(&self, table: &Arc<SymbolTable>) -> SeriesLabels {
        table.labels_of(self)
    }
    fn to_labels(&self) -> Labels {
        self.clone()
    }
}

impl SeriesKey for LabelsRef<'_> {
    fn hash_with(&self, state: &LabelHashState) -> u64 {
        LabelsRef::hash_with(self, state)
    }
    fn matches(&self, labels: &SeriesLabels) -> bool {
        self.len() == labels.len() && self.iter().zip(labels.iter()).all(|(a, b)| a == b)
    }
    fn intern(&self, table: &Arc<SymbolTable>) -> SeriesLabels {
        table.series_labels(self.iter())
    }
    fn to_labels(&self) -> Labels {
        LabelsRef::to_labels(self)
    }
}

/// Hasher for keys that are already well mixed or dense: label-set hashes and series ids.
/// One multiply by an odd constant (Fibonacci hashing) spreads dense ids over the table's
/// buckets and its control bytes; never use it for keys a client chooses.
#[derive(Default, Clone, Copy)]
pub(crate) struct PremixedHasher(u64);

impl Hasher for PremixedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

pub(crate) type BuildPremixed = BuildHasherDefault<PremixedHasher>;

/// Heap bytes of a `HashMap`/`HashSet` table whose `capacity()` is `capacity`, with
/// entries of `entry` bytes: hashbrown keeps a power-of-two number of buckets, at most 7/8
/// of them used (all but one below 8 buckets), each with a control byte, plus one group
/// (16 bytes) of control bytes mirrored at the end.
pub(crate) fn table_bytes(capacity: usize, entry: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 7 {
        capacity + 1
    } else {
        capacity * 8 / 7
    }
    .next_power_of_two();
    buckets * (entry + 1) + 16
}

/// Label-set hash → series.
///
/// Invariants: every series is in exactly one of `primary` (under its own hash) and
/// `conflicts` (in the list under its hash, whose `primary` entry is another series); no
/// two entries hold equal label sets; a list in `conflicts` is never empty.
#[derive(Default)]
pub(crate) struct SeriesMap {
    primary: HashMap<u64, SharedSeries, BuildPremixed>,
    conflicts: HashMap<u64, Vec<SharedSeries>, BuildPremixed>,
}

impl SeriesMap {
    /// The series with labels `key`, whose hash is `hash`.
    pub(crate) fn get(&self, hash: u64, key: &impl SeriesKey) -> Option<&SharedSeries> {
        let first = self.primary.get(&hash)?;
        if key.matches(&first.labels) {
            return Some(first);
        }
        self.conflicts
            .get(&hash)?
            .iter()
            .find(|s| key.matches(&s.labels))
    }

    /// Adds `series`, whose labels hash to `hash` and are not in the map yet.
    pub(crate) fn insert(&mut self, hash: u64, series: SharedSeries) {
        match self.primary.entry(hash) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(series);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.conflicts.entry(hash).or_default().push(series);
            }
        }
    }

    /// Heap bytes of the two maps (their tables and the conflict lists), by capacity.
    pub(crate) fn heap_bytes(&self) -> usize {
        let lists: usize = self
            .conflicts
            .values()
            .map(|l| l.capacity() * size_of::<SharedSeries>())
            .sum();
        table_bytes(self.primary.capacity(), size_of::<(u64, SharedSeries)>())
            + table_bytes(
                self.conflicts.capacity(),
                size_of::<(u64, Vec<SharedSeries>)>(),
            )
            + lists
    }

    /// Removes the series with id `id` under `hash`, if there. A conflicting series takes
    /// the place of a removed primary one.
    pub(crate) fn remove(&mut self, hash: u64, id: u32) {
        if self.primary.get(&hash).is_some_and(|s| s.id == id) {
            let heir = match self.conflicts.get_mut(&hash) {
                Some(list) => {
                    let heir = list.pop();
                    if list.is_empty() {
                        self.conflicts.remove(&hash);
                    }
                    heir
                }
                None => None,
            };
            match heir {
                Some(h) => {
                    self.primary.insert(hash, h);
                }
                None => {
                    self.primary.remove(&hash);
                }
            }
            return;
        }
        if let Some(list) = self.conflicts.get_mut(&hash) {
            list.retain(|s| s.id != id);
            if list.is_empty() {
                self.conflicts.remove(&hash);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::MemSeries;

    fn series(id: u32, name: &str) -> SharedSeries {
        let table = Arc::new(SymbolTable::default());
        SharedSeries::new(MemSeries::new(
            id,
            table.series_labels([("__name__", name)]),
        ))
    }

    fn key(name: &str) -> Labels {
        Labels::from_pairs([("__name__", name)])
    }

    #[test]
    fn table_bytes_follow_the_bucket_count() {
        assert_eq!(table_bytes(0, 16), 0);
        for n in [1usize, 3, 7, 8, 100, 1000, 100_000] {
            let mut m: HashMap<u64, u64, BuildPremixed> = HashMap::default();
            m.extend((0..n as u64).map(|i| (i, i)));
            let buckets = (table_bytes(m.capacity(), 16) - 16) / 17;
            // A power of two that holds the entries within the 7/8 load factor.
            assert!(buckets.is_power_of_two(), "{n}: {buckets}");
            assert!(
                m.capacity() < buckets && buckets <= 2 * (n * 8 / 7).max(4),
                "{n}: {buckets}"
            );
        }
    }

    #[test]
    fn colliding_hashes_keep_every_series_findable() {
        let mut m = SeriesMap::default();
        m.insert(7, series(0, "a"));
        m.insert(7, series(1, "b"));
        m.insert(7, series(2, "c"));
        m.insert(8, series(3, "d"));
        for (name, id) in [("a", 0), ("b", 1), ("c", 2)] {
            assert_eq!(m.get(7, &key(name)).map(|s| s.id), Some(id));
        }
        assert!(m.get(7, &key("d")).is_none());
        assert!(m.get(9, &key("a")).is_none());

        // Removing the primary promotes a conflicting series; the rest stay findable.
        m.remove(7, 0);
        assert!(m.get(7, &key("a")).is_none());
        assert_eq!(m.get(7, &key("b")).map(|s| s.id), Some(1));
        assert_eq!(m.get(7, &key("c")).map(|s| s.id), Some(2));
        m.remove(7, 2);
        m.remove(7, 1);
        assert!(m.primary.is_empty() || !m.primary.contains_key(&7));
        assert!(m.conflicts.is_empty());
        assert_eq!(m.get(8, &key("d")).map(|s| s.id), Some(3));
        // Removing what is not there changes nothing.
        m.remove(8, 99);
        assert_eq!(m.get(8, &key("d")).map(|s| s.id), Some(3));
    }
}
