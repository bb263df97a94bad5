//! `MemPostings::select` on the workload's 10k series: intersections of equality matchers,
//! unions from regex alternations, and negative matchers.
//!
//! `cargo bench -p tianshu-bench --bench postings`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tianshu_bench::fixtures::tsdb_labels;
use tianshu_bench::workload::Workload;
use tianshu_tsdb::index::MemPostings;
use tianshu_tsdb::{MatchOp, Matcher};

fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).expect("benchmark matchers are valid")
}

fn postings(c: &mut Criterion) {
    let w = Workload::generate(10_000, 1, 1, 1_700_000_000_000);
    let mut p = MemPostings::new();
    for (id, labels) in tsdb_labels(&w).iter().enumerate() {
        p.add(id as u32, labels);
    }
    let cases: Vec<(&str, Vec<Matcher>)> = vec![
        (
            "intersect name+namespace",
            vec![
                m(
                    MatchOp::Equal,
                    "__name__",
                    "container_cpu_usage_seconds_total",
                ),
                m(MatchOp::Equal, "namespace", "default"),
            ],
        ),
        (
            "intersect name+namespace+container",
            vec![
                m(
                    MatchOp::Equal,
                    "__name__",
                    "container_memory_working_set_bytes",
                ),
                m(MatchOp::Equal, "namespace", "payments"),
                m(MatchOp::Equal, "container", "istio-proxy"),
            ],
        ),
        (
            "union namespace alternation",
            vec![
                m(MatchOp::Equal, "__name__", "kube_pod_status_phase"),
                m(
                    MatchOp::RegexMatch,
                    "namespace",
                    "default|payments|checkout|search",
                ),
            ],
        ),
        (
            "union name regex",
            vec![m(
                MatchOp::RegexMatch,
                "__name__",
                "container_.+|kube_pod_.+",
            )],
        ),
        (
            "negative",
            vec![
                m(
                    MatchOp::Equal,
                    "__name__",
                    "container_cpu_usage_seconds_total",
                ),
                m(MatchOp::RegexNoMatch, "container", "istio-.*"),
                m(MatchOp::NotEqual, "namespace", "kube-system"),
            ],
        ),
    ];
    let mut group = c.benchmark_group("mem_postings_select");
    for (name, matchers) in &cases {
        group.bench_function(*name, |b| b.iter(|| black_box(p.select(matchers))));
    }
    group.finish();
}

criterion_group!(benches, postings);
criterion_main!(benches);
