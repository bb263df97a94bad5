//! The `*_over_time` family: statistics of the samples in a window.

use tianshu_tsdb::Sample;

use super::math::{kahan_inc, quantile};

pub(crate) fn avg(s: &[Sample]) -> f64 {
    let mut sum = s[0].v;
    let mut count = 1.0;
    let mut mean = 0.0;
    let mut c = 0.0;
    let mut incremental = false;
    for (i, p) in s.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.v, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            // The plain sum would overflow: switch to an incremental mean.
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        sum / count + c / count
    }
}

pub(crate) fn sum(s: &[Sample]) -> f64 {
    let (mut sum, mut c) = (0.0, 0.0);
    for p in s {
        (sum, c) = kahan_inc(p.v, sum, c);
    }
    if sum.is_infinite() {
        return sum;
    }
    sum + c
}

pub(crate) fn min(s: &[Sample]) -> f64 {
    let mut m = s[0].v;
    for p in s {
        if p.v < m || m.is_nan() {
            m = p.v;
        }
    }
    m
}

pub(crate) fn max(s: &[Sample]) -> f64 {
    let mut m = s[0].v;
    for p in s {
        if p.v > m || m.is_nan() {
            m = p.v;
        }
    }
    m
}

/// Population variance with compensated running sums.
pub(crate) fn stdvar(s: &[Sample]) -> f64 {
    let (mut count, mut mean, mut cmean, mut aux, mut caux) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for p in s {
        count += 1.0;
        let delta = p.v - (mean + cmean);
        (mean, cmean) = kahan_inc(delta / count, mean, cmean);
        (aux, caux) = kahan_inc(delta * (p.v - (mean + cmean)), aux, caux);
    }
    (aux + caux) / count
}

pub(crate) fn quantile_over(q: f64, s: &[Sample]) -> f64 {
    let mut v: Vec<f64> = s.iter().map(|p| p.v).collect();
    quantile(q, &mut v)
}

pub(crate) fn mad(s: &[Sample]) -> f64 {
    if s.iter().any(|p| p.v.is_nan()) {
        return f64::NAN;
    }
    let mut v: Vec<f64> = s.iter().map(|p| p.v).collect();
    let median = quantile(0.5, &mut v);
    let mut dev: Vec<f64> = s.iter().map(|p| (p.v - median).abs()).collect();
    quantile(0.5, &mut dev)
}

/// Holt's linear (double exponential) smoothing; `None` with fewer than two samples.
pub(crate) fn double_exponential_smoothing(s: &[Sample], sf: f64, tf: f64) -> Option<f64> {
    if s.len() < 2 {
        return None;
    }
    let mut s0 = 0.0;
    let mut s1 = s[0].v;
    let mut b = s[1].v - s[0].v;
    for (i, p) in s.iter().enumerate().skip(1) {
        let x = sf * p.v;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn avg_survives_overflowing_sum() {
        let s = [Sample::new(0, f64::MAX), Sample::new(1, f64::MAX)];
        assert_eq!(avg(&s), f64::MAX);
    }

    #[test]
    fn max_prefers_numbers_over_nan() {
        let s = [Sample::new(0, f64::NAN), Sample::new(1, 3.0)];
        assert_eq!(max(&s), 3.0);
    }
}
