//! The UI API's errors, answered in the Prometheus API's error shape
//! (`{"status":"error","errorType":…,"error":…}`) so that the page reads one shape.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// A request the server cannot act on (bad id, invalid dashboard JSON).
    #[error("{0}")]
    BadData(String),
    /// No dashboard with that id.
    #[error("dashboard {0:?} not found")]
    NotFound(String),
    /// Saving needs a directory (`--dashboards-dir`).
    #[error("dashboards are read-only: start tianshu with --dashboards-dir to save them")]
    ReadOnly,
    /// Reading or writing a dashboard file failed.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl UiError {
    /// The HTTP status of each error; the one place where they are mapped.
    pub fn status(&self) -> StatusCode {
        match self {
            UiError::BadData(_) => StatusCode::BAD_REQUEST,
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
            UiError::ReadOnly => StatusCode::CONFLICT,
            UiError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_type(&self) -> &'static str {
        match self {
            UiError::BadData(_) => "bad_data",
            UiError::NotFound(_) => "not_found",
            UiError::ReadOnly => "unavailable",
            UiError::Io { .. } => "internal",
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "status": "error",
            "errorType": self.error_type(),
            "error": self.to_string(),
        });
        (self.status(), Json(body)).into_response()
    }
}
