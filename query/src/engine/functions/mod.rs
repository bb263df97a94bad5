//! Function calls: argument evaluation and dispatch to the implementations.

pub(crate) mod hash;
mod histogram;
mod info;
mod labels;
pub(crate) use labels::is_valid_label_name;
pub(crate) mod math;
mod over_time;
mod rate;
mod time;
mod window;

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{Call, Expr, VectorSelector};
use tianshu_tsdb::{Labels, Sample, METRIC_NAME};

use super::eval::{Evaluator, RangeInput};
use super::value::{GSeries, Grid, Val};
use crate::error::QueryError;
use window::WindowFn;

/// Functions whose result keeps the input's metric name.
fn keeps_name(name: &str) -> bool {
    matches!(
        name,
        "last_over_time"
            | "first_over_time"
            | "label_replace"
            | "label_join"
            | "sort"
            | "sort_desc"
            | "sort_by_label"
            | "sort_by_label_desc"
    )
}

pub(crate) fn call(ev: &mut Evaluator, c: &Call, g: &Grid) -> Result<Val, QueryError> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|b| b.as_ref()).collect();
    let n = g.len();
    match name {
        "time" => Ok(Val::Scalar(
            (0..n).map(|i| g.ts(i) as f64 / 1000.0).collect(),
        )),
        "pi" => Ok(Val::Scalar(vec![std::f64::consts::PI; n])),
        "step" => Ok(Val::Scalar(vec![ev.query_step as f64 / 1000.0; n])),
        "range" => Ok(Val::Scalar(vec![
            (ev.query_end - ev.query_start) as f64
                / 1000.0;
            n
        ])),
        "start" => Ok(Val::Scalar(vec![ev.query_start as f64 / 1000.0; n])),
        "end" => Ok(Val::Scalar(vec![ev.query_end as f64 / 1000.0; n])),
        "min_of" | "max_of" => {
            let a = scalar_arg(ev, args.first().copied(), g)?;
            let b = scalar_arg(ev, args.get(1).copied(), g)?;
            let f = if name == "min_of" {
                math::go_min
            } else {
                math::go_max
            };
            Ok(Val::Scalar(
                a.into_iter().zip(b).map(|(x, y)| f(x, y)).collect(),
            ))
        }
        "histogram_quantiles" => histogram::histogram_quantiles(ev, &args, g),
        "vector" => {
            let v = scalar_arg(ev, args.first().copied(), g)?;
            Ok(Val::Vector(vec![GSeries {
                labels: Labels::empty(),
                drop_name: false,
                points: v
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| Sample::new(g.ts(i), x))
                    .collect(),
            }]))
        }
        "scalar" => {
            let series = vector_arg(ev, args.first().copied(), g)?;
            let mut vals = vec![f64::NAN; n];
            let mut counts = vec![0usize; n];
            for s in &series {
                for p in &s.points {
                    if let Some(i) = g.index_of(p.t) {
                        counts[i] += 1;
                        vals[i] = p.v;
                    }
                }
            }
            for (v, c) in vals.iter_mut().zip(counts) {
                if c != 1 {
                    *v = f64::NAN;
                }
            }
            Ok(Val::Scalar(vals))
        }
        "timestamp" => {
            let series = match args.first().map(|e| unwrap_parens(e)) {
                Some(Expr::VectorSelector(vs)) => ev.eval_vector_selector(vs, g, true)?,
                _ => {
                    let mut s = vector_arg(ev, args.first().copied(), g)?;
                    for x in &mut s {
                        for p in &mut x.points {
                            p.v = p.t as f64 / 1000.0;
                        }
                    }
                    s
                }
            };
            Ok(Val::Vector(mark_drop(series)))
        }
        "absent" => {
            let series = vector_arg(ev, args.first().copied(), g)?;
            Ok(Val::Vector(absent(&series, args.first().copied(), g)))
        }
        "absent_over_time" => {
            let arg = args.first().copied();
            let input = range_arg(ev, arg, g)?;
            let present = range_apply(ev, &input, g, |w, _| (!w.is_empty()).then_some(1.0))?;
            Ok(Val::Vector(absent(&present, arg, g)))
        }
        "label_replace" => labels::label_replace(ev, &args, g),
        "label_join" => labels::label_join(ev, &args, g),
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
            labels::sort(ev, c, &args, g)
        }
        "histogram_quantile" => histogram::histogram_quantile(ev, &args, g),
        "info" => info::info(ev, &args, g),
        "histogram_fraction" => histogram::histogram_fraction(ev, &args, g),
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => {
            // Float samples are not native histograms: these functions ignore them.
            let _ = vector_arg(ev, args.first().copied(), g)?;
            Ok(Val::Vector(Vec::new()))
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => {
            let series = match args.first() {
                Some(e) => vector_arg(ev, Some(e), g)?,
                None => vec![GSeries {
                    labels: Labels::empty(),
                    drop_name: false,
                    points: (0..n)
                        .map(|i| Sample::new(g.ts(i), g.ts(i) as f64 / 1000.0))
                        .collect(),
                }],
            };
            let f = time::date_fn(name);
            Ok(Val::Vector(map_values(series, g, |_, v| Some(f(v)))))
        }
        "clamp" => {
            let series = vector_arg(ev, args.first().copied(), g)?;
            let lo = scalar_arg(ev, args.get(1).copied(), g)?;
            let hi = scalar_arg(ev, args.get(2).copied(), g)?;
            Ok(Val::Vector(map_values(series, g, |i, v| {
                let (lo, hi) = (lo[i], hi[i]);
                if hi < lo {
                    return None;
                }
                Some(math::go_max(lo, math::go_min(hi, v)))
            })))
        }
        "clamp_min" | "clamp_max" => {
            let series = vector_arg(ev, args.first().copied(), g)?;
            let b = scalar_arg(ev, args.get(1).copied(), g)?;
            let is_min = name == "clamp_min";
            Ok(Val::Vector(map_values(series, g, |i, v| {
                Some(if is_min {
                    math::go_max(b[i], v)
                } else {
                    math::go_min(b[i], v)
                })
            })))
        }
        "round" => {
            let series = vector_arg(ev, args.first().copied(), g)?;
            let to = match args.get(1) {
                Some(e) => scalar_arg(ev, Some(e), g)?,
                None => vec![1.0; n],
            };
            Ok(Val::Vector(map_values(series, g, |i, v| {
                let inv = 1.0 / to[i];
                Some((v * inv + 0.5).floor() / inv)
            })))
        }
        _ => {
            if let Some(f) = math::simple(name) {
                let series = vector_arg(ev, args.first().copied(), g)?;
                return Ok(Val::Vector(map_values(series, g, |_, v| Some(f(v)))));
            }
            range_function(ev, name, &args, g)
        }
    }
}

fn range_function(
    ev: &mut Evaluator,
    name: &str,
    args: &[&Expr],
    g: &Grid,
) -> Result<Val, QueryError> {
    let (matrix_idx, scalars): (usize, Vec<usize>) = match name {
        "quantile_over_time" => (1, vec![0]),
        "predict_linear" => (0, vec![1]),
        "double_exponential_smoothing" | "holt_winters" => (0, vec![1, 2]),
        _ => (0, vec![]),
    };
    let mut params: Vec<Vec<f64>> = Vec::new();
    for &i in &scalars {
        params.push(scalar_arg(ev, args.get(i).copied(), g)?);
    }
    let input = range_arg(ev, args.get(matrix_idx).copied(), g)?;
    if name == "quantile_over_time" {
        for &q in params.first().map(|v| v.as_slice()).unwrap_or(&[]) {
            if q.is_nan() || !(0.0..=1.0).contains(&q) {
                let pos = args.first().map(|a| ev.pos(a)).unwrap_or_default();
                ev.warn(format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}{pos}",
                    super::aggregate::fmt_go_float(q)
                ));
            }
        }
    }
    if name == "double_exponential_smoothing" || name == "holt_winters" {
        for (i, what, short) in [(0, "smoothing", "sf"), (1, "trend", "tf")] {
            if let Some(v) = params.get(i).and_then(|p| p.first()) {
                if *v <= 0.0 || *v >= 1.0 || v.is_nan() {
                    return Err(QueryError::Execution(format!(
                        "invalid {what} factor. Expected: 0 < {short} < 1, got: {v:.6}"
                    )));
                }
            }
        }
    }
    let p = |k: usize, i: usize| {
        params
            .get(k)
            .and_then(|v| v.get(i))
            .copied()
            .unwrap_or(f64::NAN)
    };
    let f: Box<WindowFn<'_>> = match name {
        "rate" => Box::new(|s, w, _| rate::extrapolated_rate(s, w, true, true)),
        "increase" => Box::new(|s, w, _| rate::extrapolated_rate(s, w, true, false)),
        "delta" => Box::new(|s, w, _| rate::extrapolated_rate(s, w, false, false)),
        "irate" => Box::new(|s, _, _| rate::instant_value(s, true)),
        "idelta" => Box::new(|s, _, _| rate::instant_value(s, false)),
        "deriv" => Box::new(|s, _, _| rate::deriv(s)),
        "predict_linear" => Box::new(|s, w, i| rate::predict_linear(s, w.ts, p(0, i))),
        "changes" => Box::new(|s, _, _| rate::changes(s)),
        "resets" => Box::new(|s, _, _| rate::resets(s)),
        "avg_over_time" => Box::new(|s, _, _| nonempty(s).map(over_time::avg)),
        "sum_over_time" => Box::new(|s, _, _| nonempty(s).map(over_time::sum)),
        "min_over_time" => Box::new(|s, _, _| nonempty(s).map(over_time::min)),
        "max_over_time" => Box::new(|s, _, _| nonempty(s).map(over_time::max)),
        "count_over_time" => Box::new(|s, _, _| nonempty(s).map(|s| s.len() as f64)),
        "last_over_time" => Box::new(|s, _, _| s.last().map(|p| p.v)),
        "first_over_time" => Box::new(|s, _, _| s.first().map(|p| p.v)),
        "ts_of_last_over_time" => Box::new(|s, _, _| s.last().map(|p| p.t as f64 / 1000.0)),
        "ts_of_first_over_time" => Box::new(|s, _, _| s.first().map(|p| p.t as f64 / 1000.0)),
        "ts_of_max_over_time" => Box::new(|s, _, _| ts_of_extreme(s, true)),
        "ts_of_min_over_time" => Box::new(|s, _, _| ts_of_extreme(s, false)),
        "present_over_time" => Box::new(|s, _, _| nonempty(s).map(|_| 1.0)),
        "stdvar_over_time" => Box::new(|s, _, _| nonempty(s).map(over_time::stdvar)),
        "stddev_over_time" => Box::new(|s, _, _| nonempty(s).map(|s| over_time::stdvar(s).sqrt())),
        "mad_over_time" => Box::new(|s, _, _| nonempty(s).map(over_time::mad)),
        "quantile_over_time" => {
            Box::new(|s, _, i| nonempty(s).map(|s| over_time::quantile_over(p(0, i), s)))
        }
        "double_exponential_smoothing" | "holt_winters" => {
            Box::new(|s, _, i| over_time::double_exponential_smoothing(s, p(0, i), p(1, i)))
        }
        other => {
            return Err(QueryError::BadData(format!(
                "function \"{other}\" is not supported"
            )))
        }
    };
    ev.check_deadline()?;
    let stop = ev.stop();
    let mut out = match name {
        "rate" => window::apply_rate(&input, g, &stop, true, true)?,
        "increase" => window::apply_rate(&input, g, &stop, true, false)?,
        "delta" => window::apply_rate(&input, g, &stop, false, false)?,
        _ => window::apply(&input, g, &stop, &*f)?,
    };
    ev.add_samples(input.take_decoded())?;
    ev.check_deadline()?;
    if (name == "rate" || name == "increase") && input.from_selector {
        let pos = args.get(matrix_idx).map(|a| ev.pos(a)).unwrap_or_default();
        for s in &out {
            if let Some(m) = s.labels.get(METRIC_NAME) {
                if !s.points.is_empty()
                    && !["_total", "_sum", "_count", "_bucket"]
                        .iter()
                        .any(|suf| m.ends_with(suf))
                {
                    ev.info(format!(
                        "PromQL info: metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {m:?}{pos}"
                    ));
                }
            }
        }
    }
    if !keeps_name(name) {
        out = mark_drop(out);
    }
    Ok(Val::Vector(out))
}

fn nonempty(s: &[Sample]) -> Option<&[Sample]> {
    (!s.is_empty()).then_some(s)
}

fn ts_of_extreme(s: &[Sample], want_max: bool) -> Option<f64> {
    let first = s.first()?;
    let mut best = *first;
    for p in s {
        let better = if want_max {
            p.v >= best.v
        } else {
            p.v <= best.v
        };
        if better || best.v.is_nan() {
            best = *p;
        }
    }
    Some(best.t as f64 / 1000.0)
}

fn range_apply(
    ev: &mut Evaluator,
    input: &RangeInput,
    g: &Grid,
    f: impl Fn(&[Sample], usize) -> Option<f64> + Sync,
) -> Result<Vec<GSeries>, QueryError> {
    let out = window::apply(input, g, &ev.stop(), &|s, _, i| f(s, i))?;
    ev.add_samples(input.take_decoded())?;
    Ok(out)
}

fn mark_drop(series: Vec<GSeries>) -> Vec<GSeries> {
    series
        .into_iter()
        .map(|mut s| {
            s.drop_name = true;
            s
        })
        .collect()
}

/// Maps every point's value (`None` removes the point) and marks the name for removal.
/// The closure gets the step index, for per-step scalar arguments.
fn map_values(
    series: Vec<GSeries>,
    g: &Grid,
    f: impl Fn(usize, f64) -> Option<f64>,
) -> Vec<GSeries> {
    let mut out = Vec::with_capacity(series.len());
    for mut s in series {
        let points: Vec<Sample> = s
            .points
            .iter()
            .filter_map(|p| {
                let i = g.index_of(p.t)?;
                f(i, p.v).map(|v| Sample::new(p.t, v))
            })
            .collect();
        s.points = points;
        s.drop_name = true;
        if !s.points.is_empty() {
            out.push(s);
        }
    }
    out
}

pub(crate) fn vector_arg(
    ev: &mut Evaluator,
    e: Option<&Expr>,
    g: &Grid,
) -> Result<Vec<GSeries>, QueryError> {
    let e = e.ok_or_else(|| QueryError::BadData("missing function argument".into()))?;
    let r = match ev.eval(e, g)? {
        Val::Vector(v) => Ok(v),
        other => Err(QueryError::BadData(format!(
            "expected type instant vector in call to function, got {}",
            other.type_name()
        ))),
    };
    r
}

pub(crate) fn scalar_arg(
    ev: &mut Evaluator,
    e: Option<&Expr>,
    g: &Grid,
) -> Result<Vec<f64>, QueryError> {
    let e = e.ok_or_else(|| QueryError::BadData("missing function argument".into()))?;
    let r = match ev.eval(e, g)? {
        Val::Scalar(v) => Ok(v),
        other => Err(QueryError::BadData(format!(
            "expected type scalar in call to function, got {}",
            other.type_name()
        ))),
    };
    r
}

pub(crate) fn string_arg(
    ev: &mut Evaluator,
    e: Option<&Expr>,
    g: &Grid,
) -> Result<String, QueryError> {
    let e = e.ok_or_else(|| QueryError::BadData("missing function argument".into()))?;
    match ev.eval(e, g)? {
        Val::Str(s) => Ok(s),
        other => Err(QueryError::BadData(format!(
            "expected type string in call to function, got {}",
            other.type_name()
        ))),
    }
}

fn range_arg(ev: &mut Evaluator, e: Option<&Expr>, g: &Grid) -> Result<RangeInput, QueryError> {
    let e = e.ok_or_else(|| QueryError::BadData("missing function argument".into()))?;
    ev.eval_range_input(e, g)
}

fn unwrap_parens(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unwrap_parens(&p.expr),
        other => other,
    }
}

/// Labels of `absent`'s output: the equality matchers of a plain selector argument.
fn absent_labels(arg: Option<&Expr>) -> Labels {
    let vs: Option<&VectorSelector> = match arg.map(unwrap_parens) {
        Some(Expr::VectorSelector(vs)) => Some(vs),
        Some(Expr::MatrixSelector(ms)) => Some(&ms.vs),
        _ => None,
    };
    let mut labels = Labels::empty();
    let Some(vs) = vs else { return labels };
    let mut seen: Vec<&str> = Vec::new();
    for m in &vs.matchers.matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        let dup = seen.contains(&m.name.as_str());
        seen.push(&m.name);
        if matches!(m.op, PMatchOp::Equal) && !dup {
            labels.set(&m.name, &m.value);
        } else {
            labels.remove(&m.name);
        }
    }
    labels
}

fn absent(series: &[GSeries], arg: Option<&Expr>, g: &Grid) -> Vec<GSeries> {
    let n = g.len();
    let mut present = vec![false; n];
    for s in series {
        for p in &s.points {
            if let Some(i) = g.index_of(p.t) {
                present[i] = true;
            }
        }
    }
    let points: Vec<Sample> = (0..n)
        .filter(|&i| !present[i])
        .map(|i| Sample::new(g.ts(i), 1.0))
        .collect();
    if points.is_empty() {
        return Vec::new();
    }
    vec![GSeries {
        labels: absent_labels(arg),
        drop_name: false,
        points,
    }]
}
