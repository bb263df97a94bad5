//! `disk`: bytes per sample of persisted blocks for the benchmark workload, before and
//! after compaction, measured on `tianshu_tsdb::Db` directly (no HTTP).
//!
//! Writes `--series` workload series (`workload.rs`) × `--hours` at 1 s into a fresh
//! database, cutting the head into 2 h blocks as it goes (as the background thread would)
//! and compacting closed 6 h windows. Every 2 h block is measured when cut, before
//! compaction merges it; the compacted blocks at the end. The data starts on a 6 h
//! boundary, so 8 h of data give three 2 h blocks merged into one 6 h block (the head
//! keeps the last 2 h, as it would in a running server).
//!
//! Bytes per sample count whole block directories (chunk segments, index, meta.json,
//! tombstones) and are split by file, by index section, by series kind, and within chunk
//! records into framing, timestamps and values. See `benches/README.md`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use tianshu_bench::fixtures::{append_all, column_batch, tsdb_labels};
use tianshu_bench::measure::memory;
use tianshu_bench::workload::{HistPart, Kind, Workload};
use tianshu_tsdb::block::{is_block_dir, Block, BlockFileSizes, SeriesChunkBytes};
use tianshu_tsdb::{Db, DbOptions, FsyncPolicy, Labels, MatchOp, Matcher, SeriesSamples};

const HOUR_MS: i64 = 60 * 60 * 1000;

#[derive(Parser, Debug)]
#[command(about = "Bytes per sample of Tianshu's blocks for the benchmark workload")]
struct Args {
    /// Series to write (whole nodes and pods, so the count may be a little lower).
    #[arg(long, default_value_t = 10_000)]
    series: usize,
    /// Hours of samples at 1 s; 8 gives one compacted 6 h block.
    #[arg(long, default_value_t = 8)]
    hours: u32,
    /// Seconds of one series' samples per write.
    #[arg(long = "batch-secs", default_value_t = 60)]
    batch_secs: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Parent of the database directory (a temporary directory is made in it).
    #[arg(long, default_value = "/tmp")]
    tmp: PathBuf,
    /// Keep the database directory and print its path.
    #[arg(long)]
    keep: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("disk: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What a series is, for the per-kind rows.
fn kind_name(k: &Kind) -> &'static str {
    match k {
        Kind::Counter { .. } => "counter",
        Kind::Gauge { .. } => "gauge",
        Kind::Constant(_) => "constant",
        Kind::Histogram {
            part: HistPart::Bucket(_),
            ..
        } => "histogram _bucket",
        Kind::Histogram {
            part: HistPart::Sum,
            ..
        } => "histogram _sum",
        Kind::Histogram {
            part: HistPart::Count,
            ..
        } => "histogram _count",
    }
}

/// Sums over the blocks of one stage (cut or compacted).
#[derive(Default)]
struct Stage {
    blocks: usize,
    samples: u64,
    files: BlockFileSizes,
    by_kind: BTreeMap<&'static str, SeriesChunkBytes>,
}

impl Stage {
    fn add(&mut self, b: &Block, kinds: &HashMap<Labels, &'static str>) -> Result<(), String> {
        let f = b.file_sizes().map_err(|e| e.to_string())?;
        self.blocks += 1;
        self.files.chunks += f.chunks;
        self.files.index += f.index;
        self.files.meta += f.meta;
        self.files.tombstones += f.tombstones;
        for (a, x) in self.files.index_sections.iter_mut().zip(f.index_sections) {
            *a += x;
        }
        for s in b.chunk_bytes().map_err(|e| e.to_string())? {
            let kind = kinds.get(&s.labels).copied().unwrap_or("other");
            self.samples += s.samples;
            let k = self.by_kind.entry(kind).or_default();
            k.chunks += s.chunks;
            k.samples += s.samples;
            k.framing += s.framing;
            k.headers += s.headers;
            k.timestamps += s.timestamps;
            k.values += s.values;
            k.xor += s.xor;
        }
        Ok(())
    }

    fn print(&self, title: &str, series_by_kind: &BTreeMap<&'static str, usize>) {
        let per = |b: u64| b as f64 / self.samples.max(1) as f64;
        println!(
            "\n{title}: {} block(s), {} samples, {:.3} B/sample (whole block dirs)",
            self.blocks,
            self.samples,
            per(self.files.total())
        );
        let [sym, ser, li, post] = self.files.index_sections;
        println!(
            "  files: chunks {:.3}, index {:.4} (symbols {:.4}, series {:.4}, label index {:.4}, postings {:.4}), meta {:.5}, tombstones {:.5}",
            per(self.files.chunks),
            per(self.files.index),
            per(sym),
            per(ser),
            per(li),
            per(post),
            per(self.files.meta),
            per(self.files.tombstones),
        );
        println!(
            "  {:<18} {:>7} {:>12} {:>9} {:>8} {:>8} {:>8} {:>8} {:>9}",
            "kind", "series", "samples", "B/sample", "ts", "values", "framing", "xor", "samp/chk"
        );
        let mut all = SeriesChunkBytes::default();
        for (kind, k) in &self.by_kind {
            print_kind(kind, series_by_kind.get(kind).copied().unwrap_or(0), k);
            all.chunks += k.chunks;
            all.samples += k.samples;
            all.framing += k.framing;
            all.headers += k.headers;
            all.timestamps += k.timestamps;
            all.values += k.values;
            all.xor += k.xor;
        }
        print_kind("all chunks", series_by_kind.values().sum(), &all);
    }
}

fn print_kind(kind: &str, series: usize, k: &SeriesChunkBytes) {
    let n = k.samples.max(1) as f64;
    let total = k.framing + k.headers + k.timestamps + k.values + k.xor;
    println!(
        "  {:<18} {:>7} {:>12} {:>9.3} {:>8.3} {:>8.3} {:>8.3} {:>8.3} {:>9.0}",
        kind,
        series,
        k.samples,
        total as f64 / n,
        k.timestamps as f64 / n,
        k.values as f64 / n,
        (k.framing + k.headers) as f64 / n,
        k.xor as f64 / n,
        k.samples as f64 / k.chunks.max(1) as f64,
    );
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let tmp = tempfile::Builder::new()
        .prefix("tianshu-disk-")
        .tempdir_in(&args.tmp)?;
    let dir = tmp.path().to_path_buf();
    let secs = args.hours.max(1) * 3600;
    // Samples start half a second after a 6 h boundary (see `Workload::generate`).
    let six_h = 6 * HOUR_MS;
    let base = 1_700_000_000_000i64.div_euclid(six_h) * six_h;
    let w = Workload::generate(args.series, secs, args.seed, base + i64::from(secs) * 1000);
    let n = w.series.len();
    let labels: Vec<Labels> = tsdb_labels(&w);
    let kinds: HashMap<Labels, &'static str> = labels
        .iter()
        .zip(&w.series)
        .map(|(l, s)| (l.clone(), kind_name(&s.kind)))
        .collect();
    let mut series_by_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
    for s in &w.series {
        *series_by_kind.entry(kind_name(&s.kind)).or_default() += 1;
    }
    println!(
        "workload: {n} series x {secs} s = {} samples, seed {}",
        w.total_samples(),
        args.seed
    );

    let opts = DbOptions {
        wal_fsync: FsyncPolicy::Never,
        head_cut_interval: None,
        verify_blocks_on_open: false,
        retention_ms: None,
        ..DbOptions::default()
    };
    let db = Db::open(&dir, opts)?;
    let mut cut = Stage::default();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let started = Instant::now();
    let mut next_progress = Instant::now() + Duration::from_secs(30);
    let window = args.batch_secs.clamp(1, 1800) as usize;
    let mut values = w.values();
    let mut second = vec![0.0; n];
    let mut columns: Vec<Vec<f64>> = vec![Vec::with_capacity(window); n];
    let mut batch: Vec<SeriesSamples> = Vec::with_capacity(n);
    let total = secs as usize;
    let mut done = 0usize;
    let mut cut_secs = 0.0;
    let mut compact_secs = 0.0;
    // Most the resident set grew while a compaction ran, over all of them.
    let mut compact_peak = 0u64;
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
        column_batch(&labels, &columns, t0, &mut batch);
        append_all(&db, &batch)?;
        done += len;
        let t = Instant::now();
        if db.compact_head()? > 0 {
            cut_secs += t.elapsed().as_secs_f64();
            // Measure the new 2 h blocks before compaction merges them away.
            for d in block_dirs(&dir)? {
                if seen.insert(d.clone()) {
                    let b = Block::open(&d)?;
                    if b.meta().compaction.level == 1 {
                        cut.add(&b, &kinds)?;
                    }
                }
            }
            let before = reset_peak_rss();
            let t = Instant::now();
            if db.compact_blocks()? > 0 {
                compact_secs += t.elapsed().as_secs_f64();
                if let (Some(b), Some(m)) = (before, memory(std::process::id())) {
                    compact_peak = compact_peak.max(m.hwm.saturating_sub(b));
                }
            }
        }
        if Instant::now() >= next_progress {
            eprintln!("  written {done}/{total} s");
            next_progress = Instant::now() + Duration::from_secs(30);
        }
    }
    println!(
        "written in {:.1} s (cutting {:.1} s, compacting {:.1} s)",
        started.elapsed().as_secs_f64(),
        cut_secs,
        compact_secs
    );
    println!(
        "compaction: resident set at most {:.1} MiB above where it started",
        compact_peak as f64 / (1 << 20) as f64
    );
    let mut compacted = Stage::default();
    let mut decode = Vec::new();
    for d in block_dirs(&dir)? {
        let b = Block::open(&d)?;
        if b.meta().compaction.level > 1 {
            compacted.add(&b, &kinds)?;
            decode = select_speed(&b)?;
        }
    }
    cut.print("2 h blocks as cut from the head", &series_by_kind);
    if compacted.blocks > 0 {
        compacted.print("compacted blocks", &series_by_kind);
        for (what, samples, secs) in decode {
            println!(
                "  select {what}: {samples} samples in {secs:.3} s, {:.1} M samples/s",
                samples as f64 / secs.max(1e-9) / 1e6
            );
        }
    } else {
        println!("\nno compacted block: write at least 8 hours");
    }
    drop(db);
    if args.keep {
        println!("kept: {}", tmp.keep().display());
    }
    Ok(())
}

/// Resets this process's resident high-water mark to its current resident set (Linux's
/// `clear_refs` 5) and returns that; `None` where the kernel does not allow it.
fn reset_peak_rss() -> Option<u64> {
    std::fs::write("/proc/self/clear_refs", "5").ok()?;
    memory(std::process::id()).map(|m| m.rss)
}

/// Times `Block::select` of the block's first 30 minutes: every series, then the
/// histogram buckets alone. Best of three runs each.
/// What was selected, how many samples, best seconds.
type SelectSpeed = (&'static str, usize, f64);

fn select_speed(b: &Block) -> Result<Vec<SelectSpeed>, Box<dyn std::error::Error>> {
    let mint = b.meta().min_time;
    let maxt = mint + 30 * 60 * 1000 - 1;
    let mut out = Vec::new();
    for (what, name, value) in [
        ("all series, 30 min", "__name__", ".+"),
        (
            "_bucket series, 30 min",
            "__name__",
            "http_request_duration_seconds_bucket",
        ),
    ] {
        let m = Matcher::new(MatchOp::RegexMatch, name, value)?;
        let mut best = f64::MAX;
        let mut samples = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let got = b.select(std::slice::from_ref(&m), mint, maxt)?;
            best = best.min(t.elapsed().as_secs_f64());
            samples = got.iter().map(|s| s.samples.len()).sum();
        }
        out.push((what, samples, best));
    }
    Ok(out)
}

fn block_dirs(dir: &std::path::Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if is_block_dir(&p) {
            out.push(p);
        }
    }
    out.sort();
    Ok(out)
}
