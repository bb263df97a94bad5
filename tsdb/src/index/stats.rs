//! Cardinality statistics of the postings, as `/api/v1/status/tsdb` reports them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use super::postings::MemPostings;
use crate::labels::{Label, METRIC_NAME};

/// Figures for `/api/v1/status/tsdb`. Every list is sorted by count, highest first, ties by
/// name, and holds at most the `top_n` given to [`MemPostings::stats`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PostingsStats {
    pub num_series: u64,
    pub num_label_names: usize,
    /// Distinct `name=value` pairs.
    pub num_label_pairs: usize,
    /// `seriesCountByMetricName`: series per value of `__name__`.
    pub series_count_by_metric_name: Vec<(Arc<str>, u64)>,
    /// `labelValueCountByLabelName`: distinct values per label name.
    pub label_value_count_by_label_name: Vec<(Arc<str>, u64)>,
    /// `memoryInBytesByLabelName`: as Prometheus counts it, the bytes the label's name and
    /// value would take in every series if nothing were shared: Σ (|name|+|value|) × series.
    pub memory_in_bytes_by_label_name: Vec<(Arc<str>, u64)>,
    /// `seriesCountByLabelValuePair`: series per `name=value` pair.
    pub series_count_by_label_value_pair: Vec<(Label, u64)>,
}

/// Keeps the `n` entries with the highest counts (ties: smallest key) without sorting all.
struct TopN<K: Ord> {
    n: usize,
    // A min-heap of the best entries so far: the root is the first to drop.
    heap: BinaryHeap<Reverse<(u64, Reverse<K>)>>,
}

impl<K: Ord> TopN<K> {
    fn new(n: usize) -> Self {
        TopN {
            n,
            heap: BinaryHeap::with_capacity(n.saturating_add(1).min(1024)),
        }
    }

    fn push(&mut self, key: K, count: u64) {
        if self.n == 0 {
            return;
        }
        self.heap.push(Reverse((count, Reverse(key))));
        if self.heap.len() > self.n {
            self.heap.pop();
        }
    }

    fn into_sorted(self) -> Vec<(K, u64)> {
        // Ascending order of `Reverse` is descending order of (count, Reverse(key)).
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse((count, Reverse(key)))| (key, count))
            .collect()
    }
}

impl MemPostings {
    /// Cardinality figures in one pass over the index; lists keep the `top_n` largest.
    pub fn stats(&self, top_n: usize) -> PostingsStats {
        let mut metrics = TopN::new(top_n);
        let mut value_counts = TopN::new(top_n);
        let mut value_bytes = TopN::new(top_n);
        let mut pairs = TopN::new(top_n);
        let mut num_label_pairs = 0;
        for (name, np) in &self.names {
            num_label_pairs += np.values.len();
            value_counts.push(name.clone(), np.values.len() as u64);
            let mut bytes = 0u64;
            for (value, bm) in &np.values {
                bytes = bytes.saturating_add((name.len() + value.len()) as u64 * bm.len());
                if &**name == METRIC_NAME {
                    metrics.push(value.clone(), bm.len());
                }
                pairs.push(Label::new(name.clone(), value.clone()), bm.len());
            }
            value_bytes.push(name.clone(), bytes);
        }
        PostingsStats {
            num_series: self.num_series(),
            num_label_names: self.names.len(),
            num_label_pairs,
            series_count_by_metric_name: metrics.into_sorted(),
            label_value_count_by_label_name: value_counts.into_sorted(),
            memory_in_bytes_by_label_name: value_bytes.into_sorted(),
            series_count_by_label_value_pair: pairs.into_sorted(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;

    #[test]
    fn top_n_orders_by_count_then_name() {
        let mut t = TopN::new(2);
        for (k, c) in [("b", 5), ("a", 5), ("c", 9), ("d", 1)] {
            t.push(k, c);
        }
        assert_eq!(t.into_sorted(), vec![("c", 9), ("a", 5)]);
        let mut none = TopN::new(0);
        none.push("x", 1);
        assert!(none.into_sorted().is_empty());
    }

    #[test]
    fn stats_count_series_values_and_pairs() {
        let mut p = MemPostings::default();
        let series = [
            [("__name__", "up"), ("job", "api")],
            [("__name__", "up"), ("job", "web")],
            [("__name__", "http"), ("job", "api")],
        ];
        for (i, s) in series.iter().enumerate() {
            p.add(i as u32, &Labels::from_pairs(s.iter().copied()));
        }
        let s = p.stats(10);
        assert_eq!(s.num_series, 3);
        assert_eq!(s.num_label_names, 2);
        assert_eq!(s.num_label_pairs, 4);
        let names = |v: &[(Arc<str>, u64)]| -> Vec<(String, u64)> {
            v.iter().map(|(k, c)| (k.to_string(), *c)).collect()
        };
        assert_eq!(
            names(&s.series_count_by_metric_name),
            [("up".to_string(), 2), ("http".to_string(), 1)]
        );
        assert_eq!(
            names(&s.label_value_count_by_label_name),
            [("__name__".to_string(), 2), ("job".to_string(), 2)]
        );
        assert_eq!(
            names(&s.memory_in_bytes_by_label_name),
            [("__name__".to_string(), 32), ("job".to_string(), 18)]
        );
        let top_pair = &s.series_count_by_label_value_pair[0];
        assert_eq!(
            (&*top_pair.0.name, &*top_pair.0.value, top_pair.1),
            ("__name__", "up", 2)
        );
        assert_eq!(p.stats(1).series_count_by_label_value_pair.len(), 1);
    }
}
