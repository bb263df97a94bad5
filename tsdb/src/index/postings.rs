//! In-memory postings (stub: being implemented).

use std::sync::Arc;

use roaring::RoaringBitmap;

use super::{Matcher, SeriesId};
use crate::labels::Labels;

#[derive(Default)]
pub struct MemPostings {
    all: RoaringBitmap,
}

impl MemPostings {
    pub fn add(&mut self, _id: SeriesId, _labels: &Labels) {
        unimplemented!()
    }
    pub fn select(&self, _matchers: &[Matcher]) -> RoaringBitmap {
        unimplemented!()
    }
    pub fn all(&self) -> &RoaringBitmap {
        &self.all
    }
    pub fn label_names(&self, _within: Option<&RoaringBitmap>) -> Vec<Arc<str>> {
        unimplemented!()
    }
    pub fn label_values(&self, _name: &str, _within: Option<&RoaringBitmap>) -> Vec<Arc<str>> {
        unimplemented!()
    }
}
