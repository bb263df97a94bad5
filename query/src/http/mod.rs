//! Prometheus HTTP API (being implemented).
