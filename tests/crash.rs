//! `kill -9` while a writer is sending: every sample that got a 2xx answer
//! must be there after the restarts.
//!
//! Set `TIANSHU_CRASH_SEED` to replay a run; each run prints its seed.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SERIES: u64 = 3;
const SAMPLES_PER_REQUEST: u64 = 10;
const KILLS: usize = 5;

/// Sample `seq` of series `k` is at `base + seq` ms with this value, so any
/// stored point can be checked on its own.
fn value_of(seq: u64, k: u64) -> f64 {
    (seq * SERIES + k) as f64
}

fn request(n: u64, base_ms: i64) -> WriteRequest {
    let timeseries = (0..SERIES)
        .map(|k| {
            let samples: Vec<(i64, f64)> = (n * SAMPLES_PER_REQUEST..(n + 1) * SAMPLES_PER_REQUEST)
                .map(|seq| (base_ms + seq as i64, value_of(seq, k)))
                .collect();
            series(
                &[
                    ("__name__", "crash_test"),
                    ("series", &k.to_string()),
                    ("writer", "0"),
                ],
                &samples,
            )
        })
        .collect();
    WriteRequest {
        timeseries,
        metadata: vec![],
    }
}

#[derive(Default)]
struct WriterLog {
    /// Requests `0..acked` were answered 2xx (the writer sends them in order).
    acked: u64,
    attempts: u64,
    failed_attempts: u64,
    /// 4xx answers: the writer would drop these batches, as Prometheus does.
    refused: Vec<String>,
}

/// Sends requests 0, 1, 2, ... in order, retrying each until it gets a 2xx,
/// like Prometheus's remote-write queue does on connection errors and 5xx.
fn writer(base: String, base_ms: i64, stop: Arc<AtomicBool>, acked: Arc<AtomicU64>) -> WriterLog {
    let ag = agent_with_timeout(Duration::from_secs(10));
    let mut log = WriterLog::default();
    let mut n = 0u64;
    let mut body = encode_write(&request(n, base_ms));
    while !stop.load(Ordering::SeqCst) {
        log.attempts += 1;
        match post_write_raw(&ag, &base, &body, "snappy") {
            Ok((status, _)) if (200..300).contains(&status) => {
                n += 1;
                log.acked = n;
                acked.store(n, Ordering::SeqCst);
                body = encode_write(&request(n, base_ms));
                // Paced so a run stores tens of thousands of samples, not millions.
                thread::sleep(Duration::from_millis(1));
            }
            Ok((status, text)) if (400..500).contains(&status) => {
                log.refused.push(format!("request {n}: {status} {text}"));
                if log.refused.len() > 20 {
                    break;
                }
                thread::sleep(Duration::from_millis(20));
            }
            _ => {
                log.failed_attempts += 1;
                thread::sleep(Duration::from_millis(20));
            }
        }
    }
    log
}

/// Checks every acknowledged sample is stored with its value and nothing
/// stored is wrong. Returns the number of points read.
fn verify(ts: &Tianshu, base_ms: i64, acked: u64, when: &str) -> usize {
    let last_seq = acked * SAMPLES_PER_REQUEST;
    let eval = base_ms + last_seq as i64 + 1000;
    let range_s = (eval - base_ms) / 1000 + 10;
    let mut total = 0;
    for k in 0..SERIES {
        let q = format!("crash_test{{series=\"{k}\",writer=\"0\"}}[{range_s}s]");
        let data = query_instant(&ts.url(""), &q, eval);
        let points = matrix_points(&data);
        total += points.len();
        let mut wrong = Vec::new();
        let mut got = std::collections::HashMap::new();
        for &(t, v) in &points {
            let seq = t - base_ms;
            if seq < 0 || v != value_of(seq as u64, k) {
                wrong.push((t, v));
            }
            got.insert(t, v);
        }
        let missing: Vec<u64> = (0..last_seq)
            .filter(|&seq| got.get(&(base_ms + seq as i64)) != Some(&value_of(seq, k)))
            .collect();
        assert!(
            missing.is_empty() && wrong.is_empty(),
            "{when}: series {k}: {} of {last_seq} acknowledged samples missing \
             (first: seq {:?}; sample seq s is at base+s ms, base = {base_ms}), \
             {} stored points with a wrong value (first: {:?}); query {q} at {}",
            missing.len(),
            &missing[..missing.len().min(10)],
            wrong.len(),
            &wrong[..wrong.len().min(10)],
            api_time(eval),
        );
    }
    total
}

fn crash_run(extra: &[&str]) {
    let seed = std::env::var("TIANSHU_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    println!(
        "crash test {extra:?}: seed {seed} (TIANSHU_CRASH_SEED={seed} replays the kill times)"
    );
    let mut rng = StdRng::seed_from_u64(seed);

    let mut ts = Tianshu::start(extra);
    let base_ms = now_ms() - 600_000;
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicU64::new(0));
    let w = {
        let (base, stop, acked) = (ts.url(""), stop.clone(), acked.clone());
        thread::spawn(move || writer(base, base_ms, stop, acked))
    };

    let started = Instant::now();
    for i in 0..KILLS {
        thread::sleep(Duration::from_millis(rng.random_range(200..=1500)));
        ts.kill9();
        println!(
            "kill {} at {:?}: {} requests acknowledged",
            i + 1,
            started.elapsed(),
            acked.load(Ordering::SeqCst)
        );
        // Let the writer run into the dead server before it comes back.
        thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        ts.restart();
    }
    // Some acknowledged writes after the last restart.
    let before = acked.load(Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    while acked.load(Ordering::SeqCst) < before + 20 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    let log = w.join().expect("writer thread");
    println!(
        "writer: {} requests acknowledged, {} attempts, {} failed attempts",
        log.acked, log.attempts, log.failed_attempts
    );
    assert!(
        log.refused.is_empty(),
        "writes were refused with 4xx; a resend of a request that may already be stored \
         must be a no-op (identical samples), never an error:\n{}",
        log.refused.join("\n")
    );
    assert!(
        log.acked > before,
        "no write was acknowledged after the last restart ({before} before)"
    );

    let n = verify(&ts, base_ms, log.acked, "after the kills");
    println!("verified {n} points after {KILLS} kills");

    // A clean shutdown keeps everything as well.
    let status = ts.sigterm();
    assert!(status.success(), "SIGTERM: tianshu exited with {status}");
    ts.restart();
    verify(&ts, base_ms, log.acked, "after SIGTERM and restart");
}

#[test]
fn kill9_with_fsync_never_loses_no_acknowledged_sample() {
    crash_run(&["--wal.fsync", "never"]);
}

#[test]
fn kill9_with_default_fsync_loses_no_acknowledged_sample() {
    crash_run(&[]);
}

#[test]
fn kill9_with_fsync_always_loses_no_acknowledged_sample() {
    crash_run(&["--wal.fsync", "always"]);
}
