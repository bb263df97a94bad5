//! Deleting samples from the head in place.
//!
//! Blocks record deletes as tombstones because they are immutable; the head's chunks are
//! in memory and small, so a delete re-encodes the chunks it cuts through instead. Reads
//! of the head then need no tombstone filtering at all, and a head cut writes blocks
//! without the deleted samples. Durability comes from the WAL: the database logs a
//! `Tombstones` record before applying it, and replay applies it at the same point of the
//! log, after the samples it deletes and before any appended later.
//!
//! As in Prometheus, an interval is clamped to the series' time range when the delete is
//! planned, so a delete up to "the end of time" does not reach samples appended later,
//! even when a checkpoint has moved the record after them.

use super::chunk_meta::ChunkList;
use super::ooo::OooSamples;
use super::series::{SeriesData, NO_WAL_SEGMENT};
use super::Head;
use crate::chunk::{XorChunk, XorIter};
use crate::head_chunks::HeadChunks;
use crate::index::Matcher;
use crate::sample::Sample;
use crate::wal::TombstoneRecord;

impl Head {
    /// The deletions `[mint, maxt]` means for the series matching `matchers`: one record
    /// per series with a sample in that range, clamped to the series' time range.
    pub(crate) fn plan_delete(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<TombstoneRecord> {
        if mint > maxt {
            return Vec::new();
        }
        let ids = self.select_ids(matchers);
        let mut out = Vec::new();
        for s in self.resolve_ids(&ids) {
            let d = s.data.lock();
            let Some(first) = d.first_t(&self.chunks) else {
                continue;
            };
            let last = d.last_t().max(d.ooo.last_t().unwrap_or(i64::MIN));
            let (lo, hi) = (mint.max(first), maxt.min(last));
            if lo <= hi {
                out.push(TombstoneRecord {
                    id: s.id,
                    mint: lo,
                    maxt: hi,
                });
            }
        }
        out
    }

    /// Deletes the samples each record names; records of series not in the head are
    /// ignored. Series left empty stay until [`Head::remove_empty`] (run by the caller
    /// under the append lock) removes them.
    pub(crate) fn apply_deletes(&self, recs: &[TombstoneRecord]) {
        let mut queued = Vec::new();
        for r in recs {
            if let Some(s) = self.get(r.id) {
                let mut d = s.data.lock();
                d.delete_range(r.mint, r.maxt, &self.chunks);
                if !d.pending.is_empty() {
                    queued.push(r.id);
                }
            }
        }
        // Rewritten chunks wait for the writer like closed ones.
        self.enqueue_chunks(queued);
    }
}

impl SeriesData {
    /// Removes the samples in `[mint, maxt]`. Chunks wholly inside are dropped, chunks
    /// cut through are re-encoded. The newest sample is kept, as truncation keeps it
    /// ([`SeriesData::replace_open`]).
    pub(crate) fn delete_range(&mut self, mint: i64, maxt: i64, hc: &HeadChunks) {
        let hit = |t: i64| mint <= t && t <= maxt;
        if !self.ooo.is_empty() {
            let mut all: Vec<Sample> = Vec::new();
            self.ooo.merge_into(mint, maxt, &mut all, 0);
            if !all.is_empty() {
                all.clear();
                self.ooo.merge_into(i64::MIN, i64::MAX, &mut all, 0);
                let mut kept = OooSamples::default();
                for s in all.into_iter().filter(|s| !hit(s.t)) {
                    kept.insert(s.t, s.v);
                }
                self.ooo = kept;
                if self.ooo.is_empty() {
                    self.ooo_wal_segment = NO_WAL_SEGMENT;
                }
            }
        }
        self.delete_chunk_range(mint, maxt, hc);
        if self.open.num_samples() > 0 && self.open_min_t() <= maxt && self.last_t() >= mint {
            let rest = reencode_without(self.open.bytes(), mint, maxt).map(|(c, _, _)| c);
            self.replace_open(rest.unwrap_or_default());
        }
    }

    /// `delete_range` for the closed chunks: decodes the list once, keeps, drops or
    /// rewrites each chunk, and encodes the list again if anything changed. The first
    /// chunk kept brings the list's base: its bound from the list (the `hi` before it, or
    /// the base) or, rewritten, its exact start.
    fn delete_chunk_range(&mut self, mint: i64, maxt: i64, hc: &HeadChunks) {
        let metas = self.chunks.to_vec();
        let mut kept = Vec::with_capacity(metas.len());
        let mut changed = false;
        for m in metas {
            if m.hi < mint || m.lo > maxt {
                kept.push(m);
                continue;
            }
            // None: keep the chunk as it is (outside the range, or unreadable).
            let change = self.load(&m, hc).and_then(|c| {
                let (lo, hi) = c.range();
                if hi < mint || lo > maxt {
                    None
                } else if mint <= lo && hi <= maxt {
                    Some(None)
                } else {
                    Some(reencode_without(c.data(), mint, maxt))
                }
            });
            let Some(rest) = change else {
                kept.push(m);
                continue;
            };
            changed = true;
            self.forget_pending(&m);
            if let Some((chunk, lo, hi)) = rest {
                kept.push(self.pend_rewritten(lo, hi, chunk));
            }
        }
        if changed {
            self.chunks = ChunkList::from_metas(&kept);
        }
    }
}

/// The samples of `c` outside `[mint, maxt]` as a new chunk, with its first and last
/// timestamps; `None` when none is left.
fn reencode_without(c: &[u8], mint: i64, maxt: i64) -> Option<(XorChunk, i64, i64)> {
    let mut out = XorChunk::new();
    let (mut first, mut last) = (None, i64::MIN);
    for s in XorIter::from_bytes(c).filter(|s| s.t < mint || s.t > maxt) {
        first.get_or_insert(s.t);
        last = s.t;
        out.append(s.t, s.v);
    }
    out.shrink_to_fit();
    first.map(|f| (out, f, last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::SeriesId;
    use crate::labels::Labels;
    use crate::wal::RefSample;

    fn head_with(name: &str, ts: &[i64]) -> (Head, SeriesId) {
        let head = Head::for_tests();
        let (id, _) = head.get_or_create(&Labels::from_pairs([("__name__", name)]));
        let samples: Vec<RefSample> = ts
            .iter()
            .map(|&t| RefSample { id, t, v: t as f64 })
            .collect();
        super::super::apply_replayed(&head, &samples);
        (head, id)
    }

    fn times(head: &Head, id: SeriesId) -> Vec<i64> {
        let mut out = Vec::new();
        if let Some(s) = head.get(id) {
            s.data
                .lock()
                .samples_in(i64::MIN, i64::MAX, &mut out, &head.chunks);
        }
        out.iter().map(|s| s.t).collect()
    }

    #[test]
    fn deletes_cut_through_closed_and_open_chunks() {
        // 1000 samples: several closed chunks (240 each) and an open one.
        let ts: Vec<i64> = (0..1000).collect();
        let (head, id) = head_with("a", &ts);
        head.apply_deletes(&[TombstoneRecord {
            id,
            mint: 100,
            maxt: 899,
        }]);
        let want: Vec<i64> = (0..100).chain(900..1000).collect();
        assert_eq!(times(&head, id), want);
        // Appending continues after the newest sample.
        super::super::apply_replayed(
            &head,
            &[RefSample {
                id,
                t: 1000,
                v: 1.0,
            }],
        );
        assert_eq!(times(&head, id).last(), Some(&1000));
    }

    /// Deleting a series' newest samples leaves what orders its next append, the newest
    /// timestamp and value, which the open chunk carries: the rest of the open chunk is
    /// closed, and the open chunk left empty after the deleted sample.
    #[test]
    fn deleting_the_newest_samples_keeps_the_append_order() {
        let (head, id) = head_with("a", &[10, 20, 30, 40]);
        head.apply_deletes(&[TombstoneRecord {
            id,
            mint: 25,
            maxt: 45,
        }]);
        assert_eq!(times(&head, id), vec![10, 20]);
        let Some(s) = head.get(id) else {
            panic!("series {id} is gone");
        };
        {
            let d = s.data.lock();
            assert_eq!(d.open.newest(), (40, 40f64.to_bits()));
            assert_eq!((d.open.num_samples(), d.chunks.len()), (0, 1));
        }
        // 35 is older than the deleted newest sample: out of order, not appended.
        let late = |t| RefSample { id, t, v: 1.0 };
        super::super::apply_replayed(&head, &[late(35), late(50)]);
        assert_eq!(times(&head, id), vec![10, 20, 35, 50]);
        let d = s.data.lock();
        assert_eq!((d.open.num_samples(), d.ooo.is_empty()), (1, false));
    }

    #[test]
    fn plan_clamps_to_the_series_range_and_skips_series_without_samples_there() {
        let (head, id) = head_with("a", &[10, 20, 30]);
        let m = [Matcher::new(crate::index::MatchOp::Equal, "__name__", "a").unwrap()];
        let plan = head.plan_delete(&m, i64::MIN, i64::MAX);
        assert_eq!(
            plan,
            vec![TombstoneRecord {
                id,
                mint: 10,
                maxt: 30
            }]
        );
        assert!(head.plan_delete(&m, 31, 40).is_empty());
        assert!(head.plan_delete(&m, 40, 31).is_empty());
        head.apply_deletes(&plan);
        assert!(head.get(id).is_some_and(|s| s.data.lock().is_empty()));
    }

    #[test]
    fn out_of_order_samples_are_deleted_too() {
        let (head, id) = head_with("a", &[10, 20, 30]);
        if let Some(s) = head.get(id) {
            let mut d = s.data.lock();
            assert!(d.insert_ooo(15, 1.0, 0, &head.chunks));
            assert!(d.insert_ooo(25, 1.0, 0, &head.chunks));
        }
        head.apply_deletes(&[TombstoneRecord {
            id,
            mint: 12,
            maxt: 22,
        }]);
        assert_eq!(times(&head, id), vec![10, 25, 30]);
    }
}
