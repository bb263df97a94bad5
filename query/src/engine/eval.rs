//! The AST walk: every node is evaluated once over the whole step grid.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use promql_parser::parser::{Expr, MatrixSelector, SubqueryExpr};
use tianshu_tsdb::{is_stale_nan, ChunkedSeries, Labels, Sample};

use super::selector::offset_ms;
use super::value::{drop_names, merge_same_labels, GSeries, Grid, Val};
use super::Queryable;
use crate::cancel::CancelToken;
use crate::error::QueryError;

/// Deeper expressions are refused rather than risking the stack.
const MAX_DEPTH: usize = 150;

/// Subqueries without a step use this resolution (Prometheus's default evaluation
/// interval).
const DEFAULT_SUBQUERY_STEP_MS: i64 = 60_000;

pub(crate) struct Evaluator<'a> {
    pub q: &'a dyn Queryable,
    pub query_start: i64,
    pub query_end: i64,
    /// The range query's step (0 for an instant query), for `step()`.
    pub query_step: i64,
    pub lookback: i64,
    pub deadline: Instant,
    pub max_samples: usize,
    pub samples: usize,
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
    /// The query text, for the `(line:col)` positions annotations carry.
    pub query_text: String,
    /// True while evaluating a range query (for the `sort` warning).
    pub is_range: bool,
    /// See [`super::EngineOptions::delayed_name_removal`].
    pub delayed_name_removal: bool,
    /// See [`super::EngineOptions::max_series`]; 0 = no limit.
    pub max_series: usize,
    /// Series matched so far by the query's selectors, summed; at most `max_series`.
    pub series: usize,
    /// Checked with the deadline; see [`super::QueryOptions::cancel`].
    pub cancel: CancelToken,
    depth: usize,
}

/// The samples behind a range-vector argument and how to cut them into windows.
///
/// A matrix selector's series come as `selected`, still encoded: the function walking
/// the windows decodes each on its own threads into a reused buffer (see
/// `functions/window.rs`), counting what it decoded in `decoded`, which the caller adds
/// to the query's samples. A subquery's series come evaluated, as `series`.
pub(crate) struct RangeInput {
    pub series: Vec<GSeries>,
    /// Series of a matrix selector, to be decoded over `[sel_mint, sel_maxt]`.
    pub selected: Vec<ChunkedSeries>,
    pub sel_mint: i64,
    pub sel_maxt: i64,
    /// Samples decoded from `selected` so far, stale markers left out.
    pub decoded: AtomicUsize,
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
    /// Raw selector (not a subquery): annotations name the metric.
    pub from_selector: bool,
}

impl RangeInput {
    /// An input of evaluated series.
    pub fn evaluated(
        series: Vec<GSeries>,
        range: i64,
        offset: i64,
        at: Option<i64>,
        from_selector: bool,
    ) -> Self {
        RangeInput {
            series,
            selected: Vec::new(),
            sel_mint: 0,
            sel_maxt: 0,
            decoded: AtomicUsize::new(0),
            range,
            offset,
            at,
            from_selector,
        }
    }

    /// The end of the window evaluated at step `ts`.
    pub fn eff(&self, ts: i64) -> i64 {
        self.at.unwrap_or(ts).saturating_sub(self.offset)
    }

    /// Samples of `s` in `(eff - range, eff]`.
    pub fn window<'s>(&self, s: &'s GSeries, eff: i64) -> &'s [Sample] {
        let lo = s
            .points
            .partition_point(|p| p.t <= eff.saturating_sub(self.range));
        let hi = s.points.partition_point(|p| p.t <= eff);
        if lo >= hi {
            return &[];
        }
        &s.points[lo..hi]
    }

    /// Decodes `s` (one of `selected`) into `buf` without its staleness markers, and
    /// counts the samples.
    pub fn decode(&self, s: &ChunkedSeries, buf: &mut Vec<Sample>) -> Result<(), QueryError> {
        s.samples_into(self.sel_mint, self.sel_maxt, buf)?;
        // In place: most series have no marker.
        buf.retain(|p| !is_stale_nan(p.v));
        self.decoded.fetch_add(buf.len(), Ordering::Relaxed);
        Ok(())
    }

    /// Samples decoded so far (see `decoded`), reset to zero.
    pub fn take_decoded(&self) -> usize {
        self.decoded.swap(0, Ordering::Relaxed)
    }

    /// Every series decoded, as `series`.
    pub fn into_evaluated(mut self) -> Result<Self, QueryError> {
        let mut buf = Vec::new();
        for s in std::mem::take(&mut self.selected) {
            self.decode(&s, &mut buf)?;
            if !buf.is_empty() {
                self.series.push(GSeries {
                    labels: s.labels,
                    drop_name: false,
                    points: std::mem::take(&mut buf),
                });
            }
        }
        Ok(self)
    }
}

impl<'a> Evaluator<'a> {
    pub fn new(
        q: &'a dyn Queryable,
        query_start: i64,
        query_end: i64,
        lookback: i64,
        deadline: Instant,
        max_samples: usize,
    ) -> Self {
        Evaluator {
            q,
            query_start,
            query_end,
            query_step: 0,
            lookback,
            deadline,
            max_samples,
            samples: 0,
            warnings: Vec::new(),
            infos: Vec::new(),
            is_range: false,
            query_text: String::new(),
            delayed_name_removal: false,
            max_series: 0,
            series: 0,
            cancel: CancelToken::default(),
            depth: 0,
        }
    }

    /// The deadline and cancellation, for work handed to other threads.
    pub fn stop(&self) -> super::par::Stop {
        super::par::Stop {
            deadline: self.deadline,
            cancel: self.cancel.clone(),
        }
    }

    pub fn check_deadline(&self) -> Result<(), QueryError> {
        if self.cancel.is_cancelled() {
            return Err(QueryError::Canceled("query execution"));
        }
        if Instant::now() > self.deadline {
            return Err(QueryError::Timeout("query execution"));
        }
        Ok(())
    }

    /// Counts samples a node materialises; the total is bounded by `max_samples`.
    pub fn add_samples(&mut self, n: usize) -> Result<(), QueryError> {
        self.samples = self.samples.saturating_add(n);
        if self.samples > self.max_samples {
            return Err(QueryError::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// ` (line:col)` of the first occurrence of `node`'s text in the query, as Prometheus
    /// appends to annotations; empty when the text cannot be located.
    pub fn pos(&self, node: &dyn std::fmt::Display) -> String {
        let needle = node.to_string();
        match self.query_text.find(&needle) {
            Some(i) => {
                let before = &self.query_text[..i];
                let line = before.matches('\n').count() + 1;
                let col = before.rfind('\n').map_or(i, |nl| i - nl - 1) + 1;
                format!(" ({line}:{col})")
            }
            None => String::new(),
        }
    }

    pub fn warn(&mut self, msg: String) {
        if !self.warnings.contains(&msg) {
            self.warnings.push(msg);
        }
    }

    pub fn info(&mut self, msg: String) {
        if !self.infos.contains(&msg) {
            self.infos.push(msg);
        }
    }

    pub fn eval(&mut self, e: &Expr, g: &Grid) -> Result<Val, QueryError> {
        self.depth += 1;
        let r = if self.depth > MAX_DEPTH {
            Err(QueryError::BadData(format!(
                "expression nested more than {MAX_DEPTH} levels deep"
            )))
        } else {
            self.check_deadline().and_then(|_| self.eval_inner(e, g))
        };
        self.depth -= 1;
        r
    }

    fn eval_inner(&mut self, e: &Expr, g: &Grid) -> Result<Val, QueryError> {
        let v = self.eval_node(e, g)?;
        match (e, v) {
            // Without delayed removal, a name a node drops is gone before its parent sees
            // the result: `sum by (__name__) (rate(x[1m]))` groups by an empty name, and
            // two series differing only by name collide right here, as in Prometheus.
            (
                Expr::Unary(_) | Expr::Call(_) | Expr::Aggregate(_) | Expr::Binary(_),
                Val::Vector(series),
            ) if !self.delayed_name_removal && series.iter().any(|s| s.drop_name) => {
                Ok(Val::Vector(merge_same_labels(drop_names(series))?))
            }
            (_, v) => Ok(v),
        }
    }

    fn eval_node(&mut self, e: &Expr, g: &Grid) -> Result<Val, QueryError> {
        match e {
            Expr::NumberLiteral(n) => Ok(Val::Scalar(vec![n.val; g.len()])),
            Expr::StringLiteral(s) => Ok(Val::Str(s.val.clone())),
            Expr::Paren(p) => self.eval(&p.expr, g),
            Expr::Unary(u) => match self.eval(&u.expr, g)? {
                Val::Scalar(v) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
                Val::Vector(series) => Ok(Val::Vector(
                    series
                        .into_iter()
                        .map(|mut s| {
                            s.drop_name = true;
                            for p in &mut s.points {
                                p.v = -p.v;
                            }
                            s
                        })
                        .collect(),
                )),
                other => Err(QueryError::BadData(format!(
                    "unary expression only allowed on expressions of type scalar or vector, got: {}",
                    other.type_name()
                ))),
            },
            Expr::VectorSelector(vs) => Ok(Val::Vector(self.eval_vector_selector(vs, g, false)?)),
            Expr::MatrixSelector(_) | Expr::Subquery(_) => {
                let input = self.eval_range_input(e, g)?.into_evaluated()?;
                self.add_samples(input.take_decoded())?;
                if g.len() != 1 {
                    return Err(QueryError::BadData(
                        "invalid expression type \"range vector\" for range query, must be Scalar or instant Vector".into(),
                    ));
                }
                let eff = input.eff(g.start);
                let mut out = Vec::new();
                for s in &input.series {
                    let w = input.window(s, eff);
                    if !w.is_empty() {
                        out.push(GSeries {
                            labels: s.labels.clone(),
                            drop_name: s.drop_name,
                            points: w.to_vec(),
                        });
                    }
                }
                Ok(Val::Matrix(out))
            }
            Expr::Call(c) => super::functions::call(self, c, g),
            Expr::Aggregate(a) => super::aggregate::eval(self, a, g),
            Expr::Binary(b) => super::binary::eval(self, b, g),
            Expr::Extension(_) => Err(QueryError::BadData(
                "unsupported expression extension".into(),
            )),
        }
    }

    /// Evaluates a range-vector argument: a matrix selector or a subquery.
    pub fn eval_range_input(&mut self, e: &Expr, g: &Grid) -> Result<RangeInput, QueryError> {
        match e {
            Expr::Paren(p) => self.eval_range_input(&p.expr, g),
            Expr::MatrixSelector(ms) => self.eval_matrix_selector(ms, g),
            Expr::Subquery(sq) => self.eval_subquery(sq, g),
            _ => Err(QueryError::BadData(format!(
                "expected type range vector, got {}",
                e.value_type()
            ))),
        }
    }

    fn eval_matrix_selector(
        &mut self,
        ms: &MatrixSelector,
        g: &Grid,
    ) -> Result<RangeInput, QueryError> {
        let range = ms.range.as_millis() as i64;
        let offset = offset_ms(&ms.vs.offset);
        let at = self.resolve_at(&ms.vs.at);
        let (lo, hi) = match at {
            Some(a) => (a.saturating_sub(offset), a.saturating_sub(offset)),
            None => (g.start.saturating_sub(offset), g.end.saturating_sub(offset)),
        };
        let (mint, maxt) = (lo.saturating_sub(range).saturating_add(1), hi);
        let selected = self.select_chunks(&ms.vs, mint, maxt)?;
        let mut input = RangeInput::evaluated(Vec::new(), range, offset, at, true);
        input.selected = selected;
        input.sel_mint = mint;
        input.sel_maxt = maxt;
        Ok(input)
    }

    fn eval_subquery(&mut self, sq: &SubqueryExpr, g: &Grid) -> Result<RangeInput, QueryError> {
        let range = sq.range.as_millis() as i64;
        let offset = offset_ms(&sq.offset);
        let at = self.resolve_at(&sq.at);
        let step = match sq.step {
            Some(d) => d.as_millis() as i64,
            None => DEFAULT_SUBQUERY_STEP_MS,
        };
        if step <= 0 {
            return Err(QueryError::BadData(
                "zero or negative subquery step is not allowed".into(),
            ));
        }
        let (base_start, base_end) = match at {
            Some(a) => (a, a),
            None => (g.start, g.end),
        };
        let bound = base_start
            .checked_sub(offset)
            .and_then(|x| x.checked_sub(range))
            .ok_or_else(|| QueryError::BadData("subquery range out of bounds".into()))?;
        // The first step-aligned timestamp after the left-open window start.
        let mut start = step * (bound / step);
        if start <= bound {
            start = start
                .checked_add(step)
                .ok_or_else(|| QueryError::BadData("subquery range out of bounds".into()))?;
        }
        let inner = Grid {
            start,
            end: base_end.saturating_sub(offset),
            step,
        };
        let steps = (inner.end.saturating_sub(inner.start) / step).max(0) as u64;
        if steps > self.max_samples as u64 {
            return Err(QueryError::TooManySamples("query execution"));
        }
        let series = match self.eval(&sq.expr, &inner)? {
            Val::Vector(s) => s,
            Val::Scalar(v) => vec![GSeries {
                labels: Labels::empty(),
                drop_name: false,
                points: v
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| Sample::new(inner.ts(i), x))
                    .collect(),
            }],
            other => {
                return Err(QueryError::BadData(format!(
                    "subquery is only allowed on instant vector, got {} instead",
                    other.type_name()
                )))
            }
        };
        Ok(RangeInput::evaluated(series, range, offset, at, false))
    }
}
