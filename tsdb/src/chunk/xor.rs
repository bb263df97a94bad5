//! Gorilla XOR chunk (stub: being implemented).

use crate::error::Result;
use crate::sample::Sample;

/// A Gorilla-compressed run of float samples with strictly increasing timestamps.
#[derive(Clone, Debug, Default)]
pub struct XorChunk {
    bytes: Vec<u8>,
}

impl XorChunk {
    pub fn new() -> Self {
        XorChunk::default()
    }
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self> {
        Ok(XorChunk { bytes })
    }
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    pub fn num_samples(&self) -> usize {
        unimplemented!()
    }
    pub fn first_time(&self) -> Option<i64> {
        unimplemented!()
    }
    pub fn last_time(&self) -> Option<i64> {
        unimplemented!()
    }
    /// Appends a sample. Precondition: `t` is greater than the last timestamp.
    pub fn append(&mut self, _t: i64, _v: f64) {
        unimplemented!()
    }
    pub fn iter(&self) -> XorIter<'_> {
        XorIter { _c: self }
    }
}

pub struct XorIter<'a> {
    _c: &'a XorChunk,
}

impl Iterator for XorIter<'_> {
    type Item = Sample;
    fn next(&mut self) -> Option<Sample> {
        unimplemented!()
    }
}
