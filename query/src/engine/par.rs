//! Evaluating independent series on more than one core.
//!
//! A node's series are cut into contiguous chunks, one per thread, and the chunks' results
//! are concatenated in order, so the output is the same as a single pass. Scoped threads
//! borrow the node's input; they are spawned per node because the work per node at a
//! 1 s step (tens of milliseconds) dwarfs a spawn (tens of microseconds), and small nodes
//! stay on the calling thread.
//!
//! Limits still hold: callers count the samples the chunks produced against
//! `max_samples` once they are joined, and pass the query's deadline and cancellation
//! into the chunks ([`Stop`]), which give up as the calling thread would.

use std::time::Instant;

use crate::cancel::CancelToken;
use crate::error::QueryError;

/// Below this much work (points visited) a node stays on the calling thread. A point
/// visited costs tens of instructions, so this is a few hundred microseconds of work
/// against tens for a thread's start: `rate` over a hundred series at a 15 s step for
/// 10 minutes decodes 70 k samples, which one thread took twice as long for.
const MIN_WORK: usize = 1 << 15;

/// At most this many threads per node: beyond the cores of a small server, more threads
/// only contend with other queries.
const MAX_THREADS: usize = 4;

/// Threads for `work` points: 1 when the work is small or the machine has one core.
pub(crate) fn threads_for(work: usize) -> usize {
    if work < MIN_WORK {
        return 1;
    }
    most_threads()
}

/// The most threads one piece of a request takes: the cores, up to [`MAX_THREADS`]. Also
/// what the HTTP layer writes and compresses a large answer on.
pub(crate) fn most_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_THREADS)
}

/// `f` applied to contiguous chunks of `items` on `threads` threads, results in order.
/// The first error (in chunk order) is returned; a panicking chunk becomes an internal
/// error rather than taking the server down.
pub(crate) fn map_chunks<T: Send, R: Send>(
    items: &mut [T],
    threads: usize,
    f: impl Fn(&mut [T]) -> Result<R, QueryError> + Sync,
) -> Result<Vec<R>, QueryError> {
    if threads <= 1 || items.len() < 2 {
        return Ok(vec![f(items)?]);
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut chunks = items.chunks_mut(chunk);
        // The calling thread takes the first chunk itself.
        let own = chunks.next();
        let handles: Vec<_> = chunks.map(|c| scope.spawn(move || f(c))).collect();
        let mut out = Vec::with_capacity(handles.len() + 1);
        if let Some(c) = own {
            out.push(f(c));
        }
        for h in handles {
            out.push(h.join().unwrap_or_else(|_| {
                Err(QueryError::Internal("evaluation thread panicked".into()))
            }));
        }
        out.into_iter().collect()
    })
}

/// When a query's chunks give up: its deadline and its cancellation, as
/// `Evaluator::check_deadline` checks them on the calling thread.
#[derive(Clone)]
pub(crate) struct Stop {
    pub deadline: Instant,
    pub cancel: CancelToken,
}

impl Stop {
    pub(crate) fn check(&self) -> Result<(), QueryError> {
        if self.cancel.is_cancelled() {
            return Err(QueryError::Canceled("query execution"));
        }
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout("query execution"));
        }
        Ok(())
    }
}

/// [`map_chunks`] over a shared slice.
pub(crate) fn map_slices<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&[T]) -> Result<R, QueryError> + Sync,
) -> Result<Vec<R>, QueryError> {
    let mut parts: Vec<&[T]> = if threads <= 1 || items.len() < 2 {
        vec![items]
    } else {
        items.chunks(items.len().div_ceil(threads)).collect()
    };
    let n = parts.len();
    map_chunks(&mut parts, n, |c| match c {
        [part] => f(part),
        _ => Err(QueryError::Internal("uneven evaluation chunks".into())),
    })
}

/// `0..n` cut into at most `parts` contiguous runs `(lo, hi)` of about equal weight, item
/// `i` weighing `weight(i) + 1` (an empty item still costs its framing). Each cut falls on
/// whichever side of the item reaching the next share lands nearer it. Always at least one
/// run, `(0, 0)` when `n` is 0.
pub(crate) fn even_runs(
    n: usize,
    weight: impl Fn(usize) -> usize,
    parts: usize,
) -> Vec<(usize, usize)> {
    let total: usize = (0..n).map(|i| weight(i) + 1).sum();
    let parts = parts.clamp(1, n.max(1));
    let share = total.div_ceil(parts);
    let mut runs = Vec::with_capacity(parts);
    let (mut lo, mut acc) = (0, 0);
    for i in 0..n {
        let target = share * (runs.len() + 1);
        let next = acc + weight(i) + 1;
        if next >= target && runs.len() + 1 < parts {
            let cut = if next - target > target.saturating_sub(acc) && i > lo {
                i
            } else {
                i + 1
            };
            runs.push((lo, cut));
            lo = cut;
        }
        acc = next;
    }
    if lo < n || runs.is_empty() {
        runs.push((lo, n));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_runs_cut_nearest_to_equal_shares() {
        let runs = |w: &[usize], parts| even_runs(w.len(), |i| w[i], parts);
        for (weights, parts, want) in [
            (&[5, 0, 0, 9, 1][..], 2, vec![(0, 3), (3, 5)]),
            (&[3, 3, 3, 3], 8, vec![(0, 1), (1, 2), (2, 3), (3, 4)]),
            (&[3, 3, 3, 3], 1, vec![(0, 4)]),
            (&[3, 3, 3, 3], 0, vec![(0, 4)]),
            (&[0, 0, 0, 0, 0, 0], 3, vec![(0, 2), (2, 4), (4, 6)]),
            (&[100, 1, 1, 1], 2, vec![(0, 1), (1, 4)]),
            (&[], 4, vec![(0, 0)]),
        ] {
            assert_eq!(runs(weights, parts), want, "{weights:?} in {parts}");
        }
    }

    #[test]
    fn chunks_come_back_in_order() {
        let items: Vec<usize> = (0..1001).collect();
        for threads in [1, 2, 3, 4] {
            let parts = map_slices(&items, threads, |c| Ok(c.to_vec())).unwrap_or_default();
            assert_eq!(parts.len(), threads);
            assert_eq!(parts.concat(), items);
        }
        let mut owned: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        let parts = map_chunks(&mut owned, 3, |c| {
            Ok(c.iter_mut().map(std::mem::take).collect::<Vec<_>>())
        })
        .unwrap_or_default();
        let want: Vec<String> = (0..10).map(|i| i.to_string()).collect();
        assert_eq!(parts.concat(), want);
    }

    #[test]
    fn a_failing_chunk_fails_the_whole() {
        let items: Vec<usize> = (0..100).collect();
        let r = map_slices(&items, 2, |c| {
            if c.contains(&99) {
                Err(QueryError::Timeout("query execution"))
            } else {
                Ok(c.len())
            }
        });
        assert!(matches!(r, Err(QueryError::Timeout(_))), "{r:?}");
        let cancel = CancelToken::default();
        cancel.cancel();
        let stop = Stop {
            deadline: Instant::now() + std::time::Duration::from_secs(60),
            cancel,
        };
        assert!(matches!(stop.check(), Err(QueryError::Canceled(_))));
    }
}
