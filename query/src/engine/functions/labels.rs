//! Label functions (`label_replace`, `label_join`) and the sort functions.

use std::cmp::Ordering;

use promql_parser::parser::Expr;
use tianshu_tsdb::METRIC_NAME;

use super::{string_arg, vector_arg};
use crate::engine::eval::Evaluator;
use crate::engine::value::{merge_same_labels, Grid, Val};
use crate::error::QueryError;

/// Whether Prometheus 3 accepts `name` as a label name that a query creates: any
/// non-empty UTF-8. A query's string literal that is not UTF-8 (`"\xff"`) reaches the
/// engine with U+FFFD in place of its bad bytes (`parse::go_strings`), so a name holding
/// U+FFFD stands for one that Prometheus refuses.
pub(crate) fn is_valid_label_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('\u{FFFD}')
}

pub(crate) fn label_replace(
    ev: &mut Evaluator,
    args: &[&Expr],
    g: &Grid,
) -> Result<Val, QueryError> {
    let series = vector_arg(ev, args.first().copied(), g)?;
    let dst = string_arg(ev, args.get(1).copied(), g)?;
    let repl = string_arg(ev, args.get(2).copied(), g)?;
    let src = string_arg(ev, args.get(3).copied(), g)?;
    let re_src = string_arg(ev, args.get(4).copied(), g)?;
    let re = regex::Regex::new(&format!("^(?s:{re_src})$")).map_err(|e| {
        QueryError::Execution(format!(
            "invalid regular expression in label_replace(): {e}"
        ))
    })?;
    if !is_valid_label_name(&dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut out = Vec::with_capacity(series.len());
    for mut s in series {
        let value = s.labels.get(&src).unwrap_or("").to_string();
        if let Some(caps) = re.captures(&value) {
            let mut res = String::new();
            caps.expand(&repl, &mut res);
            s.labels.set(&dst, &res);
            if dst == METRIC_NAME {
                s.drop_name = false;
            }
        }
        out.push(s);
    }
    Ok(Val::Vector(merge_same_labels(out)?))
}

pub(crate) fn label_join(ev: &mut Evaluator, args: &[&Expr], g: &Grid) -> Result<Val, QueryError> {
    let series = vector_arg(ev, args.first().copied(), g)?;
    let dst = string_arg(ev, args.get(1).copied(), g)?;
    let sep = string_arg(ev, args.get(2).copied(), g)?;
    let mut srcs = Vec::new();
    for a in args.iter().skip(3) {
        srcs.push(string_arg(ev, Some(a), g)?);
    }
    if !is_valid_label_name(&dst) {
        return Err(QueryError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut out = Vec::with_capacity(series.len());
    for mut s in series {
        let joined = srcs
            .iter()
            .map(|n| s.labels.get(n).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(&sep);
        s.labels.set(&dst, &joined);
        if dst == METRIC_NAME {
            s.drop_name = false;
        }
        out.push(s);
    }
    Ok(Val::Vector(merge_same_labels(out)?))
}

/// Natural order: runs of digits compare as numbers, everything else as text.
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    if a.is_empty() || b.is_empty() {
        return a.cmp(b);
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for ((da, x), (db, y)) in ca.iter().zip(cb.iter()) {
        if x == y {
            continue;
        }
        if *da && *db {
            let (xt, yt) = (x.trim_start_matches('0'), y.trim_start_matches('0'));
            let o = xt.len().cmp(&yt.len()).then_with(|| xt.cmp(yt));
            if o != Ordering::Equal {
                return o;
            }
            continue;
        }
        return x.cmp(y);
    }
    ca.len().cmp(&cb.len())
}

pub(crate) fn sort(
    ev: &mut Evaluator,
    call: &promql_parser::parser::Call,
    args: &[&Expr],
    g: &Grid,
) -> Result<Val, QueryError> {
    let name = call.func.name;
    let mut series = vector_arg(ev, args.first().copied(), g)?;
    let mut names = Vec::new();
    for a in args.iter().skip(1) {
        names.push(string_arg(ev, Some(a), g)?);
    }
    if ev.is_range {
        let pos = ev.pos(call);
        ev.warn(format!(
            "PromQL warning: sort is ineffective for range queries since results are always ordered by labels{pos}"
        ));
        return Ok(Val::Vector(series));
    }
    let first = |s: &crate::engine::value::GSeries| s.points.first().map_or(f64::NAN, |p| p.v);
    match name {
        "sort" | "sort_desc" => {
            let desc = name == "sort_desc";
            series.sort_by(|a, b| {
                let (x, y) = (first(a), first(b));
                match (x.is_nan(), y.is_nan()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Greater,
                    (false, true) => Ordering::Less,
                    _ if desc => y.partial_cmp(&x).unwrap_or(Ordering::Equal),
                    _ => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
                }
            });
        }
        _ => {
            let desc = name == "sort_by_label_desc";
            series.sort_by(|a, b| {
                let mut o = Ordering::Equal;
                for n in &names {
                    let (x, y) = (a.labels.get(n).unwrap_or(""), b.labels.get(n).unwrap_or(""));
                    if x != y {
                        o = natural_cmp(x, y);
                        break;
                    }
                }
                if o == Ordering::Equal {
                    o = a.labels.cmp(&b.labels);
                }
                if desc {
                    o.reverse()
                } else {
                    o
                }
            });
        }
    }
    Ok(Val::Vector(series))
}
