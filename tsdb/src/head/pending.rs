//! A series' closed chunks not yet in a chunk-head segment.
//!
//! The list is empty for almost every series almost all the time: a chunk waits only from
//! its close until the background writer's next round. So it costs one pointer in every
//! series (`None` while empty) instead of an empty `Vec`'s three words, and the vector
//! behind it exists only while chunks wait. Reads go through `Deref` to a slice.

use std::ops::Deref;

use super::series::PendingChunk;

/// Invariant: `Some` holds a non-empty vector.
// The box is the point: one word in every series, where a bare `Vec` takes three.
#[allow(clippy::box_collection)]
#[derive(Default)]
pub(crate) struct PendingChunks(Option<Box<Vec<PendingChunk>>>);

impl PendingChunks {
    pub(crate) fn push(&mut self, p: PendingChunk) {
        self.0.get_or_insert_with(Box::default).push(p);
    }

    /// Removes entry `i` (the last entry takes its place); `None` when there is no such entry.
    pub(crate) fn swap_remove(&mut self, i: usize) -> Option<PendingChunk> {
        let list = self.0.as_mut().filter(|list| i < list.len())?;
        let p = list.swap_remove(i);
        self.drop_if_empty();
        Some(p)
    }

    pub(crate) fn retain(&mut self, f: impl FnMut(&PendingChunk) -> bool) {
        if let Some(list) = self.0.as_mut() {
            list.retain(f);
        }
        self.drop_if_empty();
    }

    /// Heap bytes held: the vector's header and its capacity.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.0.as_ref().map_or(0, |list| {
            size_of::<Vec<PendingChunk>>() + list.capacity() * size_of::<PendingChunk>()
        })
    }

    fn drop_if_empty(&mut self) {
        if self.0.as_ref().is_some_and(|list| list.is_empty()) {
            self.0 = None;
        }
    }
}

impl Deref for PendingChunks {
    type Target = [PendingChunk];

    fn deref(&self) -> &[PendingChunk] {
        self.0.as_deref().map_or(&[], Vec::as_slice)
    }
}

impl<'a> IntoIterator for &'a PendingChunks {
    type Item = &'a PendingChunk;
    type IntoIter = std::slice::Iter<'a, PendingChunk>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(min_t: i64) -> PendingChunk {
        PendingChunk {
            min_t,
            max_t: min_t + 1,
            wal_segment: 0,
            data: vec![0, 1].into_boxed_slice(),
        }
    }

    #[test]
    fn one_word_and_no_allocation_while_empty() {
        assert_eq!(size_of::<PendingChunks>(), size_of::<usize>());
        let mut p = PendingChunks::default();
        assert!(p.is_empty() && p.heap_bytes() == 0);
        p.push(chunk(10));
        p.push(chunk(20));
        p.push(chunk(30));
        assert_eq!(p.iter().map(|c| c.min_t).collect::<Vec<_>>(), [10, 20, 30]);
        assert!(p.heap_bytes() >= 3 * size_of::<PendingChunk>());
        assert_eq!(p.swap_remove(0).map(|c| c.min_t), Some(10));
        assert!(p.swap_remove(2).is_none());
        assert_eq!(
            (&p).into_iter().map(|c| c.min_t).collect::<Vec<_>>(),
            [30, 20]
        );
        p.retain(|c| c.min_t != 30);
        assert_eq!(p.len(), 1);
        // Emptied by either removal, the list frees its vector.
        p.swap_remove(0);
        assert!(p.is_empty() && p.heap_bytes() == 0 && p.0.is_none());
        p.push(chunk(40));
        p.retain(|_| false);
        assert!(p.0.is_none());
    }
}
