//! The scrapers' disk-backed remote-write queue against real receivers (Prometheus 2.42 and
//! Tianshu itself) and against a receiver scripted to answer 429, 400 and 5xx.
//!
//! What must hold: every request `push` accepted reaches the receiver, in order, even when
//! the receiver is down at first and the queue's process stops before it comes back; a 429's
//! `Retry-After` is waited out; a 400 is dropped and does not block what follows.

mod common;
mod scrape_support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::{
    free_port, now_ms, query_instant, require_binary, start_prometheus, Tianshu, PROMETHEUS,
};
use prost::Message;
use scrape_support::wait_for;
use tianshu_ingest::proto::{Label, Sample, TimeSeries, WriteRequest};
use tianshu_ingest::remote_queue::{QueueOptions, RemoteWriteQueue};

/// One series `rq_test{batch="<i>"}` with `n` samples a second apart ending at `t_ms`.
fn request(name: &str, batch: usize, n: usize, t_ms: i64) -> WriteRequest {
    WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![
                Label::new("__name__", name),
                Label::new("batch", batch.to_string()),
            ],
            samples: (0..n)
                .map(|i| Sample {
                    value: (batch * 100 + i) as f64,
                    timestamp: t_ms - ((n - 1 - i) as i64) * 1000,
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// `count_over_time` of every `name` series over the last 10 minutes, by batch.
fn counts(base: &str, name: &str) -> Vec<(String, String)> {
    let q = format!("count_over_time({name}[10m])");
    let v = query_instant(base, &q, now_ms() + 1000);
    let mut out: Vec<(String, String)> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["metric"]["batch"].as_str().unwrap().to_string(),
                r["value"][1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn queued_requests_reach_a_real_prometheus() {
    require_binary(PROMETHEUS);
    let dir = tempfile::tempdir().unwrap();
    let (_prom, url) = start_prometheus(
        dir.path(),
        free_port(),
        "global:\n  scrape_interval: 15s\n",
        &["--web.enable-remote-write-receiver"],
    );
    let rt = runtime();
    let qdir = dir.path().join("queue");
    let t = now_ms();
    rt.block_on(async {
        let q = RemoteWriteQueue::open(&qdir, QueueOptions::new(format!("{url}/api/v1/write")))
            .unwrap();
        for b in 0..5 {
            q.push(&request("rq_prom", b, 10, t)).unwrap();
        }
        let want: Vec<(String, String)> = (0..5).map(|b| (b.to_string(), "10".into())).collect();
        let base = url.clone();
        tokio::task::spawn_blocking(move || {
            wait_for(
                Duration::from_secs(60),
                "Prometheus to hold every batch",
                || (counts(&base, "rq_prom") == want).then_some(()),
            )
        })
        .await
        .unwrap();
        assert_eq!(q.pending_bytes(), 0);
        q.close().await;
    });
}

#[test]
fn requests_queued_while_the_receiver_is_down_survive_a_restart_of_the_sender() {
    let dir = tempfile::tempdir().unwrap();
    let qdir = dir.path().join("queue");
    let t = now_ms();
    // Nothing listens here: every send fails and is retried.
    let down = format!("http://127.0.0.1:{}/api/v1/write", free_port());
    let rt = runtime();
    rt.block_on(async {
        let q = RemoteWriteQueue::open(&qdir, QueueOptions::new(down)).unwrap();
        for b in 0..20 {
            q.push(&request("rq_restart", b, 30, t)).unwrap();
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(q.stats().retries.load(std::sync::atomic::Ordering::Relaxed) > 0);
        // Dropped without close, as a killed process leaves it.
        drop(q);
    });
    drop(rt);
    let ts = Tianshu::start(&[]);
    let rt = runtime();
    rt.block_on(async {
        let q = RemoteWriteQueue::open(&qdir, QueueOptions::new(ts.url("/api/v1/write"))).unwrap();
        let want: Vec<(String, String)> = (0..20).map(|b| (b.to_string(), "30".into())).collect();
        let mut want_sorted = want.clone();
        want_sorted.sort();
        let base = ts.url("");
        tokio::task::spawn_blocking(move || {
            wait_for(
                Duration::from_secs(60),
                "Tianshu to hold every batch",
                || (counts(&base, "rq_restart") == want_sorted).then_some(()),
            )
        })
        .await
        .unwrap();
        q.close().await;
    });
}

/// What the scripted receiver saw: each request's series names, and when.
type Seen = Arc<Mutex<Vec<(Instant, Vec<String>)>>>;

fn names(body: &[u8]) -> Vec<String> {
    let raw = snap::raw::Decoder::new().decompress_vec(body).unwrap();
    let req = WriteRequest::decode(raw.as_slice()).unwrap();
    req.timeseries
        .iter()
        .map(|ts| {
            let name = &ts
                .labels
                .iter()
                .find(|l| l.name == "__name__")
                .unwrap()
                .value;
            let batch = &ts.labels.iter().find(|l| l.name == "batch").unwrap().value;
            format!("{name}/{batch}")
        })
        .collect()
}

/// Answers 429 with `Retry-After: 1` to the first request, 400 to any request holding a
/// `rq_bad` series, and 204 otherwise.
async fn scripted_receiver(seen: Seen) -> String {
    let app = axum::Router::new().route(
        "/api/v1/write",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                assert_eq!(headers["content-encoding"], "snappy");
                assert_eq!(headers["content-type"], "application/x-protobuf");
                assert_eq!(headers["x-prometheus-remote-write-version"], "0.1.0");
                let n = names(&body);
                let first = {
                    let mut s = seen.lock().unwrap();
                    s.push((Instant::now(), n.clone()));
                    s.len() == 1
                };
                if first {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("Retry-After", "1")],
                        "slow down",
                    )
                        .into_response()
                } else if n.iter().any(|s| s.starts_with("rq_bad/")) {
                    (StatusCode::BAD_REQUEST, "out of bounds").into_response()
                } else {
                    StatusCode::NO_CONTENT.into_response()
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/api/v1/write")
}

#[test]
fn retry_after_is_honoured_and_a_refused_request_does_not_block_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let t = now_ms();
    let seen: Seen = Arc::default();
    let rt = runtime();
    rt.block_on(async {
        let url = scripted_receiver(seen.clone()).await;
        let mut opts = QueueOptions::new(url);
        // One request per send, so that the refused one goes alone.
        opts.max_bytes_per_send = 1;
        let q = RemoteWriteQueue::open(dir.path(), opts).unwrap();
        q.push(&request("rq_ok", 0, 1, t)).unwrap();
        q.push(&request("rq_bad", 1, 1, t)).unwrap();
        q.push(&request("rq_ok", 2, 1, t)).unwrap();
        let s = seen.clone();
        tokio::task::spawn_blocking(move || {
            wait_for(Duration::from_secs(30), "the last request", || {
                s.lock()
                    .unwrap()
                    .iter()
                    .any(|(_, n)| n == &["rq_ok/2"])
                    .then_some(())
            })
        })
        .await
        .unwrap();
        let stats = q.stats();
        use std::sync::atomic::Ordering::Relaxed;
        assert_eq!(stats.delivered.load(Relaxed), 2);
        assert_eq!(stats.refused.load(Relaxed), 1);
        assert_eq!(stats.retries.load(Relaxed), 1);
        q.close().await;
    });
    let seen = seen.lock().unwrap();
    let order: Vec<&str> = seen.iter().map(|(_, n)| n[0].as_str()).collect();
    // The 429'd request again, then the refused one exactly once, then the rest.
    assert_eq!(order, ["rq_ok/0", "rq_ok/0", "rq_bad/1", "rq_ok/2"]);
    let waited = seen[1].0 - seen[0].0;
    assert!(
        waited >= Duration::from_secs(1),
        "retried after {waited:?}, before the receiver's Retry-After of 1 s"
    );
}
