//! Reduces a parsed regex (its HIR) to forms that need no regex engine.
//!
//! A regex is expanded into a few alternatives, each a sequence of [`Piece`]s: literal text,
//! one character from a class, or a run of any characters (`.*`, `.+`). Alternatives without
//! runs enumerate to a finite set of strings when it is small; the others become globs.
//! Anything else (bounded repetition of `.`, `[a-z]+`, look-arounds, ...) is left to the
//! regex engine. Every limit here bounds work done on user input.

use regex_syntax::hir::{Class, ClassUnicode, Hir, HirKind};

use super::glob::{CharClass, Glob, Seg};

/// At most this many strings in a literal set (Prometheus uses the same bound).
pub(crate) const MAX_SET: usize = 256;
/// At most this many alternatives while expanding, and globs in the result.
const MAX_ALTERNATIVES: usize = 256;
/// At most this many pieces across all alternatives, so that `a{100000}` stays cheap.
const MAX_PIECES: usize = 16 * 1024;
/// Counted repetitions above this are not expanded (RE2 rejects counts above 1000 anyway).
const MAX_REPEAT: u32 = 1000;
/// At most this many globs are tried one after the other before a regex is cheaper.
pub(crate) const MAX_GLOBS: usize = 16;

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Piece {
    Str(String),
    Class(CharClass),
    /// At least this many arbitrary characters.
    Any(u32),
}

type Seq = Vec<Piece>;

/// The alternatives `hir` matches, or `None` when it does not reduce to pieces.
pub(crate) fn alternatives(hir: &Hir) -> Option<Vec<Seq>> {
    let alts = expand(hir)?;
    (alts.iter().map(Vec::len).sum::<usize>() <= MAX_PIECES).then_some(alts)
}

fn expand(hir: &Hir) -> Option<Vec<Seq>> {
    match hir.kind() {
        HirKind::Empty => Some(vec![Vec::new()]),
        HirKind::Literal(lit) => {
            let s = std::str::from_utf8(&lit.0).ok()?;
            Some(vec![vec![Piece::Str(s.to_string())]])
        }
        HirKind::Class(Class::Unicode(c)) => Some(vec![vec![Piece::Class(ranges(c))]]),
        HirKind::Class(Class::Bytes(_)) | HirKind::Look(_) => None,
        HirKind::Capture(c) => expand(&c.sub),
        HirKind::Concat(subs) => {
            let mut acc = vec![Vec::new()];
            for sub in subs {
                acc = product(&acc, &expand(sub)?)?;
            }
            Some(acc)
        }
        HirKind::Alternation(subs) => {
            let mut acc = Vec::new();
            for sub in subs {
                acc.extend(expand(sub)?);
                if acc.len() > MAX_ALTERNATIVES {
                    return None;
                }
            }
            Some(acc)
        }
        HirKind::Repetition(rep) => {
            if let HirKind::Class(Class::Unicode(c)) = rep.sub.kind() {
                if rep.max.is_none() && is_any_char(c) {
                    return Some(vec![vec![Piece::Any(rep.min)]]);
                }
            }
            let max = rep.max?;
            // Expanding `x{n}` costs O(n²) copies; long counts are left to the engine.
            if max > MAX_REPEAT {
                return None;
            }
            // Each extra count adds at least one alternative, so a wide range cannot fit.
            if (max - rep.min) as usize >= MAX_ALTERNATIVES {
                return None;
            }
            let sub = expand(&rep.sub)?;
            let mut power = vec![Vec::new()];
            for _ in 0..rep.min {
                power = product(&power, &sub)?;
            }
            let mut acc = power.clone();
            for _ in rep.min..max {
                power = product(&power, &sub)?;
                acc.extend(power.iter().cloned());
                if acc.len() > MAX_ALTERNATIVES {
                    return None;
                }
            }
            Some(acc)
        }
    }
}

/// Every concatenation of an alternative of `a` with one of `b`, within the limits.
fn product(a: &[Seq], b: &[Seq]) -> Option<Vec<Seq>> {
    if a.len().checked_mul(b.len())? > MAX_ALTERNATIVES {
        return None;
    }
    let mut out = Vec::with_capacity(a.len() * b.len());
    let mut pieces = 0usize;
    for x in a {
        for y in b {
            pieces += x.len() + y.len();
            if pieces > MAX_PIECES {
                return None;
            }
            let mut s = x.clone();
            s.extend(y.iter().cloned());
            out.push(s);
        }
    }
    Some(out)
}

fn ranges(c: &ClassUnicode) -> CharClass {
    c.ranges().iter().map(|r| (r.start(), r.end())).collect()
}

/// Whether the class accepts every character (`.` under `(?s)`).
fn is_any_char(c: &ClassUnicode) -> bool {
    let mut negated = c.clone();
    negated.negate();
    negated.ranges().is_empty()
}

fn class_len(class: &[(char, char)]) -> usize {
    class
        .iter()
        .map(|&(lo, hi)| (hi as usize) - (lo as usize) + 1)
        .sum()
}

/// The finite set of strings the alternatives match, sorted and unique, when it has at most
/// [`MAX_SET`] members.
pub(crate) fn literal_set(alts: &[Seq]) -> Option<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for seq in alts {
        let mut strings = vec![String::new()];
        for piece in seq {
            match piece {
                Piece::Any(_) => return None,
                Piece::Str(s) => strings.iter_mut().for_each(|x| x.push_str(s)),
                Piece::Class(class) => {
                    if strings.len().checked_mul(class_len(class))? > MAX_SET {
                        return None;
                    }
                    strings = strings
                        .iter()
                        .flat_map(|x| {
                            class
                                .iter()
                                .flat_map(|&(lo, hi)| lo..=hi)
                                .map(move |c| format!("{x}{c}"))
                        })
                        .collect();
                }
            }
        }
        out.extend(strings);
        if out.len() > MAX_SET * 2 {
            return None;
        }
    }
    out.sort_unstable();
    out.dedup();
    (out.len() <= MAX_SET).then_some(out)
}

/// Turns one alternative into a glob: pieces between runs of any characters form segments.
pub(crate) fn glob(seq: &[Piece]) -> Glob {
    // Invariant: `segs.len() == gaps.len()` inside the loop, one more segment at the end.
    let mut segs: Vec<Seg> = Vec::new();
    let mut gaps: Vec<u32> = Vec::new();
    let mut current: Vec<CharClass> = Vec::new();
    for piece in seq {
        match piece {
            Piece::Str(s) => current.extend(s.chars().map(|c| Box::from([(c, c)]))),
            Piece::Class(class) => current.push(class.clone()),
            Piece::Any(n) => match gaps.last_mut() {
                // Adjacent runs merge: `.*.+` is `.+`.
                Some(g) if current.is_empty() => *g = g.saturating_add(*n),
                _ => {
                    segs.push(Seg::from_classes(std::mem::take(&mut current)));
                    gaps.push(*n);
                }
            },
        }
    }
    segs.push(Seg::from_classes(current));
    let mut segs = segs.into_iter();
    let first = segs.next().unwrap_or(Seg::Exact(String::new()));
    Glob {
        first,
        rest: gaps.into_iter().zip(segs).collect(),
    }
}

/// A literal that every string matched by `hir` starts with ("" when there is none), used
/// to range-scan sorted label values before running the regex on each.
pub(crate) fn literal_prefix(hir: &Hir) -> String {
    prefix_of(hir).0
}

/// The required prefix, and whether `hir` matches exactly that literal and nothing else.
fn prefix_of(hir: &Hir) -> (String, bool) {
    match hir.kind() {
        HirKind::Empty => (String::new(), true),
        HirKind::Literal(lit) => match std::str::from_utf8(&lit.0) {
            Ok(s) => (s.to_string(), true),
            Err(_) => (String::new(), false),
        },
        HirKind::Capture(c) => prefix_of(&c.sub),
        HirKind::Concat(subs) => {
            let mut acc = String::new();
            for sub in subs {
                let (p, complete) = prefix_of(sub);
                acc.push_str(&p);
                if !complete {
                    return (acc, false);
                }
            }
            (acc, true)
        }
        HirKind::Alternation(subs) => {
            let mut iter = subs.iter().map(prefix_of);
            let Some((mut common, mut complete)) = iter.next() else {
                return (String::new(), false);
            };
            for (p, c) in iter {
                let keep = common
                    .chars()
                    .zip(p.chars())
                    .take_while(|(a, b)| a == b)
                    .map(|(a, _)| a.len_utf8())
                    .sum();
                complete = complete && c && common == p;
                common.truncate(keep);
            }
            (common, complete)
        }
        HirKind::Repetition(rep) if rep.min >= 1 => (prefix_of(&rep.sub).0, false),
        _ => (String::new(), false),
    }
}
