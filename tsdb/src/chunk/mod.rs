//! Compressed chunks of samples.

mod bstream;
mod xor;

pub(crate) use bstream::low_bits;
pub use xor::{XorChunk, XorIter};
