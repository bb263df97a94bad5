//! Targets serving broken expositions: each such target is `up 0` with its error in
//! `/api/v1/targets`, the well-behaved target beside them is unaffected and the server
//! stays healthy. A series repeated in a body is not an error in Prometheus (the first
//! sample is kept and the rest dropped with a warning), and is not here either.

mod common;
mod scrape_support;

use std::time::Duration;

use common::{api_get, http_get, query_instant, Tianshu};
use scrape_support::{wait_for, Exposition, ExpositionServer};
use serde_json::Value;

const LIMIT: Duration = Duration::from_secs(90);

fn targets_by_path(base: &str) -> Vec<(String, Value)> {
    let data = api_get(base, "/api/v1/targets", &[]);
    data["activeTargets"]
        .as_array()
        .expect("activeTargets")
        .iter()
        .map(|t| {
            let url = t["scrapeUrl"].as_str().unwrap_or("").to_string();
            let path = url.rsplit_once('/').map_or("", |x| x.1).to_string();
            (path, t.clone())
        })
        .collect()
}

#[test]
fn malformed_expositions_set_up_to_zero_with_their_errors() {
    let srv = ExpositionServer::start();
    srv.set(
        "/ok",
        Exposition::text("# TYPE ok_total counter\nok_total 5\n"),
    );
    srv.set("/truncated", Exposition::text("good 1\ntruncated{a=\"b"));
    srv.set(
        "/bad_escape",
        Exposition::text("good 1\nbad{a=\"x\\\"} 1\n"),
    );
    srv.set("/duplicate", Exposition::text("dup 1\ndup 2\n"));
    let mut huge = b"huge{a=\"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 6 << 20));
    huge.extend(b"\"} 1\n");
    srv.set("/huge", Exposition::text(huge));
    srv.set(
        "/non_utf8",
        Exposition::text(b"good 1\nbad{a=\"\xff\xfe\"} 1\n".to_vec()),
    );
    srv.set("/not_found_is_500", Exposition::text(""));
    srv.remove("/not_found_is_500");

    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("tianshu.yml");
    let paths = [
        "ok",
        "truncated",
        "bad_escape",
        "duplicate",
        "huge",
        "non_utf8",
        "not_found_is_500",
    ];
    let mut yaml =
        String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
    for p in paths {
        yaml.push_str(&format!(
            "  - job_name: {p}\n    metrics_path: /{p}\n    static_configs:\n      - targets: ['{}']\n",
            srv.addr
        ));
    }
    std::fs::write(&cfg, yaml).expect("write config");
    let ts = Tianshu::start(&["--config", cfg.to_str().expect("utf-8 path")]);
    let base = ts.url("");

    // Every target scraped at least twice, so `up` reflects steady state.
    let targets = wait_for(LIMIT, "every target scraped", || {
        let t = targets_by_path(&base);
        (t.len() == paths.len() && t.iter().all(|(_, v)| v["health"] != "unknown")).then_some(t)
    });
    for (path, t) in &targets {
        let err = t["lastError"].as_str().unwrap_or("");
        match path.as_str() {
            "ok" | "duplicate" => {
                assert_eq!(t["health"], "up", "{path}: {t}");
                assert_eq!(err, "", "{path}");
            }
            _ => {
                assert_eq!(t["health"], "down", "{path}: {t}");
                assert!(!err.is_empty(), "{path}: no error recorded: {t}");
            }
        }
    }
    let err_of = |p: &str| {
        targets
            .iter()
            .find(|(path, _)| path == p)
            .map(|(_, t)| t["lastError"].as_str().unwrap_or("").to_string())
            .unwrap_or_default()
    };
    assert!(
        err_of("huge").contains("exceeds the limit"),
        "{}",
        err_of("huge")
    );
    assert!(
        err_of("non_utf8").contains("UTF-8"),
        "{}",
        err_of("non_utf8")
    );
    assert_eq!(
        err_of("not_found_is_500"),
        "server returned HTTP status 404 Not Found"
    );

    // `up` agrees with the API, per job.
    let now = common::now_ms();
    let up = query_instant(&base, "up", now);
    let mut by_job: Vec<(String, f64)> = up["result"]
        .as_array()
        .expect("vector")
        .iter()
        .map(|s| {
            (
                s["metric"]["job"].as_str().unwrap_or("").to_string(),
                common::parse_sample_value(&s["value"][1]),
            )
        })
        .collect();
    by_job.sort_by(|a, b| a.0.cmp(&b.0));
    let expected: Vec<(String, f64)> = {
        let mut v: Vec<(String, f64)> = paths
            .iter()
            .map(|p| {
                (
                    p.to_string(),
                    if matches!(*p, "ok" | "duplicate") {
                        1.0
                    } else {
                        0.0
                    },
                )
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(by_job, expected);

    // Nothing of a failed body was stored, not even its good lines.
    let good = query_instant(&base, "good", now);
    assert_eq!(good["result"], serde_json::json!([]), "{good}");
    // The duplicate keeps its first sample.
    let dup = query_instant(&base, "dup", now);
    assert_eq!(
        common::parse_sample_value(&dup["result"][0]["value"][1]),
        1.0
    );
    let ok = query_instant(&base, "ok_total", now);
    assert_eq!(
        common::parse_sample_value(&ok["result"][0]["value"][1]),
        5.0
    );

    let (status, body) = http_get(&ts.url("/-/healthy"));
    assert_eq!(status, 200, "{body}");
}
