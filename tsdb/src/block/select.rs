//! Resolving matchers to series ids over a block's label index.
//!
//! The semantics are those of [`crate::index::MemPostings::select`]: a series lacking a
//! label is tested as if its value were ""; matchers that reject "" select the values they
//! accept, matchers that accept "" are applied by subtracting the values they reject; no
//! matchers select nothing. What differs is the access path: values here are a sorted
//! on-disk table, searched by binary search (`=`, sets of alternatives) and range scans
//! (literal prefixes), with the same [`Matcher`] fast paths deciding which applies.

use roaring::RoaringBitmap;

use super::index_reader::{IndexReader, NameEntry};
use crate::error::Result;
use crate::index::Matcher;

/// The ids of the series selected by all `matchers`.
pub(crate) fn select(ix: &IndexReader, matchers: &[Matcher]) -> Result<RoaringBitmap> {
    if matchers.is_empty() {
        return Ok(RoaringBitmap::new());
    }
    let (mut positive, negative): (Vec<&Matcher>, Vec<&Matcher>) =
        matchers.iter().partition(|m| !m.matches_empty());
    // Cheap lookups first, so an empty one ends the select before any value scan.
    positive.sort_by_key(|m| cost(m));
    let mut sets = Vec::with_capacity(positive.len());
    for m in positive {
        let set = postings_where(ix, m, true)?;
        if set.is_empty() {
            return Ok(RoaringBitmap::new());
        }
        sets.push(set);
    }
    sets.sort_by_key(|s| s.len());
    let mut iter = sets.into_iter();
    let mut acc = match iter.next() {
        Some(first) => iter.fold(first, |acc, s| acc & s),
        None => {
            let mut all = RoaringBitmap::new();
            all.insert_range(0..ix.num_series());
            all
        }
    };
    for m in negative {
        if acc.is_empty() {
            break;
        }
        acc -= postings_where(ix, m, false)?;
    }
    Ok(acc)
}

/// The union of postings of the stored values `v` of `m.name` with `m.matches(v) == want`.
/// Stored values are never "", so "" plays no part.
fn postings_where(ix: &IndexReader, m: &Matcher, want: bool) -> Result<RoaringBitmap> {
    let Some(e) = ix.name(&m.name)? else {
        return Ok(RoaringBitmap::new());
    };
    if want != m.op.is_negative() {
        return accepted_by(ix, e, m);
    }
    if m.regex_matches_all() || m.regex_matches_non_empty() {
        return Ok(RoaringBitmap::new());
    }
    // Values partition the name's series: the rejected ones are the rest.
    let accepted = accepted_by(ix, e, m)?;
    Ok(ix.name_postings(e)? - accepted)
}

/// The union of postings of the values accepted by `m`'s inner test (before negation).
fn accepted_by(ix: &IndexReader, e: &NameEntry, m: &Matcher) -> Result<RoaringBitmap> {
    let mut out = RoaringBitmap::new();
    if !m.op.is_regex() {
        if let Some(i) = ix.find_value(e, &m.value)? {
            out = ix.value_postings(e, i)?;
        }
        return Ok(out);
    }
    if m.regex_matches_all() || m.regex_matches_non_empty() {
        return ix.name_postings(e);
    }
    if let Some(set) = m.set_matches() {
        for v in set {
            if let Some(i) = ix.find_value(e, v)? {
                out |= ix.value_postings(e, i)?;
            }
        }
        return Ok(out);
    }
    let (start, prefix) = match m.prefix() {
        Some(p) => (ix.lower_bound(e, p)?, p),
        None => (0, ""),
    };
    for i in start..e.count {
        let v = ix.value(e, i)?;
        if !v.starts_with(prefix) {
            break;
        }
        if m.inner_matches(v) {
            out |= ix.value_postings(e, i)?;
        }
    }
    Ok(out)
}

/// Rough relative cost of resolving a matcher's postings.
fn cost(m: &Matcher) -> u8 {
    if !m.op.is_regex() || m.regex_matches_all() || m.regex_matches_non_empty() {
        0
    } else if m.set_matches().is_some() {
        1
    } else if m.prefix().is_some() {
        2
    } else if !m.uses_regex_engine() {
        3
    } else {
        4
    }
}

/// Label names of the series in `within` (all series when `None`), sorted.
pub(crate) fn label_names(ix: &IndexReader, within: Option<&RoaringBitmap>) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in ix.names() {
        if let Some(w) = within {
            if ix.name_postings(e)?.is_disjoint(w) {
                continue;
            }
        }
        out.push(ix.symbol(e.name)?.to_string());
    }
    Ok(out)
}

/// Values of label `name` among the series in `within` (all when `None`), sorted.
pub(crate) fn label_values(
    ix: &IndexReader,
    name: &str,
    within: Option<&RoaringBitmap>,
) -> Result<Vec<String>> {
    let Some(e) = ix.name(name)? else {
        return Ok(Vec::new());
    };
    if let Some(w) = within {
        if ix.name_postings(e)?.is_disjoint(w) {
            return Ok(Vec::new());
        }
    }
    let mut out = Vec::with_capacity(e.count as usize);
    for i in 0..e.count {
        if let Some(w) = within {
            if ix.value_postings(e, i)?.is_disjoint(w) {
                continue;
            }
        }
        out.push(ix.value(e, i)?.to_string());
    }
    Ok(out)
}
