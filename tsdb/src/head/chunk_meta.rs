//! The 16 bytes a series keeps per closed chunk: where the chunk is and an approximation of
//! its time range, good enough to skip chunks without reading them.
//!
//! | bytes | field    | meaning                                                          |
//! |-------|----------|------------------------------------------------------------------|
//! | 0..8  | `r`      | a chunk-head `ChunkRef` packed (segment << 32 \| offset), or `PENDING \| key` for a chunk still in memory (`SeriesData::pending`) |
//! | 8..12 | `min_dt` | `min_t - base_t` in ms, saturated to `0..=u32::MAX`              |
//! | 12..16| `max_dt` | `max_t - base_t` in ms; `u32::MAX` means "unknown, maybe later"  |
//!
//! `base_t` is the series' (`SeriesData::base_t`), at or before every chunk's `min_t`. The
//! ranges are exact while a series' chunks span less than 49 days (u32 ms); beyond that
//! they only widen, so that pruning by them never skips a chunk it needs. Exact ranges come
//! from the chunk itself (its record header or its pending entry).

use crate::head_chunks::ChunkRef;

/// Set in `r` for a chunk not yet on disk. Segment numbers stay far below 2^31.
const PENDING: u64 = 1 << 63;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ChunkMeta {
    r: u64,
    min_dt: u32,
    max_dt: u32,
}

/// Where a chunk is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Loc {
    Disk(ChunkRef),
    /// In `SeriesData::pending`, under this key (see [`pending_key`]).
    Pending(u64),
}

/// A pending chunk's key: its `min_t`, which no other chunk of the series shares (chunks
/// do not overlap), in 63 bits.
pub(crate) fn pending_key(min_t: i64) -> u64 {
    (min_t as u64) & !PENDING
}

impl ChunkMeta {
    pub(crate) fn new(base_t: i64, min_t: i64, max_t: i64, loc: Loc) -> Self {
        let r = match loc {
            Loc::Disk(r) => r.pack(),
            Loc::Pending(key) => PENDING | key,
        };
        ChunkMeta {
            r,
            min_dt: min_t.saturating_sub(base_t).clamp(0, i64::from(u32::MAX)) as u32,
            max_dt: max_t.saturating_sub(base_t).clamp(0, i64::from(u32::MAX)) as u32,
        }
    }

    pub(crate) fn loc(&self) -> Loc {
        if self.r & PENDING != 0 {
            Loc::Pending(self.r & !PENDING)
        } else {
            Loc::Disk(ChunkRef::unpack(self.r))
        }
    }

    pub(crate) fn set_loc(&mut self, loc: Loc) {
        self.r = match loc {
            Loc::Disk(r) => r.pack(),
            Loc::Pending(key) => PENDING | key,
        };
    }

    /// At or before the chunk's first timestamp.
    pub(crate) fn lo(&self, base_t: i64) -> i64 {
        base_t.saturating_add(i64::from(self.min_dt))
    }

    /// At or after the chunk's last timestamp.
    pub(crate) fn hi(&self, base_t: i64) -> i64 {
        if self.max_dt == u32::MAX {
            i64::MAX
        } else {
            base_t.saturating_add(i64::from(self.max_dt))
        }
    }

    /// The same bounds relative to `new_base` (at or before `lo`), still bounds.
    pub(crate) fn rebased(&self, base_t: i64, new_base: i64) -> Self {
        let hi = self.hi(base_t);
        let mut m = ChunkMeta::new(new_base, self.lo(base_t), hi, self.loc());
        if hi == i64::MAX {
            m.max_dt = u32::MAX;
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_is_sixteen_bytes_and_its_bounds_never_narrow() {
        assert_eq!(std::mem::size_of::<ChunkMeta>(), 16);
        let r = ChunkRef { seq: 3, offset: 99 };
        let m = ChunkMeta::new(1000, 1500, 2000, Loc::Disk(r));
        assert_eq!(
            (m.lo(1000), m.hi(1000), m.loc()),
            (1500, 2000, Loc::Disk(r))
        );
        // 60 days past the base: bounds widen instead of wrapping.
        let far = 60 * 86_400_000;
        let m = ChunkMeta::new(0, far, far + 10, Loc::Pending(pending_key(far)));
        assert!(m.lo(0) <= far && m.hi(0) >= far + 10);
        assert_eq!(m.loc(), Loc::Pending(pending_key(far)));
        let m2 = m.rebased(0, far - 5);
        assert!(m2.lo(far - 5) <= far && m2.hi(far - 5) >= far + 10);
        assert_eq!(pending_key(-5) & PENDING, 0);
    }
}
