//! Limits and rules of the remote-write receiver.

/// Which metric and label names are accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum NameValidation {
    /// Prometheus's classic rules: metric names `[a-zA-Z_:][a-zA-Z0-9_:]*`, label names
    /// `[a-zA-Z_][a-zA-Z0-9_]*`. What PromQL can select without quoting.
    #[default]
    Legacy,
    /// Any non-empty UTF-8 string, as Prometheus 3.x allows with UTF-8 names enabled.
    Utf8,
}

/// Configuration of the remote-write receiver. Lengths are in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestConfig {
    /// Largest accepted request body, as sent (snappy-compressed).
    pub max_request_bytes: usize,
    /// Largest accepted body once decompressed. The decoded request takes a few times
    /// this in memory, so this bounds the memory one request can pin.
    pub max_decompressed_bytes: usize,
    pub max_label_name_length: usize,
    pub max_label_value_length: usize,
    /// Including `__name__`.
    pub max_labels_per_series: usize,
    pub name_validation: NameValidation,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_request_bytes: 32 << 20,
            // Prometheus sends requests of ~2000 samples (well under 1 MiB); vmagent and
            // the OpenTelemetry collector send a few MiB. 128 MiB leaves room for any of
            // them while keeping one request's decoded form far below a GiB.
            max_decompressed_bytes: 128 << 20,
            max_label_name_length: 1024,
            max_label_value_length: 4096,
            max_labels_per_series: 128,
            name_validation: NameValidation::Legacy,
        }
    }
}
