//! The benchmark's data: a Kubernetes cluster's series (node_exporter, cAdvisor,
//! kube-state-metrics and an application's classic histogram), with values at 1-second
//! resolution, all deterministic from a seed.
//!
//! Every series owns its own random stream, seeded from (seed, series index), so the
//! values do not depend on how the series are later split into requests or connections.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Label name and value of one series, `__name__` first as remote-write senders do.
pub type LabelSet = Vec<(&'static str, String)>;

/// How a series' value moves from one second to the next.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Kind {
    /// A counter of hundredths (node_exporter prints CPU seconds with two decimals);
    /// `rate_centis` is the mean increase per second.
    Counter { rate_centis: u32 },
    /// A random walk of integer bytes around `base`.
    Gauge { base: u64, jitter: u64 },
    /// A value that never changes (kube-state-metrics' 0/1 phases).
    Constant(f64),
    /// One series of a classic histogram; all members of a histogram share `group`.
    Histogram { group: u32, part: HistPart },
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HistPart {
    Bucket(usize),
    Sum,
    Count,
}

/// Upper bounds of the application histogram's buckets (seconds); `+Inf` is implied.
pub const BUCKETS: [f64; 5] = [0.01, 0.05, 0.1, 0.5, 1.0];

#[derive(Clone, Debug)]
pub struct SeriesDef {
    pub labels: LabelSet,
    pub kind: Kind,
}

/// The whole workload: series, and the time grid their samples lie on.
#[derive(Clone, Debug)]
pub struct Workload {
    pub series: Vec<SeriesDef>,
    pub seed: u64,
    /// Timestamp of the first sample (ms). Samples lie on `start_ms + i * 1000`.
    pub start_ms: i64,
    pub duration_secs: u32,
    /// Number of classic histograms (each is `BUCKETS.len() + 1` buckets, `_sum`, `_count`).
    pub histograms: u32,
}

const NAMESPACES: [&str; 8] = [
    "default",
    "kube-system",
    "monitoring",
    "payments",
    "checkout",
    "search",
    "kube-public",
    "ingress-nginx",
];
const APPS: [&str; 10] = [
    "api", "web", "worker", "cache", "gateway", "auth", "billing", "indexer", "proxy", "cron",
];
const CPU_MODES: [&str; 8] = [
    "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
];
const PHASES: [&str; 5] = ["Failed", "Pending", "Running", "Succeeded", "Unknown"];
const POD_SERIES: usize = 2 + 2 + PHASES.len() + BUCKETS.len() + 3;

impl Workload {
    /// At most `target_series` series (whole nodes and pods, so a little fewer), with
    /// samples ending at `end_ms` (rounded down to a whole second, then moved half a second
    /// earlier so that no sample lies on a query's evaluation time or window edge: range
    /// windows are closed on the left in Prometheus 2.x and open in VictoriaMetrics).
    pub fn generate(target_series: usize, duration_secs: u32, seed: u64, end_ms: i64) -> Self {
        let mut rng = StdRng::seed_from_u64(seed);
        let big = target_series >= 400;
        let cpus = if big { 4 } else { 1 };
        let nodes = (target_series / 375).max(1);
        let mut series = Vec::with_capacity(target_series);
        let node_names: Vec<String> = (0..nodes)
            .map(|i| format!("ip-10-0-{}-{}.ec2.internal", i / 250, i % 250 + 2))
            .collect();
        for (i, node) in node_names.iter().enumerate() {
            let instance = format!("10.0.{}.{}:9100", i / 250, i % 250 + 2);
            let common = |name: &'static str| -> LabelSet {
                vec![
                    ("__name__", name.to_string()),
                    ("instance", instance.clone()),
                    ("job", "node-exporter".to_string()),
                    ("node", node.clone()),
                ]
            };
            for cpu in 0..cpus {
                for mode in CPU_MODES {
                    let mut l = common("node_cpu_seconds_total");
                    l.push(("cpu", cpu.to_string()));
                    l.push(("mode", mode.to_string()));
                    let rate_centis = match mode {
                        "idle" => rng.random_range(40..95),
                        "user" | "system" => rng.random_range(2..50),
                        _ => rng.random_range(0..3),
                    };
                    series.push(SeriesDef {
                        labels: l,
                        kind: Kind::Counter { rate_centis },
                    });
                }
            }
            series.push(SeriesDef {
                labels: common("node_memory_MemAvailable_bytes"),
                kind: Kind::Gauge {
                    base: rng.random_range(4u64 << 30..28u64 << 30),
                    jitter: 4 << 20,
                },
            });
            for device in ["eth0", "lo"] {
                let mut l = common("node_network_receive_bytes_total");
                l.push(("device", device.to_string()));
                series.push(SeriesDef {
                    labels: l,
                    kind: Kind::Counter {
                        rate_centis: rng.random_range(100_000..5_000_000),
                    },
                });
            }
        }
        if series.len() > target_series {
            series.truncate(target_series);
        }
        let mut histograms = 0u32;
        let mut pod_index = 0usize;
        while series.len() + POD_SERIES <= target_series {
            let node = &node_names[pod_index % nodes];
            let namespace = NAMESPACES[rng.random_range(0..NAMESPACES.len())];
            let app = APPS[rng.random_range(0..APPS.len())];
            let pod = format!(
                "{app}-{:08x}-{:05x}",
                rng.random::<u32>(),
                rng.random_range(0..0x100000u32)
            );
            push_pod(
                &mut series,
                &mut rng,
                namespace,
                &pod,
                node,
                app,
                histograms,
            );
            histograms += 1;
            pod_index += 1;
        }
        // Remote-write senders send labels sorted by name; receivers may insist on it.
        for s in &mut series {
            s.labels.sort_by(|a, b| a.0.cmp(b.0));
        }
        let end_ms = end_ms - end_ms.rem_euclid(1000) - 500;
        Workload {
            series,
            seed,
            start_ms: end_ms - (duration_secs.max(1) as i64 - 1) * 1000,
            duration_secs: duration_secs.max(1),
            histograms,
        }
    }

    pub fn end_ms(&self) -> i64 {
        self.start_ms + (self.duration_secs as i64 - 1) * 1000
    }

    pub fn total_samples(&self) -> u64 {
        self.series.len() as u64 * self.duration_secs as u64
    }

    /// Series whose metric name starts with `prefix`.
    pub fn count_with_prefix(&self, prefix: &str) -> usize {
        self.series
            .iter()
            .filter(|s| s.labels[0].1.starts_with(prefix))
            .count()
    }

    /// A generator of every series' values, second by second.
    pub fn values(&self) -> ValueStream {
        ValueStream::new(self)
    }
}

fn push_pod(
    series: &mut Vec<SeriesDef>,
    rng: &mut StdRng,
    namespace: &str,
    pod: &str,
    node: &str,
    app: &str,
    hist_group: u32,
) {
    let kubelet = |name: &'static str, container: &str| -> LabelSet {
        vec![
            ("__name__", name.to_string()),
            ("container", container.to_string()),
            ("instance", node.to_string()),
            ("job", "kubelet".to_string()),
            ("namespace", namespace.to_string()),
            ("node", node.to_string()),
            ("pod", pod.to_string()),
        ]
    };
    for container in [app, "istio-proxy"] {
        series.push(SeriesDef {
            labels: kubelet("container_cpu_usage_seconds_total", container),
            kind: Kind::Counter {
                rate_centis: rng.random_range(1..80),
            },
        });
    }
    for container in [app, "istio-proxy"] {
        series.push(SeriesDef {
            labels: kubelet("container_memory_working_set_bytes", container),
            kind: Kind::Gauge {
                base: rng.random_range(32u64 << 20..2u64 << 30),
                jitter: 256 << 10,
            },
        });
    }
    let running = rng.random_range(0..20) != 0;
    for phase in PHASES {
        let on = if running {
            phase == "Running"
        } else {
            phase == "Pending"
        };
        series.push(SeriesDef {
            labels: vec![
                ("__name__", "kube_pod_status_phase".to_string()),
                ("instance", "kube-state-metrics:8080".to_string()),
                ("job", "kube-state-metrics".to_string()),
                ("namespace", namespace.to_string()),
                ("phase", phase.to_string()),
                ("pod", pod.to_string()),
            ],
            kind: Kind::Constant(if on { 1.0 } else { 0.0 }),
        });
    }
    let app_labels = |name: &'static str| -> LabelSet {
        vec![
            ("__name__", name.to_string()),
            ("handler", "/api/v1/items".to_string()),
            ("instance", format!("{pod}:8080")),
            ("job", app.to_string()),
            ("namespace", namespace.to_string()),
            ("pod", pod.to_string()),
        ]
    };
    for (b, le) in BUCKETS
        .iter()
        .map(|le| le.to_string())
        .chain(std::iter::once("+Inf".to_string()))
        .enumerate()
    {
        let mut l = app_labels("http_request_duration_seconds_bucket");
        l.insert(3, ("le", le));
        series.push(SeriesDef {
            labels: l,
            kind: Kind::Histogram {
                group: hist_group,
                part: HistPart::Bucket(b),
            },
        });
    }
    for (name, part) in [
        ("http_request_duration_seconds_sum", HistPart::Sum),
        ("http_request_duration_seconds_count", HistPart::Count),
    ] {
        series.push(SeriesDef {
            labels: app_labels(name),
            kind: Kind::Histogram {
                group: hist_group,
                part,
            },
        });
    }
}

/// Per-series state advanced one second at a time; `next_second` yields every series'
/// value at the next timestamp, in series order.
pub struct ValueStream {
    kinds: Vec<Kind>,
    state: Vec<u64>,
    rngs: Vec<StdRng>,
    hist: Vec<HistState>,
    seed: u64,
    second: u32,
}

#[derive(Clone, Copy, Default)]
struct HistState {
    buckets: [u64; BUCKETS.len() + 1],
    /// Sum of observations in microseconds, so the `_sum` series is exact in decimal.
    sum_micros: u64,
    count: u64,
}

impl ValueStream {
    fn new(w: &Workload) -> Self {
        let kinds: Vec<Kind> = w.series.iter().map(|s| s.kind).collect();
        let rngs = (0..kinds.len())
            .map(|i| StdRng::seed_from_u64(w.seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)))
            .collect();
        let state = kinds
            .iter()
            .map(|k| match k {
                Kind::Gauge { base, .. } => *base,
                Kind::Counter { rate_centis } => *rate_centis as u64 * 86_400,
                _ => 0,
            })
            .collect();
        ValueStream {
            kinds,
            state,
            rngs,
            hist: vec![HistState::default(); w.histograms as usize],
            seed: w.seed,
            second: 0,
        }
    }

    /// Values of all series at the next second, written into `out` (resized to fit).
    pub fn next_second(&mut self, out: &mut Vec<f64>) {
        out.clear();
        self.advance_histograms();
        for i in 0..self.kinds.len() {
            let rng = &mut self.rngs[i];
            let v = match self.kinds[i] {
                Kind::Counter { rate_centis } => {
                    if self.second > 0 {
                        self.state[i] += rng.random_range(0..=2 * rate_centis as u64);
                    }
                    self.state[i] as f64 / 100.0
                }
                Kind::Gauge { base, jitter } => {
                    if self.second > 0 {
                        let step = rng.random_range(0..=2 * jitter);
                        let lo = base / 2;
                        self.state[i] = (self.state[i] + step).saturating_sub(jitter).max(lo);
                    }
                    self.state[i] as f64
                }
                Kind::Constant(v) => v,
                Kind::Histogram { group, part } => {
                    let h = &self.hist[group as usize];
                    match part {
                        HistPart::Bucket(b) => h.buckets[b] as f64,
                        HistPart::Sum => h.sum_micros as f64 / 1e6,
                        HistPart::Count => h.count as f64,
                    }
                }
            };
            out.push(v);
        }
        self.second += 1;
    }

    fn advance_histograms(&mut self) {
        if self.second == 0 {
            return;
        }
        // The members of a histogram must move together, so histograms draw from one
        // stream per second rather than from their series' own streams.
        let mut rng = StdRng::seed_from_u64(self.seed ^ (self.second as u64) << 32);
        for h in &mut self.hist {
            let observations = rng.random_range(0..40);
            for _ in 0..observations {
                // Mostly fast requests with a long tail, like a typical API.
                let micros: u64 = if rng.random_range(0..10) == 0 {
                    rng.random_range(100_000..2_000_000)
                } else {
                    rng.random_range(1_000..120_000)
                };
                let secs = micros as f64 / 1e6;
                for (b, le) in BUCKETS.iter().enumerate() {
                    if secs <= *le {
                        h.buckets[b] += 1;
                    }
                }
                h.buckets[BUCKETS.len()] += 1;
                h.sum_micros += micros;
                h.count += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_sized() {
        let a = Workload::generate(10_000, 5, 7, 1_700_000_000_123);
        let b = Workload::generate(10_000, 5, 7, 1_700_000_000_123);
        assert!(a.series.len() <= 10_000 && a.series.len() > 9_900);
        assert_eq!(a.start_ms % 1000, 500);
        let (mut va, mut vb) = (a.values(), b.values());
        let (mut xa, mut xb) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            va.next_second(&mut xa);
            vb.next_second(&mut xb);
            assert_eq!(xa, xb);
        }
        assert_eq!(
            a.series.iter().map(|s| &s.labels).collect::<Vec<_>>(),
            b.series.iter().map(|s| &s.labels).collect::<Vec<_>>()
        );
    }

    #[test]
    fn small_workload_has_every_family() {
        let w = Workload::generate(50, 60, 1, 1_700_000_000_000);
        for prefix in [
            "node_cpu",
            "node_memory",
            "container_cpu",
            "container_memory",
            "kube_pod",
            "http_request_duration_seconds_bucket",
        ] {
            assert!(w.count_with_prefix(prefix) > 0, "{prefix}");
        }
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let w = Workload::generate(400, 10, 3, 1_700_000_000_000);
        let mut vs = w.values();
        let mut v = Vec::new();
        for _ in 0..10 {
            vs.next_second(&mut v);
        }
        let first_bucket = w
            .series
            .iter()
            .position(|s| {
                matches!(
                    s.kind,
                    Kind::Histogram {
                        part: HistPart::Bucket(0),
                        ..
                    }
                )
            })
            .expect("a histogram");
        let buckets = &v[first_bucket..first_bucket + BUCKETS.len() + 1];
        assert!(buckets.windows(2).all(|p| p[0] <= p[1]));
        assert_eq!(v[first_bucket + BUCKETS.len() + 2], buckets[BUCKETS.len()]);
    }
}
