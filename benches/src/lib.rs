//! Benchmark harness: runs Tianshu, Prometheus and VictoriaMetrics one after the other on
//! the same pre-encoded remote-write workload and reports ingest, CPU, memory, disk, query
//! latency and freshness side by side. See `benches/README.md`.

pub mod alloc_count;
pub mod ceiling;
pub mod encode;
pub mod fixtures;
pub mod freshness;
pub mod http;
pub mod measure;
pub mod queries;
pub mod report;
pub mod run;
pub mod scrape_run;
pub mod scrape_targets;
pub mod send;
pub mod systems;
pub mod workload;
