//! One side-by-side run: encode the workload once; for each system in turn start it,
//! ingest, let it settle and check its answers; with all of them loaded, time the queries
//! interleaved; then for each in turn measure freshness and disk, and stop it.
//!
//! The timing is interleaved because a 2-core machine shared with other work drifts by
//! up to 2× within minutes: timed one system after another, a ratio compared two moments
//! as much as two systems. Each repetition of a query runs on every system back to back,
//! in an order that rotates from one repetition to the next, so that all of them see the
//! same moments of the machine and none is always first after another's run.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::encode::{encode, ConnectionPayload};
use crate::measure::{cpu_seconds, dir_bytes, median_p90, memory, RssSampler};
use crate::queries::{self, Answer, Mode, Times, QUERIES};
use crate::report::{Machine, Params, QueryOutcome, Report, SystemResult};
use crate::systems::{self, Server, System};
use crate::workload::Workload;
use crate::{ceiling, freshness, http, send};

#[derive(Clone, Debug)]
pub struct Config {
    pub series: usize,
    pub duration_secs: u32,
    pub seed: u64,
    pub connections: usize,
    pub query_reps: usize,
    pub freshness_probes: usize,
    pub settle: Duration,
    pub smoke: bool,
    pub tianshu_fsync: String,
    pub out: PathBuf,
    pub workspace: PathBuf,
    pub systems: Vec<System>,
}

impl Config {
    pub fn smoke(out: PathBuf, workspace: PathBuf) -> Config {
        Config {
            series: 50,
            duration_secs: 60,
            seed: 1,
            connections: 2,
            query_reps: 2,
            freshness_probes: 3,
            settle: Duration::from_secs(1),
            smoke: true,
            tianshu_fsync: "1s".into(),
            out,
            workspace,
            systems: System::ALL.to_vec(),
        }
    }
}

fn unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

pub fn run(cfg: &Config) -> Result<Report, String> {
    systems::check_peers()?;
    let tianshu_bin = systems::tianshu_binary(&cfg.workspace, !cfg.smoke)?;
    std::fs::create_dir_all(&cfg.out).map_err(|e| format!("{:?}: {e}", cfg.out))?;
    let work = tempfile::Builder::new()
        .prefix("tianshu-bench-")
        .tempdir()
        .map_err(|e| format!("temp dir: {e}"))?;

    let t0 = Instant::now();
    let workload = Workload::generate(cfg.series, cfg.duration_secs, cfg.seed, unix_ms());
    let payloads = encode(&workload, cfg.connections);
    let times = Times::for_workload(&workload);
    let requests: u64 = payloads.iter().map(|p| p.bodies.len() as u64).sum();
    let payload_bytes: u64 = payloads.iter().map(ConnectionPayload::bytes).sum();
    eprintln!(
        "workload: {} series × {} s = {} samples in {requests} requests ({:.1} MiB), encoded in {:.1} s",
        workload.series.len(),
        workload.duration_secs,
        workload.total_samples(),
        payload_bytes as f64 / (1u64 << 20) as f64,
        t0.elapsed().as_secs_f64()
    );
    let ceiling = ceiling::measure(
        &payloads,
        Duration::from_secs(if cfg.smoke { 0 } else { 3 }),
    )?;
    eprintln!(
        "decode ceiling: {:.0} samples/s on one core",
        ceiling.samples_per_sec
    );

    let mut reference: HashMap<(usize, Mode), Answer> = HashMap::new();
    let mut loaded = Vec::new();
    for &system in &cfg.systems {
        eprintln!("--- {}", system.name());
        loaded.push(load_system(
            cfg,
            system,
            &tianshu_bin,
            work.path(),
            &workload,
            &payloads,
            &times,
            &mut reference,
        )?);
    }
    time_queries(&mut loaded, &times, cfg.query_reps);
    let mut results = Vec::new();
    let mut problems = Vec::new();
    for l in loaded {
        eprintln!("--- {}", l.system.name());
        let r = finish_system(cfg, l, &tianshu_bin, &workload);
        for e in &r.errors {
            problems.push(format!("{}: {e}", r.system.name()));
        }
        for q in r.queries.iter().filter(|q| q.failed_check) {
            problems.push(format!(
                "{}: `{}` {}: {}",
                r.system.name(),
                q.name,
                q.mode,
                q.check
            ));
        }
        results.push(r);
    }
    let tianshu_rate = results
        .iter()
        .find(|r| r.system == System::Tianshu)
        .map_or(f64::NAN, |r| r.ingest_samples_per_sec);
    Ok(Report {
        finished_at_unix: (unix_ms() / 1000) as u64,
        machine: Machine::detect(),
        params: Params {
            series: workload.series.len(),
            duration_secs: workload.duration_secs,
            seed: cfg.seed,
            connections: cfg.connections,
            query_reps: cfg.query_reps,
            freshness_probes: cfg.freshness_probes,
            smoke: cfg.smoke,
            tianshu_fsync: cfg.tianshu_fsync.clone(),
            samples: workload.total_samples(),
            requests,
            payload_bytes,
            times,
        },
        tianshu_fraction_of_ceiling: tianshu_rate / ceiling.samples_per_sec,
        ceiling,
        systems: results,
        problems,
    })
}

/// A system started, loaded with the workload and checked, waiting for its queries to be
/// timed and its freshness and disk to be measured.
struct Loaded {
    system: System,
    server: Server,
    pid: u32,
    agent: ureq::Agent,
    errors: Vec<String>,
    ingest: send::IngestOutcome,
    searchable_after: f64,
    cpu_ingest: f64,
    rss_idle: u64,
    rss_peak: u64,
    rss_steady: u64,
    /// One per query and mode, in `QUERIES` × `Mode::ALL` order; timed by `time_queries`.
    queries: Vec<QueryOutcome>,
}

#[allow(clippy::too_many_arguments)]
fn load_system(
    cfg: &Config,
    system: System,
    tianshu_bin: &Path,
    work: &Path,
    workload: &Workload,
    payloads: &[ConnectionPayload],
    times: &Times,
    reference: &mut HashMap<(usize, Mode), Answer>,
) -> Result<Loaded, String> {
    let logs = cfg.out.join("logs");
    let server = Server::start(system, tianshu_bin, &cfg.tianshu_fsync, work, &logs)?;
    let pid = server.pid();
    let mut errors = Vec::new();
    // Let start-up work (Go runtimes, WAL replay of nothing) finish before the baseline.
    std::thread::sleep(Duration::from_millis(500));
    let rss_idle = memory(pid).map_or(0, |m| m.rss);
    let cpu_before = cpu_seconds(pid).unwrap_or(0.0);

    let sampler = RssSampler::start(pid, Duration::from_millis(50));
    let ingest = send::send_all(&server.base, payloads);
    eprintln!(
        "ingest: {} samples in {:.2} s = {:.0} samples/s ({} failed requests)",
        ingest.samples,
        ingest.wall_secs,
        ingest.samples_per_sec(),
        ingest.failed_requests
    );
    if let Some(f) = &ingest.first_failure {
        errors.push(format!(
            "{} of {} writes failed; first: {f}",
            ingest.failed_requests, ingest.requests
        ));
    }
    let settle_start = Instant::now();
    std::thread::sleep(cfg.settle);
    let (rss_samples, hwm) = sampler.finish();
    let cpu_ingest = cpu_seconds(pid).unwrap_or(0.0) - cpu_before;
    let steady: Vec<f64> = rss_samples
        .iter()
        .filter(|(t, _)| *t >= settle_start + cfg.settle / 2)
        .map(|(_, r)| *r as f64)
        .collect();
    let rss_steady = if steady.is_empty() {
        memory(pid).map_or(0, |m| m.rss)
    } else {
        median_p90(&steady).0 as u64
    };
    let rss_peak = rss_samples.iter().map(|s| s.1).max().unwrap_or(0).max(hwm);

    let agent = http::agent(Duration::from_secs(300));
    if system == System::VictoriaMetrics {
        let _ = http::get(
            &agent,
            &format!("{}/internal/force_flush", server.base),
            &[],
        );
    }
    let searchable_after =
        queries::wait_searchable(&server.base, workload, times, Duration::from_secs(120))
            .unwrap_or_else(|e| {
                errors.push(e);
                f64::NAN
            });

    let mut outcomes = Vec::new();
    for (qi, q) in QUERIES.iter().enumerate() {
        for mode in Mode::ALL {
            let answer = queries::run(&agent, &server.base, q.expr, mode, times)
                .and_then(|b| queries::parse_answer(&b));
            let (check, failed, series, points) = match &answer {
                Err(e) => (format!("ERROR: {e}"), true, 0, 0),
                Ok(a) => {
                    let (c, f) = check_answer(system, q.uses_rate, a, reference.get(&(qi, mode)));
                    (c, f, a.len(), a.values().map(Vec::len).sum())
                }
            };
            if let (System::Prometheus, Ok(a)) = (system, answer) {
                reference.insert((qi, mode), a);
            }
            outcomes.push(QueryOutcome {
                name: q.name.into(),
                expr: q.expr.into(),
                mode: mode.label().into(),
                series,
                points,
                check,
                failed_check: failed,
                median_ms: f64::NAN,
                p90_ms: f64::NAN,
            });
        }
    }
    Ok(Loaded {
        system,
        server,
        pid,
        agent,
        errors,
        ingest,
        searchable_after,
        cpu_ingest,
        rss_idle,
        rss_peak,
        rss_steady,
        queries: outcomes,
    })
}

/// Times every query and mode `reps` times on every loaded system, interleaved (see the
/// module docs), and fills in each outcome's median and p90. A system whose run fails is
/// left out of that query's later repetitions.
fn time_queries(loaded: &mut [Loaded], times: &Times, reps: usize) {
    let n = loaded.len();
    let cases = QUERIES.iter().flat_map(|q| Mode::ALL.map(move |m| (q, m)));
    for (k, (q, mode)) in cases.enumerate() {
        let mut ms: Vec<Vec<f64>> = vec![Vec::with_capacity(reps); n];
        let mut failed = vec![false; n];
        for rep in 0..reps {
            for i in rotation(n, k * reps + rep) {
                if failed[i] {
                    continue;
                }
                let l = &mut loaded[i];
                let t0 = Instant::now();
                match queries::run(&l.agent, &l.server.base, q.expr, mode, times) {
                    Ok(_) => ms[i].push(t0.elapsed().as_secs_f64() * 1e3),
                    Err(e) => {
                        l.errors
                            .push(format!("timing `{}` {}: {e}", q.name, mode.label()));
                        failed[i] = true;
                    }
                }
            }
        }
        for (i, l) in loaded.iter_mut().enumerate() {
            let (median, p90) = if failed[i] {
                (f64::NAN, f64::NAN)
            } else {
                median_p90(&ms[i])
            };
            if let Some(o) = l.queries.get_mut(k) {
                o.median_ms = median;
                o.p90_ms = p90;
            }
        }
    }
    eprintln!(
        "queries: {} timed on {n} systems",
        loaded.first().map_or(0, |l| l.queries.len())
    );
}

/// The order in which the systems run round `round`: `0..n` rotated by `round`, and
/// reversed every other `n` rounds, so that over `2n` rounds each system comes first, and
/// right after each other one, equally often.
fn rotation(n: usize, round: usize) -> Vec<usize> {
    let Some(len) = std::num::NonZeroUsize::new(n) else {
        return Vec::new();
    };
    let mut order: Vec<usize> = (0..n).map(|i| (i + round) % len).collect();
    if (round / len) % 2 == 1 {
        order.reverse();
    }
    order
}

fn finish_system(
    cfg: &Config,
    mut l: Loaded,
    tianshu_bin: &Path,
    workload: &Workload,
) -> SystemResult {
    let fresh = freshness::measure(
        &l.server.base,
        cfg.freshness_probes,
        Duration::from_secs(60),
    )
    .unwrap_or_else(|e| {
        l.errors.push(e);
        Vec::new()
    });
    let (fresh_median, fresh_p90) = median_p90(&fresh);
    eprintln!("freshness: median {fresh_median:.1} ms, p90 {fresh_p90:.1} ms");

    let (disk_bytes, disk_method) =
        flushed_disk(l.system, &mut l.server, &l.agent, cfg.smoke, &mut l.errors);
    let cpu_total = cpu_seconds(l.pid).unwrap_or(f64::NAN);
    if let Err(e) = l.server.stop(Duration::from_secs(120)) {
        l.errors.push(e);
    }
    // The snapshot taken for the disk figure is not part of the database's own footprint.
    let disk_after_stop = dir_bytes(&l.server.data_dir)
        .saturating_sub(dir_bytes(&l.server.data_dir.join("snapshots")));
    let samples = l.ingest.samples.max(1) as f64;
    let series = workload.series.len().max(1) as f64;
    SystemResult {
        system: l.system,
        version: systems::version(l.system, tianshu_bin),
        ingest_samples_per_sec: l.ingest.samples_per_sec(),
        ingest: l.ingest,
        searchable_after_secs: l.searchable_after,
        cpu_ingest_secs: l.cpu_ingest,
        cpu_total_secs: cpu_total,
        rss_idle_bytes: l.rss_idle,
        rss_peak_bytes: l.rss_peak,
        rss_steady_bytes: l.rss_steady,
        rss_per_series_bytes: l.rss_steady.saturating_sub(l.rss_idle) as f64 / series,
        disk_bytes: disk_bytes.unwrap_or(disk_after_stop),
        disk_method,
        bytes_per_sample: disk_bytes.unwrap_or(disk_after_stop) as f64 / samples,
        disk_bytes_after_stop: disk_after_stop,
        queries: l.queries,
        freshness_median_ms: fresh_median,
        freshness_p90_ms: fresh_p90,
        freshness_ms: fresh,
        errors: l.errors,
    }
}

/// (check text, whether it counts as a failure).
fn check_answer(
    system: System,
    uses_rate: bool,
    got: &Answer,
    reference: Option<&Answer>,
) -> (String, bool) {
    if got.is_empty() || got.values().all(Vec::is_empty) {
        return ("EMPTY".into(), true);
    }
    let Some(want) = reference else {
        return if system == System::Prometheus {
            ("reference".into(), false)
        } else {
            ("no reference answer (Prometheus failed)".into(), false)
        };
    };
    if system == System::VictoriaMetrics && uses_rate {
        let (common, worst) = queries::loose_distance(want, got);
        return (
            format!(
                "loose: {common} of {} series in common, largest relative difference {worst:.3}",
                want.len()
            ),
            common == 0,
        );
    }
    let d = queries::diff(want, got, 3);
    let name_only = system == System::VictoriaMetrics
        && !d.is_empty()
        && !want.keys().any(|k| k.starts_with("{__name__="))
        && queries::diff(want, &queries::without_name(got), 3).is_empty();
    if d.is_empty() {
        ("agrees".into(), false)
    } else if name_only {
        (
            "agrees once `__name__` is dropped (VictoriaMetrics keeps it)".into(),
            false,
        )
    } else {
        (format!("MISMATCH: {}", d.join("; ")), true)
    }
}

/// Bytes on disk once the system has persisted what it holds, and how that was measured.
///
/// Tianshu and Prometheus are measured the same way: the admin snapshot writes the head as
/// a block beside hard links of the blocks already cut, so the snapshot directory holds
/// every sample once, compressed as it will be at rest (no WAL).
fn flushed_disk(
    system: System,
    server: &mut Server,
    agent: &ureq::Agent,
    smoke: bool,
    errors: &mut Vec<String>,
) -> (Option<u64>, String) {
    match system {
        System::Tianshu | System::Prometheus => {
            let url = format!("{}/api/v1/admin/tsdb/snapshot", server.base);
            let name = http::post_empty(agent, &url).ok().and_then(|(s, body)| {
                let json: serde_json::Value = serde_json::from_str(&body).ok()?;
                (s == 200).then(|| json["data"]["name"].as_str().map(str::to_string))?
            });
            match name {
                Some(n) => (
                    Some(dir_bytes(&server.data_dir.join("snapshots").join(n))),
                    "admin snapshot (head written as a block), snapshot dir".into(),
                ),
                None => {
                    errors.push(format!(
                        "{} snapshot failed; using data dir after SIGTERM",
                        system.name()
                    ));
                    (None, "data dir after SIGTERM".into())
                }
            }
        }
        System::VictoriaMetrics => {
            let _ = http::get(agent, &format!("{}/internal/force_flush", server.base), &[]);
            // Flushed parts are merged in the background right after a flush.
            std::thread::sleep(Duration::from_secs(if smoke { 1 } else { 5 }));
            (
                Some(dir_bytes(&server.data_dir)),
                "/internal/force_flush + 5 s, whole -storageDataPath".into(),
            )
        }
    }
}

/// Writes `report.json` and `report.md` into `out`.
pub fn write_outputs(report: &Report, out: &Path) -> Result<(PathBuf, PathBuf), String> {
    let json = out.join("report.json");
    let md = out.join("report.md");
    let text = serde_json::to_string_pretty(report).map_err(|e| format!("JSON: {e}"))?;
    std::fs::write(&json, text).map_err(|e| format!("{json:?}: {e}"))?;
    std::fs::write(&md, report.markdown()).map_err(|e| format!("{md:?}: {e}"))?;
    Ok((json, md))
}

#[cfg(test)]
mod tests {
    use super::rotation;

    /// Over `2n` consecutive rounds every system runs first twice, and right after each
    /// other system twice.
    #[test]
    fn rotation_puts_each_system_first_and_after_each_other_equally() {
        let n = 3;
        let mut first = vec![0; n];
        let mut after = vec![vec![0; n]; n];
        for round in 5..5 + 2 * n {
            let order = rotation(n, round);
            assert_eq!(order.len(), n);
            first[order[0]] += 1;
            for w in order.windows(2) {
                after[w[1]][w[0]] += 1;
            }
        }
        assert_eq!(first, vec![2; n]);
        for (b, row) in after.iter().enumerate() {
            for (a, &count) in row.iter().enumerate() {
                assert_eq!(count, if a == b { 0 } else { 2 }, "{b} after {a}");
            }
        }
        assert_eq!(rotation(1, 7), vec![0]);
        assert!(rotation(0, 7).is_empty());
    }
}
