use proptest::prelude::*;

use super::*;
use crate::chunk::{XorChunk, XorIter};

/// What `XorIter` gives for the same bytes and range: the reference.
fn reference(bytes: &[u8], mint: i64, maxt: i64) -> Vec<(i64, u64)> {
    XorIter::from_bytes(bytes)
        .skip_while(|s| s.t < mint)
        .take_while(|s| s.t <= maxt)
        .map(|s| (s.t, s.v.to_bits()))
        .collect()
}

fn fast(bytes: &[u8], mint: i64, maxt: i64) -> Vec<(i64, u64)> {
    let mut out = vec![Sample::new(-7, 1.5)];
    extend_xor(bytes, mint, maxt, &mut out);
    // What was in the buffer stays.
    assert_eq!(out.first().map(|s| s.t), Some(-7));
    out[1..].iter().map(|s| (s.t, s.v.to_bits())).collect()
}

/// A chunk of every code the encoder writes: regular and jittered 1 s steps, gaps that
/// take each delta-of-delta bucket and the escape, repeated values, counters, NaN
/// payloads (the staleness marker), infinities, -0.0 and values needing all 64 bits.
fn varied_chunk() -> XorChunk {
    let mut c = XorChunk::new();
    let (mut t, mut v) = (-5_000i64, 0.0f64);
    for k in 0..400u64 {
        t += match k % 53 {
            7 => 40_000,
            19 => 9_000_000,
            31 => 1 << 40,
            _ => 1000 + (k * 7919 % 13) as i64 - 6,
        };
        v = match k % 17 {
            0 => v,
            3 => f64::from_bits(0x7ff0_0000_0000_0002),
            5 => f64::INFINITY,
            6 => -0.0,
            9 => f64::from_bits(k.wrapping_mul(0x9e37_79b9_7f4a_7c15)),
            _ => v + (k % 5) as f64 * 0.25,
        };
        c.append(t, v);
    }
    c
}

#[test]
fn decodes_every_code_as_the_iterator_does() {
    let c = varied_chunk();
    let bytes = c.bytes();
    let all = reference(bytes, i64::MIN, i64::MAX);
    assert_eq!(all.len(), 400);
    assert_eq!(fast(bytes, i64::MIN, i64::MAX), all);
    let times: Vec<i64> = all.iter().map(|s| s.0).collect();
    for (i, &lo) in times.iter().enumerate().step_by(7) {
        for &hi in times[i..].iter().step_by(11) {
            for (a, b) in [(lo, hi), (lo + 1, hi - 1), (lo - 1, hi + 1)] {
                assert_eq!(fast(bytes, a, b), reference(bytes, a, b), "[{a}, {b}]");
            }
        }
    }
    assert!(fast(bytes, 1, 0).is_empty());
}

#[test]
fn truncated_chunks_end_where_the_iterator_ends() {
    let c = varied_chunk();
    let bytes = c.bytes();
    for len in 0..bytes.len() {
        let cut = &bytes[..len];
        assert_eq!(
            fast(cut, i64::MIN, i64::MAX),
            reference(cut, i64::MIN, i64::MAX),
            "{len} bytes"
        );
    }
}

#[test]
fn empty_and_one_sample_chunks() {
    let c = XorChunk::new();
    assert!(fast(c.bytes(), i64::MIN, i64::MAX).is_empty());
    let mut c = XorChunk::new();
    c.append(i64::MIN + 1, f64::NAN);
    assert_eq!(
        fast(c.bytes(), i64::MIN, i64::MAX),
        reference(c.bytes(), i64::MIN, i64::MAX)
    );
}

proptest! {
    /// Damaged bytes (flipped bits, a wrong count) decode to the same samples as with the
    /// iterator: the same prefix, ending at the same field.
    #[test]
    fn damaged_chunks_decode_as_the_iterator_does(
        flips in proptest::collection::vec((0usize..4000, 0u8..8), 0..4),
        count in proptest::option::of(0u16..500),
        mint in -10_000i64..500_000,
        span in 0i64..1_000_000,
    ) {
        let c = varied_chunk();
        let mut bytes = c.bytes().to_vec();
        for (at, bit) in flips {
            let i = at % bytes.len();
            bytes[i] ^= 1 << bit;
        }
        if let Some(n) = count {
            bytes[..2].copy_from_slice(&n.to_be_bytes());
        }
        let maxt = mint + span;
        prop_assert_eq!(fast(&bytes, mint, maxt), reference(&bytes, mint, maxt));
        prop_assert_eq!(
            fast(&bytes, i64::MIN, i64::MAX),
            reference(&bytes, i64::MIN, i64::MAX)
        );
    }

    /// Arbitrary bytes never panic and agree with the iterator.
    #[test]
    fn random_bytes_decode_as_the_iterator_does(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        prop_assert_eq!(
            fast(&bytes, i64::MIN, i64::MAX),
            reference(&bytes, i64::MIN, i64::MAX)
        );
    }
}
