//! `scrape-cpu`: the CPU a scraping Tianshu spends against Prometheus on the same targets.
//!
//! Serves `--targets` × `--series` of node_exporter / kube-state-metrics-like exposition
//! from this process (one listener per target, `scrape_targets.rs`), writes one
//! Prometheus-format configuration at `--interval-secs`, then runs Tianshu (`tianshu
//! --config`, embedded store, release build) and Prometheus one after the other on it:
//! a warm-up, then a measurement window (`scrape_run.rs`). See `benches/README.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tianshu_bench::scrape_run::{write_config, Paths, ScrapeFigures, Scraper, Window};
use tianshu_bench::scrape_targets;
use tianshu_bench::systems::{self, System};

#[derive(Parser, Debug)]
#[command(about = "Scrape CPU of Tianshu and Prometheus on the same targets")]
struct Args {
    /// Scrape targets served by this process, one port each.
    #[arg(long, default_value_t = 1000)]
    targets: usize,
    /// Series (sample lines) per target.
    #[arg(long, default_value_t = 1000)]
    series: usize,
    #[arg(long = "interval-secs", default_value_t = 1)]
    interval_secs: u64,
    /// Seconds of scraping before the window (series creation, caches filling).
    #[arg(long = "warmup-secs", default_value_t = 30)]
    warmup_secs: u64,
    /// Seconds of the measurement window.
    #[arg(long = "measure-secs", default_value_t = 60)]
    measure_secs: u64,
    /// Worker threads of the targets' server.
    #[arg(long = "target-threads", default_value_t = 2)]
    target_threads: usize,
    /// Only these systems (comma-separated: tianshu, prometheus).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Measure this `tianshu` binary instead of building `target/release/tianshu` first.
    #[arg(long = "tianshu-bin")]
    tianshu_bin: Option<PathBuf>,
    /// Where report.json, report.md, the configuration and the servers' logs go.
    #[arg(long, default_value = "target/bench-scrape-cpu")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scrape-cpu: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let mut order = vec![System::Tianshu, System::Prometheus];
    if !args.only.is_empty() {
        order.retain(|s| args.only.iter().any(|o| o == s.slug()));
    }
    if order.contains(&System::Prometheus)
        && !std::path::Path::new(systems::PROMETHEUS_BIN).is_file()
    {
        return Err(format!(
            "{} missing: run benches/install-deps",
            systems::PROMETHEUS_BIN
        ));
    }
    let tianshu_bin = match &args.tianshu_bin {
        Some(b) => b.clone(),
        None => systems::tianshu_binary(&workspace, true)?,
    };
    let paths = Paths::under(&args.out);
    std::fs::create_dir_all(&paths.work).map_err(|e| format!("{:?}: {e}", paths.work))?;
    let targets = scrape_targets::start(args.targets, args.series, args.target_threads)?;
    write_config(&paths.config, &targets.addrs, args.interval_secs)?;
    eprintln!(
        "serving {} targets × {} series ({} samples/s at {} s); config {:?}",
        targets.addrs.len(),
        targets.series,
        targets.addrs.len() * targets.series / args.interval_secs.max(1) as usize,
        args.interval_secs,
        paths.config
    );
    let window = Window {
        warmup: Duration::from_secs(args.warmup_secs),
        measure: Duration::from_secs(args.measure_secs),
        targets: targets.addrs.len(),
        interval: Duration::from_secs(args.interval_secs.max(1)),
    };
    let load_before = load_average();
    let mut figures: Vec<ScrapeFigures> = Vec::new();
    for system in order {
        eprintln!(
            "{}: warm-up {} s, window {} s",
            system.name(),
            args.warmup_secs,
            args.measure_secs
        );
        let mut s = Scraper::start(
            system,
            &tianshu_bin,
            &paths.config,
            &paths.work,
            &paths.logs,
        )?;
        let f = window.measure(
            &s,
            systems::version(system, &tianshu_bin),
            &targets.requests,
        );
        s.stop(Duration::from_secs(30));
        let f = f?;
        eprintln!("{f:?}");
        figures.push(f);
        // Let the targets' connections close and the page cache settle between systems.
        std::thread::sleep(Duration::from_secs(3));
    }
    let md = report(args, targets.series, &figures, &load_before);
    println!("{md}");
    let json = serde_json::json!({
        "targets": targets.addrs.len(),
        "series_per_target": targets.series,
        "interval_secs": args.interval_secs,
        "warmup_secs": args.warmup_secs,
        "measure_secs": args.measure_secs,
        "load_average_before": load_before,
        "systems": figures,
        "cpu_ratio_tianshu_prometheus": ratio(&figures, |f| f.cpu_per_sec),
    });
    std::fs::write(args.out.join("report.md"), &md).map_err(|e| format!("report.md: {e}"))?;
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| format!("report.json: {e}"))?;
    Ok(())
}

fn ratio(figures: &[ScrapeFigures], f: impl Fn(&ScrapeFigures) -> f64) -> Option<f64> {
    let get = |name: &str| figures.iter().find(|x| x.system == name).map(&f);
    Some(get("Tianshu")? / get("Prometheus")?)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn report(args: &Args, series: usize, figures: &[ScrapeFigures], load: &str) -> String {
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64);
    type Row = (
        &'static str,
        Box<dyn Fn(&ScrapeFigures) -> String>,
        Option<fn(&ScrapeFigures) -> f64>,
    );
    let rows: Vec<Row> = vec![
        (
            "CPU s per s",
            Box::new(|f| format!("{:.3}", f.cpu_per_sec)),
            Some(|f| f.cpu_per_sec),
        ),
        (
            "CPU µs per sample",
            Box::new(|f| format!("{:.3}", f.cpu_us_per_sample)),
            Some(|f| f.cpu_us_per_sample),
        ),
        (
            "samples scraped/s",
            Box::new(|f| format!("{:.0}", f.samples_per_sec)),
            Some(|f| f.samples_per_sec),
        ),
        (
            "RSS at end",
            Box::new(move |f| mib(f.rss_end_bytes)),
            Some(|f| f.rss_end_bytes as f64),
        ),
        (
            "RSS peak",
            Box::new(move |f| mib(f.rss_peak_bytes)),
            Some(|f| f.rss_peak_bytes as f64),
        ),
        (
            "scrape duration p50 ms",
            Box::new(|f| format!("{:.1}", f.duration_p50_ms)),
            Some(|f| f.duration_p50_ms),
        ),
        (
            "scrape duration p99 ms",
            Box::new(|f| format!("{:.1}", f.duration_p99_ms)),
            Some(|f| f.duration_p99_ms),
        ),
        (
            "scrapes recorded / expected",
            Box::new(|f| format!("{} / {}", f.scrapes, f.scrapes_expected)),
            None,
        ),
        (
            "scrapes up within interval",
            Box::new(|f| format!("{:.1}%", f.within_interval * 100.0)),
            None,
        ),
        (
            "targets' requests served / expected",
            Box::new(|f| format!("{:.1}%", f.served_fraction * 100.0)),
            None,
        ),
        (
            "targets' server CPU s per s",
            Box::new(|f| format!("{:.3}", f.targets_cpu_per_sec)),
            None,
        ),
    ];
    let mut md = format!(
        "{} targets × {series} series at {} s ({} samples/s offered), warm-up {} s, window {} s, load average before {load}\n\n| metric |",
        args.targets,
        args.interval_secs,
        args.targets * series / args.interval_secs.max(1) as usize,
        args.warmup_secs,
        args.measure_secs
    );
    for f in figures {
        md.push_str(&format!(" {} |", f.system));
    }
    let both = figures.len() == 2;
    if both {
        md.push_str(" Tianshu / Prometheus |");
    }
    md.push_str("\n|---|");
    for _ in 0..figures.len() + usize::from(both) {
        md.push_str("---:|");
    }
    md.push('\n');
    for (name, show, num) in &rows {
        md.push_str(&format!("| {name} |"));
        for f in figures {
            md.push_str(&format!(" {} |", show(f)));
        }
        if both {
            let r = num.and_then(|n| ratio(figures, n));
            md.push_str(&match r {
                Some(r) => format!(" {r:.2} |"),
                None => " |".to_string(),
            });
        }
        md.push('\n');
    }
    for f in figures {
        md.push_str(&format!("\n{}: {}", f.system, f.version));
    }
    md.push('\n');
    md
}
