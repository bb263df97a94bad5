//! Tianshu's own metrics into its own database: every interval the registry behind
//! `/metrics` is encoded, parsed back with the scrapers' OpenMetrics parser and appended
//! as `job="tianshu", instance="<listen address>"`, so that a fresh server has live series
//! to show (the built-in overview dashboard) with no scrape configuration.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prometheus_client::registry::Registry;
use tianshu_ingest::scrape::parse::{Entry, Format, ParseOptions, Parser, SampleKind};
use tianshu_tsdb::{Db, Labels, Sample, SeriesSamples};

/// Starts the loop unless `interval` is zero; it ends with the runtime.
pub fn spawn(registry: Arc<Registry>, db: Arc<Db>, interval: Duration, instance: String) {
    if interval.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            ticker.tick().await;
            let (r, d, i) = (registry.clone(), db.clone(), instance.clone());
            match tokio::task::spawn_blocking(move || scrape_once(&r, &d, &i, now_ms())).await {
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
    instance: &str,
    t_ms: i64,
) -> Result<usize, String> {
    let mut body = String::new();
    prometheus_client::encoding::text::encode(&mut body, registry).map_err(|e| e.to_string())?;
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
        let mut pairs: Vec<(String, String)> = vec![
            ("__name__".into(), s.name.unescape().into_owned()),
            ("job".into(), "tianshu".into()),
            ("instance".into(), instance.to_string()),
        ];
        for (n, v) in s.labels.iter() {
            let v = v.unescape();
            if !v.is_empty() {
                pairs.push((n.unescape().into_owned(), v.into_owned()));
            }
        }
        batch.push(SeriesSamples {
            labels: Labels::from_pairs(pairs),
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
    use prometheus_client::metrics::histogram::Histogram;

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
        let n = scrape_once(&registry, &db, "127.0.0.1:9090", 1_000).expect("scrape");
        // things_total, 3 buckets, _sum, _count.
        assert_eq!(n, 6);
        let m = |name: &str| {
            vec![
                tianshu_tsdb::Matcher::new(tianshu_tsdb::MatchOp::Equal, "__name__", name)
                    .expect("matcher"),
            ]
        };
        let got = db.select(&m("things_total"), 0, 2_000);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].labels.get("job"), Some("tianshu"));
        assert_eq!(got[0].labels.get("instance"), Some("127.0.0.1:9090"));
        assert_eq!(got[0].samples, vec![Sample::new(1_000, 7.0)]);
        assert_eq!(db.select(&m("lat_seconds_bucket"), 0, 2_000).len(), 3);
        assert!(db.select(&m("things_created"), 0, 2_000).is_empty());
    }
}
