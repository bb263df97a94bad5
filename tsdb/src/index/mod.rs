//! The inverted index: label matchers and roaring-bitmap postings.
//!
//! - [`Matcher`] (`matcher.rs`) tests one label value. Its regex is analysed once:
//!   `re2_compat.rs` aligns the syntax with Go's RE2, `regex_analysis.rs` reduces the
//!   parsed regex to literal sets and globs, `glob.rs` matches globs, and `fast_regex.rs`
//!   ties them together, so common shapes (`.*`, `a|b`, `foo.*`, `.*foo.*`, `(?i)foo`)
//!   never run a regex engine.
//! - [`MemPostings`] (`postings.rs`) maps `name=value` to the bitmap of series ids and
//!   answers selects with Prometheus's matcher semantics; `stats.rs` computes the
//!   cardinality figures of `/api/v1/status/tsdb`.

mod fast_regex;
mod glob;
mod matcher;
mod postings;
mod re2_compat;
mod regex_analysis;
mod stats;

pub use matcher::{MatchOp, Matcher};
pub use postings::MemPostings;
pub use stats::PostingsStats;

/// Dense id of a series within one database (shard). Ids start at 0 and grow by one.
pub type SeriesId = u32;
