//! Values as the evaluator passes them between nodes: every instant vector and scalar is
//! held over the whole step grid at once, so a range query walks each series only once.

use std::collections::HashMap;

use tianshu_tsdb::{Labels, Sample, METRIC_NAME};

use crate::error::QueryError;

/// The evaluation times of one (sub)query: `start`, `start + step`, ... up to `end`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Grid {
    pub start: i64,
    pub end: i64,
    pub step: i64,
}

impl Grid {
    pub fn len(&self) -> usize {
        if self.end < self.start || self.step <= 0 {
            return 0;
        }
        let span = self.end as i128 - self.start as i128;
        usize::try_from(span / self.step as i128 + 1).unwrap_or(usize::MAX)
    }

    pub fn ts(&self, i: usize) -> i64 {
        self.start.saturating_add(
            self.step
                .saturating_mul(i64::try_from(i).unwrap_or(i64::MAX)),
        )
    }

    /// Index of the step at `t`, if `t` lies on the grid.
    pub fn index_of(&self, t: i64) -> Option<usize> {
        if self.step <= 0 || t < self.start || t > self.end || (t - self.start) % self.step != 0 {
            return None;
        }
        Some(((t - self.start) / self.step) as usize)
    }
}

/// One series of an instant vector over the grid (points only at steps where it has a
/// value), or of a range vector (raw samples).
///
/// `drop_name` implements Prometheus's delayed name removal: functions and arithmetic mark
/// the metric name for removal, but it stays visible to later label functions and
/// aggregations until the final result is cleaned up.
#[derive(Clone, Debug)]
pub(crate) struct GSeries {
    pub labels: Labels,
    pub drop_name: bool,
    pub points: Vec<Sample>,
}

/// One element of an instant vector at a single step.
#[derive(Clone, Debug)]
pub(crate) struct Elem {
    pub labels: Labels,
    pub drop_name: bool,
    pub v: f64,
}

pub(crate) enum Val {
    /// One value per grid step.
    Scalar(Vec<f64>),
    Str(String),
    Vector(Vec<GSeries>),
    /// A range vector; only produced when the grid has a single step.
    Matrix(Vec<GSeries>),
}

impl Val {
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Scalar(_) => "scalar",
            Val::Str(_) => "string",
            Val::Vector(_) => "instant vector",
            Val::Matrix(_) => "range vector",
        }
    }
}

/// Splits a grid-wide vector into one vector per step, preserving series order.
pub(crate) fn per_step(series: &[GSeries], grid: &Grid) -> Vec<Vec<Elem>> {
    let n = grid.len();
    let mut out: Vec<Vec<Elem>> = (0..n).map(|_| Vec::new()).collect();
    for s in series {
        for p in &s.points {
            if let Some(i) = grid.index_of(p.t) {
                out[i].push(Elem {
                    labels: s.labels.clone(),
                    drop_name: s.drop_name,
                    v: p.v,
                });
            }
        }
    }
    out
}

/// Collects per-step output elements back into grid-wide series, refusing two elements
/// with the same labels at one step.
#[derive(Default)]
pub(crate) struct Builder {
    index: HashMap<Labels, usize>,
    pub series: Vec<GSeries>,
}

pub(crate) const DUPLICATE_LABELSET: &str = "vector cannot contain metrics with the same labelset";

impl Builder {
    pub fn push(&mut self, e: Elem, t: i64) -> Result<(), QueryError> {
        match self.index.get(&e.labels) {
            Some(&i) => {
                let s = &mut self.series[i];
                if s.points.last().is_some_and(|p| p.t == t) {
                    return Err(QueryError::Execution(DUPLICATE_LABELSET.into()));
                }
                s.drop_name |= e.drop_name;
                s.points.push(Sample::new(t, e.v));
            }
            None => {
                self.index.insert(e.labels.clone(), self.series.len());
                self.series.push(GSeries {
                    labels: e.labels,
                    drop_name: e.drop_name,
                    points: vec![Sample::new(t, e.v)],
                });
            }
        }
        Ok(())
    }

    pub fn finish(self) -> Vec<GSeries> {
        self.series
    }
}

/// Merges series that ended up with equal labels (after a label function or the final
/// name removal). Overlapping points are the duplicate-labelset error.
pub(crate) fn merge_same_labels(series: Vec<GSeries>) -> Result<Vec<GSeries>, QueryError> {
    // Series straight from a selector come sorted by labels, and dropping the name they
    // all share keeps them sorted: then no two are equal, and there is nothing to hash.
    if series.windows(2).all(|w| w[0].labels < w[1].labels) {
        return Ok(series);
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<GSeries> = Vec::with_capacity(series.len());
    for s in series {
        match index.get(&s.labels) {
            Some(&i) => {
                let dst = &mut out[i];
                dst.drop_name |= s.drop_name;
                dst.points.extend(s.points);
                dst.points.sort_by_key(|p| p.t);
                if dst.points.windows(2).any(|w| w[0].t == w[1].t) {
                    return Err(QueryError::Execution(DUPLICATE_LABELSET.into()));
                }
            }
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Applies delayed name removal.
pub(crate) fn drop_names(series: Vec<GSeries>) -> Vec<GSeries> {
    series
        .into_iter()
        .map(|mut s| {
            if s.drop_name {
                // The type and unit metadata labels describe the metric name and go with it.
                s.labels.remove(METRIC_NAME);
                s.labels.remove("__type__");
                s.labels.remove("__unit__");
                s.drop_name = false;
            }
            s
        })
        .collect()
}

/// Prometheus's label-set notation with the name inside the braces, as its error
/// messages print series: `{__name__="a", b="c"}`.
pub(crate) fn labels_string(l: &Labels) -> String {
    let mut s = String::from("{");
    for (i, lb) in l.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&lb.name);
        s.push('=');
        s.push_str(&format!("{:?}", &*lb.value));
    }
    s.push('}');
    s
}

/// For every step, the `(series index, value)` pairs present at that step, in series order.
pub(crate) fn step_index(series: &[GSeries], grid: &Grid) -> Vec<Vec<(usize, f64)>> {
    let n = grid.len();
    let mut out: Vec<Vec<(usize, f64)>> = (0..n).map(|_| Vec::new()).collect();
    for (si, s) in series.iter().enumerate() {
        for p in &s.points {
            if let Some(i) = grid.index_of(p.t) {
                out[i].push((si, p.v));
            }
        }
    }
    out
}

/// Like [`Builder`], but callers resolve labels to an output id once and then push by id,
/// so the per-step work does not hash label sets.
#[derive(Default)]
pub(crate) struct IdBuilder {
    ids: HashMap<Labels, usize>,
    series: Vec<GSeries>,
}

impl IdBuilder {
    pub fn id_for(&mut self, labels: &Labels) -> usize {
        if let Some(&id) = self.ids.get(labels) {
            return id;
        }
        let id = self.series.len();
        self.ids.insert(labels.clone(), id);
        self.series.push(GSeries {
            labels: labels.clone(),
            drop_name: false,
            points: Vec::new(),
        });
        id
    }

    pub fn push(&mut self, id: usize, drop_name: bool, t: i64, v: f64) -> Result<(), QueryError> {
        let Some(s) = self.series.get_mut(id) else {
            return Ok(());
        };
        if s.points.last().is_some_and(|p| p.t == t) {
            return Err(QueryError::Execution(DUPLICATE_LABELSET.into()));
        }
        s.drop_name |= drop_name;
        s.points.push(Sample::new(t, v));
        Ok(())
    }

    pub fn finish(self) -> Vec<GSeries> {
        self.series
            .into_iter()
            .filter(|s| !s.points.is_empty())
            .collect()
    }
}
