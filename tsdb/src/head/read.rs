//! Reading from the head: selecting series by matchers and time, and label lookups.

use roaring::RoaringBitmap;

use super::series::{ChunkBytes, SeriesData};
use super::{Head, SharedSeries};
use crate::chunked::{ChunkedSeries, SeriesChunk};
use crate::db::Series;
use crate::head_chunks::HeadChunks;
use crate::index::Matcher;
use crate::labels::Labels;
use crate::selection::Selection;

impl Head {
    /// Ids of the series matching all `matchers`.
    pub(crate) fn select_ids(&self, matchers: &[Matcher]) -> RoaringBitmap {
        self.postings().select(matchers)
    }

    pub(super) fn resolve_ids(&self, ids: &RoaringBitmap) -> Vec<SharedSeries> {
        let series = self.series.read();
        ids.iter()
            .filter_map(|id| series.get(id as usize).cloned().flatten())
            .collect()
    }

    /// Series matching `matchers` with their samples in `[mint, maxt]`, sorted by labels.
    /// Series without samples in the range are left out.
    pub(crate) fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Series> {
        let ids = self.select_ids(matchers);
        let mut out = Vec::with_capacity(ids.len() as usize);
        for s in self.resolve_ids(&ids) {
            let mut samples = Vec::new();
            s.data
                .lock()
                .samples_in(mint, maxt, &mut samples, &self.chunks);
            if !samples.is_empty() {
                out.push(Series {
                    labels: s.labels.to_labels(),
                    samples,
                });
            }
        }
        out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        out
    }

    /// As [`Head::select`], with handles to each series' chunks overlapping
    /// `[mint, maxt]` (see [`ChunkedSeries`]) instead of decoded samples, sorted by labels.
    /// Series without such chunks are left out. The matched series come from the
    /// selection cache while no series was created or removed (`crate::selection`), so
    /// that a repeated query only reads chunks.
    pub(crate) fn select_chunks(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<ChunkedSeries> {
        let sel = self
            .selections
            .get_or_resolve(matchers, || self.selection(matchers));
        let mut out = Vec::with_capacity(sel.series.len());
        for (s, labels) in &sel.series {
            let chunks = chunks_in(&s.data.lock(), mint, maxt, &self.chunks);
            if !chunks.is_empty() {
                out.push(ChunkedSeries::new(labels.clone(), chunks));
            }
        }
        out
    }

    /// The series matching `matchers` with their labels, sorted by labels.
    pub(crate) fn selection(&self, matchers: &[Matcher]) -> Selection {
        let ids = self.select_ids(matchers);
        let mut series: Vec<(SharedSeries, Labels)> = self
            .resolve_ids(&ids)
            .into_iter()
            .map(|s| {
                let labels = s.labels.to_labels();
                (s, labels)
            })
            .collect();
        series.sort_unstable_by(|a, b| a.1.cmp(&b.1));
        Selection { series }
    }

    /// Label sets of the series matching `matchers` with data in `[mint, maxt]`, sorted.
    pub(crate) fn series_labels(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels> {
        let ids = self.select_ids(matchers);
        let mut out: Vec<Labels> = self
            .resolve_ids(&ids)
            .into_iter()
            .filter(|s| s.data.lock().overlaps(mint, maxt, &self.chunks))
            .map(|s| s.labels.to_labels())
            .collect();
        out.sort_unstable();
        out
    }

    /// Ids of series matching `matchers`, or `None` for all series. Like Prometheus, label
    /// lookups filter by time only at the level of the whole head, not per series: a label
    /// is listed when its series is in a head that overlaps the range.
    fn ids_for_labels(&self, matchers: &[Matcher]) -> Option<RoaringBitmap> {
        (!matchers.is_empty()).then(|| self.select_ids(matchers))
    }

    /// Sorted label names of the series matching `matchers` in the range.
    pub(crate) fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<String> {
        if !self.overlaps(mint, maxt) {
            return Vec::new();
        }
        let ids = self.ids_for_labels(matchers);
        self.postings()
            .label_names(ids.as_ref())
            .into_iter()
            .map(|n| n.to_string())
            .collect()
    }

    /// Sorted values of label `name` among the series matching `matchers` in the range.
    pub(crate) fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<String> {
        if !self.overlaps(mint, maxt) {
            return Vec::new();
        }
        let ids = self.ids_for_labels(matchers);
        self.postings()
            .label_values(name, ids.as_ref())
            .into_iter()
            .map(|n| n.to_string())
            .collect()
    }
}

/// Handles to a series' chunks overlapping `[mint, maxt]`, oldest first: closed chunks
/// (copied while they wait for the chunk writer, mapped once written), the open chunk
/// (copied: it changes with the next append) and, last, the out-of-order samples in the
/// range. Called under the series' lock, which makes the copies consistent.
fn chunks_in(d: &SeriesData, mint: i64, maxt: i64, hc: &HeadChunks) -> Vec<SeriesChunk> {
    let mut out = Vec::new();
    let first = d.chunks.first_ending_at_or_after(mint);
    for m in d.chunks.iter_from(first) {
        if m.lo > maxt {
            break;
        }
        let Some(c) = d.load(&m, hc) else { continue };
        let (lo, hi) = c.range();
        if lo > maxt || hi < mint {
            continue;
        }
        out.push(match c {
            ChunkBytes::Pending(p) => SeriesChunk::xor(lo, hi, p.data.clone()),
            ChunkBytes::Disk(mc) => SeriesChunk::mapped(mc),
        });
    }
    if d.open.num_samples() > 0 && d.open_min_t() <= maxt && d.last_t() >= mint {
        // While the open chunk holds samples, its last is the series' newest: exact.
        out.push(SeriesChunk::xor(
            d.open_min_t(),
            d.last_t(),
            d.open.bytes().into(),
        ));
    }
    if !d.ooo.is_empty() {
        let mut late = Vec::new();
        d.ooo.merge_into(mint, maxt, &mut late, 0);
        out.extend(SeriesChunk::samples(late));
    }
    out
}
