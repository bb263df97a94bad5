//! `tianshu scrape --shard i/N`: stateless scraper replicas in front of a Tianshu store.
//! Two replicas split the targets with no coordination (each target scraped by exactly
//! one, the other lists it as dropped); samples scraped while the store is down are queued
//! on disk and arrive later, even when the replica holding them is killed with `kill -9`
//! and replaced by a new one on the same queue directory.

mod common;
mod scrape_support;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::{
    api_get, free_port, now_ms, parse_sample_value, query_instant, Proc, Tianshu, TIANSHU,
};
use scrape_support::{values_by_t, wait_for, Exposition, ExpositionServer};

const LIMIT: Duration = Duration::from_secs(90);
const TARGETS: usize = 8;

struct Scraper {
    proc: Proc,
    url: String,
    args: Vec<String>,
    log: std::path::PathBuf,
}

impl Scraper {
    fn start(dir: &Path, config: &Path, shard: &str, store: &str) -> Scraper {
        let port = free_port();
        let name = shard.replace('/', "of");
        let args: Vec<String> = [
            "scrape",
            "--config",
            &config.display().to_string(),
            "--shard",
            shard,
            "--remote-write.url",
            &format!("{store}/api/v1/write"),
            "--queue-dir",
            &dir.join(format!("queue-{name}")).display().to_string(),
            "--listen",
            &format!("127.0.0.1:{port}"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let log = dir.join(format!("scraper-{name}.log"));
        let mut proc = Proc::spawn("tianshu scrape", TIANSHU, &args, &log);
        let url = format!("http://127.0.0.1:{port}");
        proc.wait_http_ok(&format!("{url}/-/ready"));
        Scraper {
            proc,
            url,
            args,
            log,
        }
    }

    fn restart(&mut self) {
        self.proc = Proc::spawn("tianshu scrape", TIANSHU, &self.args, &self.log);
        self.proc.wait_http_ok(&format!("{}/-/ready", self.url));
    }

    /// The `t` labels of the active and the dropped targets.
    fn targets(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let data = api_get(&self.url, "/api/v1/targets", &[]);
        let t = |list: &serde_json::Value, key: &str| -> BTreeSet<String> {
            list.as_array()
                .expect("target list")
                .iter()
                .map(|x| x[key]["t"].as_str().expect("t label").to_string())
                .collect()
        };
        (
            t(&data["activeTargets"], "labels"),
            t(&data["droppedTargets"], "discoveredLabels"),
        )
    }
}

#[test]
fn replicas_split_targets_and_a_killed_replica_loses_nothing_it_queued() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Tianshu::start(&[]);
    let exporter = ExpositionServer::start();
    let mut groups = String::new();
    for i in 0..TARGETS {
        exporter.set(
            &format!("/{i}"),
            Exposition::text(format!("sharded_metric{{}} {i}\n")),
        );
        // Target 0 has a label of the external labels' name: its own value wins.
        let own = if i == 0 { ", cluster: 'own'" } else { "" };
        groups.push_str(&format!(
            "      - targets: ['{}']\n        labels: {{t: '{i}', __metrics_path__: '/{i}'{own}}}\n",
            exporter.addr
        ));
    }
    let config = dir.path().join("scrape.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  external_labels: {{cluster: c1, replica: ''}}\nscrape_configs:\n  - job_name: sharded\n    static_configs:\n{groups}"
        ),
    )
    .expect("write config");
    let store_url = store.url("");
    let s0 = Scraper::start(dir.path(), &config, "0/2", &store_url);
    let s1 = Scraper::start(dir.path(), &config, "1/2", &store_url);

    // Each target has exactly one owner; the other replica lists it as dropped.
    let all: BTreeSet<String> = (0..TARGETS).map(|i| i.to_string()).collect();
    let listed = |s: &Scraper| {
        let (active, dropped) = s.targets();
        (active.len() + dropped.len() == TARGETS).then_some((active, dropped))
    };
    let (s0_active, s0_dropped) = wait_for(LIMIT, "replica 0's targets", || listed(&s0));
    let (s1_active, s1_dropped) = wait_for(LIMIT, "replica 1's targets", || listed(&s1));
    // The replica killed below is the one with more targets (the split depends on the
    // exporter's port).
    let (mut a, a_active, a_dropped, _b, b_active, b_dropped) =
        if s0_active.len() >= s1_active.len() {
            (s0, s0_active, s0_dropped, s1, s1_active, s1_dropped)
        } else {
            (s1, s1_active, s1_dropped, s0, s0_active, s0_dropped)
        };
    assert!(
        a_active.is_disjoint(&b_active),
        "{a_active:?} / {b_active:?}"
    );
    assert_eq!(&a_active | &b_active, all);
    assert_eq!(a_dropped, b_active);
    assert_eq!(b_dropped, a_active);

    // Every target is scraped into the store once: one `up` series each, all 1.
    let want: Vec<(String, f64)> = all.iter().map(|t| (t.clone(), 1.0)).collect();
    wait_for(LIMIT, "every target's up in the store", || {
        (values_by_t(&store_url, r#"up{job="sharded"}"#) == want).then_some(())
    });
    // The configuration's external labels came with the remote writes (an empty one is
    // none, as in Prometheus), except where a target's own label of that name wins.
    let clusters = query_instant(
        &store_url,
        r#"count by (cluster, replica) (sharded_metric)"#,
        now_ms(),
    );
    let mut got: Vec<(String, String, String)> = clusters["result"]
        .as_array()
        .map(|r| {
            r.iter()
                .map(|s| {
                    let label = |n: &str| s["metric"][n].as_str().unwrap_or("").to_string();
                    (
                        label("cluster"),
                        label("replica"),
                        parse_sample_value(&s["value"][1]).to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    got.sort();
    let want_clusters = vec![
        ("c1".to_string(), String::new(), (TARGETS - 1).to_string()),
        ("own".to_string(), String::new(), "1".to_string()),
    ];
    assert_eq!(got, want_clusters, "{clusters}");

    // The store goes away; the replicas keep scraping into their queues. Then replica a
    // is killed and replaced by a new process on the same queue directory.
    store.kill9();
    let down_from = now_ms();
    std::thread::sleep(Duration::from_secs(4));
    a.proc.kill9();
    let down_to = now_ms();
    store.restart();
    a.restart();

    // What a queued during the outage arrives: at least two samples of each of its
    // targets' `up` lie inside the four seconds the store was down.
    let window_ms = down_to - down_from;
    for t in &a_active {
        let q = format!(r#"count_over_time(up{{job="sharded",t="{t}"}}[{window_ms}ms])"#);
        wait_for(
            LIMIT,
            &format!("target {t}'s samples from the outage"),
            || {
                let data = query_instant(&store_url, &q, down_to);
                let n = data["result"][0]["value"][1]
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok())?;
                (n >= 2.0).then_some(())
            },
        );
    }
    // And the replacement scrapes on: fresh samples for all of a's targets.
    let after = now_ms();
    wait_for(LIMIT, "fresh samples after the replacement", || {
        let data = query_instant(
            &store_url,
            r#"count(timestamp(up{job="sharded"}) > 0)"#,
            now_ms(),
        );
        let newest = query_instant(&store_url, r#"min(timestamp(up{job="sharded"}))"#, now_ms());
        let count = parse_sample_value(&data["result"][0]["value"][1]);
        let oldest_latest = parse_sample_value(&newest["result"][0]["value"][1]);
        (count == TARGETS as f64 && oldest_latest * 1000.0 > after as f64).then_some(())
    });
}
