//! The dashboards end to end, in real headless Chromium (Debian's `chromium`, driven by
//! `playwright-core` from `ui_e2e.mjs`): the built-in overview renders with live data of
//! the self-scrape alone (not a remote-written copy of the same metrics); a generated
//! dashboard shows one heatmap cell per pod grouped by node, de-accumulated histogram
//! buckets on hover, new data within 2 s of the write by the wall clock, recovers and
//! backfills every step of the gap after a server restart, follows its live toggle and
//! range picker, and keeps a bad query's error on its panel only; one panel is edited in
//! the page (query, title, width; a server validation error shown on the panel), panels
//! are dragged (resized, moved) and resized by keyboard, and all of it saved to its file;
//! an entity heatmap of 10,000 live series draws into one canvas, colours every cell and
//! follows new values, its frame timing recorded; the explorer shows a parse error inline,
//! graphs over exactly the chosen range, takes an end time, zooms by dragging, goes live
//! (back to now), changes range and tabulates vectors and range vectors at its end time;
//! an entity heatmap drops vanished pods' cells on a reload, not on ticks, and places its
//! cells again when the window narrows; a server without `--dashboards-dir` shows its
//! dashboards read-only. Screenshots and frame timings are kept in `target/ui-artifacts/`.
//!
//! This file is the harness: it runs tianshu (and a second, read-only one), writes the
//! data (remote write), and answers the browser script's requests (`WRITE n`,
//! `WRITE_MANY n`, `VANISH k`, `KILL`, `START`) over the script's stdio.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{agent, encode_write, now_ms, post_write_raw, series, Tianshu, WriteRequest};

const CHROMIUM: &str = "/usr/bin/chromium";
const PODS: usize = 24;
const NODES: usize = 3;
/// Series of the large entity heatmap.
const MANY: usize = 10_000;
/// `--self-scrape.instance` of the server under test: not the default, so that the overview
/// must learn it from the server.
const SELF_INSTANCE: &str = "e2e-self";
/// The value of a remote-written copy of `tianshu_tsdb_head_series` (a Prometheus scraping
/// this server under `instance="<host:port>"`): far above the real count, so that an
/// overview adding it in shows it.
const REMOTE_COPY_VALUE: f64 = 1e9;
/// Upper bound on the browser script; it stops on its own well before.
const SCRIPT_LIMIT: Duration = Duration::from_secs(600);

const DASHBOARD: &str = r#"{
  "id": "e2e",
  "title": "End to end",
  "range": "1m",
  "panels": [
    { "type": "timeseries", "title": "CPU total", "expr": "sum(pod_cpu)", "width": 6 },
    { "type": "histogram_heatmap", "title": "Latency", "unit": "seconds", "width": 6,
      "expr": "sum by (le) (rate(req_duration_seconds_bucket[5s]))" },
    { "type": "entity_heatmap", "title": "Pods by node", "group_by": "node", "sort_by": "pod", "width": 8,
      "tabs": [ { "name": "cpu", "expr": "pod_cpu" }, { "name": "memory", "unit": "bytes", "expr": "pod_mem" } ] },
    { "type": "stat", "title": "Pods", "expr": "count(pod_cpu)", "width": 2 },
    { "type": "stat", "title": "Broken", "expr": "rate(pod_cpu[", "width": 2 }
  ]
}"#;

/// Pods of `churn_cpu`, some of which go away during the test.
const CHURN_PODS: usize = 6;

/// One entity heatmap over `churn_cpu`, whose pods vanish (`VANISH k`).
const CHURN_DASHBOARD: &str = r#"{
  "id": "churn",
  "title": "Churning pods",
  "range": "1m",
  "panels": [
    { "type": "entity_heatmap", "title": "Churn", "width": 6,
      "tabs": [ { "name": "cpu", "expr": "churn_cpu" } ] }
  ]
}"#;

/// Prometheus's staleness marker: the series ends here (what a scrape writes when a
/// target's series disappears).
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// `churn_cpu` of `CHURN_PODS` pods at `t`: pods below `alive` at 1, the others ended by
/// a staleness marker.
fn churn(alive: usize, t: i64) -> WriteRequest {
    WriteRequest {
        timeseries: (0..CHURN_PODS)
            .map(|p| {
                let pod = format!("pod-{p}");
                let v = if p < alive {
                    1.0
                } else {
                    f64::from_bits(STALE_NAN)
                };
                series(&[("__name__", "churn_cpu"), ("pod", &pod)], &[(t, v)])
            })
            .collect(),
        metadata: Vec::new(),
    }
}

/// One entity heatmap over the `MANY` series of `big_cpu`, grouped by node.
const BIG_DASHBOARD: &str = r#"{
  "id": "big",
  "title": "Ten thousand pods",
  "range": "1m",
  "panels": [
    { "type": "entity_heatmap", "title": "All pods", "group_by": "node", "sort_by": "pod", "width": 12,
      "tabs": [ { "name": "cpu", "expr": "big_cpu" } ] }
  ]
}"#;

/// `big_cpu` of `MANY` pods on 40 nodes: pod `p` has `p % 100 + 1 + n * (p % 3)`, so
/// that the cells spread over the colour scale and a new `n` moves them on it (a value
/// scaled alike for every pod would leave every colour where it was).
fn many_pods(n: f64, t: i64) -> WriteRequest {
    WriteRequest {
        timeseries: (0..MANY)
            .map(|p| {
                let pod = format!("pod-{p:05}");
                let node = format!("node-{:02}", p % 40);
                series(
                    &[("__name__", "big_cpu"), ("pod", &pod), ("node", &node)],
                    &[(t, (p % 100) as f64 + 1.0 + n * (p % 3) as f64)],
                )
            })
            .collect(),
        metadata: Vec::new(),
    }
}

fn pods(name: &str, value: impl Fn(usize) -> f64, t: i64) -> WriteRequest {
    WriteRequest {
        timeseries: (0..PODS)
            .map(|p| {
                let pod = format!("pod-{p}");
                let node = format!("node-{}", p % NODES);
                series(
                    &[("__name__", name), ("pod", &pod), ("node", &node)],
                    &[(t, value(p))],
                )
            })
            .collect(),
        metadata: Vec::new(),
    }
}

/// Cumulative buckets of a latency histogram at `t`, after `i` writes.
fn histogram(i: u64, t: i64) -> WriteRequest {
    let cum = [("0.1", 3), ("0.5", 5), ("1", 6), ("+Inf", 7)];
    WriteRequest {
        timeseries: cum
            .iter()
            .map(|(le, per)| {
                series(
                    &[("__name__", "req_duration_seconds_bucket"), ("le", le)],
                    &[(t, (i * per) as f64)],
                )
            })
            .collect(),
        metadata: Vec::new(),
    }
}

/// A write that may fail (the server is down during the restart).
fn try_write(base: &str, req: &WriteRequest) -> bool {
    matches!(post_write_raw(&agent(), base, &encode_write(req), "snappy"), Ok((s, _)) if s / 100 == 2)
}

fn write(base: &str, req: &WriteRequest) {
    assert!(try_write(base, req), "remote write to {base} failed");
}

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("heatmap-ui/web")
}

#[test]
fn dashboards_in_headless_chromium() {
    assert!(
        Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: run scripts/install-test-deps (Debian's chromium)"
    );
    assert!(
        web_dir().join("node_modules/playwright-core").is_dir(),
        "heatmap-ui/web/node_modules is missing: building tianshu runs `npm install` there"
    );
    let dash_dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dash_dir.path().join("e2e.json"), DASHBOARD).expect("write dashboard");
    std::fs::write(dash_dir.path().join("big.json"), BIG_DASHBOARD).expect("write dashboard");
    std::fs::write(dash_dir.path().join("churn.json"), CHURN_DASHBOARD).expect("write dashboard");
    let dash_arg = dash_dir.path().display().to_string();
    let server = Arc::new(Mutex::new(Tianshu::start(&[
        "--dashboards-dir",
        &dash_arg,
        "--self-scrape.interval",
        "1s",
        "--self-scrape.instance",
        SELF_INSTANCE,
    ])));
    let base = server.lock().expect("lock").url("");
    // Without --dashboards-dir: its built-in dashboards cannot be saved.
    let read_only = Tianshu::start(&["--self-scrape.interval", "0s"]);
    let remote_copy = WriteRequest {
        timeseries: vec![series(
            &[
                ("__name__", "tianshu_tsdb_head_series"),
                ("job", "tianshu"),
                ("instance", "127.0.0.1:9090"),
            ],
            &[(now_ms(), REMOTE_COPY_VALUE)],
        )],
        metadata: Vec::new(),
    };
    write(&base, &remote_copy);

    let t = now_ms();
    write(&base, &pods("pod_cpu", |_| 1.0, t));
    write(&base, &pods("pod_mem", |p| (p as f64 + 1.0) * 1e6, t));
    write(&base, &churn(CHURN_PODS, t));

    // Background load: the histogram grows every 500 ms, the whole test long.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, base) = (stop.clone(), base.clone());
        std::thread::spawn(move || {
            let mut i = 1;
            while !stop.load(Ordering::Relaxed) {
                if try_write(&base, &histogram(i, now_ms())) {
                    i += 1;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        })
    };

    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-artifacts");
    let mut node = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui_e2e.mjs"))
        .env("TIANSHU_URL", &base)
        .env("TIANSHU_READONLY_URL", read_only.url(""))
        .env("UI_WEB_DIR", web_dir())
        .env("UI_ARTIFACTS", &artifacts)
        .env("CHROMIUM", CHROMIUM)
        .env("SELF_INSTANCE", SELF_INSTANCE)
        .env("REMOTE_COPY_VALUE", REMOTE_COPY_VALUE.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run node (Node.js 20+ is needed for the UI tests)");
    let pid = node.id();
    // A stuck browser must not hang the suite.
    let watchdog_done = Arc::new(AtomicBool::new(false));
    {
        let done = watchdog_done.clone();
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            while start.elapsed() < SCRIPT_LIMIT {
                if done.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            eprintln!("ui_e2e.mjs ran over {SCRIPT_LIMIT:?}; killing it");
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        });
    }

    let mut stdin = node.stdin.take().expect("stdin");
    let stdout = BufReader::new(node.stdout.take().expect("stdout"));
    let (mut passed, mut failed) = (Vec::new(), Vec::new());
    for line in stdout.lines() {
        let line = line.expect("read script output");
        println!("ui_e2e.mjs: {line}");
        let reply = if let Some(n) = line.strip_prefix("WRITE ") {
            let n: f64 = n.parse().expect("WRITE <number>");
            let t = now_ms();
            write(&base, &pods("pod_cpu", |_| n, t));
            // The samples' time, then the wall-clock time the write returned (acknowledged):
            // the page's "within 2 s" is measured from the latter.
            Some(format!("WROTE {t} {}", now_ms()))
        } else if let Some(n) = line.strip_prefix("WRITE_MANY ") {
            let n: f64 = n.parse().expect("WRITE_MANY <number>");
            let t = now_ms();
            write(&base, &many_pods(n, t));
            Some(format!("WROTE {t}"))
        } else if let Some(k) = line.strip_prefix("VANISH ") {
            let k: usize = k.parse().expect("VANISH <pods left>");
            let t = now_ms();
            write(&base, &churn(k, t));
            Some(format!("WROTE {t}"))
        } else if line == "KILL" {
            server.lock().expect("lock").kill9();
            Some(format!("KILLED {}", now_ms()))
        } else if line == "START" {
            server.lock().expect("lock").restart();
            Some(format!("STARTED {}", now_ms()))
        } else {
            if let Some(p) = line.strip_prefix("PASS ") {
                passed.push(p.to_string());
            } else if let Some(f) = line.strip_prefix("FAIL ") {
                failed.push(f.to_string());
            }
            None
        };
        if let Some(r) = reply {
            writeln!(stdin, "{r}").expect("answer the script");
        }
    }
    let status = node.wait().expect("wait for node");
    watchdog_done.store(true, Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();

    let log = server.lock().expect("lock").proc.log_tail(40);
    assert!(
        failed.is_empty() && status.success(),
        "browser checks failed ({status}): {failed:#?}\npassed: {passed:#?}\nscreenshots in {}\ntianshu log:\n{log}",
        artifacts.display()
    );
    assert!(passed.len() >= 74, "too few checks ran: {passed:#?}");
    let saved = std::fs::read_to_string(dash_dir.path().join("e2e.json")).expect("dashboard file");
    assert!(
        saved.contains("\"title\": \"Edited in the browser\""),
        "the edit was not saved to the file: {saved}"
    );
    // The panel edited on its own: its title, query and width, in the file.
    let d: serde_json::Value = serde_json::from_str(&saved).expect("dashboard JSON");
    let edited = d["panels"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["title"] == "CPU doubled"))
        .unwrap_or_else(|| panic!("no panel \"CPU doubled\" in the file: {saved}"));
    assert_eq!(edited["expr"], "sum(pod_cpu) * 2", "{saved}");
    assert_eq!(edited["width"], 7, "{saved}");
    // Dragged and keyed on the grid: Latency's handle to 4 columns, Broken moved first,
    // Pods one column wider by the arrow key.
    let panel = |title: &str| {
        d["panels"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["title"] == title))
            .unwrap_or_else(|| panic!("no panel {title:?} in the file: {saved}"))
    };
    assert_eq!(panel("Latency")["width"], 4, "{saved}");
    assert_eq!(panel("Pods")["width"], 3, "{saved}");
    assert_eq!(d["panels"][0]["title"], "Broken", "{saved}");
}
