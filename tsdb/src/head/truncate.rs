//! Handing the head's oldest samples to a block, and dropping them once the block is
//! durable.
//!
//! Both run while appends and queries go on: every series is visited under its own mutex
//! only. What must not race with an append (removing a series that an appender has
//! resolved but not yet applied to) is left to [`Head::remove_empty`], which the caller
//! runs under the database's append lock.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Head;
use crate::block::SeriesChunks;
use crate::index::SeriesId;

impl Head {
    /// The chunks of every series holding samples older than `maxt`, sorted by labels as
    /// the block writer wants them; chunks straddling `maxt` come whole. Each series'
    /// chunks are copied only when the iterator reaches it, so that writing a block does
    /// not need a second copy of the range in memory. Complete only once no sample older
    /// than `maxt` can be appended any more (the caller raised the block floor).
    pub(crate) fn chunks_before(&self, maxt: i64) -> impl Iterator<Item = SeriesChunks> {
        let mut series = self.all_series();
        series.sort_unstable_by(|a, b| a.labels.cmp_labels(&b.labels));
        let hc = Arc::clone(&self.chunks);
        series.into_iter().filter_map(move |s| {
            let mut chunks = Vec::new();
            s.data.lock().chunks_before(maxt, &mut chunks, &hc);
            (!chunks.is_empty()).then(|| SeriesChunks {
                labels: s.labels.to_labels(),
                chunks,
            })
        })
    }

    /// Drops every sample older than `t` (all of which are in blocks by now). Returns the
    /// series left without samples, for [`Head::remove_empty`].
    pub(crate) fn truncate_before(&self, t: i64) -> TruncatePass {
        // From here on appends record their oldest timestamp for `finish`.
        self.applied_min.store(i64::MAX, Ordering::Relaxed);
        let mut pass = TruncatePass {
            empty: Vec::new(),
            min_time: i64::MAX,
        };
        let mut queued = Vec::new();
        for s in self.all_series() {
            let mut d = s.data.lock();
            d.truncate_before(t, &self.chunks);
            if !d.pending.is_empty() {
                queued.push(s.id);
            }
            match d.first_t(&self.chunks) {
                Some(first) => pass.min_time = pass.min_time.min(first),
                None => pass.empty.push(s.id),
            }
        }
        // Chunks cut at `t` were rewritten: they wait for the writer like closed ones.
        self.enqueue_chunks(queued);
        pass
    }

    /// Removes the series of `pass` still without samples and sets the head's exact
    /// minimum time. Call under the append lock: then no appender holds an id it has not
    /// applied to, and every append since the pass began has noted its oldest timestamp.
    pub(crate) fn remove_empty(&self, pass: TruncatePass) -> usize {
        let mut removed = 0;
        for id in pass.empty {
            let empty = self.get(id).is_some_and(|s| s.data.lock().is_empty());
            if empty {
                self.remove(id);
                removed += 1;
            }
        }
        let min = pass.min_time.min(self.applied_min.load(Ordering::Relaxed));
        self.min_time.store(min, Ordering::Relaxed);
        removed
    }
}

/// What [`Head::truncate_before`] found, for [`Head::remove_empty`].
pub(crate) struct TruncatePass {
    /// Series that had no samples left when visited.
    empty: Vec<SeriesId>,
    /// Oldest sample among the series visited; `i64::MAX` if none.
    min_time: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::Labels;
    use crate::sample::Sample;

    fn head_with(series: &[(&str, &[i64])]) -> Head {
        let head = Head::for_tests();
        for (name, ts) in series {
            let (id, _) = head.get_or_create(&Labels::from_pairs([("__name__", *name)]));
            let samples: Vec<_> = ts
                .iter()
                .map(|&t| crate::wal::RefSample { id, t, v: t as f64 })
                .collect();
            super::super::apply_replayed(&head, &samples);
        }
        head
    }

    fn samples(head: &Head, name: &str) -> Vec<Sample> {
        let id = head
            .lookup(&Labels::from_pairs([("__name__", name)]))
            .unwrap();
        let mut out = Vec::new();
        head.get(id)
            .unwrap()
            .data
            .lock()
            .samples_in(i64::MIN, i64::MAX, &mut out, &head.chunks);
        out
    }

    #[test]
    fn truncation_splits_straddling_chunks_and_removes_emptied_series() {
        // 1000 samples: several closed chunks and an open one.
        let many: Vec<i64> = (0..1000).collect();
        let head = head_with(&[("a", &many), ("b", &[1, 2, 3]), ("c", &[5, 700])]);
        let copied: Vec<SeriesChunks> = head.chunks_before(500).collect();
        assert_eq!(copied.len(), 3);
        assert!(copied.windows(2).all(|w| w[0].labels < w[1].labels));

        let pass = head.truncate_before(500);
        assert_eq!(head.remove_empty(pass), 1);
        assert_eq!(head.num_series(), 2);
        assert!(head
            .lookup(&Labels::from_pairs([("__name__", "b")]))
            .is_none());
        let a = samples(&head, "a");
        assert_eq!(a.len(), 500);
        assert_eq!(a[0].t, 500);
        assert_eq!(samples(&head, "c"), vec![Sample::new(700, 700.0)]);
        assert_eq!(head.min_time(), Some(500));
        // The removed id is not reused.
        let (id, created) = head.get_or_create(&Labels::from_pairs([("__name__", "b")]));
        assert!(created);
        assert_eq!(id, 3);
    }

    #[test]
    fn a_series_appended_to_during_the_pass_is_kept() {
        let head = head_with(&[("a", &[1, 2])]);
        let pass = head.truncate_before(10);
        let id = head
            .lookup(&Labels::from_pairs([("__name__", "a")]))
            .unwrap();
        super::super::apply_replayed(&head, &[crate::wal::RefSample { id, t: 20, v: 1.0 }]);
        assert_eq!(head.remove_empty(pass), 0);
        assert_eq!(head.min_time(), Some(20));
    }
}
