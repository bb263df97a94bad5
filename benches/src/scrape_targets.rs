//! The scrape benchmark's targets: one in-process HTTP server with one listener per
//! target, each answering `GET /metrics` with `S` series of node_exporter /
//! kube-state-metrics-like text exposition whose counters advance on every scrape.
//!
//! Every target serves the same series (label sets, `# HELP` and `# TYPE` lines), as
//! identical exporters on different hosts do: the scraper's `instance` label tells them
//! apart. Values differ per target and per scrape. The label text of all series is
//! rendered once into a shared [`Template`]; a request only writes values between the
//! prefixes, so serving costs little next to the scrapers being measured.
//!
//! Series mix (share of `S`; the last family takes the remainder):
//!
//! | family | type | share | labels |
//! |---|---|---:|---|
//! | `node_cpu_seconds_total` | counter, 2 decimals | 20% | `cpu`, `mode` (8 modes) |
//! | `node_network_receive_bytes_total` | counter | 10% | `device` |
//! | `node_filesystem_avail_bytes` | gauge (moves) | 10% | `device`, `fstype`, `mountpoint` |
//! | `kube_pod_status_phase` | gauge 0/1 (constant) | 25% | `namespace`, `pod`, `uid`, `phase` (5 phases) |
//! | `kube_pod_container_status_restarts_total` | counter (rarely moves) | 10% | `namespace`, `pod`, `uid`, `container` |
//! | `http_request_duration_seconds` | histogram | 25% | `handler`, `method`, `code`, `le` (10 buckets, `_sum`, `_count`) |

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// How a series' value moves from one scrape to the next.
#[derive(Clone, Copy, Debug)]
enum ValueKind {
    /// Counter in hundredths, printed with two decimals (`node_cpu_seconds_total`).
    Centis,
    /// Integer counter.
    Counter,
    /// Integer counter that moves once every 64 scrapes.
    Rare,
    /// Gauge that wanders around a base.
    Gauge,
    /// 0 or 1, fixed for the series.
    Flag(bool),
    /// Cumulative histogram bucket `bucket` of `buckets` (the last is `+Inf` and `_count`).
    Bucket { bucket: u8, buckets: u8 },
    /// Histogram `_sum` in seconds, three decimals.
    HistSum,
}

/// One series: its text up to the value (with the family's `# HELP`/`# TYPE` lines before
/// the first series of a family) and how its value moves.
struct SeriesTemplate {
    /// Byte range of the prefix in [`Template::text`].
    start: u32,
    end: u32,
    kind: ValueKind,
}

/// The rendered label text of every series, shared by all targets.
pub struct Template {
    text: String,
    series: Vec<SeriesTemplate>,
}

const CPU_MODES: [&str; 8] = [
    "idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user",
];
const PHASES: [&str; 5] = ["Failed", "Pending", "Running", "Succeeded", "Unknown"];
const LE: [&str; 9] = [
    "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "+Inf",
];
const HANDLERS: [&str; 4] = ["/api/v1/query", "/api/v1/write", "/metrics", "/healthz"];

impl Template {
    /// Renders `series` series (at least 12).
    pub fn new(series: usize) -> Template {
        let series = series.max(12);
        let share = |pct: usize| series * pct / 100;
        let mut b = Builder::default();
        let n = share(20);
        b.family(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
            "counter",
        );
        for i in 0..n {
            let (cpu, mode) = (i / CPU_MODES.len(), CPU_MODES[i % CPU_MODES.len()]);
            b.series(
                &format!("node_cpu_seconds_total{{cpu=\"{cpu}\",mode=\"{mode}\"}}"),
                ValueKind::Centis,
            );
        }
        let n = share(10);
        b.family(
            "node_network_receive_bytes_total",
            "Network device statistic receive_bytes.",
            "counter",
        );
        for i in 0..n {
            b.series(
                &format!("node_network_receive_bytes_total{{device=\"veth{i:08x}\"}}"),
                ValueKind::Counter,
            );
        }
        let n = share(10);
        b.family(
            "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.",
            "gauge",
        );
        for i in 0..n {
            b.series(
                &format!(
                    "node_filesystem_avail_bytes{{device=\"/dev/nvme{}n1p{}\",fstype=\"ext4\",mountpoint=\"/var/lib/kubelet/pods/{i:06}/volumes\"}}",
                    i % 4,
                    i % 16
                ),
                ValueKind::Gauge,
            );
        }
        let n = share(25);
        b.family("kube_pod_status_phase", "The pods current phase.", "gauge");
        for i in 0..n {
            let pod = i / PHASES.len();
            let phase = PHASES[i % PHASES.len()];
            b.series(
                &format!(
                    "kube_pod_status_phase{{namespace=\"{}\",pod=\"{}\",uid=\"{}\",phase=\"{phase}\"}}",
                    namespace(pod),
                    pod_name(pod),
                    uid(pod)
                ),
                ValueKind::Flag(phase == "Running"),
            );
        }
        let n = share(10);
        b.family(
            "kube_pod_container_status_restarts_total",
            "The number of container restarts per container.",
            "counter",
        );
        for pod in 0..n {
            b.series(
                &format!(
                    "kube_pod_container_status_restarts_total{{namespace=\"{}\",pod=\"{}\",uid=\"{}\",container=\"app\"}}",
                    namespace(pod),
                    pod_name(pod),
                    uid(pod)
                ),
                ValueKind::Rare,
            );
        }
        // The histogram takes what is left, in whole label sets where possible.
        let left = series - b.series.len();
        b.family(
            "http_request_duration_seconds",
            "Latency of HTTP requests.",
            "histogram",
        );
        let buckets = LE.len() as u8;
        let per_set = LE.len() + 2;
        let mut set = 0;
        let mut emitted = 0;
        while emitted < left {
            let labels = format!(
                "handler=\"{}\",method=\"{}\",code=\"{}\"",
                HANDLERS[set % HANDLERS.len()],
                if set % 3 == 0 { "POST" } else { "GET" },
                200 + (set / HANDLERS.len()) % 400
            );
            for (k, le) in LE.iter().enumerate() {
                if emitted == left {
                    break;
                }
                b.series(
                    &format!("http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}}"),
                    ValueKind::Bucket {
                        bucket: k as u8,
                        buckets,
                    },
                );
                emitted += 1;
            }
            if emitted < left {
                b.series(
                    &format!("http_request_duration_seconds_sum{{{labels}}}"),
                    ValueKind::HistSum,
                );
                emitted += 1;
            }
            if emitted < left {
                b.series(
                    &format!("http_request_duration_seconds_count{{{labels}}}"),
                    ValueKind::Bucket {
                        bucket: buckets - 1,
                        buckets,
                    },
                );
                emitted += 1;
            }
            set += 1;
            debug_assert!(per_set > 0);
        }
        Template {
            text: b.text,
            series: b.series,
        }
    }

    pub fn series(&self) -> usize {
        self.series.len()
    }

    /// The body target `target` serves on its `scrape`-th request.
    pub fn render(&self, target: u64, scrape: u64, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.text.len() + self.series.len() * 16);
        let mut num = String::with_capacity(32);
        for (i, s) in self.series.iter().enumerate() {
            out.extend_from_slice(&self.text.as_bytes()[s.start as usize..s.end as usize]);
            let h = mix(target, i as u64);
            num.clear();
            // Writing to a String cannot fail.
            let _ = match s.kind {
                ValueKind::Centis => {
                    let v = h % 100_000_000 + scrape * (1 + h % 97);
                    write!(num, "{}.{:02}", v / 100, v % 100)
                }
                ValueKind::Counter => write!(num, "{}", h % (1 << 40) + scrape * (h % 4096)),
                ValueKind::Rare => write!(num, "{}", h % 5 + scrape / 64),
                ValueKind::Gauge => {
                    let wobble = mix(h, scrape) % 1_000_000;
                    write!(num, "{}", (h % (1 << 38)) + wobble)
                }
                ValueKind::Flag(on) => write!(num, "{}", u8::from(on)),
                ValueKind::Bucket { bucket, buckets } => {
                    // Cumulative: bucket k holds (k+1)/buckets of the requests.
                    let total = h % 1_000_000 + scrape * (1 + h % 50);
                    write!(
                        num,
                        "{}",
                        total * (u64::from(bucket) + 1) / u64::from(buckets)
                    )
                }
                ValueKind::HistSum => {
                    let v = h % 10_000_000 + scrape * (1 + h % 200);
                    write!(num, "{}.{:03}", v / 1000, v % 1000)
                }
            };
            out.extend_from_slice(num.as_bytes());
            out.push(b'\n');
        }
    }
}

#[derive(Default)]
struct Builder {
    text: String,
    series: Vec<SeriesTemplate>,
    /// The family header waiting for its first series.
    pending: String,
}

impl Builder {
    fn family(&mut self, name: &str, help: &str, kind: &str) {
        self.pending = format!("# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    fn series(&mut self, text: &str, kind: ValueKind) {
        let start = self.text.len() as u32;
        self.text.push_str(&std::mem::take(&mut self.pending));
        self.text.push_str(text);
        self.text.push(' ');
        self.series.push(SeriesTemplate {
            start,
            end: self.text.len() as u32,
            kind,
        });
    }
}

fn namespace(pod: usize) -> String {
    format!("team-{:02}", pod % 23)
}

fn pod_name(pod: usize) -> String {
    format!("checkout-{:08x}-{:05x}", mix(pod as u64, 1) as u32, pod)
}

fn uid(pod: usize) -> String {
    let h = mix(pod as u64, 2);
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        h as u32,
        (h >> 32) as u16,
        (h >> 48) & 0xfff,
        (h >> 20) & 0xfff,
        mix(h, 3) & 0xffff_ffff_ffff
    )
}

/// SplitMix64 of two inputs: stable per (target, series) so values differ between targets.
fn mix(a: u64, b: u64) -> u64 {
    let mut z = a
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(b)
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The running targets. Dropping it leaves the server running until the process ends
/// (it lives on its own threads); the benchmark process exits after the run.
pub struct Targets {
    pub addrs: Vec<SocketAddr>,
    /// Requests answered, over all targets.
    pub requests: Arc<AtomicU64>,
    pub series: usize,
}

struct TargetState {
    index: u64,
    scrapes: AtomicU64,
    template: Arc<Template>,
    requests: Arc<AtomicU64>,
}

/// Starts `targets` listeners on 127.0.0.1 on a runtime with `threads` workers.
pub fn start(targets: usize, series: usize, threads: usize) -> Result<Targets, String> {
    let template = Arc::new(Template::new(series));
    let requests = Arc::new(AtomicU64::new(0));
    let mut listeners = Vec::with_capacity(targets);
    for _ in 0..targets {
        let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
        l.set_nonblocking(true)
            .map_err(|e| format!("nonblocking: {e}"))?;
        listeners.push(l);
    }
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr().map_err(|e| format!("local addr: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .thread_name("targets")
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let n_series = template.series();
    let reqs = requests.clone();
    std::thread::Builder::new()
        .name("targets".into())
        .spawn(move || {
            rt.block_on(async move {
                let mut tasks = Vec::new();
                for (i, l) in listeners.into_iter().enumerate() {
                    let state = Arc::new(TargetState {
                        index: i as u64,
                        scrapes: AtomicU64::new(0),
                        template: template.clone(),
                        requests: reqs.clone(),
                    });
                    let Ok(listener) = tokio::net::TcpListener::from_std(l) else {
                        continue;
                    };
                    let app = axum::Router::new()
                        .route("/metrics", axum::routing::get(metrics))
                        .with_state(state);
                    tasks.push(tokio::spawn(async move {
                        let _ = axum::serve(listener, app).await;
                    }));
                }
                for t in tasks {
                    let _ = t.await;
                }
            })
        })
        .map_err(|e| format!("spawning the target server: {e}"))?;
    Ok(Targets {
        addrs,
        requests,
        series: n_series,
    })
}

async fn metrics(State(t): State<Arc<TargetState>>) -> Response {
    let scrape = t.scrapes.fetch_add(1, Ordering::Relaxed);
    t.requests.fetch_add(1, Ordering::Relaxed);
    let mut body = Vec::new();
    t.template.render(t.index, scrape, &mut body);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        Body::from(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_requested_series_and_moves_counters() {
        let t = Template::new(1000);
        assert_eq!(t.series(), 1000);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        t.render(3, 0, &mut a);
        t.render(3, 1, &mut b);
        let a = String::from_utf8(a).expect("utf8");
        let b = String::from_utf8(b).expect("utf8");
        let samples = |s: &str| s.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples(&a), 1000);
        assert_eq!(samples(&b), 1000);
        let first = |s: &str| s.lines().find(|l| !l.starts_with('#')).map(str::to_string);
        assert_ne!(first(&a), first(&b), "counters advance per scrape");
        assert!(a.starts_with("# HELP node_cpu_seconds_total "));
        assert!(a.contains("# TYPE http_request_duration_seconds histogram\n"));
        let mut c = Vec::new();
        t.render(4, 0, &mut c);
        assert_ne!(a.as_bytes(), &c[..], "targets differ in values");
    }
}
