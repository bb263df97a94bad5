//! Starting the embedded single-node server: open the database, build the routers of every
//! protocol, serve until SIGINT/SIGTERM.

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use prometheus_client::registry::Registry;
use tianshu_ingest::scrape::{DbSink, ScrapeApi, ScrapeManager};
use tianshu_ingest::{IngestConfig, IngestMetrics, IngestState, NameValidation};
use tianshu_query::http::{ActiveQueryLog, ApiState, BuildInfo};
use tianshu_query::{Engine, EngineOptions};
use tianshu_tsdb::{Db, DbOptions};

use crate::cli::{format_duration, Args};
use crate::metrics::{self, DbCollector, HttpMetrics, ProcessCollector};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot open the database: {0}")]
    Storage(#[from] tianshu_tsdb::Error),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("HTTP server failed: {0}")]
    Serve(std::io::Error),
    #[error("startup task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
    #[error("{0}")]
    Config(#[from] tianshu_ingest::scrape::ReloadError),
    #[error("cannot open the remote-write queue: {0}")]
    Queue(#[from] tianshu_ingest::remote_queue::QueueError),
}

pub async fn run(args: Args) -> Result<(), ServerError> {
    let block_ms = duration_ms(args.block_duration);
    let db_opts = DbOptions {
        wal_fsync: args.wal_fsync,
        wal_segment_size: args.wal_segment_size,
        ooo_window_ms: duration_ms(args.ooo_window),
        block_range_ms: block_ms,
        retention_ms: (!args.retention_time.is_zero()).then(|| duration_ms(args.retention_time)),
        retention_bytes: args.retention_size,
        compaction_ranges_ms: vec![block_ms.saturating_mul(3), block_ms.saturating_mul(12)],
        ..DbOptions::default()
    };
    let dir = args.data_dir.clone();
    tracing::info!(data_dir = %dir.display(), "opening database");
    let db = Arc::new(tokio::task::spawn_blocking(move || Db::open(&dir, db_opts)).await??);
    crate::malloc_trim::spawn();

    let mut registry = Registry::default();
    let http_metrics = HttpMetrics::new(&mut registry);
    registry.register_collector(Box::new(DbCollector(db.clone())));
    db.metrics().register(&mut registry);
    registry.register_collector(Box::new(ProcessCollector::new()));
    tianshu_ingest::scrape::metrics::register(&mut registry);

    let scrape = start_scraping(&args, db.clone())?;
    let app = build_router(&args, db.clone(), &mut registry, &scrape);
    // Middleware runs only for matched routes: `/-/reload` needs one for the scrape API
    // to answer it (the API serves the other scrape paths over the query router's).
    let app = app
        .route(
            "/-/reload",
            axum::routing::any(|| async { axum::http::StatusCode::NOT_FOUND }),
        )
        .layer(axum::middleware::from_fn_with_state(
            ScrapeApi::new(scrape.clone(), args.enable_lifecycle),
            tianshu_ingest::scrape::api::serve,
        ));
    let registry = Arc::new(registry);
    crate::self_scrape::spawn(
        registry.clone(),
        db.clone(),
        args.self_scrape_interval,
        crate::self_scrape::Target {
            job: args.self_scrape_job.clone(),
            instance: args.self_scrape_instance.clone(),
        },
    );
    let metrics_route = Router::new()
        .route("/metrics", get(metrics::serve_metrics))
        .with_state(registry);
    let app = app
        .merge(metrics_route)
        .layer(axum::middleware::from_fn_with_state(
            http_metrics,
            metrics::track_requests,
        ));

    let listener = bind(args.listen).await?;
    tracing::info!(listen = %args.listen, "Tianshu is ready");
    serve_until_signal(listener, app).await?;
    scrape.stop();
    tracing::info!("shut down; WAL closed");
    drop(db);
    Ok(())
}

pub(crate) async fn bind(
    addr: std::net::SocketAddr,
) -> Result<tokio::net::TcpListener, ServerError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Listen { addr, source })
}

/// Serves `app` until SIGINT or SIGTERM, letting requests in flight finish.
pub(crate) async fn serve_until_signal(
    listener: tokio::net::TcpListener,
    app: Router,
) -> Result<(), ServerError> {
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(ServerError::Serve)
}

/// Loads `--config` and starts its scrape jobs, writing into `db`; SIGHUP reloads the file.
fn start_scraping(args: &Args, db: Arc<Db>) -> Result<ScrapeManager, ServerError> {
    let manager = ScrapeManager::start(Arc::new(DbSink(db)), args.config_file.clone())?;
    reload_on_sighup(&manager);
    Ok(manager)
}

/// Reloads `manager`'s configuration file on every SIGHUP, as Prometheus does.
pub(crate) fn reload_on_sighup(manager: &ScrapeManager) {
    #[cfg(unix)]
    {
        let m = manager.clone();
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            Ok(mut hup) => {
                tokio::spawn(async move {
                    while hup.recv().await.is_some() {
                        let m = m.clone();
                        match tokio::task::spawn_blocking(move || m.reload()).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) => tracing::error!(error = %e, "Error reloading config"),
                            Err(e) => tracing::error!(error = %e, "Error reloading config"),
                        }
                    }
                });
            }
            Err(e) => tracing::error!(error = %e, "cannot listen for SIGHUP"),
        }
    }
}

/// The routers of every protocol, merged. Each crate owns its router; this is only wiring.
fn build_router(
    args: &Args,
    db: Arc<Db>,
    registry: &mut Registry,
    scrape: &ScrapeManager,
) -> Router {
    let ingest_metrics = Arc::new(IngestMetrics::new());
    ingest_metrics.register(registry);
    let ingest = tianshu_ingest::router(IngestState {
        db: db.clone(),
        config: IngestConfig {
            max_request_bytes: args.ingest_max_request_bytes,
            name_validation: if args.ingest_utf8_names {
                NameValidation::Utf8
            } else {
                NameValidation::Legacy
            },
            ..IngestConfig::default()
        },
        metrics: ingest_metrics,
    });

    let engine = Arc::new(Engine::new(EngineOptions {
        lookback_delta: args.query_lookback_delta,
        max_samples: args.query_max_samples,
        timeout: args.query_timeout,
        max_series: args.query_max_series,
        ..EngineOptions::default()
    }));
    let slots = args.query_max_concurrency as usize;
    let mut api = ApiState::new(db.clone(), engine.clone(), build_info())
        .with_max_concurrency(slots, open_active_query_log(args, slots));
    // Live panels take their evaluation slots from the API's, so that together they stay
    // within --query.max-concurrency, and are recorded in its queries.active. The built-in
    // overview selects the self-scrape's series by its labels.
    let ui = tianshu_heatmap_ui::router(tianshu_heatmap_ui::UiState::new(
        db,
        engine,
        tianshu_heatmap_ui::DashboardStore::new(args.dashboards_dir.clone()).with_self_scrape(
            &tianshu_heatmap_ui::dashboards::SelfScrape {
                job: args.self_scrape_job.clone(),
                instance: args.self_scrape_instance.clone(),
            },
        ),
        api.query_slots.clone(),
        api.active_queries.clone(),
    ));
    api.flags = args.as_flag_map();
    api.storage_retention = retention_text(args);
    api.enable_admin = args.enable_admin_api;
    let m = scrape.clone();
    api.config_status = Some(Arc::new(move || {
        let (ok, at) = m.last_reload();
        let ms = at
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        (ok, ms)
    }));
    api.metrics.register(registry);
    let query = tianshu_query::http::router(api);

    Router::new().merge(ingest).merge(query).merge(ui)
}

/// Opens `<data-dir>/queries.active`, first reporting the queries a previous run left in
/// it: those were running when it died, and are the first suspects when it died of a query.
/// Without the file queries still run, only unrecorded.
fn open_active_query_log(args: &Args, slots: usize) -> Option<ActiveQueryLog> {
    match ActiveQueryLog::open(&args.data_dir, slots) {
        Ok((log, unfinished)) => {
            if !unfinished.is_empty() {
                tracing::warn!(
                    count = unfinished.len(),
                    "These queries didn't finish in Tianshu's last run:"
                );
                for q in &unfinished {
                    tracing::warn!(query = %q.query, timestamp_sec = q.timestamp_sec, "unfinished query");
                }
            }
            Some(log)
        }
        Err(e) => {
            tracing::warn!(
                error = %e,
                dir = %args.data_dir.display(),
                "cannot open the active query log; running queries are not recorded"
            );
            None
        }
    }
}

fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Retention as Prometheus's runtimeinfo words it: "15d", "10GiB", "15d or 10GiB".
fn retention_text(args: &Args) -> String {
    let time = (!args.retention_time.is_zero()).then(|| format_duration(args.retention_time));
    let size = args.retention_size.map(|b| format!("{}MiB", b >> 20));
    match (time, size) {
        (Some(t), Some(s)) => format!("{t} or {s}"),
        (Some(t), None) => t,
        (None, Some(s)) => s,
        (None, None) => "unlimited".to_string(),
    }
}

fn build_info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        revision: option_env!("TIANSHU_GIT_REVISION")
            .unwrap_or("unknown")
            .to_string(),
        branch: option_env!("TIANSHU_GIT_BRANCH")
            .unwrap_or("unknown")
            .to_string(),
        build_user: option_env!("USER").unwrap_or("unknown").to_string(),
        build_date: option_env!("TIANSHU_BUILD_DATE")
            .unwrap_or("unknown")
            .to_string(),
        rust_version: option_env!("TIANSHU_RUSTC_VERSION")
            .unwrap_or("rust")
            .to_string(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
