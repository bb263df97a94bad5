//! Throughput of `decode_write_request` on a request shaped like Prometheus's: 2000 series
//! of one sample each, ten labels, label values shared across series as in real targets.
//!
//! `cargo bench -p tianshu-ingest --bench decode` (no harness: prints one line per case).
//! With `DECODE_BENCH_ITERS=N` each case runs exactly N times instead of for 3 s, so that
//! `perf stat` instruction counts compare runs on a busy machine.

use std::hint::black_box;
use std::time::{Duration, Instant};

use prost::Message;
use tianshu_ingest::proto::{Label, Sample, TimeSeries, WriteRequest};
use tianshu_ingest::{decode_write_request, IngestConfig};

fn request(series: usize, samples_per_series: usize) -> WriteRequest {
    let timeseries = (0..series)
        .map(|i| {
            let mut labels = vec![
                Label::new("__name__", format!("metric_{}", i % 50)),
                Label::new("instance", format!("10.0.{}.{}:9100", i % 7, i % 20)),
                Label::new("job", "node"),
                Label::new("cluster", "prod-eu-1"),
                Label::new("namespace", format!("ns-{}", i % 5)),
                Label::new("pod", format!("pod-{i}")),
                Label::new("container", "app"),
                Label::new("cpu", format!("{}", i % 16)),
                Label::new("mode", ["idle", "user", "system"][i % 3]),
                Label::new("zone", "eu-1a"),
            ];
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            TimeSeries {
                labels,
                samples: (0..samples_per_series)
                    .map(|j| Sample {
                        value: (i * j) as f64,
                        timestamp: 1_700_000_000_000 + j as i64 * 1000,
                    })
                    .collect(),
                ..TimeSeries::default()
            }
        })
        .collect();
    WriteRequest {
        timeseries,
        metadata: vec![],
    }
}

fn bench(name: &str, req: &WriteRequest) {
    let raw = req.encode_to_vec();
    let body = snap::raw::Encoder::new().compress_vec(&raw).unwrap();
    let samples: usize = req.timeseries.iter().map(|t| t.samples.len()).sum();
    let cfg = IngestConfig::default();
    let fixed: Option<u32> = std::env::var("DECODE_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut iterations = 0u32;
    let started = Instant::now();
    while match fixed {
        Some(n) => iterations < n,
        None => started.elapsed() < Duration::from_secs(3),
    } {
        let d = decode_write_request(black_box(&body), &cfg).unwrap();
        black_box(d);
        iterations += 1;
    }
    let per = started.elapsed() / iterations;
    println!(
        "{name}: {} B compressed, {} B raw, {:?}/request, {:.1} M samples/s, {:.0} MB/s raw",
        body.len(),
        raw.len(),
        per,
        samples as f64 / per.as_secs_f64() / 1e6,
        raw.len() as f64 / per.as_secs_f64() / 1e6,
    );
}

fn main() {
    bench("2000 series x 1 sample", &request(2000, 1));
    bench("500 series x 20 samples", &request(500, 20));
}
