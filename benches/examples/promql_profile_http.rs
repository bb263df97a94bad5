//! The benchmark's queries as whole HTTP requests, repeated, for a profiler: the storage is
//! filled first, then the API is served on loopback and the side-by-side harness's client
//! sends each query `REPS` times, asking for gzip as it does. Everything the benchmark
//! times is in the process: routing, parameter parsing, PromQL parsing, evaluation, JSON
//! encoding, compression, the client's decompression.
//!
//! Once filled, and each query sent once, the process prints `ready` and waits for a line
//! on stdin, so that a profiler can start counting only then; after the last request it
//! prints `done` and waits again, so that it can stop before the database closes:
//!
//! ```sh
//! cargo build --release -p tianshu-bench --example promql_profile_http
//! valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=cg.out \
//!     target/release/examples/promql_profile_http 10000 15 5 'sum by rate' &
//! # after `ready`:
//! callgrind_control -i on; echo > /proc/$PID/fd/0   # or type Enter
//! # after `done`:
//! callgrind_control -i off; echo > /proc/$PID/fd/0
//! ```
//!
//! Arguments: series, step in seconds (0 = instant query), repetitions, and the names of
//! benchmark queries (`benches/src/queries.rs`) or `all`. With `--no-wait` it starts at
//! once (for `perf record`). `PROFILE_END_MS=<unix ms>` fixes the workload's end (otherwise
//! now), so that two builds profiled with the same value see the same data and answers.
//! `--gap-ms N` sleeps N ms between requests, outside the timing, as the interleaved
//! side-by-side run leaves the server idle while the other systems answer: what a request
//! costs a server that was not just busy with the same query (threads parked, caches cold).

use std::io::BufRead;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tianshu_bench::fixtures::{append_batches, profile_end_ms};
use tianshu_bench::http::agent;
use tianshu_bench::measure::median_p90;
use tianshu_bench::queries::{run, Mode, Times, QUERIES};
use tianshu_bench::workload::Workload;
use tianshu_query::http::{router, ApiState, BuildInfo};
use tianshu_query::{Engine, EngineOptions};
use tianshu_tsdb::{Db, DbOptions, FsyncPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let no_wait = args.iter().any(|a| a == "--no-wait");
    args.retain(|a| a != "--no-wait");
    let usage =
        "usage: promql_profile_http [--no-wait] [--gap-ms N] SERIES STEP_S REPS QUERY_NAME...|all";
    let gap = match args.iter().position(|a| a == "--gap-ms") {
        Some(i) => {
            let ms: u64 = args.get(i + 1).ok_or(usage)?.parse()?;
            args.drain(i..i + 2);
            Duration::from_millis(ms)
        }
        None => Duration::ZERO,
    };
    let series: usize = args.first().ok_or(usage)?.parse()?;
    let step_s: i64 = args.get(1).ok_or(usage)?.parse()?;
    let reps: usize = args.get(2).ok_or(usage)?.parse()?;
    let names = &args[3.min(args.len())..];
    let mode = match step_s {
        0 => Mode::Instant,
        1 => Mode::Range1s,
        15 => Mode::Range15s,
        _ => return Err("step must be 0, 1 or 15 (the benchmark's modes)".into()),
    };
    let queries: Vec<_> = QUERIES
        .iter()
        .filter(|q| names.iter().any(|n| n == "all" || n == q.name))
        .collect();
    if queries.is_empty() {
        return Err(usage.into());
    }

    let dir = tempfile::tempdir()?;
    let db = Db::open(
        dir.path(),
        DbOptions {
            wal_fsync: FsyncPolicy::Never,
            ..DbOptions::default()
        },
    )?;
    let w = Workload::generate(series, 600, 1, profile_end_ms()?);
    for batch in append_batches(&w) {
        db.append(&batch)?;
    }
    let times = Times::for_workload(&w);
    let state = ApiState::new(
        Arc::new(db),
        Arc::new(Engine::new(EngineOptions::default())),
        BuildInfo::default(),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let base = format!("http://{}", listener.local_addr()?);
    rt.spawn(async move { axum::serve(listener, router(state)).await });

    let client = agent(Duration::from_secs(120));
    // One request per query before counting, as the benchmark checks every answer before
    // it times any: one-time work (the blocking pool's threads, the connection) stays out.
    for q in &queries {
        run(&client, &base, q.expr, mode, &times)?;
    }
    if !no_wait {
        println!("ready");
        wait_for_line()?;
    }
    for q in &queries {
        let mut bytes = 0;
        let mut ms = Vec::with_capacity(reps);
        for _ in 0..reps {
            if !gap.is_zero() {
                std::thread::sleep(gap);
            }
            let started = Instant::now();
            bytes = run(&client, &base, q.expr, mode, &times)?.len();
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        let (median, p90) = median_p90(&ms);
        println!(
            "{}: {} reps, {bytes} bytes, {:.2} ms each, median {median:.2}, p90 {p90:.2}",
            q.name,
            reps,
            ms.iter().sum::<f64>() / reps.max(1) as f64
        );
    }
    if !no_wait {
        // Closing the database afterwards finishes every open chunk, which costs more
        // than the requests; a profiler stops counting before the line that lets it go.
        println!("done");
        wait_for_line()?;
    }
    Ok(())
}

fn wait_for_line() -> std::io::Result<()> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(())
}
