//! Tianshu's browser dashboards: the server side.
//!
//! - [`assets`]: the front end built from `web/` by `build.rs`, embedded in the binary and
//!   served at `/`.
//! - [`dashboards`]: dashboards as JSON files (schema in this crate's `README.md`), loaded
//!   from `--dashboards-dir`, saved back when edited, plus the built-in Tianshu overview.
//! - [`live`]: the 1-second live stream (SSE): each tick evaluates only the newest step of
//!   each subscribed query, once for all the streams asking for it, and pushes it.
//!
//! Everything is mounted by [`router`]; the Prometheus API the page also calls
//! (`/api/v1/query_range`, …) is `tianshu-query`'s.

pub mod assets;
pub mod dashboards;
pub mod error;
pub mod live;

#[cfg(test)]
mod router_tests;

use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use tianshu_query::http::active_queries::ActiveQueryLog;
use tianshu_query::Engine;
use tianshu_tsdb::Db;
use tokio::sync::Semaphore;

pub use dashboards::DashboardStore;
pub use error::UiError;
pub use live::LiveHub;

/// What the UI's handlers share.
#[derive(Clone)]
pub struct UiState {
    /// The local database the live stream evaluates against.
    pub db: Arc<Db>,
    /// The same engine (limits, lookback) the Prometheus API uses.
    pub engine: Arc<Engine>,
    /// Dashboards on disk and built in.
    pub dashboards: Arc<DashboardStore>,
    /// Time between two live ticks (1 s by default).
    pub tick: std::time::Duration,
    /// The live evaluations, shared by every stream; evaluates over `db` with `engine`.
    pub hub: Arc<LiveHub>,
}

impl UiState {
    /// The UI over `db`, ticking every second. `query_slots` is the query API's
    /// `--query.max-concurrency` semaphore: live evaluations take their slots from it, so
    /// that live panels and `/api/v1/query` share one limit. `active_queries` is the query
    /// API's `queries.active` log: live evaluations are recorded in it as API queries are.
    pub fn new(
        db: Arc<Db>,
        engine: Arc<Engine>,
        dashboards: DashboardStore,
        query_slots: Arc<Semaphore>,
        active_queries: Option<Arc<ActiveQueryLog>>,
    ) -> UiState {
        UiState {
            hub: Arc::new(
                LiveHub::new(engine.clone(), db.clone(), query_slots)
                    .with_active_queries(active_queries),
            ),
            db,
            engine,
            dashboards: Arc::new(dashboards),
            tick: std::time::Duration::from_secs(1),
        }
    }
}

/// The UI's routes: `/` and `/assets/*` (front end), `/api/ui/dashboards*`, `/api/ui/live`.
pub fn router(state: UiState) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{*path}", get(assets::asset))
        .route("/api/ui/dashboards", get(dashboards::api::list))
        .route(
            "/api/ui/dashboards/{id}",
            get(dashboards::api::get_one).put(dashboards::api::save),
        )
        .route("/api/ui/live", get(live::sse::stream))
        .with_state(state)
}
