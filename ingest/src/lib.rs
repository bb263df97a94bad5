//! Tianshu's ingest: the Prometheus remote-write 1.0 receiver.
//!
//! [`router`] serves `POST /api/v1/write`: it checks the headers, reads the body within
//! [`IngestConfig::max_request_bytes`], decompresses and decodes it
//! ([`decode_write_request`]), validates each series, appends the valid ones to the
//! [`tianshu_tsdb::Db`] and answers once they are durable. Behaviour follows Prometheus's
//! `write_handler.go`; where Prometheus is silent (limits, partial writes) it follows
//! Grafana Mimir's distributor.
//!
//! Module map:
//! - [`proto`]: the protobuf messages; `wire`: the zero-copy view the receiver decodes.
//! - `remote_write`: body → validated series; `validate`: the naming rules and limits.
//! - `headers`, `body`, `write`, `router`: the HTTP layer; `error`: errors → status codes.
//! - `metrics`: Prometheus metrics of the receiver.

mod body;
mod config;
mod error;
mod headers;
mod metrics;
pub mod proto;
pub mod remote_queue;
mod remote_write;
mod router;
pub mod scrape;
mod series_fmt;
mod validate;
mod wire;
mod write;

pub use config::{IngestConfig, NameValidation};
pub use error::IngestError;
pub use metrics::IngestMetrics;
pub use remote_write::{decode_write_request, DecodedWrite, InvalidSeries};
pub use router::{router, IngestState};
pub use validate::SeriesProblem;
