//! Prometheus metrics of the remote-write receiver.
//!
//! Every float sample received ends in exactly one of `samples_appended`,
//! `samples_duplicate` or `samples_rejected`, so the three add up to `samples_received`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use tianshu_tsdb::{AppendReport, RejectReason};

use crate::remote_write::DecodedWrite;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CodeLabels {
    code: u16,
}

/// Counters and histograms of the receiver; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct IngestMetrics {
    requests: Family<CodeLabels, Counter>,
    request_body_bytes: Histogram,
    samples_received: Counter,
    samples_appended: Counter,
    samples_duplicate: Counter,
    samples_rejected: Family<ReasonLabels, Counter>,
    invalid_series: Family<ReasonLabels, Counter>,
    exemplars_dropped: Counter,
    histograms_dropped: Counter,
    metadata_received: Counter,
}

impl Default for IngestMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl IngestMetrics {
    pub fn new() -> Self {
        IngestMetrics {
            requests: Family::default(),
            // 1 KiB .. 256 MiB by powers of 4.
            request_body_bytes: Histogram::new(exponential_buckets(1024.0, 4.0, 10)),
            samples_received: Counter::default(),
            samples_appended: Counter::default(),
            samples_duplicate: Counter::default(),
            samples_rejected: Family::default(),
            invalid_series: Family::default(),
            exemplars_dropped: Counter::default(),
            histograms_dropped: Counter::default(),
            metadata_received: Counter::default(),
        }
    }

    /// Registers every metric under the `tianshu_ingest_` prefix.
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("tianshu_ingest");
        r.register(
            "remote_write_requests",
            "Remote-write requests by HTTP status code",
            self.requests.clone(),
        );
        r.register(
            "remote_write_request_body_bytes",
            "Size of remote-write request bodies as received (compressed)",
            self.request_body_bytes.clone(),
        );
        r.register(
            "samples_received",
            "Float samples received by remote write",
            self.samples_received.clone(),
        );
        r.register(
            "samples_appended",
            "Float samples appended to storage",
            self.samples_appended.clone(),
        );
        r.register(
            "samples_duplicate",
            "Float samples identical to one already stored, ignored",
            self.samples_duplicate.clone(),
        );
        r.register(
            "samples_rejected",
            "Float samples not stored, by reason",
            self.samples_rejected.clone(),
        );
        r.register(
            "invalid_series",
            "Series refused by validation, by reason",
            self.invalid_series.clone(),
        );
        r.register(
            "exemplars_dropped",
            "Exemplars received and dropped (not stored yet)",
            self.exemplars_dropped.clone(),
        );
        r.register(
            "histograms_dropped",
            "Native histogram samples received and dropped (not stored yet)",
            self.histograms_dropped.clone(),
        );
        r.register(
            "metadata_received",
            "Metric metadata entries received",
            self.metadata_received.clone(),
        );
    }

    pub(crate) fn observe_request(&self, code: u16) {
        self.requests.get_or_create(&CodeLabels { code }).inc();
    }

    pub(crate) fn observe_body(&self, bytes: usize) {
        self.request_body_bytes.observe(bytes as f64);
    }

    pub(crate) fn observe_decoded(&self, d: &DecodedWrite) {
        self.samples_received.inc_by(d.samples_received);
        self.exemplars_dropped.inc_by(d.exemplars);
        self.histograms_dropped.inc_by(d.histograms);
        self.metadata_received.inc_by(d.metadata.len() as u64);
        if d.invalid_samples > 0 {
            self.rejected("invalid_series").inc_by(d.invalid_samples);
        }
        for (&reason, &n) in &d.invalid_by_reason {
            self.invalid_series
                .get_or_create(&ReasonLabels { reason })
                .inc_by(n);
        }
    }

    /// The report names only its first rejection's reason; all of a request's rejections
    /// are counted under it. One request's rejections nearly always share a cause (a
    /// sender replaying old data, or two senders writing the same series).
    pub(crate) fn observe_append(&self, r: &AppendReport) {
        self.samples_appended.inc_by(r.appended);
        self.samples_duplicate.inc_by(r.duplicates);
        if r.rejected > 0 {
            let reason = match r.first_rejection.as_ref().map(|f| f.reason) {
                Some(RejectReason::OutOfOrder) => "out_of_order",
                Some(RejectReason::TooOld) => "too_old",
                Some(RejectReason::DuplicateTimestamp) => "duplicate_timestamp",
                None => "unknown",
            };
            self.rejected(reason).inc_by(r.rejected);
        }
    }

    fn rejected(&self, reason: &'static str) -> Counter {
        self.samples_rejected
            .get_or_create(&ReasonLabels { reason })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn registered_metrics_are_exposed_with_prefix() {
        let m = IngestMetrics::new();
        m.observe_request(204);
        m.observe_body(2000);
        m.observe_append(&AppendReport {
            appended: 3,
            rejected: 2,
            first_rejection: Some(tianshu_tsdb::Rejection {
                labels: tianshu_tsdb::Labels::empty(),
                t: 0,
                reason: RejectReason::OutOfOrder,
            }),
            ..AppendReport::default()
        });
        let mut reg = Registry::default();
        m.register(&mut reg);
        let mut out = String::new();
        encode(&mut out, &reg).unwrap();
        assert!(out.contains("tianshu_ingest_remote_write_requests_total{code=\"204\"} 1"));
        assert!(out.contains("tianshu_ingest_samples_appended_total 3"));
        assert!(out.contains("tianshu_ingest_samples_rejected_total{reason=\"out_of_order\"} 2"));
        assert!(out.contains("tianshu_ingest_remote_write_request_body_bytes_count 1"));
    }
}
