//! What one live tick costs the server per panel query: `cargo run --release -p
//! tianshu-heatmap-ui --example tick_cost [series] [tabs]`. Loads `series` pods (default
//! 10,000) with two minutes of 1 s samples and a 12-bucket histogram, then times each
//! typical panel query at successive steps for `tabs` browser tabs (default 8) on the same
//! dashboard: each stream evaluating and encoding on its own (`alone`, what every stream
//! did before the hub), and through the shared [`LiveHub`] (`hub`).
//!
//! `tick_cost [series] [tabs] profile [panel] [ticks]` evaluates only panel `panel`
//! (0-3, default 0) alone for `ticks` ticks (default 30), in [`tick`], for callgrind:
//! `valgrind --tool=callgrind --toggle-collect='*tick_cost::tick*' …`. The first tick,
//! which fills whatever the storage keeps between ticks, is collected too.

use std::sync::Arc;
use std::time::Instant;

use tianshu_heatmap_ui::live::evaluate_tick;
use tianshu_heatmap_ui::LiveHub;
use tianshu_query::{Engine, EngineOptions};
use tianshu_tsdb::{Db, DbOptions, Labels, Sample, SeriesSamples};

const T0: i64 = 1_700_000_000_000;
const SECONDS: i64 = 120;
const TICKS: i64 = 30;

/// The typical panel queries of a dashboard: name and query.
const PANELS: [(&str, &str); 4] = [
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

/// One stream's tick, evaluated and encoded as the hub sends it.
#[inline(never)]
fn tick(engine: &Engine, db: &Db, queries: &[String], t: i64) -> String {
    let r = evaluate_tick(engine, db, queries, t);
    serde_json::to_string(&r).expect("json")
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (n, tabs) = (arg(1, 10_000), arg(2, 8));
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
    let db = Arc::new(db);
    let engine = Arc::new(Engine::new(EngineOptions::default()));
    if std::env::args().nth(3).as_deref() == Some("profile") {
        let panel = arg(4, 0).min(PANELS.len() - 1);
        let queries = [PANELS[panel].1.to_string()];
        let ticks = (arg(5, TICKS as usize) as i64).clamp(1, SECONDS);
        let start = Instant::now();
        for k in 0..ticks {
            let t = T0 + (SECONDS - ticks + k) * 1000;
            std::hint::black_box(tick(&engine, &db, &queries, t));
        }
        println!(
            "{n} pods, {ticks} ticks of {}: {:.2?} per tick",
            queries[0],
            start.elapsed() / ticks as u32
        );
        return;
    }
    let panels = PANELS;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let slots = Arc::new(tokio::sync::Semaphore::new(20));
    println!(
        "{n} pods, {TICKS} ticks each; server time per tick per panel query, \
         for 1 and {tabs} tabs (streams):"
    );
    println!(
        "  {:<36} {:>10} {:>10} {:>10} {:>10}",
        "",
        "alone ×1",
        "hub ×1",
        format!("alone ×{tabs}"),
        format!("hub ×{tabs}")
    );
    for (name, q) in panels {
        let queries = [q.to_string()];
        // Before the hub: each stream evaluated and encoded its own tick.
        let alone = |streams: usize| {
            let start = Instant::now();
            for k in 0..TICKS {
                let t = T0 + (SECONDS - TICKS + k) * 1000;
                for _ in 0..streams {
                    std::hint::black_box(tick(&engine, &db, &queries, t));
                }
            }
            start.elapsed() / TICKS as u32
        };
        // Through the hub: the streams of one tick ask at once, as tabs do.
        let hubbed = |streams: usize| {
            let hub = Arc::new(LiveHub::new(engine.clone(), db.clone(), slots.clone()));
            let qs: Vec<Arc<str>> = vec![Arc::from(q)];
            let start = Instant::now();
            rt.block_on(async {
                for k in 0..TICKS {
                    let t = T0 + (SECONDS - TICKS + k) * 1000;
                    let mut set = tokio::task::JoinSet::new();
                    for _ in 0..streams {
                        let (hub, qs) = (hub.clone(), qs.clone());
                        set.spawn(async move { hub.results(&qs, 1000, t).await });
                    }
                    std::hint::black_box(set.join_all().await);
                }
            });
            start.elapsed() / TICKS as u32
        };
        let (a1, h1, an, hn) = (alone(1), hubbed(1), alone(tabs), hubbed(tabs));
        println!("  {name:<36} {a1:>10.2?} {h1:>10.2?} {an:>10.2?} {hn:>10.2?}   {q}");
    }
}
