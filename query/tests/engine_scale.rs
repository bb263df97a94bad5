//! A range query over many series and steps finishes in reasonable time (run with
//! `--ignored`; it prints the timings).

use std::time::Instant;

use tianshu_query::engine::{Engine, EngineOptions, QueryOptions, Value};
use tianshu_query::{QueryError, Queryable};
use tianshu_tsdb::{Labels, Matcher, Sample, Series};

struct Store(Vec<Series>);

impl Queryable for Store {
    fn select(&self, _m: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, QueryError> {
        Ok(self
            .0
            .iter()
            .map(|s| Series {
                labels: s.labels.clone(),
                samples: s
                    .samples
                    .iter()
                    .filter(|p| p.t >= mint && p.t <= maxt)
                    .copied()
                    .collect(),
            })
            .collect())
    }
}

#[test]
#[ignore]
fn thousand_series_thousand_steps() {
    let series: Vec<Series> = (0..1000)
        .map(|i| Series {
            labels: Labels::from_pairs([
                ("__name__", "req_total".to_string()),
                ("pod", format!("p{i}")),
                ("job", format!("j{}", i % 10)),
            ]),
            samples: (0..4000)
                .map(|k| Sample::new(k * 15_000, (k * i) as f64))
                .collect(),
        })
        .collect();
    let store = Store(series);
    let engine = Engine::new(EngineOptions::default());
    for q in [
        "req_total",
        "rate(req_total[5m])",
        "sum by (job) (rate(req_total[5m]))",
        "rate(req_total[5m]) / on(pod) group_left req_total",
    ] {
        let t = Instant::now();
        let r = engine.range_query(
            &store,
            q,
            600_000,
            60_000_000,
            60_000,
            &QueryOptions::default(),
        );
        let n = match r.map(|r| r.value) {
            Ok(Value::Matrix(m)) => m.len(),
            _ => 0,
        };
        println!("{q}: {n} series in {:?}", t.elapsed());
        assert!(n > 0);
    }
}
