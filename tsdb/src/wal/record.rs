//! WAL record types (stub: encoding being implemented).

use crate::index::SeriesId;
use crate::labels::Labels;

#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRecord {
    pub id: SeriesId,
    pub labels: Labels,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSample {
    pub id: SeriesId,
    pub t: i64,
    pub v: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetadataRecord {
    pub metric_family: String,
    /// Metric type as in remote write's `MetricMetadata.MetricType` (0 unknown, 1 counter, ...).
    pub kind: u8,
    pub help: String,
    pub unit: String,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Series(Vec<SeriesRecord>),
    Samples(Vec<RefSample>),
    Metadata(Vec<MetadataRecord>),
}
