//! Sends the pre-encoded bodies over `C` keep-alive connections, one thread (and one ureq
//! agent, hence one pooled connection) per connection, and times it.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use crate::encode::ConnectionPayload;
use crate::http;

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct IngestOutcome {
    /// From the first send to the last 2xx.
    pub wall_secs: f64,
    pub samples: u64,
    pub requests: u64,
    pub failed_requests: u64,
    pub first_failure: Option<String>,
}

impl IngestOutcome {
    pub fn samples_per_sec(&self) -> f64 {
        self.samples as f64 / self.wall_secs
    }
}

struct ConnResult {
    last_ok: Option<Instant>,
    samples: u64,
    requests: u64,
    failed: u64,
    first_failure: Option<String>,
}

pub fn send_all(base: &str, payloads: &[ConnectionPayload]) -> IngestOutcome {
    let barrier = Barrier::new(payloads.len() + 1);
    let mut start = Instant::now();
    let results: Vec<ConnResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = payloads
            .iter()
            .map(|p| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let agent = http::agent(Duration::from_secs(120));
                    barrier.wait();
                    send_connection(&agent, base, p)
                })
            })
            .collect();
        barrier.wait();
        start = Instant::now();
        handles
            .into_iter()
            .map(|h| h.join().expect("a sender thread panicked"))
            .collect()
    });
    let last = results.iter().filter_map(|r| r.last_ok).max();
    IngestOutcome {
        wall_secs: last.map_or(f64::NAN, |l| l.duration_since(start).as_secs_f64()),
        samples: results.iter().map(|r| r.samples).sum(),
        requests: results.iter().map(|r| r.requests).sum(),
        failed_requests: results.iter().map(|r| r.failed).sum(),
        first_failure: results.into_iter().find_map(|r| r.first_failure),
    }
}

fn send_connection(agent: &ureq::Agent, base: &str, p: &ConnectionPayload) -> ConnResult {
    let mut r = ConnResult {
        last_ok: None,
        samples: 0,
        requests: 0,
        failed: 0,
        first_failure: None,
    };
    for body in &p.bodies {
        r.requests += 1;
        match http::remote_write(agent, base, body) {
            Ok((status, _)) if (200..300).contains(&status) => r.last_ok = Some(Instant::now()),
            Ok((status, text)) => {
                r.failed += 1;
                r.first_failure
                    .get_or_insert_with(|| format!("HTTP {status}: {}", text.trim()));
            }
            Err(e) => {
                r.failed += 1;
                r.first_failure.get_or_insert(e);
            }
        }
    }
    // Samples in failed requests are not counted as ingested: requests are ~uniform, so
    // scale by the share that succeeded.
    r.samples = (p.samples * (r.requests - r.failed))
        .checked_div(r.requests)
        .unwrap_or(0);
    r
}
