//! `info(v, selector)`: adds the data labels of "info" series (by default `target_info`)
//! that share `v`'s identifying labels (`instance`, `job`).

use std::collections::HashMap;

use promql_parser::label::{MatchOp as PMatchOp, Matcher as PMatcher, Matchers};
use promql_parser::parser::{Expr, VectorSelector};
use tianshu_tsdb::{is_stale_nan, Labels, Sample, METRIC_NAME};

use super::vector_arg;
use crate::engine::eval::Evaluator;
use crate::engine::selector::offset_ms;
use crate::engine::value::{step_index, Grid, IdBuilder, Val};
use crate::error::QueryError;

const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// The time the argument's samples were taken for step `ts`: `@` and `offset` of the
/// selector or subquery the value comes from, so info series are looked up at that time.
fn sample_time(ev: &Evaluator, e: &Expr, ts: i64) -> i64 {
    match e {
        Expr::VectorSelector(vs) => ev
            .resolve_at(&vs.at)
            .unwrap_or(ts)
            .saturating_sub(offset_ms(&vs.offset)),
        Expr::MatrixSelector(ms) => ev
            .resolve_at(&ms.vs.at)
            .unwrap_or(ts)
            .saturating_sub(offset_ms(&ms.vs.offset)),
        Expr::Subquery(sq) => {
            let t = ev
                .resolve_at(&sq.at)
                .unwrap_or(ts)
                .saturating_sub(offset_ms(&sq.offset));
            sample_time(ev, &sq.expr, t)
        }
        Expr::Paren(p) => sample_time(ev, &p.expr, ts),
        Expr::Unary(u) => sample_time(ev, &u.expr, ts),
        Expr::Aggregate(a) => sample_time(ev, &a.expr, ts),
        Expr::Binary(b) => sample_time(ev, &b.lhs, ts),
        Expr::Call(c) => match c
            .args
            .args
            .iter()
            .find(|a| matches!(a.as_ref(), Expr::MatrixSelector(_) | Expr::Subquery(_)))
            .or_else(|| c.args.args.first())
        {
            Some(a) => sample_time(ev, a, ts),
            None => ts,
        },
        _ => ts,
    }
}

struct InfoSeries {
    labels: Labels,
    samples: Vec<Sample>,
}

impl InfoSeries {
    /// Timestamp of the sample visible at `t`, if any.
    fn visible_at(&self, t: i64, lookback: i64) -> Option<i64> {
        let idx = self.samples.partition_point(|p| p.t <= t);
        let s = self.samples.get(idx.checked_sub(1)?)?;
        (s.t > t.saturating_sub(lookback) && !is_stale_nan(s.v)).then_some(s.t)
    }
}

/// The `__name__` matchers that pick the info series: `target_info` when none is given;
/// with only negated ones (`__name__!~".+_build_info"`), every `*_info` metric they do not
/// exclude, so that a negated matcher never turns ordinary series into info series
/// (prometheus/prometheus#17931). The same set decides which input series are info
/// series themselves and pass through unchanged.
fn effective_name_matchers(mut matchers: Vec<PMatcher>) -> Vec<PMatcher> {
    let names = || matchers.iter().filter(|m| m.name == METRIC_NAME);
    if names().next().is_none() {
        matchers.push(PMatcher::new(PMatchOp::Equal, METRIC_NAME, "target_info"));
    } else if names().all(|m| matches!(m.op, PMatchOp::NotEqual | PMatchOp::NotRe(_))) {
        // The regex is matched as is by `is_match`, so it carries its anchors; the store
        // reads `value`, which it anchors itself.
        if let Ok(re) = regex::Regex::new("^(?s:.+_info)$") {
            matchers.push(PMatcher::new(PMatchOp::Re(re), METRIC_NAME, ".+_info"));
        }
    }
    matchers
}

pub(crate) fn info(ev: &mut Evaluator, args: &[&Expr], g: &Grid) -> Result<Val, QueryError> {
    let input = vector_arg(ev, args.first().copied(), g)?;
    let (name_matchers, data_matchers) = match args.get(1) {
        Some(Expr::VectorSelector(vs)) => {
            let mut names: Vec<PMatcher> = Vec::new();
            if let Some(n) = &vs.name {
                names.push(PMatcher::new(PMatchOp::Equal, METRIC_NAME, n));
            }
            let mut data = Vec::new();
            for m in &vs.matchers.matchers {
                // Matchers on identifying labels narrow the info series; the others name
                // the data labels to add.
                if m.name == METRIC_NAME || IDENTIFYING.contains(&m.name.as_str()) {
                    names.push(m.clone());
                }
                if m.name != METRIC_NAME {
                    data.push(m.clone());
                }
            }
            (names, data)
        }
        Some(_) => {
            return Err(QueryError::BadData(
                "expected a label selector as the second argument of info()".into(),
            ))
        }
        None => (Vec::new(), Vec::new()),
    };
    let name_matchers = effective_name_matchers(name_matchers);
    let arg = args.first().copied();
    let times: Vec<i64> = (0..g.len())
        .map(|i| arg.map_or(g.ts(i), |a| sample_time(ev, a, g.ts(i))))
        .collect();
    let (lo, hi) = match (times.iter().min(), times.iter().max()) {
        (Some(&lo), Some(&hi)) => (lo, hi),
        _ => return Ok(Val::Vector(Vec::new())),
    };
    let selector = VectorSelector::new(None, Matchers::new(name_matchers.clone()));
    let infos: Vec<InfoSeries> = ev
        .select(
            &selector,
            lo.saturating_sub(ev.lookback).saturating_add(1),
            hi,
        )?
        .into_iter()
        .map(|s| InfoSeries {
            labels: s.labels,
            samples: s.samples,
        })
        .collect();
    let mut by_id: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (k, s) in infos.iter().enumerate() {
        let key = (
            s.labels.get("instance").unwrap_or("").to_string(),
            s.labels.get("job").unwrap_or("").to_string(),
        );
        by_id.entry(key).or_default().push(k);
    }
    // Info series given as input are passed through, not enriched.
    let is_info = |l: &Labels| {
        name_matchers
            .iter()
            .filter(|m| m.name == METRIC_NAME)
            .all(|m| m.is_match(l.get(METRIC_NAME).unwrap_or("")))
    };
    let mut out = IdBuilder::default();
    for (i, elems) in step_index(&input, g).into_iter().enumerate() {
        ev.check_deadline()?;
        let t = g.ts(i);
        for (si, v) in elems {
            let s = &input[si];
            let mut labels = s.labels.clone();
            if !is_info(&s.labels) {
                let key = (
                    s.labels.get("instance").unwrap_or("").to_string(),
                    s.labels.get("job").unwrap_or("").to_string(),
                );
                let mut added: Vec<(String, String)> = Vec::new();
                if !(key.0.is_empty() && key.1.is_empty()) {
                    // Per info metric name, the series with the newest visible sample.
                    let mut newest: HashMap<&str, (i64, usize)> = HashMap::new();
                    for &k in by_id.get(&key).map(|v| v.as_slice()).unwrap_or(&[]) {
                        if let Some(st) = infos[k].visible_at(times[i], ev.lookback) {
                            let name = infos[k].labels.get(METRIC_NAME).unwrap_or("");
                            let e = newest.entry(name).or_insert((st, k));
                            if st > e.0 {
                                *e = (st, k);
                            }
                        }
                    }
                    let mut chosen: Vec<usize> = newest.values().map(|&(_, k)| k).collect();
                    chosen.sort_unstable();
                    for k in chosen {
                        for lb in infos[k].labels.iter() {
                            let name: &str = &lb.name;
                            if name == METRIC_NAME || IDENTIFYING.contains(&name) {
                                continue;
                            }
                            if !data_matchers.is_empty()
                                && !data_matchers.iter().any(|m| m.name == name)
                            {
                                continue;
                            }
                            match added.iter().find(|(n, _)| n == name) {
                                Some((_, val)) if val.as_str() != &*lb.value => {
                                    return Err(QueryError::Execution(format!(
                                        "conflicting label: {name:?} has values {val:?} and {:?} in info metrics",
                                        &*lb.value
                                    )));
                                }
                                Some(_) => {}
                                None => added.push((name.to_string(), lb.value.to_string())),
                            }
                        }
                    }
                }
                let keep = data_matchers
                    .iter()
                    .filter(|m| !IDENTIFYING.contains(&m.name.as_str()))
                    .all(|m| {
                        let val = added
                            .iter()
                            .find(|(n, _)| *n == m.name)
                            .map_or("", |(_, v)| v.as_str());
                        m.is_match(val)
                    });
                if !keep {
                    continue;
                }
                for (n, val) in &added {
                    if labels.get(n).is_none() {
                        labels.set(n, val);
                    }
                }
            }
            let id = out.id_for(&labels);
            out.push(id, s.drop_name, t, v)?;
        }
    }
    Ok(Val::Vector(out.finish()))
}
