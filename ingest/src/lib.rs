//! tianshu-ingest
