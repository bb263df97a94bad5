//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, ...) with `by`/`without`.

use std::collections::HashMap;

use promql_parser::label::METRIC_NAME;
use promql_parser::parser::{AggregateExpr, LabelModifier};
use tianshu_tsdb::Labels;

use super::eval::Evaluator;
use super::functions::math::{kahan_inc, quantile};
use super::value::{per_step, step_index, Builder, Elem, GSeries, Grid, IdBuilder, Val};
use crate::error::QueryError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum AggOp {
    Sum,
    Avg,
    Count,
    Min,
    Max,
    Group,
    Stddev,
    Stdvar,
    Topk,
    Bottomk,
    Quantile,
    CountValues,
    Limitk,
    LimitRatio,
}

fn parse_op(s: &str) -> Result<AggOp, QueryError> {
    Ok(match s {
        "sum" => AggOp::Sum,
        "avg" => AggOp::Avg,
        "count" => AggOp::Count,
        "min" => AggOp::Min,
        "max" => AggOp::Max,
        "group" => AggOp::Group,
        "stddev" => AggOp::Stddev,
        "stdvar" => AggOp::Stdvar,
        "topk" => AggOp::Topk,
        "bottomk" => AggOp::Bottomk,
        "quantile" => AggOp::Quantile,
        "count_values" => AggOp::CountValues,
        "limitk" => AggOp::Limitk,
        "limit_ratio" => AggOp::LimitRatio,
        other => {
            return Err(QueryError::BadData(format!(
                "unsupported aggregation {other}"
            )))
        }
    })
}

struct Grouping {
    without: bool,
    names: Vec<String>,
}

impl Grouping {
    fn key(&self, l: &Labels) -> Labels {
        if self.without {
            let mut n = self.names.clone();
            n.push(METRIC_NAME.to_string());
            l.drop_names(&n)
        } else {
            l.keep(&self.names)
        }
    }
}

/// One group's accumulator at one step.
#[derive(Default)]
pub(super) struct Group {
    drop_name: bool,
    /// Elements added so far; 0 means the group has no value at this step.
    pub count: f64,
    value: f64,
    comp: f64,
    mean: f64,
    incremental: bool,
    /// The elements themselves, for the operators that pick or rank them.
    elems: Vec<(usize, f64)>,
}

pub(crate) fn eval(ev: &mut Evaluator, a: &AggregateExpr, g: &Grid) -> Result<Val, QueryError> {
    let op = parse_op(&a.op.to_string())?;
    let grouping = match &a.modifier {
        Some(LabelModifier::Include(l)) => Grouping {
            without: false,
            names: l.labels.clone(),
        },
        Some(LabelModifier::Exclude(l)) => Grouping {
            without: true,
            names: l.labels.clone(),
        },
        None => Grouping {
            without: false,
            names: Vec::new(),
        },
    };
    let mut scalar_param: Option<Vec<f64>> = None;
    let mut string_param: Option<String> = None;
    if let Some(p) = &a.param {
        match ev.eval(p, g)? {
            Val::Scalar(v) => scalar_param = Some(v),
            Val::Str(s) => string_param = Some(s),
            other => {
                return Err(QueryError::BadData(format!(
                    "expected scalar or string parameter, got {}",
                    other.type_name()
                )))
            }
        }
    }
    let input = match ev.eval(&a.expr, g)? {
        Val::Vector(v) => v,
        other => {
            return Err(QueryError::BadData(format!(
                "expected type instant vector in aggregation expression, got {}",
                other.type_name()
            )))
        }
    };
    if op == AggOp::CountValues {
        let name = string_param.clone().unwrap_or_default();
        if !crate::engine::functions::is_valid_label_name(&name) {
            return Err(QueryError::Execution(format!(
                "invalid label name {name:?}"
            )));
        }
    }
    if op == AggOp::Quantile {
        if let Some(ps) = &scalar_param {
            let pos = a.param.as_ref().map(|p| ev.pos(p)).unwrap_or_default();
            for &q in ps {
                if q.is_nan() || !(0.0..=1.0).contains(&q) {
                    ev.warn(format!(
                        "PromQL warning: quantile value should be between 0 and 1, got {}{pos}",
                        fmt_go_float(q)
                    ));
                }
            }
        }
    }
    if op == AggOp::CountValues {
        let label = string_param.unwrap_or_default();
        let mut out = Builder::default();
        for (i, elems) in per_step(&input, g).into_iter().enumerate() {
            ev.check_deadline()?;
            for e in count_values(&grouping, elems, &label) {
                out.push(e, g.ts(i))?;
            }
        }
        return Ok(Val::Vector(out.finish()));
    }
    // Group keys depend only on labels: compute them once per input series.
    let mut group_ids: HashMap<Labels, usize> = HashMap::new();
    let mut group_labels: Vec<Labels> = Vec::new();
    let series_group: Vec<usize> = input
        .iter()
        .map(|s| {
            let key = grouping.key(&s.labels);
            *group_ids.entry(key.clone()).or_insert_with(|| {
                group_labels.push(key);
                group_labels.len() - 1
            })
        })
        .collect();
    if super::aggregate_fold::folds(op) {
        let out = super::aggregate_fold::fold(ev, op, &input, &series_group, group_labels, g)?;
        return Ok(Val::Vector(out));
    }
    let mut groups: Vec<Group> = (0..group_labels.len()).map(|_| Group::default()).collect();
    let mut seen = vec![0usize; group_labels.len()];
    let mut group_out: Vec<Option<usize>> = vec![None; group_labels.len()];
    let mut series_out: Vec<Option<usize>> = vec![None; input.len()];
    let mut out = IdBuilder::default();
    let mut touched: Vec<usize> = Vec::new();
    for (i, elems) in step_index(&input, g).into_iter().enumerate() {
        ev.check_deadline()?;
        let t = g.ts(i);
        let param = scalar_param
            .as_ref()
            .and_then(|v| v.get(i).copied())
            .unwrap_or(f64::NAN);
        if matches!(op, AggOp::Topk | AggOp::Bottomk | AggOp::Limitk) && param.is_nan() {
            return Err(QueryError::Execution("Parameter value is NaN".into()));
        }
        if op == AggOp::LimitRatio && param.is_nan() {
            return Err(QueryError::Execution("Ratio value is NaN".into()));
        }
        let mark = i + 1;
        touched.clear();
        for (si, v) in elems {
            let gid = series_group[si];
            if seen[gid] != mark {
                seen[gid] = mark;
                groups[gid] = Group::default();
                touched.push(gid);
            }
            let grp = &mut groups[gid];
            grp.drop_name |= input[si].drop_name;
            add(op, grp, si, v);
        }
        for &gid in &touched {
            let grp = std::mem::take(&mut groups[gid]);
            match finish(op, grp, param, &input) {
                Finished::Group(drop_name, v) => {
                    let labels = &group_labels[gid];
                    let id = *group_out[gid].get_or_insert_with(|| out.id_for(labels));
                    let drop_name = drop_name && labels.get(METRIC_NAME).is_some();
                    out.push(id, drop_name, t, v)?;
                }
                Finished::Series(picked) => {
                    for (si, v) in picked {
                        let id =
                            *series_out[si].get_or_insert_with(|| out.id_for(&input[si].labels));
                        out.push(id, input[si].drop_name, t, v)?;
                    }
                }
            }
        }
    }
    Ok(Val::Vector(out.finish()))
}

pub(super) enum Finished {
    /// One value for the group: its members' drop flag and the value.
    Group(bool, f64),
    /// Input samples selected by topk, bottomk, limitk, limit_ratio.
    Series(Vec<(usize, f64)>),
}

#[inline]
pub(super) fn add(op: AggOp, grp: &mut Group, si: usize, f: f64) {
    let first = grp.count == 0.0;
    grp.count += 1.0;
    if first && matches!(op, AggOp::Sum | AggOp::Avg | AggOp::Stddev | AggOp::Stdvar) {
        // The first value seeds the group, so an infinite first value stays intact.
        if matches!(op, AggOp::Sum | AggOp::Avg) {
            grp.value = f;
        } else if !f.is_finite() {
            grp.value = f64::NAN;
        }
        grp.mean = f;
        return;
    }
    match op {
        AggOp::Sum => {
            let (s, c) = kahan_inc(f, grp.value, grp.comp);
            grp.value = s;
            grp.comp = c;
        }
        AggOp::Avg => {
            if !grp.incremental {
                let (s, c) = kahan_inc(f, grp.value, grp.comp);
                if !s.is_infinite() {
                    grp.value = s;
                    grp.comp = c;
                    return;
                }
                // The running sum would overflow: continue as an incremental mean.
                grp.incremental = true;
                grp.mean = grp.value / (grp.count - 1.0);
                grp.comp /= grp.count - 1.0;
            }
            if grp.mean.is_infinite() {
                if f.is_infinite() && (grp.mean > 0.0) == (f > 0.0) {
                    return;
                }
                if !f.is_infinite() && !f.is_nan() {
                    return;
                }
            }
            let current = grp.mean + grp.comp;
            let (m, c) = kahan_inc(f / grp.count - current / grp.count, grp.mean, grp.comp);
            grp.mean = m;
            grp.comp = c;
        }
        AggOp::Min => {
            if first || grp.value > f || grp.value.is_nan() {
                grp.value = f;
            }
        }
        AggOp::Max => {
            if first || grp.value < f || grp.value.is_nan() {
                grp.value = f;
            }
        }
        AggOp::Stddev | AggOp::Stdvar => {
            let delta = f - grp.mean;
            grp.mean += delta / grp.count;
            grp.value += delta * (f - grp.mean);
        }
        AggOp::Count | AggOp::Group => {}
        AggOp::Topk
        | AggOp::Bottomk
        | AggOp::Quantile
        | AggOp::Limitk
        | AggOp::LimitRatio
        | AggOp::CountValues => grp.elems.push((si, f)),
    }
}

pub(super) fn finish(op: AggOp, mut grp: Group, param: f64, input: &[GSeries]) -> Finished {
    let v = match op {
        AggOp::Sum => grp.value + grp.comp,
        AggOp::Avg => {
            if grp.incremental {
                grp.mean + grp.comp
            } else {
                (grp.value + grp.comp) / grp.count
            }
        }
        AggOp::Count => grp.count,
        AggOp::Group => 1.0,
        AggOp::Min | AggOp::Max => grp.value,
        AggOp::Stdvar => grp.value / grp.count,
        AggOp::Stddev => (grp.value / grp.count).sqrt(),
        AggOp::Quantile => {
            let mut vals: Vec<f64> = grp.elems.iter().map(|e| e.1).collect();
            quantile(param, &mut vals)
        }
        AggOp::Topk | AggOp::Bottomk => {
            let k = clamp_k(param, grp.elems.len());
            let top = op == AggOp::Topk;
            // NaN ranks last in both directions; ties keep input order, as a stable sort
            // of the elements (which arrive in input order) would.
            let rank = |a: &(usize, f64), b: &(usize, f64)| {
                let (x, y) = (a.1, b.1);
                let by_value = match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if top => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                    _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                };
                by_value.then(a.0.cmp(&b.0))
            };
            // Only the k best need ordering: select them first, then sort those.
            if k > 0 && k < grp.elems.len() {
                grp.elems.select_nth_unstable_by(k - 1, rank);
            }
            grp.elems.truncate(k);
            grp.elems.sort_unstable_by(rank);
            return Finished::Series(grp.elems);
        }
        AggOp::Limitk => {
            let k = clamp_k(param, grp.elems.len());
            grp.elems.truncate(k);
            return Finished::Series(grp.elems);
        }
        AggOp::LimitRatio => {
            let r = param.clamp(-1.0, 1.0);
            grp.elems.retain(|&(si, _)| {
                let offset =
                    super::functions::hash::labels_hash(&input[si].labels) as f64 / u64::MAX as f64;
                (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
            });
            return Finished::Series(grp.elems);
        }
        AggOp::CountValues => f64::NAN,
    };
    Finished::Group(grp.drop_name, v)
}

fn clamp_k(param: f64, len: usize) -> usize {
    if param < 1.0 {
        return 0;
    }
    if param >= len as f64 {
        return len;
    }
    param as usize
}

fn count_values(grouping: &Grouping, elems: Vec<Elem>, label: &str) -> Vec<Elem> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Elem> = Vec::new();
    for e in elems {
        let mut key = grouping.key(&e.labels);
        key.set(label, &fmt_go_float(e.v));
        match index.get(&key) {
            Some(&i) => out[i].v += 1.0,
            None => {
                index.insert(key.clone(), out.len());
                out.push(Elem {
                    labels: key,
                    drop_name: false,
                    v: 1.0,
                });
            }
        }
    }
    out
}

/// Go's `strconv.FormatFloat(f, 'f', -1, 64)` (and `%g`-style Inf/NaN spelling).
pub(crate) fn fmt_go_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}
