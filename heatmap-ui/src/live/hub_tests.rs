//! The hub: one evaluation per (query, step, tick) for any number of streams, the
//! query API's slots respected, the same answers as evaluating alone, and every
//! evaluation in `queries.active` while it runs.

use std::sync::Arc;
use std::time::Duration;

use tianshu_query::http::active_queries::{as_json_array, ActiveQuery, ActiveQueryLog};
use tianshu_query::{Engine, EngineOptions, QueryError, Queryable};
use tianshu_tsdb::{ChunkedSeries, Db, DbOptions, Labels, Matcher, Sample, Series, SeriesSamples};
use tokio::sync::Semaphore;

use super::hub::{tick_event_data, LiveHub, STALE_STEPS};
use super::tick::evaluate_tick;

const T0: i64 = 1_700_000_000_000;

struct Fixture {
    _tmp: tempfile::TempDir,
    db: Arc<Db>,
    hub: Arc<LiveHub>,
    slots: Arc<Semaphore>,
}

fn fixture(slots: usize) -> Fixture {
    let tmp = tempfile::tempdir().expect("tmp");
    let db = Db::open(tmp.path(), DbOptions::default()).expect("open");
    let batch: Vec<SeriesSamples> = (0..50)
        .map(|p| SeriesSamples {
            labels: Labels::from_pairs([
                ("__name__", "cpu_seconds_total".to_string()),
                ("pod", format!("p{p}")),
            ]),
            samples: (0..60)
                .map(|i| Sample::new(T0 + i * 1000, (i * (p + 1)) as f64))
                .collect(),
        })
        .collect();
    db.append(&batch).expect("append");
    let db = Arc::new(db);
    let slots = Arc::new(Semaphore::new(slots));
    let engine = Arc::new(Engine::new(EngineOptions::default()));
    let hub = Arc::new(LiveHub::new(engine, db.clone(), slots.clone()));
    Fixture {
        _tmp: tmp,
        db,
        hub,
        slots,
    }
}

fn q(s: &str) -> Arc<str> {
    Arc::from(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_asking_for_one_tick_share_one_evaluation() {
    let f = fixture(4);
    let hub = f.hub.clone();
    let queries = [
        q("rate(cpu_seconds_total[10s])"),
        q("sum(cpu_seconds_total)"),
    ];
    let t = T0 + 30_000;
    // Twenty tabs on one dashboard, all at the same tick.
    let mut tabs = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (hub, queries) = (hub.clone(), queries.clone());
        tabs.spawn(async move { hub.results(&queries, 1000, t).await });
    }
    let answers = tabs.join_all().await;
    assert_eq!(hub.evaluations(), 2, "one evaluation per query");
    assert!(answers.windows(2).all(|w| w[0] == w[1]));

    // The shared answer is what evaluating alone gives.
    let engine = Engine::new(EngineOptions::default());
    let alone = evaluate_tick(
        &engine,
        &*f.db,
        &queries.iter().map(|q| q.to_string()).collect::<Vec<_>>(),
        t,
    );
    let want = serde_json::json!({ "t": t as f64 / 1000.0, "results": alone });
    let got: serde_json::Value =
        serde_json::from_str(&tick_event_data(t, &answers[0])).expect("tick JSON");
    assert_eq!(got, want);

    // The next tick, and another step, are evaluations of their own; an old tick asked
    // late is answered without replacing the newest.
    hub.results(&queries[..1], 1000, t + 1000).await;
    hub.results(&queries[..1], 5000, t).await;
    assert_eq!(hub.evaluations(), 4);
    hub.results(&queries[..1], 1000, t).await;
    assert_eq!(hub.evaluations(), 5);
    hub.results(&queries[..1], 1000, t + 1000).await;
    assert_eq!(hub.evaluations(), 5, "the newest tick is still shared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_evaluations_wait_for_a_free_query_slot() {
    let f = fixture(1);
    let (hub, slots) = (f.hub.clone(), f.slots.clone());
    // The only slot is held, as by a long `/api/v1/query`.
    let held = slots.clone().acquire_owned().await.expect("slot");
    let pending = {
        let hub = hub.clone();
        tokio::spawn(async move { hub.results(&[q("sum(cpu_seconds_total)")], 1000, T0).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!pending.is_finished(), "evaluated without a slot");
    assert_eq!(hub.evaluations(), 0);
    drop(held);
    let r = pending.await.expect("task");
    assert!(r[0].contains("\"data\""), "{}", r[0]);
    assert_eq!(hub.evaluations(), 1);
    assert_eq!(slots.available_permits(), 1, "the slot is given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_nobody_asks_for_any_more_are_forgotten() {
    let f = fixture(2);
    let hub = f.hub.clone();
    hub.results(&[q("cpu_seconds_total"), q("up")], 1000, T0)
        .await;
    assert_eq!(hub.entry_count(), 2);
    for k in 1..=STALE_STEPS + 1 {
        hub.results(&[q("cpu_seconds_total")], 1000, T0 + k * 1000)
            .await;
    }
    assert_eq!(
        hub.entry_count(),
        1,
        "`up` was last asked {STALE_STEPS}+ steps ago"
    );
}

/// The database behind a gate: a read says it has started, then waits until the test
/// lets it through, so that an evaluation is held in flight without timing anything.
struct Gated {
    db: Arc<Db>,
    started: std::sync::mpsc::SyncSender<()>,
    gate: parking_lot::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl Gated {
    fn wait(&self) {
        let _ = self.started.send(());
        let _ = self.gate.lock().recv();
    }
}

impl Queryable for Gated {
    fn select(&self, m: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, QueryError> {
        self.wait();
        Queryable::select(&*self.db, m, mint, maxt)
    }

    fn select_chunks(
        &self,
        m: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ChunkedSeries>, QueryError> {
        self.wait();
        Queryable::select_chunks(&*self.db, m, mint, maxt)
    }
}

fn active(path: &std::path::Path) -> Vec<ActiveQuery> {
    let bytes = std::fs::read(path).expect("read queries.active");
    serde_json::from_str(&as_json_array(&bytes)).expect("queries.active is a JSON array")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_evaluation_is_in_queries_active_while_it_runs() {
    let f = fixture(2);
    let log_dir = tempfile::tempdir().expect("tmp");
    let (log, _) = ActiveQueryLog::open(log_dir.path(), 2).expect("open log");
    let log = Arc::new(log);
    let (started_tx, started) = std::sync::mpsc::sync_channel(16);
    let (open, gate) = std::sync::mpsc::channel();
    let gated = Arc::new(Gated {
        db: f.db.clone(),
        started: started_tx,
        gate: parking_lot::Mutex::new(gate),
    });
    let hub = Arc::new(
        LiveHub::new(
            Arc::new(Engine::new(EngineOptions::default())),
            gated,
            f.slots.clone(),
        )
        .with_active_queries(Some(log.clone())),
    );
    let query = "sum(rate(cpu_seconds_total[10s]))";
    let pending = {
        let hub = hub.clone();
        tokio::spawn(async move { hub.results(&[q(query)], 1000, T0 + 30_000).await })
    };
    tokio::task::spawn_blocking(move || started.recv())
        .await
        .expect("task")
        .expect("the evaluation reads the database");

    // In flight: recorded as the API records its queries.
    let running = active(log.path());
    assert_eq!(running.len(), 1, "{running:?}");
    assert_eq!(running[0].query, query);
    // Were the server to die now, the next start would report it.
    let crashed = tempfile::tempdir().expect("tmp");
    std::fs::copy(log.path(), crashed.path().join("queries.active")).expect("copy");
    let (_, unfinished) = ActiveQueryLog::open(crashed.path(), 2).expect("reopen");
    assert_eq!(
        unfinished
            .iter()
            .map(|e| e.query.as_str())
            .collect::<Vec<_>>(),
        [query]
    );

    for _ in 0..16 {
        let _ = open.send(());
    }
    let r = pending.await.expect("task");
    assert!(r[0].contains("\"data\""), "{}", r[0]);
    assert!(
        active(log.path()).is_empty(),
        "the entry is cleared when it ends"
    );
}
