//! Where scraped samples go. The embedded server appends to its own [`Db`]; a
//! remote-write sink (a scraper feeding an ingest URL) implements the same trait.

use std::collections::BTreeMap;
use std::sync::Arc;

use tianshu_tsdb::{AppendReport, Db, Labels, LabelsRef, MetricMetadata, SeriesRef, SeriesSamples};

/// A destination for scraped samples. Called from blocking threads, never from the async
/// runtime's workers, so implementations may block (on the WAL, on a queue).
pub trait Sink: Send + Sync + 'static {
    /// Stores one scrape's samples, the series' labels borrowed from the scrape cache so
    /// that a steady target's samples reach the storage without a copy of their labels.
    /// `Err` is a failure of the whole batch.
    fn append(&self, batch: &[SeriesRef<'_>]) -> Result<AppendReport, String>;

    /// Records metric metadata (`# HELP`, `# TYPE`, `# UNIT`) seen in a scrape.
    fn set_metadata(&self, md: Vec<MetricMetadata>) -> Result<(), String>;

    /// The configuration's `global.external_labels` (sorted by name, values non-empty),
    /// given at every load. As in Prometheus they label what leaves for another system,
    /// so the remote-write sink adds them to what it sends; the local store keeps samples
    /// without them, as Prometheus's own TSDB does.
    fn set_external_labels(&self, _labels: &BTreeMap<String, String>) {}
}

/// Embedded mode: samples go straight into the local database.
pub struct DbSink(pub Arc<Db>);

impl Sink for DbSink {
    fn append(&self, batch: &[SeriesRef<'_>]) -> Result<AppendReport, String> {
        self.0.append_refs(batch).map_err(|e| e.to_string())
    }

    fn set_metadata(&self, md: Vec<MetricMetadata>) -> Result<(), String> {
        self.0.set_metadata(md).map_err(|e| e.to_string())
    }
}

/// A label set in the flat layout of [`LabelsRef`]: names and values back to back in one
/// string, with the end offset of each. Built once per series and kept by the scrape
/// cache, so every later scrape lends it to the storage as is.
#[derive(Debug, Default, Clone)]
pub struct FlatLabels {
    text: Box<str>,
    ends: Box<[u32]>,
}

impl FlatLabels {
    /// The flat form of `labels`, whose names are sorted and unique and values non-empty
    /// ([`Labels`]' own invariants, which [`LabelsRef`] relies on).
    pub fn new(labels: &Labels) -> Self {
        let mut text = String::new();
        let mut ends = Vec::with_capacity(labels.len() * 2);
        for l in labels.iter() {
            text.push_str(&l.name);
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
            text.push_str(&l.value);
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        }
        FlatLabels {
            text: text.into(),
            ends: ends.into(),
        }
    }

    pub fn as_labels_ref(&self) -> LabelsRef<'_> {
        LabelsRef::new(&self.text, &self.ends)
    }
}

/// Owned series (the report series, stale markers of report series) as borrowed ones,
/// their flat labels in `flats`, which the caller keeps alive.
pub fn borrow_all<'a>(
    series: &'a [SeriesSamples],
    flats: &'a mut Vec<FlatLabels>,
) -> Vec<SeriesRef<'a>> {
    flats.clear();
    flats.extend(series.iter().map(|s| FlatLabels::new(&s.labels)));
    flats
        .iter()
        .zip(series)
        .map(|(f, s)| SeriesRef {
            labels: f.as_labels_ref(),
            samples: &s.samples,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_labels_read_back_as_the_label_set() {
        let l = Labels::from_pairs([("job", "node"), ("__name__", "up"), ("instance", "a:1")]);
        let f = FlatLabels::new(&l);
        let r = f.as_labels_ref();
        assert!(r.eq_labels(&l));
        assert_eq!(r.to_labels(), l);
        assert!(FlatLabels::new(&Labels::empty()).as_labels_ref().is_empty());
    }
}
