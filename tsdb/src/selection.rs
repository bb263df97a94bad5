//! Matchers → the head series they select, kept between queries.
//!
//! Dashboards ask the same selectors again and again: a live panel every second, Grafana
//! on each refresh. Each time the head resolved the matchers against the postings, looked
//! every id up in the series table, built every series' labels from the symbol table and
//! sorted them. A [`Selection`] keeps that answer (the series, their labels, in label
//! order); the next query with the same matchers only reads each series' chunks.
//!
//! Invalidation: the cache has a generation, bumped by the head on every series creation
//! and removal, after the postings changed and while their write lock is held. A query
//! reads the generation before it resolves the matchers and stores its answer under the
//! generation it read; an answer is used only while the generation is unchanged. A series
//! created or removed after the read bumps the generation, so its answer is dropped at
//! the next lookup: a selection never misses a new series nor keeps a removed one past
//! the next query. (A removed series still in a selection read before the bump answers
//! no samples: the cut that removes it has moved them all into a block, which is read
//! after the head.) Blocks are not cached here: they answer from their own index.
//!
//! | field        | holds                                                          |
//! |--------------|----------------------------------------------------------------|
//! | `generation` | bumped on every series creation/removal in the head            |
//! | `state.gen`  | the generation all `state.entries` were resolved at            |
//! | `entries`    | matchers key → [`Selection`]; `held` counts their series       |

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::head::SharedSeries;
use crate::index::Matcher;
use crate::labels::Labels;

/// Most series all selections may hold together (about 150 bytes each with their
/// labels' vector; the strings are the symbol table's). Past it the cache starts over.
pub(crate) const MAX_HELD_SERIES: usize = 1 << 18;

/// The head series some matchers select, sorted by labels.
pub(crate) struct Selection {
    /// Invariant: sorted by labels; each labels are their series' labels.
    pub(crate) series: Vec<(SharedSeries, Labels)>,
}

#[derive(Default)]
struct State {
    /// The generation `entries` were resolved at.
    gen: u64,
    entries: HashMap<String, Arc<Selection>>,
    /// Series held by all `entries`; at most [`MAX_HELD_SERIES`].
    held: usize,
}

/// The head's selections by matchers; see the module's documentation.
#[derive(Default)]
pub(crate) struct SelectionCache {
    generation: AtomicU64,
    state: Mutex<State>,
}

impl SelectionCache {
    /// Call after every series creation or removal, once the postings show it.
    pub(crate) fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The selection of `matchers`: the cached one while no series was created or
    /// removed since it was resolved, else `resolve()`'s, which is kept for next time.
    pub(crate) fn get_or_resolve(
        &self,
        matchers: &[Matcher],
        resolve: impl FnOnce() -> Selection,
    ) -> Arc<Selection> {
        let key = key(matchers);
        // Read before resolving: a series created after this read bumps the generation.
        let gen = self.generation.load(Ordering::SeqCst);
        {
            let mut st = self.state.lock();
            if st.gen < gen {
                // Dropping stale selections releases removed series at once.
                *st = State {
                    gen,
                    ..State::default()
                };
            } else if st.gen == gen {
                if let Some(s) = st.entries.get(&key) {
                    return Arc::clone(s);
                }
            }
            // `st.gen > gen`: a query that read the generation before a newer one did;
            // it resolves on its own and stores nothing below.
        }
        let sel = Arc::new(resolve());
        let n = sel.series.len();
        let mut st = self.state.lock();
        if st.gen == gen && self.generation.load(Ordering::SeqCst) == gen && n <= MAX_HELD_SERIES {
            if st.held + n > MAX_HELD_SERIES {
                st.entries.clear();
                st.held = 0;
            }
            if let Some(old) = st.entries.insert(key, Arc::clone(&sel)) {
                st.held -= old.series.len();
            }
            st.held += n;
        }
        sel
    }

    /// Cached selections (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.state.lock().entries.len()
    }
}

/// The cache key of a matcher list: its matchers sorted, since their order does not
/// change what they select. Each field is prefixed by its length, so that no two lists
/// share a key whatever their values hold.
fn key(matchers: &[Matcher]) -> String {
    use std::fmt::Write;
    let mut parts: Vec<(&str, &str, &str)> = matchers
        .iter()
        .map(|m| (m.name.as_str(), m.op.as_str(), m.value.as_str()))
        .collect();
    parts.sort_unstable();
    let mut k = String::new();
    for (name, op, value) in parts {
        for f in [name, op, value] {
            let _ = write!(k, "{}:{f}", f.len());
        }
    }
    k
}

#[cfg(test)]
#[path = "selection_tests.rs"]
mod tests;
