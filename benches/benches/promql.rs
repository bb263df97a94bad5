//! PromQL `rate` and `sum by` range queries over many series: `Engine::range_query` on a
//! `Db` in a temporary directory holding 2000 workload series × 10 minutes.
//!
//! `cargo bench -p tianshu-bench --bench promql`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tianshu_bench::fixtures::{append_batches, now_ms};
use tianshu_bench::workload::Workload;
use tianshu_query::engine::QueryOptions;
use tianshu_query::{Engine, EngineOptions};
use tianshu_tsdb::{Db, DbOptions, FsyncPolicy};

fn promql(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = Db::open(
        dir.path(),
        DbOptions {
            wal_fsync: FsyncPolicy::Never,
            ..DbOptions::default()
        },
    )
    .expect("opening a Db in a fresh directory");
    // Timestamps end now: the Db refuses samples far behind the present.
    let w = Workload::generate(2_000, 600, 1, now_ms());
    for batch in append_batches(&w) {
        db.append(&batch).expect("appending the workload");
    }
    let engine = Engine::new(EngineOptions::default());
    let opts = QueryOptions::default();
    let (start, end) = (w.start_ms + 60_000, w.end_ms());
    let cases = [
        ("rate", "rate(node_cpu_seconds_total[1m])"),
        (
            "rate containers",
            "rate(container_cpu_usage_seconds_total[1m])",
        ),
        (
            "sum by namespace",
            "sum by (namespace) (container_memory_working_set_bytes)",
        ),
        (
            "sum by rate",
            "sum by (node) (rate(container_cpu_usage_seconds_total[1m]))",
        ),
        (
            "histogram_quantile",
            "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))",
        ),
    ];
    for step_s in [15i64, 1] {
        let mut group = c.benchmark_group(format!("range_query_step_{step_s}s"));
        group.sample_size(10);
        for (name, q) in cases {
            group.bench_function(name, |b| {
                b.iter(|| {
                    black_box(
                        engine
                            .range_query(&db, q, start, end, step_s * 1000, &opts)
                            .expect("benchmark queries evaluate"),
                    )
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, promql);
criterion_main!(benches);
