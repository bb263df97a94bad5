//! In-memory postings: `name=value` → roaring bitmap of series ids.
//!
//! Layout: label name → [`NamePostings`] → sorted values → bitmap. Both levels are
//! `BTreeMap`s: names are few (tens to hundreds), so ordered lookups cost next to nothing
//! and `label_names` comes out sorted for free; values must be sorted so that prefix
//! regexes range-scan them and `label_values` needs no sort. Each name also keeps the union
//! of its values' bitmaps, which answers `l!=""`, `l=~".+"`, `l=""` and `label_names(within)`
//! with one bitmap instead of a union over every value.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use roaring::{MultiOps, RoaringBitmap};

use super::{Matcher, SeriesId};
use crate::labels::Labels;

/// The postings of one label name.
///
/// Invariants: `values` holds no empty bitmap and no empty value (an empty value is the
/// same as an absent label); `series` is the union of the bitmaps in `values`, and those
/// bitmaps are disjoint because a series has one value per name.
#[derive(Default, Debug)]
pub(super) struct NamePostings {
    pub(super) series: RoaringBitmap,
    pub(super) values: BTreeMap<Arc<str>, RoaringBitmap>,
}

/// Heap bytes of a bitmap's containers, by capacity. A bitmap of a label value that one
/// series has (an instance, a pod) is almost all overhead: its container vector starts at
/// four 32-byte entries, where the serialised form takes 18 bytes.
fn bitmap_heap_bytes(b: &RoaringBitmap) -> usize {
    /// `roaring`'s container: a 16-bit key beside a store enum of one `Vec` or `Box`.
    const CONTAINER_BYTES: usize = 32;
    /// A bitset store: 2^16 bits.
    const BITSET_BYTES: usize = 8192;
    let s = b.statistics();
    let n = s.n_containers as usize;
    if n == 0 {
        return 0;
    }
    // The container vector grows by doubling from four entries. `statistics` counts an
    // array store's capacity in 4-byte units; its entries are u16.
    n.max(4).next_power_of_two() * CONTAINER_BYTES
        + s.n_bytes_array_containers as usize / 2
        + s.n_bitset_containers as usize * BITSET_BYTES
        + s.n_bytes_run_containers as usize
}

/// Invariants: `all` holds every added id; `names` holds no name without values.
#[derive(Default, Debug)]
pub struct MemPostings {
    all: RoaringBitmap,
    pub(super) names: BTreeMap<Arc<str>, NamePostings>,
}

impl MemPostings {
    pub fn new() -> Self {
        Self::default()
    }

    /// Estimated heap bytes: every bitmap's containers and stores by capacity, plus the
    /// maps' entries. The name and value strings are the head's interned symbols and are
    /// not counted here.
    pub fn heap_bytes_estimate(&self) -> usize {
        // A B-tree entry: key, value and about a third of a node's slack and pointers.
        const BTREE_ENTRY_OVERHEAD: usize = 16;
        let bitmap = |b: &RoaringBitmap| size_of::<RoaringBitmap>() + bitmap_heap_bytes(b);
        let mut n = bitmap(&self.all);
        for p in self.names.values() {
            n += size_of::<Arc<str>>() + size_of::<NamePostings>() + BTREE_ENTRY_OVERHEAD;
            n += bitmap(&p.series);
            for b in p.values.values() {
                n += size_of::<Arc<str>>() + BTREE_ENTRY_OVERHEAD + bitmap(b);
            }
        }
        n
    }

    /// Indexes series `id` under each of its labels. Labels with an empty value are skipped:
    /// Prometheus treats them as absent.
    pub fn add(&mut self, id: SeriesId, labels: &Labels) {
        self.all.insert(id);
        for l in labels {
            if l.value.is_empty() {
                continue;
            }
            let np = match self.names.get_mut(&*l.name) {
                Some(np) => np,
                None => self.names.entry(l.name.clone()).or_default(),
            };
            np.series.insert(id);
            match np.values.get_mut(&*l.value) {
                Some(bm) => {
                    bm.insert(id);
                }
                None => {
                    np.values
                        .insert(l.value.clone(), RoaringBitmap::from_iter([id]));
                }
            }
        }
    }

    /// Removes series `id`, which must have been added with these `labels`.
    pub fn remove(&mut self, id: SeriesId, labels: &Labels) {
        self.all.remove(id);
        for l in labels {
            let Some(np) = self.names.get_mut(&*l.name) else {
                continue;
            };
            np.series.remove(id);
            if let Some(bm) = np.values.get_mut(&*l.value) {
                bm.remove(id);
                if bm.is_empty() {
                    np.values.remove(&*l.value);
                }
            }
            if np.values.is_empty() {
                self.names.remove(&*l.name);
            }
        }
    }

    /// Every indexed series.
    pub fn all(&self) -> &RoaringBitmap {
        &self.all
    }

    pub fn num_series(&self) -> u64 {
        self.all.len()
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    pub fn num_label_names(&self) -> usize {
        self.names.len()
    }

    /// The series with `name=value`, if any.
    pub fn postings(&self, name: &str, value: &str) -> Option<&RoaringBitmap> {
        self.names.get(name)?.values.get(value)
    }

    /// The series that have label `name` (with a non-empty value).
    pub fn series_with_label(&self, name: &str) -> Option<&RoaringBitmap> {
        self.names.get(name).map(|np| &np.series)
    }

    /// The series selected by all `matchers`, with Prometheus's semantics: a series lacking
    /// a label is tested as if its value were "". No matchers select nothing.
    pub fn select(&self, matchers: &[Matcher]) -> RoaringBitmap {
        if matchers.is_empty() {
            return RoaringBitmap::new();
        }
        // A matcher that rejects "" selects the values it accepts; one that accepts "" also
        // selects series lacking the label, so it is applied by subtracting the values it
        // rejects (from the intersection of the others, or from all series).
        let (mut positive, negative): (Vec<&Matcher>, Vec<&Matcher>) =
            matchers.iter().partition(|m| !m.matches_empty());
        // Cheap lookups first: an empty one ends the select before any value scan runs.
        positive.sort_by_key(|m| cost(m));
        let mut sets: Vec<Cow<'_, RoaringBitmap>> = Vec::with_capacity(positive.len());
        for m in positive {
            let set = self.postings_where(m, true);
            if set.is_empty() {
                return RoaringBitmap::new();
            }
            sets.push(set);
        }
        let mut acc = intersect_smallest_first(sets).unwrap_or_else(|| self.all.clone());
        for m in negative {
            if acc.is_empty() {
                break;
            }
            acc -= &*self.postings_where(m, false);
        }
        acc
    }

    /// The union of the postings of the stored values `v` of `m.name` for which
    /// `m.matches(v) == want`. Stored values are never "", so "" plays no part.
    fn postings_where(&self, m: &Matcher, want: bool) -> Cow<'_, RoaringBitmap> {
        let Some(np) = self.names.get(m.name.as_str()) else {
            return Cow::Owned(RoaringBitmap::new());
        };
        // Values partition `np.series`, so the values rejected by the inner test are
        // `np.series` minus those it accepts: only the accepted ones are ever looked up.
        if want != m.op.is_negative() {
            return np.accepted_by(m);
        }
        // Stored values are never "", so `.+` accepts them all as `.*` does.
        if m.regex_matches_all() || m.regex_matches_non_empty() {
            return Cow::Owned(RoaringBitmap::new());
        }
        let accepted = np.accepted_by(m);
        if accepted.is_empty() {
            Cow::Borrowed(&np.series)
        } else {
            Cow::Owned(&np.series - &*accepted)
        }
    }

    /// Sorted label names; with `within`, only names some series of `within` has.
    pub fn label_names(&self, within: Option<&RoaringBitmap>) -> Vec<Arc<str>> {
        self.names
            .iter()
            .filter(|(_, np)| within.is_none_or(|w| !np.series.is_disjoint(w)))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// Sorted values of label `name`; with `within`, only values some series of `within`
    /// has.
    pub fn label_values(&self, name: &str, within: Option<&RoaringBitmap>) -> Vec<Arc<str>> {
        let Some(np) = self.names.get(name) else {
            return Vec::new();
        };
        match within {
            None => np.values.keys().cloned().collect(),
            Some(w) if np.series.is_disjoint(w) => Vec::new(),
            Some(w) => np
                .values
                .iter()
                .filter(|(_, bm)| !bm.is_disjoint(w))
                .map(|(v, _)| v.clone())
                .collect(),
        }
    }

    /// Sorted values of label `name` accepted by `m` (whose name is ignored), e.g. for
    /// `label/<name>/values` restricted by a regex.
    pub fn label_values_matching(&self, name: &str, m: &Matcher) -> Vec<Arc<str>> {
        let Some(np) = self.names.get(name) else {
            return Vec::new();
        };
        np.values.keys().filter(|v| m.matches(v)).cloned().collect()
    }
}

impl NamePostings {
    /// The union of postings of the values accepted by `m`'s inner test (before negation),
    /// using the cheapest access the matcher allows.
    fn accepted_by(&self, m: &Matcher) -> Cow<'_, RoaringBitmap> {
        if !m.op.is_regex() {
            return match self.values.get(m.value.as_str()) {
                Some(bm) => Cow::Borrowed(bm),
                None => Cow::Owned(RoaringBitmap::new()),
            };
        }
        if m.regex_matches_all() || m.regex_matches_non_empty() {
            return Cow::Borrowed(&self.series);
        }
        if let Some(set) = m.set_matches() {
            return Cow::Owned(
                set.iter()
                    .filter_map(|v| self.values.get(v.as_str()))
                    .union(),
            );
        }
        if let Some(prefix) = m.prefix() {
            let range = self
                .values
                .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
                .take_while(|(v, _)| v.starts_with(prefix));
            return Cow::Owned(
                range
                    .filter(|(v, _)| m.inner_matches(v))
                    .map(|(_, bm)| bm)
                    .union(),
            );
        }
        Cow::Owned(
            self.values
                .iter()
                .filter(|(v, _)| m.inner_matches(v))
                .map(|(_, bm)| bm)
                .union(),
        )
    }
}

/// Rough relative cost of resolving a matcher's postings.
fn cost(m: &Matcher) -> u8 {
    if !m.op.is_regex() || m.regex_matches_all() || m.regex_matches_non_empty() {
        0
    } else if m.set_matches().is_some() {
        1
    } else if m.prefix().is_some() {
        2
    } else if !m.uses_regex_engine() {
        3
    } else {
        4
    }
}

/// Intersects the sets starting from the smallest, so every step works on the least data;
/// `None` when there are no sets.
fn intersect_smallest_first(mut sets: Vec<Cow<'_, RoaringBitmap>>) -> Option<RoaringBitmap> {
    sets.sort_by_key(|s| s.len());
    let mut iter = sets.into_iter();
    let mut acc = iter.next()?.into_owned();
    for s in iter {
        if acc.is_empty() {
            break;
        }
        acc &= &*s;
    }
    Some(acc)
}

#[cfg(test)]
#[path = "postings_tests.rs"]
mod tests;
