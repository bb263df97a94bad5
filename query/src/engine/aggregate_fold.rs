//! Aggregations that fold each group to one value per step (`sum`, `avg`, `count`, `min`,
//! `max`, `group`, `stddev`, `stdvar`), accumulated series by series.
//!
//! Walking the input series-major, each point goes straight into its group's accumulator
//! for its step, so no per-step vector of elements is built. A group's values at one step
//! are still added in input-series order, as the step-by-step walk adds them, so sums
//! round identically. Accumulators for every group × step at once could be large
//! (`count by (pod)` over a day at 1 s), so the grid is cut into blocks of steps that keep
//! at most [`MAX_ACCUMULATORS`] alive; each series keeps a cursor into its points across
//! blocks.

use promql_parser::label::METRIC_NAME;
use tianshu_tsdb::{Labels, Sample};

use super::aggregate::{add, finish, AggOp, Finished, Group};
use super::eval::Evaluator;
use super::par;
use super::value::{GSeries, Grid};
use crate::error::QueryError;

/// Upper bound on live accumulators (groups × steps of one block): 64 bytes each.
const MAX_ACCUMULATORS: usize = 1 << 17;

/// Whether `op` folds a group to one value and so can use [`fold`].
pub(super) fn folds(op: AggOp) -> bool {
    matches!(
        op,
        AggOp::Sum
            | AggOp::Avg
            | AggOp::Count
            | AggOp::Min
            | AggOp::Max
            | AggOp::Group
            | AggOp::Stddev
            | AggOp::Stdvar
    )
}

/// Aggregates `input` into `group_labels.len()` groups; `series_group[i]` is input series
/// `i`'s group. Output series come in the order the step-by-step walk would create them:
/// by the first step a group has a value, then by its first input series at that step.
///
/// Groups never mix, so a large input is folded on several threads, each taking a run of
/// groups and walking only their series: every group still adds its values in input
/// order on one thread, so the sums are the same bits as on one thread.
pub(super) fn fold(
    ev: &mut Evaluator,
    op: AggOp,
    input: &[GSeries],
    series_group: &[usize],
    group_labels: Vec<Labels>,
    g: &Grid,
) -> Result<Vec<GSeries>, QueryError> {
    let ngroups = group_labels.len();
    let nsteps = g.len();
    if ngroups == 0 || nsteps == 0 {
        return Ok(Vec::new());
    }
    ev.check_deadline()?;
    let work: usize = input.iter().map(|s| s.points.len()).sum();
    let threads = par::threads_for(work);
    fold_on(
        op,
        input,
        series_group,
        group_labels,
        g,
        threads,
        &ev.stop(),
    )
}

/// [`fold`] on at most `threads` threads.
fn fold_on(
    op: AggOp,
    input: &[GSeries],
    series_group: &[usize],
    group_labels: Vec<Labels>,
    g: &Grid,
    threads: usize,
    stop: &par::Stop,
) -> Result<Vec<GSeries>, QueryError> {
    let ngroups = group_labels.len();
    let mut group_points = vec![0usize; ngroups];
    for (s, &gid) in input.iter().zip(series_group) {
        if let Some(n) = group_points.get_mut(gid) {
            *n += s.points.len();
        }
    }
    let runs = par::even_runs(group_points.len(), |g| group_points[g], threads);
    let parts = par::map_slices(&runs, runs.len(), |r| {
        let mut out = Vec::with_capacity(r.len());
        for &(g0, g1) in r {
            out.push(fold_groups(op, input, series_group, g, g0, g1, stop)?);
        }
        Ok(out)
    })?;
    let mut points: Vec<Vec<Sample>> = Vec::with_capacity(ngroups);
    // (first step with a value, first input series with a value at that step).
    let mut first: Vec<(usize, usize)> = Vec::with_capacity(ngroups);
    let mut drop_name: Vec<bool> = Vec::with_capacity(ngroups);
    for part in parts.into_iter().flatten() {
        points.extend(part.points);
        first.extend(part.first);
        drop_name.extend(part.drop_name);
    }
    let mut order: Vec<usize> = (0..ngroups)
        .filter(|&i| points.get(i).is_some_and(|p| !p.is_empty()))
        .collect();
    order.sort_unstable_by_key(|&i| first[i]);
    let mut labels: Vec<Option<Labels>> = group_labels.into_iter().map(Some).collect();
    let mut out = Vec::with_capacity(order.len());
    for gid in order {
        let Some(l) = labels[gid].take() else {
            continue;
        };
        let dn = drop_name[gid] && l.get(METRIC_NAME).is_some();
        out.push(GSeries {
            labels: l,
            drop_name: dn,
            points: std::mem::take(&mut points[gid]),
        });
    }
    Ok(out)
}

/// What folding groups `g0..g1` gives, indexed from `g0`.
struct Folded {
    points: Vec<Vec<Sample>>,
    first: Vec<(usize, usize)>,
    drop_name: Vec<bool>,
}

/// Folds the series of groups `g0..g1`, block of steps by block of steps.
fn fold_groups(
    op: AggOp,
    input: &[GSeries],
    series_group: &[usize],
    g: &Grid,
    g0: usize,
    g1: usize,
    stop: &par::Stop,
) -> Result<Folded, QueryError> {
    let ngroups = g1 - g0;
    let nsteps = g.len();
    let block = (MAX_ACCUMULATORS / ngroups.max(1)).clamp(1, nsteps.max(1));
    let mut acc: Vec<Group> = (0..ngroups * block).map(|_| Group::default()).collect();
    let mut points: Vec<Vec<Sample>> = vec![Vec::new(); ngroups];
    let mut first: Vec<(usize, usize)> = vec![(usize::MAX, usize::MAX); ngroups];
    let mut drop_name = vec![false; ngroups];
    let mut cursor = vec![0usize; input.len()];
    let mut lo = 0;
    while lo < nsteps {
        stop.check()?;
        let hi = (lo + block).min(nsteps);
        let mut walk = Walk {
            input,
            series_group,
            g0,
            g1,
            g,
            lo,
            hi,
            block,
            acc: &mut acc,
            first: &mut first,
            drop_name: &mut drop_name,
            cursor: &mut cursor,
        };
        // One copy of the walk per operator, so the per-point `add` has no dispatch.
        match op {
            AggOp::Sum => walk.run(|a, si, v| add(AggOp::Sum, a, si, v)),
            AggOp::Avg => walk.run(|a, si, v| add(AggOp::Avg, a, si, v)),
            AggOp::Count => walk.run(|a, si, v| add(AggOp::Count, a, si, v)),
            AggOp::Min => walk.run(|a, si, v| add(AggOp::Min, a, si, v)),
            AggOp::Max => walk.run(|a, si, v| add(AggOp::Max, a, si, v)),
            AggOp::Group => walk.run(|a, si, v| add(AggOp::Group, a, si, v)),
            _ => walk.run(|a, si, v| add(op, a, si, v)),
        }
        for (gid, out) in points.iter_mut().enumerate() {
            for (j, a) in acc[gid * block..gid * block + (hi - lo)]
                .iter_mut()
                .enumerate()
            {
                if a.count == 0.0 {
                    continue;
                }
                if let Finished::Group(_, v) = finish(op, std::mem::take(a), f64::NAN, input) {
                    out.push(Sample::new(g.ts(lo + j), v));
                }
            }
        }
        lo = hi;
    }
    Ok(Folded {
        points,
        first,
        drop_name,
    })
}

/// The state one block of steps is accumulated into.
struct Walk<'a> {
    input: &'a [GSeries],
    series_group: &'a [usize],
    /// The groups folded here; `acc`, `first` and `drop_name` are indexed from `g0`.
    g0: usize,
    g1: usize,
    g: &'a Grid,
    /// The block's steps: `lo..hi`, at most `block` of them.
    lo: usize,
    hi: usize,
    block: usize,
    /// `acc[gid * block + (step - lo)]`.
    acc: &'a mut [Group],
    first: &'a mut [(usize, usize)],
    drop_name: &'a mut [bool],
    /// Per input series, its first point not yet accumulated.
    cursor: &'a mut [usize],
}

impl Walk<'_> {
    #[inline(always)]
    fn run(&mut self, add_one: impl Fn(&mut Group, usize, f64)) {
        let (g, lo, block) = (self.g, self.lo, self.block);
        let block_start = g.ts(lo);
        let block_end = g.ts(self.hi - 1);
        for (si, s) in self.input.iter().enumerate() {
            let Some(gid) = self.series_group[si]
                .checked_sub(self.g0)
                .filter(|_| self.series_group[si] < self.g1)
            else {
                continue;
            };
            let pts = &s.points;
            let mut k = self.cursor[si];
            let mut any = false;
            let base = gid * block;
            // A step cursor instead of a division per point: points come sorted by time,
            // so the step only moves forward. `ts` is always `g.ts(step)`.
            let (mut step, mut ts) = (lo, block_start);
            while k < pts.len() && pts[k].t <= block_end {
                let p = pts[k];
                k += 1;
                if p.t < ts {
                    // Before the block, or out of order: resolve it the slow way.
                    match g.index_of(p.t) {
                        Some(i) if i >= lo => {
                            self.add_at(&add_one, gid, si, i, p.v);
                            any = true;
                        }
                        _ => {}
                    }
                    continue;
                }
                while ts < p.t {
                    step += 1;
                    ts += g.step;
                }
                if ts != p.t {
                    continue;
                }
                if step < self.first[gid].0 {
                    self.first[gid] = (step, si);
                }
                add_one(&mut self.acc[base + (step - lo)], si, p.v);
                any = true;
            }
            if any {
                self.drop_name[gid] |= s.drop_name;
            }
            self.cursor[si] = k;
        }
    }

    /// Adds one value of series `si` at `step` (inside the block) to group `gid`.
    #[inline(never)]
    fn add_at(
        &mut self,
        add_one: &impl Fn(&mut Group, usize, f64),
        gid: usize,
        si: usize,
        step: usize,
        v: f64,
    ) {
        if step < self.first[gid].0 {
            self.first[gid] = (step, si);
        }
        add_one(&mut self.acc[gid * self.block + (step - self.lo)], si, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Series in uneven groups, with gaps, infinities and NaNs, so sums depend on order.
    fn input(n: usize, groups: usize, g: &Grid) -> (Vec<GSeries>, Vec<usize>, Vec<Labels>) {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut series = Vec::new();
        let mut series_group = Vec::new();
        for i in 0..n {
            let mut points = Vec::new();
            for k in 0..g.len() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if (k + i) % 11 == 3 {
                    continue;
                }
                let v = match x % 97 {
                    0 => f64::INFINITY,
                    1 => f64::NAN,
                    r => (x >> 11) as f64 * 1e-9 * if r % 2 == 0 { 1e12 } else { -1.0 },
                };
                points.push(Sample::new(g.ts(k), v));
            }
            series.push(GSeries {
                labels: Labels::from_pairs([("i", i.to_string().as_str())]),
                drop_name: i % 5 == 0,
                points,
            });
            // Group sizes from 1 to many.
            series_group.push((i * i) % groups);
        }
        let labels = (0..groups)
            .map(|gid| Labels::from_pairs([("g", gid.to_string().as_str())]))
            .collect();
        (series, series_group, labels)
    }

    #[test]
    fn folding_on_threads_gives_the_same_bits() {
        let g = Grid {
            start: 0,
            end: 599_000,
            step: 1000,
        };
        let stop = par::Stop {
            deadline: std::time::Instant::now() + std::time::Duration::from_secs(3600),
            cancel: crate::cancel::CancelToken::default(),
        };
        type Bits = Vec<(String, bool, Vec<(i64, u64)>)>;
        let bits = |v: &[GSeries]| -> Bits {
            v.iter()
                .map(|s| {
                    let p = s.points.iter().map(|p| (p.t, p.v.to_bits())).collect();
                    (s.labels.to_string(), s.drop_name, p)
                })
                .collect()
        };
        for groups in [1, 2, 7, 40] {
            let (series, series_group, labels) = input(120, groups, &g);
            for op in [
                AggOp::Sum,
                AggOp::Avg,
                AggOp::Count,
                AggOp::Max,
                AggOp::Stddev,
            ] {
                let one = fold_on(op, &series, &series_group, labels.clone(), &g, 1, &stop);
                let one = bits(&one.unwrap_or_default());
                assert!(!one.is_empty());
                for threads in [2, 3, 4, 64] {
                    let many = fold_on(
                        op,
                        &series,
                        &series_group,
                        labels.clone(),
                        &g,
                        threads,
                        &stop,
                    );
                    assert!(
                        bits(&many.unwrap_or_default()) == one,
                        "{op:?}, {groups} groups on {threads} threads"
                    );
                }
            }
        }
    }
}
