//! Reading series from storage: matcher conversion, instant selection with lookback and
//! staleness, and the raw samples behind range selectors.

use std::collections::HashSet;

use promql_parser::label::{MatchOp as PMatchOp, Matcher as PMatcher};
use promql_parser::parser::{AtModifier, Offset, VectorSelector};
use tianshu_tsdb::{
    is_stale_nan, ChunkedSeries, Labels, MatchOp, Matcher, Sample, Series, METRIC_NAME,
};

use super::eval::Evaluator;
use super::par;
use super::value::{GSeries, Grid};
use crate::error::QueryError;

pub(crate) fn offset_ms(o: &Option<Offset>) -> i64 {
    match o {
        None => 0,
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
    }
}

fn convert_matcher(m: &PMatcher) -> Result<Matcher, QueryError> {
    let op = match m.op {
        PMatchOp::Equal => MatchOp::Equal,
        PMatchOp::NotEqual => MatchOp::NotEqual,
        PMatchOp::Re(_) => MatchOp::RegexMatch,
        PMatchOp::NotRe(_) => MatchOp::RegexNoMatch,
    };
    Matcher::new(op, m.name.clone(), m.value.clone()).map_err(QueryError::from)
}

/// The alternatives of a selector (`{a="1" or b="2"}` has two), each a list of matchers.
fn matcher_sets(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>, QueryError> {
    let name = vs
        .name
        .as_ref()
        .map(|n| Matcher::new(MatchOp::Equal, METRIC_NAME, n.clone()))
        .transpose()?;
    let mut base: Vec<Matcher> = Vec::new();
    if let Some(n) = &name {
        base.push(n.clone());
    }
    for m in &vs.matchers.matchers {
        base.push(convert_matcher(m)?);
    }
    if vs.matchers.or_matchers.is_empty() {
        return Ok(vec![base]);
    }
    let mut sets = Vec::new();
    for alt in &vs.matchers.or_matchers {
        let mut set = base.clone();
        for m in alt {
            set.push(convert_matcher(m)?);
        }
        sets.push(set);
    }
    Ok(sets)
}

impl Evaluator<'_> {
    pub(crate) fn resolve_at(&self, at: &Option<AtModifier>) -> Option<i64> {
        match at {
            None => None,
            Some(AtModifier::Start) => Some(self.query_start),
            Some(AtModifier::End) => Some(self.query_end),
            Some(AtModifier::At(t)) => Some(match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => d.as_millis() as i64,
                Err(e) => -(e.duration().as_millis() as i64),
            }),
        }
    }

    /// Series matching `vs` with samples in `[mint, maxt]`, decoded, sorted by labels.
    pub(crate) fn select(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, QueryError> {
        self.select_chunks(vs, mint, maxt)?
            .into_iter()
            .map(|s| {
                let samples = s.samples(mint, maxt)?;
                Ok(Series {
                    labels: s.labels,
                    samples,
                })
            })
            .filter(|s| !matches!(s, Ok(s) if s.samples.is_empty()))
            .collect()
    }

    /// Series matching `vs` with their chunks overlapping `[mint, maxt]`, not yet
    /// decoded, sorted by labels. The selector's node decodes them on its own threads.
    pub(crate) fn select_chunks(
        &mut self,
        vs: &VectorSelector,
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ChunkedSeries>, QueryError> {
        self.check_deadline()?;
        let sets = matcher_sets(vs)?;
        self.count_against_series_limit(&sets, mint, maxt)?;
        if sets.len() == 1 {
            return self.q.select_chunks(&sets[0], mint, maxt);
        }
        let mut seen: HashSet<Labels> = HashSet::new();
        let mut out = Vec::new();
        for set in &sets {
            for s in self.q.select_chunks(set, mint, maxt)? {
                if seen.insert(s.labels.clone()) {
                    out.push(s);
                }
            }
        }
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }

    /// Adds the series `sets` match to the query's count and fails once the count passes
    /// `max_series`. Counted from the index before the samples are read, so a selector
    /// over every series fails fast instead of loading them all first.
    fn count_against_series_limit(
        &mut self,
        sets: &[Vec<Matcher>],
        mint: i64,
        maxt: i64,
    ) -> Result<(), QueryError> {
        if self.max_series == 0 {
            return Ok(());
        }
        for set in sets {
            let n = self.q.count_series(set, mint, maxt)?.unwrap_or(0);
            self.series = self.series.saturating_add(n);
            if self.series > self.max_series {
                return Err(QueryError::TooManySeries(self.max_series));
            }
        }
        Ok(())
    }

    /// An instant vector selector over the grid: at each step the newest sample in
    /// `(t - lookback, t]`, unless that sample is a staleness marker. With `want_ts` the
    /// value is the sample's timestamp in seconds (for `timestamp()`).
    ///
    /// Series are decoded on the node's threads into one buffer per thread. At a single
    /// time (an instant query, or `@`) only the newest sample counts, which decodes the
    /// newest chunk holding one, not the whole lookback.
    pub(crate) fn eval_vector_selector(
        &mut self,
        vs: &VectorSelector,
        g: &Grid,
        want_ts: bool,
    ) -> Result<Vec<GSeries>, QueryError> {
        let offset = offset_ms(&vs.offset);
        let at = self.resolve_at(&vs.at);
        let lookback = self.lookback;
        let (lo, hi) = match at {
            Some(a) => (a.saturating_sub(offset), a.saturating_sub(offset)),
            None => (g.start.saturating_sub(offset), g.end.saturating_sub(offset)),
        };
        let (mint, maxt) = (lo.saturating_sub(lookback).saturating_add(1), hi);
        let mut selected = self.select_chunks(vs, mint, maxt)?;
        let newest_only = lo == hi;
        let stop = self.stop();
        let work = decode_work(&selected, g.len(), newest_only);
        let parts = par::map_chunks(&mut selected, par::threads_for(work), |chunk| {
            let mut out = Vec::with_capacity(chunk.len());
            let mut buf = Vec::new();
            for (k, s) in chunk.iter_mut().enumerate() {
                if k % 256 == 0 {
                    stop.check()?;
                }
                if newest_only {
                    let newest = s.newest_in(mint, maxt, &mut buf)?;
                    buf.clear();
                    buf.extend(newest);
                } else {
                    s.samples_into(mint, maxt, &mut buf)?;
                }
                let points = instant_points(&buf, g, lookback, offset, at.map(|_| lo), want_ts);
                if !points.is_empty() {
                    out.push(GSeries {
                        labels: std::mem::take(&mut s.labels),
                        drop_name: false,
                        points,
                    });
                }
            }
            Ok(out)
        })?;
        let out: Vec<GSeries> = parts.into_iter().flatten().collect();
        self.add_samples(out.iter().map(|s| s.points.len()).sum())?;
        Ok(out)
    }
}

/// Roughly how many sample visits decoding `selected` and walking `steps` steps takes,
/// to choose a node's threads: a chunk holds about this many samples.
pub(crate) fn decode_work(selected: &[ChunkedSeries], steps: usize, newest_only: bool) -> usize {
    const SAMPLES_PER_CHUNK: usize = 120;
    let chunks = if newest_only {
        selected.len()
    } else {
        selected.iter().map(ChunkedSeries::num_chunks).sum()
    };
    selected
        .len()
        .saturating_mul(steps)
        .saturating_add(chunks.saturating_mul(SAMPLES_PER_CHUNK))
}

/// One series' values at every step of `g`: the newest sample in `(t - lookback, t]` at
/// each step's time less `offset`, or at `fixed` for every step under `@`, unless that
/// sample is a staleness marker. With `want_ts` the value is the sample's time in seconds.
fn instant_points(
    samples: &[Sample],
    g: &Grid,
    lookback: i64,
    offset: i64,
    fixed: Option<i64>,
    want_ts: bool,
) -> Vec<Sample> {
    let n = g.len();
    let pick = |idx: usize, eff: i64| -> Option<f64> {
        let smp = *samples.get(idx.checked_sub(1)?)?;
        if smp.t <= eff.saturating_sub(lookback) || is_stale_nan(smp.v) {
            return None;
        }
        Some(if want_ts {
            smp.t as f64 / 1000.0
        } else {
            smp.v
        })
    };
    if let Some(t) = fixed {
        let idx = samples.partition_point(|p| p.t <= t);
        return match pick(idx, t) {
            Some(v) => (0..n).map(|i| Sample::new(g.ts(i), v)).collect(),
            None => Vec::new(),
        };
    }
    if samples.is_empty() {
        return Vec::new();
    }
    // Every step can have a value; a sample stays visible for the lookback.
    let mut points = Vec::with_capacity(n);
    let mut idx = 0;
    // Step times by addition rather than `g.ts(i)`'s checked multiply per step; the grid
    // stays within `[start, end]`, so only the offset can saturate.
    let mut ts = g.start;
    for i in 0..n {
        if i > 0 {
            ts += g.step;
        }
        let eff = ts.saturating_sub(offset);
        while idx < samples.len() && samples[idx].t <= eff {
            idx += 1;
        }
        if let Some(v) = pick(idx, eff) {
            points.push(Sample::new(ts, v));
        }
    }
    points
}

#[cfg(test)]
#[path = "selector_tests.rs"]
mod tests;
