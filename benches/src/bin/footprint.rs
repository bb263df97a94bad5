//! `footprint`: the storage engine's memory per active series and its restart (WAL replay)
//! time, measured on `tianshu_tsdb::Db` directly, without HTTP or remote-write decoding.
//!
//! Writes `--series` workload series × `--duration-secs` seconds at 1 s into a fresh
//! database, in batches of `--batch-secs` seconds per series, then reports the process's
//! RSS growth per series beside the head's own itemised estimate ([`HeadFootprint`]).
//! Full chunks go to chunk-head segments as they close (the database's background writer);
//! after writing, the bench writes what is left and truncates the WAL as the periodic
//! truncation would, and reports the process's anonymous RSS beside the total (file pages
//! of the mapped chunks are page cache, counted in `VmRSS` only once touched).
//! Then drops the database, opens it again and times `Db::open`, which loads the chunk-head
//! segments and replays the WAL after the head's watermark.
//! `--keep` leaves the directory in place and `--reopen DIR` only times the replay of
//! an existing directory, in a fresh process (for `perf record`). See `benches/README.md`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tianshu_bench::alloc_count::{self, Counting, Inner, INNER};
use tianshu_bench::fixtures::{append_all, column_batch, tsdb_labels};
use tianshu_bench::workload::Workload;
use tianshu_tsdb::{Db, DbOptions, HeadFootprint, Labels, SeriesSamples};

/// Counts live heap bytes, so that the report can split RSS growth into what the program
/// holds and what the allocator keeps beside it.
#[global_allocator]
static ALLOC: Counting<Inner> = Counting(INNER);

#[derive(Parser, Debug)]
#[command(about = "Memory per active series and WAL replay time of the Tianshu storage engine")]
struct Args {
    /// Series to write (whole nodes and pods, so the count may be a little lower).
    #[arg(long, default_value_t = 100_000)]
    series: usize,
    /// Seconds of samples at 1 s resolution per series.
    #[arg(long = "duration-secs", default_value_t = 1800)]
    duration_secs: u32,
    /// Seconds of one series' samples per entry of a write.
    #[arg(long = "batch-secs", default_value_t = 30)]
    batch_secs: u32,
    /// Series per write.
    #[arg(long = "batch-series", default_value_t = 10_000)]
    batch_series: usize,
    /// Seconds to wait before the steady RSS is read.
    #[arg(long = "settle-secs", default_value_t = 3)]
    settle_secs: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Parent of the database directory (a temporary directory is made in it).
    #[arg(long, default_value = "/tmp")]
    tmp: PathBuf,
    /// Keep the database directory and print its path.
    #[arg(long)]
    keep: bool,
    /// Only open this existing database and time its WAL replay.
    #[arg(long)]
    reopen: Option<PathBuf>,
    /// Start series `i` of `n` `i * 240 / n` seconds late (240 samples make a chunk), so
    /// that series close their chunks at spread phases as in a cluster whose series began
    /// at different times, instead of all in the same write; at the reading the open
    /// chunks then hold 1–240 samples, half a chunk on average. Writes up to 239 samples
    /// fewer per series.
    #[arg(long = "spread-phases")]
    spread_phases: bool,
    /// glibc malloc only: fix the mmap threshold at this many bytes (`mallopt`).
    #[arg(long = "mmap-threshold")]
    mmap_threshold: Option<usize>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("footprint: {e}");
            ExitCode::FAILURE
        }
    }
}

fn options() -> DbOptions {
    DbOptions {
        // No background cut: everything written stays in the head and the WAL, which is
        // the state both measurements are about.
        head_cut_interval: None,
        verify_blocks_on_open: false,
        ..DbOptions::default()
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(bytes) = args.mmap_threshold {
        let set = alloc_count::set_mmap_threshold(bytes);
        println!(
            "mmap threshold {bytes} B: {}",
            if set { "set" } else { "not set" }
        );
    }
    if let Some(dir) = &args.reopen {
        // The open's own log line splits its time by phase (checkpoint series, chunks,
        // WAL tail); `RUST_LOG=info` shows it.
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
        reopen(dir, vsz_rss_kib()?.1)?;
        return Ok(());
    }
    let tmp = tempfile::Builder::new()
        .prefix("tianshu-footprint-")
        .tempdir_in(&args.tmp)?;
    let dir = tmp.path().to_path_buf();
    let w = Workload::generate(
        args.series,
        args.duration_secs,
        args.seed,
        1_700_000_000_000,
    );
    let n = w.series.len();
    let labels: Vec<Labels> = tsdb_labels(&w);
    println!(
        "workload: {n} series x {} s = {} samples",
        w.duration_secs,
        w.total_samples()
    );

    let db = Db::open(&dir, options())?;
    let rss_before = settled_rss(args.settle_secs)?;
    let heap_before = HeapState::read()?;
    let started = Instant::now();
    write(&db, &w, &labels, args)?;
    let write_secs = started.elapsed().as_secs_f64();
    let flushed = db.flush_head_chunks()?;
    let wal_before = db.stats().wal_bytes;
    let t = Instant::now();
    let watermark = db.truncate_wal()?;
    println!(
        "chunks written after the load: {flushed}; WAL truncated below segment {watermark} in {:.2} s: {} -> {} bytes",
        t.elapsed().as_secs_f64(),
        wal_before,
        db.stats().wal_bytes
    );
    let rss_after = settled_rss(args.settle_secs)?;
    let heap_after = HeapState::read()?;
    let fp = db.head_footprint();
    let stats = db.stats();
    let wal_bytes = stats.wal_bytes;
    println!(
        "chunk-head segments: {} files, {} bytes; {} chunks mmapped",
        stats.head_chunk_segments, stats.head_chunk_segment_bytes, fp.mmapped_chunks
    );
    let (anon, file) = rss_split_kib()?;
    println!("rss after: anon {anon} KiB, file {file} KiB");
    println!(
        "write: {:.1} s, {:.2} M samples/s",
        write_secs,
        w.total_samples() as f64 / write_secs / 1e6
    );
    report_memory(n, rss_before, rss_after, &fp);
    report_heap(n, &heap_before, &heap_after)?;
    println!(
        "wal after truncation: {} bytes, {:.2} B/sample written",
        wal_bytes,
        wal_bytes as f64 / w.total_samples().max(1) as f64
    );
    drop(db);
    drop(labels);
    drop(w);

    let rss = settled_rss(0)?;
    reopen(&dir, rss)?;
    if args.keep {
        println!("kept: {}", tmp.keep().display());
    }
    Ok(())
}

/// Writes the workload window by window: each write carries `batch_series` series with
/// `batch_secs` samples each, every series' window before the next window starts.
fn write(
    db: &Db,
    w: &Workload,
    labels: &[Labels],
    args: &Args,
) -> Result<(), Box<dyn std::error::Error>> {
    let n = labels.len();
    let window = args.batch_secs.max(1) as usize;
    let mut values = w.values();
    let mut second = vec![0.0; n];
    // columns[i] holds series i's values of the current window.
    let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(window); n];
    let mut batch: Vec<SeriesSamples> = Vec::with_capacity(args.batch_series);
    let total = w.duration_secs as usize;
    let mut done = 0usize;
    let mut next_progress = Instant::now() + Duration::from_secs(30);
    while done < total {
        let len = window.min(total - done);
        for c in &mut columns {
            c.clear();
        }
        for _ in 0..len {
            values.next_second(&mut second);
            for (c, v) in columns.iter_mut().zip(&second) {
                c.push(*v);
            }
        }
        let t0 = w.start_ms + done as i64 * 1000;
        let mut written_series = 0;
        for (chunk_labels, chunk_cols) in labels
            .chunks(args.batch_series.max(1))
            .zip(columns.chunks(args.batch_series.max(1)))
        {
            column_batch(chunk_labels, chunk_cols, t0, &mut batch);
            if args.spread_phases {
                let first = written_series;
                for (k, s) in batch.iter_mut().enumerate() {
                    let late_ms = ((first + k) * SAMPLES_PER_CHUNK / n.max(1)) as i64 * 1000;
                    s.samples.retain(|x| x.t >= w.start_ms + late_ms);
                }
                batch.retain(|s| !s.samples.is_empty());
            }
            written_series += chunk_labels.len();
            if !batch.is_empty() {
                append_all(db, &batch)?;
            }
        }
        done += len;
        if Instant::now() >= next_progress {
            eprintln!("  written {done}/{total} s");
            next_progress = Instant::now() + Duration::from_secs(30);
        }
    }
    Ok(())
}

/// Samples of a head chunk (the head closes a chunk at this many).
const SAMPLES_PER_CHUNK: usize = 240;

fn report_memory(n: usize, before_kib: u64, after_kib: u64, fp: &HeadFootprint) {
    let per = |b: u64| b as f64 / n.max(1) as f64;
    let grown = after_kib.saturating_sub(before_kib) * 1024;
    println!(
        "rss: before {} KiB, after {} KiB, grown {} B/series",
        before_kib,
        after_kib,
        per(grown) as u64,
    );
    println!(
        "head estimate: {:.0} B/series = chunks in memory {:.0} (encoded {:.0}, {:.2} B/sample, {} chunks, {} of them mmapped) \
         + chunk lists {:.0} + series structs {:.0} + symbols {:.0} + postings {:.0} + ooo {:.0}",
        per(fp.total_bytes()),
        per(fp.chunk_capacity_bytes),
        per(fp.chunk_bytes),
        fp.chunk_bytes as f64 / fp.chunk_samples.max(1) as f64,
        fp.chunks,
        fp.mmapped_chunks,
        per(fp.chunk_list_bytes),
        per(fp.series_struct_bytes),
        per(fp.symbol_bytes),
        per(fp.postings_bytes),
        per(fp.ooo_bytes),
    );
}

/// The heap as the program, the allocator and the kernel see it.
struct HeapState {
    anon_kib: u64,
    live_bytes: usize,
    live_allocs: usize,
    /// Highest live requested bytes since the previous read.
    peak_bytes: usize,
    malloc: Option<alloc_count::MallocInfo>,
}

impl HeapState {
    fn read() -> std::io::Result<Self> {
        let (live_bytes, live_allocs) = alloc_count::live();
        Ok(HeapState {
            peak_bytes: alloc_count::take_peak(),
            anon_kib: rss_split_kib()?.0,
            live_bytes,
            live_allocs,
            malloc: alloc_count::malloc_info(),
        })
    }
}

/// Splits the anonymous RSS growth: live requested bytes (what the head's estimate should
/// match), the allocator's headers and rounding (glibc: in use minus requested), free
/// memory it holds (glibc), and what a trim gives back.
fn report_heap(
    n: usize,
    before: &HeapState,
    after: &HeapState,
) -> Result<(), Box<dyn std::error::Error>> {
    let per = |b: i128| b as f64 / n.max(1) as f64;
    let live = after.live_bytes as i128 - before.live_bytes as i128;
    let allocs = after.live_allocs as i128 - before.live_allocs as i128;
    let anon = (i128::from(after.anon_kib) - i128::from(before.anon_kib)) * 1024;
    println!(
        "heap ({}): anon rss grown {:.0} B/series; live requested {:.0} B/series in {:.2} allocations/series, \
         peak {:.0} B/series while writing",
        alloc_count::INNER_NAME,
        per(anon),
        per(live),
        allocs as f64 / n.max(1) as f64,
        per(after.peak_bytes as i128 - before.live_bytes as i128),
    );
    if let (Some(b), Some(a)) = (before.malloc, after.malloc) {
        let in_use = i128::from(a.in_use + a.mmapped) - i128::from(b.in_use + b.mmapped);
        let free = i128::from(a.free_held) - i128::from(b.free_held);
        println!(
            "glibc malloc: in use {:.0} B/series (headers and rounding {:.0}), free held {:.0} B/series",
            per(in_use),
            per(in_use - live),
            per(free),
        );
    }
    let t = Instant::now();
    if alloc_count::trim() {
        // How long the trim held the allocator: what a periodic trim in a server costs.
        let trim_ms = t.elapsed().as_secs_f64() * 1e3;
        let anon_trimmed = (i128::from(rss_split_kib()?.0) - i128::from(before.anon_kib)) * 1024;
        println!(
            "after the allocator's trim ({}, {trim_ms:.1} ms): anon rss grown {:.0} B/series",
            if alloc_count::INNER_NAME == "system" {
                "malloc_trim"
            } else {
                "mi_collect"
            },
            per(anon_trimmed)
        );
    }
    if alloc_count::trim_forced() {
        let anon_forced = (i128::from(rss_split_kib()?.0) - i128::from(before.anon_kib)) * 1024;
        println!(
            "after mi_collect(true): anon rss grown {:.0} B/series (transparent huge pages {} KiB)",
            per(anon_forced),
            anon_huge_kib()?
        );
        report_size_classes(n);
    }
    Ok(())
}

/// mimalloc's size classes by the bytes their pages commit beyond their live blocks: the
/// allocator's part of RSS, and which objects' sizes it sits with.
fn report_size_classes(n: usize) {
    let mut classes = alloc_count::size_classes();
    let committed: usize = classes.iter().map(|c| c.committed).sum();
    let used: usize = classes.iter().map(|c| c.used_bytes).sum();
    let per = |b: usize| b as f64 / n.max(1) as f64;
    println!(
        "mimalloc pages: committed {:.0} B/series, in live blocks {:.0} B/series",
        per(committed),
        per(used)
    );
    classes.sort_by_key(|c| std::cmp::Reverse(c.committed.saturating_sub(c.used_bytes)));
    for c in classes.iter().take(12) {
        println!(
            "  blocks of {:>7} B: {:>6} pages, committed {:>6.0} B/series, used {:>6.0} B/series ({:.0} %)",
            c.block_size,
            c.pages,
            per(c.committed),
            per(c.used_bytes),
            100.0 * c.used_bytes as f64 / c.committed.max(1) as f64
        );
    }
}

/// `AnonHugePages` of this process, in KiB.
fn anon_huge_kib() -> std::io::Result<u64> {
    let s = std::fs::read_to_string("/proc/self/smaps_rollup")?;
    Ok(s.lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0))
}

/// Opens `dir`, which replays its WAL, and reports how long that took.
fn reopen(dir: &Path, rss_before_kib: u64) -> Result<(), Box<dyn std::error::Error>> {
    let wal_bytes = dir_bytes(&dir.join("wal"))?;
    let chunk_bytes = dir_bytes(&dir.join("chunks_head"))?;
    let started = Instant::now();
    let db = Db::open(dir, options())?;
    let secs = started.elapsed().as_secs_f64();
    let fp = db.head_footprint();
    let rss = vsz_rss_kib()?.1;
    let (anon, file) = rss_split_kib()?;
    println!(
        "replay: {:.2} s for {} series: {} chunks from {} bytes of chunk-head segments, \
         {} samples in open chunks from {} bytes of WAL; rss {} -> {} KiB (anon {anon}, file {file})",
        secs,
        fp.series,
        fp.mmapped_chunks,
        chunk_bytes,
        fp.chunk_samples,
        wal_bytes,
        rss_before_kib,
        rss
    );
    Ok(())
}

fn dir_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut n = 0;
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let md = e.metadata()?;
        n += if md.is_dir() {
            dir_bytes(&e.path())?
        } else {
            md.len()
        };
    }
    Ok(n)
}

fn settled_rss(settle_secs: u64) -> std::io::Result<u64> {
    std::thread::sleep(Duration::from_secs(settle_secs));
    Ok(vsz_rss_kib()?.1)
}

/// `RssAnon` and `RssFile` of this process, in KiB: heap versus mapped file pages.
fn rss_split_kib() -> std::io::Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Ok((field("RssAnon:"), field("RssFile:")))
}

/// `VmSize` and `VmRSS` of this process, in KiB.
fn vsz_rss_kib() -> std::io::Result<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Ok((field("VmSize:"), field("VmRSS:")))
}
