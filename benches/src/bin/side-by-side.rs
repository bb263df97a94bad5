//! `side-by-side`: the benchmark of Tianshu against Prometheus and VictoriaMetrics.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tianshu_bench::run::{run, write_outputs, Config};
use tianshu_bench::systems::System;

#[derive(Parser, Debug)]
#[command(
    about = "Runs Tianshu, Prometheus and VictoriaMetrics one after the other on the same workload"
)]
struct Args {
    /// Series to write (whole nodes and pods, so the count may be a little lower).
    #[arg(long, default_value_t = 10_000)]
    series: usize,
    /// Seconds of history at 1 s resolution, ending now.
    #[arg(long = "duration-secs", default_value_t = 600)]
    duration_secs: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Keep-alive connections the writes are spread over.
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Repetitions of each timed query.
    #[arg(long = "query-reps", default_value_t = 10)]
    query_reps: usize,
    #[arg(long = "freshness-probes", default_value_t = 20)]
    freshness_probes: usize,
    /// Seconds to wait after ingest before steady RSS is taken.
    #[arg(long = "settle-secs", default_value_t = 10)]
    settle_secs: u64,
    /// Tianshu's `--wal.fsync` policy (Prometheus and VictoriaMetrics do not fsync per write).
    #[arg(long = "tianshu-fsync", default_value = "1s")]
    tianshu_fsync: String,
    /// Only these systems (comma-separated: tianshu, prometheus, victoria-metrics).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Tiny run (50 series × 60 s, 2 query reps): checks the harness and the answers.
    #[arg(long)]
    smoke: bool,
    /// Where report.json, report.md and the servers' logs go.
    #[arg(long, default_value = "target/bench-side-by-side")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let mut cfg = if args.smoke {
        Config::smoke(args.out.clone(), workspace)
    } else {
        Config {
            series: args.series,
            duration_secs: args.duration_secs,
            seed: args.seed,
            connections: args.connections,
            query_reps: args.query_reps,
            freshness_probes: args.freshness_probes,
            settle: Duration::from_secs(args.settle_secs),
            smoke: false,
            tianshu_fsync: args.tianshu_fsync.clone(),
            out: args.out.clone(),
            workspace,
            systems: System::ALL.to_vec(),
        }
    };
    if !args.only.is_empty() {
        cfg.systems
            .retain(|s| args.only.iter().any(|o| o == s.slug()));
    }
    let report = match run(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("side-by-side: {e}");
            return ExitCode::FAILURE;
        }
    };
    match write_outputs(&report, &cfg.out) {
        Ok((json, md)) => {
            println!("{}", report.markdown());
            eprintln!("wrote {} and {}", json.display(), md.display());
        }
        Err(e) => {
            eprintln!("side-by-side: {e}");
            return ExitCode::FAILURE;
        }
    }
    if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "side-by-side: {} problem(s); see the report",
            report.problems.len()
        );
        ExitCode::FAILURE
    }
}
