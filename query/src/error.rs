//! Query errors and their Prometheus error types.

/// Everything that can fail a query. Each variant maps to one Prometheus `errorType`
/// and HTTP status in [`QueryError::error_type`] and [`QueryError::status`].
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The request or the PromQL text is invalid (`bad_data`, 400).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed, e.g. many-to-many matching (`execution`, 422).
    #[error("{0}")]
    Execution(String),
    /// The query ran past its timeout (`timeout`, 503).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query would load more samples than allowed (`execution`, 422).
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The storage failed (`internal`, 500).
    #[error("{0}")]
    Storage(#[from] tianshu_tsdb::Error),
    /// Any other fault of ours, e.g. a panic caught at the API boundary (`internal`, 500).
    #[error("{0}")]
    Internal(String),
    /// No such API endpoint or object (`not_found`, 404).
    #[error("{0}")]
    NotFound(String),
    /// The endpoint is switched off, e.g. the admin API (`unavailable`, 503).
    #[error("{0}")]
    Unavailable(String),
}

impl QueryError {
    /// Prometheus's `errorType` string.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::BadData(_) => "bad_data",
            QueryError::Execution(_) | QueryError::TooManySamples(_) => "execution",
            QueryError::Timeout(_) => "timeout",
            QueryError::Storage(_) | QueryError::Internal(_) => "internal",
            QueryError::NotFound(_) => "not_found",
            QueryError::Unavailable(_) => "unavailable",
        }
    }

    /// The HTTP status Prometheus answers with for this error type.
    pub fn status(&self) -> u16 {
        match self {
            QueryError::BadData(_) => 400,
            QueryError::Execution(_) | QueryError::TooManySamples(_) => 422,
            QueryError::Timeout(_) => 503,
            QueryError::Storage(_) | QueryError::Internal(_) => 500,
            QueryError::NotFound(_) => 404,
            QueryError::Unavailable(_) => 503,
        }
    }
}
