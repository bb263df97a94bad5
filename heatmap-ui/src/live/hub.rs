//! One evaluation per (query, step, tick), however many live streams ask for it.
//!
//! Every browser tab on a dashboard opens its own stream with the same queries, and all
//! of them tick on the same whole steps. The hub keeps, per (query, step), the newest
//! tick asked for and a cell that the first stream to ask fills: the others wait on that
//! cell and get the same result, already encoded as JSON, so that ten tabs cost one
//! evaluation and one encoding instead of ten of each.
//!
//! Evaluations take a slot of the query API's `--query.max-concurrency` semaphore, the
//! same one `/api/v1/query` waits on, so that live panels queue behind (and beside) API
//! queries instead of adding evaluations beyond the limit. While it runs, an evaluation
//! is also recorded in `<data-dir>/queries.active` as an API query is, so that a live
//! panel's query that brings the server down is reported at the next start like any
//! other.
//!
//! | map key          | entry                                                          |
//! |------------------|----------------------------------------------------------------|
//! | (query, step ms) | the tick `t` it holds, and the cell with the JSON of its result |
//!
//! Entries of queries no stream asks for any more are dropped once they are
//! [`STALE_STEPS`] steps behind the newest tick of the hub.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tianshu_query::http::active_queries::ActiveQueryLog;
use tianshu_query::{Engine, Queryable};
use tokio::sync::{OnceCell, Semaphore};

use super::tick::{evaluate_one, TickResult};

/// How many steps an entry nobody asked for again is kept.
pub const STALE_STEPS: i64 = 8;

/// A result as sent: the JSON of a [`TickResult`].
pub type Encoded = Arc<str>;

type Key = (Arc<str>, i64);

struct Entry {
    /// The tick this entry's cell is for.
    t: i64,
    /// Filled once, by whichever stream asked first; the others await it.
    cell: Arc<OnceCell<Encoded>>,
}

/// The shared live evaluations of one server.
pub struct LiveHub {
    engine: Arc<Engine>,
    db: Arc<dyn Queryable>,
    /// The query API's evaluation slots (`--query.max-concurrency`).
    slots: Arc<Semaphore>,
    /// The query API's `queries.active`, which has one entry per slot: an evaluation
    /// holding a slot always finds a free entry. `None` when the server runs without it.
    active: Option<Arc<ActiveQueryLog>>,
    /// Invariant: every entry's `t` is a whole multiple of its key's step.
    entries: Mutex<HashMap<Key, Entry>>,
    /// Evaluations run since start; read by tests and the cost example.
    evaluations: std::sync::atomic::AtomicU64,
}

impl LiveHub {
    pub fn new(engine: Arc<Engine>, db: Arc<dyn Queryable>, slots: Arc<Semaphore>) -> LiveHub {
        LiveHub {
            engine,
            db,
            slots,
            active: None,
            entries: Mutex::new(HashMap::new()),
            evaluations: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Records every evaluation in `log` while it runs (the query API's log, whose slots
    /// are the same as `slots`).
    pub fn with_active_queries(mut self, log: Option<Arc<ActiveQueryLog>>) -> LiveHub {
        self.active = log;
        self
    }

    /// How many evaluations the hub has run.
    pub fn evaluations(&self) -> u64 {
        self.evaluations.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The result of `query` at tick `t_ms` of a `step_ms` grid, evaluated by this call
    /// or by a concurrent one for the same key and tick.
    pub async fn result(self: &Arc<Self>, query: &Arc<str>, step_ms: i64, t_ms: i64) -> Encoded {
        let cell = self.cell(query, step_ms, t_ms);
        cell.get_or_init(|| self.evaluate(query.clone(), t_ms))
            .await
            .clone()
    }

    /// The results of `queries` at `t_ms`, in order: all are asked at once, so that a
    /// stream's queries run side by side up to the free slots.
    pub async fn results(
        self: &Arc<Self>,
        queries: &[Arc<str>],
        step_ms: i64,
        t_ms: i64,
    ) -> Vec<Encoded> {
        let mut set = tokio::task::JoinSet::new();
        for (i, q) in queries.iter().enumerate() {
            let (hub, q) = (self.clone(), q.clone());
            set.spawn(async move { (i, hub.result(&q, step_ms, t_ms).await) });
        }
        let lost = encode(&TickResult::Error {
            error_type: "internal",
            error: "live evaluation task failed".to_string(),
        });
        let mut out: Vec<Encoded> = vec![lost; queries.len()];
        while let Some(r) = set.join_next().await {
            match r {
                Ok((i, enc)) => out[i] = enc,
                Err(e) => tracing::error!(error = %e, "live evaluation task failed"),
            }
        }
        out
    }

    /// The cell for (query, step) at `t_ms`: the stored one when it is for `t_ms`, a new
    /// stored one when `t_ms` is newer, and a private one for a stream behind the others
    /// (its tick is not worth keeping).
    fn cell(&self, query: &Arc<str>, step_ms: i64, t_ms: i64) -> Arc<OnceCell<Encoded>> {
        let mut entries = self.entries.lock();
        let key = (query.clone(), step_ms);
        if let Some(e) = entries.get(&key) {
            if e.t == t_ms {
                return e.cell.clone();
            }
            if e.t > t_ms {
                return Arc::new(OnceCell::new());
            }
        }
        let cell = Arc::new(OnceCell::new());
        entries.insert(
            key,
            Entry {
                t: t_ms,
                cell: cell.clone(),
            },
        );
        entries.retain(|(_, step), e| t_ms - e.t <= STALE_STEPS * step);
        cell
    }

    /// One evaluation on a blocking thread, holding an evaluation slot throughout.
    async fn evaluate(self: &Arc<Self>, query: Arc<str>, t_ms: i64) -> Encoded {
        let permit = match self.slots.clone().acquire_owned().await {
            Ok(p) => p,
            Err(_) => {
                return encode(&TickResult::Error {
                    error_type: "internal",
                    error: "query slots closed".to_string(),
                })
            }
        };
        let hub = self.clone();
        let run = move || {
            let _slot = permit;
            // Cleared when the evaluation ends, left in the file if the process dies in it.
            let _active = hub.active.as_ref().and_then(|log| log.insert(&query));
            hub.evaluations
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            encode(&evaluate_one(&hub.engine, &*hub.db, &query, t_ms))
        };
        match tokio::task::spawn_blocking(run).await {
            Ok(enc) => enc,
            Err(e) => encode(&TickResult::Error {
                error_type: "internal",
                error: format!("live evaluation failed: {e}"),
            }),
        }
    }

    /// How many (query, step) entries are kept.
    pub fn entry_count(&self) -> usize {
        self.entries.lock().len()
    }
}

fn encode(r: &TickResult) -> Encoded {
    // A TickResult holds strings and a string map only: encoding cannot fail.
    Arc::from(serde_json::to_string(r).unwrap_or_else(|e| {
        format!(r#"{{"errorType":"internal","error":"cannot encode a live result: {e}"}}"#)
    }))
}

/// The `tick` event's data: `{"t": <seconds>, "results": [...]}` from encoded results.
pub fn tick_event_data(t_ms: i64, results: &[Encoded]) -> String {
    let t = serde_json::Value::from(t_ms as f64 / 1000.0);
    let mut out = String::with_capacity(32 + results.iter().map(|r| r.len() + 1).sum::<usize>());
    out.push_str("{\"t\":");
    out.push_str(&t.to_string());
    out.push_str(",\"results\":[");
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r);
    }
    out.push_str("]}");
    out
}
