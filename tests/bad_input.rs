//! Malformed and hostile remote-write requests: each gets a 4xx with a clear
//! message, the server keeps serving, and nothing acknowledged before is lost.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::*;

/// Small enough that streaming past it is quick, large enough that the 10 MB
/// label value case is refused for its label, not for its size.
const MAX_REQUEST_BYTES: usize = 32 << 20;

/// Remote-write messages with `bytes` where the real ones have `string`: the
/// same wire format, but able to carry invalid UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct RawWriteRequest {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<RawTimeSeries>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RawTimeSeries {
    #[prost(message, repeated, tag = "1")]
    labels: Vec<RawLabel>,
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct RawLabel {
    #[prost(bytes = "vec", tag = "1")]
    name: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).unwrap()
}

fn one(labels: &[(&str, &str)], t: i64, v: f64) -> WriteRequest {
    WriteRequest {
        timeseries: vec![series(labels, &[(t, v)])],
        metadata: vec![],
    }
}

/// Instant query for `query` at `t_ms`: the (labels, value) pairs.
fn instant(base: &str, query: &str, t_ms: i64) -> Vec<(serde_json::Value, f64)> {
    let data = query_instant(base, query, t_ms);
    data["result"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| (s["metric"].clone(), parse_sample_value(&s["value"][1])))
        .collect()
}

struct Checker {
    failures: Vec<String>,
}

impl Checker {
    /// Records a failure unless `status` is `want` and the body is a short,
    /// non-empty message mentioning one of `keywords` (any, case-insensitive).
    fn expect(&mut self, case: &str, want: u16, status: u16, body: &str, keywords: &[&str]) {
        let shown: String = body.chars().take(300).collect();
        println!("{case}: {status} {}", shown.trim_end());
        if status != want {
            self.failures
                .push(format!("{case}: expected {want}, got {status}: {shown}"));
            return;
        }
        if want == 204 {
            return;
        }
        if body.trim().is_empty() {
            self.failures
                .push(format!("{case}: {status} without a message in the body"));
        } else if body.len() > 4096 {
            self.failures.push(format!(
                "{case}: error message of {} bytes; a clear message should not echo the input: {shown}...",
                body.len()
            ));
        } else if !keywords.is_empty() {
            let lower = body.to_lowercase();
            if !keywords.iter().any(|k| lower.contains(k)) {
                self.failures.push(format!(
                    "{case}: message should mention one of {keywords:?}: {shown}"
                ));
            }
        }
    }

    fn fail(&mut self, msg: String) {
        self.failures.push(msg);
    }
}

/// The server answers, and the sample acknowledged at the start is intact.
fn check_alive(ts: &mut Tianshu, c: &mut Checker, after: &str, canary_t: i64) {
    if let Some(st) = ts.proc.exited() {
        panic!(
            "tianshu exited ({st}) after {after}\nfailures so far: {:#?}",
            c.failures
        );
    }
    let (status, body) = http_get(&ts.url("/-/ready"));
    if status != 200 {
        c.fail(format!("after {after}: /-/ready answered {status}: {body}"));
    }
    let got = instant(&ts.url(""), "bad_input_canary", canary_t + 1000);
    if got.len() != 1 || got[0].1 != 42.0 {
        c.fail(format!(
            "after {after}: bad_input_canary should be one series with value 42, got {got:?}"
        ));
    }
}

/// Sends a request head announcing `Content-Length: 1 GiB` and only a few
/// bytes of body; the server must answer 413 from the header alone.
fn announced_gigabyte(ts: &Tianshu) -> (u16, String) {
    let mut s = raw_connect(ts.addr);
    let head = format!(
        "POST /api/v1/write HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-protobuf\r\n\
         Content-Encoding: snappy\r\nX-Prometheus-Remote-Write-Version: 0.1.0\r\n\
         Content-Length: 1073741824\r\n\r\n",
        ts.addr
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&[0u8; 1024]).unwrap();
    read_raw_response(&mut s)
}

/// Streams a chunked body without end; the server must answer 413 once it has
/// seen more than the limit. Gives up after four times the limit.
fn endless_stream(ts: &Tianshu) -> (u16, String, usize) {
    let mut s = raw_connect(ts.addr);
    let head = format!(
        "POST /api/v1/write HTTP/1.1\r\nHost: {}\r\nContent-Type: application/x-protobuf\r\n\
         Content-Encoding: snappy\r\nTransfer-Encoding: chunked\r\n\r\n",
        ts.addr
    );
    s.write_all(head.as_bytes()).unwrap();
    // Read concurrently: the server may answer and close while we still write,
    // and the answer must be taken before a reset discards it.
    let mut reader = s.try_clone().unwrap();
    let answer = std::thread::spawn(move || read_raw_response(&mut reader));
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0usize;
    let framed = {
        let mut f = format!("{:x}\r\n", chunk.len()).into_bytes();
        f.extend_from_slice(&chunk);
        f.extend_from_slice(b"\r\n");
        f
    };
    while sent < 4 * MAX_REQUEST_BYTES && !answer.is_finished() {
        if s.write_all(&framed).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let (status, body) = answer.join().expect("response reader");
    (status, body, sent)
}

/// Reads one HTTP/1.1 response head (and whatever body comes within a short
/// time); status 0 when the connection closed without an answer.
fn read_raw_response(s: &mut std::net::TcpStream) -> (u16, String) {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut head_end = None;
    while Instant::now() < deadline {
        match s.read(&mut tmp) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(_) => break,
        }
        if head_end.is_none() {
            head_end = buf.windows(4).position(|w| w == b"\r\n\r\n");
            if head_end.is_some() {
                // Give the body a moment, then stop: the connection may stay open.
                s.set_read_timeout(Some(Duration::from_millis(500)))
                    .unwrap();
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = match text.find("\r\n\r\n") {
        Some(i) => text[i + 4..].to_string(),
        None => text,
    };
    (status, body)
}

#[test]
fn bad_remote_write_requests_are_refused_and_nothing_is_lost() {
    let max = MAX_REQUEST_BYTES.to_string();
    let mut ts = Tianshu::start(&["--ingest.max-request-bytes", &max]);
    let base = ts.url("");
    let mut c = Checker { failures: vec![] };
    let t0 = now_ms() - 60_000;

    let (status, body) = remote_write(&base, &one(&[("__name__", "bad_input_canary")], t0, 42.0));
    assert_eq!(
        status, 204,
        "first valid write: expected 204, got {status}: {body}"
    );
    check_alive(&mut ts, &mut c, "the first write", t0);

    let ag = agent();
    let valid = encode_write(&one(&[("__name__", "bad_input_never")], t0, 1.0));

    // Not snappy at all.
    let (status, body) =
        post_write_raw(&ag, &base, b"this is not a snappy block", "snappy").unwrap();
    c.expect("garbage body", 400, status, &body, &[]);
    check_alive(&mut ts, &mut c, "garbage body", t0);

    // Valid body, but labelled with an encoding remote write 1.0 does not use.
    let (status, body) = post_write_raw(&ag, &base, &valid, "gzip").unwrap();
    c.expect(
        "Content-Encoding: gzip",
        415,
        status,
        &body,
        &["encoding", "snappy", "gzip"],
    );
    check_alive(&mut ts, &mut c, "wrong Content-Encoding", t0);

    // Snappy cut short.
    let (status, body) = post_write_raw(&ag, &base, &valid[..valid.len() / 2], "snappy").unwrap();
    c.expect("truncated snappy", 400, status, &body, &[]);
    check_alive(&mut ts, &mut c, "truncated snappy", t0);

    // Snappy fine, protobuf inside cut short.
    let raw = prost::Message::encode_to_vec(&one(&[("__name__", "bad_input_never")], t0, 1.0));
    let (status, body) =
        post_write_raw(&ag, &base, &snappy(&raw[..raw.len() - 3]), "snappy").unwrap();
    c.expect("truncated protobuf", 400, status, &body, &[]);
    check_alive(&mut ts, &mut c, "truncated protobuf", t0);

    // Unsorted labels: Prometheus sorts them; the series is the sorted one.
    let unsorted = one(
        &[
            ("zone", "z1"),
            ("__name__", "bad_input_unsorted"),
            ("app", "a1"),
        ],
        t0,
        7.0,
    );
    let (status, body) = remote_write(&base, &unsorted);
    c.expect("unsorted labels", 204, status, &body, &[]);
    let sorted_later = one(
        &[
            ("__name__", "bad_input_unsorted"),
            ("app", "a1"),
            ("zone", "z1"),
        ],
        t0 + 1000,
        8.0,
    );
    let (status, body) = remote_write(&base, &sorted_later);
    c.expect("same series with sorted labels", 204, status, &body, &[]);
    let series = api_get(
        &base,
        "/api/v1/series",
        &[
            ("match[]", "bad_input_unsorted"),
            ("start", &api_time(t0 - 1000)),
            ("end", &api_time(t0 + 2000)),
        ],
    );
    let want = serde_json::json!([{"__name__": "bad_input_unsorted", "app": "a1", "zone": "z1"}]);
    if series != want {
        c.fail(format!(
            "unsorted labels: expected one series {want}, /api/v1/series gave {series}"
        ));
    }
    let points = matrix_points(&query_instant(&base, "bad_input_unsorted[10s]", t0 + 1500));
    if points != vec![(t0, 7.0), (t0 + 1000, 8.0)] {
        c.fail(format!(
            "unsorted labels: both samples should be in one series, got {points:?}"
        ));
    }
    check_alive(&mut ts, &mut c, "unsorted labels", t0);

    let invalid_series: Vec<(&str, WriteRequest, &[&str])> = vec![
        (
            "duplicate label names",
            one(
                &[("__name__", "bad_input_never"), ("dup", "1"), ("dup", "2")],
                t0,
                1.0,
            ),
            &["duplicate", "dup"],
        ),
        (
            "empty label name",
            one(&[("__name__", "bad_input_never"), ("", "x")], t0, 1.0),
            &["label", "name", "empty"],
        ),
        (
            "10 MB label value",
            one(
                &[
                    ("__name__", "bad_input_never"),
                    ("big", &"v".repeat(10 << 20)),
                ],
                t0,
                1.0,
            ),
            &["label", "value", "long", "length", "size", "large", "limit"],
        ),
    ];
    for (case, req, keywords) in &invalid_series {
        let (status, body) = remote_write(&base, req);
        c.expect(case, 400, status, &body, keywords);
        check_alive(&mut ts, &mut c, case, t0);
    }

    // Invalid UTF-8 in a label value.
    let bad_utf8 = RawWriteRequest {
        timeseries: vec![RawTimeSeries {
            labels: vec![
                RawLabel {
                    name: b"__name__".to_vec(),
                    value: b"bad_input_never".to_vec(),
                },
                RawLabel {
                    name: b"l".to_vec(),
                    value: vec![0xff, 0xfe, 0x80],
                },
            ],
            samples: vec![Sample {
                value: 1.0,
                timestamp: t0,
            }],
        }],
    };
    let body_bytes = snappy(&prost::Message::encode_to_vec(&bad_utf8));
    let (status, body) = post_write_raw(&ag, &base, &body_bytes, "snappy").unwrap();
    c.expect("invalid UTF-8 label value", 400, status, &body, &[]);
    check_alive(&mut ts, &mut c, "invalid UTF-8", t0);

    // 1 GiB announced, a few bytes sent.
    let started = Instant::now();
    let (status, body) = announced_gigabyte(&ts);
    c.expect("Content-Length: 1 GiB", 413, status, &body, &[]);
    println!("1 GiB announcement answered in {:?}", started.elapsed());
    check_alive(&mut ts, &mut c, "1 GiB announced", t0);

    // Endless chunked body.
    let (status, body, sent) = endless_stream(&ts);
    c.expect("endless chunked body", 413, status, &body, &[]);
    println!("endless chunked body: answered {status} after {sent} bytes were sent");
    check_alive(&mut ts, &mut c, "endless chunked body", t0);

    // Out of order and duplicate timestamps, with the head at t0 + 30 s.
    let ooo = ("__name__", "bad_input_ooo");
    let (status, body) = remote_write(&base, &one(&[ooo], t0 + 30_000, 1.0));
    c.expect("in-order sample", 204, status, &body, &[]);
    let (status, body) = remote_write(&base, &one(&[ooo], t0 + 30_000, 1.0));
    c.expect(
        "identical resend (a retry) is a no-op",
        204,
        status,
        &body,
        &[],
    );
    let (status, body) = remote_write(&base, &one(&[ooo], t0 + 30_000, 2.0));
    c.expect(
        "same timestamp, other value",
        400,
        status,
        &body,
        &["duplicate", "timestamp", "out of order", "out-of-order"],
    );
    let (status, body) = remote_write(&base, &one(&[ooo], t0 - 3_600_000, 3.0));
    c.expect(
        "sample 1 h older than the series' last",
        400,
        status,
        &body,
        &[
            "out of order",
            "out-of-order",
            "too old",
            "out of bounds",
            "old",
        ],
    );
    let got = instant(&base, "bad_input_ooo", t0 + 31_000);
    if got.len() != 1 || got[0].1 != 1.0 {
        c.fail(format!(
            "after the refused samples bad_input_ooo should still be 1, got {got:?}"
        ));
    }
    check_alive(&mut ts, &mut c, "out-of-order samples", t0);

    // Nothing refused was stored.
    let never = instant(&base, "{__name__=~\"bad_input_never.*\"}", t0 + 1000);
    if !never.is_empty() {
        c.fail(format!("refused series were stored: {never:?}"));
    }

    // A new valid write still works.
    let (status, body) = remote_write(
        &base,
        &one(&[("__name__", "bad_input_after")], t0 + 2000, 5.0),
    );
    c.expect(
        "valid write after all the bad ones",
        204,
        status,
        &body,
        &[],
    );
    let got = instant(&base, "bad_input_after", t0 + 2500);
    if got.len() != 1 || got[0].1 != 5.0 {
        c.fail(format!("bad_input_after should be 5, got {got:?}"));
    }
    check_alive(&mut ts, &mut c, "everything", t0);

    assert!(
        c.failures.is_empty(),
        "{} bad-input check(s) failed:\n  - {}",
        c.failures.len(),
        c.failures.join("\n  - ")
    );
}
