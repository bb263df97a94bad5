//! Label sets: the identity of a series.
//!
//! A [`Labels`] is a list of `name=value` pairs sorted by name with unique names, as in
//! Prometheus. Strings are reference-counted so that copies share them: the head keeps each
//! distinct string once in its symbol table (its series hold the strings as ids there) and
//! label sets read out of the head share the table's allocations.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// One `name=value` pair.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub name: Arc<str>,
    pub value: Arc<str>,
}

impl Label {
    pub fn new(name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Self {
        Label {
            name: name.into(),
            value: value.into(),
        }
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}", self.name, self.value)
    }
}

/// A sorted set of labels with unique names.
///
/// Invariant: `0` is sorted by name and no name appears twice. Constructors that take
/// arbitrary input sort; [`Labels::from_sorted_unchecked`] trusts its caller.
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Labels(Vec<Label>);

impl Labels {
    pub fn empty() -> Self {
        Labels(Vec::new())
    }

    /// Builds a label set from pairs in any order. On duplicate names the last one wins;
    /// callers that must reject duplicates check with [`Labels::duplicate_name`] first.
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Self
    where
        N: Into<Arc<str>>,
        V: Into<Arc<str>>,
    {
        let mut v: Vec<Label> = pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect();
        // Stable sort keeps input order among equal names so that "last wins" holds.
        v.sort_by(|a, b| a.name.cmp(&b.name));
        let mut out: Vec<Label> = Vec::with_capacity(v.len());
        for l in v {
            match out.last_mut() {
                Some(last) if last.name == l.name => *last = l,
                _ => out.push(l),
            }
        }
        Labels(out)
    }

    /// Wraps labels the caller has already sorted and deduplicated.
    pub fn from_sorted_unchecked(v: Vec<Label>) -> Self {
        debug_assert!(v.windows(2).all(|w| w[0].name < w[1].name));
        Labels(v)
    }

    /// Returns the first name that occurs more than once in `pairs`, if any.
    pub fn duplicate_name<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        let mut seen = HashSet::new();
        names.into_iter().find(|n| !seen.insert(*n))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<Label> {
        self.0
    }

    /// The value of `name`, or `None` when absent. Prometheus treats an absent label and an
    /// empty value alike; callers that need that use `get(..).unwrap_or("")`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .binary_search_by(|l| l.name.as_ref().cmp(name))
            .ok()
            .map(|i| self.0[i].value.as_ref())
    }

    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Sets `name` to `value`; an empty value removes the label, as in Prometheus.
    pub fn set(&mut self, name: &str, value: &str) {
        match self.0.binary_search_by(|l| l.name.as_ref().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.0.remove(i);
            }
            Ok(i) => self.0[i].value = Arc::from(value),
            Err(_) if value.is_empty() => {}
            Err(i) => self.0.insert(i, Label::new(name, value)),
        }
    }

    pub fn remove(&mut self, name: &str) {
        if let Ok(i) = self.0.binary_search_by(|l| l.name.as_ref().cmp(name)) {
            self.0.remove(i);
        }
    }

    /// A copy without the metric name.
    pub fn without_metric_name(&self) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|l| &*l.name != METRIC_NAME)
                .cloned()
                .collect(),
        )
    }

    /// Keeps only the labels whose names are in `names` (`on`/`by` semantics).
    pub fn keep(&self, names: &[impl Borrow<str>]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|l| names.iter().any(|n| n.borrow() == &*l.name))
                .cloned()
                .collect(),
        )
    }

    /// Drops the labels whose names are in `names` (`ignoring`/`without` semantics).
    pub fn drop_names(&self, names: &[impl Borrow<str>]) -> Labels {
        Labels(
            self.0
                .iter()
                .filter(|l| !names.iter().any(|n| n.borrow() == &*l.name))
                .cloned()
                .collect(),
        )
    }

    /// Hashes the label set with `state`; equal to [`LabelsRef::hash_with`] of the same set.
    pub fn hash_with(&self, state: &impl BuildHasher) -> u64 {
        hash_pairs(state, self.0.iter().map(|l| (&*l.name, &*l.value)))
    }

    /// A 64-bit hash of the label set, stable within one process.
    pub fn hash64(&self) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.hash(&mut h);
        h.finish()
    }
}

impl fmt::Display for Labels {
    /// Prometheus's notation: `name{a="1", b="2"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.metric_name();
        if let Some(n) = name {
            f.write_str(n)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for l in self.0.iter().filter(|l| &*l.name != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{}={:?}", l.name, &*l.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// A label set borrowed from a caller's buffer, such as one decoded remote-write request:
/// appending it finds a known series without building an owned [`Labels`].
///
/// Layout, for labels `(n0, v0), (n1, v1), ...` in name order:
///
/// | field  | content                                                                  |
/// |--------|--------------------------------------------------------------------------|
/// | `text` | the strings back to back: `n0 v0 n1 v1 ...`, no separators               |
/// | `ends` | `ends[i]` = byte offset in `text` where string `i` ends; `2 × len` items  |
///
/// Invariants (the caller's, checked in debug builds): `ends` does not decrease, its last
/// entry is `text.len()`, every offset is on a char boundary, names are sorted and unique
/// and no value is empty, i.e. what [`Labels::from_sorted_unchecked`] expects. A caller that
/// breaks them gets wrong strings back, never a panic.
#[derive(Clone, Copy)]
pub struct LabelsRef<'a> {
    text: &'a str,
    ends: &'a [u32],
}

impl<'a> LabelsRef<'a> {
    pub fn new(text: &'a str, ends: &'a [u32]) -> Self {
        let l = LabelsRef { text, ends };
        debug_assert!(ends.len() & 1 == 0, "a value for every name");
        debug_assert!(ends.last().is_none_or(|&e| e as usize == text.len()));
        debug_assert!(ends.windows(2).all(|w| w[0] <= w[1]));
        debug_assert!(l.iter().zip(l.iter().skip(1)).all(|(a, b)| a.0 < b.0));
        l
    }

    pub fn len(&self) -> usize {
        self.ends.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// String `i` of the layout (name of label `i / 2` when even, its value when odd).
    fn string(&self, i: usize) -> &'a str {
        let start = match i {
            0 => 0,
            _ => self.ends.get(i - 1).map_or(0, |&e| e as usize),
        };
        let end = self.ends.get(i).map_or(start, |&e| e as usize);
        self.text.get(start..end).unwrap_or_default()
    }

    /// The `(name, value)` pairs, in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let l = *self;
        (0..l.len()).map(move |i| (l.string(2 * i), l.string(2 * i + 1)))
    }

    /// Whether `labels` is the same label set.
    pub fn eq_labels(&self, labels: &Labels) -> bool {
        self.len() == labels.len()
            && self
                .iter()
                .zip(labels.iter())
                .all(|((n, v), l)| *l.name == *n && *l.value == *v)
    }

    /// An owned copy.
    pub fn to_labels(&self) -> Labels {
        Labels(self.iter().map(|(n, v)| Label::new(n, v)).collect())
    }

    /// Hashes the label set with `state`; equal to [`Labels::hash_with`] of the same set.
    pub fn hash_with(&self, state: &impl BuildHasher) -> u64 {
        hash_pairs(state, self.iter())
    }
}

impl fmt::Display for LabelsRef<'_> {
    /// The notation of [`Labels`]'s `Display`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((_, n)) = self.iter().find(|(n, _)| *n == METRIC_NAME) {
            f.write_str(n)?;
        }
        f.write_str("{")?;
        let mut first = true;
        for (n, v) in self.iter().filter(|(n, _)| *n != METRIC_NAME) {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{n}={v:?}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for LabelsRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Hashes `(name, value)` pairs with `state`. Every string is followed by `0xff`, a byte no
/// UTF-8 string contains, so that moving bytes between neighbouring strings changes the
/// input (as Prometheus's `labels.Hash` separates them).
pub(crate) fn hash_pairs<'a>(
    state: &impl BuildHasher,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> u64 {
    let mut h = state.build_hasher();
    for (n, v) in pairs {
        h.write(n.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_pairs_sorts_and_last_duplicate_wins() {
        let l = Labels::from_pairs([("b", "1"), ("a", "2"), ("b", "3")]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.get("a"), Some("2"));
        assert_eq!(l.get("b"), Some("3"));
        assert_eq!(l.as_slice()[0].name.as_ref(), "a");
    }

    #[test]
    fn duplicate_name_is_found() {
        assert_eq!(Labels::duplicate_name(["a", "b", "a"]), Some("a"));
        assert_eq!(Labels::duplicate_name(["a", "b"]), None);
    }

    #[test]
    fn set_with_empty_value_removes() {
        let mut l = Labels::from_pairs([("a", "1"), ("b", "2")]);
        l.set("a", "");
        l.set("c", "3");
        l.set("z", "");
        assert_eq!(l.to_string(), r#"{b="2", c="3"}"#);
    }

    #[test]
    fn display_matches_prometheus() {
        let l = Labels::from_pairs([("__name__", "up"), ("job", "node"), ("instance", "a:1")]);
        assert_eq!(l.to_string(), r#"up{instance="a:1", job="node"}"#);
    }

    /// Builds the borrowed layout of `pairs` (sorted, unique names).
    fn packed(pairs: &[(&str, &str)]) -> (String, Vec<u32>) {
        let mut text = String::new();
        let mut ends = Vec::new();
        for (n, v) in pairs {
            text.push_str(n);
            ends.push(text.len() as u32);
            text.push_str(v);
            ends.push(text.len() as u32);
        }
        (text, ends)
    }

    #[test]
    fn borrowed_labels_equal_hash_and_print_as_owned() {
        let pairs = [("__name__", "up"), ("instance", "a:1"), ("job", "node")];
        let (text, ends) = packed(&pairs);
        let r = LabelsRef::new(&text, &ends);
        let owned = Labels::from_pairs(pairs);
        assert_eq!(r.len(), 3);
        assert!(r.eq_labels(&owned));
        assert_eq!(r.to_labels(), owned);
        assert_eq!(r.to_string(), owned.to_string());
        let state = std::hash::RandomState::new();
        assert_eq!(r.hash_with(&state), owned.hash_with(&state));

        let other = Labels::from_pairs([("__name__", "up"), ("instance", "a:1")]);
        assert!(!r.eq_labels(&other));
        // The same bytes split differently are another label set with another hash.
        let two = [("__name__", "up"), ("job", "node")];
        let (t1, e1) = packed(&two);
        let (t2, e2) = packed(&[("__name__", "upj"), ("ob", "node")]);
        assert_eq!(t1, t2);
        let (a, b) = (LabelsRef::new(&t1, &e1), LabelsRef::new(&t2, &e2));
        assert!(!b.eq_labels(&Labels::from_pairs(two)));
        assert_ne!(a.hash_with(&state), b.hash_with(&state));
    }

    #[test]
    fn borrowed_labels_with_a_broken_layout_give_empty_strings() {
        let r = LabelsRef {
            text: "abc",
            ends: &[2, 9],
        };
        assert_eq!(r.iter().collect::<Vec<_>>(), [("ab", "")]);
    }
}
