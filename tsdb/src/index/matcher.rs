//! Label matchers: `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`.
//!
//! Semantics are Prometheus 3.x's: regexes are fully anchored and `.` matches newlines. A
//! series that lacks a label is matched as if the label had the empty value, so
//! [`Matcher::matches_empty`] decides whether such series are selected.

use std::fmt;
use std::sync::Arc;

use super::fast_regex::FastRegex;
use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchOp {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

impl MatchOp {
    /// Whether the operator negates its inner test (`!=`, `!~`).
    pub fn is_negative(self) -> bool {
        matches!(self, MatchOp::NotEqual | MatchOp::RegexNoMatch)
    }

    pub fn is_regex(self) -> bool {
        matches!(self, MatchOp::RegexMatch | MatchOp::RegexNoMatch)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::RegexMatch => "=~",
            MatchOp::RegexNoMatch => "!~",
        }
    }
}

impl fmt::Display for MatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A test on the value of one label.
///
/// Build it with [`Matcher::new`]; `op`, `name` and `value` are public for reading. Invariant:
/// for regex ops the compiled regex was built from `value`, so the fields must not be
/// changed after construction (make a new matcher instead).
#[derive(Clone)]
pub struct Matcher {
    pub op: MatchOp,
    pub name: String,
    pub value: String,
    /// Shared so that cloning a matcher (queries clone them per shard) does not recompile.
    re: Option<Arc<FastRegex>>,
}

impl Matcher {
    /// Compiles the regex of `=~`/`!~`; an invalid one is [`crate::Error::InvalidRegex`].
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        let value = value.into();
        let re = if op.is_regex() {
            Some(Arc::new(FastRegex::new(&value)?))
        } else {
            None
        };
        Ok(Matcher {
            op,
            name: name.into(),
            value,
            re,
        })
    }

    /// Whether a label value satisfies this matcher (use "" for an absent label).
    pub fn matches(&self, s: &str) -> bool {
        self.inner_matches(s) != self.op.is_negative()
    }

    /// The test before negation: equality for `=`/`!=`, the regex for `=~`/`!~`.
    pub fn inner_matches(&self, s: &str) -> bool {
        match &self.re {
            Some(re) => re.is_match(s),
            None => self.value == s,
        }
    }

    /// Whether the empty string matches, i.e. whether series lacking the label are selected.
    pub fn matches_empty(&self) -> bool {
        let inner = match &self.re {
            Some(re) => re.matches_empty(),
            None => self.value.is_empty(),
        };
        inner != self.op.is_negative()
    }

    /// For regex ops, the exact sorted set of strings the regex matches when it is a small
    /// finite set (`a|b|c`, `(?i)ok`, `[ab]c`). For `=~` these are the selected values, for
    /// `!~` the rejected ones. `None` for `=`/`!=` and for other regexes.
    pub fn set_matches(&self) -> Option<&[String]> {
        self.re.as_ref().and_then(|re| re.set())
    }

    /// For regex ops, a non-empty literal every string the regex matches starts with
    /// (`foo.*` → `foo`), for range scans over sorted values.
    pub fn prefix(&self) -> Option<&str> {
        self.re.as_ref().and_then(|re| re.prefix())
    }

    /// For regex ops, whether the regex matches every string (`.*`).
    pub fn regex_matches_all(&self) -> bool {
        self.re.as_ref().is_some_and(|re| re.matches_all())
    }

    /// For regex ops, whether the regex matches exactly the non-empty strings (`.+`).
    pub fn regex_matches_non_empty(&self) -> bool {
        self.re.as_ref().is_some_and(|re| re.matches_non_empty())
    }

    /// For regex ops, whether matching runs the regex engine (no fast path applies).
    pub fn uses_regex_engine(&self) -> bool {
        self.re.as_ref().is_some_and(|re| re.uses_regex_engine())
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.op == other.op && self.name == other.name && self.value == other.value
    }
}

impl Eq for Matcher {}

impl fmt::Debug for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Matcher({self})")
    }
}

impl fmt::Display for Matcher {
    /// PromQL notation: `job=~"api|web"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{:?}", self.name, self.op, self.value)
    }
}

#[cfg(test)]
#[path = "matcher_tests.rs"]
mod tests;
