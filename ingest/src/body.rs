//! Reading a request body within a size limit.

use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::error::IngestError;

/// Reads the whole body, failing as soon as it grows past `limit` bytes, so that a chunked
/// body of unknown length cannot make us buffer more than the limit.
pub(crate) async fn read_limited(body: Body, limit: usize) -> Result<Bytes, IngestError> {
    match Limited::new(body, limit).collect().await {
        // `to_bytes` does not copy when the body arrived in one frame.
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(IngestError::BodyLimitExceeded { limit })
        }
        Err(e) => Err(IngestError::ReadBody(e)),
    }
}
