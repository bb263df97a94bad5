//! Where scraped samples go. The embedded server appends to its own [`Db`]; a
//! remote-write sink (a scraper feeding an ingest URL) implements the same trait.

use std::sync::Arc;

use tianshu_tsdb::{AppendReport, Db, MetricMetadata, SeriesSamples};

/// A destination for scraped samples. Called from blocking threads, never from the async
/// runtime's workers, so implementations may block (on the WAL, on a queue).
pub trait Sink: Send + Sync + 'static {
    /// Stores one scrape's samples. `Err` is a failure of the whole batch.
    fn append(&self, batch: &[SeriesSamples]) -> Result<AppendReport, String>;

    /// Records metric metadata (`# HELP`, `# TYPE`, `# UNIT`) seen in a scrape.
    fn set_metadata(&self, md: Vec<MetricMetadata>) -> Result<(), String>;
}

/// Embedded mode: samples go straight into the local database.
pub struct DbSink(pub Arc<Db>);

impl Sink for DbSink {
    fn append(&self, batch: &[SeriesSamples]) -> Result<AppendReport, String> {
        self.0.append(batch).map_err(|e| e.to_string())
    }

    fn set_metadata(&self, md: Vec<MetricMetadata>) -> Result<(), String> {
        self.0.set_metadata(md).map_err(|e| e.to_string())
    }
}
