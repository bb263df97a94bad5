//! Rebuilding series at open: their chunks from the chunk-head segments, then the WAL's
//! samples on several threads.
//!
//! Chunks first ([`Head::attach_chunks`]): each record found on disk is put into its series
//! as a reference, a later record replacing the earlier ones it overlaps (a chunk rewritten
//! by a delete or a truncation). Then the WAL tail, where a sample may already be in those
//! chunks. Per series, the WAL holds in-order samples in increasing time, and an
//! out-of-order sample always after a newer sample of its series that the WAL still holds
//! (the watermark keeps the WAL from where the series' open chunk began when it arrived,
//! see `series.rs`). So a sample newer than every earlier WAL sample of its series but not
//! newer than the chunks loaded from disk is an in-order sample those chunks hold, skipped
//! without decoding anything; every other sample is stored as an append would.
//!
//! Replay is bound by touching each sample's series (its mutex, its open chunk): with one
//! sample per series per record, as scrapes and remote writes log them, every sample is a
//! cache miss on another series. So replay splits series over shards (`id % shards`), one
//! thread each, and gives each shard its own table of its series, so that applying a sample
//! takes no shared lock and bumps no shared reference count. A series belongs to one
//! shard and the shard receives its samples in WAL order, so each series sees exactly the
//! sequence of samples a single-threaded replay would apply; only the interleaving across
//! series differs, which the head does not observe.

use super::append::{note_range, store};
use super::chunk_meta::{BulkBounds, Scratch};
use super::{Head, SharedSeries};
use crate::head_chunks::{ChunkRef, IndexEntry};
use crate::index::SeriesId;

/// Most threads attaching chunks from disk at open.
const MAX_ATTACH_THREADS: usize = 4;

/// Consecutive series ids an attaching thread takes at a time. Series sit in memory in id
/// order and every thread walks the records in the same order, so with ids dealt out one
/// by one the threads write to neighbouring series at the same moment, and each series'
/// lock and chunk list shared a cache line with another thread's series: releasing the
/// lock waited for the line to come back. 64 series span about 14 KiB.
const ATTACH_BLOCK: u32 = 64;

/// A sample routed to a shard: head id, WAL segment it was read from, time, value.
pub(crate) type ReplayedSample = (SeriesId, u32, i64, f64);

/// One series in a shard: the series, the newest timestamp of its chunks loaded from disk
/// (`i64::MIN` without), and the newest timestamp its WAL samples reached so far.
struct ShardSeries {
    series: SharedSeries,
    loaded_max: i64,
    wal_max: i64,
}

/// The series of one shard and the time range it applied.
///
/// Invariants: `series[i]` holds the head's series with id `i` for every id routed to this
/// shard so far, `None` otherwise; `lo`/`hi` are the oldest and newest stored timestamps
/// (`i64::MAX`/`i64::MIN` while none); `closed` lists series that closed a chunk.
pub(crate) struct ReplayShard<'h> {
    head: &'h Head,
    series: Vec<Option<ShardSeries>>,
    lo: i64,
    hi: i64,
    closed: Vec<SeriesId>,
    /// In-order samples skipped because the chunks from disk hold them.
    skipped: u64,
}

impl<'h> ReplayShard<'h> {
    pub(crate) fn new(head: &'h Head) -> Self {
        ReplayShard {
            head,
            series: Vec::new(),
            lo: i64::MAX,
            hi: i64::MIN,
            closed: Vec::new(),
            skipped: 0,
        }
    }

    /// Routes series `id` of the head to this shard. Ids are bounded by the head's table
    /// (see `MAX_REPLAY_ID_GAP`), so the table here is too. A series routed again (its
    /// record logged twice) keeps its state.
    pub(crate) fn add_series(&mut self, id: SeriesId, series: SharedSeries) {
        let i = id as usize;
        if i >= self.series.len() {
            self.series.resize_with(i + 1, || None);
        }
        if self.series[i].is_none() {
            let loaded_max = {
                let d = series.data.lock();
                if d.chunks.is_empty() {
                    i64::MIN
                } else {
                    d.last_t()
                }
            };
            self.series[i] = Some(ShardSeries {
                series,
                loaded_max,
                wal_max: i64::MIN,
            });
        }
    }

    /// Applies samples as an append would, skipping those the chunks from disk hold (see
    /// the module docs); samples of a series not routed here are skipped. Sorts the batch
    /// by series first (stably, so each series keeps its WAL order): a series' run then
    /// takes its lock once and finds its chunk in cache, where in WAL order every sample is
    /// a miss on another series.
    pub(crate) fn apply(&mut self, samples: &mut [ReplayedSample]) {
        samples.sort_by_key(|s| s.0);
        let hc = &self.head.chunks;
        for run in samples.chunk_by(|a, b| a.0 == b.0) {
            let Some(Some(entry)) = self.series.get_mut(run[0].0 as usize) else {
                continue;
            };
            let mut d = entry.series.data.lock();
            let mut closed = false;
            for &(_, seg, t, v) in run {
                let in_order = t > entry.wal_max;
                entry.wal_max = entry.wal_max.max(t);
                if in_order && t <= entry.loaded_max {
                    self.skipped += 1;
                    continue;
                }
                let (stored, closed_now) = store(&mut d, t, v, seg, hc);
                if stored {
                    self.lo = self.lo.min(t);
                    self.hi = self.hi.max(t);
                }
                closed |= closed_now;
            }
            if closed {
                self.closed.push(run[0].0);
            }
        }
    }

    /// Records the applied time range in the head and queues the closed chunks for the
    /// writer. Returns the samples skipped as already in chunks on disk.
    pub(crate) fn finish(self) -> u64 {
        note_range(self.head, self.lo, self.hi);
        self.head.enqueue_chunks(self.closed);
        self.skipped
    }
}

impl Head {
    /// Puts every record of the chunk-head segments into its series, if the head has it
    /// (a series created only later in the WAL has all its samples there). Returns the
    /// chunks attached. Call before the WAL's samples are replayed.
    ///
    /// Reads only the segments' indexes: each series' newest chunk gives its last sample
    /// from its index entry (kept as the newest chunk changes, see `SeriesData::attach`),
    /// and its oldest chunk's start is exact in its metadata (the series' base time is
    /// that start). Series are split over threads by blocks of consecutive ids, each
    /// thread walking all entries and taking its own series' only: per series, records are
    /// still attached in write order.
    pub(crate) fn attach_chunks(&self) -> u64 {
        let shards = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_ATTACH_THREADS) as u32;
        let results: Vec<(u64, i64, i64)> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..shards)
                .map(|k| scope.spawn(move || self.attach_shard(k, shards)))
                .collect();
            workers
                .into_iter()
                .map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut attached = 0;
        for (n, lo, hi) in results {
            attached += n;
            note_range(self, lo, hi);
        }
        attached
    }

    /// [`Head::attach_chunks`] for the series with `id / ATTACH_BLOCK % shards == k`:
    /// returns the chunks attached and the time range they cover.
    fn attach_shard(&self, k: u32, shards: u32) -> (u64, i64, i64) {
        let table = self.series.read();
        // First walk: records per series, and bounds on their times, gaps and places, so
        // that each series' chunk list is allocated once at its final size, at widths that
        // hold every record, instead of growing and re-encoding as records come (a realloc
        // per four chunks was a quarter of attaching), and is encoded tightly at its last
        // record. Walking the indexes is sequential and cheap next to the second walk,
        // which touches every series.
        let mine = |id: SeriesId| (id / ATTACH_BLOCK) % shards == k;
        // This thread's series, numbered densely.
        let slot = |id: SeriesId| {
            ((id / (ATTACH_BLOCK * shards)) * ATTACH_BLOCK + id % ATTACH_BLOCK) as usize
        };
        let slots = table.len() / shards as usize + ATTACH_BLOCK as usize;
        let mut counts: Vec<u32> = vec![0; slots];
        // Each series' newest end so far, for the gaps between its records.
        let mut newest: Vec<i64> = vec![i64::MIN; slots];
        let mut bounds = BulkBounds::default();
        self.chunks.for_each_record(|r: ChunkRef, e: IndexEntry| {
            if !mine(e.id) {
                return;
            }
            bounds.note(e.max_t, r);
            let i = slot(e.id);
            if let (Some(c), Some(last)) = (counts.get_mut(i), newest.get_mut(i)) {
                *c = c.saturating_add(1);
                if *last != i64::MIN && *last < e.min_t {
                    bounds.note_gap(*last, e.min_t);
                }
                *last = (*last).max(e.max_t);
            }
        });
        drop(newest);
        let mut attached = 0;
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        let mut scratch = Scratch::default();
        self.chunks.for_each_record(|r: ChunkRef, e: IndexEntry| {
            if !mine(e.id) {
                return;
            }
            let (Some(Some(series)), Some(left)) =
                (table.get(e.id as usize), counts.get_mut(slot(e.id)))
            else {
                return;
            };
            let mut d = series.data.lock();
            if d.chunks.is_empty() {
                d.chunks.reserve_bulk(*left as usize, &bounds);
            }
            d.attach(e.min_t, e.max_t, e.last_v_bits, r, &self.chunks, &bounds);
            attached += 1;
            *left = left.saturating_sub(1);
            if *left == 0 {
                // The series' last record: encode its list tightly (the time line, fewest
                // widths, no room left by records replaced by later ones) while the series
                // is in cache, rather than in a pass over every series after.
                d.chunks.compact(&mut scratch);
                if let Some(first) = d.chunks.first() {
                    lo = lo.min(first.lo);
                    hi = hi.max(d.last_t());
                }
            }
        });
        (attached, lo, hi)
    }
}
