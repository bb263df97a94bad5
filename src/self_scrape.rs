//! Tianshu's own metrics into its own database: every interval the registry behind
//! `/metrics` is encoded, parsed back with the scrapers' OpenMetrics parser and appended
//! as `job="tianshu", instance="self"` (`--self-scrape.job`, `--self-scrape.instance`), so
//! that a fresh server has live series to show (the built-in overview dashboard) with no
//! scrape configuration.
//!
//! The instance is `self`, not the listen address, for the same reason as
//! VictoriaMetrics's `-selfScrapeInstance`: a Prometheus that scrapes Tianshu labels its
//! samples `job="tianshu", instance="<host:port>"` and may remote-write them here. Were
//! the self-scrape to use the same labels, both writers would feed one series from two
//! clocks: interleaved samples of two readings, or samples refused as duplicates.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::registry::Registry;
use tianshu_ingest::scrape::append::attach_target_labels;
use tianshu_ingest::scrape::parse::{Entry, Format, ParseOptions, Parser, SampleKind};
use tianshu_tsdb::{Db, Labels, Sample, SeriesSamples};

/// The `job` and `instance` labels the self-scraped series carry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub job: String,
    pub instance: String,
}

/// Starts the loop unless `interval` is zero; it ends with the runtime.
pub fn spawn(registry: Arc<Registry>, db: Arc<Db>, interval: Duration, target: Target) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            let (r, d, tg) = (registry.clone(), db.clone(), target.clone());
            match tokio::task::spawn_blocking(move || scrape_once(&r, &d, &tg, now_ms())).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "self-scrape failed"),
                Err(e) => tracing::warn!(error = %e, "self-scrape task failed"),
            }
        }
    });
}

/// One scrape at `t_ms`; returns the number of samples appended.
pub fn scrape_once(
    registry: &Registry,
    db: &Db,
    target: &Target,
    t_ms: i64,
) -> Result<usize, String> {
    let mut body = String::new();
    prometheus_client::encoding::text::encode(&mut body, registry).map_err(|e| e.to_string())?;
    let target_labels = Labels::from_pairs([
        ("job", target.job.as_str()),
        ("instance", target.instance.as_str()),
    ]);
    let mut batch = Vec::new();
    for entry in Parser::new(
        Format::OpenMetrics,
        body.as_bytes(),
        ParseOptions::default(),
    ) {
        let Entry::Series(s) = entry.map_err(|e| e.to_string())? else {
            continue;
        };
        // Prometheus stores no `_created` series unless asked to.
        if s.kind == SampleKind::Created {
            continue;
        }
        let mut pairs: Vec<(String, String)> =
            vec![("__name__".into(), s.name.unescape().into_owned())];
        for (n, v) in s.labels.iter() {
            let v = v.unescape();
            if !v.is_empty() {
                pairs.push((n.unescape().into_owned(), v.into_owned()));
            }
        }
        let mut labels = Labels::from_pairs(pairs);
        // The target's `job` and `instance` win, as with Prometheus's default
        // `honor_labels: false` (a metric's own become `exported_*`).
        attach_target_labels(&mut labels, &target_labels, false);
        batch.push(SeriesSamples {
            labels,
            samples: vec![Sample::new(t_ms, s.value)],
        });
    }
    db.append(&batch).map_err(|e| e.to_string())?;
    Ok(batch.len())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::metrics::counter::Counter;
    use prometheus_client::metrics::family::Family;
    use prometheus_client::metrics::histogram::Histogram;
    use tianshu_tsdb::{MatchOp, Matcher};

    fn by_name(name: &str) -> Vec<Matcher> {
        vec![Matcher::new(MatchOp::Equal, "__name__", name).expect("matcher")]
    }

    fn target(job: &str, instance: &str) -> Target {
        Target {
            job: job.to_string(),
            instance: instance.to_string(),
        }
    }

    #[test]
    fn the_registry_lands_in_the_database_with_job_and_instance() {
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open(tmp.path(), tianshu_tsdb::DbOptions::default()).expect("open");
        let mut registry = Registry::default();
        let c = Counter::<u64>::default();
        c.inc_by(7);
        registry.register("things", "things done", c);
        let h = Histogram::new([0.1, 1.0]);
        h.observe(0.5);
        registry.register("lat_seconds", "latency", h);
        let n = scrape_once(&registry, &db, &target("tianshu", "self"), 1_000).expect("scrape");
        // things_total, 3 buckets, _sum, _count.
        assert_eq!(n, 6);
        let got = db.select(&by_name("things_total"), 0, 2_000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels.get("job"), Some("tianshu"));
        assert_eq!(got[0].labels.get("instance"), Some("self"));
        assert_eq!(got[0].samples, vec![Sample::new(1_000, 7.0)]);
        assert_eq!(db.select(&by_name("lat_seconds_bucket"), 0, 2_000).len(), 3);
        assert!(db.select(&by_name("things_created"), 0, 2_000).is_empty());
    }

    #[test]
    fn job_and_instance_are_the_targets_and_a_metrics_own_are_exported() {
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open(tmp.path(), tianshu_tsdb::DbOptions::default()).expect("open");
        let mut registry = Registry::default();
        let f = Family::<Vec<(String, String)>, Counter>::default();
        f.get_or_create(&vec![("instance".to_string(), "inner".to_string())])
            .inc();
        registry.register("relayed", "relayed things", f.clone());
        scrape_once(&registry, &db, &target("tsdb-1", "node-a"), 1_000).expect("scrape");
        let got = db.select(&by_name("relayed_total"), 0, 2_000);
        assert_eq!(got.len(), 1);
        let l = &got[0].labels;
        assert_eq!(l.get("job"), Some("tsdb-1"));
        assert_eq!(l.get("instance"), Some("node-a"));
        assert_eq!(l.get("exported_instance"), Some("inner"));
    }

    /// A Prometheus scraping this server and remote-writing into it writes the same
    /// metric names under `job="tianshu", instance="<host:port>"`, at its own times. The
    /// self-scrape's `instance="self"` keeps the two apart: every sample of both lands,
    /// in two series.
    #[test]
    fn remote_written_scrapes_of_tianshu_stay_apart_from_the_self_scrape() {
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open(tmp.path(), tianshu_tsdb::DbOptions::default()).expect("open");
        let mut registry = Registry::default();
        let c = Counter::<u64>::default();
        c.inc_by(3);
        registry.register("tianshu_things", "things", c);
        let remote = |name: &str, t: i64, v: f64| SeriesSamples {
            labels: Labels::from_pairs([
                ("__name__", name),
                ("job", "tianshu"),
                ("instance", "127.0.0.1:9090"),
            ]),
            samples: vec![Sample::new(t, v)],
        };
        let me = target("tianshu", "self");
        // Interleaved: the remote writer's clock runs 400 ms behind the self-scrape's, so
        // one shared series would zigzag between 3 and 100-odd.
        for k in 0..5 {
            let t = 10_000 + k * 1_000;
            scrape_once(&registry, &db, &me, t).expect("self-scrape");
            db.append(&[
                remote("up", t - 400, 1.0),
                remote("tianshu_things_total", t - 400, 100.0 + k as f64),
            ])
            .expect("remote write");
        }
        let up = db.select(&by_name("up"), 0, 20_000);
        assert_eq!(up.len(), 1, "only the remote writer reports up");
        assert_eq!(up[0].labels.get("instance"), Some("127.0.0.1:9090"));
        let things = db.select(&by_name("tianshu_things_total"), 0, 20_000);
        let instances: Vec<_> = things.iter().map(|s| s.labels.get("instance")).collect();
        assert_eq!(instances, vec![Some("127.0.0.1:9090"), Some("self")]);
        for s in &things {
            assert_eq!(s.labels.get("job"), Some("tianshu"));
            assert_eq!(s.samples.len(), 5, "{:?} lost samples", s.labels);
        }
        let remote_values: Vec<f64> = things[0].samples.iter().map(|p| p.v).collect();
        assert_eq!(remote_values, vec![100.0, 101.0, 102.0, 103.0, 104.0]);
        assert!(things[1].samples.iter().all(|p| p.v == 3.0));
    }
}
