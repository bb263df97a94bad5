//! Gorilla XOR chunk append and iteration on 1-second data (counters and gauges from the
//! workload), at Prometheus's 120 samples and at an hour's 3600.
//!
//! `cargo bench -p tianshu-bench --bench chunk`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use tianshu_bench::workload::Workload;
use tianshu_tsdb::chunk::XorChunk;

/// (timestamp, value) of a counter and of a gauge of the workload, `n` seconds each.
fn series(n: u32) -> Vec<(&'static str, Vec<(i64, f64)>)> {
    let w = Workload::generate(400, n, 1, 1_700_000_000_000);
    let counter = 6; // node_cpu_seconds_total{mode="system"} of the first node
    let gauge = w
        .series
        .iter()
        .position(|s| s.labels[0].1 == "container_memory_working_set_bytes")
        .expect("the workload has a gauge");
    let mut values = w.values();
    let mut v = Vec::new();
    let (mut c, mut g) = (Vec::new(), Vec::new());
    for s in 0..n {
        values.next_second(&mut v);
        let t = w.start_ms + s as i64 * 1000;
        c.push((t, v[counter]));
        g.push((t, v[gauge]));
    }
    vec![("counter", c), ("gauge", g)]
}

fn chunk(c: &mut Criterion) {
    for n in [120u32, 3600] {
        for (kind, samples) in series(n) {
            let mut group = c.benchmark_group(format!("xor_chunk/{kind}"));
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new("append", n), &samples, |b, s| {
                b.iter(|| {
                    let mut ch = XorChunk::new();
                    for &(t, v) in s {
                        ch.append(t, v);
                    }
                    black_box(ch)
                })
            });
            let mut ch = XorChunk::new();
            for &(t, v) in &samples {
                ch.append(t, v);
            }
            // Size is part of the result: disk and head memory follow from it.
            eprintln!(
                "xor_chunk/{kind}/{n}: {:.3} bytes/sample",
                ch.size_bytes() as f64 / n as f64
            );
            group.bench_with_input(BenchmarkId::new("iterate", n), &ch, |b, ch| {
                b.iter(|| ch.iter().fold(0.0, |acc, s| acc + s.v))
            });
            group.finish();
        }
    }
}

criterion_group!(benches, chunk);
criterion_main!(benches);
