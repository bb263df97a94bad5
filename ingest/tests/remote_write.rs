//! The remote-write endpoint through the axum router, against a real `Db` in a tempdir.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use bytes::Bytes;
use http_body::Frame;
use prost::Message;
use tianshu_ingest::proto::{self, MetricType};
use tianshu_ingest::{router, IngestConfig, IngestMetrics, IngestState};
use tianshu_tsdb::{is_stale_nan, stale_nan, Db, DbOptions, MatchOp, Matcher, Series};
use tower::ServiceExt;

struct Fixture {
    _dir: tempfile::TempDir,
    db: Arc<Db>,
    metrics: Arc<IngestMetrics>,
    app: Router,
}

fn fixture_with(config: IngestConfig) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), DbOptions::default()).unwrap());
    let metrics = Arc::new(IngestMetrics::new());
    let app = router(IngestState {
        db: db.clone(),
        config,
        metrics: metrics.clone(),
    });
    Fixture {
        _dir: dir,
        db,
        metrics,
        app,
    }
}

fn fixture() -> Fixture {
    fixture_with(IngestConfig::default())
}

fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> proto::TimeSeries {
    proto::TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| proto::Label::new(*n, *v))
            .collect(),
        samples: samples
            .iter()
            .map(|&(timestamp, value)| proto::Sample { value, timestamp })
            .collect(),
        ..proto::TimeSeries::default()
    }
}

fn write_request(timeseries: Vec<proto::TimeSeries>) -> proto::WriteRequest {
    proto::WriteRequest {
        timeseries,
        metadata: vec![],
    }
}

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).unwrap()
}

fn encode(req: &proto::WriteRequest) -> Vec<u8> {
    snappy(&req.encode_to_vec())
}

/// The request Prometheus sends.
fn prometheus_request() -> axum::http::request::Builder {
    Request::post("/api/v1/write")
        .header("content-type", "application/x-protobuf")
        .header("content-encoding", "snappy")
        .header("x-prometheus-remote-write-version", "0.1.0")
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, String) {
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn post(app: &Router, body: Vec<u8>) -> (StatusCode, String) {
    let req = prometheus_request().body(Body::from(body)).unwrap();
    send(app, req).await
}

async fn write(app: &Router, req: &proto::WriteRequest) -> (StatusCode, String) {
    post(app, encode(req)).await
}

fn select(db: &Db, name: &str) -> Vec<Series> {
    let m = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
    db.select(&[m], i64::MIN, i64::MAX)
}

fn points(s: &Series) -> Vec<(i64, f64)> {
    s.samples.iter().map(|s| (s.t, s.v)).collect()
}

#[tokio::test]
async fn valid_write_is_stored_and_answered_204() {
    let f = fixture();
    let req = write_request(vec![
        series(
            &[("__name__", "up"), ("job", "node")],
            &[(1000, 1.0), (2000, 0.0)],
        ),
        series(&[("__name__", "up"), ("job", "api")], &[(1000, 1.0)]),
    ]);
    let (status, body) = write(&f.app, &req).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(body.is_empty());
    let got = select(&f.db, "up");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].labels.to_string(), r#"up{job="api"}"#);
    assert_eq!(points(&got[1]), [(1000, 1.0), (2000, 0.0)]);
}

#[tokio::test]
async fn headers_absent_are_taken_as_remote_write_1_0_snappy() {
    let f = fixture();
    let req = Request::post("/api/v1/write")
        .body(Body::from(encode(&write_request(vec![series(
            &[("__name__", "bare")],
            &[(1, 1.0)],
        )]))))
        .unwrap();
    let (status, body) = send(&f.app, req).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(select(&f.db, "bare").len(), 1);
}

#[tokio::test]
async fn garbage_and_truncated_bodies_are_400() {
    let f = fixture();
    let (status, body) = post(&f.app, b"this is not a snappy block".to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("snappy"), "{body}");

    let valid = encode(&write_request(vec![series(
        &[("__name__", "x")],
        &[(1, 1.0)],
    )]));
    let (status, body) = post(&f.app, valid[..valid.len() / 2].to_vec()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "truncated snappy: {body}");

    let raw = write_request(vec![series(&[("__name__", "x")], &[(1, 1.0)])]).encode_to_vec();
    let (status, body) = post(&f.app, snappy(&raw[..raw.len() - 3])).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "truncated protobuf: {body}"
    );
    assert!(body.contains("Protobuf"), "{body}");

    let (status, _) = post(&f.app, Vec::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "empty body");
    assert!(select(&f.db, "x").is_empty());
}

#[tokio::test]
async fn wrong_encoding_and_content_type_are_415() {
    let f = fixture();
    let body = encode(&write_request(vec![series(
        &[("__name__", "x")],
        &[(1, 1.0)],
    )]));
    let req = Request::post("/api/v1/write")
        .header("content-encoding", "gzip")
        .body(Body::from(body.clone()))
        .unwrap();
    let (status, msg) = send(&f.app, req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        msg,
        "gzip encoding (compression) is not accepted by this server; only snappy is acceptable\n"
    );

    let req = Request::post("/api/v1/write")
        .header(
            "content-type",
            "application/x-protobuf;proto=io.prometheus.write.v2.Request",
        )
        .header("content-encoding", "snappy")
        .body(Body::from(body.clone()))
        .unwrap();
    let (status, msg) = send(&f.app, req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        msg.contains("remote-write 2.0 is not supported yet"),
        "{msg}"
    );

    let req = Request::post("/api/v1/write")
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap();
    let (status, _) = send(&f.app, req).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(select(&f.db, "x").is_empty());
}

/// Bodies past axum's 2 MB default limit for extractors are fine up to our own limit.
#[tokio::test]
async fn bodies_larger_than_axums_default_limit_are_accepted() {
    let f = fixture();
    // Pseudo-random label values: snappy cannot shrink them below the 2 MB to exceed.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut noise = |n: usize| -> String {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                char::from(b'a' + (state % 26) as u8)
            })
            .collect()
    };
    let timeseries = (0..1000)
        .map(|i| {
            let id = i.to_string();
            let payload = noise(4000);
            series(
                &[
                    ("__name__", "wide"),
                    ("id", id.as_str()),
                    ("payload", payload.as_str()),
                ],
                &[(1000, 1.0)],
            )
        })
        .collect();
    let body = encode(&write_request(timeseries));
    assert!(body.len() > 2 << 20, "only {} bytes", body.len());
    let (status, msg) = post(&f.app, body).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{msg}");
    assert_eq!(select(&f.db, "wide").len(), 1000);
}

#[tokio::test]
async fn unsorted_labels_are_accepted_and_sorted() {
    let f = fixture();
    let (status, body) = write(
        &f.app,
        &write_request(vec![series(
            &[("zone", "z1"), ("__name__", "unsorted"), ("app", "a1")],
            &[(1000, 7.0)],
        )]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, _) = write(
        &f.app,
        &write_request(vec![series(
            &[("__name__", "unsorted"), ("app", "a1"), ("zone", "z1")],
            &[(2000, 8.0)],
        )]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let got = select(&f.db, "unsorted");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0].labels.to_string(),
        r#"unsorted{app="a1", zone="z1"}"#
    );
    assert_eq!(points(&got[0]), [(1000, 7.0), (2000, 8.0)]);
}

#[tokio::test]
async fn invalid_series_are_400_and_valid_ones_still_stored() {
    let f = fixture();
    let req = write_request(vec![
        series(&[("__name__", "good"), ("i", "1")], &[(1000, 1.0)]),
        series(
            &[("__name__", "bad"), ("dup", "1"), ("dup", "2")],
            &[(1000, 1.0)],
        ),
        series(&[("__name__", "bad"), ("", "x")], &[(1000, 1.0)]),
        series(&[("__name__", "good"), ("i", "2")], &[(1000, 2.0)]),
    ]);
    let (status, body) = write(&f.app, &req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        "invalid series {__name__=\"bad\", dup=\"1\", dup=\"2\"}: duplicate label name \"dup\" \
         (invalid series: 2, rejected samples: 2, appended samples: 2)\n"
    );
    assert_eq!(select(&f.db, "good").len(), 2);
    assert!(select(&f.db, "bad").is_empty());
}

#[tokio::test]
async fn empty_label_name_is_400() {
    let f = fixture();
    let req = write_request(vec![series(&[("__name__", "x"), ("", "v")], &[(1, 1.0)])]);
    let (status, body) = write(&f.app, &req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("empty label name"), "{body}");
    assert!(select(&f.db, "x").is_empty());
}

#[tokio::test]
async fn huge_label_value_is_400_with_a_short_message() {
    let f = fixture();
    let big = "v".repeat(10 << 20);
    let req = write_request(vec![series(
        &[("__name__", "big"), ("value", big.as_str())],
        &[(1, 1.0)],
    )]);
    let (status, body) = write(&f.app, &req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains(
            "value of label \"value\" is 10485760 bytes long, longer than the limit of 4096"
        ),
        "{body}"
    );
    assert!(
        body.len() < 1024,
        "message echoes the input: {} bytes",
        body.len()
    );
    assert!(select(&f.db, "big").is_empty());
}

/// A body that records being read and would stream data forever.
struct Endless {
    polled: Arc<AtomicBool>,
    frames: Arc<AtomicUsize>,
}

impl http_body::Body for Endless {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.polled.store(true, Ordering::SeqCst);
        self.frames.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![0u8; 64 << 10])))))
    }
}

fn endless() -> (Body, Arc<AtomicBool>, Arc<AtomicUsize>) {
    let polled = Arc::new(AtomicBool::new(false));
    let frames = Arc::new(AtomicUsize::new(0));
    let body = Body::new(Endless {
        polled: polled.clone(),
        frames: frames.clone(),
    });
    (body, polled, frames)
}

#[tokio::test]
async fn announced_gigabyte_is_413_without_reading_the_body() {
    let f = fixture();
    let (body, polled, _) = endless();
    let req = prometheus_request()
        .header("content-length", "1073741824")
        .body(body)
        .unwrap();
    let (status, msg) = send(&f.app, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{msg}");
    assert!(msg.contains("1073741824"), "{msg}");
    assert!(!polled.load(Ordering::SeqCst), "the body was read");
}

#[tokio::test]
async fn endless_chunked_body_is_413_once_past_the_limit() {
    let f = fixture_with(IngestConfig {
        max_request_bytes: 1 << 20,
        ..IngestConfig::default()
    });
    let (body, _, frames) = endless();
    let req = prometheus_request().body(body).unwrap();
    let (status, msg) = send(&f.app, req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{msg}");
    // 16 frames of 64 KiB fill the limit; the 17th crosses it.
    assert_eq!(frames.load(Ordering::SeqCst), 17);
}

#[tokio::test]
async fn huge_announced_decompressed_size_is_413() {
    let f = fixture();
    // Snappy header: varint 1 GiB, then a literal that could never fill it.
    let body = vec![0x80, 0x80, 0x80, 0x80, 0x04, 0x00, b'x'];
    let (status, msg) = post(&f.app, body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{msg}");
    assert_eq!(
        msg,
        "decompressed request of 1073741824 bytes is larger than the limit of 134217728 bytes\n"
    );
}

#[tokio::test]
async fn out_of_order_sample_is_400_naming_the_series_and_the_rest_is_stored() {
    let f = fixture();
    let (status, _) = write(
        &f.app,
        &write_request(vec![series(
            &[("__name__", "ooo"), ("job", "a")],
            &[(10_000, 1.0)],
        )]),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let req = write_request(vec![
        series(
            &[("__name__", "ooo"), ("job", "a")],
            &[(5_000, 2.0), (11_000, 3.0)],
        ),
        series(&[("__name__", "other")], &[(1_000, 4.0)]),
    ]);
    let (status, body) = write(&f.app, &req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        "out of order sample for series {__name__=\"ooo\", job=\"a\"} at timestamp 5000 \
         (invalid series: 0, rejected samples: 1, appended samples: 2)\n"
    );
    assert_eq!(
        points(&select(&f.db, "ooo")[0]),
        [(10_000, 1.0), (11_000, 3.0)]
    );
    assert_eq!(points(&select(&f.db, "other")[0]), [(1_000, 4.0)]);

    // A retry of what is already stored is a no-op, not an error.
    let (status, body) = write(&f.app, &req).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "the 5000 sample is still old"
    );
    assert!(body.contains("appended samples: 0"), "{body}");
    let retry = write_request(vec![series(&[("__name__", "other")], &[(1_000, 4.0)])]);
    let (status, body) = write(&f.app, &retry).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

#[tokio::test]
async fn stale_marker_is_stored_bit_exactly() {
    let f = fixture();
    let req = write_request(vec![series(
        &[("__name__", "stale")],
        &[(1000, 1.0), (2000, stale_nan())],
    )]);
    let (status, body) = write(&f.app, &req).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let got = select(&f.db, "stale");
    assert!(is_stale_nan(got[0].samples[1].v));
}

#[tokio::test]
async fn metadata_is_stored() {
    let f = fixture();
    let req = proto::WriteRequest {
        timeseries: vec![],
        metadata: vec![proto::MetricMetadata {
            r#type: MetricType::Counter as i32,
            metric_family_name: "http_requests".into(),
            help: "Requests served.".into(),
            unit: "requests".into(),
        }],
    };
    let (status, body) = write(&f.app, &req).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let md = f.db.metadata(Some("http_requests"), None);
    let entry = &md["http_requests"][0];
    assert_eq!(entry.kind, "counter");
    assert_eq!(entry.help, "Requests served.");
    assert_eq!(entry.unit, "requests");
}

#[tokio::test]
async fn histograms_are_dropped_and_counted() {
    let f = fixture();
    let mut ts = series(&[("__name__", "mixed")], &[(1000, 1.0)]);
    ts.histograms = vec![proto::Histogram {
        count: Some(proto::histogram::Count::CountInt(3)),
        timestamp: 1000,
        ..proto::Histogram::default()
    }];
    let (status, body) = write(&f.app, &write_request(vec![ts])).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(points(&select(&f.db, "mixed")[0]), [(1000, 1.0)]);
    let text = exposition(&f.metrics);
    assert!(
        text.contains("tianshu_ingest_histograms_dropped_total 1"),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_account_for_every_sample() {
    let f = fixture();
    let req = write_request(vec![
        series(&[("__name__", "m")], &[(1000, 1.0), (500, 2.0)]),
        series(&[("__name__", "m"), ("a-b", "x")], &[(1000, 1.0)]),
    ]);
    let (status, _) = write(&f.app, &req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let text = exposition(&f.metrics);
    for line in [
        "tianshu_ingest_samples_received_total 3",
        "tianshu_ingest_samples_appended_total 1",
        "tianshu_ingest_samples_rejected_total{reason=\"out_of_order\"} 1",
        "tianshu_ingest_samples_rejected_total{reason=\"invalid_series\"} 1",
        "tianshu_ingest_invalid_series_total{reason=\"invalid_label_name\"} 1",
        "tianshu_ingest_remote_write_requests_total{code=\"400\"} 1",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

fn exposition(m: &IngestMetrics) -> String {
    let mut reg = prometheus_client::registry::Registry::default();
    m.register(&mut reg);
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, &reg).unwrap();
    out
}
