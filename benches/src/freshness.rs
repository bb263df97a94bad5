//! Freshness: the time from a 2xx on the write of a new sample until a query returns it.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prost::Message;
use tianshu_ingest::proto::{Label, Sample, TimeSeries, WriteRequest};

use crate::http;
use crate::queries::{parse_answer, run, Mode, Times};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn probe_body(t_ms: i64, value: f64) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label::new("__name__", "tianshu_bench_freshness")],
            samples: vec![Sample {
                value,
                timestamp: t_ms,
            }],
            ..Default::default()
        }],
        metadata: Vec::new(),
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy compresses any input below 4 GiB")
}

/// Milliseconds to visibility of `probes` fresh samples of one series, polled every
/// millisecond; a probe not visible within `timeout` counts as `timeout`. The series is
/// created (and waited for) before the first probe: a dashboard watches series that
/// exist, and a new series' first visibility is another matter (VictoriaMetrics
/// registers new series in its index seconds later than their samples).
pub fn measure(base: &str, probes: usize, timeout: Duration) -> Result<Vec<f64>, String> {
    let writer = http::agent(Duration::from_secs(30));
    let reader = http::agent(Duration::from_secs(30));
    let mut out = Vec::with_capacity(probes + 1);
    for probe in 0..=probes {
        let t_ms = now_ms();
        let value = 1000.0 + probe as f64;
        match http::remote_write(&writer, base, &probe_body(t_ms, value))? {
            (s, _) if (200..300).contains(&s) => {}
            (s, body) => return Err(format!("freshness write: HTTP {s}: {}", body.trim())),
        }
        let acked = Instant::now();
        let limit = if probe == 0 {
            Duration::from_secs(60)
        } else {
            timeout
        };
        let visible = loop {
            // Evaluate at the current time, as a live dashboard does.
            let t = Times {
                instant_ms: now_ms(),
                start_ms: 0,
                end_ms: 0,
            };
            let seen = run(&reader, base, "tianshu_bench_freshness", Mode::Instant, &t)
                .and_then(|b| parse_answer(&b))
                .is_ok_and(|a| a.values().any(|p| p.iter().any(|x| x.1 == value)));
            let elapsed = acked.elapsed();
            if seen || elapsed >= limit {
                break elapsed.min(limit);
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if probe > 0 {
            out.push(visible.as_secs_f64() * 1e3);
        }
        // Spread probes out so that each meets the system in its ordinary state, not
        // right behind the previous probe's flush.
        std::thread::sleep(Duration::from_millis(137));
    }
    Ok(out)
}
