//! Errors of the storage engine.
//!
//! Rejections of single samples (out of order, too old, duplicate timestamp) are not errors:
//! they are reported per sample in [`crate::AppendReport`] so that one bad sample does not
//! fail a whole write. `Error` is for faults that stop an operation.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("corruption in {path} at offset {offset}: {reason}")]
    Corruption {
        path: PathBuf,
        offset: u64,
        reason: String,
    },

    #[error("corrupt chunk: {0}")]
    CorruptChunk(String),

    #[error("invalid regular expression {pattern:?}: {reason}")]
    InvalidRegex { pattern: String, reason: String },

    #[error("invalid data directory {path}: {reason}")]
    InvalidDataDir { path: PathBuf, reason: String },
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
