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
    let block = (MAX_ACCUMULATORS / ngroups).clamp(1, nsteps);
    let mut acc: Vec<Group> = (0..ngroups * block).map(|_| Group::default()).collect();
    let mut points: Vec<Vec<Sample>> = vec![Vec::new(); ngroups];
    // (first step with a value, first input series with a value at that step).
    let mut first: Vec<(usize, usize)> = vec![(usize::MAX, usize::MAX); ngroups];
    let mut drop_name = vec![false; ngroups];
    let mut cursor = vec![0usize; input.len()];
    let mut lo = 0;
    while lo < nsteps {
        ev.check_deadline()?;
        let hi = (lo + block).min(nsteps);
        let mut walk = Walk {
            input,
            series_group,
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
    let mut order: Vec<usize> = (0..ngroups).filter(|&i| !points[i].is_empty()).collect();
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

/// The state one block of steps is accumulated into.
struct Walk<'a> {
    input: &'a [GSeries],
    series_group: &'a [usize],
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
            let gid = self.series_group[si];
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
