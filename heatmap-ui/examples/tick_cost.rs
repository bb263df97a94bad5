//! What one live tick costs the server per panel query: `cargo run --release -p
//! tianshu-heatmap-ui --example tick_cost [series]`. Loads `series` pods (default 10,000)
//! with two minutes of 1 s samples and a 12-bucket histogram, then times
//! [`evaluate_tick`] of each typical panel query at successive steps.

use std::time::Instant;

use tianshu_heatmap_ui::live::evaluate_tick;
use tianshu_query::{Engine, EngineOptions};
use tianshu_tsdb::{Db, DbOptions, Labels, Sample, SeriesSamples};

const T0: i64 = 1_700_000_000_000;
const SECONDS: i64 = 120;
const TICKS: i64 = 30;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let tmp = tempfile::tempdir().expect("tmp");
    let db = Db::open(tmp.path(), DbOptions::default()).expect("open");
    for s in 0..SECONDS {
        let t = T0 + s * 1000;
        let mut batch: Vec<SeriesSamples> = (0..n)
            .map(|p| SeriesSamples {
                labels: Labels::from_pairs([
                    ("__name__", "pod_cpu_seconds_total".to_string()),
                    ("pod", format!("pod-{p}")),
                    ("node", format!("node-{}", p % 100)),
                ]),
                samples: vec![Sample::new(t, (s as f64) * ((p % 7) as f64 + 0.5))],
            })
            .collect();
        for (i, le) in [
            "0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2",
            "+Inf",
        ]
        .iter()
        .enumerate()
        {
            batch.push(SeriesSamples {
                labels: Labels::from_pairs([("__name__", "req_seconds_bucket"), ("le", le)]),
                samples: vec![Sample::new(t, (s * (i as i64 + 1) * 10) as f64)],
            });
        }
        db.append(&batch).expect("append");
    }
    let engine = Engine::new(EngineOptions::default());
    let panels = [
        (
            "entity heatmap (one cell per pod)",
            "rate(pod_cpu_seconds_total[10s])",
        ),
        (
            "time series (sum by node)",
            "sum by (node) (rate(pod_cpu_seconds_total[10s]))",
        ),
        ("stat (total)", "sum(rate(pod_cpu_seconds_total[10s]))"),
        (
            "histogram heatmap",
            "sum by (le) (rate(req_seconds_bucket[10s]))",
        ),
    ];
    println!("{n} pods, {TICKS} ticks each; time per tick per panel query:");
    for (name, q) in panels {
        let queries = [q.to_string()];
        let start = Instant::now();
        for k in 0..TICKS {
            let t = T0 + (SECONDS - TICKS + k) * 1000;
            let r = evaluate_tick(&engine, &db, &queries, t);
            std::hint::black_box(r);
        }
        let per = start.elapsed() / TICKS as u32;
        println!("  {name:<36} {per:>10.2?}   {q}");
    }
}
