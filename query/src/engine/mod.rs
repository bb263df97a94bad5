//! The PromQL engine.
//!
//! Queries are parsed with `promql-parser` and evaluated here against any [`Queryable`],
//! following Prometheus 3 semantics (left-open range windows, staleness markers, `@` and
//! negative offsets, delayed metric-name removal as Prometheus's own test suite runs it).
//!
//! Every node is evaluated once over the whole step grid of the query, not step by step:
//! a selector reads its series once for the widest window any step needs and walks each
//! series across the steps; operators and aggregations then work step by step on series
//! ids interned once per node. An instant query is a grid of one step.
//!
//! Layout: `eval` (the AST walk, range-vector inputs, subqueries), `selector` (matchers,
//! lookback, staleness), `functions/` (one file per family), `aggregate`, `binary`
//! (operators and vector matching), `value` (grid-wide values and builders).
//!
//! `../shared/promql-conformance/testdata` is run by `tests/promqltest.rs`.

mod aggregate;
mod aggregate_fold;
mod binary;
mod eval;
mod functions;
pub(crate) mod par;
mod selector;
mod value;

use std::time::{Duration, Instant};

use promql_parser::parser::value::ValueType;
pub use promql_parser::parser::Expr;
use tianshu_tsdb::{ChunkedSeries, Db, Labels, Matcher, Sample, Series};

use crate::cancel::CancelToken;
use crate::error::QueryError;
use eval::Evaluator;
use value::{drop_names, merge_same_labels, GSeries, Grid, Val};

/// Where the engine reads series from: the local [`Db`], or later a fan-out over shards.
pub trait Queryable: Send + Sync {
    /// Series matching all `matchers`, with their samples in `[mint, maxt]` (milliseconds,
    /// both ends inclusive), sorted by labels.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64)
        -> Result<Vec<Series>, QueryError>;

    /// How many series match `matchers` with data in `[mint, maxt]`, read from the index
    /// alone, so that [`EngineOptions::max_series`] can refuse a query before any sample
    /// is loaded. `None` when the source cannot count without loading.
    fn count_series(
        &self,
        _matchers: &[Matcher],
        _mint: i64,
        _maxt: i64,
    ) -> Result<Option<usize>, QueryError> {
        Ok(None)
    }

    /// As [`Queryable::select`], with each series' chunks overlapping the range left
    /// encoded, for the engine to decode on its own threads into reused buffers, and only
    /// as far as it needs. Decoded, they must give exactly what `select` gives. Sources
    /// without chunks answer with their samples (the default).
    fn select_chunks(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ChunkedSeries>, QueryError> {
        Ok(self
            .select(matchers, mint, maxt)?
            .into_iter()
            .map(|s| ChunkedSeries::from_samples(s.labels, s.samples))
            .collect())
    }
}

impl Queryable for Db {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, QueryError> {
        // A block that cannot be read fails the query (500) rather than answering
        // silently without its data.
        Ok(self.try_select(matchers, mint, maxt)?)
    }

    fn count_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Option<usize>, QueryError> {
        Ok(Some(Db::count_series(self, matchers, mint, maxt)))
    }

    fn select_chunks(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ChunkedSeries>, QueryError> {
        // As `select`: a block that cannot be read fails the query.
        Ok(Db::select_chunks(self, matchers, mint, maxt)?)
    }
}

#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// How far back an instant selector looks for the newest sample (Prometheus: 5m).
    pub lookback_delta: Duration,
    /// Upper bound on samples held in memory by one query (Prometheus: 50,000,000).
    pub max_samples: usize,
    /// Per-query timeout (Prometheus: 2m).
    pub timeout: Duration,
    /// Upper bound on the series one query's selectors may match together, counted from
    /// the index before samples are read; 0 = no limit (as Prometheus, which has none).
    pub max_series: usize,
    /// Keep `__name__` through functions and operators until the end of the query
    /// (Prometheus's `promql-delayed-name-removal` feature, which its own test suite runs
    /// with). Off by default, as in a stock Prometheus 3: the name goes as soon as a
    /// function or operator drops it, which is what dashboards written for Prometheus see.
    pub delayed_name_removal: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
            max_series: 0,
            delayed_name_removal: false,
        }
    }
}

/// One element of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct VectorSample {
    pub labels: Labels,
    pub t: i64,
    pub v: f64,
}

/// One series of a range vector or of a range query's result.
#[derive(Clone, Debug, PartialEq)]
pub struct MatrixSeries {
    pub labels: Labels,
    pub samples: Vec<Sample>,
}

/// A query's result, in the four PromQL value types.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar { t: i64, v: f64 },
    String { t: i64, v: String },
    Vector(Vec<VectorSample>),
    Matrix(Vec<MatrixSeries>),
}

/// A result with the annotations Prometheus returns beside it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryResult {
    pub value: Value,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

/// Per-query overrides of [`EngineOptions`] (the `lookback_delta` and `timeout` parameters).
#[derive(Clone, Debug, Default)]
pub struct QueryOptions {
    pub lookback_delta: Option<Duration>,
    pub timeout: Option<Duration>,
    /// Polled where the deadline is; once cancelled the query fails with
    /// [`QueryError::Canceled`].
    pub cancel: CancelToken,
}

pub struct Engine {
    pub opts: EngineOptions,
}

impl Engine {
    pub fn new(opts: EngineOptions) -> Self {
        Engine { opts }
    }

    /// Evaluates `query` at `time_ms`. Range-vector expressions return a `Matrix`.
    pub fn instant_query(
        &self,
        q: &dyn Queryable,
        query: &str,
        time_ms: i64,
        qopts: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        let expr = parse(query)?;
        self.instant_query_inner(q, &expr, query, time_ms, qopts)
    }

    /// [`Engine::instant_query`] for an already parsed expression.
    pub fn instant_query_expr(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        time_ms: i64,
        qopts: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        self.instant_query_inner(q, expr, &expr.to_string(), time_ms, qopts)
    }

    fn instant_query_inner(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        text: &str,
        time_ms: i64,
        qopts: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        let mut ev = self.evaluator(q, time_ms, time_ms, qopts);
        ev.query_text = text.to_string();
        let grid = Grid {
            start: time_ms,
            end: time_ms,
            step: 1,
        };
        let val = ev.eval(expr, &grid)?;
        let value = match val {
            Val::Scalar(v) => Value::Scalar {
                t: time_ms,
                v: v.first().copied().unwrap_or(f64::NAN),
            },
            Val::Str(s) => Value::String { t: time_ms, v: s },
            Val::Vector(series) => {
                let series = merge_same_labels(drop_names(series))?;
                let mut out = Vec::with_capacity(series.len());
                for s in series {
                    if let Some(p) = s.points.first() {
                        out.push(VectorSample {
                            labels: s.labels,
                            t: time_ms,
                            v: p.v,
                        });
                    }
                }
                Value::Vector(out)
            }
            Val::Matrix(series) => {
                let mut series = merge_same_labels(drop_names(series))?;
                series.sort_by(|a, b| a.labels.cmp(&b.labels));
                Value::Matrix(
                    series
                        .into_iter()
                        .map(|s| MatrixSeries {
                            labels: s.labels,
                            samples: s.points,
                        })
                        .collect(),
                )
            }
        };
        Ok(QueryResult {
            value,
            warnings: ev.warnings,
            infos: ev.infos,
        })
    }

    /// Evaluates `query` at every step in `[start_ms, end_ms]`; always returns a `Matrix`
    /// sorted by labels. Range-vector and string expressions are `bad_data`.
    pub fn range_query(
        &self,
        q: &dyn Queryable,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        qopts: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        let expr = parse(query)?;
        self.range_query_inner(q, &expr, query, start_ms, end_ms, step_ms, qopts)
    }

    /// [`Engine::range_query`] for an already parsed expression.
    pub fn range_query_expr(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        qopts: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        let text = expr.to_string();
        self.range_query_inner(q, expr, &text, start_ms, end_ms, step_ms, qopts)
    }

    #[allow(clippy::too_many_arguments)]
    fn range_query_inner(
        &self,
        q: &dyn Queryable,
        expr: &Expr,
        text: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
        qopts: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        if step_ms <= 0 {
            return Err(QueryError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(QueryError::BadData(
                "end timestamp must not be before start time".into(),
            ));
        }
        match expr.value_type() {
            ValueType::Vector | ValueType::Scalar => {}
            t => {
                return Err(QueryError::BadData(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                type_label(t)
            )))
            }
        }
        let grid = Grid {
            start: start_ms,
            end: end_ms,
            step: step_ms,
        };
        if grid.len() > self.opts.max_samples {
            return Err(QueryError::TooManySamples("query execution"));
        }
        let mut ev = self.evaluator(q, start_ms, end_ms, qopts);
        ev.is_range = true;
        ev.query_text = text.to_string();
        ev.query_step = step_ms;
        let val = ev.eval(expr, &grid)?;
        let series = match val {
            Val::Scalar(v) => vec![GSeries {
                labels: Labels::empty(),
                drop_name: false,
                points: v
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| Sample::new(grid.ts(i), x))
                    .collect(),
            }],
            Val::Vector(series) => merge_same_labels(drop_names(series))?,
            other => {
                return Err(QueryError::BadData(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                other.type_name()
            )))
            }
        };
        let mut out: Vec<MatrixSeries> = series
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .map(|s| MatrixSeries {
                labels: s.labels,
                samples: s.points,
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(QueryResult {
            value: Value::Matrix(out),
            warnings: ev.warnings,
            infos: ev.infos,
        })
    }

    fn evaluator<'a>(
        &self,
        q: &'a dyn Queryable,
        start: i64,
        end: i64,
        qopts: &QueryOptions,
    ) -> Evaluator<'a> {
        // Zero means "the default", for the engine option as for the per-query one.
        let engine_default = if self.opts.lookback_delta.is_zero() {
            Duration::from_secs(300)
        } else {
            self.opts.lookback_delta
        };
        let lookback = qopts
            .lookback_delta
            .filter(|d| !d.is_zero())
            .unwrap_or(engine_default);
        let timeout = qopts.timeout.unwrap_or(self.opts.timeout);
        let now = Instant::now();
        let deadline = now
            .checked_add(timeout)
            .unwrap_or(now + Duration::from_secs(86_400 * 365));
        let mut ev = Evaluator::new(
            q,
            start,
            end,
            lookback.as_millis() as i64,
            deadline,
            self.opts.max_samples,
        );
        ev.delayed_name_removal = self.opts.delayed_name_removal;
        ev.max_series = self.opts.max_series;
        ev.cancel = qopts.cancel.clone();
        ev
    }
}

fn type_label(t: ValueType) -> &'static str {
    match t {
        ValueType::Matrix => "range vector",
        ValueType::String => "string",
        ValueType::Scalar => "scalar",
        ValueType::Vector => "instant vector",
    }
}

/// Nesting and operator counts above which a query is refused before parsing: the parser
/// and the expression tree's destructor recurse, and a 50,000-term chain like `a+a+...`
/// overflows a 2 MiB thread stack.
const MAX_PARSE_NESTING: usize = 256;
const MAX_OPERATORS: usize = 4096;

fn check_complexity(query: &str) -> Result<(), QueryError> {
    let (mut depth, mut max_depth, mut ops) = (0usize, 0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in query.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q != '`' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '[' | '{' => {
                depth += 1;
                max_depth = max_depth.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            '+' | '-' | '*' | '/' | '%' | '^' | '=' | '<' | '>' | '!' => ops += 1,
            _ => {}
        }
    }
    if max_depth > MAX_PARSE_NESTING || ops > MAX_OPERATORS {
        return Err(QueryError::BadData(
            "query is too complex: too deeply nested or too many operators".into(),
        ));
    }
    Ok(())
}

fn parse(query: &str) -> Result<Expr, QueryError> {
    check_complexity(query)?;
    crate::parse::parse(query).map_err(QueryError::BadData)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tianshu_tsdb::{stale_nan, MatchOp};

    /// Series held in memory; only equality matchers, which is all these tests use.
    struct Store(Vec<Series>);

    impl Queryable for Store {
        fn select(
            &self,
            matchers: &[Matcher],
            mint: i64,
            maxt: i64,
        ) -> Result<Vec<Series>, QueryError> {
            Ok(self
                .0
                .iter()
                .filter(|s| {
                    matchers.iter().all(|m| {
                        let v = s.labels.get(&m.name).unwrap_or("");
                        match m.op {
                            MatchOp::Equal => v == m.value,
                            MatchOp::NotEqual => v != m.value,
                            _ => true,
                        }
                    })
                })
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

    fn series(pairs: &[(&str, &str)], samples: &[(i64, f64)]) -> Series {
        Series {
            labels: Labels::from_pairs(pairs.iter().copied()),
            samples: samples.iter().map(|&(t, v)| Sample::new(t, v)).collect(),
        }
    }

    fn instant(store: &Store, q: &str, t: i64) -> Result<Value, QueryError> {
        Engine::new(EngineOptions::default())
            .instant_query(store, q, t, &QueryOptions::default())
            .map(|r| r.value)
    }

    fn values(v: &Value) -> Vec<f64> {
        match v {
            Value::Vector(v) => v.iter().map(|s| s.v).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn names_go_at_once_unless_removal_is_delayed() {
        let store = Store(vec![
            series(
                &[("__name__", "a_total"), ("j", "x")],
                &[(0, 0.0), (60_000, 60.0)],
            ),
            series(
                &[("__name__", "b_total"), ("j", "x")],
                &[(0, 0.0), (60_000, 30.0)],
            ),
        ]);
        let q = r#"label_replace(rate(a_total[2m]), "n", "$1", "__name__", "(.*)")"#;
        let labels = |v: Value| match v {
            Value::Vector(v) => v.into_iter().map(|s| s.labels.to_string()).collect(),
            _ => Vec::new(),
        };
        // Stock Prometheus 3: rate() has already dropped the name, so `n` stays empty.
        let got = instant(&store, q, 60_000).unwrap();
        assert_eq!(labels(got), vec![r#"{j="x"}"#.to_string()]);
        let delayed = Engine::new(EngineOptions {
            delayed_name_removal: true,
            ..EngineOptions::default()
        });
        let got = delayed
            .instant_query(&store, q, 60_000, &QueryOptions::default())
            .unwrap()
            .value;
        assert_eq!(labels(got), vec![r#"{j="x", n="a_total"}"#.to_string()]);
        // Two series that differ only by name collide as soon as the name is gone.
        let err = instant(&store, r#"rate({j="x"}[2m])"#, 60_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vector cannot contain metrics with the same labelset"
        );
    }

    #[test]
    fn staleness_marker_ends_the_series_before_lookback_runs_out() {
        let store = Store(vec![series(
            &[("__name__", "up")],
            &[(0, 1.0), (10_000, stale_nan())],
        )]);
        assert_eq!(
            values(&instant(&store, "up", 5_000).unwrap_or(Value::Vector(vec![]))),
            vec![1.0]
        );
        assert!(values(&instant(&store, "up", 20_000).unwrap_or(Value::Vector(vec![]))).is_empty());
        // Without the marker the sample would be visible until 5m later.
        let fresh = Store(vec![series(&[("__name__", "up")], &[(0, 1.0)])]);
        assert_eq!(
            values(&instant(&fresh, "up", 299_000).unwrap_or(Value::Vector(vec![]))),
            vec![1.0]
        );
        assert!(
            values(&instant(&fresh, "up", 300_000).unwrap_or(Value::Vector(vec![]))).is_empty()
        );
    }

    #[test]
    fn one_to_one_duplicates_are_rejected_with_prometheus_wording() {
        let store = Store(vec![
            series(&[("__name__", "a"), ("x", "1"), ("y", "1")], &[(0, 1.0)]),
            series(&[("__name__", "a"), ("x", "1"), ("y", "2")], &[(0, 1.0)]),
            series(&[("__name__", "b"), ("x", "1")], &[(0, 1.0)]),
        ]);
        let err = instant(&store, "a + on(x) b", 0)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)")
        );
        let err = instant(&store, "b + on(x) a", 0)
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.starts_with(
            "found duplicate series for the match group {x=\"1\"} on the right hand-side"
        )));
        let ok = instant(&store, "a + on(x) group_left b", 0);
        assert_eq!(values(&ok.unwrap_or(Value::Vector(vec![]))), vec![2.0, 2.0]);
    }

    #[test]
    fn functions_producing_equal_label_sets_fail() {
        let store = Store(vec![
            series(&[("__name__", "a"), ("x", "1")], &[(0, 1.0)]),
            series(&[("__name__", "b"), ("x", "1")], &[(0, 1.0)]),
        ]);
        let err = instant(&store, "abs({x=\"1\"})", 0)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("vector cannot contain metrics with the same labelset")
        );
    }

    #[test]
    fn limits_stop_the_query() {
        let store = Store(vec![series(
            &[("__name__", "a")],
            &(0..100).map(|i| (i * 1000, 1.0)).collect::<Vec<_>>(),
        )]);
        let o = QueryOptions::default();
        let small = Engine::new(EngineOptions {
            max_samples: 10,
            ..EngineOptions::default()
        });
        let err = small.range_query(&store, "a", 0, 99_000, 1000, &o).err();
        assert!(
            matches!(err, Some(QueryError::TooManySamples(_))),
            "{err:?}"
        );
        let timed = QueryOptions {
            timeout: Some(Duration::ZERO),
            ..QueryOptions::default()
        };
        let engine = Engine::new(EngineOptions::default());
        let err = engine.instant_query(&store, "sum(a)", 0, &timed).err();
        assert!(matches!(err, Some(QueryError::Timeout(_))), "{err:?}");
    }

    #[test]
    fn hostile_queries_error_instead_of_panicking() {
        let store = Store(vec![series(&[("__name__", "a")], &[(0, 1.0)])]);
        let engine = Engine::new(EngineOptions::default());
        let o = QueryOptions::default();
        assert!(engine.range_query(&store, "a", 0, 10, 0, &o).is_err());
        assert!(engine.range_query(&store, "a", 0, i64::MAX, 1, &o).is_err());
        let deep = format!("{}a{}", "(".repeat(500), ")".repeat(500));
        assert!(engine.instant_query(&store, &deep, 0, &o).is_err());
        let long = format!("a{}", "+a".repeat(50_000));
        assert!(engine.instant_query(&store, &long, 0, &o).is_err());
        // Just under the evaluator's depth limit still works.
        let nested = format!("{}a{}", "(".repeat(140), ")".repeat(140));
        assert!(engine.instant_query(&store, &nested, 0, &o).is_ok());
        let chain = format!("a{}", "+a".repeat(140));
        assert!(engine.instant_query(&store, &chain, 0, &o).is_ok());
        assert!(engine.instant_query(&store, "a[1000y:1ms]", 0, &o).is_err());
        assert!(engine.instant_query(&store, "topk(NaN, a)", 0, &o).is_err());
        for t in [i64::MIN, i64::MAX] {
            for q in [
                "a offset -1h",
                "a offset 1h",
                "rate(a[5m] offset -5m)",
                "predict_linear(a[5m], 60)",
                "max_over_time(a[1h:1m] offset -1h)",
                "timestamp(a @ 100)",
            ] {
                let _ = engine.instant_query(&store, q, t, &o);
                let _ = engine.range_query(&store, q, t, t, 1000, &o);
            }
        }
        // Prometheus refuses durations past int64 nanoseconds (`duration out of range`);
        // the largest it accepts must still evaluate without overflowing.
        assert!(engine
            .instant_query(&store, "rate(a[5m] offset -1000y)", 0, &o)
            .is_err());
        assert!(engine
            .instant_query(&store, "rate(a[5m] offset -290y)", 0, &o)
            .is_ok());
    }

    /// Enough series × steps that selectors and range functions split the work over
    /// threads; each series queried alone stays on one thread. Both must agree exactly.
    #[test]
    fn large_nodes_answer_as_series_evaluated_one_by_one() {
        let n = 300;
        let all: Vec<Series> = (0..n)
            .map(|i| {
                let id = format!("{i:03}");
                let samples: Vec<(i64, f64)> = (0..601)
                    .filter(|k| (k + i) % 97 != 0)
                    .map(|k| {
                        let v = (k * (i + 1)) as f64 * 0.37 % (50.0 + i as f64);
                        (k as i64 * 1000, v)
                    })
                    .collect();
                series(&[("__name__", "c_total"), ("id", id.as_str())], &samples)
            })
            .collect();
        let store = Store(all);
        let engine = Engine::new(EngineOptions::default());
        let o = QueryOptions::default();
        for q in [
            "rate(c_total[1m])",
            "max_over_time(c_total[30s])",
            "c_total",
            "sum by (id) (c_total)",
        ] {
            let whole = match engine.range_query(&store, q, 0, 600_000, 1000, &o) {
                Ok(r) => r.value,
                Err(e) => panic!("{q}: {e}"),
            };
            let Value::Matrix(whole) = whole else {
                panic!("{q}: not a matrix");
            };
            assert_eq!(whole.len(), n, "{q}");
            for (i, got) in whole.iter().enumerate() {
                let one = q.replace("c_total", &format!("c_total{{id=\"{i:03}\"}}"));
                let Ok(QueryResult {
                    value: Value::Matrix(want),
                    ..
                }) = engine.range_query(&store, &one, 0, 600_000, 1000, &o)
                else {
                    panic!("{one}: no matrix");
                };
                assert_eq!(want.len(), 1, "{one}");
                let bits = |m: &MatrixSeries| -> Vec<(i64, u64)> {
                    m.samples.iter().map(|p| (p.t, p.v.to_bits())).collect()
                };
                assert_eq!(got.labels, want[0].labels, "{one}");
                assert_eq!(bits(got), bits(&want[0]), "{one}");
            }
        }
    }
}
