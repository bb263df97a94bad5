//! Label sets: the identity of a series.
//!
//! A [`Labels`] is a list of `name=value` pairs sorted by name with unique names, as in
//! Prometheus. Strings are reference-counted so that the head can intern them through
//! [`Symbols`]: thousands of series sharing `job="node"` share one allocation.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
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

/// Interns label strings so that equal strings share one allocation.
#[derive(Default)]
pub struct Symbols {
    set: HashSet<Arc<str>>,
}

impl Symbols {
    pub fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(a) = self.set.get(s) {
            return a.clone();
        }
        let a: Arc<str> = Arc::from(s);
        self.set.insert(a.clone());
        a
    }

    /// Returns a copy of `labels` whose strings are interned.
    pub fn intern_labels(&mut self, labels: &Labels) -> Labels {
        Labels(
            labels
                .iter()
                .map(|l| Label {
                    name: self.intern(&l.name),
                    value: self.intern(&l.value),
                })
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
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

    #[test]
    fn symbols_share_allocations() {
        let mut s = Symbols::default();
        let a = s.intern("job");
        let b = s.intern("job");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(s.len(), 1);
    }
}
