//! Results of a run, as JSON and as the markdown table with ratios.

use std::fmt::Write as _;

use crate::ceiling::Ceiling;
use crate::queries::Times;
use crate::send::IngestOutcome;
use crate::systems::System;

#[derive(Clone, Debug, serde::Serialize)]
pub struct Machine {
    pub nproc: usize,
    pub memory_bytes: u64,
    pub cpu_model: String,
    pub kernel: String,
}

impl Machine {
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            nproc: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes: meminfo
                .lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .map_or(0, |kb| kb * 1024),
            cpu_model: cpuinfo
                .lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .unwrap_or("unknown")
                .trim()
                .to_string(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Params {
    pub series: usize,
    pub duration_secs: u32,
    pub seed: u64,
    pub connections: usize,
    pub query_reps: usize,
    pub freshness_probes: usize,
    pub smoke: bool,
    pub tianshu_fsync: String,
    pub samples: u64,
    pub requests: u64,
    pub payload_bytes: u64,
    pub times: Times,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct QueryOutcome {
    pub name: String,
    pub expr: String,
    pub mode: String,
    pub series: usize,
    pub points: usize,
    /// "reference", "agrees", "loose: ..." or "MISMATCH: ..." / "EMPTY" / "ERROR: ...".
    pub check: String,
    pub failed_check: bool,
    pub median_ms: f64,
    pub p90_ms: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SystemResult {
    pub system: System,
    pub version: String,
    pub ingest: IngestOutcome,
    pub ingest_samples_per_sec: f64,
    pub searchable_after_secs: f64,
    pub cpu_ingest_secs: f64,
    pub cpu_total_secs: f64,
    pub rss_idle_bytes: u64,
    pub rss_peak_bytes: u64,
    pub rss_steady_bytes: u64,
    /// (steady − idle) / series: what each active series costs, without the empty
    /// process's own footprint (Go runtimes and caches differ there).
    pub rss_per_series_bytes: f64,
    pub disk_bytes: u64,
    pub disk_method: String,
    pub bytes_per_sample: f64,
    pub disk_bytes_after_stop: u64,
    pub queries: Vec<QueryOutcome>,
    pub freshness_ms: Vec<f64>,
    pub freshness_median_ms: f64,
    pub freshness_p90_ms: f64,
    pub errors: Vec<String>,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct Report {
    pub finished_at_unix: u64,
    pub machine: Machine,
    pub params: Params,
    pub ceiling: Ceiling,
    /// Tianshu's ingest rate over the single-core decode ceiling.
    pub tianshu_fraction_of_ceiling: f64,
    pub systems: Vec<SystemResult>,
    /// Failed answer checks and run errors; empty on a clean run.
    pub problems: Vec<String>,
}

impl Report {
    pub fn get(&self, s: System) -> Option<&SystemResult> {
        self.systems.iter().find(|r| r.system == s)
    }

    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let p = &self.params;
        let m = &self.machine;
        let _ = writeln!(
            md,
            "Machine: {} cores ({}), {:.1} GiB RAM, Linux {}.  \nWorkload: {} series × {} s at 1 s \
             = {} samples in {} requests ({:.1} MiB snappy), seed {}, {} connections; \
             query reps {}, each run on every system back to back in rotating order; \
             Tianshu `--wal.fsync {}`.\n",
            m.nproc,
            m.cpu_model,
            m.memory_bytes as f64 / (1u64 << 30) as f64,
            m.kernel,
            p.series,
            p.duration_secs,
            p.samples,
            p.requests,
            p.payload_bytes as f64 / (1u64 << 20) as f64,
            p.seed,
            p.connections,
            p.query_reps,
            p.tianshu_fsync,
        );
        let (t, pr, vm) = (
            self.get(System::Tianshu),
            self.get(System::Prometheus),
            self.get(System::VictoriaMetrics),
        );
        md.push_str(
            "| metric | Tianshu | Prometheus | VictoriaMetrics | Tianshu / Prometheus | Tianshu / VictoriaMetrics |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        let row = |md: &mut String,
                   name: &str,
                   f: &dyn Fn(&SystemResult) -> f64,
                   fmt: &dyn Fn(f64) -> String| {
            let val = |r: Option<&SystemResult>| r.map(f);
            let (a, b, c) = (val(t), val(pr), val(vm));
            let show = |x: Option<f64>| x.map_or("–".to_string(), fmt);
            let ratio = |x: Option<f64>, y: Option<f64>| match (x, y) {
                (Some(x), Some(y)) if y != 0.0 && x.is_finite() && y.is_finite() => {
                    format!("{:.2}", x / y)
                }
                _ => "–".to_string(),
            };
            let _ = writeln!(
                md,
                "| {name} | {} | {} | {} | {} | {} |",
                show(a),
                show(b),
                show(c),
                ratio(a, b),
                ratio(a, c)
            );
        };
        let num = |x: f64| format_num(x);
        let mib = |x: f64| format!("{:.1} MiB", x / (1u64 << 20) as f64);
        row(
            &mut md,
            "ingest samples/s",
            &|r| r.ingest_samples_per_sec,
            &num,
        );
        row(
            &mut md,
            "ingest CPU s (send + settle)",
            &|r| r.cpu_ingest_secs,
            &|x| format!("{x:.2}"),
        );
        row(
            &mut md,
            "CPU µs per sample",
            &|r| r.cpu_ingest_secs * 1e6 / r.ingest.samples.max(1) as f64,
            &|x| format!("{x:.2}"),
        );
        row(&mut md, "RSS idle", &|r| r.rss_idle_bytes as f64, &mib);
        row(&mut md, "RSS peak", &|r| r.rss_peak_bytes as f64, &mib);
        row(&mut md, "RSS steady", &|r| r.rss_steady_bytes as f64, &mib);
        row(
            &mut md,
            "RSS bytes per series (steady − idle)",
            &|r| r.rss_per_series_bytes,
            &|x| format!("{x:.0}"),
        );
        row(
            &mut md,
            "disk bytes per sample",
            &|r| r.bytes_per_sample,
            &|x| format!("{x:.3}"),
        );
        row(
            &mut md,
            "freshness median ms",
            &|r| r.freshness_median_ms,
            &|x| format!("{x:.1}"),
        );
        row(&mut md, "freshness p90 ms", &|r| r.freshness_p90_ms, &|x| {
            format!("{x:.1}")
        });
        let names: Vec<(String, String)> = t
            .or(pr)
            .map(|r| {
                r.queries
                    .iter()
                    .map(|q| (q.name.clone(), q.mode.clone()))
                    .collect()
            })
            .unwrap_or_default();
        for (name, mode) in &names {
            let find = |r: &SystemResult| {
                r.queries
                    .iter()
                    .find(|q| &q.name == name && &q.mode == mode)
                    .map_or(f64::NAN, |q| q.median_ms)
            };
            row(
                &mut md,
                &format!("query `{name}` {mode} median ms"),
                &find,
                &|x| format!("{x:.2}"),
            );
        }
        md.push_str(&format!(
            "\nDecode ceiling (one core, `decode_write_request`): {} samples/s; Tianshu ingest = \
             {:.0}% of it.\n",
            format_num(self.ceiling.samples_per_sec),
            self.tianshu_fraction_of_ceiling * 100.0
        ));
        md.push_str("\nDisk: ");
        for r in &self.systems {
            let _ = write!(md, "{}: {}; ", r.system.name(), r.disk_method);
        }
        md.push('\n');
        md.push_str(
            "\nAnswer checks (before timing; Tianshu strictly against Prometheus, \
                     VictoriaMetrics strictly for queries without `rate`, loosely with it):\n\n",
        );
        for r in &self.systems {
            let bad: Vec<&QueryOutcome> = r.queries.iter().filter(|q| q.failed_check).collect();
            let loose: Vec<String> = r
                .queries
                .iter()
                .filter(|q| q.check.starts_with("loose"))
                .map(|q| format!("`{}` {}: {}", q.name, q.mode, q.check))
                .collect();
            let _ = writeln!(
                md,
                "- {}: {} of {} agree{}{}",
                r.system.name(),
                r.queries.len() - bad.len(),
                r.queries.len(),
                if bad.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; FAILED: {}",
                        bad.iter()
                            .map(|q| format!("`{}` {}: {}", q.name, q.mode, q.check))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                },
                if loose.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", loose.join("; "))
                }
            );
        }
        if !self.problems.is_empty() {
            md.push_str("\nProblems:\n\n");
            for p in &self.problems {
                let _ = writeln!(md, "- {p}");
            }
        }
        md.push_str(&self.targets());
        md
    }

    /// Where each target of issue 3 stands in this run.
    pub fn targets(&self) -> String {
        let (Some(t), Some(p), Some(v)) = (
            self.get(System::Tianshu),
            self.get(System::Prometheus),
            self.get(System::VictoriaMetrics),
        ) else {
            return String::new();
        };
        let mark = |ok: bool| if ok { "met" } else { "MISSED" };
        let mut md = String::from("\n| target | measured | status |\n|---|---|---|\n");
        let ingest_ratio = t.ingest_samples_per_sec / v.ingest_samples_per_sec;
        let _ = writeln!(
            md,
            "| ingest ≥ 2× VictoriaMetrics | {ingest_ratio:.2}× | {} |",
            mark(ingest_ratio >= 2.0)
        );
        let f = self.tianshu_fraction_of_ceiling;
        let _ = writeln!(
            md,
            "| ingest ≥ 50% of decode ceiling | {:.0}% | {} |",
            f * 100.0,
            mark(f >= 0.5)
        );
        let rss = t.rss_per_series_bytes / v.rss_per_series_bytes;
        let _ = writeln!(
            md,
            "| RSS per series ≤ 0.5× VictoriaMetrics | {rss:.2}× | {} |",
            mark(rss <= 0.5)
        );
        let disk = t.bytes_per_sample / v.bytes_per_sample;
        let _ = writeln!(
            md,
            "| disk bytes/sample ≤ VictoriaMetrics | {disk:.2}× | {} |",
            mark(disk <= 1.0)
        );
        let (mut vs_p, mut vs_v, mut n) = (0, 0, 0);
        let mut worst_p = (0f64, String::new());
        let mut worst_v = (0f64, String::new());
        for q in &t.queries {
            let other = |r: &SystemResult| {
                r.queries
                    .iter()
                    .find(|x| x.name == q.name && x.mode == q.mode)
                    .map_or(f64::NAN, |x| x.median_ms)
            };
            let (rp, rv) = (q.median_ms / other(p), q.median_ms / other(v));
            n += 1;
            vs_p += (rp <= 0.5) as usize;
            vs_v += (rv <= 1.0) as usize;
            let label = format!("`{}` {}", q.name, q.mode);
            if rp > worst_p.0 {
                worst_p = (rp, label.clone());
            }
            if rv > worst_v.0 {
                worst_v = (rv, label);
            }
        }
        let _ = writeln!(
            md,
            "| query median ≤ 0.5× Prometheus, every query | {vs_p} of {n}; worst {:.2}× ({}) | {} |",
            worst_p.0,
            worst_p.1,
            mark(vs_p == n)
        );
        let _ = writeln!(
            md,
            "| query median ≤ VictoriaMetrics, every query | {vs_v} of {n}; worst {:.2}× ({}) | {} |",
            worst_v.0,
            worst_v.1,
            mark(vs_v == n)
        );
        let _ = writeln!(
            md,
            "| freshness ≤ 100 ms | median {:.1} ms, p90 {:.1} ms | {} |",
            t.freshness_median_ms,
            t.freshness_p90_ms,
            mark(t.freshness_p90_ms <= 100.0)
        );
        md
    }
}

fn format_num(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let digits = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 && c != '-' {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands() {
        assert_eq!(super::format_num(1234567.4), "1,234,567");
        assert_eq!(super::format_num(12.0), "12");
    }
}
