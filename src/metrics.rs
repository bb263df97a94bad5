//! Tianshu's own `/metrics`: HTTP requests by handler and code, storage gauges read at
//! scrape time, and process figures, next to the metrics the crates register.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tianshu_tsdb::Db;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub handler: String,
    pub code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HandlerLabels {
    pub handler: String,
}

/// HTTP request metrics, recorded by [`track_requests`] for every route.
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<HandlerLabels, Histogram>,
}

impl HttpMetrics {
    pub fn new(registry: &mut Registry) -> Arc<Self> {
        let m = HttpMetrics {
            requests: Family::default(),
            durations: Family::new_with_constructor(|| {
                // 100 µs .. ~100 s: dashboards at 1 s need the low end resolved.
                Histogram::new(exponential_buckets(0.0001, 4.0, 11))
            }),
        };
        registry.register(
            "tianshu_http_requests",
            "HTTP requests by handler (route) and status code",
            m.requests.clone(),
        );
        registry.register(
            "tianshu_http_request_duration_seconds",
            "HTTP request latencies by handler (route)",
            m.durations.clone(),
        );
        Arc::new(m)
    }
}

/// Middleware: counts and times each request under its route pattern, never the raw
/// path, so that label values stay bounded.
pub async fn track_requests(
    State(m): State<Arc<HttpMetrics>>,
    req: Request,
    next: Next,
) -> Response {
    let handler = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_string(), |p| p.as_str().to_string());
    let start = Instant::now();
    let resp = next.run(req).await;
    m.durations
        .get_or_create(&HandlerLabels {
            handler: handler.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&RequestLabels {
            handler,
            code: resp.status().as_u16().to_string(),
        })
        .inc();
    resp
}

/// Storage figures read from the database at scrape time.
pub struct DbCollector(pub Arc<Db>);

impl std::fmt::Debug for DbCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DbCollector({})", self.0.dir().display())
    }
}

impl Collector for DbCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = self.0.stats();
        let gauges: [(&str, &str, i64); 6] = [
            (
                "tianshu_tsdb_blocks_loaded",
                "Persisted blocks being served",
                s.num_blocks as i64,
            ),
            (
                "tianshu_tsdb_blocks_size_bytes",
                "Bytes in persisted blocks",
                s.blocks_bytes as i64,
            ),
            (
                "tianshu_tsdb_head_series",
                "Series in the head (active series)",
                s.num_series as i64,
            ),
            (
                "tianshu_tsdb_wal_size_bytes",
                "Bytes in WAL segment files",
                s.wal_bytes as i64,
            ),
            (
                "tianshu_tsdb_head_chunk_segments",
                "Chunk-head segment files holding the head's full chunks",
                s.head_chunk_segments as i64,
            ),
            (
                "tianshu_tsdb_head_chunk_segments_size_bytes",
                "Bytes in use in chunk-head segment files",
                s.head_chunk_segment_bytes as i64,
            ),
        ];
        for (name, help, v) in gauges {
            ConstGauge::new(v).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?)?;
        }
        ConstCounter::new(s.samples_appended_total).encode(encoder.encode_descriptor(
            "tianshu_tsdb_head_samples_appended",
            "Samples appended to the head",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?)?;
        for (name, help, t) in [
            (
                "tianshu_tsdb_head_min_time_seconds",
                "Oldest sample timestamp in the head",
                s.head_min_time,
            ),
            (
                "tianshu_tsdb_head_max_time_seconds",
                "Newest sample timestamp in the head",
                s.head_max_time,
            ),
        ] {
            if let Some(t) = t {
                ConstGauge::new(t as f64 / 1000.0).encode(encoder.encode_descriptor(
                    name,
                    help,
                    None,
                    prometheus_client::metrics::MetricType::Gauge,
                )?)?;
            }
        }
        Ok(())
    }
}

/// Process figures Prometheus's client libraries export, read from `/proc/self`.
#[derive(Debug)]
pub struct ProcessCollector {
    start_time_seconds: f64,
}

impl ProcessCollector {
    pub fn new() -> Self {
        let start_time_seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        ProcessCollector { start_time_seconds }
    }
}

/// Reads (utime + stime in seconds, resident bytes) from procfs; `None` off Linux.
fn read_proc_stat() -> Option<(f64, u64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name, which may itself contain spaces.
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks_per_s = 100.0; // USER_HZ, fixed at 100 on Linux ABIs.
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    let rss_pages: u64 = f.get(21)?.parse().ok()?;
    Some(((utime + stime) / ticks_per_s, rss_pages * 4096))
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        use prometheus_client::metrics::MetricType;
        if let Some((cpu, rss)) = read_proc_stat() {
            ConstCounter::new(cpu).encode(encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds",
                None,
                MetricType::Counter,
            )?)?;
            ConstGauge::new(rss as i64).encode(encoder.encode_descriptor(
                "process_resident_memory_bytes",
                "Resident memory size in bytes",
                None,
                MetricType::Gauge,
            )?)?;
        }
        ConstGauge::new(self.start_time_seconds).encode(encoder.encode_descriptor(
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds",
            None,
            MetricType::Gauge,
        )?)?;
        Ok(())
    }
}

/// `GET /metrics`: the registry in Prometheus's text exposition format.
pub async fn serve_metrics(State(registry): State<Arc<Registry>>) -> Response {
    let mut body = String::new();
    match prometheus_client::encoding::text::encode(&mut body, &registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "encoding /metrics failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
