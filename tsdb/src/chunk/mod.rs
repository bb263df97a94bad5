//! Compressed chunks of samples.

mod bstream;
mod xor;

pub use xor::{XorChunk, XorIter};
