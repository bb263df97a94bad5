//! The HTTP routes of the receiver.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use tianshu_tsdb::Db;

use crate::config::IngestConfig;
use crate::metrics::IngestMetrics;
use crate::write::handle_write;

/// What the handlers share.
#[derive(Clone)]
pub struct IngestState {
    pub db: Arc<Db>,
    pub config: IngestConfig,
    pub metrics: Arc<IngestMetrics>,
}

/// `POST /api/v1/write`: Prometheus remote-write 1.0.
pub fn router(state: IngestState) -> Router {
    Router::new()
        .route("/api/v1/write", post(remote_write))
        .with_state(state)
}

// The body is taken raw, not through axum's `Bytes` extractor, so that its limit is ours
// (checked against Content-Length before reading) rather than axum's 2 MB default.
async fn remote_write(
    State(state): State<IngestState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let response = match handle_write(&state, &headers, body).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    };
    state.metrics.observe_request(response.status().as_u16());
    response
}
