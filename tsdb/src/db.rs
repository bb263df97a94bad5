//! The database facade: opening (blocks, WAL replay), appending, and reading.
//!
//! ## Storage
//! Recent samples live in the head (memory, made durable by the WAL), whose full chunks are
//! written to `chunks_head/` in the background and read back through memory maps
//! (`head_chunks`); the WAL is then truncated to what the head still holds only in memory
//! ([`Db::truncate_wal`]). Older samples live in immutable blocks under the data
//! directory, cut from the head in the background (`compact.rs`). Queries read both and merge per series (`querier.rs`). Samples older
//! than the end of the newest block are out of bounds: that range is closed.
//!
//! ## Opening
//! Blocks are opened first (`blocks.rs`: unfinished ones removed, corrupt ones moved
//! aside), then the head is rebuilt: the series of the WAL's newest checkpoint, the chunks
//! of `chunks_head/`, then the checkpoint and the segments after it (`replay.rs`).
//! Samples the blocks already hold are skipped, which covers a crash between writing a
//! block and checkpointing the WAL.
//!
//! ## Write path
//! [`Db::append`] (and [`Db::append_refs`], for labels borrowed from a request) first
//! resolves or creates each series under the head's own locks only, so that concurrent
//! writes do that in parallel. It then holds the append lock while it (1) resolves again
//! any series a head cut removed meanwhile, (2) decides per sample whether the head accepts
//! it, (3) writes the records of its series not yet in the WAL (whichever write created
//! them) and the accepted samples to the WAL in one write, series first, and (4) applies
//! the samples to the head. It then releases the lock and waits for the WAL's fsync policy
//! (group commit under `Always`). Only then does the caller answer 2xx, so an acknowledged
//! sample is always in the WAL, after its series.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use crate::blocks::BlockSet;
use crate::chunked::ChunkedSeries;
use crate::compact::HeadCutter;
use crate::error::{Error, Result};
use crate::fault::CrashPoints;
use crate::head::{Head, HeadAppender, MemSeries, SampleVerdict, SeriesKey};
use crate::head_chunks::HeadChunks;
use crate::index::Matcher;
use crate::labels::{Labels, LabelsRef};
use crate::metrics::{count, TsdbMetrics};
use crate::querier::{self, OnBlockError};
use crate::sample::Sample;
use crate::wal::{
    BackgroundSyncer, CheckpointFilter, FsyncPolicy, MetadataRecord, Record, SeriesRecord, Wal,
    WalOptions,
};

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
    /// Samples up to this far behind their series' newest sample are accepted out of order
    /// (and queryable, and replayed from the WAL); 0 rejects every older sample.
    pub ooo_window_ms: i64,
    /// Time range of a block cut from the head; a cut happens once the head spans 1.5 of
    /// these. Blocks are aligned to multiples of it.
    pub block_range_ms: i64,
    /// How often the background thread checks whether to cut the head; `None` runs no
    /// thread (cuts happen only through [`Db::compact_head`]).
    pub head_cut_interval: Option<Duration>,
    /// Read every chunk of every block at open and move blocks with a bad checksum aside.
    /// Without it only `meta.json`, the index and the chunk file headers are checked at
    /// open, and damaged chunks surface as query errors. Costs a read of all blocks.
    pub verify_blocks_on_open: bool,
    /// Blocks ending this long before the newest block's end are deleted; `None` keeps
    /// them (by time).
    pub retention_ms: Option<i64>,
    /// The oldest blocks are deleted while blocks and WAL take more bytes than this.
    pub retention_bytes: Option<u64>,
    /// How often closed head chunks are written to the chunk-head segments (and dropped
    /// from memory); `None` runs no thread (writes happen only through
    /// [`Db::flush_head_chunks`]).
    pub head_chunk_write_interval: Option<Duration>,
    /// How often the WAL is cut back to what the head still needs once its chunks are on
    /// disk (see [`Db::truncate_wal`]); runs on the chunk writer's thread.
    pub wal_truncate_interval: Duration,
    /// Size of a chunk-head segment file.
    pub head_chunk_segment_size: u64,
    /// Ranges of compacted blocks, each a multiple of the one before and of
    /// `block_range_ms`: blocks are merged into aligned windows of these once the
    /// windows are closed. Empty disables compaction.
    pub compaction_ranges_ms: Vec<i64>,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions {
            wal_fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            wal_segment_size: 128 << 20,
            max_sample_age_ms: 60 * 60 * 1000,
            ooo_window_ms: 0,
            block_range_ms: 2 * 60 * 60 * 1000,
            head_cut_interval: Some(Duration::from_secs(60)),
            verify_blocks_on_open: true,
            retention_ms: Some(15 * 24 * 60 * 60 * 1000),
            retention_bytes: None,
            compaction_ranges_ms: vec![6 * 60 * 60 * 1000, 24 * 60 * 60 * 1000],
            head_chunk_write_interval: Some(Duration::from_secs(1)),
            wal_truncate_interval: Duration::from_secs(60),
            head_chunk_segment_size: crate::head_chunks::SEGMENT_SIZE,
        }
    }
}

/// The samples of one series in a write.
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesSamples {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// The samples of one series in a write, with everything borrowed from the caller's
/// buffers: what [`Db::append_refs`] takes so that appending to a known series allocates
/// nothing for its labels.
#[derive(Clone, Copy, Debug)]
pub struct SeriesRef<'a> {
    pub labels: LabelsRef<'a>,
    pub samples: &'a [Sample],
}

/// A series of a write as the append path sees it, owned or borrowed.
trait AppendEntry {
    type Key: SeriesKey;
    fn key(&self) -> &Self::Key;
    fn samples(&self) -> &[Sample];
}

impl AppendEntry for SeriesSamples {
    type Key = Labels;
    fn key(&self) -> &Labels {
        &self.labels
    }
    fn samples(&self) -> &[Sample] {
        &self.samples
    }
}

impl<'a> AppendEntry for SeriesRef<'a> {
    type Key = LabelsRef<'a>;
    fn key(&self) -> &LabelsRef<'a> {
        &self.labels
    }
    fn samples(&self) -> &[Sample] {
        self.samples
    }
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
    /// Older than the newest sample of its series (by more than the out-of-order window).
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
    /// Blocks served, and their bytes on disk.
    pub num_blocks: u64,
    pub blocks_bytes: u64,
    /// Chunk-head segment files, and their bytes in use.
    pub head_chunk_segments: u64,
    pub head_chunk_segment_bytes: u64,
}

/// Maximum number of distinct metadata entries kept per metric family; more than one
/// happens when targets disagree on help text, a handful is plenty.
const MAX_METADATA_PER_METRIC: usize = 10;

/// One shard's database. `Send + Sync`; dropping it stops the background head cutter
/// (waiting for a cut in progress) and syncs the WAL.
pub struct Db {
    inner: Arc<DbInner>,
    /// `None` when [`DbOptions::head_cut_interval`] is `None`.
    cutter: Option<HeadCutter>,
    /// Writes closed head chunks and truncates the WAL; `None` when
    /// [`DbOptions::head_chunk_write_interval`] is `None`.
    chunk_writer: Option<BackgroundSyncer>,
}

/// The state shared by [`Db`] and its background head cutter.
pub(crate) struct DbInner {
    pub(crate) dir: PathBuf,
    pub(crate) opts: DbOptions,
    pub(crate) head: Head,
    pub(crate) wal: Wal,
    pub(crate) blocks: BlockSet,
    /// Serialises appends; see the module docs for what it protects. Also taken briefly by
    /// head cuts, whose changes to which samples and series are valid must not fall
    /// between an append's validation and its application.
    pub(crate) append_lock: Mutex<AppendState>,
    /// Samples older than this are out of bounds: their range is (being) written as a
    /// block. Only grows; changed under `append_lock`. `i64::MIN` without blocks.
    pub(crate) block_floor: AtomicI64,
    /// Serialises head cuts.
    pub(crate) cut_lock: Mutex<()>,
    /// Serialises the changes that remove blocks (compaction, retention); cuts only add
    /// blocks and need not wait for them.
    pub(crate) blocks_lock: Mutex<()>,
    metadata: RwLock<HashMap<String, Vec<MetricMetadata>>>,
    samples_appended: AtomicU64,
    pub(crate) crash_points: CrashPoints,
    pub(crate) metrics: TsdbMetrics,
}

/// State owned by the append lock. Empty: which series still need a WAL record is kept
/// on the series themselves (see `MemSeries::logged`), since series are created outside
/// the lock.
#[derive(Default)]
pub(crate) struct AppendState {}

impl Db {
    /// Opens (or creates) the database in `dir`: opens its blocks, replays its WAL, and
    /// starts the background head cutter.
    pub fn open(dir: &Path, opts: DbOptions) -> Result<Db> {
        let inner = Arc::new(DbInner::open(dir, opts)?);
        let cutter = match inner.opts.head_cut_interval {
            Some(every) => Some(HeadCutter::spawn(Arc::clone(&inner), every)?),
            None => None,
        };
        let chunk_writer = match inner.opts.head_chunk_write_interval {
            Some(every) => Some(spawn_chunk_writer(Arc::clone(&inner), every)?),
            None => None,
        };
        Ok(Db {
            inner,
            cutter,
            chunk_writer,
        })
    }

    /// Writes the closed head chunks waiting in memory to the chunk-head segments, as the
    /// background writer does; returns how many.
    pub fn flush_head_chunks(&self) -> Result<usize> {
        self.inner.flush_head_chunks()
    }

    /// Deletes the WAL segments the head no longer needs, as the background writer does
    /// periodically: those before the oldest segment holding a sample that is not yet in a
    /// durable chunk-head segment (an open chunk's, an unwritten chunk's or an out-of-order
    /// one). They are replaced by a checkpoint of their series, tombstones and metadata.
    /// Also deletes the chunk-head segments older than the head. Returns the segment the
    /// WAL now starts at (its watermark).
    pub fn truncate_wal(&self) -> Result<u64> {
        self.inner.truncate_wal()
    }

    /// Chunks the head holds as references to chunk-head segments, and closed chunks still
    /// waiting in memory for the writer. O(series).
    pub fn head_chunk_counts(&self) -> (u64, u64) {
        self.inner.head.chunk_counts()
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Cuts the head into blocks now, as far as the background cutter would; returns the
    /// number of blocks written.
    pub fn compact_head(&self) -> Result<usize> {
        self.inner.compact_head()
    }

    /// Merges closed windows of blocks into larger blocks, as the background thread does
    /// after each cut; returns the number of blocks written.
    pub fn compact_blocks(&self) -> Result<usize> {
        self.inner.compact_blocks()
    }

    /// Writes every block, and the head unless `skip_head`, under
    /// `<data-dir>/snapshots/<name>/`; returns the name.
    pub fn snapshot(&self, skip_head: bool) -> Result<String> {
        self.inner.snapshot(!skip_head)
    }

    /// Deletes the samples in `[mint, maxt]` (inclusive) of the series matching all
    /// `matchers`, as Prometheus's `delete_series` does: tombstones in the blocks, samples
    /// removed from the head (logged in the WAL). Durable when it returns `Ok`; queries
    /// no longer see the samples. See `delete.rs`.
    pub fn delete_series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<()> {
        self.inner.delete_series(matchers, mint, maxt)
    }

    /// Rewrites every block with tombstones into one without the deleted samples; returns
    /// the number of blocks rewritten (or deleted, when nothing was left in them).
    pub fn clean_tombstones(&self) -> Result<usize> {
        self.inner.clean_tombstones()
    }

    /// Deletes the blocks that retention (by time and size) no longer keeps, as the
    /// background thread does after each cut; returns how many.
    pub fn apply_retention(&self) -> Result<usize> {
        self.inner.apply_retention()
    }

    /// Appends a batch of series' samples. Returns once the accepted samples are in the
    /// WAL (and fsynced when the policy says so). Per-sample rejections are reported, not
    /// returned as errors; an `Err` means nothing of this batch was acknowledged.
    pub fn append(&self, batch: &[SeriesSamples]) -> Result<AppendReport> {
        self.inner.append(batch)
    }

    /// [`Db::append`] for labels and samples borrowed from the caller, e.g. straight out of
    /// a decoded request: a series the head knows is found without copying its labels.
    pub fn append_refs(&self, batch: &[SeriesRef<'_>]) -> Result<AppendReport> {
        self.inner.append(batch)
    }

    /// Records metric metadata (help, type, unit), keeping distinct entries per family.
    pub fn set_metadata(&self, md: Vec<MetricMetadata>) -> Result<()> {
        self.inner.set_metadata(md)
    }

    /// Series matching all `matchers` with their samples in `[mint, maxt]`, sorted by
    /// labels. A block that cannot be read is logged and left out; see [`Db::try_select`].
    pub fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Series> {
        self.inner
            .select(matchers, mint, maxt, OnBlockError::Skip)
            .unwrap_or_default()
    }

    /// As [`Db::select`], but a block that cannot be read is an error.
    pub fn try_select(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>> {
        self.inner.select(matchers, mint, maxt, OnBlockError::Fail)
    }

    /// Series matching all `matchers` with handles to their chunks overlapping
    /// `[mint, maxt]`, sorted by labels, for the caller to decode where and as far as it
    /// needs: see [`ChunkedSeries`]. Decoded over `[mint, maxt]` they hold what
    /// [`Db::try_select`] returns (a series may also come with chunks but no sample in
    /// the range). A block that cannot be read is an error, here or while decoding.
    pub fn select_chunks(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ChunkedSeries>> {
        let i = &*self.inner;
        querier::select_chunks(
            &i.head,
            &|| i.blocks.snapshot(),
            matchers,
            mint,
            maxt,
            OnBlockError::Fail,
        )
    }

    /// Label sets of series matching `matchers` with samples in `[mint, maxt]`, sorted.
    pub fn series(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<Labels> {
        let i = &*self.inner;
        querier::series(
            &i.head,
            &|| i.blocks.snapshot(),
            matchers,
            mint,
            maxt,
            OnBlockError::Skip,
        )
        .unwrap_or_default()
    }

    /// Sorted label names; all series' when `matchers` is empty.
    pub fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<String> {
        let i = &*self.inner;
        querier::label_names(
            &i.head,
            &|| i.blocks.snapshot(),
            matchers,
            mint,
            maxt,
            OnBlockError::Skip,
        )
        .unwrap_or_default()
    }

    /// Sorted values of label `name`; over all series when `matchers` is empty.
    pub fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Vec<String> {
        let i = &*self.inner;
        querier::label_values(
            &i.head,
            &|| i.blocks.snapshot(),
            name,
            matchers,
            mint,
            maxt,
            OnBlockError::Skip,
        )
        .unwrap_or_default()
    }

    /// Metadata by metric family, optionally for one metric, at most `limit` families.
    pub fn metadata(
        &self,
        metric: Option<&str>,
        limit: Option<usize>,
    ) -> BTreeMap<String, Vec<MetricMetadata>> {
        self.inner.metadata(metric, limit)
    }

    /// Cardinality of the head's index for `/api/v1/status/tsdb`: the `top_n` metric
    /// names, label names and label pairs by series count, as Prometheus lists them.
    pub fn head_cardinality(&self, top_n: usize) -> crate::index::PostingsStats {
        self.inner.head.postings().stats(top_n)
    }

    /// Chunks in the head, for `/api/v1/status/tsdb`. Counted on request: O(series).
    pub fn head_chunk_count(&self) -> u64 {
        self.inner.head.num_chunks()
    }

    /// Where the head's memory goes; see [`crate::HeadFootprint`]. O(series + label pairs).
    pub fn head_footprint(&self) -> crate::head::HeadFootprint {
        self.inner.head.footprint()
    }

    /// The engine's metrics (see `metrics.rs`), to register with a registry.
    pub fn metrics(&self) -> &TsdbMetrics {
        &self.inner.metrics
    }

    pub fn stats(&self) -> DbStats {
        self.inner.stats()
    }

    #[cfg(test)]
    pub(crate) fn inner(&self) -> &DbInner {
        &self.inner
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        // Stop the background threads before the last reference to the state goes.
        drop(self.chunk_writer.take());
        drop(self.cutter.take());
    }
}

impl DbInner {
    fn open(dir: &Path, opts: DbOptions) -> Result<DbInner> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let metrics = TsdbMetrics::default();
        let (blocks, corrupted) = BlockSet::load(dir, opts.verify_blocks_on_open)?;
        metrics.blocks_corrupted.inc_by(corrupted);
        crate::snapshot::remove_unfinished(dir);
        let floor = blocks.max_time().unwrap_or(i64::MIN);
        let wal_dir = dir.join("wal");
        let chunks_dir = dir.join(crate::head_chunks::DIR_NAME);
        let chunks = HeadChunks::open(&chunks_dir, opts.head_chunk_segment_size, |_, _| {})?;
        let head = Head::new(Arc::new(chunks));
        let mut metadata: HashMap<String, Vec<MetricMetadata>> = HashMap::new();
        let started = Instant::now();
        let (stats, remapped) = crate::replay::replay(&wal_dir, &head, &mut metadata, floor)?;
        // Series whose samples are all in blocks came back from their WAL records alone.
        let pass = head.truncate_before(floor);
        let dropped = head.remove_empty(pass);
        let (num_blocks, blocks_bytes) = blocks.stats();
        metrics
            .wal_corruptions
            .inc_by(stats.corrupted_segments as u64 + u64::from(stats.torn_tail_truncated));
        metrics
            .data_replay_duration
            .set(started.elapsed().as_secs_f64());
        tracing::info!(
            segments = stats.segments,
            checkpoint = stats.checkpoint,
            records = stats.records,
            bytes = stats.bytes,
            series = head.num_series(),
            series_only_in_blocks = dropped,
            blocks = num_blocks,
            blocks_bytes,
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
        let db = DbInner {
            dir: dir.to_path_buf(),
            opts,
            head,
            wal,
            blocks,
            append_lock: Mutex::new(AppendState::default()),
            block_floor: AtomicI64::new(floor),
            cut_lock: Mutex::new(()),
            blocks_lock: Mutex::new(()),
            metadata: RwLock::new(metadata),
            samples_appended: AtomicU64::new(0),
            crash_points: CrashPoints::default(),
            metrics,
        };
        if remapped {
            // Some series got other ids than the WAL gave them (a corrupt record was
            // skipped). Log every series under its current id so that the samples written
            // from now on resolve to the right series on the next replay.
            db.relog_all_series()?;
        }
        Ok(db)
    }

    fn relog_all_series(&self) -> Result<()> {
        let records: Vec<SeriesRecord> = self
            .head
            .all_series()
            .iter()
            .map(|s| SeriesRecord {
                id: s.id,
                labels: s.labels.to_labels(),
            })
            .collect();
        let pos = self.wal.write(&[Record::Series(records)])?;
        self.wal.sync_to(pos)
    }

    fn append<E: AppendEntry>(&self, batch: &[E]) -> Result<AppendReport> {
        let mut report = AppendReport::default();
        // Resolving (and creating) series takes only the head's own locks: concurrent
        // writes do it in parallel, and the append lock covers just checks, WAL and apply.
        let (mut resolved, created) = self.head.resolve_all(
            batch
                .iter()
                .map(|entry| (!entry.samples().is_empty()).then(|| entry.key())),
        );
        report.new_series += created;
        let pos = {
            let _state = self.append_lock.lock();
            // A head cut removes series left without samples; one of ours may have been
            // among them (a new series is empty) between resolving and this lock.
            for (entry, slot) in batch.iter().zip(resolved.iter_mut()) {
                if let Some(series) = slot.as_mut().filter(|s| s.is_removed()) {
                    let (again, created) = self.head.resolve(entry.key());
                    report.new_series += u64::from(created);
                    *series = again;
                }
            }
            let mut app = HeadAppender::new(
                &self.head,
                self.opts.max_sample_age_ms,
                self.block_floor.load(Ordering::SeqCst),
                self.opts.ooo_window_ms,
            );
            app.reserve(batch.iter().map(|e| e.samples().len()).sum());
            // Series without a WAL record yet, whoever created them: their records go
            // into the same write as, and before, their samples.
            let mut unlogged: Vec<&MemSeries> = Vec::new();
            for (entry, series) in batch.iter().zip(&resolved) {
                let Some(series) = series.as_deref() else {
                    continue;
                };
                if !series.is_logged() {
                    unlogged.push(series);
                }
                for s in entry.samples() {
                    let verdict = app.add(series, s.t, s.v);
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
                            labels: entry.key().to_labels(),
                            t: s.t,
                            reason,
                        });
                    }
                }
            }
            // A series listed twice in the batch is logged once.
            unlogged.sort_unstable_by_key(|s| s.id);
            unlogged.dedup_by_key(|s| s.id);
            if unlogged.is_empty() && app.accepted().is_empty() {
                return Ok(report);
            }
            let mut records = Vec::with_capacity(2);
            if !unlogged.is_empty() {
                records.push(Record::Series(
                    unlogged
                        .iter()
                        .map(|s| SeriesRecord {
                            id: s.id,
                            labels: s.labels.to_labels(),
                        })
                        .collect(),
                ));
            }
            if !app.accepted().is_empty() {
                records.push(Record::Samples(app.accepted().to_vec()));
            }
            // On failure nothing is marked: the next write that touches these series logs
            // them, and their samples of this write were not accepted.
            // The samples land in this segment or (after a rotation) a later one.
            let segment = self.wal.position().segment;
            let pos = self.wal.write(&records)?;
            for s in &unlogged {
                s.mark_logged();
            }
            app.commit(u32::try_from(segment).unwrap_or(u32::MAX - 1));
            pos
        };
        self.wal.sync_to(pos)?;
        self.samples_appended
            .fetch_add(report.appended, Ordering::Relaxed);
        Ok(report)
    }

    fn set_metadata(&self, md: Vec<MetricMetadata>) -> Result<()> {
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

    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        on_err: OnBlockError,
    ) -> Result<Vec<Series>> {
        querier::select(
            &self.head,
            &|| self.blocks.snapshot(),
            matchers,
            mint,
            maxt,
            on_err,
        )
    }

    /// Every metadata entry, as WAL records (for checkpoints).
    pub(crate) fn metadata_records(&self) -> Vec<MetadataRecord> {
        self.metadata
            .read()
            .values()
            .flatten()
            .cloned()
            .map(to_metadata_record)
            .collect()
    }

    fn metadata(
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

    fn stats(&self) -> DbStats {
        let (num_blocks, blocks_bytes) = self.blocks.stats();
        let (head_chunk_segments, head_chunk_segment_bytes) = self.head.chunks.stats();
        DbStats {
            num_series: self.head.num_series() as u64,
            samples_appended_total: self.samples_appended.load(Ordering::Relaxed),
            wal_bytes: self.wal.size_bytes(),
            head_min_time: self.head.min_time(),
            head_max_time: self.head.max_time(),
            num_blocks,
            blocks_bytes,
            head_chunk_segments,
            head_chunk_segment_bytes,
        }
    }

    pub(crate) fn flush_head_chunks(&self) -> Result<usize> {
        self.head.flush_chunks(&|p| self.crash_points.check(p))
    }

    /// See [`Db::truncate_wal`]. Holds the cut lock, so that it never runs beside a head
    /// cut's own checkpoint.
    pub(crate) fn truncate_wal(&self) -> Result<u64> {
        let _cutting = self.cut_lock.lock();
        let started = Instant::now();
        // Appends apply their samples under the append lock, after logging them: every
        // append that logged before this point is visible to the scan below, and every
        // later one logs into this segment or a later one.
        let current = {
            let _appends = self.append_lock.lock();
            self.wal.position().segment
        };
        let crash = |p: &str| self.crash_points.check(p);
        let mark = self.head.wal_low_watermark(&crash)?;
        let watermark = u64::from(mark).min(current);
        let mut stats = None;
        if watermark > 1 {
            let metadata = self.metadata_records();
            let keep = |id| self.head.contains(id);
            let filter = CheckpointFilter {
                keep_series: &keep,
                min_time: self.block_floor.load(Ordering::SeqCst),
                keep_samples: false,
                metadata,
            };
            let m = &self.metrics;
            let written = self.wal.checkpoint(watermark - 1, &filter, &crash);
            let written = count(
                written,
                &m.checkpoint_creations,
                &m.checkpoint_creations_failed,
            );
            stats = Some(written.inspect_err(|_| {
                m.wal_truncations_failed.inc();
            })?);
            m.wal_truncations.inc();
        }
        let chunk_segments_deleted = match self.head.min_time() {
            Some(t) => self
                .head
                .chunks
                .truncate_before(t, &crash)
                .inspect_err(|_| {
                    self.metrics.wal_truncations_failed.inc();
                })?,
            None => 0,
        };
        if let Some(st) = stats.filter(|s| s.seq > 0 || s.deleted_bytes > 0) {
            tracing::info!(
                watermark,
                series = st.series_kept,
                tombstones = st.tombstones_kept,
                deleted_bytes = st.deleted_bytes,
                chunk_segments_deleted,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "WAL truncated below the head's watermark"
            );
        }
        Ok(watermark)
    }
}

/// The background thread writing closed head chunks every `every`, and truncating the WAL
/// every [`DbOptions::wal_truncate_interval`].
fn spawn_chunk_writer(db: Arc<DbInner>, every: Duration) -> Result<BackgroundSyncer> {
    let last_truncation = Mutex::new(Instant::now());
    let dir = db.dir.clone();
    BackgroundSyncer::spawn_named(
        "tsdb-head-chunks",
        "writing head chunks or truncating the WAL failed",
        every,
        move || {
            db.flush_head_chunks()?;
            let mut last = last_truncation.lock();
            if last.elapsed() >= db.opts.wal_truncate_interval {
                *last = Instant::now();
                db.truncate_wal()?;
            }
            Ok(())
        },
    )
    .map_err(|e| Error::io(dir, e))
}

/// Inserts `m` unless an identical entry is there; returns whether it was new.
pub(crate) fn insert_metadata(
    map: &mut HashMap<String, Vec<MetricMetadata>>,
    m: MetricMetadata,
) -> bool {
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

pub(crate) fn from_metadata_record(r: MetadataRecord) -> MetricMetadata {
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

#[cfg(test)]
#[path = "db_chunks_tests.rs"]
mod chunks_tests;
