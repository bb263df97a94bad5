//! One series in the head: its labels and its chunks.

use parking_lot::Mutex;

use crate::chunk::XorChunk;
use crate::index::SeriesId;
use crate::labels::Labels;
use crate::sample::Sample;

/// A chunk is closed once it holds this many samples. At 1 s resolution this is 4 minutes;
/// larger chunks compress better but cost more to decode for short queries.
pub(crate) const SAMPLES_PER_CHUNK: usize = 240;

/// A chunk is also closed once it spans this long, so that sparse series do not keep one
/// chunk open for days.
pub(crate) const MAX_CHUNK_SPAN_MS: i64 = 2 * 60 * 60 * 1000;

pub(crate) struct MemSeries {
    pub(crate) id: SeriesId,
    pub(crate) labels: Labels,
    pub(crate) data: Mutex<SeriesData>,
}

impl MemSeries {
    pub(crate) fn new(id: SeriesId, labels: Labels) -> Self {
        MemSeries {
            id,
            labels,
            data: Mutex::new(SeriesData::default()),
        }
    }
}

/// A closed chunk with its time range, kept beside it so that range filtering needs no
/// decoding.
pub(crate) struct ClosedChunk {
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
    pub(crate) chunk: XorChunk,
}

/// The samples of one series.
///
/// Invariants: timestamps strictly increase across `closed` then `open`; `last_t` is the
/// newest timestamp (or `i64::MIN` while empty) and `last_v_bits` its value's bits.
pub(crate) struct SeriesData {
    pub(crate) closed: Vec<ClosedChunk>,
    pub(crate) open: XorChunk,
    pub(crate) open_min_t: i64,
    pub(crate) last_t: i64,
    pub(crate) last_v_bits: u64,
}

impl Default for SeriesData {
    fn default() -> Self {
        SeriesData {
            closed: Vec::new(),
            open: XorChunk::new(),
            open_min_t: i64::MIN,
            last_t: i64::MIN,
            last_v_bits: 0,
        }
    }
}

impl SeriesData {
    /// Appends a sample. Precondition: `t > self.last_t` (checked by the appender).
    pub(crate) fn push(&mut self, t: i64, v: f64) {
        let n = self.open.num_samples();
        if n > 0 && (n >= SAMPLES_PER_CHUNK || t - self.open_min_t >= MAX_CHUNK_SPAN_MS) {
            let full = std::mem::take(&mut self.open);
            self.closed.push(ClosedChunk {
                min_t: self.open_min_t,
                max_t: self.last_t,
                chunk: full,
            });
        }
        if self.open.num_samples() == 0 {
            self.open_min_t = t;
        }
        self.open.append(t, v);
        self.last_t = t;
        self.last_v_bits = v.to_bits();
    }

    /// Appends to `out` the samples with `mint <= t <= maxt`, oldest first.
    pub(crate) fn samples_in(&self, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
        for c in &self.closed {
            if c.max_t < mint || c.min_t > maxt {
                continue;
            }
            extend_in_range(c.chunk.iter(), mint, maxt, out);
        }
        if self.open.num_samples() > 0 && self.open_min_t <= maxt && self.last_t >= mint {
            extend_in_range(self.open.iter(), mint, maxt, out);
        }
    }

    /// The value bits of the sample at exactly `t`, if the series has one. Decodes at most
    /// the one chunk whose range holds `t`.
    pub(crate) fn value_bits_at(&self, t: i64) -> Option<u64> {
        let chunk = if t >= self.open_min_t && self.open.num_samples() > 0 {
            &self.open
        } else {
            let i = self.closed.partition_point(|c| c.max_t < t);
            let c = self.closed.get(i).filter(|c| c.min_t <= t)?;
            &c.chunk
        };
        chunk
            .iter()
            .find(|s| s.t >= t)
            .filter(|s| s.t == t)
            .map(|s| s.v.to_bits())
    }

    /// True when any sample lies in `[mint, maxt]`. Approximated by chunk ranges, which is
    /// exact at the ends of the series and errs on "yes" only inside gaps between samples.
    pub(crate) fn overlaps(&self, mint: i64, maxt: i64) -> bool {
        if self.last_t == i64::MIN {
            return false;
        }
        let first = self.closed.first().map_or(self.open_min_t, |c| c.min_t);
        first <= maxt && self.last_t >= mint
    }
}

fn extend_in_range(it: impl Iterator<Item = Sample>, mint: i64, maxt: i64, out: &mut Vec<Sample>) {
    for s in it {
        if s.t > maxt {
            break;
        }
        if s.t >= mint {
            out.push(s);
        }
    }
}
