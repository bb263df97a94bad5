//! The remote-write client's disk-backed queue: what a stateless scraper uses to hand its
//! samples to an ingest tier it does not share a process with.
//!
//! [`RemoteWriteQueue::push`] writes a request to the queue's log on disk (fsynced when
//! [`QueueOptions::fsync`] is set) and returns; a background task sends the log's records,
//! oldest first, several per request, and moves the log's cursor past them once the
//! receiver has answered 2xx — or refused them for good. Queued requests survive the
//! process's own restart, a receiver that is down, or one that answers 429 with
//! `Retry-After`. Order: requests are sent in push order, one at a time, so a series'
//! samples reach the receiver in timestamp order.
//!
//! Files: `log` (the durable log and its recovery), `send` (one HTTP exchange and the
//! retry policy).

mod log;
mod send;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use prost::Message;
use tianshu_prompb::WriteRequest;
use tokio::sync::Notify;

use log::QueueLog;
use send::{Backoff, Outcome};

/// Why a queue could not be opened or a request queued.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("remote-write queue I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("remote-write client: {0}")]
    Client(#[from] reqwest::Error),
    #[error("compressing a remote-write request: {0}")]
    Snappy(#[from] snap::Error),
}

/// How the queue sends; defaults follow Prometheus's `queue_config` where one exists.
#[derive(Clone, Debug)]
pub struct QueueOptions {
    /// The receiver's remote-write URL, e.g. `http://ingest:9090/api/v1/write`.
    pub url: String,
    /// Uncompressed bytes of queued requests joined into one send.
    pub max_bytes_per_send: usize,
    /// First wait after a failed send (Prometheus's `min_backoff`).
    pub min_backoff: Duration,
    /// Longest wait between retries without a `Retry-After` (Prometheus's `max_backoff`).
    pub max_backoff: Duration,
    /// Per-request timeout (Prometheus's `remote_timeout`).
    pub timeout: Duration,
    /// Whether [`RemoteWriteQueue::push`] fsyncs before returning.
    pub fsync: bool,
    /// Size at which the log starts a new segment file.
    pub segment_bytes: u64,
}

impl QueueOptions {
    pub fn new(url: impl Into<String>) -> Self {
        QueueOptions {
            url: url.into(),
            max_bytes_per_send: 1 << 20,
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            fsync: true,
            segment_bytes: 64 << 20,
        }
    }
}

/// Counters of a queue since it was opened.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Requests (as pushed) the receiver acknowledged.
    pub delivered: AtomicU64,
    /// Requests the receiver refused for good (4xx other than 429); their data is lost.
    pub refused: AtomicU64,
    /// Sends that failed and were tried again.
    pub retries: AtomicU64,
}

struct Shared {
    log: Mutex<QueueLog>,
    /// Woken by a push, and by close.
    wake: Notify,
    /// Woken by close only, so that pushes do not cut a retry's wait short.
    close: Notify,
    closed: AtomicBool,
    stats: QueueStats,
}

/// A disk-backed remote-write queue and its sending task.
pub struct RemoteWriteQueue {
    shared: Arc<Shared>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RemoteWriteQueue {
    /// Opens the queue in `dir` (recovering what an earlier process left) and starts
    /// sending on the current Tokio runtime.
    pub fn open(dir: &Path, opts: QueueOptions) -> Result<Self, QueueError> {
        let log = QueueLog::open(dir, opts.segment_bytes, opts.fsync)?;
        let client = reqwest::Client::builder()
            .timeout(opts.timeout)
            .default_headers(send::default_headers())
            .build()?;
        let shared = Arc::new(Shared {
            log: Mutex::new(log),
            wake: Notify::new(),
            close: Notify::new(),
            closed: AtomicBool::new(false),
            stats: QueueStats::default(),
        });
        let task = tokio::spawn(run(shared.clone(), client, opts));
        Ok(RemoteWriteQueue {
            shared,
            task: Some(task),
        })
    }

    /// Queues one request. Once this returns `Ok`, the request is on disk and will be
    /// delivered, even across a restart of this process.
    pub fn push(&self, req: &WriteRequest) -> Result<(), QueueError> {
        let payload = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec())?;
        self.shared.log.lock().append(&payload)?;
        self.shared.wake.notify_one();
        Ok(())
    }

    /// Bytes queued and not yet acknowledged.
    pub fn pending_bytes(&self) -> u64 {
        self.shared.log.lock().pending_bytes()
    }

    /// Corrupt records met in the log since open; each cost the rest of its segment file.
    pub fn corrupt_records(&self) -> u64 {
        self.shared.log.lock().corrupt_records()
    }

    pub fn stats(&self) -> &QueueStats {
        &self.shared.stats
    }

    /// Stops sending; what is still queued stays on disk for the next open.
    pub async fn close(mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake.notify_one();
        self.shared.close.notify_one();
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for RemoteWriteQueue {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

async fn run(shared: Arc<Shared>, client: reqwest::Client, opts: QueueOptions) {
    let mut backoff = Backoff::new(opts.min_backoff, opts.max_backoff);
    while !shared.closed.load(Ordering::Acquire) {
        let batch = shared.log.lock().next_batch(opts.max_bytes_per_send);
        let batch = match batch {
            Ok(b) if b.payloads.is_empty() => {
                shared.wake.notified().await;
                continue;
            }
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "reading the remote-write queue");
                sleep_or_close(&shared, backoff.wait(None)).await;
                continue;
            }
        };
        let body = match send::join_payloads(&batch.payloads) {
            Ok(b) => b,
            Err(e) => {
                // Written by this queue under a CRC: only a bug gets here. Skip the batch
                // rather than block the queue behind it.
                tracing::error!(error = %e, "undecodable requests in the remote-write queue");
                ack(&shared, batch.end);
                continue;
            }
        };
        let n = batch.payloads.len() as u64;
        loop {
            match send::send(&client, &opts.url, body.clone()).await {
                Outcome::Delivered => {
                    shared.stats.delivered.fetch_add(n, Ordering::Relaxed);
                    backoff.reset();
                    ack(&shared, batch.end);
                    break;
                }
                Outcome::Refused { status, body } => {
                    shared.stats.refused.fetch_add(n, Ordering::Relaxed);
                    tracing::error!(
                        url = %opts.url, status, body = %body.trim(), requests = n,
                        "remote-write receiver refused queued samples; dropping them"
                    );
                    ack(&shared, batch.end);
                    break;
                }
                Outcome::Retry { after, reason } => {
                    shared.stats.retries.fetch_add(1, Ordering::Relaxed);
                    let wait = backoff.wait(after);
                    tracing::warn!(url = %opts.url, %reason, ?wait, "remote write failed; retrying");
                    if !sleep_or_close(&shared, wait).await {
                        return;
                    }
                }
            }
        }
    }
}

fn ack(shared: &Shared, end: log::Pos) {
    if let Err(e) = shared.log.lock().ack(end) {
        // The cursor lags: these requests will be sent again after a restart, which
        // receivers treat as duplicates.
        tracing::error!(error = %e, "moving the remote-write queue's cursor");
    }
}

/// Sleeps for `d` unless the queue is closed first; `false` when closed.
async fn sleep_or_close(shared: &Shared, d: Duration) -> bool {
    if shared.closed.load(Ordering::Acquire) {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = shared.close.notified() => {}
    }
    !shared.closed.load(Ordering::Acquire)
}
