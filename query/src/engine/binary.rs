//! Binary operators: arithmetic, comparisons, set operators and vector matching.

use std::collections::{HashMap, HashSet};

use promql_parser::label::METRIC_NAME;
use promql_parser::parser::{BinaryExpr, LabelModifier, VectorMatchCardinality};
use tianshu_tsdb::Labels;

use super::eval::Evaluator;
use super::value::{labels_string, per_step, Builder, Elem, GSeries, Grid, Val};
use crate::error::QueryError;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    And,
    Or,
    Unless,
}

impl Op {
    fn parse(s: &str) -> Result<Op, QueryError> {
        Ok(match s {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            other => {
                return Err(QueryError::BadData(format!(
                    "unsupported binary operator {other}"
                )))
            }
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    fn is_set(self) -> bool {
        matches!(self, Op::And | Op::Or | Op::Unless)
    }
}

/// Applies `op` to two floats: the value and whether a comparison holds (always true for
/// arithmetic). Comparisons return the left value.
pub(crate) fn apply(op: Op, l: f64, r: f64) -> (f64, bool) {
    match op {
        Op::Add => (l + r, true),
        Op::Sub => (l - r, true),
        Op::Mul => (l * r, true),
        Op::Div => (l / r, true),
        Op::Mod => (l % r, true),
        Op::Pow => (l.powf(r), true),
        Op::Atan2 => (l.atan2(r), true),
        Op::Eq => (l, l == r),
        Op::Ne => (l, l != r),
        Op::Gt => (l, l > r),
        Op::Lt => (l, l < r),
        Op::Ge => (l, l >= r),
        Op::Le => (l, l <= r),
        Op::And | Op::Or | Op::Unless => (l, true),
    }
}

pub(crate) fn eval(ev: &mut Evaluator, b: &BinaryExpr, g: &Grid) -> Result<Val, QueryError> {
    let op = Op::parse(&b.op.to_string())?;
    let return_bool = b.return_bool();
    let lhs = ev.eval(&b.lhs, g)?;
    let rhs = ev.eval(&b.rhs, g)?;
    match (lhs, rhs) {
        (Val::Scalar(l), Val::Scalar(r)) => Ok(Val::Scalar(
            l.into_iter()
                .zip(r)
                .map(|(a, b)| {
                    let (v, keep) = apply(op, a, b);
                    if op.is_comparison() {
                        if keep {
                            1.0
                        } else {
                            0.0
                        }
                    } else {
                        v
                    }
                })
                .collect(),
        )),
        (Val::Vector(l), Val::Scalar(r)) => {
            Ok(Val::Vector(vector_scalar(op, l, &r, false, return_bool, g)))
        }
        (Val::Scalar(l), Val::Vector(r)) => {
            Ok(Val::Vector(vector_scalar(op, r, &l, true, return_bool, g)))
        }
        (Val::Vector(l), Val::Vector(r)) => {
            let modifier = b.modifier.clone().unwrap_or_default();
            let m = Matching::new(&modifier.matching, &modifier.card);
            let lsteps = per_step(&l, g);
            let rsteps = per_step(&r, g);
            let mut out = Builder::default();
            for (i, (ls, rs)) in lsteps.into_iter().zip(rsteps).enumerate() {
                ev.check_deadline()?;
                let t = g.ts(i);
                let res = if op.is_set() {
                    set_op(op, ls, rs, &m)
                } else {
                    vector_vector(op, ls, rs, &m, return_bool)?
                };
                for e in res {
                    out.push(e, t)?;
                }
            }
            Ok(Val::Vector(out.finish()))
        }
        (l, r) => Err(QueryError::BadData(format!(
            "binary expression must contain only scalar and instant vector types, got {} and {}",
            l.type_name(),
            r.type_name()
        ))),
    }
}

fn vector_scalar(
    op: Op,
    series: Vec<GSeries>,
    scalar: &[f64],
    scalar_left: bool,
    return_bool: bool,
    g: &Grid,
) -> Vec<GSeries> {
    let mut out = Vec::with_capacity(series.len());
    for mut s in series {
        let mut points = Vec::with_capacity(s.points.len());
        for p in &s.points {
            let Some(i) = g.index_of(p.t) else { continue };
            let sv = scalar.get(i).copied().unwrap_or(f64::NAN);
            let (l, r) = if scalar_left { (sv, p.v) } else { (p.v, sv) };
            let (mut v, keep) = apply(op, l, r);
            if op.is_comparison() {
                if return_bool {
                    v = if keep { 1.0 } else { 0.0 };
                } else if !keep {
                    continue;
                } else {
                    v = p.v;
                }
            }
            points.push(tianshu_tsdb::Sample::new(p.t, v));
        }
        if !op.is_comparison() || return_bool {
            s.drop_name = true;
        }
        if !points.is_empty() {
            s.points = points;
            out.push(s);
        }
    }
    out
}

/// How two vectors are matched: the signature function and the cardinality.
pub(crate) struct Matching {
    on: bool,
    names: Vec<String>,
    card: VectorMatchCardinality,
}

impl Matching {
    fn new(m: &Option<LabelModifier>, card: &VectorMatchCardinality) -> Self {
        let (on, names) = match m {
            Some(LabelModifier::Include(l)) => (true, l.labels.clone()),
            Some(LabelModifier::Exclude(l)) => (false, l.labels.clone()),
            None => (false, Vec::new()),
        };
        let mut names = names;
        if !on {
            names.push(METRIC_NAME.to_string());
        }
        Matching {
            on,
            names,
            card: card.clone(),
        }
    }

    fn sig(&self, l: &Labels) -> Labels {
        if self.on {
            l.keep(&self.names)
        } else {
            l.drop_names(&self.names)
        }
    }
}

fn set_op(op: Op, lhs: Vec<Elem>, rhs: Vec<Elem>, m: &Matching) -> Vec<Elem> {
    match op {
        Op::And => {
            if lhs.is_empty() || rhs.is_empty() {
                return Vec::new();
            }
            let sigs: HashSet<Labels> = rhs.iter().map(|e| m.sig(&e.labels)).collect();
            lhs.into_iter()
                .filter(|e| sigs.contains(&m.sig(&e.labels)))
                .collect()
        }
        Op::Or => {
            let sigs: HashSet<Labels> = lhs.iter().map(|e| m.sig(&e.labels)).collect();
            let mut out = lhs;
            out.extend(
                rhs.into_iter()
                    .filter(|e| !sigs.contains(&m.sig(&e.labels))),
            );
            out
        }
        _ => {
            let sigs: HashSet<Labels> = rhs.iter().map(|e| m.sig(&e.labels)).collect();
            lhs.into_iter()
                .filter(|e| !sigs.contains(&m.sig(&e.labels)))
                .collect()
        }
    }
}

fn vector_vector(
    op: Op,
    lhs: Vec<Elem>,
    rhs: Vec<Elem>,
    m: &Matching,
    return_bool: bool,
) -> Result<Vec<Elem>, QueryError> {
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let swap = matches!(m.card, VectorMatchCardinality::OneToMany(_));
    let (many, one) = if swap { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_sigs: HashMap<Labels, usize> = HashMap::with_capacity(one.len());
    for (i, e) in one.iter().enumerate() {
        let sig = m.sig(&e.labels);
        if let Some(&prev) = one_sigs.get(&sig) {
            let side = if swap { "left" } else { "right" };
            return Err(QueryError::Execution(format!(
                "found duplicate series for the match group {} on the {} hand-side of the operation: [{}, {}];many-to-many matching not allowed: matching labels must be unique on one side",
                labels_string(&sig),
                side,
                labels_string(&one[prev].labels),
                labels_string(&e.labels),
            )));
        }
        one_sigs.insert(sig, i);
    }
    let include: Vec<String> = match &m.card {
        VectorMatchCardinality::ManyToOne(l) | VectorMatchCardinality::OneToMany(l) => {
            l.labels.clone()
        }
        _ => Vec::new(),
    };
    let one_to_one = matches!(m.card, VectorMatchCardinality::OneToOne);
    let mut matched: HashSet<Labels> = HashSet::new();
    let mut produced: HashSet<Labels> = HashSet::new();
    let mut out = Vec::new();
    for e in many {
        let sig = m.sig(&e.labels);
        let Some(&ri) = one_sigs.get(&sig) else {
            continue;
        };
        let r = &one[ri];
        // Checked before comparison filtering so the error does not depend on values.
        if one_to_one && !matched.insert(sig.clone()) {
            return Err(QueryError::Execution(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
            ));
        }
        let (vl, vr) = if swap { (r.v, e.v) } else { (e.v, r.v) };
        let (mut v, keep) = apply(op, vl, vr);
        if op.is_comparison() {
            if return_bool {
                v = if keep { 1.0 } else { 0.0 };
            } else if !keep {
                continue;
            }
        }
        let mut labels = e.labels.clone();
        if one_to_one {
            labels = if m.on {
                labels.keep(&m.names)
            } else {
                let user: Vec<String> = m
                    .names
                    .iter()
                    .filter(|n| n.as_str() != METRIC_NAME)
                    .cloned()
                    .collect();
                labels.drop_names(&user)
            };
        }
        for name in &include {
            match r.labels.get(name) {
                Some(val) if !val.is_empty() => labels.set(name, val),
                _ => labels.remove(name),
            }
        }
        if !one_to_one && !produced.insert(labels.clone()) {
            return Err(QueryError::Execution(
                "multiple matches for labels: grouping labels must ensure unique matches".into(),
            ));
        }
        let drop_name = e.drop_name || return_bool || !op.is_comparison();
        out.push(Elem {
            labels,
            drop_name,
            v,
        });
    }
    Ok(out)
}
