//! Deciding which samples of a write the head accepts, and applying them.
//!
//! A write is checked against each series' newest sample before anything is logged, so the
//! WAL holds only samples the head accepts and replay needs no second opinion. The
//! [`HeadAppender`] tracks the newest sample per series *within* the write too, because one
//! remote-write request may carry the same series twice.

use std::collections::HashMap;

use super::series::SeriesData;
use super::series_map::BuildPremixed;
use super::{Head, MemSeries};
use crate::head_chunks::HeadChunks;
use crate::index::SeriesId;
use crate::wal::RefSample;

/// What the head makes of one sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SampleVerdict {
    Accept,
    /// Same series, timestamp and value as the newest sample: a no-op, so retries are safe.
    Duplicate,
    OutOfOrder,
    TooOld,
    DuplicateTimestamp,
}

/// Validates the samples of one write. Not thread-safe by design: the caller holds the
/// database's append lock from validation until the accepted samples are applied, and
/// holds the series it passes (resolved, not removed) for as long as the appender lives.
pub(crate) struct HeadAppender<'a> {
    head: &'a Head,
    /// Samples older than this are too old for the head.
    min_valid_t: i64,
    /// Samples older than this belong to a time range already in a block; nothing older
    /// is accepted whatever the series holds (Prometheus's `minValidTime`).
    block_floor: i64,
    /// How far behind its series' newest sample a sample may be and still be accepted.
    ooo_window: i64,
    /// Newest (timestamp, value bits) per series accepted so far in this write. Keyed by
    /// ids the head hands out, so the cheap hasher is safe here.
    pending: HashMap<SeriesId, (i64, u64), BuildPremixed>,
    /// Value bits of the out-of-order samples accepted so far in this write (timestamps are
    /// the client's: SipHash).
    pending_ooo: HashMap<(SeriesId, i64), u64>,
    /// The accepted samples, in the WAL's form.
    accepted: Vec<RefSample>,
    /// `targets[i]` is the series of `accepted[i]`, so that committing needs no lookups.
    targets: Vec<&'a MemSeries>,
}

impl<'a> HeadAppender<'a> {
    /// `block_floor` is the end of the newest block (`i64::MIN` without blocks);
    /// `ooo_window` is 0 to accept only samples newer than their series' newest.
    pub(crate) fn new(
        head: &'a Head,
        max_sample_age_ms: i64,
        block_floor: i64,
        ooo_window: i64,
    ) -> Self {
        let min_valid_t = head
            .max_time()
            .map_or(i64::MIN, |t| t.saturating_sub(max_sample_age_ms))
            .max(block_floor);
        HeadAppender {
            head,
            min_valid_t,
            block_floor,
            ooo_window: ooo_window.max(0),
            pending: HashMap::default(),
            pending_ooo: HashMap::new(),
            accepted: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// Room for `n` more accepted samples. `pending` is left to grow: it holds one entry
    /// per series, not per sample, and reserving a table for every sample of a large write
    /// (25 bytes a bucket, rounded up to a power of two) was the largest allocation of
    /// the whole append path.
    pub(crate) fn reserve(&mut self, n: usize) {
        self.accepted.reserve(n);
        self.targets.reserve(n);
    }

    /// Checks one sample of `series` and queues it when accepted.
    ///
    /// A sample older than the series' newest one is still a harmless duplicate when the
    /// series holds exactly that sample: a client resending a whole request whose first
    /// attempt was stored (but whose answer was lost to a crash) gets a 2xx, not a 400
    /// that would make it drop the batch.
    pub(crate) fn add(&mut self, series: &'a MemSeries, t: i64, v: f64) -> SampleVerdict {
        let id = series.id;
        let (last_t, last_bits) = match self.pending.get(&id) {
            Some(p) => *p,
            None => {
                let d = series.data.lock();
                d.open.newest()
            }
        };
        let verdict = if t < self.block_floor {
            SampleVerdict::TooOld
        } else if t > last_t {
            if t < self.min_valid_t {
                SampleVerdict::TooOld
            } else {
                SampleVerdict::Accept
            }
        } else if t == last_t {
            if v.to_bits() == last_bits {
                SampleVerdict::Duplicate
            } else {
                SampleVerdict::DuplicateTimestamp
            }
        } else {
            return self.add_older(series, t, v, last_t);
        };
        if verdict == SampleVerdict::Accept {
            self.pending.insert(id, (t, v.to_bits()));
            self.accepted.push(RefSample { id, t, v });
            self.targets.push(series);
        }
        verdict
    }

    /// A sample older than its series' newest: a duplicate, an out-of-order sample within
    /// the window, or rejected. Without a window, a different value at a stored timestamp
    /// is out of order (the series does not take old samples at all); within it, that is
    /// a duplicate timestamp, as Prometheus's out-of-order head answers.
    fn add_older(&mut self, series: &'a MemSeries, t: i64, v: f64, last_t: i64) -> SampleVerdict {
        let id = series.id;
        let bits = v.to_bits();
        let stored = match self.pending_ooo.get(&(id, t)) {
            Some(b) => Some(*b),
            // Samples accepted earlier in this same write are not searched: that would make
            // a write of many out-of-order samples quadratic, and Prometheus rejects those too.
            None => series.data.lock().value_bits_at(t, &self.head.chunks),
        };
        let in_window = self.ooo_window > 0 && t >= last_t.saturating_sub(self.ooo_window);
        match stored {
            Some(b) if b == bits => SampleVerdict::Duplicate,
            Some(_) if in_window => SampleVerdict::DuplicateTimestamp,
            Some(_) => SampleVerdict::OutOfOrder,
            None if in_window && t >= self.min_valid_t => {
                self.pending_ooo.insert((id, t), bits);
                self.accepted.push(RefSample { id, t, v });
                self.targets.push(series);
                SampleVerdict::Accept
            }
            None if in_window => SampleVerdict::TooOld,
            None => SampleVerdict::OutOfOrder,
        }
    }

    pub(crate) fn accepted(&self) -> &[RefSample] {
        &self.accepted
    }

    /// Applies the accepted samples to the head. Call only after they are in the WAL, in
    /// segment `wal_segment` (the one their write started in, or earlier). Series that
    /// closed a chunk are queued for the chunk writer.
    pub(crate) fn commit(self, wal_segment: u32) {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        let mut closed = Vec::new();
        let mut i = 0;
        while i < self.accepted.len() {
            // Consecutive samples of one series (a request with many samples per series)
            // share one lock of the series.
            let series = self.targets[i];
            let mut d = series.data.lock();
            let mut closed_one = false;
            while i < self.accepted.len() && std::ptr::eq(self.targets[i], series) {
                let s = &self.accepted[i];
                let (stored, closed_now) = store(&mut d, s.t, s.v, wal_segment, &self.head.chunks);
                if stored {
                    lo = lo.min(s.t);
                    hi = hi.max(s.t);
                }
                closed_one |= closed_now;
                i += 1;
            }
            if closed_one {
                closed.push(series.id);
            }
        }
        note_range(self.head, lo, hi);
        self.head.enqueue_chunks(closed);
    }
}

/// Stores one sample, logged in WAL segment `wal_segment`, in a series: a newer one goes
/// into the chunks, an older one (accepted out of order) beside them. Returns whether it
/// was stored (not when the series holds that timestamp already) and whether a chunk closed.
pub(super) fn store(
    d: &mut SeriesData,
    t: i64,
    v: f64,
    wal_segment: u32,
    hc: &HeadChunks,
) -> (bool, bool) {
    if t > d.last_t() {
        (true, d.push(t, v, wal_segment))
    } else {
        (t < d.last_t() && d.insert_ooo(t, v, wal_segment, hc), false)
    }
}

pub(super) fn note_range(head: &Head, lo: i64, hi: i64) {
    if lo <= hi {
        head.note_time(lo);
        head.note_time(hi);
    }
}

/// Applies accepted samples to their series: newer ones are appended to the chunks,
/// older ones (accepted out of order) kept beside them. Used by commits and by WAL replay;
/// a sample at a timestamp the series holds is skipped, which makes replaying a record
/// twice harmless. Replay itself applies through `replay.rs`'s shards; tests use this.
#[cfg(test)]
pub(crate) fn apply(head: &Head, samples: &[RefSample]) {
    let mut cur: Option<(SeriesId, super::SharedSeries)> = None;
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    for s in samples {
        let series = match &cur {
            Some((id, series)) if *id == s.id => series.clone(),
            _ => match head.get(s.id) {
                Some(series) => {
                    cur = Some((s.id, series.clone()));
                    series
                }
                None => continue,
            },
        };
        let (stored, closed) = store(&mut series.data.lock(), s.t, s.v, 0, &head.chunks);
        if stored {
            lo = lo.min(s.t);
            hi = hi.max(s.t);
        }
        if closed {
            head.enqueue_chunks([s.id]);
        }
    }
    note_range(head, lo, hi);
}
