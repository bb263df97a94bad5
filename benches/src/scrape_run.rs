//! One scraping system under the scrape benchmark: the shared Prometheus-format
//! configuration, starting Tianshu (`--config`, embedded store) or Prometheus on it,
//! and measuring a window of steady scraping.
//!
//! CPU and memory are read from `/proc` ([`crate::measure`]); what was scraped is read
//! back from each system's own series (`scrape_samples_scraped`, `scrape_duration_seconds`,
//! `up`) through its query API after the window, so both are measured the same way and
//! the queries' own cost falls outside the window.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::http;
use crate::measure::{cpu_seconds, memory, RssSampler};
use crate::systems::{fresh_data_dir_and_addr, spawn_logged, wait_ready, System, PROMETHEUS_BIN};

/// Writes the one configuration both systems load: a single job over every target at
/// `interval`, the timeout equal to the interval (Prometheus refuses a longer one).
pub fn write_config(path: &Path, addrs: &[SocketAddr], interval_secs: u64) -> Result<(), String> {
    let mut y = format!(
        "global:\n  scrape_interval: {interval_secs}s\n  scrape_timeout: {interval_secs}s\n\
         scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets:\n"
    );
    for a in addrs {
        y.push_str(&format!("          - '{a}'\n"));
    }
    std::fs::write(path, y).map_err(|e| format!("{path:?}: {e}"))
}

/// A scraping server process. Dropping it kills the process if `stop` was not called.
pub struct Scraper {
    pub system: System,
    pub base: String,
    child: Option<Child>,
    pid: u32,
}

impl Scraper {
    /// Starts `system` on `config` with a fresh data directory under `work`.
    pub fn start(
        system: System,
        tianshu_bin: &Path,
        config: &Path,
        work: &Path,
        logs: &Path,
    ) -> Result<Scraper, String> {
        let (data_dir, addr) = fresh_data_dir_and_addr(work, system)?;
        let mut cmd = match system {
            System::Tianshu => {
                let mut c = Command::new(tianshu_bin);
                c.arg("--listen")
                    .arg(&addr)
                    .arg("--data-dir")
                    .arg(&data_dir)
                    .arg("--config")
                    .arg(config)
                    // Prometheus does not scrape itself unless configured to; neither
                    // does Tianshu here.
                    .arg("--self-scrape.interval")
                    .arg("0s")
                    .arg("--log.level")
                    .arg("warn");
                c
            }
            System::Prometheus => {
                let mut c = Command::new(PROMETHEUS_BIN);
                c.arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.tsdb.path={}", data_dir.display()))
                    .arg(format!("--web.listen-address={addr}"))
                    .arg("--log.level=warn");
                c
            }
            System::VictoriaMetrics => {
                return Err("the scrape benchmark runs Tianshu and Prometheus only".into())
            }
        };
        let (child, log_path) = spawn_logged(&mut cmd, system, logs)?;
        let pid = child.id();
        let mut s = Scraper {
            system,
            base: format!("http://{addr}"),
            child: Some(child),
            pid,
        };
        s.wait_ready(Duration::from_secs(60), &log_path)?;
        Ok(s)
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    fn wait_ready(&mut self, timeout: Duration, log: &Path) -> Result<(), String> {
        let child = self.child.as_mut();
        wait_ready(self.system, &self.base, child, timeout, log)
    }

    /// SIGTERM, then a kill after `grace`.
    pub fn stop(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Scraper {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// What one system did in the measurement window.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScrapeFigures {
    pub system: &'static str,
    pub version: String,
    pub window_secs: f64,
    /// Server CPU (user + system) seconds per wall second in the window.
    pub cpu_per_sec: f64,
    /// The benchmark process's own CPU per second in the window (the targets' server).
    pub targets_cpu_per_sec: f64,
    pub rss_end_bytes: u64,
    pub rss_peak_bytes: u64,
    /// `sum(sum_over_time(scrape_samples_scraped[W])) / W`.
    pub samples_per_sec: f64,
    /// Server CPU microseconds per scraped sample.
    pub cpu_us_per_sample: f64,
    /// Scrapes recorded in the window (`scrape_duration_seconds` samples).
    pub scrapes: u64,
    /// Targets × W / interval.
    pub scrapes_expected: u64,
    pub duration_p50_ms: f64,
    pub duration_p99_ms: f64,
    /// Scrapes that succeeded (`up` 1) within the interval, over the scrapes expected.
    pub within_interval: f64,
    /// Requests the targets answered in the window, over the scrapes expected.
    pub served_fraction: f64,
}

/// Runs the warm-up and the window against a started system and reads its figures.
pub struct Window {
    pub warmup: Duration,
    pub measure: Duration,
    pub targets: usize,
    pub interval: Duration,
}

impl Window {
    pub fn measure(
        &self,
        s: &Scraper,
        version: String,
        requests: &std::sync::atomic::AtomicU64,
    ) -> Result<ScrapeFigures, String> {
        use std::sync::atomic::Ordering;
        std::thread::sleep(self.warmup);
        let me = std::process::id();
        let cpu = || cpu_seconds(s.pid()).ok_or_else(|| format!("{} exited", s.system.name()));
        let (c0, m0, r0, t0) = (
            cpu()?,
            cpu_seconds(me).unwrap_or(0.0),
            requests.load(Ordering::Relaxed),
            Instant::now(),
        );
        let sampler = RssSampler::start(s.pid(), Duration::from_millis(250));
        std::thread::sleep(self.measure);
        let (c1, m1, r1, wall) = (
            cpu()?,
            cpu_seconds(me).unwrap_or(0.0),
            requests.load(Ordering::Relaxed),
            t0.elapsed().as_secs_f64(),
        );
        let end_ms = unix_ms();
        let (rss, hwm) = sampler.finish();
        let rss_end = memory(s.pid()).map(|m| m.rss).unwrap_or(0);
        let rss_peak = rss.iter().map(|(_, r)| *r).max().unwrap_or(0).max(hwm);
        // Whole seconds, ending at the window's end: the series read back cover it.
        let w = self.measure.as_secs().max(1);
        let at = format!("{:.3}", end_ms as f64 / 1000.0);
        let agent = http::agent(Duration::from_secs(120));
        let scalar = |q: &str| -> Result<f64, String> {
            let v = query(&agent, &s.base, q, &at)?;
            Ok(v.first().and_then(|s| s.1.first()).map_or(0.0, |p| p.1))
        };
        let samples = scalar(&format!("sum(sum_over_time(scrape_samples_scraped[{w}s]))"))?;
        let durations = query(
            &agent,
            &s.base,
            &format!("scrape_duration_seconds[{w}s]"),
            &at,
        )?;
        let ups = query(&agent, &s.base, &format!("up[{w}s]"), &at)?;
        let up_at: HashMap<(String, i64), f64> = ups
            .into_iter()
            .flat_map(|(inst, pts)| pts.into_iter().map(move |(t, v)| ((inst.clone(), t), v)))
            .collect();
        // Tianshu's `scrape_duration_seconds` leaves out the wait for a parse/append slot
        // (Prometheus has no such wait, and its duration is the exchange plus the append):
        // a scrape made late by that wait is not counted late here, but it delays the
        // target's next tick, which is then skipped and missing from `scrapes`. The wait
        // itself is in Tianshu's `tianshu_scrape_work_slot_wait_seconds`.
        let mut ds = Vec::new();
        let mut within = 0u64;
        let limit = self.interval.as_secs_f64();
        for (inst, pts) in durations {
            for (t, d) in pts {
                ds.push(d * 1000.0);
                let up = up_at.get(&(inst.clone(), t)).copied().unwrap_or(0.0);
                if up == 1.0 && d < limit {
                    within += 1;
                }
            }
        }
        let expected = (self.targets as f64 * w as f64 / limit).round() as u64;
        let samples_per_sec = samples / w as f64;
        let cpu_per_sec = (c1 - c0) / wall;
        Ok(ScrapeFigures {
            system: s.system.name(),
            version,
            window_secs: wall,
            cpu_per_sec,
            targets_cpu_per_sec: (m1 - m0) / wall,
            rss_end_bytes: rss_end,
            rss_peak_bytes: rss_peak,
            samples_per_sec,
            cpu_us_per_sample: if samples_per_sec > 0.0 {
                cpu_per_sec / samples_per_sec * 1e6
            } else {
                f64::NAN
            },
            scrapes: ds.len() as u64,
            scrapes_expected: expected,
            duration_p50_ms: percentile(&mut ds, 0.5),
            duration_p99_ms: percentile(&mut ds, 0.99),
            within_interval: (within as f64 / expected.max(1) as f64).min(1.0),
            served_fraction: (r1 - r0) as f64 / wall * limit / self.targets.max(1) as f64,
        })
    }
}

/// Nearest-rank percentile; NaN when empty.
fn percentile(xs: &mut [f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let rank = ((q * xs.len() as f64).ceil() as usize).clamp(1, xs.len());
    xs[rank - 1]
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// An instant query's series as (instance, [(timestamp ms, value)]): one point for a
/// vector, all of them for a matrix.
type Points = Vec<(String, Vec<(i64, f64)>)>;

fn query(agent: &ureq::Agent, base: &str, q: &str, at: &str) -> Result<Points, String> {
    let (status, body) = http::get(
        agent,
        &format!("{base}/api/v1/query"),
        &[("query", q), ("time", at)],
    )?;
    if status != 200 {
        return Err(format!("{base} {q}: HTTP {status}: {body}"));
    }
    let v: serde_json::Value =
        serde_json::from_str(&body).map_err(|e| format!("{base} {q}: {e}"))?;
    let point = |p: &serde_json::Value| -> Option<(i64, f64)> {
        let t = p.get(0)?.as_f64()?;
        let v: f64 = p.get(1)?.as_str()?.parse().ok()?;
        Some(((t * 1000.0).round() as i64, v))
    };
    let mut out = Vec::new();
    for s in v["data"]["result"].as_array().into_iter().flatten() {
        let inst = s["metric"]["instance"].as_str().unwrap_or("").to_string();
        let pts: Vec<(i64, f64)> = if let Some(vals) = s["values"].as_array() {
            vals.iter().filter_map(point).collect()
        } else {
            point(&s["value"]).into_iter().collect()
        };
        out.push((inst, pts));
    }
    Ok(out)
}

/// Where a run's files go.
pub struct Paths {
    pub work: PathBuf,
    pub logs: PathBuf,
    pub config: PathBuf,
}

impl Paths {
    pub fn under(out: &Path) -> Paths {
        Paths {
            work: out.join("work"),
            logs: out.join("logs"),
            config: out.join("scrape.yml"),
        }
    }
}
