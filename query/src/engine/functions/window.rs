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

use super::rate::{extrapolate, Win};
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
    let n = g.len();
    each_series(input, g, stop, |pts| {
        // Index `j` of every sample below its predecessor: a counter reset, whose
        // predecessor's value is added back to the window's change.
        let resets: Vec<usize> = if is_counter {
            (1..pts.len())
                .filter(|&j| pts[j].v < pts[j - 1].v)
                .collect()
        } else {
            Vec::new()
        };
        let mut points = Vec::with_capacity(n.min(pts.len()));
        let mut cur = Cursor::new();
        // First reset after the window's first sample.
        let mut r = 0;
        for ts in steps(g) {
            let win = win_at(input, ts);
            let (lo, hi) = cur.seek(pts, win.start, win.end);
            if hi - lo < 2 {
                continue;
            }
            let (first, last) = (pts[lo], pts[hi - 1]);
            let mut result = last.v - first.v;
            if is_counter {
                if r > 0 && resets[r - 1] > lo {
                    // The window moved backwards; find the first reset inside it again.
                    r = 0;
                }
                while r < resets.len() && resets[r] <= lo {
                    r += 1;
                }
                let mut k = r;
                while k < resets.len() && resets[k] < hi {
                    result += pts[resets[k] - 1].v;
                    k += 1;
                }
            }
            let v = extrapolate(first, last, hi - lo, result, &win, is_counter, is_rate);
            points.push(Sample::new(win.ts, v));
        }
        points
    })
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
                let inp = input(counter(), range, offset, at);
                for (is_counter, is_rate) in [(true, true), (true, false), (false, false)] {
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
