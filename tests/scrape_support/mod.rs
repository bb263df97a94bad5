//! Helpers of the scrape tests: a tiny exposition server whose bodies the test sets, and
//! polling for a condition with a deadline.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// A response the server gives for a path.
#[derive(Clone)]
pub struct Exposition {
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Exposition {
    pub fn text(body: impl Into<Vec<u8>>) -> Self {
        Exposition {
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: body.into(),
        }
    }
}

type Bodies = Arc<Mutex<HashMap<String, Exposition>>>;

/// An HTTP server answering each configured path with its body, 404 otherwise. Runs on
/// its own thread and runtime until the test process ends.
pub struct ExpositionServer {
    pub addr: SocketAddr,
    bodies: Bodies,
}

impl ExpositionServer {
    pub fn start() -> Self {
        let bodies: Bodies = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let state = bodies.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = axum::Router::new().fallback(serve).with_state(state);
                axum::serve(listener, app).await.expect("serve");
            });
        });
        ExpositionServer { addr, bodies }
    }

    pub fn set(&self, path: &str, e: Exposition) {
        self.bodies
            .lock()
            .expect("lock")
            .insert(path.to_string(), e);
    }

    pub fn remove(&self, path: &str) {
        self.bodies.lock().expect("lock").remove(path);
    }
}

async fn serve(State(bodies): State<Bodies>, req: Request) -> Response {
    let found = bodies.lock().expect("lock").get(req.uri().path()).cloned();
    match found {
        Some(e) => ([(header::CONTENT_TYPE, e.content_type)], Body::from(e.body)).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Polls `f` every 200 ms until it returns `Some`, panicking with `what` and the last
/// state `show` gives after `limit`. The limit only bounds a failing test; passing
/// never depends on it.
pub fn wait_for<T>(limit: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The instant vector `q` now, as (value of label `t`, sample value), sorted by `t`.
pub fn values_by_t(base: &str, q: &str) -> Vec<(String, f64)> {
    use crate::common::{now_ms, parse_sample_value, query_instant};
    let data = query_instant(base, q, now_ms());
    let mut v: Vec<(String, f64)> = data["result"]
        .as_array()
        .expect("vector")
        .iter()
        .map(|s| {
            (
                s["metric"]["t"].as_str().unwrap_or("").to_string(),
                parse_sample_value(&s["value"][1]),
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}
