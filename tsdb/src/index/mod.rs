//! The inverted index: label matchers and roaring-bitmap postings.

mod matcher;
mod postings;

pub use matcher::{MatchOp, Matcher};
pub use postings::MemPostings;

/// Dense id of a series within one database (shard). Ids start at 0 and grow by one.
pub type SeriesId = u32;
