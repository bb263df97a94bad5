//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, ...) with `by`/`without`.

use std::collections::HashMap;

use promql_parser::label::METRIC_NAME;
use promql_parser::parser::{AggregateExpr, LabelModifier};
use tianshu_tsdb::Labels;

use super::eval::Evaluator;
use super::functions::math::{kahan_inc, quantile};
use super::value::{per_step, Builder, Elem, Grid, Val};
use crate::error::QueryError;

#[derive(Clone, Copy, PartialEq, Eq)]
enum AggOp {
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

#[derive(Default)]
struct Group {
    labels: Labels,
    drop_name: bool,
    count: f64,
    value: f64,
    comp: f64,
    mean: f64,
    incremental: bool,
    elems: Vec<Elem>,
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
        if name.is_empty() {
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
    let steps = per_step(&input, g);
    let mut out = Builder::default();
    for (i, elems) in steps.into_iter().enumerate() {
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
        if elems.is_empty() {
            continue;
        }
        for e in aggregate_step(op, &grouping, elems, param, string_param.as_deref())? {
            out.push(e, t)?;
        }
    }
    Ok(Val::Vector(out.finish()))
}

fn aggregate_step(
    op: AggOp,
    grouping: &Grouping,
    elems: Vec<Elem>,
    param: f64,
    label: Option<&str>,
) -> Result<Vec<Elem>, QueryError> {
    if op == AggOp::CountValues {
        return Ok(count_values(grouping, elems, label.unwrap_or_default()));
    }
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut groups: Vec<Group> = Vec::new();
    for e in elems {
        let key = grouping.key(&e.labels);
        let gi = match index.get(&key) {
            Some(&gi) => gi,
            None => {
                index.insert(key.clone(), groups.len());
                groups.push(Group {
                    labels: key,
                    ..Default::default()
                });
                groups.len() - 1
            }
        };
        let grp = &mut groups[gi];
        grp.drop_name |= e.drop_name;
        add(op, grp, e);
    }
    let mut out = Vec::new();
    for grp in groups {
        finish(op, grp, param, &mut out);
    }
    Ok(out)
}

fn add(op: AggOp, grp: &mut Group, e: Elem) {
    let f = e.v;
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
        | AggOp::CountValues => grp.elems.push(e),
    }
}

fn finish(op: AggOp, mut grp: Group, param: f64, out: &mut Vec<Elem>) {
    let mut emit = |labels: Labels, drop_name: bool, v: f64| {
        out.push(Elem {
            labels,
            drop_name,
            v,
        })
    };
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
            let mut vals: Vec<f64> = grp.elems.iter().map(|e| e.v).collect();
            quantile(param, &mut vals)
        }
        AggOp::Topk | AggOp::Bottomk => {
            let k = clamp_k(param, grp.elems.len());
            let top = op == AggOp::Topk;
            // NaN ranks last for both directions.
            grp.elems.sort_by(|a, b| {
                let (x, y) = (a.v, b.v);
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if top => y.partial_cmp(&x).unwrap_or(std::cmp::Ordering::Equal),
                    _ => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
                }
            });
            for e in grp.elems.into_iter().take(k) {
                out.push(e);
            }
            return;
        }
        AggOp::Limitk => {
            let k = clamp_k(param, grp.elems.len());
            for e in grp.elems.into_iter().take(k) {
                out.push(e);
            }
            return;
        }
        AggOp::LimitRatio => {
            let r = param.clamp(-1.0, 1.0);
            for e in grp.elems {
                let offset =
                    super::functions::hash::labels_hash(&e.labels) as f64 / u64::MAX as f64;
                if (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r) {
                    out.push(e);
                }
            }
            return;
        }
        AggOp::CountValues => return,
    };
    let drop_name = grp.drop_name && grp.labels.get(METRIC_NAME).is_some();
    emit(grp.labels, drop_name, v);
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
