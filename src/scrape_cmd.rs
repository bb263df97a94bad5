//! `tianshu scrape`: the scraper role on its own. It runs the configuration's scrape jobs
//! (its shard of their targets), queues each scrape on disk and remote-writes it to the
//! ingest URL; it serves the scrape side of the API (`/api/v1/targets`, `/-/reload`) and
//! its own `/metrics`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;
use tianshu_ingest::remote_queue::{QueueOptions, RemoteWriteQueue};
use tianshu_ingest::scrape::remote_sink::RemoteWriteSink;
use tianshu_ingest::scrape::{ScrapeApi, ScrapeManager};

use crate::cli::ScrapeArgs;
use crate::metrics::{self, HttpMetrics, ProcessCollector};
use crate::server::{bind, reload_on_sighup, serve_until_signal, ServerError};

pub async fn run(args: ScrapeArgs) -> Result<(), ServerError> {
    let mut opts = QueueOptions::new(args.remote_write_url.clone());
    opts.fsync = args.queue_fsync;
    let queue = RemoteWriteQueue::open(&args.queue_dir, opts)?;
    let sink = Arc::new(RemoteWriteSink::new(queue));
    let manager =
        ScrapeManager::start_sharded(sink.clone(), Some(args.config_file.clone()), args.shard)?;
    reload_on_sighup(&manager);

    let mut registry = Registry::default();
    let http_metrics = HttpMetrics::new(&mut registry);
    registry.register_collector(Box::new(ProcessCollector::new()));
    registry.register_collector(Box::new(QueueCollector(sink)));
    tianshu_ingest::scrape::metrics::register(&mut registry);
    let registry = Arc::new(registry);

    let app = Router::new()
        .route(
            "/-/healthy",
            get(|| async { "Tianshu scraper is Healthy.\n" }),
        )
        .route("/-/ready", get(|| async { "Tianshu scraper is Ready.\n" }))
        .route("/metrics", get(metrics::serve_metrics))
        .with_state(registry)
        // The scrape API answers from the middleware; paths it does not own end here.
        .fallback(|| async { (StatusCode::NOT_FOUND, "404 page not found\n") })
        .layer(axum::middleware::from_fn_with_state(
            ScrapeApi::new(manager.clone(), args.enable_lifecycle),
            tianshu_ingest::scrape::api::serve,
        ))
        .layer(axum::middleware::from_fn_with_state(
            http_metrics,
            metrics::track_requests,
        ));
    let listener = bind(args.listen).await?;
    tracing::info!(
        listen = %args.listen,
        shard = %args.shard,
        remote_write = %args.remote_write_url,
        "Tianshu scraper is ready"
    );
    serve_until_signal(listener, app).await?;
    manager.stop();
    tracing::info!("scraper shut down; unsent samples stay queued on disk");
    Ok(())
}

/// The queue's figures, read when `/metrics` is scraped.
struct QueueCollector(Arc<RemoteWriteSink>);

impl std::fmt::Debug for QueueCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueueCollector")
    }
}

impl Collector for QueueCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let q = self.0.queue();
        ConstGauge::new(q.pending_bytes() as i64).encode(encoder.encode_descriptor(
            "tianshu_remote_write_queue_pending_bytes",
            "Bytes of scraped samples queued on disk and not yet acknowledged by the receiver",
            None,
            MetricType::Gauge,
        )?)?;
        let s = q.stats();
        for (name, help, v) in [
            (
                "tianshu_remote_write_delivered_requests",
                "Queued requests the receiver acknowledged",
                s.delivered.load(Ordering::Relaxed),
            ),
            (
                "tianshu_remote_write_refused_requests",
                "Queued requests the receiver refused for good (4xx other than 429); their samples are lost",
                s.refused.load(Ordering::Relaxed),
            ),
            (
                "tianshu_remote_write_retries",
                "Sends that failed and were tried again",
                s.retries.load(Ordering::Relaxed),
            ),
        ] {
            ConstCounter::new(v).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)?;
        }
        Ok(())
    }
}
