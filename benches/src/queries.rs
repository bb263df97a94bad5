//! The fixed dashboard queries, how they are sent (instant, range at 1 s and 15 s), and
//! their answers in a comparable form.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::http;
use crate::workload::Workload;

pub struct Query {
    pub name: &'static str,
    pub expr: &'static str,
    /// VictoriaMetrics computes `rate` differently (no extrapolation, the sample before the
    /// window included), so these are compared with it loosely.
    pub uses_rate: bool,
}

pub const QUERIES: [Query; 8] = [
    Query {
        name: "rate",
        expr: r#"rate(node_cpu_seconds_total{mode="user"}[1m])"#,
        uses_rate: true,
    },
    Query {
        name: "sum by rate",
        expr: "sum by (node) (rate(container_cpu_usage_seconds_total[1m]))",
        uses_rate: true,
    },
    Query {
        name: "sum by",
        expr: "sum by (namespace) (container_memory_working_set_bytes)",
        uses_rate: false,
    },
    Query {
        name: "histogram_quantile",
        expr:
            "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[1m])))",
        uses_rate: true,
    },
    Query {
        name: "topk",
        expr: "topk(5, container_memory_working_set_bytes)",
        uses_rate: false,
    },
    Query {
        name: "regex selector",
        expr: r#"container_cpu_usage_seconds_total{namespace=~"kube-.*|monitoring",container!~"istio-.*"}"#,
        uses_rate: false,
    },
    Query {
        name: "max_over_time",
        expr: r#"max_over_time(container_memory_working_set_bytes{namespace="default"}[1m])"#,
        uses_rate: false,
    },
    Query {
        name: "count by pod",
        expr: r#"count by (pod) ({__name__=~"container_.+|kube_pod_.+"})"#,
        uses_rate: false,
    },
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Mode {
    Instant,
    Range1s,
    Range15s,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Instant, Mode::Range1s, Mode::Range15s];

    pub fn label(self) -> &'static str {
        match self {
            Mode::Instant => "instant",
            Mode::Range1s => "range 1s",
            Mode::Range15s => "range 15s",
        }
    }
}

/// The evaluation times, shared by every system: the instant time and the range end are
/// the last 15-second boundary before the last sample (so VictoriaMetrics's alignment of
/// range queries to the step changes nothing), the range spans up to 10 minutes back.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Times {
    pub instant_ms: i64,
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Times {
    pub fn for_workload(w: &Workload) -> Times {
        let end = w.end_ms() - w.end_ms().rem_euclid(15_000);
        let first = w.start_ms + (15_000 - w.start_ms.rem_euclid(15_000)) % 15_000;
        let start = (end - 600_000).max(first);
        Times {
            instant_ms: end,
            start_ms: start,
            end_ms: end,
        }
    }
}

fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}

/// Sends `expr` in `mode`; returns the raw JSON text.
pub fn run(
    agent: &ureq::Agent,
    base: &str,
    expr: &str,
    mode: Mode,
    t: &Times,
) -> Result<String, String> {
    let (path, params): (&str, Vec<(&str, String)>) = match mode {
        Mode::Instant => (
            "/api/v1/query",
            vec![("query", expr.into()), ("time", secs(t.instant_ms))],
        ),
        Mode::Range1s | Mode::Range15s => (
            "/api/v1/query_range",
            vec![
                ("query", expr.into()),
                ("start", secs(t.start_ms)),
                ("end", secs(t.end_ms)),
                (
                    "step",
                    if mode == Mode::Range1s { "1" } else { "15" }.into(),
                ),
            ],
        ),
    };
    let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    match http::get(agent, &format!("{base}{path}"), &params)? {
        (200, body) => Ok(body),
        (status, body) => Err(format!("HTTP {status}: {}", body.trim())),
    }
}

/// Series (labels rendered canonically) to their (ms, value) points.
pub type Answer = BTreeMap<String, Vec<(i64, f64)>>;

pub fn parse_answer(body: &str) -> Result<Answer, String> {
    let json: Json = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    let data = &json["data"];
    let mut out = Answer::new();
    let point = |p: &Json| -> Option<(i64, f64)> {
        let t = p.get(0)?.as_f64()?;
        let v = parse_value(p.get(1)?.as_str()?)?;
        Some(((t * 1000.0).round() as i64, v))
    };
    match data["resultType"].as_str() {
        Some("vector") | Some("matrix") => {
            for s in data["result"].as_array().ok_or("no result array")? {
                let mut labels: Vec<(String, String)> = s["metric"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                            .collect()
                    })
                    .unwrap_or_default();
                labels.sort();
                let key = labels
                    .iter()
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect::<Vec<_>>()
                    .join(",");
                let points: Vec<(i64, f64)> = if let Some(v) = s.get("value") {
                    point(v).into_iter().collect()
                } else {
                    s["values"]
                        .as_array()
                        .map(|a| a.iter().filter_map(point).collect())
                        .unwrap_or_default()
                };
                out.insert(format!("{{{key}}}"), points);
            }
        }
        Some("scalar") => {
            if let Some(p) = point(&data["result"]) {
                out.insert("scalar".into(), vec![p]);
            }
        }
        other => return Err(format!("unexpected resultType {other:?}")),
    }
    Ok(out)
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "+Inf" | "Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        _ => s.parse().ok(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-6 * a.abs().max(b.abs())
}

/// Differences between `got` and the reference `want`: empty when they agree (same series,
/// same timestamps, values within 1e-6 relative). At most `limit` lines.
pub fn diff(want: &Answer, got: &Answer, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (k, w) in want {
        match got.get(k) {
            None => out.push(format!("missing series {k}")),
            Some(g) => {
                if w.len() != g.len() {
                    out.push(format!(
                        "{k}: {} points, reference has {}",
                        g.len(),
                        w.len()
                    ));
                }
                if let Some(((tw, vw), (tg, vg))) = w
                    .iter()
                    .zip(g)
                    .find(|((tw, vw), (tg, vg))| tw != tg || !close(*vw, *vg))
                {
                    out.push(format!(
                        "{k}: ({tg}, {vg}) where reference has ({tw}, {vw})"
                    ));
                }
            }
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        out.push(format!("extra series {k}"));
    }
    let total = out.len();
    if total > limit {
        out.truncate(limit);
        out.push(format!("... {} more", total - limit));
    }
    out
}

/// `a` without `__name__` in its series' labels. VictoriaMetrics keeps the metric name
/// where Prometheus drops it (e.g. `max_over_time`); that is a documented difference of
/// label handling, not of values, so it is compared without the name.
pub fn without_name(a: &Answer) -> Answer {
    a.iter()
        .map(|(k, v)| {
            let key = match k.strip_prefix("{__name__=") {
                Some(rest) => match rest.find("\",") {
                    Some(i) => format!("{{{}", &rest[i + 2..]),
                    None => "{}".to_string(),
                },
                None => k.clone(),
            };
            (key, v.clone())
        })
        .collect()
}

/// How far `got` is from `want` where both have a point: (common series, largest relative
/// difference). Used for VictoriaMetrics's `rate`, which is not meant to match.
pub fn loose_distance(want: &Answer, got: &Answer) -> (usize, f64) {
    let mut common = 0;
    let mut worst = 0f64;
    for (k, w) in want {
        let Some(g) = got.get(k) else { continue };
        common += 1;
        let gm: BTreeMap<i64, f64> = g.iter().copied().collect();
        for (t, vw) in w {
            if let Some(vg) = gm.get(t) {
                if vw.is_finite() && vg.is_finite() && (vw != vg) {
                    worst = worst.max((vw - vg).abs() / vw.abs().max(vg.abs()));
                }
            }
        }
    }
    (common, worst)
}

/// Waits until a system returns every series of the workload at the instant time:
/// ingestion acknowledged is not always ingestion searchable (VictoriaMetrics buffers).
pub fn wait_searchable(
    base: &str,
    w: &Workload,
    t: &Times,
    timeout: Duration,
) -> Result<f64, String> {
    let agent = http::agent(Duration::from_secs(60));
    let want = w.series.len() as f64;
    let expr = r#"count({__name__=~"node_.+|container_.+|kube_.+|http_.+"})"#;
    let t0 = Instant::now();
    let mut last = String::new();
    while t0.elapsed() < timeout {
        match run(&agent, base, expr, Mode::Instant, t).and_then(|b| parse_answer(&b)) {
            Ok(a) => {
                let n = a
                    .values()
                    .next()
                    .and_then(|p| p.first())
                    .map_or(0.0, |p| p.1);
                if n == want {
                    return Ok(t0.elapsed().as_secs_f64());
                }
                last = format!("{n} of {want} series visible");
            }
            Err(e) => last = e,
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!("data not searchable after {timeout:?}: {last}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_vector_and_matrix() {
        let v = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"b":"2","a":"1"},"value":[1700000000.5,"NaN"]}]}}"#;
        let a = parse_answer(v).expect("vector");
        let (k, p) = a.iter().next().expect("one series");
        assert_eq!(k, r#"{a="1",b="2"}"#);
        assert_eq!(p[0].0, 1_700_000_000_500);
        assert!(p[0].1.is_nan());
        let m = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1,"1"],[2,"2.5"]]}]}}"#;
        assert_eq!(
            parse_answer(m).expect("matrix")["{}"],
            vec![(1000, 1.0), (2000, 2.5)]
        );
    }

    #[test]
    fn diff_tolerates_rounding_only() {
        let a: Answer = [("{}".to_string(), vec![(1, 1.0), (2, 3.0)])].into();
        let mut b = a.clone();
        b.get_mut("{}").expect("series")[1].1 = 3.000_000_001;
        assert!(diff(&a, &b, 5).is_empty());
        b.get_mut("{}").expect("series")[1].1 = 3.1;
        assert_eq!(diff(&a, &b, 5).len(), 1);
    }

    #[test]
    fn strips_metric_name() {
        let a: Answer = [
            (r#"{__name__="m",a="1"}"#.to_string(), vec![]),
            (r#"{__name__="m"}"#.to_string(), vec![]),
            (r#"{a="2"}"#.to_string(), vec![]),
        ]
        .into();
        let keys: Vec<String> = without_name(&a).into_keys().collect();
        assert_eq!(keys, [r#"{a="1"}"#, r#"{a="2"}"#, "{}"]);
    }

    #[test]
    fn times_align_to_step() {
        let w = Workload::generate(50, 60, 1, 1_700_000_123_456);
        let t = Times::for_workload(&w);
        assert_eq!(t.end_ms % 15_000, 0);
        assert_eq!(t.start_ms % 15_000, 0);
        assert!(t.start_ms >= w.start_ms && t.end_ms <= w.end_ms() && t.start_ms < t.end_ms);
    }
}
