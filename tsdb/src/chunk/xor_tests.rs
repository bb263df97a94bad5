use proptest::prelude::*;

use super::*;
use crate::sample::STALE_NAN_BITS;

/// Deterministic pseudo-random numbers for reproducible series (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `-k..=k`.
    fn jitter(&mut self, k: i64) -> i64 {
        (self.next() % (2 * k as u64 + 1)) as i64 - k
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn encode(samples: &[(i64, f64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, v);
    }
    c
}

/// Asserts that `samples` come back bit-exactly, from the chunk and from its bytes.
fn assert_round_trip(samples: &[(i64, f64)]) -> XorChunk {
    let c = encode(samples);
    assert_eq!(c.num_samples(), samples.len());
    assert_eq!(c.first_time(), samples.first().map(|s| s.0));
    assert_eq!(c.last_time(), samples.last().map(|s| s.0));
    let decoded: Vec<(i64, u64)> = (&c).into_iter().map(|s| (s.t, s.v.to_bits())).collect();
    let want: Vec<(i64, u64)> = samples.iter().map(|&(t, v)| (t, v.to_bits())).collect();
    assert_eq!(decoded, want);

    let mut back = XorChunk::from_bytes(c.bytes().to_vec()).unwrap();
    back.shrink_to_fit();
    assert_eq!(back.size_bytes(), c.size_bytes());
    assert_eq!(back.num_samples(), samples.len());
    assert_eq!(back.first_time(), c.first_time());
    assert_eq!(back.last_time(), c.last_time());
    let decoded: Vec<(i64, u64)> = back.iter().map(|s| (s.t, s.v.to_bits())).collect();
    assert_eq!(decoded, want);
    c
}

/// The first timestamp comes from the span back from the last one while the span fits 32
/// bits of ms, and from the bytes past that (49.7 days), also in a chunk read back.
#[test]
fn first_time_is_exact_past_the_span_it_keeps() {
    const DAY_MS: i64 = 86_400_000;
    for gaps in [
        vec![1_000, 1_000],
        vec![u32::MAX as i64 - 1, 1],
        vec![u32::MAX as i64, 1],
        vec![60 * DAY_MS, 1_000],
        vec![10 * DAY_MS; 6],
        vec![i64::MAX / 2, i64::MAX / 2],
    ] {
        let mut t = -5 * DAY_MS;
        let mut samples = vec![(t, 0.5)];
        for g in gaps {
            t += g;
            samples.push((t, 1.5));
        }
        assert_round_trip(&samples);
    }
}

/// Every series in the head holds an open chunk: its state must not grow unnoticed.
#[test]
fn open_chunk_state_fits_64_bytes() {
    assert!(std::mem::size_of::<XorChunk>() <= 64);
}

/// A chunk read back keeps appending with the same XOR window as the one that wrote it, so
/// the two encodings stay identical sample for sample.
#[test]
fn chunk_read_back_appends_like_the_original() {
    let mut a = XorChunk::new();
    let mut t = 1_000;
    for i in 0..50 {
        t += 1000 + i % 3;
        a.append(t, (i as f64).sqrt() * 1.5e3);
    }
    let mut b = XorChunk::from_bytes(a.bytes().to_vec()).expect("valid chunk");
    for i in 0..50 {
        t += 1000;
        let v = 7.25 * i as f64;
        a.append(t, v);
        b.append(t, v);
    }
    assert_eq!(a.bytes(), b.bytes());
    assert_eq!(b.first_time(), Some(2_000));
}

#[test]
fn empty_chunk() {
    let c = assert_round_trip(&[]);
    assert!(c.is_empty());
    assert_eq!(c.bytes(), &[0, 0]);
    assert_eq!(c.iter().next(), None);
    assert_eq!(XorChunk::default(), c);
}

/// An empty chunk that follows a sample holds nothing, but gives that sample as the newest
/// until one is appended, and then encodes exactly as a new chunk.
#[test]
fn empty_chunk_after_a_sample_gives_it_as_the_newest() {
    assert_eq!(XorChunk::new().newest(), (i64::MIN, 0));
    let mut c = XorChunk::empty_after(40, 2.5f64.to_bits());
    assert_eq!(
        (c.num_samples(), c.first_time(), c.last_time()),
        (0, None, None)
    );
    assert_eq!(c.newest(), (40, 2.5f64.to_bits()));
    assert_eq!(c, XorChunk::new());
    for (t, v) in [(50, 1.0), (60, 2.5), (75, 2.5)] {
        c.append(t, v);
    }
    assert_eq!(c.newest(), (75, 2.5f64.to_bits()));
    assert_eq!(
        c.bytes(),
        encode(&[(50, 1.0), (60, 2.5), (75, 2.5)]).bytes()
    );
    assert_eq!(c.first_time(), Some(50));
}

/// `follow` does to an empty chunk in place what `empty_after` makes anew; a chunk that
/// holds samples refuses, as its encoder state is its own last sample.
#[test]
fn an_empty_chunk_follows_a_sample_in_place() {
    let mut c = XorChunk::new();
    c.follow(7, 1.5f64.to_bits());
    assert_eq!(
        c.newest(),
        XorChunk::empty_after(7, 1.5f64.to_bits()).newest()
    );
    assert_eq!((c.num_samples(), c.bytes()), (0, &[0u8, 0][..]));
    let mut full = encode(&[(1, 1.0)]);
    let refused = std::panic::catch_unwind(move || full.follow(7, 0));
    assert!(refused.is_err());
}

#[test]
fn single_and_two_samples() {
    assert_round_trip(&[(1_700_000_000_000, 1.5)]);
    assert_round_trip(&[(-5, 2.0), (7, -3.25)]);
}

#[test]
fn special_values_round_trip_bit_exactly() {
    let odd_nan = f64::from_bits(0x7ff8_dead_beef_0001);
    let neg_nan = f64::from_bits(0xfff8_0000_0000_0000);
    let c = assert_round_trip(&[
        (1000, 1.0),
        (2000, f64::NAN),
        (3000, f64::from_bits(STALE_NAN_BITS)),
        (4000, f64::INFINITY),
        (5000, f64::NEG_INFINITY),
        (6000, -0.0),
        (7000, 0.0),
        (8000, odd_nan),
        (9000, neg_nan),
        (10000, f64::from_bits(STALE_NAN_BITS)),
        (11000, f64::MIN_POSITIVE),
        (12000, f64::MAX),
        (13000, f64::from_bits(1)),
    ]);
    let stale: Vec<bool> = c.iter().map(|s| crate::is_stale_nan(s.v)).collect();
    assert_eq!(stale.iter().filter(|&&b| b).count(), 2);
    assert!(stale[2] && stale[9]);
}

#[test]
fn extreme_and_negative_timestamps() {
    assert_round_trip(&[
        (i64::MIN, 1.0),
        (i64::MIN + 1, 2.0),
        (0, 3.0),
        (i64::MAX, 4.0),
    ]);
    assert_round_trip(&[
        (-10_000, 1.0),
        (-9_000, 1.0),
        (-8_000, 1.0),
        (-1, 1.0),
        (5, 1.0),
    ]);
    let year = 365 * 24 * 3600 * 1000i64;
    assert_round_trip(&[
        (0, 1.0),
        (1000, 2.0),
        (1000 + 30 * year, 3.0),
        (1001 + 30 * year, 4.0),
        (2001 + 30 * year, 5.0),
        (2001 + 60 * year, 6.0),
    ]);
}

#[test]
fn every_dod_bucket_boundary_round_trips() {
    let mut samples = vec![(0i64, 0.0f64), (1000, 0.0)];
    let mut t = 1000i64;
    let mut delta = 1000i64;
    for dod in [
        0, 63, -64, 64, -65, 8191, -8192, 8192, -8193, 524_287, -524_288, 524_288, -524_289, 1,
    ] {
        // Keep deltas positive by restoring a large delta before negative jumps.
        delta = (delta + dod).max(1);
        t += delta;
        samples.push((t, 0.0));
        delta += 600_000;
        t += delta;
        samples.push((t, 0.0));
    }
    assert_round_trip(&samples);
}

#[test]
fn identical_values_cost_about_two_bits() {
    let samples: Vec<(i64, f64)> = (0..1000).map(|i| (i * 1000, 42.0)).collect();
    let c = assert_round_trip(&samples);
    // 1 bit timestamp + 1 bit value per sample after the first two.
    assert!(
        c.size_bytes() < 2 + 20 + 1000 * 2 / 8 + 2,
        "{}",
        c.size_bytes()
    );
}

#[test]
fn random_walks_round_trip() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20 {
        let mut t = rng.jitter(1 << 40);
        let mut v = rng.unit() * 1000.0;
        let mut samples = Vec::new();
        for _ in 0..500 {
            t += 1 + (rng.next() % 20_000) as i64;
            v += rng.unit() - 0.5;
            samples.push((t, v));
        }
        assert_round_trip(&samples);
    }
}

#[test]
fn appending_after_from_bytes_continues_the_stream() {
    let samples: Vec<(i64, f64)> = (0..50).map(|i| (i * 997, (i as f64).sqrt())).collect();
    for split in 0..samples.len() {
        let first = encode(&samples[..split]);
        let mut c = XorChunk::from_bytes(first.bytes().to_vec()).unwrap();
        for &(t, v) in &samples[split..] {
            c.append(t, v);
        }
        assert_eq!(c, encode(&samples), "split at {split}");
    }
}

#[test]
fn seek_finds_first_sample_at_or_after() {
    let c = encode(&[(10, 1.0), (20, 2.0), (30, 3.0), (40, 4.0)]);
    let mut it = c.iter();
    assert_eq!(it.seek(5), Some(Sample::new(10, 1.0)));
    assert_eq!(it.seek(10), Some(Sample::new(10, 1.0)));
    assert_eq!(it.seek(11), Some(Sample::new(20, 2.0)));
    assert_eq!(it.next(), Some(Sample::new(20, 2.0)));
    // Never moves backwards.
    assert_eq!(it.seek(0), Some(Sample::new(30, 3.0)));
    assert_eq!(it.seek(40), Some(Sample::new(40, 4.0)));
    assert_eq!(it.size_hint(), (0, Some(1)));
    assert_eq!(it.next(), Some(Sample::new(40, 4.0)));
    assert_eq!(it.seek(0), None);

    let mut it = c.iter();
    assert_eq!(it.seek(41), None);
    assert_eq!(it.next(), None);
    assert!(it.err().is_none());
}

#[test]
fn corrupt_chunks_are_rejected() {
    let c = encode(&[(1000, 1.0), (2000, 2.0), (3000, 3.5), (4000, 1e9)]);
    let bytes = c.bytes().to_vec();

    assert!(matches!(
        XorChunk::from_bytes(vec![1]),
        Err(Error::CorruptChunk(_))
    ));
    // Every truncation is caught, by the constructor and by the iterator.
    for len in 0..bytes.len() {
        let cut = bytes[..len].to_vec();
        assert!(XorChunk::from_bytes(cut.clone()).is_err(), "len {len}");
        let mut it = XorIter::from_bytes(&cut);
        let n = it.by_ref().count();
        assert!(n < 4, "len {len}");
        assert!(
            matches!(it.err(), Some(Error::CorruptChunk(_))),
            "len {len}"
        );
    }
    // Trailing garbage and a count larger than the data.
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(XorChunk::from_bytes(extra).is_err());
    let mut more = bytes.clone();
    more[1] += 1;
    assert!(XorChunk::from_bytes(more).is_err());
    // Non-zero padding bits: two samples with equal values end 1 bit into the last byte.
    let two = encode(&[(0, 1.0), (1, 1.0)]);
    assert_eq!(two.size_bytes(), 2 + 1 + 8 + 1 + 1);
    let mut pad = two.into_bytes();
    assert!(XorChunk::from_bytes(pad.clone()).is_ok());
    if let Some(last) = pad.last_mut() {
        *last |= 1;
    }
    assert!(XorChunk::from_bytes(pad).is_err());
}

#[test]
fn non_increasing_timestamps_are_corrupt() {
    // Sample 1 with delta 0: a valid encoding of an invalid chunk.
    let bytes = vec![0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let err = XorChunk::from_bytes(bytes.clone()).unwrap_err();
    assert!(err.to_string().contains("not after"), "{err}");
    let mut it = XorIter::from_bytes(&bytes);
    assert_eq!(it.next(), Some(Sample::new(1, 0.0)));
    assert_eq!(it.next(), None);
    assert!(it.err().is_some());
}

#[test]
fn bytes_per_sample_on_a_realistic_one_second_series() {
    for jitter_ms in [0, 3] {
        let mut rng = Rng(42);
        let start = 1_700_000_000_000i64;
        let n = 7200;
        let mut counter = 0.0f64;
        let mut gauge = 50.0f64;
        let (mut counters, mut gauges, mut constants) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let t = start + i * 1000 + rng.jitter(jitter_ms);
            counter += (rng.next() % 50) as f64;
            gauge = ((gauge + rng.unit() - 0.5) * 100.0).round() / 100.0;
            counters.push((t, counter));
            gauges.push((t, gauge));
            constants.push((t, 1.0));
        }
        for chunk_len in [120usize, 600, 3600] {
            for (name, series) in [
                ("counter", &counters),
                ("gauge (2 decimals)", &gauges),
                ("constant", &constants),
            ] {
                let bytes: usize = series
                    .chunks(chunk_len)
                    .map(|part| assert_round_trip(part).size_bytes())
                    .sum();
                println!(
                    "1s series, ±{jitter_ms}ms jitter, {chunk_len:>4} samples/chunk, {name:<18}: \
                     {:.3} bytes/sample",
                    bytes as f64 / series.len() as f64
                );
            }
        }
    }
}

fn arb_value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        Just(f64::from_bits(STALE_NAN_BITS)),
        Just(f64::INFINITY),
        Just(-0.0),
        (0i32..1000).prop_map(f64::from),
        any::<f64>(),
    ]
}

proptest! {
    #[test]
    fn prop_round_trip(
        start in any::<i64>(),
        steps in prop::collection::vec(
            (prop_oneof![1u64..3, 990u64..1010, 1u64..1_000_000, 1u64..u64::MAX / 1024], arb_value()),
            0..300,
        ),
    ) {
        let mut samples = Vec::new();
        let mut t = start;
        for (step, v) in steps {
            samples.push((t, v));
            match t.checked_add(step as i64) {
                Some(next) if step as i64 > 0 => t = next,
                _ => break,
            }
        }
        assert_round_trip(&samples);
    }

    #[test]
    fn prop_arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut it = XorIter::from_bytes(&bytes);
        let n = it.by_ref().take(70_000).count();
        prop_assert!(n <= 65_535);
        let mut it = XorIter::from_bytes(&bytes);
        let _ = it.seek(0);
        if let Ok(c) = XorChunk::from_bytes(bytes.clone()) {
            // Anything the constructor accepts iterates cleanly to its count.
            let mut it = c.iter();
            prop_assert_eq!(it.by_ref().count(), c.num_samples());
            prop_assert!(it.err().is_none());
        }
    }

    #[test]
    fn prop_mutated_chunks_never_panic(
        seed in any::<u64>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
    ) {
        let mut rng = Rng(seed | 1);
        let mut c = XorChunk::new();
        let mut t = rng.jitter(1 << 40);
        for _ in 0..100 {
            t += 1 + (rng.next() % 5000) as i64;
            c.append(t, rng.unit());
        }
        let mut bytes = c.into_bytes();
        for (i, bit) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= 1 << bit;
        }
        let _ = XorIter::from_bytes(&bytes).count();
        let _ = XorChunk::from_bytes(bytes);
    }
}
