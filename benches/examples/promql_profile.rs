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
//! Arguments: series, step in seconds (0 = instant query at the end), repetitions, query.
//! `taskset -c 0` keeps the engine on one thread, so every instruction is on the
//! profiled call stack.

use tianshu_bench::fixtures::{append_batches, now_ms};
use tianshu_bench::queries::Times;
use tianshu_bench::workload::Workload;
use tianshu_query::engine::{QueryOptions, Value};
use tianshu_query::{Engine, EngineOptions};
use tianshu_tsdb::{Db, DbOptions, FsyncPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: promql_profile SERIES STEP_S REPS QUERY";
    let series: usize = args.get(1).ok_or(usage)?.parse()?;
    let step_s: i64 = args.get(2).ok_or(usage)?.parse()?;
    let reps: usize = args.get(3).ok_or(usage)?.parse()?;
    let query = args.get(4).ok_or(usage)?;
    let dir = tempfile::tempdir()?;
    let db = Db::open(
        dir.path(),
        DbOptions {
            wal_fsync: FsyncPolicy::Never,
            ..DbOptions::default()
        },
    )?;
    let w = Workload::generate(series, 600, 1, now_ms());
    for batch in append_batches(&w) {
        db.append(&batch)?;
    }
    let engine = Engine::new(EngineOptions::default());
    let opts = QueryOptions::default();
    let times = Times::for_workload(&w);
    let mut points = 0;
    for _ in 0..reps {
        let r = if step_s == 0 {
            engine.instant_query(&db, query, times.end_ms, &opts)?
        } else {
            engine.range_query(
                &db,
                query,
                times.start_ms,
                times.end_ms,
                step_s * 1000,
                &opts,
            )?
        };
        points = match r.value {
            Value::Matrix(m) => m.iter().map(|s| s.samples.len()).sum(),
            Value::Vector(v) => v.len(),
            _ => 1,
        };
    }
    println!("{points} points");
    Ok(())
}
