//! `histogram_quantile` and `histogram_fraction` over classic `le` bucket series.

use std::collections::HashMap;

use promql_parser::parser::Expr;
use tianshu_tsdb::{Labels, METRIC_NAME};

use super::math::almost_equal;
use super::{scalar_arg, vector_arg};
use crate::engine::eval::Evaluator;
use crate::engine::value::{per_step, Builder, Elem, Grid, Val};
use crate::error::QueryError;

#[derive(Clone, Copy)]
struct Bucket {
    upper: f64,
    count: f64,
}

/// The classic bucket series of one step, grouped into histograms.
struct Hist {
    labels: Labels,
    buckets: Vec<Bucket>,
}

fn group_buckets(ev: &mut Evaluator, elems: Vec<Elem>, pos: &str) -> Vec<Hist> {
    let mut index: HashMap<Labels, usize> = HashMap::new();
    let mut out: Vec<Hist> = Vec::new();
    for e in elems {
        let le = e.labels.get("le").unwrap_or("");
        let upper = match parse_go_float(le) {
            Some(u) => u,
            None => {
                let name = e.labels.get(METRIC_NAME).unwrap_or("");
                ev.warn(format!(
                    "PromQL warning: bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {name:?}{pos}"
                ));
                continue;
            }
        };
        let mut key = e.labels.clone();
        key.remove("le");
        let i = match index.get(&key) {
            Some(&i) => i,
            None => {
                index.insert(key.clone(), out.len());
                out.push(Hist {
                    labels: key,
                    buckets: Vec::new(),
                });
                out.len() - 1
            }
        };
        out[i].buckets.push(Bucket { upper, count: e.v });
    }
    out
}

/// Go's `strconv.ParseFloat` for the spellings bucket labels use.
fn parse_go_float(s: &str) -> Option<f64> {
    let t = s.trim_start_matches('+');
    match t.to_ascii_lowercase().as_str() {
        "inf" | "infinity" => {
            return Some(if s.starts_with('-') {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            })
        }
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if s.is_empty() || s.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') {
        return None;
    }
    s.parse::<f64>().ok()
}

fn sort_and_coalesce(buckets: &mut Vec<Bucket>) {
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let mut out: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match out.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => out.push(*b),
        }
    }
    *buckets = out;
}

/// Makes cumulative counts non-decreasing; reports whether a real decrease was fixed.
fn ensure_monotonic(buckets: &mut [Bucket]) -> bool {
    let mut forced = false;
    let Some(first) = buckets.first() else {
        return false;
    };
    let mut prev = first.count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, 1e-12) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            forced = true;
            continue;
        }
        prev = curr;
    }
    forced
}

fn bucket_quantile(q: f64, mut buckets: Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    sort_and_coalesce(&mut buckets);
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return (f64::NAN, false),
    }
    let forced = ensure_monotonic(&mut buckets);
    if buckets.len() < 2 {
        return (f64::NAN, forced);
    }
    let observations = buckets[buckets.len() - 1].count;
    if observations == 0.0 {
        return (f64::NAN, forced);
    }
    let mut rank = q * observations;
    let last = buckets.len() - 1;
    let b = buckets[..last].partition_point(|x| x.count < rank);
    if b == last {
        return (buckets[last - 1].upper, forced);
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return (buckets[0].upper, forced);
    }
    let mut start = 0.0;
    let end = buckets[b].upper;
    let mut count = buckets[b].count;
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

fn bucket_fraction(lower: f64, upper: f64, mut buckets: Vec<Bucket>) -> f64 {
    sort_and_coalesce(&mut buckets);
    match buckets.last() {
        Some(b) if b.upper == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for (i, b) in buckets.iter().enumerate() {
        // The first bucket starts at zero when its upper bound is positive (as native
        // histograms with custom buckets define it), else at -Inf.
        let lb = if i > 0 {
            buckets[i - 1].upper
        } else if b.upper > 0.0 {
            0.0
        } else {
            f64::NEG_INFINITY
        };
        let ub = b.upper;
        // No interpolation inside a bucket of infinite width: it contributes nothing.
        let interp = |v: f64| {
            if lb == f64::NEG_INFINITY {
                b.count
            } else if ub == f64::INFINITY {
                rank
            } else {
                rank + (b.count - rank) * (v - lb) / (ub - lb)
            }
        };
        if !lower_set && lb >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lb >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lb < lower && ub > lower {
            lower_rank = interp(lower);
            lower_set = true;
        }
        if !upper_set && lb < upper && ub > upper {
            upper_rank = interp(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}

pub(crate) fn histogram_quantile(
    ev: &mut Evaluator,
    args: &[&Expr],
    g: &Grid,
) -> Result<Val, QueryError> {
    let q = scalar_arg(ev, args.first().copied(), g)?;
    let series = vector_arg(ev, args.get(1).copied(), g)?;
    let pos = args.get(1).map(|a| ev.pos(a)).unwrap_or_default();
    let qpos = args.first().map(|a| ev.pos(a)).unwrap_or_default();
    for &v in &q {
        if v.is_nan() || !(0.0..=1.0).contains(&v) {
            ev.warn(format!(
                "PromQL warning: quantile value should be between 0 and 1, got {}{qpos}",
                crate::engine::aggregate::fmt_go_float(v)
            ));
        }
    }
    let mut out = Builder::default();
    for (i, elems) in per_step(&series, g).into_iter().enumerate() {
        for h in group_buckets(ev, elems, &pos) {
            let name = h.labels.get(METRIC_NAME).unwrap_or("").to_string();
            let (v, forced) = bucket_quantile(q[i], h.buckets);
            if forced {
                ev.info(format!(
                    "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}{pos}"
                ));
            }
            out.push(
                Elem {
                    labels: h.labels,
                    drop_name: true,
                    v,
                },
                g.ts(i),
            )?;
        }
    }
    Ok(Val::Vector(out.finish()))
}

pub(crate) fn histogram_fraction(
    ev: &mut Evaluator,
    args: &[&Expr],
    g: &Grid,
) -> Result<Val, QueryError> {
    let lo = scalar_arg(ev, args.first().copied(), g)?;
    let hi = scalar_arg(ev, args.get(1).copied(), g)?;
    let series = vector_arg(ev, args.get(2).copied(), g)?;
    let pos = args.get(2).map(|a| ev.pos(a)).unwrap_or_default();
    let mut out = Builder::default();
    for (i, elems) in per_step(&series, g).into_iter().enumerate() {
        for h in group_buckets(ev, elems, &pos) {
            let v = bucket_fraction(lo[i], hi[i], h.buckets);
            out.push(
                Elem {
                    labels: h.labels,
                    drop_name: true,
                    v,
                },
                g.ts(i),
            )?;
        }
    }
    Ok(Val::Vector(out.finish()))
}

/// `histogram_quantiles(v, "label", q1, q2, ...)`: one output series per quantile, told
/// apart by `label`.
pub(crate) fn histogram_quantiles(
    ev: &mut Evaluator,
    args: &[&Expr],
    g: &Grid,
) -> Result<Val, QueryError> {
    let series = vector_arg(ev, args.first().copied(), g)?;
    let label = super::string_arg(ev, args.get(1).copied(), g)?;
    let pos = args.first().map(|a| ev.pos(a)).unwrap_or_default();
    let mut qs = Vec::new();
    for a in args.iter().skip(2) {
        qs.push(scalar_arg(ev, Some(a), g)?);
    }
    for (k, q) in qs.iter().enumerate() {
        let qpos = args.get(k + 2).map(|a| ev.pos(a)).unwrap_or_default();
        for &v in q {
            if v.is_nan() || !(0.0..=1.0).contains(&v) {
                ev.warn(format!(
                    "PromQL warning: quantile value should be between 0 and 1, got {}{qpos}",
                    crate::engine::aggregate::fmt_go_float(v)
                ));
            }
        }
    }
    let mut out = Builder::default();
    for (i, elems) in per_step(&series, g).into_iter().enumerate() {
        for h in group_buckets(ev, elems, &pos) {
            for q in &qs {
                let (v, forced) = bucket_quantile(q[i], h.buckets.clone());
                if forced {
                    let name = h.labels.get(METRIC_NAME).unwrap_or("");
                    let msg = format!(
                        "PromQL info: input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}{pos}"
                    );
                    ev.info(msg);
                }
                let mut labels = h.labels.clone();
                let mut qv = crate::engine::aggregate::fmt_go_float(q[i]);
                if q[i].is_finite() && !qv.contains('.') {
                    qv.push_str(".0");
                }
                labels.set(&label, &qv);
                out.push(
                    Elem {
                        labels,
                        drop_name: true,
                        v,
                    },
                    g.ts(i),
                )?;
            }
        }
    }
    Ok(Val::Vector(out.finish()))
}
