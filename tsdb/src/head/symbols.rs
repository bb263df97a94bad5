//! The head's symbol table: every label name and value of the head's series once, under a
//! 32-bit id, so that a series holds its labels as ids ([`SeriesLabels`], 8 bytes a pair)
//! instead of two `Arc<str>` fat pointers (32 bytes a pair).
//!
//! Reads go through the series' labels and take no lock: ids index slots in segments that
//! are allocated once and never move. Writes (interning, releasing) take the table's mutex.
//! Symbols are reference counted by the series labels that hold them: when the last series
//! holding a symbol is dropped, the symbol's string is released and its id reused, so the
//! table holds exactly the symbols of the series alive (as Prometheus rebuilds its symbol
//! table at head GC, without the rebuild).
//!
//! Slot layout, for id `i` (`FIRST` = [`FIRST_SEGMENT`]):
//!
//! | segment `k`                         | ids                                   | slots       |
//! |-------------------------------------|---------------------------------------|-------------|
//! | `k = ⌊log2(i + FIRST)⌋ − log2 FIRST` | `FIRST·(2^k − 1) .. FIRST·(2^(k+1) − 1)` | `FIRST·2^k` |
//!
//! so segment sizes double and `SEGMENTS` segments address every `u32`.

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::mem::size_of;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::series_map::table_bytes;
use crate::labels::{hash_pairs, Label, Labels};

/// Index of a symbol in its [`SymbolTable`].
pub(crate) type SymbolId = u32;

/// Slots in the first segment; a power of two.
const FIRST_SEGMENT: usize = 64;
/// Segments: `FIRST_SEGMENT · (2^SEGMENTS − 1)` slots cover every `u32` id.
const SEGMENTS: usize = 27;

/// Reference counts in front of every `Arc` allocation.
const ARC_HEADER: usize = 2 * size_of::<usize>();

/// One symbol's string; `None` while the id is free.
#[derive(Default)]
struct Slot(UnsafeCell<Option<Arc<str>>>);

/// Interned label strings by id. See the module documentation.
///
/// Invariants: slot `i` holds `Some(s)` exactly when `writer.refs[i] > 0`, and then
/// `writer.ids[s] == i`; a slot is written only under `writer`'s lock and only while its
/// count is 0 (being assigned or released), so no [`SeriesLabels`] holding its id — the only
/// way to read a slot — can observe the write. The lock's release/acquire orders a released
/// slot's last reads before its reuse, and the publication of a new series (through the
/// head's locks) orders a slot's write before its first read.
pub(crate) struct SymbolTable {
    segments: [OnceLock<Box<[Slot]>>; SEGMENTS],
    writer: Mutex<Writer>,
}

// SAFETY: slots are only written under `writer` while no reader can reach them (see the
// invariants above); everything else is `Sync` already.
unsafe impl Sync for SymbolTable {}

/// The table's mutable side.
///
/// Invariants: `ids` maps each live symbol's string to its id; `refs[i]` counts the ids `i`
/// held by live [`SeriesLabels`] (a series holding one string as name and value counts
/// twice); `free` lists the ids below `refs.len()` whose count is 0, each once.
#[derive(Default)]
struct Writer {
    ids: HashMap<Arc<str>, SymbolId, foldhash::fast::RandomState>,
    refs: Vec<u32>,
    free: Vec<SymbolId>,
}

/// Segment and offset of `id`.
fn locate(id: SymbolId) -> (usize, usize) {
    let j = id as usize + FIRST_SEGMENT;
    let seg =
        (usize::BITS - 1 - j.leading_zeros()) as usize - FIRST_SEGMENT.trailing_zeros() as usize;
    (seg, j - (FIRST_SEGMENT << seg))
}

impl Default for SymbolTable {
    fn default() -> Self {
        SymbolTable {
            segments: std::array::from_fn(|_| OnceLock::new()),
            writer: Mutex::new(Writer::default()),
        }
    }
}

impl SymbolTable {
    /// Interns the `(name, value)` pairs (sorted by name, unique names) as one series'
    /// labels.
    pub(crate) fn series_labels<'a>(
        self: &Arc<Self>,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> SeriesLabels {
        let mut w = self.writer.lock();
        let ids: Box<[SymbolId]> = pairs
            .into_iter()
            .flat_map(|(n, v)| [n, v])
            .map(|s| self.intern(&mut w, s))
            .collect();
        drop(w);
        SeriesLabels {
            ids,
            table: Arc::clone(self),
        }
    }

    /// [`SymbolTable::series_labels`] of an owned label set, sharing its strings where
    /// they are new to the table.
    pub(crate) fn labels_of(self: &Arc<Self>, labels: &Labels) -> SeriesLabels {
        let mut w = self.writer.lock();
        let ids: Box<[SymbolId]> = labels
            .iter()
            .flat_map(|l| [&l.name, &l.value])
            .map(|s| self.intern_arc(&mut w, s))
            .collect();
        drop(w);
        SeriesLabels {
            ids,
            table: Arc::clone(self),
        }
    }

    fn intern(&self, w: &mut Writer, s: &str) -> SymbolId {
        match w.ids.get(s) {
            Some(&id) => {
                w.refs[id as usize] += 1;
                id
            }
            None => self.assign(w, Arc::from(s)),
        }
    }

    fn intern_arc(&self, w: &mut Writer, s: &Arc<str>) -> SymbolId {
        match w.ids.get(&**s) {
            Some(&id) => {
                w.refs[id as usize] += 1;
                id
            }
            None => self.assign(w, Arc::clone(s)),
        }
    }

    /// Gives `s`, not in the table, an id with a count of 1.
    fn assign(&self, w: &mut Writer, s: Arc<str>) -> SymbolId {
        let id = match w.free.pop() {
            Some(id) => id,
            None => {
                // 2^32 distinct strings would take hundreds of GiB before this saturates.
                let id = SymbolId::try_from(w.refs.len()).unwrap_or(SymbolId::MAX);
                w.refs.push(0);
                id
            }
        };
        w.refs[id as usize] = 1;
        self.store(id, Some(Arc::clone(&s)));
        w.ids.insert(s, id);
        id
    }

    /// Writes slot `id`. Callers hold the writer lock and `id`'s count is 0 before or after
    /// the call, so no reader holds the id.
    fn store(&self, id: SymbolId, value: Option<Arc<str>>) -> Option<Arc<str>> {
        let (seg, off) = locate(id);
        let segment = self.segments[seg]
            .get_or_init(|| (0..FIRST_SEGMENT << seg).map(|_| Slot::default()).collect());
        let slot = &segment[off];
        // SAFETY: under the writer lock, and no `SeriesLabels` holds `id` (see the type's
        // invariants), so nothing else reads or writes this slot.
        unsafe { std::mem::replace(&mut *slot.0.get(), value) }
    }

    /// The string of `id`.
    ///
    /// # Safety
    /// The caller holds `id` in a live [`SeriesLabels`] for as long as it uses the string,
    /// so that the slot is not rewritten meanwhile.
    unsafe fn get(&self, id: SymbolId) -> Option<&Arc<str>> {
        let (seg, off) = locate(id);
        let slot = self.segments.get(seg)?.get()?.get(off)?;
        // SAFETY: the caller holds `id`, so its count is above 0 and the slot is not written
        // until the holder is dropped.
        unsafe { (*slot.0.get()).as_ref() }
    }

    /// Drops one hold of each of `ids`; symbols left unheld are released.
    fn release(&self, ids: &[SymbolId]) {
        let mut w = self.writer.lock();
        for &id in ids {
            let Some(count) = w.refs.get_mut(id as usize) else {
                continue;
            };
            *count = count.saturating_sub(1);
            if *count == 0 {
                if let Some(s) = self.store(id, None) {
                    w.ids.remove(&*s);
                }
                w.free.push(id);
            }
        }
    }

    /// Live symbols.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.writer.lock().ids.len()
    }

    /// Ids handed out so far, live or free: the table's slot count in use.
    #[cfg(test)]
    pub(crate) fn ids_assigned(&self) -> usize {
        self.writer.lock().refs.len()
    }

    /// Heap bytes: the strings, the slots allocated, the string map and the counts, by
    /// capacity.
    pub(crate) fn heap_bytes(&self) -> usize {
        let w = self.writer.lock();
        let strings: usize = w.ids.keys().map(|s| ARC_HEADER + s.len()).sum();
        let slots: usize = self
            .segments
            .iter()
            .filter_map(OnceLock::get)
            .map(|s| s.len() * size_of::<Slot>())
            .sum();
        strings
            + slots
            + table_bytes(w.ids.capacity(), size_of::<(Arc<str>, SymbolId)>())
            + w.refs.capacity() * size_of::<u32>()
            + w.free.capacity() * size_of::<SymbolId>()
    }
}

/// A head series' labels: its names and values as ids in the head's [`SymbolTable`],
/// `name0 value0 name1 value1 …` in name order. Holds its symbols for as long as it
/// lives and releases them when dropped.
pub(crate) struct SeriesLabels {
    ids: Box<[SymbolId]>,
    table: Arc<SymbolTable>,
}

impl SeriesLabels {
    pub(crate) fn len(&self) -> usize {
        self.ids.len() / 2
    }

    /// Symbol ids held, two per label.
    pub(crate) fn ids(&self) -> &[SymbolId] {
        &self.ids
    }

    fn arc(&self, id: SymbolId) -> Option<&Arc<str>> {
        // SAFETY: `self` holds `id` for at least as long as the returned borrow.
        unsafe { self.table.get(id) }
    }

    /// The `(name, value)` pairs, in name order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.ids.chunks_exact(2).map(|p| {
            let s = |id| self.arc(id).map_or("", |s| &**s);
            (s(p[0]), s(p[1]))
        })
    }

    /// The labels as an owned [`Labels`], sharing the table's strings.
    pub(crate) fn to_labels(&self) -> Labels {
        let empty: Arc<str> = Arc::from("");
        let s = |id| self.arc(id).cloned().unwrap_or_else(|| Arc::clone(&empty));
        Labels::from_sorted_unchecked(
            self.ids
                .chunks_exact(2)
                .map(|p| Label {
                    name: s(p[0]),
                    value: s(p[1]),
                })
                .collect(),
        )
    }

    /// Orders as the [`Labels`] of `self` and `other` would, without building them.
    pub(crate) fn cmp_labels(&self, other: &SeriesLabels) -> std::cmp::Ordering {
        self.iter().cmp(other.iter())
    }

    /// Equal to [`Labels::hash_with`] of the same label set.
    pub(crate) fn hash_with(&self, state: &impl BuildHasher) -> u64 {
        hash_pairs(state, self.iter())
    }
}

impl Drop for SeriesLabels {
    fn drop(&mut self) {
        self.table.release(&self.ids);
    }
}

impl std::fmt::Debug for SeriesLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.to_labels(), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_locate_in_doubling_segments() {
        assert_eq!(locate(0), (0, 0));
        assert_eq!(locate(63), (0, 63));
        assert_eq!(locate(64), (1, 0));
        assert_eq!(locate(191), (1, 127));
        assert_eq!(locate(192), (2, 0));
        let (seg, off) = locate(SymbolId::MAX);
        assert!(seg < SEGMENTS && off < FIRST_SEGMENT << seg, "{seg} {off}");
        // Every id has its own slot: consecutive ids are consecutive slots.
        for id in 0..5000u32 {
            let (s, o) = locate(id);
            let (s2, o2) = locate(id + 1);
            assert!((s2 == s && o2 == o + 1) || (s2 == s + 1 && o2 == 0), "{id}");
        }
    }

    #[test]
    fn labels_share_symbols_and_read_back() {
        let t = Arc::new(SymbolTable::default());
        let a = t.series_labels([("__name__", "up"), ("job", "node")]);
        let b = t.labels_of(&Labels::from_pairs([("__name__", "up"), ("job", "api")]));
        assert_eq!(t.len(), 5);
        assert_eq!(a.ids()[0], b.ids()[0]);
        assert_eq!(
            a.to_labels(),
            Labels::from_pairs([("__name__", "up"), ("job", "node")])
        );
        assert_eq!(b.to_labels().get("job"), Some("api"));
        let state = foldhash::fast::RandomState::default();
        assert_eq!(a.hash_with(&state), a.to_labels().hash_with(&state));
        // Materialised labels share the table's strings.
        let (l1, l2) = (a.to_labels(), a.to_labels());
        assert!(Arc::ptr_eq(
            &l1.as_slice()[0].value,
            &l2.as_slice()[0].value
        ));
    }

    #[test]
    fn symbols_of_dropped_labels_are_released_and_ids_reused() {
        let t = Arc::new(SymbolTable::default());
        let keep = t.series_labels([("__name__", "up"), ("job", "node")]);
        let gone = t.series_labels([("__name__", "up"), ("pod", "p-1")]);
        let same = t.series_labels([("x", "x")]);
        assert_eq!(t.len(), 7);
        let before = t.heap_bytes();
        drop(gone);
        // "pod" and "p-1" went; "__name__" and "up" are still held by `keep`.
        assert_eq!(t.len(), 5);
        assert!(t.heap_bytes() < before);
        assert_eq!(keep.to_labels().to_string(), r#"up{job="node"}"#);
        // A string held twice by one series is released once both holds are gone.
        assert_eq!(same.ids()[0], same.ids()[1]);
        drop(same);
        assert_eq!(t.len(), 4);
        // Freed ids are reused rather than growing the table.
        let slots = t.writer.lock().refs.len();
        let new = t.series_labels([("a", "1"), ("b", "1")]);
        assert_eq!(t.writer.lock().refs.len(), slots);
        assert_eq!(
            new.to_labels(),
            Labels::from_pairs([("a", "1"), ("b", "1")])
        );
        drop((keep, new));
        assert_eq!(t.len(), 0);
        assert!(t.writer.lock().refs.iter().all(|&c| c == 0));
    }

    #[test]
    fn many_symbols_span_segments() {
        let t = Arc::new(SymbolTable::default());
        let names: Vec<String> = (0..3000).map(|i| format!("v{i}")).collect();
        let all: Vec<SeriesLabels> = names
            .iter()
            .map(|v| t.series_labels([("__name__", "m"), ("i", v.as_str())]))
            .collect();
        assert_eq!(t.len(), 3003);
        for (l, v) in all.iter().zip(&names) {
            assert_eq!(l.to_labels().get("i"), Some(v.as_str()));
        }
    }

    #[test]
    fn held_labels_read_back_unchanged_while_others_come_and_go() {
        let t = Arc::new(SymbolTable::default());
        let held: Vec<(SeriesLabels, Labels)> = (0..200)
            .map(|i| {
                let l =
                    Labels::from_pairs([("__name__", "kept".to_string()), ("i", i.to_string())]);
                (t.labels_of(&l), l)
            })
            .collect();
        std::thread::scope(|scope| {
            // Writers create and drop series whose symbols are released and reused, growing
            // the table into new segments meanwhile.
            for w in 0..2 {
                let t = &t;
                scope.spawn(move || {
                    for round in 0..300 {
                        let batch: Vec<SeriesLabels> = (0..50)
                            .map(|i| {
                                let v = format!("w{w}-{round}-{i}");
                                t.series_labels([("__name__", "churn"), ("v", v.as_str())])
                            })
                            .collect();
                        drop(batch);
                    }
                });
            }
            for _ in 0..2 {
                let held = &held;
                scope.spawn(move || {
                    for _ in 0..200 {
                        for (s, l) in held {
                            assert_eq!(s.to_labels(), *l);
                        }
                    }
                });
            }
        });
        drop(held);
        assert_eq!(t.len(), 0);
    }
}
