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

/// A thread that fsyncs every interval until dropped.
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
        // A zero interval would spin.
        let every = every.max(Duration::from_millis(1));
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let stop2 = Arc::clone(&stop);
        let handle = std::thread::Builder::new()
            .name("wal-fsync".to_string())
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
                    tracing::error!(error = %e, "periodic WAL fsync failed");
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
