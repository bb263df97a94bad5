//! `Matcher` regexes over label values: the workload's pod names (random suffixes) and
//! namespaces, through the fast paths (alternation, prefix, `.*`) and the regex engine.
//!
//! `cargo bench -p tianshu-bench --bench regex`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tianshu_bench::workload::Workload;
use tianshu_tsdb::{MatchOp, Matcher};

fn regex(c: &mut Criterion) {
    let w = Workload::generate(10_000, 1, 1, 1_700_000_000_000);
    let mut pods: Vec<&str> = w
        .series
        .iter()
        .filter_map(|s| s.labels.iter().find(|l| l.0 == "pod").map(|l| l.1.as_str()))
        .collect();
    pods.sort_unstable();
    pods.dedup();
    let cases = [
        ("alternation", "api-.*|web-.*|auth-.*"),
        ("prefix", "billing-.*"),
        ("match all", ".*"),
        ("suffix class", ".*-[0-9a-f]{4}0"),
        ("contains", ".*cache.*"),
        ("case-insensitive", "(?i)GATEWAY-.*"),
        (
            "set",
            "api-0000abcd-12345|web-deadbeef-00000|cron-00000000-00001",
        ),
    ];
    let mut group = c.benchmark_group("matcher_over_pod_values");
    group.throughput(Throughput::Elements(pods.len() as u64));
    for (name, re) in cases {
        let m = Matcher::new(MatchOp::RegexMatch, "pod", re).expect("benchmark regexes are valid");
        group.bench_function(name, |b| {
            b.iter(|| pods.iter().filter(|p| m.matches(black_box(p))).count())
        });
    }
    group.finish();
}

criterion_group!(benches, regex);
criterion_main!(benches);
