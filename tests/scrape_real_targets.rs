//! Scraping real targets at 1 s: node_exporter and Prometheus's own `/metrics`, scraped by
//! Tianshu and, at the same time and interval, by a real Prometheus 2.42. Tianshu's
//! targets are up, the expected series exist, and `rate()` over counters agrees with what
//! Prometheus computes from its own scrapes of the same targets.
//!
//! The two scrape the same counters at different phases of the second, so their rates
//! differ by sampling alone. The allowed difference is derived from the data: moving
//! a window's ends by less than one interval changes its increase by at most the two
//! largest single-interval increases, over a span at least the window less two intervals.

mod common;
mod scrape_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{
    free_port, now_ms, parse_sample_value, query_instant, require_binary, start_prometheus, Proc,
    Tianshu, PROMETHEUS,
};
use scrape_support::wait_for;
use serde_json::Value;

const NODE_EXPORTER: &str = "/usr/bin/prometheus-node-exporter";
const LIMIT: Duration = Duration::from_secs(180);
/// The rate window, seconds.
const WINDOW_S: f64 = 30.0;
const INTERVAL_S: f64 = 1.0;

fn start_node_exporter(dir: &Path) -> (Proc, String) {
    let port = free_port();
    let args: Vec<String> = [
        format!("--web.listen-address=127.0.0.1:{port}"),
        "--collector.disable-defaults".into(),
        "--collector.cpu".into(),
        "--collector.loadavg".into(),
        "--collector.meminfo".into(),
        "--collector.stat".into(),
    ]
    .into();
    let mut node = Proc::spawn("node_exporter", NODE_EXPORTER, &args, &dir.join("node.log"));
    let addr = format!("127.0.0.1:{port}");
    node.wait_http_ok(&format!("http://{addr}/metrics"));
    (node, addr)
}

fn scrape_config(node: &str, prom: &str) -> String {
    format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['{node}']
  - job_name: prometheus
    static_configs:
      - targets: ['{prom}']
"
    )
}

/// Series key (labels without `__name__`) → value of an instant vector.
fn vector(base: &str, q: &str, t: i64) -> BTreeMap<String, f64> {
    let data = query_instant(base, q, t);
    data["result"]
        .as_array()
        .unwrap_or_else(|| panic!("{q}: not a vector: {data}"))
        .iter()
        .map(|s| (key(&s["metric"]), parse_sample_value(&s["value"][1])))
        .collect()
}

fn key(metric: &Value) -> String {
    let mut m = metric.as_object().cloned().unwrap_or_default();
    m.remove("__name__");
    serde_json::to_string(&m).unwrap_or_default()
}

/// Largest increase between consecutive raw samples of each series of `selector` in the
/// window before `t` (counter resets count as their new value).
fn max_step(base: &str, selector: &str, t: i64) -> BTreeMap<String, f64> {
    let data = query_instant(base, &format!("{selector}[{}s]", WINDOW_S as i64 + 2), t);
    data["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            let vals: Vec<f64> = s["values"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| parse_sample_value(&p[1]))
                .collect();
            let step = vals
                .windows(2)
                .map(|w| if w[1] >= w[0] { w[1] - w[0] } else { w[1] })
                .fold(0.0, f64::max);
            (key(&s["metric"]), step)
        })
        .collect()
}

#[test]
fn real_targets_scraped_at_one_second_agree_with_prometheus() {
    require_binary(PROMETHEUS);
    require_binary(NODE_EXPORTER);
    let dir = tempfile::tempdir().expect("tempdir");
    let (_node, node_addr) = start_node_exporter(dir.path());
    let prom_port = free_port();
    let prom_addr = format!("127.0.0.1:{prom_port}");
    let cfg = scrape_config(&node_addr, &prom_addr);
    let (_prom, prom_url) = start_prometheus(dir.path(), prom_port, &cfg, &[]);
    let cfg_path = dir.path().join("tianshu.yml");
    std::fs::write(&cfg_path, &cfg).expect("write config");
    let ts = Tianshu::start(&["--config", cfg_path.to_str().expect("utf-8")]);
    let base = ts.url("");

    // Both have a full rate window of 1-second samples of both targets.
    let need = WINDOW_S as usize + 5;
    wait_for(LIMIT, "a full window of scrapes in both", || {
        let t = now_ms();
        let enough = |b: &str| {
            let d = query_instant(b, "count_over_time(up[60s])", t);
            let counts: Vec<f64> = d["result"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|s| parse_sample_value(&s["value"][1]))
                .collect();
            counts.len() == 2 && counts.iter().all(|c| *c as usize >= need)
        };
        (enough(&base) && enough(&prom_url)).then_some(())
    });

    let t = now_ms() - 2_000;
    let up = vector(&base, "up", t);
    assert_eq!(up.len(), 2, "{up:?}");
    assert!(up.values().all(|v| *v == 1.0), "{up:?}");
    for q in [
        "node_cpu_seconds_total",
        "node_load1",
        "node_memory_MemTotal_bytes",
        "node_boot_time_seconds",
        "prometheus_build_info",
        "prometheus_tsdb_head_series",
        "scrape_duration_seconds",
        "scrape_samples_scraped",
        "scrape_samples_post_metric_relabeling",
        "scrape_series_added",
    ] {
        assert!(!vector(&base, q, t).is_empty(), "{q} missing in Tianshu");
    }
    // Same series set for a whole family as Prometheus scraped.
    let ours: Vec<String> = vector(&base, "node_cpu_seconds_total", t)
        .into_keys()
        .collect();
    let theirs: Vec<String> = vector(&prom_url, "node_cpu_seconds_total", t)
        .into_keys()
        .collect();
    assert_eq!(ours, theirs);

    let counters = [
        "promhttp_metric_handler_requests_total{job=\"node\"}",
        "node_cpu_seconds_total{mode=~\"idle|user|system\"}",
        "node_context_switches_total",
        "prometheus_tsdb_head_samples_appended_total",
        // Tianshu may hold its own process series beside the scraped ones.
        "process_cpu_seconds_total{job=~\"node|prometheus\"}",
    ];
    let mut compared = 0;
    for sel in counters {
        let q = format!("rate({sel}[{}s])", WINDOW_S as i64);
        let ours = vector(&base, &q, t);
        let theirs = vector(&prom_url, &q, t);
        assert_eq!(
            ours.keys().collect::<Vec<_>>(),
            theirs.keys().collect::<Vec<_>>(),
            "{q}: different series"
        );
        let step_ours = max_step(&base, sel, t);
        let step_theirs = max_step(&prom_url, sel, t);
        for (k, r) in &ours {
            let p = theirs[k];
            let step = step_ours
                .get(k)
                .copied()
                .unwrap_or(0.0)
                .max(step_theirs.get(k).copied().unwrap_or(0.0));
            let tol = 2.0 * step / (WINDOW_S - 2.0 * INTERVAL_S) + 1e-9;
            assert!(
                (r - p).abs() <= tol,
                "{q} {k}: Tianshu {r}, Prometheus {p}, allowed difference {tol}"
            );
            compared += 1;
        }
    }
    assert!(compared >= 5, "only {compared} rates compared");
}
