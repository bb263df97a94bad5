//! Group commit and the background syncer.
//!
//! With [`super::FsyncPolicy::Always`] every acknowledged write must be fsynced, but an
//! fsync costs milliseconds on real disks. Concurrent writers therefore share fsyncs: one
//! caller (the leader) fsyncs the current segment while the others wait on a condvar; one
//! fsync covers every write that reached the OS before it started, so a waiter whose
//! position it covers returns without an fsync of its own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::WalPosition;
use crate::error::Result;

/// Which WAL positions are known to be durable.
#[derive(Debug)]
pub(crate) struct SyncState {
    /// Everything before this position is on stable storage.
    synced: WalPosition,
    /// True while a leader runs an fsync; others wait instead of starting their own.
    in_progress: bool,
}

/// Shared by writers, `sync_to` callers and the background syncer.
#[derive(Debug)]
pub(crate) struct GroupSync {
    state: Mutex<SyncState>,
    done: Condvar,
    /// fsyncs run by [`GroupSync::sync_to`] and [`GroupSync::sync_now`]; for tests and stats.
    fsyncs: AtomicU64,
}

impl GroupSync {
    pub(crate) fn new(synced: WalPosition) -> Self {
        GroupSync {
            state: Mutex::new(SyncState {
                synced,
                in_progress: false,
            }),
            done: Condvar::new(),
            fsyncs: AtomicU64::new(0),
        }
    }

    pub(crate) fn fsyncs(&self) -> u64 {
        self.fsyncs.load(Ordering::Relaxed)
    }

    /// Records that everything before `pos` is durable (e.g. a segment fsynced on rotation).
    pub(crate) fn mark_synced(&self, pos: WalPosition) {
        let mut st = self.state.lock();
        if pos > st.synced {
            st.synced = pos;
        }
        drop(st);
        self.done.notify_all();
    }

    /// Returns once everything before `pos` is durable. `sync` fsyncs the current segment
    /// and returns the position it covers; it runs without the state lock held, so writers
    /// keep appending during the fsync and new callers queue up for the next one.
    pub(crate) fn sync_to(
        &self,
        pos: WalPosition,
        sync: impl Fn() -> Result<WalPosition>,
    ) -> Result<()> {
        let mut st = self.state.lock();
        loop {
            if st.synced >= pos {
                return Ok(());
            }
            if st.in_progress {
                self.done.wait(&mut st);
                continue;
            }
            self.lead(&mut st, &sync)?;
        }
    }

    /// Fsyncs now (or joins a running fsync) regardless of positions.
    pub(crate) fn sync_now(&self, sync: impl Fn() -> Result<WalPosition>) -> Result<()> {
        let mut st = self.state.lock();
        while st.in_progress {
            self.done.wait(&mut st);
        }
        self.lead(&mut st, &sync)
    }

    fn lead(
        &self,
        st: &mut MutexGuard<'_, SyncState>,
        sync: &impl Fn() -> Result<WalPosition>,
    ) -> Result<()> {
        st.in_progress = true;
        let res = MutexGuard::unlocked(st, || {
            self.fsyncs.fetch_add(1, Ordering::Relaxed);
            sync()
        });
        st.in_progress = false;
        if let Ok(p) = &res {
            if *p > st.synced {
                st.synced = *p;
            }
        }
        // Also on error: a waiter then becomes the next leader and retries (or fails) itself.
        self.done.notify_all();
        res.map(|_| ())
    }
}

/// A thread that runs a task (the WAL's fsync, the head's chunk writer) every interval
/// until dropped.
pub(crate) struct BackgroundSyncer {
    /// Set to stop the thread; the condvar wakes it early.
    stop: Arc<(Mutex<bool>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl BackgroundSyncer {
    pub(crate) fn spawn(
        every: Duration,
        sync: impl Fn() -> Result<()> + Send + 'static,
    ) -> std::io::Result<Self> {
        Self::spawn_named("wal-fsync", "periodic WAL fsync failed", every, sync)
    }

    /// Runs `task` every `every` on a thread called `name`; a failure is logged as `what`
    /// and the next round runs as planned.
    pub(crate) fn spawn_named(
        name: &str,
        what: &'static str,
        every: Duration,
        sync: impl Fn() -> Result<()> + Send + 'static,
    ) -> std::io::Result<Self> {
        // A zero interval would spin.
        let every = every.max(Duration::from_millis(1));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || loop {
                {
                    let mut stopped = stop2.0.lock();
                    if !*stopped {
                        stop2.1.wait_for(&mut stopped, every);
                    }
                    if *stopped {
                        return;
                    }
                }
                if let Err(e) = sync() {
                    tracing::error!(error = %e, "{what}");
                }
            })?;
        Ok(BackgroundSyncer {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for BackgroundSyncer {
    fn drop(&mut self) {
        *self.stop.0.lock() = true;
        self.stop.1.notify_all();
        if let Some(h) = self.handle.take() {
            if h.join().is_err() {
                tracing::error!("WAL fsync thread panicked");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::error::Error;

    fn pos(offset: u64) -> WalPosition {
        WalPosition { segment: 1, offset }
    }

    #[test]
    fn concurrent_callers_share_one_covering_fsync() {
        let group = Arc::new(GroupSync::new(pos(0)));
        let handles: Vec<_> = (1..=8)
            .map(|i| {
                let group = Arc::clone(&group);
                std::thread::spawn(move || {
                    group.sync_to(pos(i * 10), || {
                        // A slow disk: others arrive while this runs and must wait for it.
                        std::thread::sleep(Duration::from_millis(50));
                        Ok(pos(100))
                    })
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        assert_eq!(group.fsyncs(), 1);
        // A position beyond the synced one needs another fsync.
        group.sync_to(pos(101), || Ok(pos(150))).unwrap();
        assert_eq!(group.fsyncs(), 2);
    }

    #[test]
    fn a_failed_fsync_fails_its_leader_and_the_next_caller_retries() {
        let group = GroupSync::new(pos(0));
        let failed = AtomicBool::new(false);
        let sync = || {
            if failed.swap(true, Ordering::SeqCst) {
                Ok(pos(10))
            } else {
                Err(Error::io("wal", std::io::Error::other("disk gone")))
            }
        };
        assert!(group.sync_to(pos(5), sync).is_err());
        group.sync_to(pos(5), sync).unwrap();
        assert_eq!(group.fsyncs(), 2);
    }

    #[test]
    fn marked_positions_need_no_fsync() {
        let group = GroupSync::new(pos(0));
        group.mark_synced(pos(40));
        group.mark_synced(pos(20));
        group
            .sync_to(pos(40), || panic!("covered position fsynced"))
            .unwrap();
        assert_eq!(group.fsyncs(), 0);
    }
}
