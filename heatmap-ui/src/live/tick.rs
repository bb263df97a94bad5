//! Incremental evaluation: a tick evaluates each query at one time, the newest step of
//! the live grid, as an instant query. Evaluating step `t` alone gives exactly the column
//! `t` of a range query over the same grid (the engine evaluates a range query step by
//! step with the same lookback and range windows), so the page can append ticks to a
//! range query's result without a seam; `tests` checks that equality.

use std::collections::BTreeMap;

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use tianshu_query::engine::QueryOptions;
use tianshu_query::http::params::query_error;
use tianshu_query::{Engine, QueryError, Queryable, Value};
use tianshu_tsdb::Labels;

/// One series' value at the tick, in the Prometheus API's vector shape.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LivePoint {
    pub metric: Metric,
    /// The value as the Prometheus API prints it (`"1.5"`, `"NaN"`, `"+Inf"`).
    pub value: String,
}

/// A series' labels, sent as the API's `metric` object. Kept as the engine's [`Labels`]
/// instead of copied into a map of owned strings, which cost a fifth of a tick at 10,000
/// series: their names are unique and sorted, so the object's keys come out in the
/// order a sorted map gives them.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric(pub Labels);

impl Metric {
    /// The labels as a map (for tests and callers that look labels up by name).
    pub fn to_map(&self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect()
    }
}

impl Serialize for Metric {
    fn serialize<S: Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        let mut map = ser.serialize_map(Some(self.0.len()))?;
        for l in self.0.iter() {
            map.serialize_entry(&*l.name, &*l.value)?;
        }
        map.end()
    }
}

/// A query's result at one tick: its series, or the error that shows on its panel only.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TickResult {
    Data {
        data: Vec<LivePoint>,
    },
    Error {
        #[serde(rename = "errorType")]
        error_type: &'static str,
        error: String,
    },
}

impl TickResult {
    /// The error as the query API words it (see [`query_error`]), so that a panel shows
    /// the same text whether its load or a tick failed: a text that changed at the first
    /// tick would move everything under it on the page.
    fn error(e: QueryError) -> TickResult {
        TickResult::Error {
            error_type: e.error_type(),
            error: e.to_string(),
        }
    }
}

/// The newest step of a grid of `step_ms` at or before `now_ms`: ticks land on whole
/// steps, as range queries from the page do, so that a backfill and the ticks share
/// their timestamps.
pub fn newest_step(now_ms: i64, step_ms: i64) -> i64 {
    now_ms - now_ms.rem_euclid(step_ms.max(1))
}

/// Evaluates every query at `t_ms` (an instant query each, nothing else).
pub fn evaluate_tick(
    engine: &Engine,
    db: &dyn Queryable,
    queries: &[String],
    t_ms: i64,
) -> Vec<TickResult> {
    queries
        .iter()
        .map(|q| evaluate_one(engine, db, q, t_ms))
        .collect()
}

/// One query at `t_ms`: its vector (a scalar as one unlabelled point) or its error.
pub fn evaluate_one(engine: &Engine, db: &dyn Queryable, query: &str, t_ms: i64) -> TickResult {
    let result = match engine.instant_query(db, query, t_ms, &QueryOptions::default()) {
        Ok(r) => r,
        Err(e) => return TickResult::error(query_error(e)),
    };
    let data = match result.value {
        Value::Vector(v) => v
            .into_iter()
            .map(|s| LivePoint {
                metric: Metric(s.labels),
                value: format_value(s.v),
            })
            .collect(),
        Value::Scalar { v, .. } => vec![LivePoint {
            metric: Metric(Labels::empty()),
            value: format_value(v),
        }],
        // What a range query of the same expression answers, since the page graphs it.
        Value::Matrix(_) | Value::String { .. } => {
            let kind = if matches!(result.value, Value::Matrix(_)) {
                "range vector"
            } else {
                "string"
            };
            return TickResult::error(query_error(QueryError::BadData(format!(
                "invalid expression type {kind:?} for range query, must be Scalar or instant Vector"
            ))));
        }
    };
    TickResult::Data { data }
}

/// Prometheus's number format: shortest round-trip text, `NaN`, `+Inf`, `-Inf`.
pub fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_string()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tianshu_query::EngineOptions;
    use tianshu_tsdb::{Db, DbOptions, Labels, Sample, SeriesSamples};

    const T0: i64 = 1_700_000_000_000;

    /// Three pods' counters, one sample every 1 s for two minutes, one pod stopping
    /// half-way, and a gauge.
    fn db() -> (tempfile::TempDir, Db) {
        let tmp = tempfile::tempdir().expect("tmp");
        let db = Db::open(tmp.path(), DbOptions::default()).expect("open");
        let mut batch = Vec::new();
        for pod in 0..3 {
            let end = if pod == 2 { 60 } else { 120 };
            batch.push(SeriesSamples {
                labels: Labels::from_pairs([
                    ("__name__", "requests_total".to_string()),
                    ("pod", format!("p{pod}")),
                ]),
                samples: (0..end)
                    .map(|i| Sample::new(T0 + i * 1000, (i * (pod + 1) + i * i % 7) as f64))
                    .collect(),
            });
        }
        batch.push(SeriesSamples {
            labels: Labels::from_pairs([("__name__", "temp"), ("room", "a")]),
            samples: (0..120)
                .map(|i| Sample::new(T0 + i * 1000 + 300, (i % 13) as f64 * 0.5))
                .collect(),
        });
        db.append(&batch).expect("append");
        (tmp, db)
    }

    #[test]
    fn ticks_equal_the_columns_of_a_range_query() {
        let (_tmp, db) = db();
        let engine = Engine::new(EngineOptions::default());
        let queries = [
            "rate(requests_total[10s])",
            "sum(rate(requests_total[5s]))",
            "temp",
            "max_over_time(temp[7s]) * 2",
            "time()",
        ]
        .map(String::from);
        let (start, end) = (T0 + 5_000, T0 + 125_000);
        for (qi, q) in queries.iter().enumerate() {
            let range = engine
                .range_query(&db, q, start, end, 1000, &QueryOptions::default())
                .expect("range query");
            let Value::Matrix(series) = range.value else {
                panic!("matrix expected")
            };
            // Every step of the grid, as successive ticks.
            for t in (start..=end).step_by(1000) {
                let tick = evaluate_tick(&engine, &db, &queries, t);
                let TickResult::Data { data } = &tick[qi] else {
                    panic!("{q} at {t}: {:?}", tick[qi])
                };
                let want: Vec<(BTreeMap<String, String>, String)> = series
                    .iter()
                    .filter_map(|s| {
                        let p = s.samples.iter().find(|p| p.t == t)?;
                        let metric = s
                            .labels
                            .iter()
                            .map(|l| (l.name.to_string(), l.value.to_string()))
                            .collect();
                        Some((metric, format_value(p.v)))
                    })
                    .collect();
                let mut got: Vec<_> = data
                    .iter()
                    .map(|p| (p.metric.to_map(), p.value.clone()))
                    .collect();
                got.sort();
                assert_eq!(got, want, "{q} at step {}", (t - T0) / 1000);
            }
        }
    }

    #[test]
    fn an_error_stays_with_its_query() {
        let (_tmp, db) = db();
        let engine = Engine::new(EngineOptions::default());
        let queries = ["temp", "rate(temp[", "temp[1m]", "sum(temp)"].map(String::from);
        let tick = evaluate_tick(&engine, &db, &queries, T0 + 60_000);
        // The newest sample at or before 60 s is the one of 59.3 s: 59 % 13 * 0.5.
        assert!(
            matches!(&tick[0], TickResult::Data { data } if data.len() == 1 && data[0].value == "3.5")
        );
        assert!(
            matches!(&tick[1], TickResult::Error { error_type: "bad_data", error }
                if error.starts_with("invalid parameter \"query\": 1:") && error.contains("parse error")),
            "{:?}",
            tick[1]
        );
        assert!(
            matches!(&tick[2], TickResult::Error { error, .. } if error == "invalid parameter \"query\": \
                invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"),
            "{:?}",
            tick[2]
        );
        assert!(matches!(&tick[3], TickResult::Data { data } if data[0].value == "3.5"));
        let json = serde_json::to_value(&tick).expect("json");
        assert_eq!(json[3]["data"][0]["metric"], serde_json::json!({}));
        assert_eq!(
            serde_json::to_value(&tick[0]).expect("json")["data"][0]["metric"],
            serde_json::json!({"__name__": "temp", "room": "a"}),
        );
        assert_eq!(json[1]["errorType"], "bad_data");
    }

    #[test]
    fn ticks_land_on_whole_steps() {
        assert_eq!(newest_step(T0 + 999, 1000), T0);
        assert_eq!(newest_step(T0 + 1000, 1000), T0 + 1000);
        assert_eq!(newest_step(T0 + 4_999, 5000), T0);
        assert_eq!(newest_step(7, 0), 7, "a zero step is taken as 1 ms");
        assert_eq!(format_value(f64::NAN), "NaN");
        assert_eq!(format_value(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_value(0.25), "0.25");
    }
}
