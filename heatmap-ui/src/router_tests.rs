//! The UI's routes as a browser calls them, through the router (no socket).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use tianshu_query::{Engine, EngineOptions};
use tianshu_tsdb::{Db, DbOptions, Labels, Sample, SeriesSamples};
use tokio_stream::StreamExt;
use tower::ServiceExt;

use crate::{router, DashboardStore, UiState};

fn state(dir: Option<std::path::PathBuf>, db_dir: &std::path::Path) -> UiState {
    let mut s = UiState::new(
        Arc::new(Db::open(db_dir, DbOptions::default()).expect("open db")),
        Arc::new(Engine::new(EngineOptions::default())),
        DashboardStore::new(dir),
        Arc::new(tokio::sync::Semaphore::new(4)),
        None,
    );
    s.tick = Duration::from_millis(100);
    s
}

async fn call(s: &UiState, method: &str, uri: &str, body: &str) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::from(body.to_string()))
        .expect("request");
    let resp = router(s.clone()).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json)
}

#[tokio::test]
async fn dashboards_are_listed_read_and_saved() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = state(Some(tmp.path().join("dash")), &tmp.path().join("db"));

    let (st, list) = call(&s, "GET", "/api/ui/dashboards", "").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(list["data"][0]["id"], "tianshu-overview");

    assert_eq!(list["meta"]["canSave"], true);

    let (st, d) = call(&s, "GET", "/api/ui/dashboards/tianshu-overview", "").await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(d["meta"]["canSave"], true);
    let mut d = d["data"].clone();
    d["title"] = "Mine".into();
    let (st, _) = call(
        &s,
        "PUT",
        "/api/ui/dashboards/tianshu-overview",
        &d.to_string(),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let saved =
        std::fs::read_to_string(tmp.path().join("dash/tianshu-overview.json")).expect("file");
    assert!(saved.contains("\"title\": \"Mine\""), "{saved}");

    let (st, e) = call(&s, "PUT", "/api/ui/dashboards/tianshu-overview", "{").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert_eq!(e["status"], "error");
    assert_eq!(e["errorType"], "bad_data");
    let (st, e) = call(&s, "GET", "/api/ui/dashboards/nope", "").await;
    assert_eq!(
        (st, e["errorType"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
}

#[tokio::test]
async fn without_a_directory_saving_is_off_up_front_and_a_conflict() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = state(None, tmp.path());
    // Said up front, so that the page disables saving instead of failing at Save.
    let (_, list) = call(&s, "GET", "/api/ui/dashboards", "").await;
    assert_eq!(list["meta"]["canSave"], false);
    let (_, d) = call(&s, "GET", "/api/ui/dashboards/tianshu-overview", "").await;
    assert_eq!(d["meta"]["canSave"], false);
    let (st, e) = call(
        &s,
        "PUT",
        "/api/ui/dashboards/tianshu-overview",
        &d["data"].to_string(),
    )
    .await;
    assert_eq!(st, StatusCode::CONFLICT);
    assert!(e["error"]
        .as_str()
        .unwrap_or("")
        .contains("--dashboards-dir"));
}

#[tokio::test]
async fn the_index_and_its_bundles_are_served() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = state(None, tmp.path());
    let resp = router(s.clone())
        .oneshot(Request::get("/").body(Body::empty()).expect("req"))
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    let html = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .expect("body");
    let html = String::from_utf8_lossy(&html);
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a script tag");
    let resp = router(s)
        .oneshot(Request::get(script).body(Body::empty()).expect("req"))
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK, "{script}");
    assert_eq!(
        resp.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
}

#[tokio::test]
async fn the_live_stream_sends_hello_then_ticks_with_per_query_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = state(None, tmp.path());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    s.db.append(&[SeriesSamples {
        labels: Labels::from_pairs([("__name__", "up"), ("job", "a")]),
        samples: vec![Sample::new(now - 1000, 1.0)],
    }])
    .expect("append");

    let (st, e) = call(&s, "GET", "/api/ui/live", "").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);
    assert!(e["error"].as_str().unwrap_or("").contains("query"));
    let (st, _) = call(&s, "GET", "/api/ui/live?query=up&step=1x", "").await;
    assert_eq!(st, StatusCode::BAD_REQUEST);

    let resp = router(s)
        .oneshot(
            Request::get("/api/ui/live?query=up&query=rate(up%5B&step=100ms")
                .body(Body::empty())
                .expect("req"),
        )
        .await
        .expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut stream = resp.into_body().into_data_stream();
    let mut text = String::new();
    while !text.contains("event: tick") || !text.ends_with("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("a tick within 30 s")
            .expect("stream open")
            .expect("chunk");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.starts_with("event: hello\n"), "{text}");
    assert!(text.contains("retry: 1000"), "{text}");
    let tick = text
        .split("event: tick\n")
        .nth(1)
        .and_then(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
        .expect("tick data");
    let tick: serde_json::Value = serde_json::from_str(tick).expect("json");
    assert_eq!(tick["results"][0]["data"][0]["metric"]["job"], "a");
    assert_eq!(tick["results"][0]["data"][0]["value"], "1");
    assert_eq!(tick["results"][1]["errorType"], "bad_data");
    let t = tick["t"].as_f64().expect("t");
    assert_eq!(
        (t * 1000.0).round() as i64 % 100,
        0,
        "ticks land on whole steps: {t}"
    );
}

/// Ticks go out as their step begins, not at the phase the stream happened to connect at,
/// so that a sample shows within a step of being written.
#[tokio::test]
async fn live_ticks_go_out_as_their_step_begins() {
    let tmp = tempfile::tempdir().expect("tmp");
    let s = state(None, tmp.path());
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_millis() as i64
    };
    // Connect half-way through a second: a timer started now would tick at .5 s.
    tokio::time::sleep(Duration::from_millis(
        (1500 - now_ms() % 1000) as u64 % 1000,
    ))
    .await;
    let resp = router(s)
        .oneshot(
            Request::get("/api/ui/live?query=vector(1)&step=1s")
                .body(Body::empty())
                .expect("req"),
        )
        .await
        .expect("infallible");
    let mut stream = resp.into_body().into_data_stream();
    let mut text = String::new();
    let mut lags = Vec::new();
    while lags.len() < 3 {
        let chunk = tokio::time::timeout(Duration::from_secs(30), stream.next())
            .await
            .expect("a tick within 30 s")
            .expect("stream open")
            .expect("chunk");
        let received = now_ms();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            let Some(data) = event
                .strip_prefix("event: tick\n")
                .and_then(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
            else {
                continue;
            };
            let tick: serde_json::Value = serde_json::from_str(data).expect("json");
            let t = (tick["t"].as_f64().expect("t") * 1000.0).round() as i64;
            lags.push(received - t);
        }
    }
    // The first tick is sent at once on connect; the next ones as their second begins.
    assert!(lags[0] >= 0, "{lags:?}");
    for lag in &lags[1..] {
        assert!(
            (0..400).contains(lag),
            "a tick arrived {lag} ms into its step: {lags:?}"
        );
    }
}
