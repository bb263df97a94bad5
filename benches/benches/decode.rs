//! `decode_write_request` on the side-by-side workload's own bodies (2000 samples each,
//! snappy + protobuf + validation): the per-request cost behind the decode ceiling.
//!
//! `cargo bench -p tianshu-bench --bench decode`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tianshu_bench::encode::encode;
use tianshu_bench::workload::Workload;
use tianshu_ingest::{decode_write_request, IngestConfig};

fn decode(c: &mut Criterion) {
    let cfg = IngestConfig::default();
    // Many series (one sample each per request) and few series (a minute per request).
    for (name, series, secs) in [("10k series x 1s", 10_000, 4), ("50 series x 60s", 50, 60)] {
        let w = Workload::generate(series, secs, 1, 1_700_000_000_000);
        let payloads = encode(&w, 1);
        let body = &payloads[0].bodies[0];
        let samples = decode_write_request(body, &cfg)
            .expect("the workload decodes")
            .samples_received;
        let mut group = c.benchmark_group("decode_write_request");
        group.throughput(Throughput::Elements(samples));
        group.bench_function(name, |b| {
            b.iter(|| decode_write_request(body, &cfg).expect("the workload decodes"))
        });
        group.finish();
    }
}

criterion_group!(benches, decode);
criterion_main!(benches);
