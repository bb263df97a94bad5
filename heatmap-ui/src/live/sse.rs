//! `GET /api/ui/live?query=<q1>&query=<q2>…[&step=1s]`: a Server-Sent Events stream.
//!
//! | event   | when                 | data                                                    |
//! |---------|----------------------|---------------------------------------------------------|
//! | `hello` | once, on connect     | `{"step": <seconds>}`                                   |
//! | `tick`  | each new step        | `{"t": <seconds>, "results": [<one per query, in order>]}` |
//!
//! A result is `{"data": [{"metric": {…}, "value": "1.5"}, …]}` or
//! `{"errorType": "bad_data", "error": "…"}`, so an error belongs to its query alone.
//! Every event carries `retry: 1000`, so a browser reconnects a second after a drop; the
//! page backfills the gap with `query_range` itself. The stream's task stops as soon as
//! the page goes away (its channel closes). Results come from the server's
//! [`LiveHub`](super::hub::LiveHub), which evaluates each (query, step, tick) once for all
//! the streams that carry it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;

use super::hub::tick_event_data;
use super::tick::newest_step;
use crate::{UiError, UiState};

/// Most queries one stream may carry: a large dashboard, not an unbounded fan-out.
pub const MAX_QUERIES: usize = 64;

/// How long a browser waits before reconnecting.
const RETRY: Duration = Duration::from_secs(1);

pub async fn stream(
    State(s): State<UiState>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, UiError> {
    let mut queries = Vec::new();
    let mut step = s.tick;
    for (k, v) in params {
        match k.as_str() {
            "query" => queries.push(v),
            "step" => {
                step = tianshu_query::http::params::parse_prometheus_duration(&v)
                    .and_then(|ns| u64::try_from(ns).ok())
                    .map(Duration::from_nanos)
                    .filter(|d| *d >= Duration::from_millis(100))
                    .ok_or_else(|| {
                        UiError::BadData(format!(
                            "invalid parameter \"step\": {v:?} is not a duration of at least 100ms"
                        ))
                    })?;
            }
            _ => {}
        }
    }
    if queries.is_empty() || queries.len() > MAX_QUERIES {
        return Err(UiError::BadData(format!(
            "a live stream needs 1 to {MAX_QUERIES} query parameters, got {}",
            queries.len()
        )));
    }
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(4);
    let queries: Vec<Arc<str>> = queries.into_iter().map(Arc::from).collect();
    tokio::spawn(run(s, queries, step, tx));
    Ok(Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default()))
}

/// The stream's loop: the results of each new step, from the shared hub.
async fn run(
    s: UiState,
    queries: Vec<Arc<str>>,
    step: Duration,
    tx: mpsc::Sender<Result<Event, Infallible>>,
) {
    let step_ms = i64::try_from(step.as_millis()).unwrap_or(1000);
    let hello = Event::default()
        .event("hello")
        .retry(RETRY)
        .data(json!({ "step": step.as_secs_f64() }).to_string());
    if tx.send(Ok(hello)).await.is_err() {
        return;
    }
    let mut last = i64::MIN;
    loop {
        // The first tick goes out at once; each next one as its step begins, by the wall
        // clock the step grid is on. A timer started at connect would tick at the
        // connection's phase instead, up to a step after the step's samples exist, and
        // a sample would show up to two steps after its write rather than one. Waking
        // again on every step (not a fixed-period timer) keeps the phase however the
        // monotonic clock drifts from the wall clock; an evaluation slower than a step
        // moves on to the newest step, skipping those it overran.
        let now = now_ms();
        let t = newest_step(now, step_ms);
        if t == last {
            tokio::select! {
                _ = tokio::time::sleep(until_next_step(now, step_ms)) => {}
                _ = tx.closed() => return,
            }
            continue;
        }
        last = t;
        let results = tokio::select! {
            r = s.hub.results(&queries, step_ms, t) => r,
            _ = tx.closed() => return,
        };
        let data = tick_event_data(t, &results);
        let event = Event::default().event("tick").retry(RETRY).data(data);
        if tx.send(Ok(event)).await.is_err() {
            return;
        }
    }
}

/// The time from `now_ms` to the next whole multiple of `step_ms` (a whole step when
/// `now_ms` is one).
fn until_next_step(now_ms: i64, step_ms: i64) -> Duration {
    let step = step_ms.max(1);
    Duration::from_millis(u64::try_from(step - now_ms.rem_euclid(step)).unwrap_or(1))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_ends_at_the_next_whole_step() {
        assert_eq!(until_next_step(12_300, 1000), Duration::from_millis(700));
        assert_eq!(until_next_step(12_999, 1000), Duration::from_millis(1));
        assert_eq!(until_next_step(12_000, 1000), Duration::from_millis(1000));
        assert_eq!(
            until_next_step(1_000_001, 4000),
            Duration::from_millis(3999)
        );
        // After the wait the newest step is the next one.
        for now in [0, 1, 999, 1000, 123_456_789] {
            let woke = now + until_next_step(now, 1000).as_millis() as i64;
            assert_eq!(newest_step(woke, 1000), newest_step(now, 1000) + 1000);
        }
    }
}
