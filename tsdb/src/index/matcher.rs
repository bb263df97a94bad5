//! Label matchers (stub: being implemented).

use crate::error::Result;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    RegexMatch,
    RegexNoMatch,
}

#[derive(Clone, Debug)]
pub struct Matcher {
    pub op: MatchOp,
    pub name: String,
    pub value: String,
}

impl Matcher {
    pub fn new(op: MatchOp, name: impl Into<String>, value: impl Into<String>) -> Result<Self> {
        Ok(Matcher {
            op,
            name: name.into(),
            value: value.into(),
        })
    }
    pub fn matches(&self, _s: &str) -> bool {
        unimplemented!()
    }
}
