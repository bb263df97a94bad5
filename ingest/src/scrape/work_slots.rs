//! How many scrapes parse and append at once, process-wide.
//!
//! A scrape's fetch is async, but turning its body into samples and appending them is CPU
//! work on tokio's blocking pool. Uncapped, every 1 s scrape whose body arrives while the
//! cores are busy gets a thread of its own: 500 targets × 1,000 series on 2 cores ran 518
//! threads, each with its own stack and allocator heap, and spent 62% of its CPU in the
//! kernel zeroing their fresh pages while fewer scrapes finished in time. Work beyond the
//! cores cannot run sooner anyway, so it waits for a slot here, in arrival order
//! (tokio's semaphore is fair), and the blocking pool stays at about one thread per core.

use std::sync::{Arc, OnceLock};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Slots per core: one more than the cores keeps a core busy while another scrape's
/// thread is handing its samples over.
const SLOTS_PER_CORE: usize = 1;
const EXTRA_SLOTS: usize = 1;

fn slots() -> &'static Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS.get_or_init(|| Arc::new(Semaphore::new(capacity())))
}

/// The number of scrapes that may parse and append at the same time.
pub fn capacity() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores * SLOTS_PER_CORE + EXTRA_SLOTS
}

/// Waits for a slot; the work holds the permit until it is done.
///
/// `None` only if the semaphore were closed, which nothing does; the scrape then runs
/// uncapped rather than failing.
pub async fn acquire() -> Option<OwnedSemaphorePermit> {
    slots().clone().acquire_owned().await.ok()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn work_beyond_the_capacity_waits_for_a_slot() {
        let mut held = Vec::new();
        for _ in 0..capacity() {
            held.push(acquire().await);
        }
        assert!(held.iter().all(Option::is_some));
        let next = tokio::spawn(acquire());
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !next.is_finished(),
            "a slot was handed out beyond the capacity"
        );
        held.pop();
        let got = tokio::time::timeout(Duration::from_secs(30), next).await;
        assert!(
            matches!(got, Ok(Ok(Some(_)))),
            "a freed slot was not handed on"
        );
    }
}
