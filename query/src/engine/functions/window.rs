//! Walking each series' windows across the step grid.
//!
//! Window ends only move forward from one step to the next (a fixed `@` time keeps them
//! still), so both window edges are cursors that advance monotonically: one pass over a
//! series' samples serves every step, instead of two binary searches per step.
//!
//! `rate`, `increase` and `delta` also avoid rescanning each window for counter resets: a
//! series' resets are listed once, and a window adds the resets that fall inside it, in
//! the same order a scan would, so results are bit-identical. At a 1 s step over `[1m]`
//! windows that turns 60 sample visits per step into a handful.

use tianshu_tsdb::{Labels, Sample};

use super::rate::{extrapolate_as, Edges, Win};
use crate::engine::eval::RangeInput;
use crate::engine::par;
use crate::engine::selector::decode_work;
use crate::engine::value::{GSeries, Grid};
use crate::error::QueryError;

/// A function of one window's samples, its bounds and the step index.
pub(crate) type WindowFn<'a> = dyn Fn(&[Sample], &Win, usize) -> Option<f64> + Sync + 'a;

/// The cursors of one series: `lo..hi` are the samples in `(end - range, end]` of the
/// last window asked for.
struct Cursor {
    lo: usize,
    hi: usize,
    /// The last window end, to detect a step whose end went backwards (never expected,
    /// handled by searching afresh).
    end: i64,
}

impl Cursor {
    fn new() -> Self {
        Cursor {
            lo: 0,
            hi: 0,
            end: i64::MIN,
        }
    }

    /// Moves to the window `(start, end]` of `points` and returns its index range.
    fn seek(&mut self, points: &[Sample], start: i64, end: i64) -> (usize, usize) {
        if end < self.end {
            self.lo = 0;
            self.hi = 0;
        }
        self.end = end;
        while self.hi < points.len() && points[self.hi].t <= end {
            self.hi += 1;
        }
        while self.lo < self.hi && points[self.lo].t <= start {
            self.lo += 1;
        }
        (self.lo, self.hi)
    }
}

/// The bounds of the window evaluated at step time `ts`.
fn win_at(input: &RangeInput, ts: i64) -> Win {
    let eff = input.eff(ts);
    Win {
        start: eff.saturating_sub(input.range),
        end: eff,
        range_ms: input.range,
        ts,
    }
}

/// The grid's step times, by addition: every one lies in `[start, end]`, so none
/// overflows, and a step costs an add instead of `Grid::ts`'s checked multiply.
fn steps(g: &Grid) -> impl Iterator<Item = i64> {
    let (start, step) = (g.start, g.step);
    (0..g.len()).scan(start, move |ts, i| {
        if i > 0 {
            *ts += step;
        }
        Some(*ts)
    })
}

/// Runs `per_series` over the samples of every input series, on several threads when the
/// node is large, keeping the input order and giving up as the query's `stop` says. A
/// selector's series are decoded here, each thread into one buffer it reuses; the
/// samples decoded are counted in the input (see [`RangeInput::take_decoded`]).
fn each_series(
    input: &RangeInput,
    g: &Grid,
    stop: &par::Stop,
    per_series: impl Fn(&[Sample]) -> Vec<Sample> + Sync,
) -> Result<Vec<GSeries>, QueryError> {
    let output = |labels: &Labels, drop_name: bool, points: Vec<Sample>| {
        (!points.is_empty()).then(|| GSeries {
            labels: labels.clone(),
            drop_name,
            points,
        })
    };
    let mut out = Vec::new();
    if !input.selected.is_empty() {
        let work = decode_work(&input.selected, g.len(), false);
        let parts = par::map_slices(&input.selected, par::threads_for(work), |chunk| {
            let mut out = Vec::with_capacity(chunk.len());
            let mut buf = Vec::new();
            for (k, s) in chunk.iter().enumerate() {
                if k % 256 == 0 {
                    stop.check()?;
                }
                input.decode(s, &mut buf)?;
                out.extend(output(&s.labels, false, per_series(&buf)));
            }
            Ok(out)
        })?;
        out.extend(parts.into_iter().flatten());
    }
    if !input.series.is_empty() {
        let work = input.series.len().saturating_mul(g.len())
            + input.series.iter().map(|s| s.points.len()).sum::<usize>();
        let parts = par::map_slices(&input.series, par::threads_for(work), |chunk| {
            let mut out = Vec::with_capacity(chunk.len());
            for (k, s) in chunk.iter().enumerate() {
                if k % 256 == 0 {
                    stop.check()?;
                }
                out.extend(output(&s.labels, s.drop_name, per_series(&s.points)));
            }
            Ok(out)
        })?;
        out.extend(parts.into_iter().flatten());
    }
    Ok(out)
}

/// Applies a window function at every step of every series.
pub(crate) fn apply(
    input: &RangeInput,
    g: &Grid,
    stop: &par::Stop,
    f: &WindowFn<'_>,
) -> Result<Vec<GSeries>, QueryError> {
    each_series(input, g, stop, |pts| {
        let mut points = Vec::new();
        let mut cur = Cursor::new();
        for (i, ts) in steps(g).enumerate() {
            let win = win_at(input, ts);
            let (lo, hi) = cur.seek(pts, win.start, win.end);
            if let Some(v) = f(&pts[lo..hi], &win, i) {
                points.push(Sample::new(win.ts, v));
            }
        }
        points
    })
}

/// `rate` (`is_counter`, `is_rate`), `increase` (`is_counter`) and `delta` at every step.
pub(crate) fn apply_rate(
    input: &RangeInput,
    g: &Grid,
    stop: &par::Stop,
    is_counter: bool,
    is_rate: bool,
) -> Result<Vec<GSeries>, QueryError> {
    match (is_counter, is_rate) {
        (true, true) => apply_rate_as::<true, true>(input, g, stop),
        (true, false) => apply_rate_as::<true, false>(input, g, stop),
        (false, true) => apply_rate_as::<false, true>(input, g, stop),
        (false, false) => apply_rate_as::<false, false>(input, g, stop),
    }
}

/// [`apply_rate`] with the function's kind fixed at compile time: at a 1 s step this loop
/// runs once per output point, and every test or load it leaves out is one per point.
fn apply_rate_as<const COUNTER: bool, const RATE: bool>(
    input: &RangeInput,
    g: &Grid,
    stop: &par::Stop,
) -> Result<Vec<GSeries>, QueryError> {
    let n = g.len();
    // Read once: `input` holds an atomic, so the compiler reloads its fields after every
    // store to the output.
    let (at, offset, range) = (input.at, input.offset, input.range);
    let range_s = range as f64 / 1000.0;
    // Step `ts`'s window is `(end - range, end]` with `end = ts - offset`, saturating.
    // When neither the first nor the last step's bounds saturate, none between does, and
    // plain subtraction gives the same bounds.
    let exact = at.is_none()
        && g.start
            .checked_sub(offset)
            .and_then(|e| e.checked_sub(range))
            .is_some()
        && g.end.checked_sub(offset).is_some();
    each_series(input, g, stop, |pts| {
        // Index `j` of every sample below its predecessor: a counter reset, whose
        // predecessor's value is added back to the window's change.
        let resets: Vec<usize> = if COUNTER {
            (1..pts.len())
                .filter(|&j| pts[j].v < pts[j - 1].v)
                .collect()
        } else {
            Vec::new()
        };
        let mut w = RateWalk::<COUNTER, RATE> {
            pts,
            resets: &resets,
            range_s,
            lo: 0,
            hi: 0,
            r: 0,
            memo: exact && memoizable(pts, g, offset, range),
            last: Scaled::NONE,
        };
        let mut points = Vec::with_capacity(n.min(pts.len()));
        if let Some(a) = at {
            // Every step evaluates the one window at `@`'s time.
            let end = a.saturating_sub(offset);
            if let Some(v) = w.at(end.saturating_sub(range), end) {
                points.extend(steps(g).map(|ts| Sample::new(ts, v)));
            }
            return points;
        }
        let mut ts = g.start;
        for _ in 0..n {
            let (start, end) = if exact {
                (ts - offset - range, ts - offset)
            } else {
                let end = ts.saturating_sub(offset);
                (end.saturating_sub(range), end)
            };
            if let Some(v) = w.at(start, end) {
                points.push(Sample::new(ts, v));
            }
            // Past the last step this may wrap; the value is not used then.
            ts = ts.wrapping_add(g.step);
        }
        points
    })
}

/// One series' walk through `rate` windows whose ends only move forward (steps increase,
/// and `@` holds every step at one time), so both window edges only advance.
struct RateWalk<'a, const COUNTER: bool, const RATE: bool> {
    pts: &'a [Sample],
    /// Indexes of the counter resets in `pts`.
    resets: &'a [usize],
    range_s: f64,
    /// The last window is `pts[lo..hi]`.
    lo: usize,
    hi: usize,
    /// The first reset after the window's first sample.
    r: usize,
    /// Whether the extrapolation of the last window's shape may be reused ([`memoizable`]).
    /// Samples at a steady interval give every step's window the same shape, and then
    /// the factor's six divisions, the slowest part of the walk, are done once.
    memo: bool,
    last: Scaled,
}

impl<const COUNTER: bool, const RATE: bool> RateWalk<'_, COUNTER, RATE> {
    /// The function's value over `(start, end]`, which starts and ends no earlier than
    /// the last window asked for.
    #[inline(always)]
    fn at(&mut self, start: i64, end: i64) -> Option<f64> {
        while let Some(p) = self.pts.get(self.hi) {
            if p.t > end {
                break;
            }
            self.hi += 1;
        }
        let upto = &self.pts[..self.hi];
        while let Some(p) = upto.get(self.lo) {
            if p.t > start {
                break;
            }
            self.lo += 1;
        }
        let (lo, hi) = (self.lo, self.hi);
        let &[first, .., last] = upto.get(lo..)? else {
            return None;
        };
        let mut result = last.v - first.v;
        if COUNTER {
            while self.resets.get(self.r).is_some_and(|&j| j <= lo) {
                self.r += 1;
            }
            for &j in self.resets[self.r..].iter().take_while(|&&j| j < hi) {
                result += self.pts[j - 1].v;
            }
        }
        if self.memo {
            let shape = Shape {
                to_first: first.t - start,
                from_last: end - last.t,
                span: last.t - first.t,
                len: hi - lo,
            };
            if self.last.shape != shape {
                self.last = scale::<RATE>(shape, self.range_s);
            }
            // The clamp sets `to_start` to `to_zero = sampled * (first.v / result)` when
            // that is smaller. With `first.v >= result > 0` the quotient rounds to at
            // least 1 and the product to at least `sampled`, so a `to_start` no larger
            // than `sampled` stays: the common case of a counter far from zero.
            let clamps = COUNTER
                && result > 0.0
                && first.v >= 0.0
                && !(first.v >= result && self.last.to_start <= self.last.sampled);
            if !clamps {
                return Some(result * self.last.factor);
            }
        }
        Some(extrapolate_as::<COUNTER, RATE>(
            first,
            last,
            hi - lo,
            result,
            start,
            end,
            self.range_s,
        ))
    }
}

/// Below this magnitude every timestamp converts to f64 exactly and so does the
/// difference of two, so `t1 as f64 - t2 as f64` is `(t1 - t2) as f64`.
const EXACT_TIME: i64 = 1 << 52;

/// Whether every timestamp the walk over `pts` and `g` subtracts lies below
/// [`EXACT_TIME`]: then the extrapolation depends on the window's shape alone.
fn memoizable(pts: &[Sample], g: &Grid, offset: i64, range: i64) -> bool {
    let within = |t: Option<i64>| t.and_then(i64::checked_abs).is_some_and(|a| a < EXACT_TIME);
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return false;
    };
    within(Some(first.t))
        && within(Some(last.t))
        && within(
            g.start
                .checked_sub(offset)
                .and_then(|e| e.checked_sub(range)),
        )
        && within(g.end.checked_sub(offset))
}

/// The shape of a window: its first sample's distance from the start, its last's from
/// the end, their distance apart, and the sample count.
#[derive(Clone, Copy, PartialEq)]
struct Shape {
    to_first: i64,
    from_last: i64,
    span: i64,
    len: usize,
}

/// What extrapolation makes of a window's shape when the zero clamp of counters does
/// not apply.
#[derive(Clone, Copy)]
struct Scaled {
    shape: Shape,
    /// `extrapolate`'s `to_start` before the zero clamp, and `sampled`.
    to_start: f64,
    sampled: f64,
    /// What `result` is multiplied by.
    factor: f64,
}

impl Scaled {
    /// Matches no window: every window extrapolated holds at least two samples.
    const NONE: Scaled = Scaled {
        shape: Shape {
            to_first: 0,
            from_last: 0,
            span: 0,
            len: 0,
        },
        to_start: 0.0,
        sampled: 0.0,
        factor: 0.0,
    };
}

/// [`extrapolate_as`]'s factor for a window of `shape` without the zero clamp: the same
/// [`Edges`] on the same values (with every time below [`EXACT_TIME`],
/// `first.t as f64 - start as f64` is `to_first as f64`), so the same bits.
fn scale<const RATE: bool>(shape: Shape, range_s: f64) -> Scaled {
    let e = Edges::new(
        shape.to_first as f64 / 1000.0,
        shape.from_last as f64 / 1000.0,
        shape.span as f64 / 1000.0,
        shape.len,
    );
    Scaled {
        shape,
        to_start: e.to_start,
        sampled: e.sampled,
        factor: e.factor::<RATE>(range_s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::functions::rate::extrapolated_rate;

    /// A counter with resets, an irregular interval and a gap, so windows hold 0..many
    /// samples and resets at their edges.
    fn counter() -> Vec<Sample> {
        let mut out = Vec::new();
        let (mut t, mut v) = (0i64, 5.0f64);
        for k in 0..400u64 {
            t += 700 + (k * 7919 % 900) as i64;
            if k % 37 == 36 {
                v = (k % 5) as f64 * 0.3;
            } else {
                v += ((k * 104_729) % 1000) as f64 / 97.0;
            }
            if !(150..170).contains(&k) {
                out.push(Sample::new(t, v));
            }
        }
        out
    }

    fn far() -> par::Stop {
        par::Stop {
            deadline: std::time::Instant::now() + std::time::Duration::from_secs(3600),
            cancel: crate::cancel::CancelToken::default(),
        }
    }

    fn input(points: Vec<Sample>, range: i64, offset: i64, at: Option<i64>) -> RangeInput {
        let series = vec![GSeries {
            labels: Labels::from_pairs([("job", "a")]),
            drop_name: false,
            points,
        }];
        RangeInput::evaluated(series, range, offset, at, true)
    }

    /// A counter sampled every second at x.500 s, as scrapes are, so that most windows
    /// share one shape; it starts at zero and resets to small values now and then, so
    /// that windows near zero extrapolate with the clamp.
    fn regular_counter() -> Vec<Sample> {
        let mut v = 0.0f64;
        (0..400u64)
            .filter(|k| !(200..203).contains(k))
            .map(|k| {
                if k % 53 == 52 {
                    v = (k % 3) as f64 * 0.25;
                } else {
                    v += ((k * 104_729) % 1000) as f64 / 97.0;
                }
                Sample::new(k as i64 * 1000 + 500, v)
            })
            .collect()
    }

    #[test]
    fn sliding_rate_is_bit_identical_to_scanning_each_window() {
        let grids = [
            Grid {
                start: 0,
                end: 400_000,
                step: 1000,
            },
            Grid {
                start: 3_500,
                end: 390_000,
                step: 15_000,
            },
            Grid {
                start: 100_000,
                end: 100_000,
                step: 1,
            },
        ];
        for g in grids {
            for (range, offset, at) in [
                (60_000, 0, None),
                (5_000, 0, None),
                (60_000, 30_000, None),
                (60_000, 0, Some(200_000)),
            ] {
                for (inp, (is_counter, is_rate)) in
                    [counter(), regular_counter()].into_iter().flat_map(|c| {
                        [(true, true), (true, false), (false, false)]
                            .map(|kind| (input(c.clone(), range, offset, at), kind))
                    })
                {
                    let fast =
                        apply_rate(&inp, &g, &far(), is_counter, is_rate).unwrap_or_default();
                    let slow = apply(&inp, &g, &far(), &|s, w, _| {
                        extrapolated_rate(s, w, is_counter, is_rate)
                    })
                    .unwrap_or_default();
                    let bits = |v: &[GSeries]| -> Vec<(i64, u64)> {
                        v.iter()
                            .flat_map(|s| s.points.iter().map(|p| (p.t, p.v.to_bits())))
                            .collect()
                    };
                    assert!(!bits(&slow).is_empty());
                    assert_eq!(
                        bits(&fast),
                        bits(&slow),
                        "{g:?} range {range} offset {offset}"
                    );
                }
            }
        }
    }

    #[test]
    fn cursors_find_the_same_windows_as_a_search() {
        let inp = input(counter(), 60_000, 0, None);
        let g = Grid {
            start: 0,
            end: 400_000,
            step: 1000,
        };
        let s = &inp.series[0];
        let got = apply(&inp, &g, &far(), &|w, _, _| {
            Some(w.len() as f64 + w.first().map_or(0.0, |p| p.t as f64))
        })
        .unwrap_or_default();
        let want: Vec<Sample> = (0..g.len())
            .map(|i| {
                let w = inp.window(s, inp.eff(g.ts(i)));
                Sample::new(
                    g.ts(i),
                    w.len() as f64 + w.first().map_or(0.0, |p| p.t as f64),
                )
            })
            .collect();
        assert_eq!(got.first().map(|s| s.points.clone()), Some(want));
    }
}
