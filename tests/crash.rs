//! `kill -9` while writers are sending: every sample that got a 2xx answer
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
/// Concurrent writers, each on its own series, so that appends (and, with
/// `--wal.fsync always`, group commits) overlap when the kill comes.
const WRITERS: usize = 2;

/// Sample `seq` of series `k` is at `base + seq` ms with this value, so any
/// stored point can be checked on its own.
fn value_of(seq: u64, k: u64) -> f64 {
    (seq * SERIES + k) as f64
}

fn request(w: usize, n: u64, base_ms: i64) -> WriteRequest {
    let timeseries = (0..SERIES)
        .map(|k| {
            let samples: Vec<(i64, f64)> = (n * SAMPLES_PER_REQUEST..(n + 1) * SAMPLES_PER_REQUEST)
                .map(|seq| (base_ms + seq as i64, value_of(seq, k)))
                .collect();
            series(
                &[
                    ("__name__", "crash_test"),
                    ("series", &k.to_string()),
                    ("writer", &w.to_string()),
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
    /// Requests `0..completed` are done (the writer sends them in order):
    /// answered 2xx, or refused on a resend as already stored.
    completed: u64,
    acked: u64,
    /// Requests whose first attempt failed in transport (server killed) and
    /// whose resend was refused with 400 as out of order or duplicate: the
    /// first attempt reached the WAL, and Prometheus would drop the batch here.
    dropped_on_resend: Vec<u64>,
    attempts: u64,
    failed_attempts: u64,
    /// Any other 4xx answer.
    refused: Vec<String>,
}

/// Sends requests 0, 1, 2, ... in order, resending each after connection
/// errors and 5xx, and dropping it after other 4xx, as Prometheus's
/// remote-write queue does.
fn writer(
    w: usize,
    base: String,
    base_ms: i64,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> WriterLog {
    let ag = agent_with_timeout(Duration::from_secs(10));
    let mut log = WriterLog::default();
    let mut n = 0u64;
    let mut body = encode_write(&request(w, n, base_ms));
    let mut resend = false;
    while !stop.load(Ordering::SeqCst) {
        log.attempts += 1;
        let next = match post_write_raw(&ag, &base, &body, "snappy") {
            Ok((status, _)) if (200..300).contains(&status) => {
                log.acked += 1;
                true
            }
            Ok((400, text))
                if resend && (text.contains("out of order") || text.contains("duplicate")) =>
            {
                log.dropped_on_resend.push(n);
                true
            }
            Ok((status, text)) if (400..500).contains(&status) => {
                log.refused.push(format!(
                    "request {n} ({}): {status} {text}",
                    if resend { "resend" } else { "first attempt" }
                ));
                if log.refused.len() > 20 {
                    break;
                }
                true
            }
            _ => {
                log.failed_attempts += 1;
                resend = true;
                thread::sleep(Duration::from_millis(20));
                false
            }
        };
        if next {
            n += 1;
            log.completed = n;
            done.store(n, Ordering::SeqCst);
            body = encode_write(&request(w, n, base_ms));
            resend = false;
            // Paced so a run stores tens of thousands of samples, not millions.
            thread::sleep(Duration::from_millis(1));
        }
    }
    log
}

/// Checks every sample of requests `0..completed` is stored with its value
/// and nothing stored is wrong. Returns the number of points read.
fn verify(ts: &Tianshu, base_ms: i64, w: usize, log: &WriterLog, when: &str) -> usize {
    let completed = log.completed;
    let last_seq = completed * SAMPLES_PER_REQUEST;
    let eval = base_ms + last_seq as i64 + 1000;
    let range_s = (eval - base_ms) / 1000 + 10;
    let mut total = 0;
    for k in 0..SERIES {
        let q = format!("crash_test{{series=\"{k}\",writer=\"{w}\"}}[{range_s}s]");
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
        let mut missing_requests: Vec<u64> =
            missing.iter().map(|s| s / SAMPLES_PER_REQUEST).collect();
        missing_requests.dedup();
        let dropped: Vec<&u64> = missing_requests
            .iter()
            .filter(|r| log.dropped_on_resend.contains(r))
            .collect();
        assert!(
            missing.is_empty() && wrong.is_empty(),
            "{when}: writer {w} series {k}: {} of {last_seq} samples missing (first: seq {:?}; \
             sample seq s is at base+s ms, base = {base_ms}) from requests {:?}; \
             of these, {dropped:?} were refused on resend as out of order/duplicate \
             (so their first attempt was stored, but not whole), the others were \
             acknowledged with 2xx. {} stored points with a wrong value (first: {:?}). \
             Query {q} at {}",
            missing.len(),
            &missing[..missing.len().min(10)],
            &missing_requests[..missing_requests.len().min(10)],
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
    let done: Vec<Arc<AtomicU64>> = (0..WRITERS).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let handles: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (base, stop, done) = (ts.url(""), stop.clone(), done[w].clone());
            thread::spawn(move || writer(w, base, base_ms, stop, done))
        })
        .collect();
    let progress = || -> Vec<u64> { done.iter().map(|d| d.load(Ordering::SeqCst)).collect() };

    let started = Instant::now();
    for i in 0..KILLS {
        thread::sleep(Duration::from_millis(rng.random_range(200..=1500)));
        ts.kill9();
        println!(
            "kill {} at {:?}: requests done by each writer {:?}",
            i + 1,
            started.elapsed(),
            progress()
        );
        // Let the writers run into the dead server before it comes back.
        thread::sleep(Duration::from_millis(rng.random_range(0..300)));
        ts.restart();
    }
    // Some acknowledged writes after the last restart.
    let before = progress();
    let deadline = Instant::now() + Duration::from_secs(60);
    while progress().iter().zip(&before).any(|(now, b)| *now < b + 20) && Instant::now() < deadline
    {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::SeqCst);
    let logs: Vec<WriterLog> = handles
        .into_iter()
        .map(|h| h.join().expect("writer thread"))
        .collect();
    for (w, log) in logs.iter().enumerate() {
        println!(
            "writer {w}: {} requests acknowledged, {} refused on resend as already stored {:?}, \
             {} attempts, {} failed attempts",
            log.acked,
            log.dropped_on_resend.len(),
            log.dropped_on_resend,
            log.attempts,
            log.failed_attempts
        );
        assert!(
            log.refused.is_empty(),
            "writer {w}: valid writes were refused with 4xx:\n{}",
            log.refused.join("\n")
        );
        assert!(
            log.completed > before[w] + 1,
            "writer {w}: no write was acknowledged after the last restart ({} before)",
            before[w]
        );
    }

    let n: usize = (0..WRITERS)
        .map(|w| verify(&ts, base_ms, w, &logs[w], "after the kills"))
        .sum();
    println!("verified {n} points after {KILLS} kills");

    // A clean shutdown keeps everything as well.
    let status = ts.sigterm();
    assert!(status.success(), "SIGTERM: tianshu exited with {status}");
    ts.restart();
    for (w, log) in logs.iter().enumerate() {
        verify(&ts, base_ms, w, log, "after SIGTERM and restart");
    }
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
