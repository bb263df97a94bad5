//! The receiver behind a real hyper server on a TCP socket: what a hostile client sees when
//! it announces or streams more than the limit, as opposed to what `oneshot` shows.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use tianshu_ingest::proto::{Label, Sample, TimeSeries, WriteRequest};
use tianshu_ingest::{router, IngestConfig, IngestMetrics, IngestState};
use tianshu_tsdb::{Db, DbOptions, MatchOp, Matcher};

const LIMIT: usize = 1 << 20;

async fn serve() -> (SocketAddr, Arc<Db>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Db::open(dir.path(), DbOptions::default()).unwrap());
    let app = router(IngestState {
        db: db.clone(),
        config: IngestConfig {
            max_request_bytes: LIMIT,
            ..IngestConfig::default()
        },
        metrics: Arc::new(IngestMetrics::new()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (addr, db, dir)
}

fn head(addr: SocketAddr, extra: &str) -> String {
    format!(
        "POST /api/v1/write HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-protobuf\r\n\
         Content-Encoding: snappy\r\n{extra}\r\n"
    )
}

/// Reads until the response head and what follows within a moment; returns the status.
fn read_status(s: &mut TcpStream) -> (u16, String) {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    loop {
        match s.read(&mut tmp) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
        }
        if buf.windows(4).any(|w| w == b"\r\n\r\n") {
            s.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announced_gigabyte_is_answered_413_at_once() {
    let (addr, _db, _dir) = serve().await;
    let (status, text, elapsed) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(head(addr, "Content-Length: 1073741824\r\n").as_bytes())
            .unwrap();
        s.write_all(&[0u8; 1024]).unwrap();
        let (status, text) = read_status(&mut s);
        (status, text, started.elapsed())
    })
    .await
    .unwrap();
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("larger than the limit"), "{text}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endless_chunked_body_is_answered_413() {
    let (addr, _db, _dir) = serve().await;
    let (status, text, sent, closed) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(head(addr, "Transfer-Encoding: chunked\r\n").as_bytes())
            .unwrap();
        let mut reader = s.try_clone().unwrap();
        let answer = std::thread::spawn(move || read_status(&mut reader));
        let chunk = [b'x'; 16 << 10];
        let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
        framed.extend_from_slice(&chunk);
        framed.extend_from_slice(b"\r\n");
        // The server must answer and stop reading (it closes the connection): writes then
        // fail, or time out, once the socket buffers (a few MiB on loopback) are full.
        // 64 MiB accepted means it kept reading.
        s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut sent = 0;
        let mut closed = false;
        while sent < 64 * LIMIT {
            if s.write_all(&framed).is_err() {
                closed = true;
                break;
            }
            sent += chunk.len();
        }
        let (status, text) = answer.join().unwrap();
        (status, text, sent, closed)
    })
    .await
    .unwrap();
    assert_eq!(status, 413, "after {sent} bytes: {text}");
    assert!(closed, "the server kept reading: {sent} bytes sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_write_over_http_is_stored() {
    let (addr, db, _dir) = serve().await;
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label::new("__name__", "over_http")],
            samples: vec![Sample {
                value: 3.0,
                timestamp: 1000,
            }],
            ..TimeSeries::default()
        }],
        metadata: vec![],
    };
    let body = snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .unwrap();
    let (status, text) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let h = head(addr, &format!("Content-Length: {}\r\n", body.len()));
        s.write_all(h.as_bytes()).unwrap();
        s.write_all(&body).unwrap();
        read_status(&mut s)
    })
    .await
    .unwrap();
    assert_eq!(status, 204, "{text}");
    let m = Matcher::new(MatchOp::Equal, "__name__", "over_http").unwrap();
    assert_eq!(db.select(&[m], 0, 2000).len(), 1);
}
