//! One remote-write request to the receiver, and what its answer means for the queue.
//!
//! As Prometheus's remote-write client: 2xx is delivered; 429 and 5xx are retried, after
//! the answer's `Retry-After` when it has one and otherwise after an exponential backoff;
//! any other 4xx means the receiver will never take this data, so the request is dropped
//! (retrying a 400 would block the queue forever); transport errors are retried.

use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT};
use reqwest::StatusCode;

/// The protocol version header remote-write 1.0 senders set.
const REMOTE_WRITE_VERSION: &str = "0.1.0";
/// Longest body text kept from a refusal, for the log.
const MAX_ERROR_BODY_BYTES: usize = 1024;

/// What became of one send.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    Delivered,
    /// The receiver refused the data for good (4xx other than 429).
    Refused {
        status: u16,
        body: String,
    },
    /// Worth another try; `after` is the receiver's `Retry-After`, if it gave one.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
}

/// The headers every request carries.
pub(crate) fn default_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_ENCODING, HeaderValue::from_static("snappy"));
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/x-protobuf"),
    );
    h.insert(
        "X-Prometheus-Remote-Write-Version",
        HeaderValue::from_static(REMOTE_WRITE_VERSION),
    );
    h.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("Tianshu/", env!("CARGO_PKG_VERSION"))),
    );
    h
}

/// Concatenates snappy-compressed `WriteRequest` payloads into one compressed request
/// body: their uncompressed protobuf concatenates into one message holding all their
/// series, as repeated fields do.
pub(crate) fn join_payloads(payloads: &[Vec<u8>]) -> Result<Vec<u8>, snap::Error> {
    if let [one] = payloads {
        return Ok(one.clone());
    }
    let mut raw = Vec::new();
    let mut dec = snap::raw::Decoder::new();
    for p in payloads {
        raw.extend_from_slice(&dec.decompress_vec(p)?);
    }
    snap::raw::Encoder::new().compress_vec(&raw)
}

pub(crate) async fn send(client: &reqwest::Client, url: &str, body: Vec<u8>) -> Outcome {
    let resp = match client.post(url).body(body).send().await {
        Ok(r) => r,
        Err(e) => {
            return Outcome::Retry {
                after: None,
                reason: e.to_string(),
            }
        }
    };
    let status = resp.status();
    if status.is_success() {
        return Outcome::Delivered;
    }
    let after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| retry_after(v, SystemTime::now()));
    let mut body = resp.text().await.unwrap_or_default();
    truncate_at_char(&mut body, MAX_ERROR_BODY_BYTES);
    classify(status, after, body)
}

fn classify(status: StatusCode, after: Option<Duration>, body: String) -> Outcome {
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        Outcome::Retry {
            after,
            reason: format!("server returned HTTP status {status}: {}", body.trim()),
        }
    } else {
        Outcome::Refused {
            status: status.as_u16(),
            body,
        }
    }
}

/// `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3). A date in the past is
/// no delay.
pub(crate) fn retry_after(v: &str, now: SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Exponential backoff between retries: doubles from `min` up to `max`, back to `min`
/// after a delivery.
#[derive(Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        Backoff {
            min,
            max,
            next: min,
        }
    }

    /// The wait before the next try: the receiver's `Retry-After` when given (it knows
    /// when it will have room), otherwise the current backoff, which then doubles.
    pub(crate) fn wait(&mut self, retry_after: Option<Duration>) -> Duration {
        let own = self.next;
        self.next = (self.next * 2).min(self.max);
        retry_after.unwrap_or(own)
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified_as_prometheus_senders_do() {
        let d = Some(Duration::from_secs(3));
        assert!(matches!(
            classify(StatusCode::TOO_MANY_REQUESTS, d, "slow down".into()),
            Outcome::Retry { after, .. } if after == d
        ));
        assert!(matches!(
            classify(StatusCode::SERVICE_UNAVAILABLE, None, String::new()),
            Outcome::Retry { after: None, .. }
        ));
        assert_eq!(
            classify(StatusCode::BAD_REQUEST, None, "out of bounds".into()),
            Outcome::Refused {
                status: 400,
                body: "out of bounds".into()
            }
        );
        assert!(matches!(
            classify(StatusCode::PAYLOAD_TOO_LARGE, d, String::new()),
            Outcome::Refused { status: 413, .. }
        ));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        // RFC 9110's example date is `now` + 10 s here.
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-5", now), None);
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_yields_to_retry_after() {
        let mut b = Backoff::new(Duration::from_millis(30), Duration::from_millis(100));
        assert_eq!(b.wait(None), Duration::from_millis(30));
        assert_eq!(b.wait(None), Duration::from_millis(60));
        assert_eq!(b.wait(Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(b.wait(None), Duration::from_millis(100));
        b.reset();
        assert_eq!(b.wait(None), Duration::from_millis(30));
    }

    #[test]
    fn joined_payloads_decode_as_one_request_with_every_series() {
        use prost::Message;
        use tianshu_prompb::{Label, Sample, TimeSeries, WriteRequest};
        let req = |name: &str| WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label::new("__name__", name)],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 5,
                }],
                ..Default::default()
            }],
            ..Default::default()
        };
        let enc = |r: &WriteRequest| {
            snap::raw::Encoder::new()
                .compress_vec(&r.encode_to_vec())
                .unwrap()
        };
        let body = join_payloads(&[enc(&req("a")), enc(&req("b"))]).unwrap();
        let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
        let got = WriteRequest::decode(raw.as_slice()).unwrap();
        let names: Vec<&str> = got
            .timeseries
            .iter()
            .map(|t| t.labels[0].value.as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
