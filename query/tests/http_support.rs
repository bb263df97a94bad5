//! Shared fixture for the HTTP API tests: a real `Db` in a temporary directory behind the
//! API router, and helpers to send requests through it without a socket.
//!
//! Included by the `http_*` test files with `#[path]`; each uses a different subset.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use tempfile::TempDir;
use tianshu_query::engine::EngineOptions;
use tianshu_query::http::{router, ApiState, BuildInfo, QueryMetrics};
use tianshu_query::Engine;
use tianshu_tsdb::{Db, DbOptions, Labels, MetricMetadata, Sample, SeriesSamples};
use tower::ServiceExt;

/// 2023-11-14T22:13:20Z, the first sample of every fixture series.
pub const T0: i64 = 1_700_000_000_000;

pub struct Api {
    pub router: Router,
    pub db: Arc<Db>,
    pub metrics: Arc<QueryMetrics>,
    _dir: TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub content_type: String,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// Asserts a Prometheus error answer and returns its message.
    pub fn error(&self, status: u16, error_type: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        let j = self.json();
        assert_eq!(j["status"], "error", "body: {}", self.body);
        assert_eq!(j["errorType"], error_type, "body: {}", self.body);
        j["error"].as_str().unwrap_or_default().to_string()
    }
}

fn series(pairs: &[(&str, &str)], samples: Vec<Sample>) -> SeriesSamples {
    SeriesSamples {
        labels: Labels::from_pairs(pairs.iter().copied()),
        samples,
    }
}

/// Samples every 15 s from `T0` for five minutes.
fn every_15s(f: impl Fn(i64) -> f64) -> Vec<Sample> {
    (0..=20)
        .map(|i| Sample::new(T0 + i * 15_000, f(i)))
        .collect()
}

pub fn api() -> Api {
    api_with(|_| {})
}

/// The fixture with `adjust` applied to the API state before the router is built.
pub fn api_with(adjust: impl FnOnce(&mut ApiState)) -> Api {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = Arc::new(Db::open(dir.path(), DbOptions::default()).expect("open db"));
    db.append(&[
        series(
            &[("__name__", "up"), ("job", "api"), ("instance", "a:9090")],
            every_15s(|_| 1.0),
        ),
        series(
            &[("__name__", "up"), ("job", "api"), ("instance", "b:9090")],
            every_15s(|_| 0.0),
        ),
        series(
            &[("__name__", "up"), ("job", "db"), ("instance", "c:9090")],
            every_15s(|_| 1.0),
        ),
        series(
            &[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("code", "200"),
            ],
            every_15s(|i| 10.0 * i as f64),
        ),
        series(
            &[("__name__", "weird"), ("path", "<a&b>")],
            every_15s(|_| 1.5),
        ),
    ])
    .expect("append");
    db.set_metadata(vec![
        MetricMetadata {
            metric_family: "http_requests_total".into(),
            kind: "counter".into(),
            help: "Requests served.".into(),
            unit: String::new(),
        },
        MetricMetadata {
            metric_family: "up".into(),
            kind: "gauge".into(),
            help: "Whether the target is up.".into(),
            unit: String::new(),
        },
        MetricMetadata {
            metric_family: "up".into(),
            kind: "gauge".into(),
            help: "Target health.".into(),
            unit: String::new(),
        },
    ])
    .expect("metadata");
    let engine = Arc::new(Engine::new(EngineOptions::default()));
    let build = BuildInfo {
        version: "0.1.0".into(),
        revision: "abc123".into(),
        branch: "main".into(),
        build_user: "ci@example".into(),
        build_date: "20261122-01:02:03".into(),
        rust_version: "rustc 1.85.0".into(),
    };
    let mut state = ApiState::new(db.clone(), engine, build);
    state.flags = BTreeMap::from([
        ("storage.tsdb.path".to_string(), "data/".to_string()),
        ("web.listen-address".to_string(), ":9090".to_string()),
    ]);
    state.config_yaml = "global:\n  scrape_interval: 15s\n".into();
    state.storage_retention = "15d".into();
    adjust(&mut state);
    let metrics = state.metrics.clone();
    Api {
        router: router(state),
        db,
        metrics,
        _dir: dir,
    }
}

async fn send(router: &Router, req: Request<Body>) -> Resp {
    let resp = router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    Resp {
        status,
        content_type,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

pub async fn get(api: &Api, uri: &str) -> Resp {
    let req = Request::get(uri).body(Body::empty()).expect("request");
    send(&api.router, req).await
}

pub async fn post_form(api: &Api, path: &str, form: &str) -> Resp {
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_string()))
        .expect("request");
    send(&api.router, req).await
}

/// Percent-encodes a parameter value for a URL or form body.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A request's form from (name, value) pairs, encoded.
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}
