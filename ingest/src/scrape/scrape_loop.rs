//! One target's scrape loop: wait for the target's offset in the interval, then scrape every
//! interval until stopped, as Prometheus's `scrapeLoop.run`.
//!
//! Timing: the first scrape waits until the wall clock is at the target's phase
//! (`hash(target) mod interval`), so that many targets with the same interval spread over
//! it and a target keeps its phase across restarts. Timestamps are aligned as Prometheus
//! aligns them: a scrape that fires within 2 ms of its ideal tick is stamped with the tick,
//! so that 1-second series compress to constant deltas.
//!
//! Each scrape: GET (bounded by `scrape_timeout`), parse and append off the async workers,
//! report series, health for `/api/v1/targets`. `scrape_duration_seconds` is what
//! Prometheus's is, the HTTP exchange plus turning the body into samples; the wait for a
//! parse/append slot between the two (`work_slots`, which Prometheus does not have) is
//! left out of it and recorded in `tianshu_scrape_work_slot_wait_seconds` instead, so
//! that a busy scraper does not look like slow targets. A failed scrape (HTTP error, timeout, bad
//! body, limit) stores `up 0`, marks the last scrape's series stale and records the error;
//! it never affects another target. When the target goes away the loop writes staleness
//! markers for all its series; when the server stops or the job is reconfigured, none.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tianshu_tsdb::{MetricMetadata, Sample, SeriesSamples};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::append::{parse_options, AppendSettings, FamilyMeta, SeriesCache};
use super::client::ScrapeClient;
use super::metrics;
use super::parse::negotiate;
use super::report::{self, Report};
use super::sink::{borrow_all, Sink};
use super::target::TargetSpec;
use super::work_slots;

/// Prometheus's `ScrapeTimestampTolerance`.
const TIMESTAMP_TOLERANCE_MS: i64 = 2;

/// A target's health, as `/api/v1/targets` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    Unknown,
    Up,
    Down,
}

impl HealthState {
    pub fn as_str(self) -> &'static str {
        match self {
            HealthState::Unknown => "unknown",
            HealthState::Up => "up",
            HealthState::Down => "down",
        }
    }
}

/// The outcome of the last scrape.
#[derive(Debug, Clone)]
pub struct Health {
    pub state: HealthState,
    /// Empty when the last scrape succeeded.
    pub last_error: String,
    /// Start of the last scrape; `None` before the first.
    pub last_scrape: Option<SystemTime>,
    pub last_duration: Duration,
}

/// What the API reads about a running target.
pub struct TargetState {
    /// What the target scrapes as; its `discovered` is left empty, the current discovered
    /// labels being in `discovered`.
    pub spec: TargetSpec,
    pub pool: String,
    /// The labels discovery last gave the target, before relabelling. A later discovery
    /// of the same target (same labels after relabelling, so the same loop) may bring
    /// other `__meta_*` values: they replace these, as Prometheus's sync does with
    /// `SetDiscoveredLabels`.
    discovered: Mutex<BTreeMap<String, String>>,
    health: Mutex<Health>,
    metadata: Mutex<BTreeMap<String, FamilyMeta>>,
    /// Set while the pool is over its `target_limit`: every scrape fails with it.
    forced_error: Mutex<Option<String>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The data is plain values; a panic elsewhere cannot leave it half-written.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TargetState {
    pub fn new(mut spec: TargetSpec, pool: String) -> Self {
        let discovered = std::mem::take(&mut spec.discovered);
        TargetState {
            spec,
            pool,
            discovered: Mutex::new(discovered),
            health: Mutex::new(Health {
                state: HealthState::Unknown,
                last_error: String::new(),
                last_scrape: None,
                last_duration: Duration::ZERO,
            }),
            metadata: Mutex::new(BTreeMap::new()),
            forced_error: Mutex::new(None),
        }
    }

    pub fn discovered_labels(&self) -> BTreeMap<String, String> {
        lock(&self.discovered).clone()
    }

    pub fn set_discovered_labels(&self, labels: BTreeMap<String, String>) {
        *lock(&self.discovered) = labels;
    }

    pub fn health(&self) -> Health {
        lock(&self.health).clone()
    }

    pub fn metadata(&self) -> BTreeMap<String, FamilyMeta> {
        lock(&self.metadata).clone()
    }

    pub fn set_forced_error(&self, e: Option<String>) {
        *lock(&self.forced_error) = e;
    }
}

/// How a loop is told to end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Running,
    /// The target is gone: mark its series stale.
    Stale,
}

/// A running loop. Dropping it ends the loop without staleness markers.
pub struct LoopHandle {
    pub state: Arc<TargetState>,
    stop: watch::Sender<Stop>,
    _task: JoinHandle<()>,
}

impl LoopHandle {
    /// Ends the loop after its current scrape, writing staleness markers.
    pub fn stop_stale(self) {
        let _ = self.stop.send(Stop::Stale);
    }
}

/// Everything a loop uses, fixed for its life.
pub struct LoopParts {
    pub state: Arc<TargetState>,
    pub settings: AppendSettings,
    pub client: ScrapeClient,
    pub sink: Arc<dyn Sink>,
}

/// Starts a loop on the current runtime.
pub fn spawn(parts: LoopParts) -> LoopHandle {
    let (tx, rx) = watch::channel(Stop::Running);
    let state = parts.state.clone();
    let task = tokio::spawn(run(parts, rx));
    LoopHandle {
        state,
        stop: tx,
        _task: task,
    }
}

fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos())
}

fn unix_ms(t: SystemTime) -> i64 {
    i64::try_from(unix_nanos(t) / 1_000_000).unwrap_or(i64::MAX)
}

/// Prometheus's `Target.offset`: the wait until the wall clock is at `hash mod interval`
/// within the interval.
pub fn offset(hash: u64, interval: Duration, now: SystemTime) -> Duration {
    let iv = interval.as_nanos().max(1);
    let now = unix_nanos(now);
    let base = iv - now % iv;
    let mut next = base + u128::from(hash) % iv;
    if next > iv {
        next -= iv;
    }
    Duration::from_nanos(u64::try_from(next).unwrap_or(u64::MAX))
}

/// `d` as Go's `time.Duration.String` writes it (`1s`, `1m30s`, `500ms`), the form of
/// Prometheus's `interval` label.
pub fn go_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, ms / 60_000 % 60);
    let s = (ms % 60_000) as f64 / 1000.0;
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// Prometheus's timestamp alignment: advances `aligned` to the latest tick not after
/// `now` and stamps with it when `now` is within the tolerance.
pub fn align(now_ms: i64, aligned: &mut i64, interval_ms: i64) -> i64 {
    if interval_ms <= 100 * TIMESTAMP_TOLERANCE_MS {
        return now_ms;
    }
    if now_ms - *aligned >= interval_ms {
        *aligned += (now_ms - *aligned) / interval_ms * interval_ms;
    }
    if now_ms - *aligned <= TIMESTAMP_TOLERANCE_MS {
        *aligned
    } else {
        now_ms
    }
}

async fn run(parts: LoopParts, mut stop: watch::Receiver<Stop>) {
    let interval = parts.state.spec.interval.as_std();
    let wait = offset(parts.state.spec.hash(), interval, SystemTime::now());
    tokio::select! {
        _ = tokio::time::sleep(wait) => {}
        // Stopped before the first scrape: nothing to mark stale.
        _ = stop.changed() => return,
    }
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let interval_ms = i64::try_from(interval.as_millis()).unwrap_or(i64::MAX);
    let mut aligned = unix_ms(SystemTime::now());
    let mut cache = Some(SeriesCache::default());
    let interval_length = metrics::get()
        .interval_length
        .get_or_create(&metrics::IntervalLabels {
            interval: go_duration(interval),
        })
        .clone();
    let mut last_start: Option<Instant> = None;
    let mut last_meta: BTreeMap<String, FamilyMeta> = BTreeMap::new();
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            r = stop.changed() => {
                if r.is_ok() && *stop.borrow() == Stop::Stale {
                    end_of_run(&parts, cache.take().unwrap_or_default()).await;
                }
                return;
            }
        }
        let started = Instant::now();
        if let Some(last) = last_start.replace(started) {
            interval_length.observe(started.duration_since(last).as_secs_f64());
        }
        let wall = SystemTime::now();
        let ts = align(unix_ms(wall), &mut aligned, interval_ms);
        let c = cache.take().unwrap_or_default();
        let (c, error, duration, meta) = scrape_once(&parts, c, ts, started).await;
        cache = Some(c);
        if let Some(meta) = meta {
            if meta != last_meta {
                publish_metadata(&parts, &meta).await;
                *lock(&parts.state.metadata) = meta.clone();
                last_meta = meta;
            }
        }
        let mut h = lock(&parts.state.health);
        h.state = if error.is_none() {
            HealthState::Up
        } else {
            HealthState::Down
        };
        h.last_error = error.unwrap_or_default();
        h.last_scrape = Some(wall);
        h.last_duration = duration;
    }
}

/// One scrape: fetch, then parse, append and report on a blocking thread. Returns the
/// cache, the error if the scrape failed, its duration, and the metadata on success.
async fn scrape_once(
    parts: &LoopParts,
    mut cache: SeriesCache,
    ts: i64,
    started: Instant,
) -> (
    SeriesCache,
    Option<String>,
    Duration,
    Option<BTreeMap<String, FamilyMeta>>,
) {
    let spec = &parts.state.spec;
    let forced = lock(&parts.state.forced_error).clone();
    let fetched = match forced {
        Some(e) => Err(e),
        None => parts.client.fetch(&spec.url, spec.timeout.as_std()).await,
    };
    let http = started.elapsed();
    let settings = parts.settings.clone();
    let sink = parts.sink.clone();
    let target = settings.target_labels.clone();
    let url = spec.url.clone();
    let waiting = Instant::now();
    let slot = work_slots::acquire().await;
    metrics::get()
        .work_slot_wait
        .observe(waiting.elapsed().as_secs_f64());
    let work = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let working = Instant::now();
        let mut appended = match fetched {
            Err(e) => cache.failed(ts, e),
            Ok(f) => match negotiate(f.content_type.as_deref(), Some(ScrapeClient::fallback())) {
                Err(e) => cache.failed(ts, e.to_string()),
                Ok(n) => cache.append(n.parser(&f.body, parse_options()), &settings, ts),
            },
        };
        // The exchange and the work, without the slot wait between them.
        let duration = http + working.elapsed();
        if appended.duplicates > 0 {
            metrics::get()
                .duplicate_timestamps
                .inc_by(appended.duplicates);
            tracing::warn!(target = %url, num_dropped = appended.duplicates,
                "Error on ingesting samples with different value but same timestamp");
        }
        let rep = Report {
            up: appended.error.is_none(),
            duration_seconds: duration.as_secs_f64(),
            scraped: appended.scraped,
            post_relabel: appended.post_relabel,
            series_added: appended.series_added,
        };
        let rows = std::mem::take(&mut appended.rows);
        store(
            sink.as_ref(),
            &cache,
            &rows,
            &report::samples(&target, ts, &rep),
            &url,
        );
        let meta = appended.error.is_none().then(|| cache.metadata.clone());
        (cache, appended.error, duration, meta)
    });
    match work.await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(target = %spec.url, error = %e, "scrape failed unexpectedly");
            (
                SeriesCache::default(),
                Some(format!("internal error: {e}")),
                started.elapsed(),
                None,
            )
        }
    }
}

/// Stores an append's rows (labels lent by `cache`) and the owned `extra` series in one
/// batch.
fn store(
    sink: &dyn Sink,
    cache: &SeriesCache,
    rows: &[(u32, Sample)],
    extra: &[SeriesSamples],
    url: &str,
) {
    let mut flats = Vec::new();
    let mut batch = cache.series(rows);
    batch.extend(borrow_all(extra, &mut flats));
    match sink.append(&batch) {
        Ok(r) if r.rejected > 0 => tracing::debug!(
            target = %url,
            rejected = r.rejected,
            first = ?r.first_rejection,
            "storage rejected scraped samples"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(target = %url, error = %e, "appending scraped samples failed"),
    }
}

async fn publish_metadata(parts: &LoopParts, meta: &BTreeMap<String, FamilyMeta>) {
    let md: Vec<MetricMetadata> = meta
        .iter()
        .map(|(name, m)| MetricMetadata {
            metric_family: name.clone(),
            kind: m.kind.clone(),
            help: m.help.clone(),
            unit: m.unit.clone(),
        })
        .collect();
    let sink = parts.sink.clone();
    let r = tokio::task::spawn_blocking(move || sink.set_metadata(md)).await;
    if let Ok(Err(e)) = r {
        tracing::debug!(error = %e, "storing scraped metadata failed");
    }
}

/// The target went away: every series of its last scrape, report series included, gets a
/// staleness marker now. Prometheus waits up to two intervals first so that a target that
/// moved to another pool is not marked; that write would land out of order here, where
/// late samples are accepted, so the markers are written at once.
async fn end_of_run(parts: &LoopParts, mut cache: SeriesCache) {
    let ts = unix_ms(SystemTime::now());
    let target = parts.settings.target_labels.clone();
    let sink = parts.sink.clone();
    let url = parts.state.spec.url.clone();
    let _ = tokio::task::spawn_blocking(move || {
        let rows = cache.failed(ts, String::new()).rows;
        store(
            sink.as_ref(),
            &cache,
            &rows,
            &report::stale(&target, ts),
            &url,
        );
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_pin_the_phase_to_the_wall_clock() {
        let iv = Duration::from_secs(1);
        let t0 = UNIX_EPOCH + Duration::from_millis(1_000_250);
        // hash mod 1 s = 600 ms: the next time at phase 600 ms is 350 ms away.
        let hash = 7_000_600_000_000u64;
        assert_eq!(offset(hash, iv, t0), Duration::from_millis(350));
        let t1 = UNIX_EPOCH + Duration::from_millis(1_000_900);
        assert_eq!(offset(hash, iv, t1), Duration::from_millis(700));
    }

    #[test]
    fn intervals_are_labelled_as_go_prints_them() {
        assert_eq!(go_duration(Duration::from_secs(1)), "1s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_secs(60)), "1m0s");
        assert_eq!(go_duration(Duration::from_secs(3690)), "1h1m30s");
        assert_eq!(go_duration(Duration::from_millis(250)), "250ms");
    }

    #[test]
    fn timestamps_align_within_tolerance() {
        let mut aligned = 10_000;
        assert_eq!(align(11_001, &mut aligned, 1000), 11_000);
        assert_eq!(aligned, 11_000);
        assert_eq!(align(12_005, &mut aligned, 1000), 12_005, "beyond 2 ms");
        assert_eq!(align(15_002, &mut aligned, 1000), 15_000, "skipped ticks");
        // Intervals of 200 ms or less are never aligned.
        let mut a = 0;
        assert_eq!(align(201, &mut a, 200), 201);
    }
}
