//! The database facade (stub: being implemented).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use crate::error::Result;
use crate::index::Matcher;
use crate::labels::Labels;
use crate::sample::Sample;
use crate::wal::FsyncPolicy;

/// Options of [`Db::open`].
#[derive(Clone, Debug)]
pub struct DbOptions {
    /// When the WAL is fsynced; see [`FsyncPolicy`].
    pub wal_fsync: FsyncPolicy,
    /// Size at which a WAL segment is closed and a new one started.
    pub wal_segment_size: u64,
    /// Samples older than the newest sample in the head minus this are rejected as too old,
    /// as Prometheus does with half its 2h block range.
    pub max_sample_age_ms: i64,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            wal_fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            wal_segment_size: 128 << 20,
            max_sample_age_ms: 60 * 60 * 1000,
        }
    }
}

/// The samples of one series in a write.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// One series selected by a query: its labels and its samples within the asked range,
/// oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// Metric metadata as remote write and `/api/v1/metadata` carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetricMetadata {
    pub metric_family: String,
    /// `counter`, `gauge`, `histogram`, `gaugehistogram`, `summary`, `info`, `stateset`
    /// or `unknown`.
    pub kind: String,
    pub help: String,
    pub unit: String,
}

/// Why one sample was not appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// Older than the newest sample of its series.
    OutOfOrder,
    /// Older than the head accepts at all.
    TooOld,
    /// Same timestamp as the newest sample of its series, different value.
    DuplicateTimestamp,
}

impl fmt::Display for RejectReason {
    /// Prometheus's wording, which clients and dashboards grep for.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RejectReason::OutOfOrder => "out of order sample",
            RejectReason::TooOld => "out of bounds",
            RejectReason::DuplicateTimestamp => "duplicate sample for timestamp",
        })
    }
}

/// The first rejected sample of a write, to name in the error answered to the client.
#[derive(Clone, Debug, PartialEq)]
pub struct Rejection {
    pub labels: Labels,
    pub t: i64,
    pub reason: RejectReason,
}

/// What [`Db::append`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AppendReport {
    pub appended: u64,
    /// Identical to a sample already stored (same series, timestamp and value): no-ops.
    pub duplicates: u64,
    pub new_series: u64,
    pub rejected: u64,
    pub first_rejection: Option<Rejection>,
}

/// Counters and sizes for `/metrics` and `/api/v1/status/tsdb`.
#[derive(Clone, Debug, Default)]
pub struct DbStats {
    pub num_series: u64,
    pub samples_appended_total: u64,
    pub wal_bytes: u64,
    pub head_min_time: Option<i64>,
    pub head_max_time: Option<i64>,
}

pub struct Db {}

impl Db {
    pub fn open(_dir: &Path, _opts: DbOptions) -> Result<Db> {
        unimplemented!()
    }
    pub fn append(&self, _batch: &[SeriesSamples]) -> Result<AppendReport> {
        unimplemented!()
    }
    pub fn set_metadata(&self, _md: Vec<MetricMetadata>) -> Result<()> {
        unimplemented!()
    }
    pub fn select(&self, _matchers: &[Matcher], _mint: i64, _maxt: i64) -> Vec<Series> {
        unimplemented!()
    }
    pub fn series(&self, _matchers: &[Matcher], _mint: i64, _maxt: i64) -> Vec<Labels> {
        unimplemented!()
    }
    pub fn label_names(&self, _matchers: &[Matcher], _mint: i64, _maxt: i64) -> Vec<String> {
        unimplemented!()
    }
    pub fn label_values(
        &self,
        _name: &str,
        _matchers: &[Matcher],
        _mint: i64,
        _maxt: i64,
    ) -> Vec<String> {
        unimplemented!()
    }
    pub fn metadata(
        &self,
        _metric: Option<&str>,
        _limit: Option<usize>,
    ) -> BTreeMap<String, Vec<MetricMetadata>> {
        unimplemented!()
    }
    pub fn stats(&self) -> DbStats {
        unimplemented!()
    }
}
