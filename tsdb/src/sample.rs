//! Samples and the staleness marker.

/// Bit pattern of Prometheus's staleness marker: a signalling NaN that no arithmetic
/// produces. It marks the end of a series (target gone, series disappeared) so that queries
/// stop returning the last value before the lookback delta runs out.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The staleness marker as a float.
pub fn stale_nan() -> f64 {
    f64::from_bits(STALE_NAN_BITS)
}

/// True when `v` is the staleness marker (compared by bits: every NaN is unequal to itself).
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}

/// One float sample: Unix time in milliseconds and a value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    pub t: i64,
    pub v: f64,
}

impl Sample {
    pub fn new(t: i64, v: f64) -> Self {
        Sample { t, v }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_marker_is_a_nan_but_not_every_nan_is_stale() {
        assert!(stale_nan().is_nan());
        assert!(is_stale_nan(stale_nan()));
        assert!(!is_stale_nan(f64::NAN));
    }
}
