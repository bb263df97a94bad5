//! File discovery and reloads against a running binary: a changed `file_sd` file is
//! picked up without restart, a target that goes away is marked stale (its series vanish
//! from instant queries at once, not after the 5-minute lookback), relabelling drops show
//! in `droppedTargets`, and an invalid configuration is refused by `/-/reload` and SIGHUP
//! while the running one keeps scraping.

mod common;
mod scrape_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{api_get, now_ms, parse_sample_value, query_instant, Tianshu};
use scrape_support::{values_by_t, wait_for, Exposition, ExpositionServer};
use serde_json::{json, Value};

const LIMIT: Duration = Duration::from_secs(90);

fn write_sd(path: &Path, groups: Value) {
    // Written beside and renamed, so the provider never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, groups.to_string()).expect("write sd file");
    std::fs::rename(&tmp, path).expect("rename sd file");
}

fn group(addr: &str, t: &str) -> Value {
    json!({"targets": [addr], "labels": {"t": t, "__metrics_path__": format!("/{t}")}})
}

fn config(sd_glob: &str, extra: &str) -> String {
    format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: files
    file_sd_configs:
      - files: ['{sd_glob}']
        refresh_interval: 1h
    relabel_configs:
      - source_labels: [t]
        regex: dropped
        action: drop
{extra}"
    )
}

fn post(url: &str) -> (u16, String) {
    common::read_response(
        common::agent()
            .post(url)
            .send_empty()
            .unwrap_or_else(|e| panic!("POST {url}: {e}")),
    )
}

#[test]
fn file_sd_changes_staleness_and_reloads() {
    let srv = ExpositionServer::start();
    for t in ["a", "b"] {
        srv.set(
            &format!("/{t}"),
            Exposition::text(format!("# HELP demo_value A demo.\n# TYPE demo_value gauge\ndemo_value{{from=\"{t}\"}} 7\n")),
        );
    }
    let addr = srv.addr.to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let sd = dir.path().join("targets.json");
    write_sd(&sd, json!([group(&addr, "a"), group(&addr, "dropped")]));
    let cfg = dir.path().join("tianshu.yml");
    let glob = dir.path().join("*.json").display().to_string();
    std::fs::write(&cfg, config(&glob, "")).expect("write config");
    let ts = Tianshu::start(&[
        "--config",
        cfg.to_str().expect("utf-8"),
        "--web.enable-lifecycle",
    ]);
    let base = ts.url("");

    wait_for(LIMIT, "target a up", || {
        (values_by_t(&base, "up") == [("a".to_string(), 1.0)]).then_some(())
    });
    assert_eq!(values_by_t(&base, "demo_value"), [("a".to_string(), 7.0)]);
    assert_eq!(
        values_by_t(&base, "scrape_samples_scraped"),
        [("a".to_string(), 1.0)]
    );

    // The targets API: the active target with its labels, the dropped one with its
    // discovered labels.
    let data = api_get(&base, "/api/v1/targets", &[]);
    let active = &data["activeTargets"];
    assert_eq!(active.as_array().map(Vec::len), Some(1), "{data}");
    let t = &active[0];
    assert_eq!(
        t["labels"],
        json!({"instance": addr, "job": "files", "t": "a"})
    );
    assert_eq!(t["scrapePool"], "files");
    assert_eq!(t["scrapeUrl"], format!("http://{addr}/a"));
    assert_eq!(t["health"], "up");
    assert_eq!(t["scrapeInterval"], "1s");
    assert_eq!(t["scrapeTimeout"], "1s");
    assert_eq!(
        t["discoveredLabels"]["__meta_filepath"],
        sd.display().to_string()
    );
    assert_eq!(t["discoveredLabels"]["__address__"], addr);
    assert!(t["lastScrape"].as_str().is_some_and(|s| s.ends_with('Z')));
    assert!(t["lastScrapeDuration"].as_f64().is_some());
    assert_eq!(
        data["droppedTargets"][0]["discoveredLabels"]["t"],
        "dropped"
    );
    assert_eq!(data["droppedTargetCounts"], json!({"files": 1}));
    // Discovery metrics on /metrics, as Prometheus names them: both discovered targets
    // count, the dropped one included.
    let (status, metrics) = common::http_get_query(&ts.url("/metrics"), &[]);
    assert_eq!(status, 200);
    for line in [
        "prometheus_sd_discovered_targets{config=\"files\",name=\"scrape\"} 2",
        "prometheus_sd_failed_configs{name=\"scrape\"} 0",
        "# TYPE prometheus_sd_file_scan_duration_seconds histogram",
        "# TYPE tianshu_scrape_work_slot_wait_seconds histogram",
    ] {
        assert!(
            metrics.contains(line),
            "{line:?} not in /metrics:\n{metrics}"
        );
    }
    let only_active = api_get(&base, "/api/v1/targets", &[("state", "active")]);
    assert_eq!(only_active["droppedTargets"], json!([]));
    let only_dropped = api_get(&base, "/api/v1/targets", &[("state", "dropped")]);
    assert_eq!(only_dropped["activeTargets"], json!([]));

    let md = api_get(
        &base,
        "/api/v1/targets/metadata",
        &[("match_target", "{t=\"a\"}"), ("metric", "demo_value")],
    );
    assert_eq!(
        md,
        json!([{"target": {"instance": addr, "job": "files", "t": "a"},
                "type": "gauge", "help": "A demo.", "unit": ""}])
    );
    let (status, body) = common::http_get_query(
        &ts.url("/api/v1/targets/metadata"),
        &[("match_target", "{t=\"nope\"}")],
    );
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("specified metadata not found"), "{body}");

    // Swap a for b in the file: b is scraped, a's series are marked stale and vanish.
    write_sd(&sd, json!([group(&addr, "b")]));
    wait_for(LIMIT, "b replacing a", || {
        (values_by_t(&base, "up") == [("b".to_string(), 1.0)]
            && values_by_t(&base, "demo_value") == [("b".to_string(), 7.0)])
        .then_some(())
    });

    // runtimeinfo reports the start-up load as a success.
    let info = api_get(&base, "/api/v1/status/runtimeinfo", &[]);
    assert_eq!(info["reloadConfigSuccess"], json!(true), "{info}");
    let loaded_at = info["lastConfigTime"].clone();
    assert!(
        loaded_at.as_str().is_some_and(|t| t.ends_with('Z')),
        "{info}"
    );

    // An invalid configuration: /-/reload answers 500 naming the file and line, and the
    // running configuration goes on scraping.
    std::fs::write(
        &cfg,
        "scrape_configs:\n  - job_name: x\n    scrape_interval: often\n",
    )
    .expect("write bad config");
    let (status, body) = post(&ts.url("/-/reload"));
    assert_eq!(status, 500, "{body}");
    assert!(body.starts_with("failed to reload config: "), "{body}");
    assert!(
        body.contains("tianshu.yml:2:5: scrape_configs[0]: not a valid duration string: \"often\""),
        "{body}"
    );
    // As in Prometheus, runtimeinfo shows the failure and keeps the time of the last
    // successful load.
    let info = api_get(&base, "/api/v1/status/runtimeinfo", &[]);
    assert_eq!(info["reloadConfigSuccess"], json!(false), "{info}");
    assert_eq!(info["lastConfigTime"], loaded_at, "{info}");
    let before = now_ms();
    wait_for(LIMIT, "scraping after a refused reload", || {
        let up = query_instant(&base, "timestamp(up)", now_ms());
        let t = parse_sample_value(&up["result"][0]["value"][1]);
        (t * 1000.0 > before as f64).then_some(())
    });
    // So does SIGHUP with the invalid file.
    let hup = Command::new("kill")
        .args(["-HUP", &ts.proc.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    let yaml = api_get(&base, "/api/v1/status/config", &[]);
    assert!(
        yaml["yaml"]
            .as_str()
            .is_some_and(|y| y.contains("job_name: files")),
        "{yaml}"
    );

    // A valid new configuration through SIGHUP: a second job appears.
    std::fs::write(
        &cfg,
        config(
            &glob,
            &format!("  - job_name: static\n    metrics_path: /a\n    static_configs:\n      - targets: ['{addr}']\n        labels: {{t: s}}\n"),
        ),
    )
    .expect("write config");
    let hup = Command::new("kill")
        .args(["-HUP", &ts.proc.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(hup.success());
    wait_for(LIMIT, "the static job after SIGHUP", || {
        (values_by_t(&base, "up") == [("b".to_string(), 1.0), ("s".to_string(), 1.0)]).then_some(())
    });
    let pools = api_get(&base, "/api/v1/scrape_pools", &[]);
    assert_eq!(pools, json!({"scrapePools": ["files", "static"]}));
    let info = api_get(&base, "/api/v1/status/runtimeinfo", &[]);
    assert_eq!(info["reloadConfigSuccess"], json!(true), "{info}");
    assert!(
        info["lastConfigTime"].as_str() >= loaded_at.as_str(),
        "{info} after {loaded_at}"
    );
    let yaml = api_get(&base, "/api/v1/status/config", &[]);
    assert!(
        yaml["yaml"]
            .as_str()
            .is_some_and(|y| y.contains("job_name: static")),
        "{yaml}"
    );

    // Removing the job marks its series stale.
    std::fs::write(&cfg, config(&glob, "")).expect("write config");
    let (status, body) = post(&ts.url("/-/reload"));
    assert_eq!((status, body.as_str()), (200, ""));
    wait_for(LIMIT, "the static job's series going stale", || {
        (values_by_t(&base, "up") == [("b".to_string(), 1.0)]).then_some(())
    });
}
