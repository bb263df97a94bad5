//! Tianshu's storage engine.
//!
//! One [`Db`] is one shard's store: a head of in-memory Gorilla chunks indexed by roaring
//! postings, made durable by a write-ahead log that is replayed on open. Writes are
//! acknowledged only once their samples are in the WAL (see [`Db::append`]).
//!
//! Module map:
//! - [`labels`], [`sample`]: series identity and samples.
//! - [`chunk`]: Gorilla XOR chunk codec.
//! - [`index`]: matchers and the inverted index.
//! - [`wal`]: segmented, checksummed write-ahead log.
//! - `head`: series registry and open chunks; `db`: the public facade tying them together.

pub mod block;
pub mod chunk;
mod db;
pub mod error;
mod head;
pub mod index;
pub mod labels;
pub mod sample;
pub mod wal;

pub use db::{
    AppendReport, Db, DbOptions, DbStats, MetricMetadata, RejectReason, Rejection, Series,
    SeriesSamples,
};
pub use error::{Error, Result};
pub use index::{MatchOp, Matcher, SeriesId};
pub use labels::{Label, Labels, METRIC_NAME};
pub use sample::{is_stale_nan, stale_nan, Sample, STALE_NAN_BITS};
pub use wal::FsyncPolicy;
