//! Functions of a window that look at how a series changes: `rate`, `increase`, `delta`,
//! `irate`, `idelta`, `deriv`, `predict_linear`, `changes`, `resets`.

use tianshu_tsdb::Sample;

use super::math::kahan_inc;

/// Where one window lies: `(start, end]`, and the step it is evaluated for.
pub(crate) struct Win {
    pub start: i64,
    pub end: i64,
    pub range_ms: i64,
    pub ts: i64,
}

/// `rate`, `increase` and `delta`: the change over the window, extrapolated towards the
/// window edges unless the series seems to start or end inside the window.
pub(crate) fn extrapolated_rate(
    s: &[Sample],
    w: &Win,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let first = s[0];
    let last = s[s.len() - 1];
    let mut result = last.v - first.v;
    if is_counter {
        for pair in s.windows(2) {
            if pair[1].v < pair[0].v {
                result += pair[0].v;
            }
        }
    }
    Some(extrapolate(
        first,
        last,
        s.len(),
        result,
        w,
        is_counter,
        is_rate,
    ))
}

/// The second half of [`extrapolated_rate`]: scales `result`, the change between `first`
/// and `last` (with counter resets added back), from the `len` samples' span to the window.
pub(crate) fn extrapolate(
    first: Sample,
    last: Sample,
    len: usize,
    result: f64,
    w: &Win,
    is_counter: bool,
    is_rate: bool,
) -> f64 {
    let range_s = w.range_ms as f64 / 1000.0;
    match (is_counter, is_rate) {
        (true, true) => {
            extrapolate_as::<true, true>(first, last, len, result, w.start, w.end, range_s)
        }
        (true, false) => {
            extrapolate_as::<true, false>(first, last, len, result, w.start, w.end, range_s)
        }
        (false, true) => {
            extrapolate_as::<false, true>(first, last, len, result, w.start, w.end, range_s)
        }
        (false, false) => {
            extrapolate_as::<false, false>(first, last, len, result, w.start, w.end, range_s)
        }
    }
}

/// [`extrapolate`] with the function's kind fixed at compile time and the window given
/// by its `(start, end]` and its length in seconds, `range_s`, which a caller walking
/// many windows of one range divides out once. The same operations in the same order, so
/// the same bits.
#[inline(always)]
pub(crate) fn extrapolate_as<const COUNTER: bool, const RATE: bool>(
    first: Sample,
    last: Sample,
    len: usize,
    result: f64,
    start: i64,
    end: i64,
    range_s: f64,
) -> f64 {
    let mut e = Edges::new(
        (first.t as f64 - start as f64) / 1000.0,
        (end as f64 - last.t as f64) / 1000.0,
        (last.t - first.t) as f64 / 1000.0,
        len,
    );
    if COUNTER {
        // A counter cannot go below zero: do not extrapolate past the point where it
        // would have been zero.
        let mut to_zero = e.to_start;
        if result > 0.0 && first.v >= 0.0 {
            to_zero = e.sampled * (first.v / result);
        }
        if to_zero < e.to_start {
            e.to_start = to_zero;
        }
    }
    result * e.factor::<RATE>(range_s)
}

/// A window's extrapolation distances in seconds: from its start to the first sample,
/// from the last sample to its end, each cut to half the average interval when it is 1.1
/// times that or more, and the samples' span. The zero clamp of counters, which depends on
/// the values, is the caller's.
#[derive(Clone, Copy)]
pub(crate) struct Edges {
    pub(crate) to_start: f64,
    pub(crate) to_end: f64,
    pub(crate) sampled: f64,
}

impl Edges {
    #[inline(always)]
    pub(crate) fn new(to_start: f64, to_end: f64, sampled: f64, len: usize) -> Edges {
        // Through i64: x86 converts a signed integer in one instruction, an unsigned one
        // in a sequence; a window never holds 2^63 samples.
        let avg = sampled / (len - 1) as i64 as f64;
        let threshold = avg * 1.1;
        let cut = |d: f64| if d >= threshold { avg / 2.0 } else { d };
        Edges {
            to_start: cut(to_start),
            to_end: cut(to_end),
            sampled,
        }
    }

    /// What the change over the samples is multiplied by: to the window, and per second
    /// of it for a rate.
    #[inline(always)]
    pub(crate) fn factor<const RATE: bool>(&self, range_s: f64) -> f64 {
        let mut factor = (self.sampled + self.to_start + self.to_end) / self.sampled;
        if RATE {
            factor /= range_s;
        }
        factor
    }
}

/// `irate` and `idelta`: from the last two samples.
pub(crate) fn instant_value(s: &[Sample], is_rate: bool) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let last = s[s.len() - 1];
    let prev = s[s.len() - 2];
    let mut v = if is_rate && last.v < prev.v {
        last.v
    } else {
        last.v - prev.v
    };
    let interval = last.t - prev.t;
    if interval == 0 {
        return None;
    }
    if is_rate {
        v /= interval as f64 / 1000.0;
    }
    Some(v)
}

/// Least-squares fit of value over time (seconds relative to `intercept_time`).
pub(crate) fn linear_regression(s: &[Sample], intercept_time: i64) -> (f64, f64) {
    let mut n = 0.0;
    let (mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = s[0].v;
    let mut const_y = true;
    for (i, p) in s.iter().enumerate() {
        if const_y && i > 0 && p.v != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (p.t as f64 - intercept_time as f64) / 1000.0;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(p.v, sy, cy);
        (sxy, cxy) = kahan_inc(x * p.v, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    let intercept = sy / n - slope * sx / n;
    (slope, intercept)
}

pub(crate) fn deriv(s: &[Sample]) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    Some(linear_regression(s, s[0].t).0)
}

pub(crate) fn predict_linear(s: &[Sample], ts: i64, duration: f64) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let (slope, intercept) = linear_regression(s, ts);
    Some(slope * duration + intercept)
}

pub(crate) fn changes(s: &[Sample]) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    let n = s
        .windows(2)
        .filter(|p| p[1].v != p[0].v && !(p[1].v.is_nan() && p[0].v.is_nan()))
        .count();
    Some(n as f64)
}

pub(crate) fn resets(s: &[Sample]) -> Option<f64> {
    if s.is_empty() {
        return None;
    }
    Some(s.windows(2).filter(|p| p[1].v < p[0].v).count() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(v: &[(i64, f64)]) -> Vec<Sample> {
        v.iter().map(|&(t, v)| Sample::new(t, v)).collect()
    }

    #[test]
    fn rate_extrapolates_to_window_edges() {
        // 0,10,20,... every 15s; a 60s window ending at 60s holds 15s..60s.
        let s = samples(&[
            (15_000, 10.0),
            (30_000, 20.0),
            (45_000, 30.0),
            (60_000, 40.0),
        ]);
        let w = Win {
            start: 0,
            end: 60_000,
            range_ms: 60_000,
            ts: 60_000,
        };
        let inc = extrapolated_rate(&s, &w, true, false).unwrap_or(f64::NAN);
        assert!((inc - 40.0).abs() < 1e-9, "{inc}");
        let rate = extrapolated_rate(&s, &w, true, true).unwrap_or(f64::NAN);
        assert!((rate - 40.0 / 60.0).abs() < 1e-9);
    }

    #[test]
    fn counter_reset_adds_previous_value() {
        let s = samples(&[(0, 10.0), (10_000, 20.0), (20_000, 5.0)]);
        let w = Win {
            start: -1,
            end: 20_000,
            range_ms: 20_001,
            ts: 20_000,
        };
        // 20 - 10 + 5 = 15 over the sampled 20s, extrapolated by 1ms at the start.
        let inc = extrapolated_rate(&s, &w, true, false).unwrap_or(f64::NAN);
        assert!((inc - 15.0 * 20.001 / 20.0).abs() < 1e-9, "{inc}");
    }

    #[test]
    fn counter_extrapolation_stops_at_zero() {
        let s = samples(&[(30_000, 1.0), (60_000, 4.0)]);
        let w = Win {
            start: 0,
            end: 60_000,
            range_ms: 60_000,
            ts: 60_000,
        };
        // Without the zero clamp the start would be extended by 30s (to -2).
        let inc = extrapolated_rate(&s, &w, true, false).unwrap_or(f64::NAN);
        assert!((inc - 4.0).abs() < 1e-9, "{inc}");
    }
}
