//! Matching of globs: literal segments separated by runs of arbitrary characters.
//!
//! Most regexes in dashboards are `foo.*`, `.*foo`, `.*foo.*`, `(?i)foo` and the like. They
//! reduce to a [`Glob`] (see `regex_analysis`), which is matched here with plain string
//! searches instead of running a regex engine.

/// The characters one position of a segment accepts, as sorted, non-overlapping inclusive
/// ranges (e.g. `[('F', 'F'), ('f', 'f')]` for a case-insensitive `f`).
pub(crate) type CharClass = Box<[(char, char)]>;

/// A run of positions matched one character each.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    /// Exactly this text; kept apart from `Classes` so that searches use `str::find`.
    Exact(String),
    /// One character from each class, in order. Never all singletons (that is `Exact`).
    Classes(Vec<CharClass>),
}

fn class_contains(class: &[(char, char)], c: char) -> bool {
    class
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

impl Seg {
    /// Builds a segment from per-position classes, preferring `Exact` when it can.
    pub(crate) fn from_classes(classes: Vec<CharClass>) -> Seg {
        if classes.iter().all(|c| c.len() == 1 && c[0].0 == c[0].1) {
            Seg::Exact(classes.iter().map(|c| c[0].0).collect())
        } else {
            Seg::Classes(classes)
        }
    }

    /// If `s` starts with this segment, the byte length of that match.
    fn match_prefix(&self, s: &str) -> Option<usize> {
        match self {
            Seg::Exact(t) => s.starts_with(t.as_str()).then_some(t.len()),
            Seg::Classes(classes) => {
                let mut end = 0;
                let mut chars = s.chars();
                for class in classes {
                    let c = chars.next()?;
                    if !class_contains(class, c) {
                        return None;
                    }
                    end += c.len_utf8();
                }
                Some(end)
            }
        }
    }

    /// If `s` ends with this segment, the byte offset at which that match starts.
    fn match_suffix(&self, s: &str) -> Option<usize> {
        match self {
            Seg::Exact(t) => s.ends_with(t.as_str()).then(|| s.len() - t.len()),
            Seg::Classes(classes) => {
                let mut start = s.len();
                let mut chars = s.char_indices().rev();
                for class in classes.iter().rev() {
                    let (i, c) = chars.next()?;
                    if !class_contains(class, c) {
                        return None;
                    }
                    start = i;
                }
                Some(start)
            }
        }
    }

    /// The leftmost occurrence in `s`, as byte offsets `(start, end)`.
    fn find(&self, s: &str) -> Option<(usize, usize)> {
        match self {
            Seg::Exact(t) => s.find(t.as_str()).map(|i| (i, i + t.len())),
            Seg::Classes(_) => s
                .char_indices()
                .map(|(i, _)| i)
                .chain(std::iter::once(s.len()))
                .find_map(|i| self.match_prefix(&s[i..]).map(|n| (i, i + n))),
        }
    }
}

/// A pattern `first (.{gap,} seg)*`, fully anchored.
///
/// With `rest` empty the string must equal `first`. Otherwise `first` is anchored at the
/// start, the last segment of `rest` at the end, and each gap is the minimum number of
/// arbitrary characters (`.*` is 0, `.+` is 1) before its segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Glob {
    pub(crate) first: Seg,
    pub(crate) rest: Vec<(u32, Seg)>,
}

/// Advances `pos` by `n` characters within `s`; `None` when `s` is too short.
fn skip_chars(s: &str, pos: usize, n: u32) -> Option<usize> {
    let mut pos = pos;
    let mut chars = s[pos..].chars();
    for _ in 0..n {
        pos += chars.next()?.len_utf8();
    }
    Some(pos)
}

impl Glob {
    pub(crate) fn is_match(&self, s: &str) -> bool {
        let Some(mut pos) = self.first.match_prefix(s) else {
            return false;
        };
        let Some(((last_gap, last), middle)) = self.rest.split_last() else {
            return pos == s.len();
        };
        // The last segment is pinned to the end; searching only before it keeps the
        // segments from overlapping.
        let Some(end) = last.match_suffix(&s[pos..]).map(|o| pos + o) else {
            return false;
        };
        let s = &s[..end];
        // Taking the leftmost occurrence of each middle segment is optimal: it leaves the
        // most room for what follows, and gaps only bound their minimum length.
        for (gap, seg) in middle {
            let Some(from) = skip_chars(s, pos, *gap) else {
                return false;
            };
            match seg.find(&s[from..]) {
                Some((_, e)) => pos = from + e,
                None => return false,
            }
        }
        skip_chars(s, pos, *last_gap).is_some()
    }

    /// The literal every match starts with, if `first` is exact and non-empty.
    pub(crate) fn literal_prefix(&self) -> &str {
        match &self.first {
            Seg::Exact(t) => t,
            Seg::Classes(_) => "",
        }
    }

    /// `Some(min)` when this glob is a lone wildcard: it matches every string of at least
    /// `min` characters.
    pub(crate) fn lone_wildcard(&self) -> Option<u32> {
        match (&self.first, self.rest.as_slice()) {
            (Seg::Exact(f), [(gap, Seg::Exact(l))]) if f.is_empty() && l.is_empty() => Some(*gap),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(s: &str) -> Seg {
        Seg::Exact(s.to_string())
    }

    fn fold(s: &str) -> Seg {
        Seg::Classes(
            s.chars()
                .map(|c| {
                    let (l, u) = (c.to_ascii_lowercase(), c.to_ascii_uppercase());
                    let mut v = vec![(u, u), (l, l)];
                    v.dedup();
                    v.into_boxed_slice()
                })
                .collect(),
        )
    }

    #[test]
    fn prefix_suffix_contains() {
        let prefix = Glob {
            first: exact("foo"),
            rest: vec![(0, exact(""))],
        };
        assert!(prefix.is_match("foo"));
        assert!(prefix.is_match("foobar"));
        assert!(!prefix.is_match("xfoo"));

        let suffix = Glob {
            first: exact(""),
            rest: vec![(1, exact("foo"))],
        };
        assert!(suffix.is_match("xfoo"));
        assert!(!suffix.is_match("foo"), ".+foo needs one character first");

        let contains = Glob {
            first: exact(""),
            rest: vec![(0, exact("oo")), (0, exact(""))],
        };
        assert!(contains.is_match("foo"));
        assert!(contains.is_match("oo"));
        assert!(!contains.is_match("o"));
    }

    #[test]
    fn segments_do_not_overlap() {
        // a.*a must not match "a": the prefix and the suffix would share the character.
        let g = Glob {
            first: exact("a"),
            rest: vec![(0, exact("a"))],
        };
        assert!(!g.is_match("a"));
        assert!(g.is_match("aa"));
        // a.*b.*b: "abb" matches, "ab" does not.
        let g = Glob {
            first: exact("a"),
            rest: vec![(0, exact("b")), (0, exact("b"))],
        };
        assert!(g.is_match("abb"));
        assert!(!g.is_match("ab"));
    }

    #[test]
    fn gaps_count_characters_not_bytes() {
        let g = Glob {
            first: exact("a"),
            rest: vec![(2, exact("b"))],
        };
        assert!(g.is_match("aé€b"));
        assert!(!g.is_match("aéb"));
    }

    #[test]
    fn classes_match_case_insensitively() {
        let g = Glob {
            first: exact(""),
            rest: vec![(0, fold("err")), (0, exact(""))],
        };
        assert!(g.is_match("an ERROR here"));
        assert!(g.is_match("ErR"));
        assert!(!g.is_match("er"));
        let exact_fold = Glob {
            first: fold("ok"),
            rest: vec![],
        };
        assert!(exact_fold.is_match("oK"));
        assert!(!exact_fold.is_match("oKx"));
    }
}
