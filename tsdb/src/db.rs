//! The database facade: opening (WAL replay), appending, and reading.
//!
//! ## Write path
//! [`Db::append`] holds the append lock while it (1) resolves or creates each series,
//! (2) decides per sample whether the head accepts it, (3) writes the new series and the
//! accepted samples to the WAL in one write, and (4) applies them to the head. It then
//! releases the lock and waits for the WAL's fsync policy (group commit under `Always`).
//! Only then does the caller answer 2xx, so an acknowledged sample is always in the WAL.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::error::{Error, Result};
use crate::head::{Head, HeadAppender, SampleVerdict};
use crate::index::{Matcher, SeriesId};
use crate::labels::Labels;
use crate::sample::Sample;
use crate::wal::{FsyncPolicy, MetadataRecord, Record, RefSample, SeriesRecord, Wal, WalOptions};

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

/// Maximum number of distinct metadata entries kept per metric family; more than one
/// happens when targets disagree on help text, a handful is plenty.
const MAX_METADATA_PER_METRIC: usize = 10;

/// One shard's database.
pub struct Db {
    dir: PathBuf,
    opts: DbOptions,
    head: Head,
    wal: Wal,
    /// Serialises appends; see the module docs for what it protects.
    append_lock: Mutex<AppendState>,
    metadata: RwLock<HashMap<String, Vec<MetricMetadata>>>,
    samples_appended: AtomicU64,
}

/// State owned by the append lock.
#[derive(Default)]
struct AppendState {
    /// Series created in the head whose WAL record has not been written yet (the WAL
    /// write that should have carried them failed). They go out with the next write.
    unlogged_series: Vec<SeriesId>,
}

impl Db {
    /// Opens (or creates) the database in `dir`, replaying its WAL.
    pub fn open(dir: &Path, opts: DbOptions) -> Result<Db> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let wal_dir = dir.join("wal");
        let head = Head::new();
        let mut metadata: HashMap<String, Vec<MetricMetadata>> = HashMap::new();
        let started = Instant::now();
        let (stats, remapped) = replay(&wal_dir, &head, &mut metadata)?;
        tracing::info!(
            segments = stats.segments,
            records = stats.records,
            bytes = stats.bytes,
            series = head.num_series(),
            torn_tail_truncated = stats.torn_tail_truncated,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "WAL replayed"
        );
        let wal = Wal::open(
            &wal_dir,
            WalOptions {
                segment_size: opts.wal_segment_size,
                fsync: opts.wal_fsync,
            },
        )?;
        let db = Db {
            dir: dir.to_path_buf(),
            opts,
            head,
            wal,
            append_lock: Mutex::new(AppendState::default()),
            metadata: RwLock::new(metadata),
            samples_appended: AtomicU64::new(0),
        };
        if remapped {
            // Some series got other ids than the WAL gave them (a corrupt record was
            // skipped). Log every series under its current id so that the samples written
            // from now on resolve to the right series on the next replay.
            db.relog_all_series()?;
        }
        Ok(db)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn relog_all_series(&self) -> Result<()> {
        let records: Vec<SeriesRecord> = self
            .head
            .all_series()
            .iter()
            .map(|s| SeriesRecord {
                id: s.id,
                labels: s.labels.clone(),
            })
            .collect();
        let pos = self.wal.write(&[Record::Series(records)])?;
        self.wal.sync_to(pos)
    }

    /// Appends a batch of series' samples. Returns once the accepted samples are in the
    /// WAL (and fsynced when the policy says so). Per-sample rejections are reported, not
    /// returned as errors; an `Err` means nothing of this batch was acknowledged.
    pub fn append(&self, batch: &[SeriesSamples]) -> Result<AppendReport> {
        let mut report = AppendReport::default();
        let pos = {
            let mut state = self.append_lock.lock();
            let mut new_series: Vec<SeriesId> = std::mem::take(&mut state.unlogged_series);
            let mut app = HeadAppender::new(&self.head, self.opts.max_sample_age_ms);
            for entry in batch {
                if entry.samples.is_empty() {
                    continue;
                }
                let (id, created) = self.head.get_or_create(&entry.labels);
                if created {
                    new_series.push(id);
                    report.new_series += 1;
                }
                for s in &entry.samples {
                    let verdict = app.add(id, s.t, s.v);
                    let reason = match verdict {
                        SampleVerdict::Accept => {
                            report.appended += 1;
                            continue;
                        }
                        SampleVerdict::Duplicate => {
                            report.duplicates += 1;
                            continue;
                        }
                        SampleVerdict::OutOfOrder => RejectReason::OutOfOrder,
                        SampleVerdict::TooOld => RejectReason::TooOld,
                        SampleVerdict::DuplicateTimestamp => RejectReason::DuplicateTimestamp,
                    };
                    report.rejected += 1;
                    if report.first_rejection.is_none() {
                        report.first_rejection = Some(Rejection {
                            labels: entry.labels.clone(),
                            t: s.t,
                            reason,
                        });
                    }
                }
            }
            if new_series.is_empty() && app.accepted().is_empty() {
                return Ok(report);
            }
            let mut records = Vec::with_capacity(2);
            if !new_series.is_empty() {
                records.push(Record::Series(
                    new_series
                        .iter()
                        .filter_map(|id| self.head.get(*id))
                        .map(|s| SeriesRecord {
                            id: s.id,
                            labels: s.labels.clone(),
                        })
                        .collect(),
                ));
            }
            if !app.accepted().is_empty() {
                records.push(Record::Samples(app.accepted().to_vec()));
            }
            match self.wal.write(&records) {
                Ok(pos) => {
                    app.commit();
                    pos
                }
                Err(e) => {
                    state.unlogged_series = new_series;
                    return Err(e);
                }
            }
        };
        self.wal.sync_to(pos)?;
        self.samples_appended
            .fetch_add(report.appended, Ordering::Relaxed);
        Ok(report)
    }

    /// Records metric metadata (help, type, unit), keeping distinct entries per family.
    pub fn set_metadata(&self, md: Vec<MetricMetadata>) -> Result<()> {
        let changed: Vec<MetricMetadata> = {
            let mut map = self.metadata.write();
            md.into_iter()
                .filter(|m| insert_metadata(&mut map, m.clone()))
                .collect()
        };
        if changed.is_empty() {
            return Ok(());
        }
        let rec = Record::Metadata(changed.into_iter().map(to_metadata_record).collect());
        let pos = self.wal.write(&[rec])?;
        self.wal.sync_to(pos)
    }

    /// Series matching all `matchers` with their samples in `[mint, maxt]`, sorted by labels.
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Series> {
        self.head.select(matchers, mint, maxt)
    }

    /// Label sets of series matching `matchers` with samples in `[mint, maxt]`, sorted.
    pub fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels> {
        self.head.series_labels(matchers, mint, maxt)
    }

    /// Sorted label names; all series' when `matchers` is empty.
    pub fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<String> {
        self.head.label_names(matchers, mint, maxt)
    }

    /// Sorted values of label `name`; over all series when `matchers` is empty.
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<String> {
        self.head.label_values(name, matchers, mint, maxt)
    }

    /// Metadata by metric family, optionally for one metric, at most `limit` families.
    pub fn metadata(
        &self,
        metric: Option<&str>,
        limit: Option<usize>,
    ) -> BTreeMap<String, Vec<MetricMetadata>> {
        let map = self.metadata.read();
        let mut out: BTreeMap<String, Vec<MetricMetadata>> = match metric {
            Some(m) => map
                .get(m)
                .map(|v| (m.to_string(), v.clone()))
                .into_iter()
                .collect(),
            None => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        };
        if let Some(limit) = limit {
            while out.len() > limit {
                out.pop_last();
            }
        }
        out
    }

    pub fn stats(&self) -> DbStats {
        DbStats {
            num_series: self.head.num_series() as u64,
            samples_appended_total: self.samples_appended.load(Ordering::Relaxed),
            wal_bytes: self.wal.size_bytes(),
            head_min_time: self.head.min_time(),
            head_max_time: self.head.max_time(),
        }
    }
}

/// Inserts `m` unless an identical entry is there; returns whether it was new.
fn insert_metadata(map: &mut HashMap<String, Vec<MetricMetadata>>, m: MetricMetadata) -> bool {
    let entries = map.entry(m.metric_family.clone()).or_default();
    if entries.contains(&m) {
        return false;
    }
    if entries.len() >= MAX_METADATA_PER_METRIC {
        entries.remove(0);
    }
    entries.push(m);
    true
}

const METRIC_KINDS: [&str; 8] = [
    "unknown",
    "counter",
    "gauge",
    "histogram",
    "gaugehistogram",
    "summary",
    "info",
    "stateset",
];

fn to_metadata_record(m: MetricMetadata) -> MetadataRecord {
    let kind = METRIC_KINDS.iter().position(|k| *k == m.kind).unwrap_or(0) as u8;
    MetadataRecord {
        metric_family: m.metric_family,
        kind,
        help: m.help,
        unit: m.unit,
    }
}

fn from_metadata_record(r: MetadataRecord) -> MetricMetadata {
    MetricMetadata {
        metric_family: r.metric_family,
        kind: METRIC_KINDS
            .get(r.kind as usize)
            .copied()
            .unwrap_or("unknown")
            .to_string(),
        help: r.help,
        unit: r.unit,
    }
}

/// Rebuilds the head from the WAL. Returns the replay statistics and whether any series
/// ended up with a different id than its WAL record named.
fn replay(
    wal_dir: &Path,
    head: &Head,
    metadata: &mut HashMap<String, Vec<MetricMetadata>>,
) -> Result<(crate::wal::ReplayStats, bool)> {
    // WAL id → head id. Identity in the normal case; differs only after a skipped record.
    let mut ids: HashMap<SeriesId, SeriesId> = HashMap::new();
    let mut remapped = false;
    let mut unknown_refs: u64 = 0;
    let mut buf: Vec<RefSample> = Vec::new();
    let stats = Wal::replay(wal_dir, |rec| {
        match rec {
            Record::Series(series) => {
                for s in series {
                    let id = head.create_for_replay(&s.labels);
                    remapped |= id != s.id;
                    ids.insert(s.id, id);
                }
            }
            Record::Samples(samples) => {
                buf.clear();
                for s in samples {
                    match ids.get(&s.id) {
                        Some(id) => buf.push(RefSample { id: *id, ..s }),
                        None => unknown_refs += 1,
                    }
                }
                crate::head::apply_replayed(head, &buf);
            }
            Record::Metadata(md) => {
                for m in md {
                    insert_metadata(metadata, from_metadata_record(m));
                }
            }
        }
        Ok(())
    })?;
    if unknown_refs > 0 {
        tracing::warn!(
            samples = unknown_refs,
            "WAL samples refer to series whose record was lost; skipped"
        );
    }
    Ok((stats, remapped))
}
