//! The PromQL engine (stub: being implemented).
//!
//! Queries are parsed with `promql-parser` and evaluated here against any [`Queryable`].

use std::time::Duration;

use tianshu_tsdb::{Db, Labels, Matcher, Sample, Series};

use crate::error::QueryError;

/// Where the engine reads series from: the local [`Db`], or later a fan-out over shards.
pub trait Queryable: Send + Sync {
    /// Series matching all `matchers`, with their samples in `[mint, maxt]` (milliseconds,
    /// both ends inclusive), sorted by labels.
    fn select(&self, matchers: &[Matcher], mint: i64, maxt: i64)
        -> Result<Vec<Series>, QueryError>;
}

impl Queryable for Db {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, QueryError> {
        Ok(Db::select(self, matchers, mint, maxt))
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
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Duration::from_secs(120),
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
        _q: &dyn Queryable,
        _query: &str,
        _time_ms: i64,
        _qopts: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        unimplemented!()
    }

    /// Evaluates `query` at every step in `[start_ms, end_ms]`; always returns a `Matrix`
    /// sorted by labels. Range-vector and string expressions are `bad_data`.
    pub fn range_query(
        &self,
        _q: &dyn Queryable,
        _query: &str,
        _start_ms: i64,
        _end_ms: i64,
        _step_ms: i64,
        _qopts: &QueryOptions,
    ) -> Result<QueryResult, QueryError> {
        unimplemented!()
    }
}
