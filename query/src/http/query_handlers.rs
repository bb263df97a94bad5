//! PromQL endpoints: `query`, `query_range`, `query_exemplars`, `format_query`,
//! `parse_query`.

use std::time::{Duration, Instant};

use axum::extract::State as AxumState;
use axum::response::Response;
use promql_parser::parser::Expr;
use promql_parser::util::{walk_expr, ExprVisitor};
use tokio::sync::OwnedSemaphorePermit;

use super::params::{
    invalid_param, now_ms, parse_duration, parse_limit, parse_time, parse_time_param, query_error,
    Params, MAX_TIME_MS, MIN_TIME_MS,
};
use super::response::{ApiResult, Json, Success};
use super::{blocking, finish, ApiState, State};
use crate::engine::{MatrixSeries, QueryOptions, QueryResult, Value};
use crate::error::QueryError;

/// Prometheus refuses range queries with more steps than this per series.
const MAX_POINTS_PER_SERIES: i128 = 11_000;

pub(super) async fn query(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res = instant(&st, p).await;
    finish(&st, "query", started, res)
}

pub(super) async fn query_range(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res = range(&st, p).await;
    finish(&st, "query_range", started, res)
}

pub(super) async fn query_exemplars(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res = exemplars(&p);
    finish(&st, "query_exemplars", started, res)
}

pub(super) async fn format_query(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res = crate::parse::parse(p.get("query"))
        .map_err(|e| invalid_param("query", e))
        .map(|expr| {
            let mut j = Json::new();
            j.string(&expr.prettify());
            Success::data(j.into_string())
        });
    finish(&st, "format_query", started, res)
}

/// The syntax tree in the JSON form Prometheus's UI draws (its `translateAST`), as
/// promql-parser's serializer writes it.
pub(super) async fn parse_query(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res = crate::parse::parse(p.get("query"))
        .map_err(|e| invalid_param("query", e))
        .and_then(|expr| {
            let mut tree = serde_json::to_value(&expr)
                .map_err(|e| QueryError::Internal(format!("encoding syntax tree: {e}")))?;
            align_tree(&mut tree);
            Ok(Success::data(tree.to_string()))
        });
    finish(&st, "parse_query", started, res)
}

/// Brings promql-parser's tree to Prometheus's `translateAST` where they differ: selectors
/// list the metric-name matcher last among their matchers, and a binary operation's
/// cardinality is a plain string with the `group_x` labels under `include`.
fn align_tree(node: &mut serde_json::Value) {
    use serde_json::{json, Value};
    match node {
        Value::Object(obj) => {
            let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
            if kind == "vectorSelector" || kind == "matrixSelector" {
                let name = obj
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                if let (false, Some(Value::Array(ms))) = (name.is_empty(), obj.get_mut("matchers"))
                {
                    ms.push(json!({"type": "=", "name": "__name__", "value": name}));
                }
            }
            if let Some(Value::Object(m)) = obj.get_mut("matching") {
                let grouped = match m.get("card") {
                    Some(Value::Object(card)) => card
                        .iter()
                        .next()
                        .map(|(k, labels)| (k.clone(), labels.clone())),
                    _ => None,
                };
                if let Some((card, labels)) = grouped {
                    m.insert("card".into(), Value::String(card));
                    m.insert("include".into(), labels);
                }
            }
            obj.values_mut().for_each(align_tree);
        }
        Value::Array(items) => items.iter_mut().for_each(align_tree),
        _ => {}
    }
}

async fn instant(st: &State, p: Params) -> ApiResult {
    let limit = parse_limit(&p)?;
    let ts = parse_time_param(&p, "time", now_ms())?;
    let mut opts = query_options(st, &p)?;
    let query = p.get("query").to_owned();
    let slot = query_slot(st, &mut opts).await?;
    evaluate(st, slot, query, opts, limit, move |st, query, opts| {
        st.engine.instant_query(&*st.db, query, ts, opts)
    })
    .await
    .map_err(query_error)
}

async fn range(st: &State, p: Params) -> ApiResult {
    let limit = parse_limit(&p)?;
    let start = parse_time(p.get("start")).map_err(|e| invalid_param("start", e))?;
    let end = parse_time(p.get("end")).map_err(|e| invalid_param("end", e))?;
    if end < start {
        return Err(invalid_param(
            "end",
            "end timestamp must not be before start time",
        ));
    }
    let step_ns = parse_duration(p.get("step")).map_err(|e| invalid_param("step", e))?;
    if step_ns <= 0 {
        return Err(invalid_param(
            "step",
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ));
    }
    // Go computes `end.Sub(start) / step` on nanosecond durations, which saturate.
    let span_ns = (i128::from(end) - i128::from(start)) * 1_000_000;
    let span_ns = span_ns.min(i128::from(i64::MAX));
    if span_ns / i128::from(step_ns) > MAX_POINTS_PER_SERIES {
        return Err(QueryError::BadData(
            "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
        ));
    }
    let mut opts = query_options(st, &p)?;
    // Steps below a millisecond pass Prometheus's check but are meaningless at millisecond
    // sample resolution.
    let step_ms = (step_ns / 1_000_000).max(1);
    let query = p.get("query").to_owned();
    let slot = query_slot(st, &mut opts).await?;
    evaluate(st, slot, query, opts, limit, move |st, query, opts| {
        st.engine
            .range_query(&*st.db, query, start, end, step_ms, opts)
    })
    .await
    .map_err(query_error)
}

/// Waits for a free evaluation slot. As in Prometheus, the wait counts against the query's
/// timeout, and running out of it while queued is `query timed out in query queue`. The
/// permit moves into the blocking task so that it is held until evaluation ends, even when
/// the client has gone away.
async fn query_slot(
    st: &ApiState,
    opts: &mut QueryOptions,
) -> Result<OwnedSemaphorePermit, QueryError> {
    let budget = opts.timeout.unwrap_or(st.engine.opts.timeout);
    let queued = Instant::now();
    let permit = tokio::time::timeout(budget, st.query_slots.clone().acquire_owned())
        .await
        .map_err(|_| QueryError::Timeout("query queue"))?
        .map_err(|_| QueryError::Internal("query slots closed".into()))?;
    opts.timeout = Some(budget.saturating_sub(queued.elapsed()));
    Ok(permit)
}

/// Runs one evaluation on a blocking thread, holding its evaluation `slot` and its entry
/// in `queries.active` until it ends, and writes its answer there too (at most `limit`
/// series): a range answer is megabytes of JSON, which would hold up an async worker
/// thread for milliseconds. When the client goes away axum drops this future;
/// the guard then cancels the evaluation, which stops at its next deadline check and
/// frees the slot, instead of running to its timeout for nobody.
async fn evaluate<F>(
    st: &State,
    slot: OwnedSemaphorePermit,
    query: String,
    opts: QueryOptions,
    limit: usize,
    eval: F,
) -> Result<Success, QueryError>
where
    F: FnOnce(&ApiState, &str, &QueryOptions) -> Result<QueryResult, QueryError> + Send + 'static,
{
    let cancel_on_drop = opts.cancel.cancel_on_drop();
    let st = st.clone();
    let res = blocking(move || {
        let _slot = slot;
        let _active = st
            .active_queries
            .as_ref()
            .and_then(|log| log.insert(&query));
        let res = eval(&st, &query, &opts);
        if let Err(QueryError::Canceled(_)) = &res {
            st.metrics.inc_canceled();
            tracing::info!(query = %query, "query cancelled: its client went away");
        }
        res.map(|r| query_success(r, limit))
    })
    .await;
    cancel_on_drop.disarm();
    res
}

/// The `timeout` and `lookback_delta` parameters, with Prometheus's error texts.
fn query_options(st: &ApiState, p: &Params) -> Result<QueryOptions, QueryError> {
    let mut opts = QueryOptions::default();
    let to = p.get("timeout");
    if !to.is_empty() {
        let ns = parse_duration(to).map_err(|e| invalid_param("timeout", e))?;
        // A client's timeout can shorten the server's but not lengthen it, as with
        // Prometheus's context deadline.
        let asked = Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
        opts.timeout = Some(asked.min(st.engine.opts.timeout));
    }
    let lb = p.get("lookback_delta");
    if !lb.is_empty() {
        let ns = parse_duration(lb).map_err(|e| {
            QueryError::BadData(format!("error parsing lookback delta duration: {e}"))
        })?;
        // Zero or less means "the server's default" in Prometheus.
        if ns > 0 {
            opts.lookback_delta = Some(Duration::from_nanos(ns.unsigned_abs()));
        }
    }
    Ok(opts)
}

/// In Prometheus every `bad_data` from the engine comes from creating the query (parsing,
/// type checks), which the API reports as an invalid `query` parameter; failures while
/// evaluating keep their own types.
fn query_success(res: QueryResult, limit: usize) -> Success {
    let QueryResult {
        mut value,
        mut warnings,
        infos,
    } = res;
    if limit > 0 {
        let truncated = match &mut value {
            Value::Vector(v) if v.len() > limit => {
                v.truncate(limit);
                true
            }
            Value::Matrix(m) if m.len() > limit => {
                m.truncate(limit);
                true
            }
            _ => false,
        };
        if truncated {
            warnings.push("results truncated due to limit".into());
        }
    }
    Success {
        data: Some(encode_value(&value)),
        warnings,
        infos,
    }
}

/// `{"resultType":...,"result":...}` for a query result.
pub(super) fn encode_value(value: &Value) -> String {
    let mut j = Json::new();
    let kind = match value {
        Value::Scalar { .. } => "scalar",
        Value::String { .. } => "string",
        Value::Vector(_) => "vector",
        Value::Matrix(_) => "matrix",
    };
    j.raw("{")
        .key("resultType")
        .string(kind)
        .raw(",")
        .key("result");
    match value {
        // Prometheus encodes scalars and strings through Go's `encoding/json` rather than
        // its sample encoder: plain float seconds, and the value always in 'f' notation.
        Value::Scalar { t, v } => {
            j.raw("[")
                .float_seconds(*t)
                .raw(",")
                .scalar_value(*v)
                .raw("]");
        }
        Value::String { t, v } => {
            j.raw("[").float_seconds(*t).raw(",").string(v).raw("]");
        }
        Value::Vector(samples) => {
            j.raw("[");
            for (i, s) in samples.iter().enumerate() {
                if i > 0 {
                    j.raw(",");
                }
                j.raw("{").key("metric").labels(&s.labels);
                j.raw(",").key("value").point(s.t, s.v).raw("}");
            }
            j.raw("]");
        }
        Value::Matrix(series) => {
            j.raw("[");
            let runs = matrix_runs(series, writers_for(series));
            if runs.len() > 1 {
                // Each run of series into its own text on its own thread, joined in order:
                // the same bytes as one writer, in a fraction of the time.
                let texts: Vec<String> = std::thread::scope(|scope| {
                    let handles: Vec<_> = runs[1..]
                        .iter()
                        .map(|&(lo, hi)| scope.spawn(move || matrix_text(series, lo, hi)))
                        .collect();
                    let mut texts = vec![matrix_text(series, runs[0].0, runs[0].1)];
                    // A writer cannot fail; a panic in one is a bug worth the same panic here.
                    texts.extend(handles.into_iter().map(|h| match h.join() {
                        Ok(t) => t,
                        Err(e) => std::panic::resume_unwind(e),
                    }));
                    texts
                });
                for t in &texts {
                    j.raw(t);
                }
            } else {
                write_matrix_series(&mut j, series, 0, series.len());
            }
            j.raw("]");
        }
    }
    j.raw("}");
    j.into_string()
}

/// Matrices of at least this many points are written on several threads: at two or three
/// numbers a point, a 1 s step over 10 minutes and a hundred series is 2 MB of JSON.
const PARALLEL_POINTS: usize = 1 << 15;

/// Writers for `series`: as many threads as the engine takes for a node, for a large
/// enough matrix.
fn writers_for(series: &[MatrixSeries]) -> usize {
    let points: usize = series.iter().map(|s| s.samples.len()).sum();
    if points < PARALLEL_POINTS || series.len() < 2 {
        return 1;
    }
    crate::engine::par::most_threads()
}

/// `series` cut into at most `writers` contiguous runs `(lo, hi)` of about equal points.
fn matrix_runs(series: &[MatrixSeries], writers: usize) -> Vec<(usize, usize)> {
    crate::engine::par::even_runs(series.len(), |i| series[i].samples.len(), writers)
}

/// The text of `series[lo..hi]` within the matrix's brackets.
fn matrix_text(series: &[MatrixSeries], lo: usize, hi: usize) -> String {
    let mut j = Json::new();
    write_matrix_series(&mut j, series, lo, hi);
    j.into_string()
}

/// `series[lo..hi]` as the matrix's elements, with the comma before each but the
/// matrix's first.
fn write_matrix_series(j: &mut Json, series: &[MatrixSeries], lo: usize, hi: usize) {
    for (i, s) in series.iter().enumerate().take(hi).skip(lo) {
        if i > 0 {
            j.raw(",");
        }
        j.raw("{").key("metric").labels(&s.labels);
        j.raw(",").key("values").raw("[");
        for (k, p) in s.samples.iter().enumerate() {
            if k > 0 {
                j.raw(",");
            }
            j.point(p.t, p.v);
        }
        j.raw("]}");
    }
}

/// No exemplars are stored yet: a valid query over series answers an empty list, one
/// without selectors answers 204 as Prometheus does.
fn exemplars(p: &Params) -> ApiResult {
    let start = parse_time_param(p, "start", MIN_TIME_MS)?;
    let end = parse_time_param(p, "end", MAX_TIME_MS)?;
    if end < start {
        return Err(QueryError::BadData(
            "end timestamp must not be before start timestamp".into(),
        ));
    }
    let expr = crate::parse::parse(p.get("query")).map_err(QueryError::BadData)?;
    let mut finder = SelectorFinder(false);
    // The finder never fails; the walk's Result only carries its error type.
    let _ = walk_expr(&mut finder, &expr);
    if !finder.0 {
        return Ok(Success::default());
    }
    Ok(Success::data("[]".into()))
}

struct SelectorFinder(bool);

impl ExprVisitor for SelectorFinder {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, e: &Expr) -> Result<bool, Self::Error> {
        if matches!(e, Expr::VectorSelector(_) | Expr::MatrixSelector(_)) {
            self.0 = true;
            return Ok(false);
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use tianshu_tsdb::{Labels, Sample};

    use super::*;
    use crate::engine::VectorSample;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_pairs(pairs.iter().copied())
    }

    #[test]
    fn each_value_type_encodes_as_prometheus() {
        assert_eq!(
            encode_value(&Value::Scalar {
                t: 1_435_781_451_781,
                v: 2.0
            }),
            r#"{"resultType":"scalar","result":[1435781451.781,"2"]}"#
        );
        assert_eq!(
            encode_value(&Value::Scalar {
                t: 1_435_781_451_780,
                v: 1e21
            }),
            r#"{"resultType":"scalar","result":[1435781451.78,"1000000000000000000000"]}"#
        );
        assert_eq!(
            encode_value(&Value::String {
                t: 1_000,
                v: "a\"b".into()
            }),
            r#"{"resultType":"string","result":[1,"a\"b"]}"#
        );
        let vector = Value::Vector(vec![
            VectorSample {
                labels: labels(&[("job", "api"), ("__name__", "up"), ("instance", "a:9")]),
                t: 1_700_000_000_123,
                v: 1.5,
            },
            VectorSample {
                labels: Labels::empty(),
                t: 1_700_000_000_123,
                v: f64::NEG_INFINITY,
            },
        ]);
        assert_eq!(
            encode_value(&vector),
            concat!(
                r#"{"resultType":"vector","result":["#,
                r#"{"metric":{"__name__":"up","instance":"a:9","job":"api"},"value":[1700000000.123,"1.5"]},"#,
                r#"{"metric":{},"value":[1700000000.123,"-Inf"]}]}"#
            )
        );
        let matrix = Value::Matrix(vec![MatrixSeries {
            labels: labels(&[("a", "<b>")]),
            samples: vec![Sample::new(0, 1e21), Sample::new(15_000, f64::NAN)],
        }]);
        assert_eq!(
            encode_value(&matrix),
            r#"{"resultType":"matrix","result":[{"metric":{"a":"\u003cb\u003e"},"values":[[0,"1e+21"],[15,"NaN"]]}]}"#
        );
        assert_eq!(
            encode_value(&Value::Matrix(vec![])),
            r#"{"resultType":"matrix","result":[]}"#
        );
    }

    /// A matrix large enough to be written in runs on several threads is the same text
    /// as written by one, however it is cut.
    #[test]
    fn matrix_written_in_runs_is_written_as_by_one() {
        let series: Vec<MatrixSeries> = (0..61)
            .map(|i| MatrixSeries {
                labels: labels(&[("__name__", "x"), ("i", &i.to_string())]),
                samples: (0..(i * 97 % 1500))
                    .map(|k| Sample::new(1_700_000_000_000 + k * 1000, (i * k) as f64 / 7.0))
                    .collect(),
            })
            .collect();
        let points: usize = series.iter().map(|s| s.samples.len()).sum();
        assert!(points >= PARALLEL_POINTS);
        let mut one = Json::new();
        write_matrix_series(&mut one, &series, 0, series.len());
        let one = one.into_string();
        for writers in 1..=6 {
            let runs = matrix_runs(&series, writers);
            assert!(
                runs.len() <= writers && !runs.is_empty(),
                "{writers}: {runs:?}"
            );
            assert_eq!(runs.first().map(|r| r.0), Some(0));
            assert_eq!(runs.last().map(|r| r.1), Some(series.len()));
            assert!(runs.windows(2).all(|w| w[0].1 == w[1].0), "{runs:?}");
            let joined: String = runs
                .iter()
                .map(|&(lo, hi)| matrix_text(&series, lo, hi))
                .collect();
            assert!(joined == one, "{writers} writers: {runs:?}");
        }
        let whole = encode_value(&Value::Matrix(series));
        assert_eq!(
            whole,
            format!(r#"{{"resultType":"matrix","result":[{one}]}}"#)
        );
        assert!(matrix_runs(&[], 3) == vec![(0, 0)]);
    }

    #[test]
    fn limit_truncates_series_with_a_warning() {
        let v = |n: usize| QueryResult {
            value: Value::Vector(
                (0..n)
                    .map(|i| VectorSample {
                        labels: labels(&[("i", &i.to_string())]),
                        t: 0,
                        v: 0.0,
                    })
                    .collect(),
            ),
            warnings: vec![],
            infos: vec!["i".into()],
        };
        let s = query_success(v(3), 2);
        assert_eq!(s.warnings, ["results truncated due to limit"]);
        assert_eq!(s.infos, ["i"]);
        assert_eq!(
            s.data.as_deref().map(|d| d.matches("metric").count()),
            Some(2)
        );
        assert!(query_success(v(2), 2).warnings.is_empty());
        assert!(query_success(v(3), 0).warnings.is_empty());
    }

    #[test]
    fn engine_bad_data_is_reported_against_the_query_parameter() {
        let e = query_error(QueryError::BadData("1:5: parse error: x".into()));
        assert_eq!(
            e.to_string(),
            "invalid parameter \"query\": 1:5: parse error: x"
        );
        assert_eq!(e.error_type(), "bad_data");
        let e = query_error(QueryError::Execution("boom".into()));
        assert_eq!((e.to_string().as_str(), e.status()), ("boom", 422));
    }
}
