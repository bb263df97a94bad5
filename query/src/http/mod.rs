//! Prometheus's HTTP API (`/api/v1/...`, `/-/healthy`, `/-/ready`), answering with the same
//! JSON shapes, error types, status codes and error texts as Prometheus, so that Grafana and
//! other Prometheus clients work unchanged.
//!
//! Module map: `form` reads the request's parameters and `params` parses them; `response`
//! writes JSON and the envelope; `query_handlers`, `meta_handlers` and `status_handlers` hold
//! the endpoints; `compression` gzips answers; `metrics` is the API's self-monitoring;
//! `rfc3339` converts timestamps.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use tianshu_tsdb::Db;
use tokio::sync::Semaphore;

use crate::engine::Engine;
use crate::error::QueryError;

pub mod active_queries;
mod admin_handlers;
mod compression;
mod federate;
mod form;
mod meta_handlers;
mod metrics;
pub mod params;
mod query_handlers;
pub mod remote_read;
mod response;
mod rfc3339;
mod selector_error;
mod status_handlers;

pub use active_queries::ActiveQueryLog;
pub use metrics::QueryMetrics;

use response::{error_response, success_response, ApiResult};

/// What `/api/v1/status/buildinfo` reports. Serialized with Prometheus's field names
/// (`buildUser`, `goVersion`, ...).
#[derive(Clone, Debug, Default)]
pub struct BuildInfo {
    pub version: String,
    pub revision: String,
    pub branch: String,
    pub build_user: String,
    pub build_date: String,
    /// The toolchain that built the binary; reported as `goVersion`, the key clients read.
    pub rust_version: String,
}

/// Everything the API handlers read.
pub struct ApiState {
    pub db: Arc<Db>,
    pub engine: Arc<Engine>,
    pub build: BuildInfo,
    pub metrics: Arc<QueryMetrics>,
    /// Command-line flags for `/api/v1/status/flags`.
    pub flags: BTreeMap<String, String>,
    /// The loaded configuration file's text for `/api/v1/status/config`.
    pub config_yaml: String,
    /// Process start, Unix milliseconds, for `/api/v1/status/runtimeinfo`.
    pub start_time_ms: i64,
    /// Retention as configured, e.g. "15d", for `/api/v1/status/runtimeinfo`.
    pub storage_retention: String,
    /// Whether the last configuration (re)load succeeded and when the running one was
    /// loaded (Unix ms), for `/api/v1/status/runtimeinfo`; `None`: loaded once at start.
    pub config_status: Option<Arc<dyn Fn() -> (bool, i64) + Send + Sync>>,
    /// Queries evaluated at once; further ones wait (Prometheus's `--query.max-concurrency`,
    /// default 20). Bounds CPU and memory held by evaluation, which blocking threads do not.
    /// Replace with [`ApiState::with_max_concurrency`] so that it and `active_queries`
    /// agree on the number of slots.
    pub query_slots: Arc<Semaphore>,
    /// `queries.active`, with one slot per evaluation slot; `None` records nothing (tests,
    /// or a data directory that cannot hold the file).
    pub active_queries: Option<Arc<ActiveQueryLog>>,
    /// Whether `/api/v1/admin/*` is served (`--web.enable-admin-api`); off by default,
    /// as in Prometheus, because it writes to disk on request.
    pub enable_admin: bool,
}

/// Prometheus's default `--query.max-concurrency`.
pub const DEFAULT_MAX_CONCURRENT_QUERIES: usize = 20;

impl ApiState {
    /// State with no flags, an empty configuration, fresh metrics, now as start time and
    /// Prometheus's default query concurrency.
    pub fn new(db: Arc<Db>, engine: Arc<Engine>, build: BuildInfo) -> Self {
        ApiState {
            db,
            engine,
            build,
            metrics: Arc::new(QueryMetrics::new()),
            flags: BTreeMap::new(),
            config_yaml: String::new(),
            start_time_ms: params::now_ms(),
            storage_retention: String::new(),
            config_status: None,
            query_slots: Arc::new(Semaphore::new(DEFAULT_MAX_CONCURRENT_QUERIES)),
            active_queries: None,
            enable_admin: false,
        }
    }

    /// Evaluates at most `slots` queries at once (at least one), recording them in
    /// `active` when given, which must have at least as many slots.
    pub fn with_max_concurrency(mut self, slots: usize, active: Option<ActiveQueryLog>) -> Self {
        self.query_slots = Arc::new(Semaphore::new(slots.max(1)));
        self.active_queries = active.map(Arc::new);
        self
    }
}

type State = Arc<ApiState>;

/// The API's routes. Has no fallback, so it can be merged with other routers; unknown paths
/// under `/api/v1/` answer Prometheus's plain 404.
pub fn router(state: ApiState) -> Router {
    use meta_handlers as m;
    use query_handlers as q;
    use status_handlers as s;
    Router::new()
        .route("/api/v1/query", get(q::query).post(q::query))
        .route(
            "/api/v1/query_range",
            get(q::query_range).post(q::query_range),
        )
        .route(
            "/api/v1/query_exemplars",
            get(q::query_exemplars).post(q::query_exemplars),
        )
        .route(
            "/api/v1/format_query",
            get(q::format_query).post(q::format_query),
        )
        .route(
            "/api/v1/parse_query",
            get(q::parse_query).post(q::parse_query),
        )
        .route("/api/v1/series", get(m::series).post(m::series))
        .route("/api/v1/labels", get(m::labels).post(m::labels))
        .route("/api/v1/label/{name}/values", get(m::label_values))
        .route("/api/v1/metadata", get(m::metadata))
        .route("/api/v1/targets/metadata", get(s::targets_metadata))
        .route("/api/v1/status/buildinfo", get(s::buildinfo))
        .route("/api/v1/status/runtimeinfo", get(s::runtimeinfo))
        .route("/api/v1/status/flags", get(s::flags))
        .route("/api/v1/status/config", get(s::config))
        .route("/api/v1/status/tsdb", get(s::tsdb))
        .route("/api/v1/status/walreplay", get(s::walreplay))
        .route("/api/v1/targets", get(s::targets))
        .route("/api/v1/scrape_pools", get(s::scrape_pools))
        .route("/api/v1/alertmanagers", get(s::alertmanagers))
        .route("/api/v1/rules", get(s::rules))
        .route("/api/v1/alerts", get(s::alerts))
        .route(
            "/api/v1/admin/tsdb/snapshot",
            axum::routing::post(admin_handlers::snapshot).put(admin_handlers::snapshot),
        )
        .route(
            "/api/v1/admin/tsdb/delete_series",
            axum::routing::post(admin_handlers::delete_series).put(admin_handlers::delete_series),
        )
        .route(
            "/api/v1/admin/tsdb/clean_tombstones",
            axum::routing::post(admin_handlers::clean_tombstones)
                .put(admin_handlers::clean_tombstones),
        )
        .route("/api/v1/{*rest}", any(s::not_found))
        .route("/federate", get(federate::federate))
        .layer(middleware::from_fn(compression::compress))
        .layer(middleware::from_fn(cors))
        // Streamed, so outside the compression layer (which buffers); Prometheus does not
        // compress remote read either, its payloads are snappy-compressed already.
        .route("/api/v1/read", axum::routing::post(remote_read::read))
        .route("/-/healthy", get(s::healthy).head(s::healthy))
        .route("/-/ready", get(s::ready).head(s::ready))
        .with_state(Arc::new(state))
}

/// Prometheus's CORS handling with its default origin `.*`: browsers may call the API from
/// any page (Grafana's browser access mode, ad-hoc tools), and preflights get 204.
async fn cors(req: Request, next: Next) -> Response {
    let has_origin = req.headers().contains_key(header::ORIGIN);
    let mut resp = if req.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(req).await
    };
    if has_origin {
        let h = resp.headers_mut();
        for (name, value) in [
            (
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                "Accept, Authorization, Content-Type, Origin",
            ),
            (header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"),
            (header::ACCESS_CONTROL_EXPOSE_HEADERS, "Date"),
            (header::VARY, "Origin"),
            (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        ] {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
    resp
}

/// Runs storage or engine work off the async runtime's threads. A panic in the work becomes
/// an `internal` error instead of a dropped connection.
async fn blocking<T, F>(f: F) -> Result<T, QueryError>
where
    F: FnOnce() -> Result<T, QueryError> + Send + 'static,
    T: Send + 'static,
{
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => {
            let why = if e.is_panic() {
                let p = e.into_panic();
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_string())
            } else {
                "task cancelled".to_string()
            };
            tracing::error!(error = %why, "API request failed unexpectedly");
            Err(QueryError::Internal(format!("unexpected error: {why}")))
        }
    }
}

/// Records the endpoint's duration and error type and writes the response.
fn finish(state: &ApiState, endpoint: &'static str, started: Instant, res: ApiResult) -> Response {
    let error_type = res.as_ref().err().map(QueryError::error_type);
    state
        .metrics
        .observe(endpoint, started.elapsed(), error_type);
    match res {
        Ok(s) => success_response(s),
        Err(e) => error_response(&e),
    }
}
