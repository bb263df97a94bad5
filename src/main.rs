//! The `tianshu` binary: flags, logging, and the wiring of every role into one process.

mod cli;
mod malloc_trim;
mod metrics;
mod scrape_cmd;
mod self_scrape;
mod server;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

// The system allocator, on purpose. mimalloc halved RSS per series at 1 M series in the
// footprint bench (glibc keeps the write path's peak), but the side-by-side run at 10 k
// series gave 9.9 KB per series against glibc's 3.8 KB, a 20 MiB idle process against
// 10 MiB, and slower queries: its per-thread heaps cost more than they save at the
// sizes most servers run. See benches/README.md, "Which allocator the binary uses".

fn main() -> ExitCode {
    let args = cli::Args::parse();
    let filter = match EnvFilter::try_new(&args.log_level) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("invalid --log.level {:?}: {e}", args.log_level);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("tianshu")
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let res = match args.command.clone() {
        Some(cli::Command::Scrape(scrape)) => runtime.block_on(scrape_cmd::run(scrape)),
        None => runtime.block_on(server::run(args)),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "tianshu stopped");
            ExitCode::FAILURE
        }
    }
}
