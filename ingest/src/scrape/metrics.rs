//! The scrape side's own metrics, named, typed and labelled as Prometheus exposes them,
//! plus Tianshu's own under `tianshu_scrape_`.
//!
//! | metric | type | labels | moved by |
//! |---|---|---|---|
//! | `prometheus_sd_discovered_targets` | gauge | `config`, `name` | a pool's sync: targets in all its groups |
//! | `prometheus_sd_failed_configs` | gauge | `name` | a discovery block that cannot start (bad kubeconfig, no in-cluster environment) |
//! | `prometheus_sd_received_updates_total` | counter | `name` | every group list a provider sends |
//! | `prometheus_sd_updates_total` | counter | `name` | every sync of a pool's targets |
//! | `prometheus_sd_file_read_errors_total` | counter | | a `file_sd` file unreadable or invalid |
//! | `prometheus_sd_file_scan_duration_seconds` | histogram | | one `file_sd` scan |
//! | `prometheus_sd_file_mtime_seconds` | gauge | `filename` | a `file_sd` file read: its modification time |
//! | `prometheus_sd_kubernetes_events_total` | counter | `role`, `event` | objects added, updated, deleted, by object kind |
//! | `prometheus_sd_kubernetes_failures_total` | counter | | a failed list or watch |
//! | `prometheus_target_sync_length_histogram_seconds` | histogram | `scrape_job` | one sync of a pool's targets |
//! | `prometheus_target_interval_length_histogram_seconds` | histogram | `interval` | time between a target's scrapes |
//! | `prometheus_target_scrape_pools_total` | counter | | a scrape pool created |
//! | `prometheus_target_scrape_pool_targets` | gauge | `scrape_job` | a pool's sync: its active targets |
//! | `prometheus_target_scrapes_exceeded_sample_limit_total` | counter | | a scrape over `sample_limit` |
//! | `prometheus_target_scrapes_exceeded_body_size_limit_total` | counter | | a body at or over `body_size_limit` |
//! | `prometheus_target_scrapes_sample_duplicate_timestamp_total` | counter | | samples dropped as repeats of a series in one scrape |
//! | `tianshu_scrape_work_slot_wait_seconds` | histogram | | a scrape's wait for a parse/append slot |
//!
//! `name` is the discovery manager's name; Tianshu has only the scrape one, `scrape`.
//! Prometheus 3 reports its durations as histograms (2.x had summaries of the same
//! names without `_histogram`); the metrics library has no summaries, so the histogram
//! forms are the ones exposed.
//!
//! The metrics are process-wide, as Prometheus registers its own once per process: the
//! discovery and scrape code records into [`get`] wherever it runs, and the binary adds
//! them to its registry with [`register`].

use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The discovery manager's name in `name` labels.
pub const MANAGER_NAME: &str = "scrape";

/// Kinds of Kubernetes objects counted in `prometheus_sd_kubernetes_events_total`, as
/// Prometheus pre-creates them (`ingress` is never watched here and stays at zero).
const K8S_ROLES: [&str; 6] = [
    "endpointslice",
    "endpoints",
    "node",
    "pod",
    "service",
    "ingress",
];
const K8S_EVENTS: [&str; 3] = ["add", "delete", "update"];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NameLabels {
    pub name: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DiscoveredLabels {
    pub config: String,
    pub name: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct K8sEventLabels {
    pub event: &'static str,
    pub role: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FileLabels {
    pub filename: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobLabels {
    pub scrape_job: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntervalLabels {
    pub interval: String,
}

fn seconds_buckets() -> Histogram {
    // 1 ms .. ~65 s by powers of 2: scrapes at 1 s and syncs of thousands of targets.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

fn interval_buckets() -> Histogram {
    // 10 ms .. ~5.5 min by powers of 2: intervals from sub-second to minutes.
    Histogram::new(exponential_buckets(0.01, 2.0, 16))
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Every scrape-side metric. Clones of a family share its values.
#[derive(Debug)]
pub struct ScrapeMetrics {
    pub discovered_targets: Family<DiscoveredLabels, Gauge>,
    pub failed_configs: Family<NameLabels, Gauge>,
    pub received_updates: Family<NameLabels, Counter>,
    pub updates: Family<NameLabels, Counter>,
    pub file_read_errors: Counter,
    pub file_scan_duration: Histogram,
    pub file_mtime: Family<FileLabels, Gauge<f64, AtomicU64>>,
    pub k8s_events: Family<K8sEventLabels, Counter>,
    pub k8s_failures: Counter,
    pub sync_length: HistogramFamily<JobLabels>,
    pub interval_length: HistogramFamily<IntervalLabels>,
    pub scrape_pools: Counter,
    pub pool_targets: Family<JobLabels, Gauge>,
    pub exceeded_sample_limit: Counter,
    pub exceeded_body_size_limit: Counter,
    pub duplicate_timestamps: Counter,
    pub work_slot_wait: Histogram,
}

impl ScrapeMetrics {
    fn new() -> Self {
        let m = ScrapeMetrics {
            discovered_targets: Family::default(),
            failed_configs: Family::default(),
            received_updates: Family::default(),
            updates: Family::default(),
            file_read_errors: Counter::default(),
            file_scan_duration: seconds_buckets(),
            file_mtime: Family::default(),
            k8s_events: Family::default(),
            k8s_failures: Counter::default(),
            sync_length: Family::new_with_constructor(seconds_buckets),
            interval_length: Family::new_with_constructor(interval_buckets),
            scrape_pools: Counter::default(),
            pool_targets: Family::default(),
            exceeded_sample_limit: Counter::default(),
            exceeded_body_size_limit: Counter::default(),
            duplicate_timestamps: Counter::default(),
            work_slot_wait: seconds_buckets(),
        };
        // Present from the start, as Prometheus's are.
        let name = NameLabels { name: MANAGER_NAME };
        drop(m.failed_configs.get_or_create(&name));
        drop(m.received_updates.get_or_create(&name));
        drop(m.updates.get_or_create(&name));
        for role in K8S_ROLES {
            for event in K8S_EVENTS {
                drop(m.k8s_events.get_or_create(&K8sEventLabels { event, role }));
            }
        }
        m
    }

    /// Counts one Kubernetes object event; `role` is the object's kind.
    pub fn k8s_event(&self, role: &'static str, event: &'static str) {
        self.k8s_events
            .get_or_create(&K8sEventLabels { role, event })
            .inc();
    }

    pub fn discovered(&self, job: &str) -> Gauge {
        self.discovered_targets
            .get_or_create(&DiscoveredLabels {
                name: MANAGER_NAME,
                config: job.to_string(),
            })
            .clone()
    }

    /// Forgets a removed job's gauge, so that it is no longer exposed.
    pub fn forget_job(&self, job: &str) {
        self.discovered_targets.remove(&DiscoveredLabels {
            name: MANAGER_NAME,
            config: job.to_string(),
        });
        let job = JobLabels {
            scrape_job: job.to_string(),
        };
        self.sync_length.remove(&job);
        self.pool_targets.remove(&job);
    }

    fn by_name<M: Clone>(f: &Family<NameLabels, M>) -> M {
        f.get_or_create(&NameLabels { name: MANAGER_NAME }).clone()
    }

    pub fn failed_configs(&self) -> Gauge {
        Self::by_name(&self.failed_configs)
    }

    pub fn received_updates(&self) -> Counter {
        Self::by_name(&self.received_updates)
    }

    pub fn updates(&self) -> Counter {
        Self::by_name(&self.updates)
    }
}

/// The process's scrape metrics.
pub fn get() -> &'static ScrapeMetrics {
    static METRICS: OnceLock<ScrapeMetrics> = OnceLock::new();
    METRICS.get_or_init(ScrapeMetrics::new)
}

/// Adds every scrape-side metric to `registry`.
pub fn register(registry: &mut Registry) {
    let m = get();
    registry.register(
        "prometheus_sd_discovered_targets",
        "Current number of discovered targets",
        m.discovered_targets.clone(),
    );
    registry.register(
        "prometheus_sd_failed_configs",
        "Current number of service discovery configurations that failed to load",
        m.failed_configs.clone(),
    );
    registry.register(
        "prometheus_sd_received_updates",
        "Total number of update events received from the SD providers",
        m.received_updates.clone(),
    );
    registry.register(
        "prometheus_sd_updates",
        "Total number of update events sent to the SD consumers",
        m.updates.clone(),
    );
    registry.register(
        "prometheus_sd_file_read_errors",
        "The number of File-SD read errors",
        m.file_read_errors.clone(),
    );
    registry.register(
        "prometheus_sd_file_scan_duration_seconds",
        "The duration of the File-SD scan in seconds",
        m.file_scan_duration.clone(),
    );
    registry.register(
        "prometheus_sd_file_mtime_seconds",
        "Timestamp (mtime) of files read by FileSD. Timestamp is set at read time",
        m.file_mtime.clone(),
    );
    registry.register(
        "prometheus_sd_kubernetes_events",
        "The number of Kubernetes events handled",
        m.k8s_events.clone(),
    );
    registry.register(
        "prometheus_sd_kubernetes_failures",
        "The number of failed WATCH/LIST requests",
        m.k8s_failures.clone(),
    );
    registry.register(
        "prometheus_target_sync_length_histogram_seconds",
        "Actual interval to sync the scrape pool",
        m.sync_length.clone(),
    );
    registry.register(
        "prometheus_target_interval_length_histogram_seconds",
        "Actual intervals between scrapes",
        m.interval_length.clone(),
    );
    registry.register(
        "prometheus_target_scrape_pools",
        "Total number of scrape pool creation attempts",
        m.scrape_pools.clone(),
    );
    registry.register(
        "prometheus_target_scrape_pool_targets",
        "Current number of targets in this scrape pool",
        m.pool_targets.clone(),
    );
    registry.register(
        "prometheus_target_scrapes_exceeded_sample_limit",
        "Total number of scrapes that hit the sample limit and were rejected",
        m.exceeded_sample_limit.clone(),
    );
    registry.register(
        "prometheus_target_scrapes_exceeded_body_size_limit",
        "Total number of scrapes that hit the body size limit",
        m.exceeded_body_size_limit.clone(),
    );
    registry.register(
        "prometheus_target_scrapes_sample_duplicate_timestamp",
        "Total number of samples rejected due to duplicate timestamps but different values",
        m.duplicate_timestamps.clone(),
    );
    registry.register(
        "tianshu_scrape_work_slot_wait_seconds",
        "Time scrapes waited for a slot to parse and append their body, after the HTTP exchange (not part of scrape_duration_seconds)",
        m.work_slot_wait.clone(),
    );
}

/// The registry's text exposition, for tests and debugging.
pub fn render() -> String {
    let mut r = Registry::default();
    register(&mut r);
    let mut out = String::new();
    if prometheus_client::encoding::text::encode(&mut out, &r).is_err() {
        out.clear();
    }
    out
}

/// The value of the series written `series` (name and labels as exposed) in
/// [`render`]'s text; 0 when absent. For tests and debugging.
pub fn value(series: &str) -> f64 {
    render()
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_types_and_labels_are_prometheus_s() {
        get().k8s_event("pod", "add");
        get().discovered("metrics-unit").set(3);
        let text = render();
        for line in [
            "# TYPE prometheus_sd_kubernetes_events counter",
            "prometheus_sd_kubernetes_events_total{event=\"update\",role=\"ingress\"} 0",
            "# TYPE prometheus_sd_kubernetes_failures counter",
            "prometheus_sd_failed_configs{name=\"scrape\"} 0",
            "prometheus_sd_received_updates_total{name=\"scrape\"}",
            "prometheus_sd_updates_total{name=\"scrape\"}",
            "prometheus_sd_discovered_targets{config=\"metrics-unit\",name=\"scrape\"} 3",
            "# TYPE prometheus_sd_file_scan_duration_seconds histogram",
            "prometheus_sd_file_read_errors_total",
            "# TYPE tianshu_scrape_work_slot_wait_seconds histogram",
        ] {
            assert!(text.contains(line), "{line:?} missing from:\n{text}");
        }
        get().forget_job("metrics-unit");
        assert!(!render().contains("config=\"metrics-unit\""));
    }
}
