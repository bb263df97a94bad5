//! One PromQL query over the workload, repeated, for a profiler: the storage is filled
//! first, then only the queries run, so `valgrind --tool=callgrind
//! --toggle-collect='*Engine::range_query*'` (or `instant_query`) counts the engine alone.
//!
//! ```sh
//! cargo build --release -p tianshu-bench --example promql_profile
//! taskset -c 0 valgrind --tool=callgrind --toggle-collect='*Engine::range_query*' \
//!     target/release/examples/promql_profile 2000 15 3 'sum by (node) (rate(container_cpu_usage_seconds_total[1m]))'
//! ```
//!
//! Arguments: series, step in seconds (0 = instant query at the end), repetitions, then
//! one or more queries: PromQL text or the name of a benchmark query (`benches/src/
//! queries.rs`, e.g. `'sum by rate'`), or `all` for every benchmark query. With
//! `--dump-after='*Engine::range_query'` callgrind writes one profile per call, so one
//! run (one fill) counts every query separately; `callgrind_annotate` each dump.
//! `taskset -c 0` keeps the engine on one thread, so every instruction is on the
//! profiled call stack. `PROFILE_END_MS=<unix ms>` fixes the workload's end (otherwise
//! now), so that two builds profiled with the same value see the same data and answers.

use tianshu_bench::fixtures::{append_batches, profile_end_ms};
use tianshu_bench::queries::{Times, QUERIES};
use tianshu_bench::workload::Workload;
use tianshu_query::engine::{QueryOptions, Value};
use tianshu_query::{Engine, EngineOptions};
use tianshu_tsdb::{Db, DbOptions, FsyncPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: promql_profile SERIES STEP_S REPS QUERY...";
    let series: usize = args.get(1).ok_or(usage)?.parse()?;
    let step_s: i64 = args.get(2).ok_or(usage)?.parse()?;
    let reps: usize = args.get(3).ok_or(usage)?.parse()?;
    let mut queries: Vec<&str> = Vec::new();
    for a in args.get(4..).unwrap_or_default() {
        match QUERIES.iter().find(|q| q.name == a) {
            Some(q) => queries.push(q.expr),
            None if a == "all" => queries.extend(QUERIES.iter().map(|q| q.expr)),
            None => queries.push(a),
        }
    }
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
    let engine = Engine::new(EngineOptions::default());
    let opts = QueryOptions::default();
    let times = Times::for_workload(&w);
    for query in queries {
        let started = std::time::Instant::now();
        let points = run(&engine, &db, query, step_s, reps, &times, &opts)?;
        println!(
            "{points} points: {query}: {:.3} ms each",
            started.elapsed().as_secs_f64() * 1000.0 / reps.max(1) as f64
        );
    }
    Ok(())
}

/// Runs `query` `reps` times; returns how many points (or samples) the last answer held.
fn run(
    engine: &Engine,
    db: &Db,
    query: &str,
    step_s: i64,
    reps: usize,
    times: &Times,
    opts: &QueryOptions,
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut points = 0;
    for _ in 0..reps {
        let r = if step_s == 0 {
            engine.instant_query(db, query, times.end_ms, opts)?
        } else {
            engine.range_query(db, query, times.start_ms, times.end_ms, step_s * 1000, opts)?
        };
        points = match r.value {
            Value::Matrix(m) => m.iter().map(|s| s.samples.len()).sum(),
            Value::Vector(v) => v.len(),
            _ => 1,
        };
    }
    Ok(points)
}
