//! Replay: reading every record of a WAL directory back, repairing a torn tail.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, ErrorKind, Read};
use std::path::Path;

use super::record::{Decoded, Record, RefSample};
use super::segment::{list_segments, Header, SegmentFile, HEADER_LEN, MAX_PAYLOAD_LEN};
use super::ReplayStats;
use crate::error::{Error, Result};

/// Why reading a segment stopped before its end.
struct Damage {
    offset: u64,
    reason: String,
}

/// Buffers reused from record to record: the payload read, and the samples decoded from
/// it (see [`Record::decode_reusing`]).
#[derive(Default)]
pub(crate) struct Scratch {
    payload: Vec<u8>,
    samples: Vec<RefSample>,
}

/// See [`super::Wal::replay_with_segments`]; without `read_checkpoint`, the newest
/// checkpoint's records are not read (the caller read them with [`checkpoint_records`]),
/// only the segments after it.
pub(crate) fn replay(
    dir: &Path,
    read_checkpoint: bool,
    mut f: impl FnMut(u64, Record) -> Result<()>,
) -> Result<ReplayStats> {
    replay_decoded(dir, read_checkpoint, |seg, d| f(seg, d.into_record()))
}

/// [`replay`] passing sample records borrowed from one reused buffer.
pub(crate) fn replay_decoded(
    dir: &Path,
    read_checkpoint: bool,
    mut f: impl FnMut(u64, Decoded<'_>) -> Result<()>,
) -> Result<ReplayStats> {
    let mut stats = ReplayStats::default();
    let mut scratch = Scratch::default();
    // The newest checkpoint stands for every segment up to its number; older checkpoints
    // and such segments are leftovers of a checkpoint interrupted while deleting them.
    let after = match super::checkpoint::list(dir)?.pop() {
        Some(cp) => {
            let files = if read_checkpoint {
                cp.files()?
            } else {
                Vec::new()
            };
            for file in files {
                let seq = cp.seq;
                let Some(damage) =
                    read_segment(&file, &mut scratch, &mut stats, &mut |r| f(seq, r))?
                else {
                    continue;
                };
                // Checkpoints are fsynced before they are renamed into place, so damage
                // here is corruption, not a torn write: report it and go on.
                tracing::error!(
                    path = %file.path.display(),
                    offset = damage.offset,
                    reason = damage.reason,
                    "corrupt WAL checkpoint; skipping its remaining records"
                );
                stats.corrupted_segments += 1;
            }
            stats.checkpoint = Some(cp.seq);
            cp.seq
        }
        None => 0,
    };
    let segments: Vec<SegmentFile> = list_segments(dir)?
        .into_iter()
        .filter(|s| s.seq > after)
        .collect();
    // Segments after the last non-empty one were created (on open or rotation) but never
    // written, so the last non-empty segment is where a crash can have torn a write.
    let tail = segments.iter().rposition(|s| s.len > 0);
    for (i, seg) in segments.iter().enumerate() {
        stats.segments += 1;
        let seq = seg.seq;
        let Some(damage) = read_segment(seg, &mut scratch, &mut stats, &mut |r| f(seq, r))? else {
            continue;
        };
        let err = Error::Corruption {
            path: seg.path.clone(),
            offset: damage.offset,
            reason: damage.reason,
        };
        if Some(i) == tail {
            tracing::warn!(
                error = %err,
                discarded_bytes = seg.len.saturating_sub(damage.offset),
                "torn WAL tail; truncating the last segment at its last good record"
            );
            truncate(seg, damage.offset)?;
            stats.torn_tail_truncated = true;
        } else {
            tracing::error!(
                error = %err,
                skipped_bytes = seg.len.saturating_sub(damage.offset),
                "corrupt WAL segment; skipping its remaining records"
            );
            stats.corrupted_segments += 1;
        }
    }
    Ok(stats)
}

/// The `Series` records of the newest checkpoint in `dir`, if any (damage ends a file
/// early, as replay would).
pub(crate) fn checkpoint_series(
    dir: &Path,
    mut f: impl FnMut(super::record::SeriesRecord),
) -> Result<()> {
    checkpoint_records(dir, |rec| {
        if let Record::Series(series) = rec {
            series.into_iter().for_each(&mut f);
        }
    })
    .map(|_| ())
}

/// Every record of the newest checkpoint in `dir`, if any; damage ends a file early and is
/// logged, as replay does. Returns the checkpoint's number (the last segment it covers).
pub(crate) fn checkpoint_records(dir: &Path, mut f: impl FnMut(Record)) -> Result<Option<u64>> {
    let Some(cp) = super::checkpoint::list(dir)?.pop() else {
        return Ok(None);
    };
    let mut scratch = Scratch::default();
    for file in cp.files()? {
        let damage = read_file(&file, &mut scratch, &mut |rec| {
            f(rec);
            Ok(())
        })?;
        if let Some((offset, reason)) = damage {
            tracing::error!(
                path = %file.path.display(),
                offset,
                reason,
                "corrupt WAL checkpoint; skipping its remaining records"
            );
        }
    }
    Ok(Some(cp.seq))
}

/// Reads the records of one file until its end or the first damaged record, which is
/// returned as its offset and the reason.
pub(crate) fn read_file(
    seg: &SegmentFile,
    scratch: &mut Scratch,
    f: &mut impl FnMut(Record) -> Result<()>,
) -> Result<Option<(u64, String)>> {
    let mut stats = ReplayStats::default();
    let mut f = |d: Decoded<'_>| f(d.into_record());
    Ok(read_segment(seg, scratch, &mut stats, &mut f)?.map(|d| (d.offset, d.reason)))
}

/// Reads records until the end of `seg` or the first damaged one. I/O errors and errors of
/// `f` are returned; damage is reported in the `Ok` value.
fn read_segment(
    seg: &SegmentFile,
    scratch: &mut Scratch,
    stats: &mut ReplayStats,
    f: &mut impl FnMut(Decoded<'_>) -> Result<()>,
) -> Result<Option<Damage>> {
    let Scratch { payload, samples } = scratch;
    let io = |e| Error::io(&seg.path, e);
    let file = File::open(&seg.path).map_err(io)?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut offset = 0u64;
    loop {
        let damage = |reason: String| Ok(Some(Damage { offset, reason }));
        let mut h = [0u8; HEADER_LEN];
        match read_full(&mut r, &mut h).map_err(io)? {
            0 => return Ok(None),
            HEADER_LEN => {}
            n => return damage(format!("short record header ({n} of {HEADER_LEN} bytes)")),
        }
        let header = Header::parse(&h);
        let left = seg.len.saturating_sub(offset + HEADER_LEN as u64);
        if header.len > MAX_PAYLOAD_LEN {
            return damage(format!("record length {} exceeds the maximum", header.len));
        }
        if header.len as u64 > left {
            return damage(format!(
                "short record payload ({left} of {} bytes)",
                header.len
            ));
        }
        payload.resize(header.len, 0);
        let n = read_full(&mut r, payload).map_err(io)?;
        if n < header.len {
            // The file shrank while being read.
            return damage(format!(
                "short record payload ({n} of {} bytes)",
                header.len
            ));
        }
        if !header.checks(payload) {
            return damage("record CRC mismatch".to_string());
        }
        let rec = match Record::decode_reusing(header.kind, payload, samples) {
            Ok(rec) => rec,
            Err(reason) => return damage(format!("undecodable record: {reason}")),
        };
        f(rec)?;
        let framed = (HEADER_LEN + header.len) as u64;
        offset += framed;
        stats.records += 1;
        stats.bytes += framed;
    }
}

/// Reads until `buf` is full or the end of the file; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Cuts the torn tail off. Left in place, it would be reported again on every replay, and as
/// corruption of a middle segment once the next open has written a later segment.
fn truncate(seg: &SegmentFile, len: u64) -> Result<()> {
    let io = |e| Error::io(&seg.path, e);
    let file = OpenOptions::new().write(true).open(&seg.path).map_err(io)?;
    file.set_len(len).map_err(io)?;
    file.sync_all().map_err(io)
}
