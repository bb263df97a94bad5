//! `GET /api/ui/dashboards` (list), `GET|PUT /api/ui/dashboards/{id}`. Answers use the
//! Prometheus API's envelope (`{"status":"success","data":…}`); the reads add
//! `"meta": {"canSave": …}`, as Grafana's dashboard API does, so that the page disables
//! saving up front when the server runs without `--dashboards-dir`.

use axum::extract::{Path, State};
use axum::Json;
use serde_json::{json, Value};

use super::schema::Dashboard;
use crate::{UiError, UiState};

pub async fn list(State(s): State<UiState>) -> Result<Json<Value>, UiError> {
    let store = s.dashboards.clone();
    let list = run_blocking(move || store.list()).await?;
    Ok(Json(
        json!({"status": "success", "data": list, "meta": meta(&s)}),
    ))
}

pub async fn get_one(
    State(s): State<UiState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, UiError> {
    let store = s.dashboards.clone();
    let d = run_blocking(move || store.get(&id)).await?;
    Ok(Json(
        json!({"status": "success", "data": d, "meta": meta(&s)}),
    ))
}

pub async fn save(
    State(s): State<UiState>,
    Path(id): Path<String>,
    body: String,
) -> Result<Json<Value>, UiError> {
    let d = Dashboard::from_json(&body)?;
    let store = s.dashboards.clone();
    let saved = d.clone();
    run_blocking(move || store.save(&id, &d)).await?;
    Ok(Json(json!({"status": "success", "data": saved})))
}

/// What the page may do with the dashboards it reads.
fn meta(s: &UiState) -> Value {
    json!({ "canSave": s.dashboards.writable() })
}

/// Files are read and written off the async workers.
async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, UiError> + Send + 'static,
) -> Result<T, UiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| UiError::Io {
            path: "dashboard task".to_string(),
            source: std::io::Error::other(e.to_string()),
        })?
}
