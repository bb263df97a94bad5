//! Checkpoints: what of the older segments the head still needs, rewritten once so that
//! those segments can be deleted.
//!
//! After the head's oldest samples are in a durable block, the WAL segments holding them
//! are mostly dead weight: replaying them would rebuild samples that the head drops again.
//! [`write`] reads every segment before the current one (and the previous checkpoint),
//! keeps the `Series` records of series still in the head, the samples at or after the
//! head's new minimum time, the `Tombstones` of series still in the head that reach that
//! time (in their place among the samples: a tombstone deletes the samples logged before
//! it, not those after), and the metadata the caller passes, and writes them as
//! `checkpoint.<last-segment>/00000000` — the same framing as a segment. Replay reads the
//! newest checkpoint first and then only the segments numbered after it.
//!
//! Crash safety, step by step:
//!
//! | step                                          | a crash here leaves                          |
//! |-----------------------------------------------|----------------------------------------------|
//! | write `checkpoint.N.tmp/`, fsync file and dir | a `.tmp` directory, removed by `Wal::open`   |
//! | rename to `checkpoint.N`, fsync `wal/`        | the checkpoint, and segments ≤ N replay skips |
//! | delete segments ≤ N, then older checkpoints   | some of them, skipped by replay, deleted by the next checkpoint |
//!
//! Segments are deleted only once the checkpoint that replaces them is durable.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::reader::{read_file, Scratch};
use super::record::{MetadataRecord, Record, RefSample, SeriesRecord, TombstoneRecord};
use super::segment::{encode_framed, list_segments, sync_dir, SegmentFile, MAX_PAYLOAD_LEN};
use crate::error::{Error, Result};
use crate::index::SeriesId;

const PREFIX: &str = "checkpoint.";
const TMP_SUFFIX: &str = ".tmp";
/// Name of the one file inside a checkpoint directory.
const FILE_NAME: &str = "00000000";
/// Samples or series per record written; keeps records far below the payload limit.
const RECORD_ITEMS: usize = 10_000;

/// One checkpoint directory found in a WAL directory.
#[derive(Clone, Debug)]
pub(crate) struct Checkpoint {
    /// The last segment it covers: replay continues with the segment after it.
    pub(crate) seq: u64,
    pub(crate) path: PathBuf,
}

impl Checkpoint {
    /// The files of the checkpoint, as segments to read.
    pub(crate) fn files(&self) -> Result<Vec<SegmentFile>> {
        list_segments(&self.path)
    }

    pub(crate) fn size_bytes(&self) -> Result<u64> {
        Ok(self.files()?.iter().map(|f| f.len).sum())
    }
}

/// Complete checkpoints in `dir`, oldest first; `.tmp` leftovers are not listed.
pub(crate) fn list(dir: &Path) -> Result<Vec<Checkpoint>> {
    let mut out: Vec<Checkpoint> = entries(dir)?
        .into_iter()
        .filter_map(|(name, path)| {
            let seq = name.strip_prefix(PREFIX)?.parse().ok()?;
            Some(Checkpoint { seq, path })
        })
        .collect();
    out.sort_by_key(|c| c.seq);
    Ok(out)
}

/// Deletes checkpoint directories whose writing never finished.
pub(crate) fn remove_tmp(dir: &Path) -> Result<()> {
    for (name, path) in entries(dir)? {
        if name.starts_with(PREFIX) && name.ends_with(TMP_SUFFIX) {
            tracing::info!(path = %path.display(), "removing unfinished WAL checkpoint");
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// Directory entries of `dir` that are directories, by name; none for a missing `dir`.
fn entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        if let Some(name) = entry.file_name().to_str() {
            out.push((name.to_string(), path));
        }
    }
    Ok(out)
}

/// What to keep in a checkpoint.
pub struct CheckpointFilter<'a> {
    /// Whether the head still holds series `id`.
    pub keep_series: &'a dyn Fn(SeriesId) -> bool,
    /// Samples older than this are in blocks and dropped, and so are tombstones that end
    /// before it.
    pub min_time: i64,
    /// Whether samples are kept at all: not when every sample of the segments is in
    /// durable chunk-head segments (a checkpoint below the head's WAL watermark).
    pub keep_samples: bool,
    /// The metadata to carry over; replaces every metadata record of the segments.
    pub metadata: Vec<MetadataRecord>,
}

/// What a checkpoint did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckpointStats {
    /// The last segment covered; 0 when there was nothing to checkpoint.
    pub seq: u64,
    pub series_kept: u64,
    pub samples_kept: u64,
    pub samples_dropped: u64,
    pub tombstones_kept: u64,
    /// Bytes of the new checkpoint.
    pub bytes: u64,
    /// Bytes of segments and older checkpoints deleted.
    pub deleted_bytes: u64,
}

/// Named steps of [`write`] at which tests inject faults.
pub const CRASH_CHECKPOINT_WRITTEN: &str = "checkpoint_written";
pub const CRASH_CHECKPOINT_RENAMED: &str = "checkpoint_renamed";
pub const CRASH_SEGMENTS_PARTLY_DELETED: &str = "segments_partly_deleted";

/// Writes `checkpoint.<last>` from the previous checkpoint and segments up to `last`, then
/// deletes what it replaces. `crash_point` is called at each named step; an error from it
/// stops the checkpoint there as a crash would (nothing cleaned up).
pub(crate) fn write(
    dir: &Path,
    last: u64,
    filter: &CheckpointFilter<'_>,
    crash_point: &dyn Fn(&str) -> Result<()>,
) -> Result<CheckpointStats> {
    let previous: Vec<Checkpoint> = list(dir)?.into_iter().filter(|c| c.seq <= last).collect();
    let newest = previous.last().map_or(0, |c| c.seq);
    let segments: Vec<SegmentFile> = list_segments(dir)?
        .into_iter()
        .filter(|s| s.seq <= last)
        .collect();
    if segments.iter().all(|s| s.seq <= newest) {
        // Everything up to `last` is checkpointed already; what is left are segments an
        // interrupted checkpoint did not get to delete.
        let mut stats = CheckpointStats::default();
        for seg in &segments {
            std::fs::remove_file(&seg.path).map_err(|e| Error::io(&seg.path, e))?;
            stats.deleted_bytes += seg.len;
        }
        return Ok(stats);
    }
    let mut sources: Vec<SegmentFile> = match previous.last() {
        Some(c) => c.files()?,
        None => Vec::new(),
    };
    sources.extend(segments.iter().filter(|s| s.seq > newest).cloned());

    let final_path = dir.join(format!("{PREFIX}{last:08}"));
    let tmp = dir.join(format!("{PREFIX}{last:08}{TMP_SUFFIX}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut stats = CheckpointStats {
        seq: last,
        ..CheckpointStats::default()
    };
    if let Err(e) = write_tmp(&tmp, &sources, filter, &mut stats) {
        // Best effort: `Wal::open` removes leftovers too.
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    crash_point(CRASH_CHECKPOINT_WRITTEN)?;
    if final_path.exists() {
        // Only after a crash between this rename and the deletions below, followed by a
        // checkpoint of the same segments: the old copy is complete but superseded.
        std::fs::remove_dir_all(&final_path).map_err(|e| Error::io(&final_path, e))?;
    }
    std::fs::rename(&tmp, &final_path).map_err(|e| Error::io(&final_path, e))?;
    sync_dir(dir)?;
    crash_point(CRASH_CHECKPOINT_RENAMED)?;

    for (i, seg) in segments.iter().enumerate() {
        std::fs::remove_file(&seg.path).map_err(|e| Error::io(&seg.path, e))?;
        stats.deleted_bytes += seg.len;
        if i == 0 {
            crash_point(CRASH_SEGMENTS_PARTLY_DELETED)?;
        }
    }
    for c in previous.iter().filter(|c| c.seq < last) {
        stats.deleted_bytes += c.size_bytes().unwrap_or(0);
        std::fs::remove_dir_all(&c.path).map_err(|e| Error::io(&c.path, e))?;
    }
    sync_dir(dir)?;
    Ok(stats)
}

/// Reads `sources` in order and writes what `filter` keeps into `tmp/00000000`, fsynced.
fn write_tmp(
    tmp: &Path,
    sources: &[SegmentFile],
    filter: &CheckpointFilter<'_>,
    stats: &mut CheckpointStats,
) -> Result<()> {
    let path = tmp.join(FILE_NAME);
    let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
    let mut out = RecordSink {
        w: BufWriter::with_capacity(1 << 20, file),
        path: path.clone(),
        buf: Vec::new(),
        bytes: 0,
    };
    let mut series: Vec<SeriesRecord> = Vec::new();
    let mut samples: Vec<RefSample> = Vec::new();
    let mut scratch = Scratch::default();
    for src in sources {
        let damage = read_file(src, &mut scratch, &mut |rec| {
            match rec {
                Record::Series(s) => {
                    for r in s {
                        if (filter.keep_series)(r.id) {
                            stats.series_kept += 1;
                            series.push(r);
                        }
                    }
                }
                Record::Samples(s) => {
                    // A sample's series record precedes it in the log: flush series first
                    // so that the checkpoint keeps that order.
                    out.flush_series(&mut series, 0)?;
                    for r in s {
                        if filter.keep_samples
                            && r.t >= filter.min_time
                            && (filter.keep_series)(r.id)
                        {
                            stats.samples_kept += 1;
                            samples.push(r);
                        } else {
                            stats.samples_dropped += 1;
                        }
                    }
                    out.flush_samples(&mut samples, RECORD_ITEMS)?;
                }
                Record::Tombstones(t) => {
                    let kept: Vec<TombstoneRecord> = t
                        .into_iter()
                        .filter(|r| r.maxt >= filter.min_time && (filter.keep_series)(r.id))
                        .collect();
                    if !kept.is_empty() {
                        out.flush_series(&mut series, 0)?;
                        out.flush_samples(&mut samples, 0)?;
                        stats.tombstones_kept += kept.len() as u64;
                        out.put(&Record::Tombstones(kept))?;
                    }
                }
                Record::Metadata(_) => {}
            }
            out.flush_series(&mut series, RECORD_ITEMS)
        })?;
        if let Some((offset, reason)) = damage {
            tracing::error!(
                path = %src.path.display(),
                offset,
                reason,
                "corrupt WAL segment while checkpointing; skipping its remaining records"
            );
        }
    }
    out.flush_series(&mut series, 0)?;
    out.flush_samples(&mut samples, 0)?;
    if !filter.metadata.is_empty() {
        out.put(&Record::Metadata(filter.metadata.clone()))?;
    }
    let file = out
        .w
        .into_inner()
        .map_err(|e| Error::io(&path, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(&path, e))?;
    sync_dir(tmp)?;
    stats.bytes = out.bytes;
    Ok(())
}

/// Frames records into the checkpoint file.
struct RecordSink {
    w: BufWriter<File>,
    path: PathBuf,
    buf: Vec<u8>,
    bytes: u64,
}

impl RecordSink {
    fn put(&mut self, rec: &Record) -> Result<()> {
        self.buf.clear();
        encode_framed(&mut self.buf, rec).map_err(|len| {
            Error::io(
                &self.path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("checkpoint record of {len} bytes exceeds {MAX_PAYLOAD_LEN}"),
                ),
            )
        })?;
        self.w
            .write_all(&self.buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Writes the pending series once there are more than `at_least` of them.
    fn flush_series(&mut self, pending: &mut Vec<SeriesRecord>, at_least: usize) -> Result<()> {
        if pending.is_empty() || pending.len() < at_least {
            return Ok(());
        }
        self.put(&Record::Series(std::mem::take(pending)))
    }

    fn flush_samples(&mut self, pending: &mut Vec<RefSample>, at_least: usize) -> Result<()> {
        if pending.is_empty() || pending.len() < at_least {
            return Ok(());
        }
        self.put(&Record::Samples(std::mem::take(pending)))
    }
}

#[cfg(test)]
#[path = "checkpoint_tests.rs"]
mod tests;
