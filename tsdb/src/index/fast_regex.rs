//! A fully anchored regex with fast paths for the shapes dashboards use.
//!
//! Prometheus 3.x semantics: the pattern must match the whole string and `.` matches `\n`
//! (the pattern behaves as `^(?s:pattern)$`).

use regex::Regex;
use regex_syntax::ast::parse::ParserBuilder;
use regex_syntax::hir::translate::TranslatorBuilder;
use regex_syntax::hir::Hir;

use super::glob::Glob;
use super::re2_compat::asciify;
use super::regex_analysis::{alternatives, glob, literal_prefix, literal_set, MAX_GLOBS};
use crate::error::{Error, Result};

#[derive(Clone, Debug)]
enum Kind {
    /// `.*`: every string.
    All,
    /// `.+`: every non-empty string.
    NonEmpty,
    /// Exactly these strings. Invariant: sorted and unique, so lookups binary-search.
    Set(Vec<String>),
    /// Any of these globs (at most `MAX_GLOBS`).
    Globs(Vec<Glob>),
    /// No fast path applies.
    Regex(Regex),
}

#[derive(Clone, Debug)]
pub(crate) struct FastRegex {
    kind: Kind,
    /// Every matching string starts with this; "" when nothing useful is known.
    prefix: String,
    matches_empty: bool,
}

fn invalid(pattern: &str, reason: impl ToString) -> Error {
    Error::InvalidRegex {
        pattern: pattern.to_string(),
        reason: reason.to_string(),
    }
}

impl FastRegex {
    pub(crate) fn new(pattern: &str) -> Result<FastRegex> {
        // Parsing the pattern alone (not spliced into `^(?s:...)$`) rejects input such as
        // `a)|(b` that would otherwise change the meaning of the wrapper.
        let mut ast = ParserBuilder::new()
            .build()
            .parse(pattern)
            .map_err(|e| invalid(pattern, e.kind()))?;
        asciify(&mut ast);
        let hir = TranslatorBuilder::new()
            .dot_matches_new_line(true)
            .build()
            .translate(pattern, &ast)
            .map_err(|e| invalid(pattern, e.kind()))?;
        let kind = match fast_kind(&hir) {
            Some(k) => k,
            // The HIR prints as an equivalent self-contained pattern (flags inline), so the
            // anchors cannot be affected by anything in the user's text, e.g. `(?x)a #`.
            None => {
                Kind::Regex(Regex::new(&format!("^(?:{hir})$")).map_err(|e| invalid(pattern, e))?)
            }
        };
        let prefix = match &kind {
            Kind::Globs(globs) => common_prefix(globs.iter().map(Glob::literal_prefix)),
            Kind::Regex(_) => literal_prefix(&hir),
            _ => String::new(),
        };
        let mut re = FastRegex {
            kind,
            prefix,
            matches_empty: false,
        };
        re.matches_empty = re.is_match("");
        Ok(re)
    }

    pub(crate) fn is_match(&self, s: &str) -> bool {
        match &self.kind {
            Kind::All => true,
            Kind::NonEmpty => !s.is_empty(),
            Kind::Set(set) => set.binary_search_by(|x| x.as_str().cmp(s)).is_ok(),
            Kind::Globs(globs) => globs.iter().any(|g| g.is_match(s)),
            Kind::Regex(re) => re.is_match(s),
        }
    }

    pub(crate) fn matches_empty(&self) -> bool {
        self.matches_empty
    }

    /// The exact, sorted set of strings matched, when it is finite and small.
    pub(crate) fn set(&self) -> Option<&[String]> {
        match &self.kind {
            Kind::Set(set) => Some(set),
            _ => None,
        }
    }

    /// A non-empty literal every matched string starts with.
    pub(crate) fn prefix(&self) -> Option<&str> {
        (!self.prefix.is_empty()).then_some(self.prefix.as_str())
    }

    /// Whether every string matches (`.*`).
    pub(crate) fn matches_all(&self) -> bool {
        matches!(self.kind, Kind::All)
    }

    /// Whether exactly the non-empty strings match (`.+`).
    pub(crate) fn matches_non_empty(&self) -> bool {
        matches!(self.kind, Kind::NonEmpty)
    }

    /// Whether the regex engine runs for each match (no fast path applied).
    pub(crate) fn uses_regex_engine(&self) -> bool {
        matches!(self.kind, Kind::Regex(_))
    }
}

/// The fast path for `hir`, if one applies.
fn fast_kind(hir: &Hir) -> Option<Kind> {
    let alts = alternatives(hir)?;
    if let Some(set) = literal_set(&alts) {
        return Some(Kind::Set(set));
    }
    let globs: Vec<Glob> = alts.iter().map(|a| glob(a)).collect();
    match globs.iter().filter_map(Glob::lone_wildcard).min() {
        Some(0) => Some(Kind::All),
        Some(1) if globs.len() == 1 => Some(Kind::NonEmpty),
        _ if globs.len() <= MAX_GLOBS => Some(Kind::Globs(globs)),
        _ => None,
    }
}

fn common_prefix<'a>(mut prefixes: impl Iterator<Item = &'a str>) -> String {
    let Some(mut common) = prefixes.next() else {
        return String::new();
    };
    for p in prefixes {
        let keep: usize = common
            .chars()
            .zip(p.chars())
            .take_while(|(a, b)| a == b)
            .map(|(a, _)| a.len_utf8())
            .sum();
        common = &common[..keep];
    }
    common.to_string()
}
