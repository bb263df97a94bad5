//! Tianshu's storage engine.
//!
//! One [`Db`] is one shard's store: a head of in-memory Gorilla chunks indexed by roaring
//! postings, made durable by a write-ahead log that is replayed on open, and immutable
//! blocks on disk that the head is cut into as it ages. Writes are acknowledged only once
//! their samples are in the WAL (see [`Db::append`]).
//!
//! Module map:
//! - [`labels`], [`sample`]: series identity and samples.
//! - [`chunk`]: Gorilla XOR chunk codec; `chunked`: selected series as chunk handles,
//!   decoded by the caller.
//! - [`index`]: matchers and the inverted index.
//! - [`wal`]: segmented, checksummed write-ahead log.
//! - [`block`]: immutable persisted blocks; `blocks`: the set a database serves.
//! - `head`: series registry and open chunks; `head_chunks`: the head's full chunks on
//!   disk, memory-mapped; `compact`: cutting the head into blocks;
//!   `compactor`: merging blocks; `retention`: deleting old blocks;
//!   `snapshot`: copies of the whole database; `querier`: merging head and blocks;
//!   `delete`, [`tombstones`]: deleting series data and cleaning it out of blocks;
//!   `fault`: crash points for tests; `metrics`: what the engine did, for `/metrics`;
//!   `db`: the public facade tying them together.

pub mod block;
mod blocks;
pub mod chunk;
mod chunked;
mod compact;
mod compactor;
mod db;
mod delete;
pub mod error;
mod fault;
mod head;
mod head_chunks;
pub mod index;
pub mod labels;
mod metrics;
mod querier;
mod replay;
mod retention;
pub mod sample;
mod selection;
mod snapshot;
pub mod tombstones;
pub mod wal;

pub use chunked::ChunkedSeries;
pub use db::{
    AppendReport, Db, DbOptions, DbStats, MetricMetadata, RejectReason, Rejection, Series,
    SeriesRef, SeriesSamples,
};
pub use error::{Error, Result};
pub use head::HeadFootprint;
pub use index::{MatchOp, Matcher, SeriesId};
pub use labels::{Label, Labels, LabelsRef, METRIC_NAME};
pub use metrics::TsdbMetrics;
pub use sample::{is_stale_nan, stale_nan, Sample, STALE_NAN_BITS};
pub use wal::FsyncPolicy;
