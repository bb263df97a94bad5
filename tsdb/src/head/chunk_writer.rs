//! Writing closed chunks to chunk-head segments, off the append path, and finding the
//! oldest WAL segment the head still needs.
//!
//! Appends close chunks under their series' lock and only queue the series' id. The
//! writer ([`Head::flush_chunks`], run by the database's background thread) copies the
//! series' pending chunks out under the series lock, writes a batch of them with one
//! `pwrite` without any series lock, and then swaps each pending chunk for its reference,
//! if the series still holds it unchanged. A chunk a delete or truncation changed
//! meanwhile stays pending in its new form; the record written for its old form is dead
//! and superseded on replay by the newer record (or dropped by the replayed delete).
//!
//! [`Head::wal_low_watermark`] fsyncs the segments first and then scans the series, holding
//! the flush lock throughout, so that a chunk it sees as written is durable.

use super::series::NO_WAL_SEGMENT;
use super::{Head, SharedSeries};
use crate::error::Result;
use crate::fault;
use crate::head_chunks::ChunkToWrite;
use crate::index::SeriesId;

/// A pending chunk copied out of its series: the series, its range and its bytes.
type ChunkCopy = (SharedSeries, i64, i64, Box<[u8]>);

/// Series whose pending chunks are copied and written per round: bounds the copies held.
const FLUSH_BATCH_SERIES: usize = 4096;

/// A series whose open chunk has had no sample for this long (behind the head's newest
/// sample) has it closed by the watermark scan, so that a series that stopped does not pin
/// the WAL until a block cut removes it.
const IDLE_CHUNK_CLOSE_MS: i64 = 15 * 60 * 1000;

impl Head {
    /// Queues series with pending chunks for the writer.
    pub(crate) fn enqueue_chunks(&self, ids: impl IntoIterator<Item = SeriesId>) {
        let mut ids = ids.into_iter().peekable();
        if ids.peek().is_some() {
            self.write_queue.lock().extend(ids);
        }
    }

    /// Writes every queued series' pending chunks; returns how many chunks were written.
    /// On an error the series not done yet stay queued.
    pub(crate) fn flush_chunks(&self, crash_point: &dyn Fn(&str) -> Result<()>) -> Result<usize> {
        let _flushing = self.flush_lock.lock();
        let mut ids = std::mem::take(&mut *self.write_queue.lock());
        ids.sort_unstable();
        ids.dedup();
        let mut written = 0;
        let mut done = 0;
        while done < ids.len() {
            let end = (done + FLUSH_BATCH_SERIES).min(ids.len());
            match self.flush_batch(&ids[done..end], crash_point) {
                Ok(n) => written += n,
                Err(e) => {
                    self.enqueue_chunks(ids[done..].iter().copied());
                    return Err(e);
                }
            }
            done = end;
        }
        Ok(written)
    }

    fn flush_batch(
        &self,
        ids: &[SeriesId],
        crash_point: &dyn Fn(&str) -> Result<()>,
    ) -> Result<usize> {
        let mut copies: Vec<ChunkCopy> = Vec::new();
        for &id in ids {
            let Some(s) = self.get(id) else { continue };
            let d = s.data.lock();
            for p in &d.pending {
                copies.push((SharedSeries::clone(&s), p.min_t, p.max_t, p.data.clone()));
            }
        }
        if copies.is_empty() {
            return Ok(0);
        }
        let batch: Vec<ChunkToWrite<'_>> = copies
            .iter()
            .map(|(s, min_t, max_t, data)| ChunkToWrite {
                id: s.id,
                min_t: *min_t,
                max_t: *max_t,
                data,
            })
            .collect();
        let refs = self.chunks.write(&batch)?;
        crash_point(fault::HEAD_CHUNKS_WRITTEN)?;
        for ((s, min_t, max_t, data), r) in copies.iter().zip(refs) {
            s.data.lock().mark_written(*min_t, *max_t, data, r);
        }
        Ok(copies.len())
    }

    /// The oldest WAL segment whose samples the head still needs (`NO_WAL_SEGMENT` when
    /// none): every sample logged before it is in a durable chunk-head segment, or was
    /// deleted, or lies in a block. Fsyncs the chunk-head segments first. Samples being
    /// appended are not seen: the caller bounds the answer by the WAL's position before
    /// the scan.
    pub(crate) fn wal_low_watermark(
        &self,
        crash_point: &dyn Fn(&str) -> Result<()>,
    ) -> Result<u32> {
        let _flushing = self.flush_lock.lock();
        self.chunks.sync()?;
        crash_point(fault::HEAD_CHUNKS_SYNCED)?;
        let idle_before = self
            .max_time()
            .map_or(i64::MIN, |t| t.saturating_sub(IDLE_CHUNK_CLOSE_MS));
        let mut mark = NO_WAL_SEGMENT;
        let mut idle = Vec::new();
        for s in self.all_series() {
            let mut d = s.data.lock();
            if d.open.num_samples() > 0 && d.last_t() < idle_before && d.close_open() {
                idle.push(s.id);
            }
            mark = mark.min(d.wal_mark());
        }
        self.enqueue_chunks(idle);
        Ok(mark)
    }

    /// Chunks held as references to chunk-head segments, and those waiting to be written.
    pub(crate) fn chunk_counts(&self) -> (u64, u64) {
        let (mut mapped, mut pending) = (0u64, 0u64);
        for s in self.all_series() {
            let d = s.data.lock();
            pending += d.pending.len() as u64;
            mapped += (d.chunks.len() - d.pending.len()) as u64;
        }
        (mapped, pending)
    }
}
