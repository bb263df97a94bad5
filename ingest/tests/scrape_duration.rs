//! `scrape_duration_seconds` is the scrape itself (the HTTP exchange and turning the body
//! into samples), as in Prometheus: the time a scrape waits for a parse/append slot when
//! the scraper is busy is not part of it, and shows in
//! `tianshu_scrape_work_slot_wait_seconds` instead.
//!
//! Its own test binary: the work slots are process-wide, and this test holds all of them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tianshu_ingest::scrape::{metrics, work_slots, ScrapeManager, Sink};
use tianshu_tsdb::{AppendReport, MetricMetadata, SeriesRef};

/// A bound on how long an expected event may take; only reached on failure.
const PATIENCE: Duration = Duration::from_secs(30);

/// Keeps the values of `scrape_duration_seconds` it is given.
#[derive(Default)]
struct Durations(Mutex<Vec<f64>>);

impl Sink for Durations {
    fn append(&self, batch: &[SeriesRef<'_>]) -> Result<AppendReport, String> {
        for s in batch {
            let is_duration = s
                .labels
                .iter()
                .any(|(n, v)| n == "__name__" && v == "scrape_duration_seconds");
            if is_duration {
                let mut d = self.0.lock().unwrap_or_else(|p| p.into_inner());
                d.extend(s.samples.iter().map(|x| x.v));
            }
        }
        Ok(AppendReport::default())
    }

    fn set_metadata(&self, _: Vec<MetricMetadata>) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_wait_is_not_scrape_duration() {
    let served = Arc::new(AtomicUsize::new(0));
    let s = served.clone();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            s.fetch_add(1, Ordering::SeqCst);
            async { "# TYPE things counter\nthings_total 1\n" }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // Every slot is busy before the first scrape.
    let mut held = Vec::new();
    for _ in 0..work_slots::capacity() {
        held.push(work_slots::acquire().await);
    }
    let wait_sum_before = metrics::value("tianshu_scrape_work_slot_wait_seconds_sum");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prometheus.yml");
    std::fs::write(
        &file,
        format!(
            "scrape_configs:\n- job_name: slot-wait\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  static_configs:\n  - targets: ['{addr}']\n"
        ),
    )
    .unwrap();
    let sink = Arc::new(Durations::default());
    let manager = ScrapeManager::start(sink.clone(), Some(file)).unwrap();

    let deadline = Instant::now() + PATIENCE;
    while served.load(Ordering::SeqCst) == 0 {
        assert!(Instant::now() < deadline, "the target was never scraped");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The exchange is over; the scrape now waits for a slot for at least this long.
    let hold_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let held_for = hold_started.elapsed();
    drop(held);

    let first = loop {
        if let Some(&d) = sink.0.lock().unwrap().first() {
            break d;
        }
        assert!(Instant::now() < deadline, "no scrape_duration_seconds");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert!(
        first < held_for.as_secs_f64(),
        "scrape_duration_seconds {first} includes the {held_for:?} the scrape waited for a slot"
    );
    let waited = metrics::value("tianshu_scrape_work_slot_wait_seconds_sum") - wait_sum_before;
    assert!(
        waited >= held_for.as_secs_f64() * 0.9,
        "the slot wait shows {waited} s, held {held_for:?}"
    );
    assert!(metrics::value("tianshu_scrape_work_slot_wait_seconds_count") >= 1.0);
    // The pool's own metrics moved too.
    let text = metrics::render();
    assert!(
        text.contains("prometheus_sd_discovered_targets{config=\"slot-wait\",name=\"scrape\"} 1"),
        "{text}"
    );
    assert!(metrics::value("prometheus_sd_updates_total{name=\"scrape\"}") >= 1.0);
    assert!(metrics::value("prometheus_sd_received_updates_total{name=\"scrape\"}") >= 1.0);
    assert!(
        metrics::value(
            "prometheus_target_sync_length_histogram_seconds_count{scrape_job=\"slot-wait\"}"
        ) >= 1.0
    );
    assert_eq!(
        metrics::value("prometheus_target_scrape_pool_targets{scrape_job=\"slot-wait\"}"),
        1.0
    );
    assert!(metrics::value("prometheus_target_scrape_pools_total") >= 1.0);
    manager.stop();
}
