//! Counts over the whole head that are computed on request rather than kept up to date on
//! every append, because only status pages ask for them.

use super::Head;

impl Head {
    /// Chunks held by the head: every series' closed chunks plus its open one when it has
    /// samples. Out-of-order samples are not counted: they are kept as a sorted list, not as
    /// chunks. Visits every series under its own mutex, so it costs O(series) and never
    /// blocks appends for longer than one series.
    pub(crate) fn num_chunks(&self) -> u64 {
        self.all_series()
            .iter()
            .map(|s| {
                let d = s.data.lock();
                d.chunks.len() as u64 + u64::from(d.open.num_samples() > 0)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::series::SAMPLES_PER_CHUNK;
    use crate::labels::Labels;

    #[test]
    fn counts_closed_and_open_chunks() {
        let head = Head::for_tests();
        assert_eq!(head.num_chunks(), 0);
        let (a, _) = head.get_or_create(&Labels::from_pairs([("__name__", "a")]));
        let (_empty, _) = head.get_or_create(&Labels::from_pairs([("__name__", "b")]));
        let series = head.get(a).expect("series just created");
        {
            let mut d = series.data.lock();
            for i in 0..=SAMPLES_PER_CHUNK as i64 {
                d.push(i * 1000, i as f64, 0);
            }
        }
        // One full chunk closed by the sample that did not fit, one open chunk holding it;
        // the series without samples has no chunk.
        assert_eq!(head.num_chunks(), 2);
    }
}
