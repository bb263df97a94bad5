//! Out-of-order samples of one series: older than its newest sample but within the
//! out-of-order window, so they cannot go into the Gorilla chunks, which only append.
//!
//! They are kept as a sorted vector: the window is short (minutes) and late samples are
//! the exception, so a few of them per series is the common case, where a vector beats any
//! tree. They leave the head with the block that covers their time, like chunk samples.
//!
//! Almost every series has none almost all the time, so the vector sits behind an
//! optional box: one word in every series (`None` while empty) instead of three.

use crate::block::InputChunk;
use crate::chunk::XorChunk;
use crate::sample::Sample;

use std::mem::size_of;

/// Invariant: sorted by timestamp, one sample per timestamp, and no timestamp that the
/// series' chunks also hold; `Some` holds a non-empty vector.
// The box is the point: one word in every series, where a bare `Vec` takes three.
#[allow(clippy::box_collection)]
#[derive(Default)]
pub(crate) struct OooSamples(Option<Box<Vec<Sample>>>);

impl OooSamples {
    /// Heap bytes held: the vector's header and its capacity.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |v| {
            size_of::<Vec<Sample>>() + v.capacity() * size_of::<Sample>()
        })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    fn samples(&self) -> &[Sample] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }

    pub(crate) fn first_t(&self) -> Option<i64> {
        self.samples().first().map(|s| s.t)
    }

    pub(crate) fn last_t(&self) -> Option<i64> {
        self.samples().last().map(|s| s.t)
    }

    /// Inserts a sample unless its timestamp is there; returns whether it was inserted.
    /// The caller makes sure the chunks do not hold the timestamp.
    pub(crate) fn insert(&mut self, t: i64, v: f64) -> bool {
        let list = self.0.get_or_insert_with(Box::default);
        match list.binary_search_by_key(&t, |s| s.t) {
            Ok(_) => false,
            Err(i) => {
                list.insert(i, Sample::new(t, v));
                true
            }
        }
    }

    pub(crate) fn value_bits_at(&self, t: i64) -> Option<u64> {
        let samples = self.samples();
        let i = samples.binary_search_by_key(&t, |s| s.t).ok()?;
        samples.get(i).map(|s| s.v.to_bits())
    }

    /// Merges the samples in `[mint, maxt]` into `out[from..]`, which is sorted.
    pub(crate) fn merge_into(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>, from: usize) {
        let samples = self.samples();
        let lo = samples.partition_point(|s| s.t < mint);
        let hi = samples.partition_point(|s| s.t <= maxt);
        if lo >= hi {
            return;
        }
        let mut merged = Vec::with_capacity(out.len() - from + hi - lo);
        let mut a = out.drain(from..).peekable();
        let mut b = samples[lo..hi].iter().copied().peekable();
        loop {
            let next = match (a.peek(), b.peek()) {
                (Some(x), Some(y)) if x.t <= y.t => a.next(),
                (Some(_), Some(_)) | (None, Some(_)) => b.next(),
                (Some(_), None) => a.next(),
                (None, None) => break,
            };
            merged.extend(next);
        }
        drop(a);
        out.extend(merged);
    }

    /// Appends the samples older than `maxt` to `out` as chunks, for a block.
    pub(crate) fn chunks_before(&self, maxt: i64, out: &mut Vec<InputChunk>) {
        let samples = self.samples();
        let n = samples.partition_point(|s| s.t < maxt);
        for part in samples[..n].chunks(XorChunk::MAX_SAMPLES) {
            let (Some(first), Some(last)) = (part.first(), part.last()) else {
                continue;
            };
            let mut c = XorChunk::new();
            for s in part {
                c.append(s.t, s.v);
            }
            out.push(InputChunk {
                min_t: first.t,
                max_t: last.t,
                data: c.into_bytes(),
            });
        }
    }

    /// Drops the samples older than `t`.
    pub(crate) fn truncate_before(&mut self, t: i64) {
        if let Some(list) = self.0.as_mut() {
            let n = list.partition_point(|s| s.t < t);
            list.drain(..n);
            if list.is_empty() {
                self.0 = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_stay_sorted_unique_and_merge_into_chunk_samples() {
        let mut o = OooSamples::default();
        assert!(o.insert(5, 5.0));
        assert!(o.insert(2, 2.0));
        assert!(!o.insert(5, 9.0));
        assert_eq!(o.value_bits_at(5), Some(5.0f64.to_bits()));
        assert_eq!((o.first_t(), o.last_t()), (Some(2), Some(5)));
        let mut out = vec![
            Sample::new(0, 0.0),
            Sample::new(1, 1.0),
            Sample::new(4, 4.0),
        ];
        o.merge_into(1, 10, &mut out, 1);
        let ts: Vec<i64> = out.iter().map(|s| s.t).collect();
        assert_eq!(ts, vec![0, 1, 2, 4, 5]);
        let mut chunks = Vec::new();
        o.chunks_before(5, &mut chunks);
        assert_eq!(chunks.len(), 1);
        assert_eq!((chunks[0].min_t, chunks[0].max_t), (2, 2));
        o.truncate_before(3);
        assert_eq!(o.first_t(), Some(5));
        o.truncate_before(6);
        assert!(o.is_empty());
        assert_eq!(
            (o.heap_bytes(), o.first_t(), o.value_bits_at(5)),
            (0, None, None)
        );
    }
}
