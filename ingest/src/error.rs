//! The receiver's errors and the one place where they become HTTP answers.
//!
//! Client mistakes are 4xx and never 5xx: remote-write senders retry 5xx (and 429) and drop
//! a batch on other 4xx, so a 5xx for bad data would make a sender retry it forever.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Not `application/x-protobuf`, or a malformed parameter.
    #[error("{0}")]
    UnsupportedContentType(String),

    #[error(
        "{0} protobuf message is not accepted by this server; accepted [prometheus.WriteRequest] \
         (remote-write 2.0 is not supported yet)"
    )]
    UnsupportedProtoMessage(String),

    #[error(
        "{0} encoding (compression) is not accepted by this server; only snappy is acceptable"
    )]
    UnsupportedEncoding(String),

    #[error("request body of {size} bytes is larger than the limit of {limit} bytes")]
    BodyTooLarge { size: u64, limit: usize },

    /// A body without (or with a lying) Content-Length that grew past the limit while read.
    #[error("request body is larger than the limit of {limit} bytes")]
    BodyLimitExceeded { limit: usize },

    #[error("decompressed request of {size} bytes is larger than the limit of {limit} bytes")]
    DecompressedTooLarge { size: u64, limit: usize },

    #[error("error reading request body: {0}")]
    ReadBody(#[source] BoxError),

    #[error("{0}")]
    Snappy(#[from] snap::Error),

    #[error("{0}")]
    Protobuf(#[from] prost::DecodeError),

    #[error(
        "failed to decode Protobuf message: {0}: invalid string value: data is not UTF-8 encoded"
    )]
    InvalidUtf8(&'static str),

    /// Some series were invalid or some samples rejected; the rest was stored.
    #[error(
        "{first} (invalid series: {invalid_series}, rejected samples: {rejected_samples}, \
         appended samples: {appended_samples})"
    )]
    PartialWrite {
        first: String,
        invalid_series: u64,
        rejected_samples: u64,
        appended_samples: u64,
    },

    #[error("storage error: {0}")]
    Storage(#[from] tianshu_tsdb::Error),

    #[error("append task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl IngestError {
    pub fn status(&self) -> StatusCode {
        match self {
            IngestError::UnsupportedContentType(_)
            | IngestError::UnsupportedProtoMessage(_)
            | IngestError::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            IngestError::BodyTooLarge { .. }
            | IngestError::BodyLimitExceeded { .. }
            | IngestError::DecompressedTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            IngestError::ReadBody(_)
            | IngestError::Snappy(_)
            | IngestError::Protobuf(_)
            | IngestError::InvalidUtf8(_)
            | IngestError::PartialWrite { .. } => StatusCode::BAD_REQUEST,
            IngestError::Storage(_) | IngestError::Task(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for IngestError {
    /// A plain-text body ending in a newline, as Go's `http.Error` writes it.
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "remote write failed");
        } else {
            tracing::debug!(error = %self, %status, "remote write refused");
        }
        let headers = [
            ("content-type", "text/plain; charset=utf-8"),
            ("x-content-type-options", "nosniff"),
        ];
        (status, headers, format!("{self}\n")).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_mistakes_are_never_server_errors() {
        let client = [
            IngestError::UnsupportedEncoding("gzip".into()),
            IngestError::BodyLimitExceeded { limit: 1 },
            IngestError::InvalidUtf8("label name"),
            IngestError::PartialWrite {
                first: String::new(),
                invalid_series: 1,
                rejected_samples: 0,
                appended_samples: 0,
            },
        ];
        for e in client {
            assert!(e.status().is_client_error(), "{e}");
        }
    }

    #[test]
    fn encoding_message_matches_prometheus() {
        assert_eq!(
            IngestError::UnsupportedEncoding("gzip".into()).to_string(),
            "gzip encoding (compression) is not accepted by this server; only snappy is acceptable"
        );
    }
}
