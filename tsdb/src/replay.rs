//! Rebuilding the head at open: the checkpoint's series, then the chunks in the
//! chunk-head segments (`head/replay.rs`), then the WAL (checkpoint and segments).
//!
//! Chunk-head records name series by id, so the series must exist before them: the newest
//! checkpoint is read first (once: its series are created then, its other records kept and
//! applied after the chunks, before the segments that follow it). A series whose record is only in the WAL
//! segments after the checkpoint was created after the checkpoint's segments, so all its
//! samples are still in the WAL and its records on disk can be left out.
//!
//! Then the calling thread reads and decodes the WAL, creates series, maps WAL series ids to
//! head ids and routes each sample to the shard that owns its series; one thread per shard
//! applies them (`head/replay.rs`). Per series, samples are applied in WAL order, as a
//! sequential replay would. The other records keep their WAL order relative to samples:
//! a series is created (and handed to its shard) before the samples that follow its
//! record are routed, and a tombstone is applied only once every shard has applied the
//! samples read before it, since it deletes exactly those.
//!
//! WAL ids map to head ids through a dense table: ids are handed out densely, so a table
//! indexed by WAL id costs 4 bytes per series and no hashing per sample. An id far beyond
//! the table's end (a record corrupted in a way its CRC missed) goes to a small map
//! instead of sizing the table.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::db::{from_metadata_record, insert_metadata, MetricMetadata};
use crate::error::Result;
use crate::head::{Head, ReplayShard, ReplayedSample};
use crate::index::SeriesId;
use crate::wal::{Decoded, Record, RefSample, ReplayStats, TombstoneRecord, Wal};

/// Samples gathered per shard before they are handed over. Large, because a shard sorts
/// each batch by series: with one sample per series per WAL record, a batch must span
/// several records for a series to have more than one sample in it.
const SHARD_BATCH: usize = 1 << 16;

/// Batches in flight per shard; bounds the memory of decoded but unapplied samples
/// (24 bytes each).
const SHARD_QUEUE: usize = 4;

/// Ids this far beyond the dense table's end go to the overflow map.
const MAX_DENSE_GAP: usize = 1 << 20;

/// Most shard threads; replay is memory-bound, so more threads than this gain nothing.
const MAX_SHARDS: usize = 8;

const UNMAPPED: SeriesId = SeriesId::MAX;

/// Series gathered per shard before they are handed over: one message per series would
/// wake the shard thread once per series, which at a million series costs seconds.
const SERIES_BATCH: usize = 4096;

enum Msg {
    Series(Vec<(SeriesId, crate::head::SharedSeries)>),
    Samples(Vec<ReplayedSample>),
    /// Answer once everything sent before is applied.
    Barrier(SyncSender<()>),
}

/// WAL id → head id. Identity in the normal case; differs only after a skipped record.
#[derive(Default)]
struct IdMap {
    /// `dense[wal id]` is the head id, or `UNMAPPED`.
    dense: Vec<SeriesId>,
    sparse: HashMap<SeriesId, SeriesId>,
}

impl IdMap {
    fn insert(&mut self, wal: SeriesId, head: SeriesId) {
        let i = wal as usize;
        if i < self.dense.len() + MAX_DENSE_GAP && wal != UNMAPPED {
            if i >= self.dense.len() {
                self.dense.resize(i + 1, UNMAPPED);
            }
            self.dense[i] = head;
        } else {
            self.sparse.insert(wal, head);
        }
    }

    fn get(&self, wal: SeriesId) -> Option<SeriesId> {
        match self.dense.get(wal as usize) {
            Some(&UNMAPPED) => None,
            Some(&id) => Some(id),
            None if self.sparse.is_empty() => None,
            None => self.sparse.get(&wal).copied(),
        }
    }
}

/// Routes records to the shard threads.
///
/// Invariant: a shard's pending series are sent before its pending samples, so a shard
/// always knows a series before it sees its samples.
struct Router {
    senders: Vec<SyncSender<Msg>>,
    pending: Vec<Vec<ReplayedSample>>,
    pending_series: Vec<Vec<(SeriesId, crate::head::SharedSeries)>>,
    /// Batches the shards applied, emptied and sent back to be filled again: a fresh
    /// 1.5 MB batch each time costs the allocator's page faults on every one.
    spare: Receiver<Vec<ReplayedSample>>,
}

impl Router {
    fn shard(&self, id: SeriesId) -> usize {
        id as usize % self.senders.len()
    }

    fn series(&mut self, id: SeriesId, s: crate::head::SharedSeries) {
        let k = self.shard(id);
        self.pending_series[k].push((id, s));
        if self.pending_series[k].len() >= SERIES_BATCH {
            self.send_series(k);
        }
    }

    fn send_series(&mut self, k: usize) {
        if !self.pending_series[k].is_empty() {
            let batch = std::mem::take(&mut self.pending_series[k]);
            // A send fails only when the shard thread panicked; the scope re-raises that
            // panic.
            let _ = self.senders[k].send(Msg::Series(batch));
        }
    }

    fn sample(&mut self, id: SeriesId, seg: u32, t: i64, v: f64) {
        let k = self.shard(id);
        self.pending[k].push((id, seg, t, v));
        if self.pending[k].len() >= SHARD_BATCH {
            self.send_series(k);
            let next = self
                .spare
                .try_recv()
                .unwrap_or_else(|_| Vec::with_capacity(SHARD_BATCH));
            let batch = std::mem::replace(&mut self.pending[k], next);
            let _ = self.senders[k].send(Msg::Samples(batch));
        }
    }

    fn flush(&mut self) {
        for k in 0..self.senders.len() {
            self.send_series(k);
            if !self.pending[k].is_empty() {
                let batch = std::mem::take(&mut self.pending[k]);
                let _ = self.senders[k].send(Msg::Samples(batch));
            }
        }
    }

    /// Returns once every shard has applied everything routed so far.
    fn wait_applied(&mut self) {
        self.flush();
        let (ack_tx, ack_rx) = sync_channel(self.senders.len());
        for tx in &self.senders {
            let _ = tx.send(Msg::Barrier(ack_tx.clone()));
        }
        drop(ack_tx);
        // Ends early only if a shard died, whose panic the scope re-raises.
        for _ in 0..self.senders.len() {
            if ack_rx.recv().is_err() {
                break;
            }
        }
    }
}

fn run_shard(
    mut shard: ReplayShard<'_>,
    rx: Receiver<Msg>,
    spare: SyncSender<Vec<ReplayedSample>>,
    skipped: &AtomicU64,
) {
    for msg in rx {
        match msg {
            Msg::Series(batch) => {
                for (id, s) in batch {
                    shard.add_series(id, s);
                }
            }
            Msg::Samples(mut batch) => {
                shard.apply(&mut batch);
                batch.clear();
                // Dropped when the router holds enough spares already.
                let _ = spare.try_send(batch);
            }
            Msg::Barrier(ack) => {
                let _ = ack.send(());
            }
        }
    }
    skipped.fetch_add(shard.finish(), Ordering::Relaxed);
}

/// The state of replaying the records after the chunks: the WAL ids seen so far and where
/// their samples go.
struct Tail<'a> {
    head: &'a Head,
    metadata: &'a mut HashMap<String, Vec<MetricMetadata>>,
    /// Samples older than this are in blocks already.
    floor: i64,
    router: Router,
    ids: IdMap,
    /// Whether a series got another id than its WAL record named.
    remapped: bool,
    /// Samples whose series record was not found.
    unknown_refs: u64,
}

impl Tail<'_> {
    /// Routes the samples of one record, read from WAL segment `seg`.
    fn samples(&mut self, seg: u64, samples: &[RefSample]) {
        let seg = u32::try_from(seg).unwrap_or(u32::MAX - 1);
        for s in samples {
            if s.t < self.floor {
                continue;
            }
            match self.ids.get(s.id) {
                Some(id) => self.router.sample(id, seg, s.t, s.v),
                None => self.unknown_refs += 1,
            }
        }
    }

    /// Applies any other record, in its WAL order relative to the samples.
    fn record(&mut self, seg: u64, rec: Record) {
        match rec {
            Record::Series(series) => {
                let made = self
                    .head
                    .create_many_for_replay(series.iter().map(|s| (&s.labels, s.id)));
                for (s, m) in series.iter().zip(made) {
                    self.remapped |= m.id != s.id;
                    self.ids.insert(s.id, m.id);
                    self.router.series(m.id, m);
                }
            }
            Record::Samples(samples) => self.samples(seg, &samples),
            Record::Metadata(md) => {
                for m in md {
                    insert_metadata(self.metadata, from_metadata_record(m));
                }
            }
            Record::Tombstones(stones) => {
                let ids = &self.ids;
                let mapped: Vec<TombstoneRecord> = stones
                    .into_iter()
                    .filter_map(|t| ids.get(t.id).map(|id| TombstoneRecord { id, ..t }))
                    .collect();
                self.router.wait_applied();
                self.head.apply_deletes(&mapped);
            }
        }
    }
}

/// What the newest checkpoint held: its number, its series (WAL id → head id, all created
/// in the head), its other records in order, and whether any series got another id.
struct Checkpoint {
    seq: Option<u64>,
    ids: Vec<(SeriesId, SeriesId)>,
    rest: Vec<Record>,
    remapped: bool,
}

/// Records of the checkpoint in flight between its reader and the thread creating series.
const CHECKPOINT_QUEUE: usize = 8;

/// Reads the newest checkpoint and creates its series. A second thread reads, checks and
/// decodes the records (a third of the work: every label of every series is parsed and
/// allocated) while this one creates the series of the records before.
fn read_checkpoint(wal_dir: &Path, head: &Head) -> Result<Checkpoint> {
    let mut cp = Checkpoint {
        seq: None,
        ids: Vec::new(),
        rest: Vec::new(),
        remapped: false,
    };
    let (tx, rx) = sync_channel::<Record>(CHECKPOINT_QUEUE);
    cp.seq = std::thread::scope(|scope| {
        let reader = std::thread::Builder::new()
            .name("wal-checkpoint".to_string())
            .spawn_scoped(scope, move || {
                // A send fails only once this thread's receiver is gone, i.e. it panicked;
                // the scope re-raises that panic.
                Wal::checkpoint_records(wal_dir, |rec| {
                    let _ = tx.send(rec);
                })
            })
            .map_err(|e| crate::error::Error::io(wal_dir, e))?;
        for rec in rx {
            match rec {
                Record::Series(series) => {
                    // One batch per record: the head's locks are taken once for it.
                    let made =
                        head.create_many_for_replay(series.iter().map(|s| (&s.labels, s.id)));
                    for (s, m) in series.iter().zip(made) {
                        cp.remapped |= m.id != s.id;
                        cp.ids.push((s.id, m.id));
                    }
                }
                other => cp.rest.push(other),
            }
        }
        reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })?;
    Ok(cp)
}

/// Rebuilds the head from the WAL, skipping samples older than `floor` (in blocks).
/// Returns the replay statistics and whether any series ended up with a different id than
/// its WAL record named.
pub(crate) fn replay(
    wal_dir: &Path,
    head: &Head,
    metadata: &mut HashMap<String, Vec<MetricMetadata>>,
    floor: i64,
) -> Result<(ReplayStats, bool)> {
    let started = std::time::Instant::now();
    let Checkpoint {
        seq: checkpoint_seq,
        ids: checkpoint_ids,
        rest: checkpoint_rest,
        remapped: checkpoint_remapped,
    } = read_checkpoint(wal_dir, head)?;
    let checkpoint_done = started.elapsed();
    let attached = if checkpoint_remapped {
        // Only after a corrupt checkpoint record: ids on disk may name other series.
        tracing::error!("WAL checkpoint series ids are inconsistent; chunk-head segments not loaded, samples only in them are lost");
        0
    } else {
        head.attach_chunks()
    };
    let chunks_done = started.elapsed();
    let skipped = AtomicU64::new(0);
    let skipped_ref = &skipped;
    let shards = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, MAX_SHARDS);
    std::thread::scope(|scope| {
        let (spare_tx, spare_rx) = sync_channel(shards * SHARD_QUEUE);
        let mut senders = Vec::with_capacity(shards);
        for k in 0..shards {
            let (tx, rx) = sync_channel(SHARD_QUEUE);
            senders.push(tx);
            let shard = ReplayShard::new(head);
            let spare = spare_tx.clone();
            std::thread::Builder::new()
                .name(format!("wal-replay-{k}"))
                .spawn_scoped(scope, move || run_shard(shard, rx, spare, skipped_ref))
                .map_err(|e| crate::error::Error::io(wal_dir, e))?;
        }
        drop(spare_tx);
        let mut tail = Tail {
            head,
            metadata,
            floor,
            router: Router {
                pending: (0..shards)
                    .map(|_| Vec::with_capacity(SHARD_BATCH))
                    .collect(),
                pending_series: (0..shards).map(|_| Vec::new()).collect(),
                senders,
                spare: spare_rx,
            },
            ids: IdMap::default(),
            remapped: false,
            unknown_refs: 0,
        };
        // The checkpoint's series, created above: mapped and handed to their shards.
        for (wal_id, id) in checkpoint_ids {
            tail.ids.insert(wal_id, id);
            if let Some(series) = head.get(id) {
                tail.router.series(id, series);
            }
        }
        let cp_seq = checkpoint_seq.unwrap_or(0);
        for rec in checkpoint_rest {
            tail.record(cp_seq, rec);
        }
        let stats = Wal::replay_segments_after_checkpoint(wal_dir, |seg, rec| {
            match rec {
                Decoded::Samples(samples) => tail.samples(seg, samples),
                Decoded::Other(rec) => tail.record(seg, rec),
            }
            Ok(())
        });
        // Whether replay succeeded or not, let the shards finish before the scope joins
        // them: dropping the senders ends their loops.
        let Tail {
            mut router,
            remapped,
            unknown_refs,
            ..
        } = tail;
        router.flush();
        drop(router);
        Ok((stats, remapped, unknown_refs))
    })
    .and_then(|(stats, remapped, unknown_refs)| {
        let stats = stats?;
        tracing::info!(
            chunks_loaded = attached,
            samples_in_loaded_chunks = skipped.load(Ordering::Relaxed),
            checkpoint_series_ms = checkpoint_done.as_millis() as u64,
            chunks_attached_ms = (chunks_done - checkpoint_done).as_millis() as u64,
            wal_ms = (started.elapsed() - chunks_done).as_millis() as u64,
            "head chunks loaded from chunk-head segments"
        );
        if unknown_refs > 0 {
            tracing::warn!(
                samples = unknown_refs,
                "WAL samples refer to series whose record was lost; skipped"
            );
        }
        Ok((stats, remapped || checkpoint_remapped))
    })
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
