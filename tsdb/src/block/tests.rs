use std::path::Path;

use proptest::prelude::*;

use super::chunks_reader::ChunksReader;
use super::chunks_writer::{ChunkEncoding, ChunksWriter};
use super::codec::Cursor;
use super::packed::{self, PackedIter, GROUP};
use super::ENC_PACKED;
use crate::error::{Error, Result};
use crate::sample::{Sample, STALE_NAN_BITS};

fn decode_standalone(data: &[u8]) -> Result<Vec<Sample>> {
    let p = Path::new("chunk");
    let mut no_shared = |_: u64| -> Result<(&[u8], u64)> {
        Err(super::codec::corruption(p, 0, "no shared columns here"))
    };
    let mut it = PackedIter::new(p, data, 0, &mut no_shared)?;
    let mut out = Vec::with_capacity(it.len().min(1 << 16));
    while let Some(s) = it.next_sample()? {
        out.push(s);
    }
    Ok(out)
}

fn bits(s: &[Sample]) -> Vec<(i64, u64)> {
    s.iter().map(|s| (s.t, s.v.to_bits())).collect()
}

fn jittered(n: usize, start: i64, jitter: &[i64]) -> Vec<i64> {
    (0..n)
        .map(|i| start + i as i64 * 1000 + jitter[i % jitter.len()])
        .collect()
}

#[test]
fn ints_round_trip_every_width() {
    let xs: Vec<i64> = (0..200)
        .map(|i| match i % 5 {
            0 => i64::MIN,
            1 => i64::MAX,
            2 => 0,
            3 => -(i as i64),
            _ => (i as i64) << 40,
        })
        .collect();
    let mut buf = Vec::new();
    packed::put_ints(&mut buf, &xs);
    let got = packed::decode_ints(&buf, xs.len());
    assert_eq!(got.ok(), Some(xs));
    // However long, a run of one value costs its header, value and length.
    let mut buf = Vec::new();
    packed::put_ints(&mut buf, &[7; 10_000]);
    assert_eq!(buf.len(), 4);
    assert_eq!(
        packed::decode_ints(&buf, 10_000).ok(),
        Some(vec![7; 10_000])
    );
}

#[test]
fn ints_mix_runs_sparse_and_packed_groups() {
    // Zeros with rare spikes (sparse), long idle stretches (runs) and dense noise.
    let xs: Vec<i64> = (0..2000i64)
        .map(|i| match i {
            0..=499 => i64::from(i % 97 == 0) * 4096,
            500..=1199 => 0,
            _ => (i * 7919) % 1013 - 500,
        })
        .collect();
    let mut buf = Vec::new();
    packed::put_ints(&mut buf, &xs);
    assert_eq!(packed::decode_ints(&buf, xs.len()).ok(), Some(xs.clone()));
    // Fewer values than written is an error-free prefix; more is corruption.
    assert!(packed::decode_ints(&buf, xs.len() + 1).is_err());
    for cut in 0..buf.len() {
        assert!(packed::decode_ints(&buf[..cut], xs.len()).is_err());
    }
}

#[test]
fn counter_with_jitter_is_much_smaller_than_xor() {
    let ts = jittered(1800, 1_700_000_000_123, &[0, 2, -3, 1, -1, 3, 0, -2]);
    let mut v = 1e6;
    let samples: Vec<Sample> = ts
        .iter()
        .enumerate()
        .map(|(i, &t)| {
            v += (i * 7919 % 97) as f64;
            Sample::new(t, v)
        })
        .collect();
    let data = packed::encode(&samples).record(None, None);
    let mut xor = crate::chunk::XorChunk::new();
    for s in &samples {
        xor.append(s.t, s.v);
    }
    assert!(
        data.len() * 2 < xor.size_bytes(),
        "packed {} vs xor {}",
        data.len(),
        xor.size_bytes()
    );
    assert_eq!(
        bits(&decode_standalone(&data).unwrap_or_default()),
        bits(&samples)
    );
}

#[test]
fn special_values_become_exceptions() {
    let specials = [
        f64::from_bits(STALE_NAN_BITS),
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
    ];
    let samples: Vec<Sample> = (0..100)
        .map(|i| {
            let v = if i % 20 == 7 {
                specials[(i / 20) % specials.len()]
            } else {
                i as f64 * 0.25
            };
            Sample::new(i as i64 * 1000, v)
        })
        .collect();
    let parts = packed::encode(&samples);
    // Five exceptions in 100 samples keep the decimal kind.
    assert_eq!(parts.values[0], 0);
    let got = decode_standalone(&parts.record(None, None)).unwrap_or_default();
    assert_eq!(bits(&got), bits(&samples));
}

#[test]
fn non_decimal_values_are_packed_as_float_bits() {
    let samples: Vec<Sample> = (0..100)
        .map(|i| Sample::new(i * 1000, (i as f64).sqrt() / 3.0))
        .collect();
    let parts = packed::encode(&samples);
    assert_eq!(parts.values[0], 1);
    let got = decode_standalone(&parts.record(None, None)).unwrap_or_default();
    assert_eq!(bits(&got), bits(&samples));
}

#[test]
fn memory_gauges_lose_their_page_size() {
    let samples: Vec<Sample> = (0..256)
        .map(|i| Sample::new(i * 1000, ((1_000_000 + (i * 37 % 101)) * 4096) as f64))
        .collect();
    let data = packed::encode(&samples).record(None, None);
    // 101 distinct page counts: 7 bits a sample, plus headers, once 4096 is divided out.
    assert!(data.len() < 256 * 7 / 8 + 64, "{} bytes", data.len());
    assert_eq!(
        bits(&decode_standalone(&data).unwrap_or_default()),
        bits(&samples)
    );
}

#[test]
fn truncated_packed_chunks_are_errors_not_panics() {
    let samples: Vec<Sample> = (0..300)
        .map(|i| Sample::new(i * 1000 + (i % 3), (i * i) as f64 / 10.0))
        .collect();
    let data = packed::encode(&samples).record(None, None);
    for cut in 0..data.len() {
        let r = decode_standalone(&data[..cut]);
        assert!(
            matches!(r, Err(Error::Corruption { .. })),
            "cut at {cut} gave {r:?}"
        );
    }
    // Flipping bits must never panic; it may decode to other samples (the record CRC is
    // what catches that) or fail.
    for i in 0..data.len() {
        for bit in [0x01u8, 0x10, 0x80] {
            let mut d = data.clone();
            d[i] ^= bit;
            let _ = decode_standalone(&d);
        }
    }
}

#[test]
fn shared_columns_are_written_once_and_resolved() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let ts = jittered(GROUP * 10 + 5, 1_000_000, &[1, -2, 0, 3]);
    let mut w = ChunksWriter::new(dir.path(), 1 << 20);
    // The fourth series repeats the first one's values (as `_count` repeats `+Inf`).
    let series: Vec<Vec<Sample>> = [1, 2, 3, 1]
        .iter()
        .map(|k| {
            ts.iter()
                .enumerate()
                .map(|(i, &t)| Sample::new(t, (i * k * (i % 7)) as f64))
                .collect()
        })
        .collect();
    let mut refs = Vec::new();
    for s in &series {
        let wc = w.write_chunk(s, None, ChunkEncoding::Auto);
        let Ok(wc) = wc else {
            panic!("write failed: {wc:?}");
        };
        assert_eq!(wc.encoding, ENC_PACKED);
        refs.push(wc);
    }
    // The later chunks refer to the first one's timestamps; the last one to its values too.
    assert!(refs[1].bytes + 100 < refs[0].bytes, "{refs:?}");
    assert!(refs[3].bytes < 16, "{refs:?}");
    assert!(w.finish().is_ok());
    let r = ChunksReader::open(dir.path());
    let Ok(r) = r else {
        panic!("open failed");
    };
    for (s, wc) in series.iter().zip(&refs) {
        let mut got = Vec::new();
        let res = r.samples_in(
            wc.chunk_ref,
            Path::new("index"),
            i64::MIN,
            i64::MAX,
            &mut got,
        );
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(bits(&got), bits(s));
    }
    assert!(r.verify().is_ok());
}

/// Writes `series` as chunks of one segment, reads them back, and returns the records'
/// sizes.
fn write_and_read_back(series: &[Vec<Sample>]) -> Vec<u64> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut w = ChunksWriter::new(dir.path(), 64 << 20);
    let mut refs = Vec::new();
    for s in series {
        let wc = w.write_chunk(s, None, ChunkEncoding::Auto);
        let Ok(wc) = wc else {
            panic!("write failed: {wc:?}");
        };
        refs.push(wc);
    }
    assert!(w.finish().is_ok());
    let r = ChunksReader::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    for (s, wc) in series.iter().zip(&refs) {
        let mut got = Vec::new();
        let res = r.samples_in(
            wc.chunk_ref,
            Path::new("index"),
            i64::MIN,
            i64::MAX,
            &mut got,
        );
        assert!(res.is_ok(), "{res:?}");
        assert_eq!(bits(&got), bits(s));
    }
    assert!(r.verify().is_ok());
    refs.iter().map(|r| r.bytes).collect()
}

/// Cumulative buckets of a histogram: `+Inf` first (as label order puts it), then upper
/// buckets that trail it by a few rare observations.
fn buckets(n: usize) -> Vec<Vec<Sample>> {
    let ts = jittered(n, 1_000_000, &[0]);
    let mut state = 0x2545_f491u64;
    let mut rnd = |m: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % m
    };
    let (mut inf, mut slow) = (0u64, 0u64);
    let mut rows = Vec::with_capacity(n);
    for _ in 0..n {
        inf += rnd(40);
        slow += u64::from(rnd(8) == 0);
        rows.push((inf, slow.min(inf)));
    }
    let col = |f: &dyn Fn(&(u64, u64)) -> f64| -> Vec<Sample> {
        ts.iter()
            .zip(&rows)
            .map(|(&t, r)| Sample::new(t, f(r)))
            .collect()
    };
    vec![col(&|r| r.0 as f64), col(&|r| (r.0 - r.1) as f64)]
}

#[test]
fn upper_buckets_are_written_relative_to_inf() {
    let series = buckets(1800);
    let sizes = write_and_read_back(&series);
    // Alone, the upper bucket costs about as much as `+Inf` (6 bits a sample); against
    // it, only the rare slow requests remain.
    let alone = packed::encode(&series[1]).values.len() as u64;
    assert!(alone > 1000, "{alone}");
    assert!(sizes[1] * 3 < alone, "{sizes:?} vs {alone}");
}

#[test]
fn relative_values_keep_exceptions_and_stale_markers() {
    let mut series = buckets(500);
    series[1][7].v = f64::from_bits(STALE_NAN_BITS);
    series[1][8].v = f64::INFINITY;
    series[1][9].v = 0.123_456_789_123;
    let sizes = write_and_read_back(&series);
    let alone = packed::encode(&series[1]).values.len() as u64;
    assert!(sizes[1] < alone, "{sizes:?} vs {alone}");
}

#[test]
fn relative_values_must_refer_to_decimals() {
    // A relative section whose reference holds float bits is corrupt, not misread.
    let floats: Vec<Sample> = (0..100)
        .map(|i| Sample::new(i * 1000, 0.1 + f64::from(i as i32) * 1e-17))
        .collect();
    let ints: Vec<Sample> = (0..100).map(|i| Sample::new(i * 1000, i as f64)).collect();
    let reference = packed::encode(&floats).record(None, None);
    let body = packed::encode_relative(&ints, 0, &[0; 100]).unwrap_or_default();
    let rec = packed::encode(&ints).record_with(None, packed::ValuesIn::Relative(1, &body));
    let p = Path::new("chunk");
    let mut resolve = |_: u64| -> Result<(&[u8], u64)> { Ok((&reference, 0)) };
    assert!(matches!(
        PackedIter::new(p, &rec, 0, &mut resolve),
        Err(Error::Corruption { .. })
    ));
}

#[test]
fn columns_written_long_before_are_still_shared() {
    // `_count` repeats `+Inf` after every other bucket of the block: the first column has
    // long left the write buffer when its twin arrives.
    let first = buckets(1000).remove(0);
    let mut series = vec![first.clone()];
    let mut state = 1u64;
    for k in 0..300 {
        series.push(
            first
                .iter()
                .map(|s| {
                    state = state
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(k);
                    Sample::new(s.t, f64::from_bits(state >> 12 | 0x3ff0_0000_0000_0000))
                })
                .collect(),
        );
    }
    series.push(first);
    let sizes = write_and_read_back(&series);
    let written: u64 = sizes.iter().sum();
    // Past the 1 MiB write buffer.
    assert!(written > 3 << 19, "{written}");
    assert!(*sizes.last().unwrap_or(&0) < 24, "{:?}", sizes.last());
}

#[test]
fn cursor_reports_absolute_offsets() {
    let p = Path::new("f");
    let mut c = Cursor::new(p, &[1, 2], 40);
    assert!(c.u8().is_ok());
    match c.u32() {
        Err(Error::Corruption { offset, .. }) => assert_eq!(offset, 41),
        other => panic!("unexpected {other:?}"),
    }
}

/// Strictly increasing timestamps from arbitrary positive gaps, including huge ones.
fn timestamps(n: usize) -> impl Strategy<Value = Vec<i64>> {
    (
        any::<i64>(),
        prop::collection::vec(
            prop_oneof![
                4 => 995i64..1006,
                1 => 1i64..100_000,
                1 => 1i64..(1 << 40),
            ],
            n,
        ),
    )
        .prop_map(|(start, gaps)| {
            let mut t = start / 4;
            gaps.into_iter()
                .map(|g| {
                    t = t.saturating_add(g);
                    t
                })
                .collect::<Vec<_>>()
        })
        .prop_filter("strictly increasing", |ts| {
            ts.windows(2).all(|w| w[0] < w[1])
        })
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => (-1_000_000i64..1_000_000).prop_map(|m| m as f64),
        3 => (-1_000_000i64..1_000_000, 0u32..7).prop_map(|(m, k)| m as f64 / 10f64.powi(k as i32)),
        1 => Just(f64::from_bits(STALE_NAN_BITS)),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => any::<f64>(),
        1 => Just(9_007_199_254_740_993.0),
    ]
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic_the_packed_decoder(
        data in prop::collection::vec(any::<u8>(), 0..200),
        other in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let p = Path::new("chunk");
        let mut resolve = |_: u64| -> Result<(&[u8], u64)> { Ok((&other, 0)) };
        if let Ok(mut it) = PackedIter::new(p, &data, 0, &mut resolve) {
            let mut n = 0;
            while let Ok(Some(_)) = it.next_sample() {
                n += 1;
            }
            prop_assert!(n <= packed::MAX_SAMPLES);
        }
    }

    #[test]
    fn packed_round_trips_bit_exact(
        (ts, vs) in (1usize..300).prop_flat_map(|n| (timestamps(n), prop::collection::vec(value(), n)))
    ) {
        let samples: Vec<Sample> = ts.iter().zip(&vs).map(|(&t, &v)| Sample::new(t, v)).collect();
        let got = decode_standalone(&packed::encode(&samples).record(None, None));
        prop_assert!(got.is_ok(), "{:?}", got);
        prop_assert_eq!(bits(&got.unwrap_or_default()), bits(&samples));
    }

    #[test]
    fn relative_value_sections_round_trip(
        (ts, base, deltas) in (1usize..300).prop_flat_map(|n| (
            timestamps(n),
            prop::collection::vec(-1_000_000i64..1_000_000, n),
            prop::collection::vec(prop_oneof![8 => -3i64..3, 1 => any::<i32>().prop_map(i64::from)], n),
        )),
        scale in 0u32..4,
        specials in prop::collection::vec((any::<prop::sample::Index>(), value()), 0..4),
    ) {
        let div = 10f64.powi(scale as i32);
        let a: Vec<Sample> = ts.iter().zip(&base).map(|(&t, &m)| Sample::new(t, m as f64 / div)).collect();
        let mut b: Vec<Sample> = ts
            .iter()
            .zip(base.iter().zip(&deltas))
            .map(|(&t, (&m, &d))| Sample::new(t, (m + d) as f64 / div))
            .collect();
        let n = b.len();
        for (i, v) in specials {
            b[i.index(n)].v = v;
        }
        // Through the writer, which picks a relative section when it is smaller.
        write_and_read_back(&[a.clone(), b.clone()]);
        // And forced, against the reference's own integers.
        let pa = packed::encode(&a);
        if let Some(body) = pa.decimal.as_ref().and_then(|(k, ints)| packed::encode_relative(&b, *k, ints)) {
            let reference = pa.record(None, None);
            let rec = packed::encode(&b).record_with(None, packed::ValuesIn::Relative(1, &body));
            let p = Path::new("chunk");
            let mut resolve = |_: u64| -> Result<(&[u8], u64)> { Ok((&reference, 0)) };
            let mut it = PackedIter::new(p, &rec, 0, &mut resolve);
            prop_assert!(it.is_ok(), "{:?}", it.as_ref().err());
            let mut got = Vec::new();
            if let Ok(it) = it.as_mut() {
                while let Ok(Some(s)) = it.next_sample() {
                    got.push(s);
                }
            }
            prop_assert_eq!(bits(&got), bits(&b));
        }
    }

    #[test]
    fn chunk_records_round_trip_with_either_encoding(
        (ts, vs) in (1usize..300).prop_flat_map(|n| (timestamps(n), prop::collection::vec(value(), n))),
        xor_only in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let samples: Vec<Sample> = ts.iter().zip(&vs).map(|(&t, &v)| Sample::new(t, v)).collect();
        let enc = if xor_only { ChunkEncoding::Xor } else { ChunkEncoding::Auto };
        let mut w = ChunksWriter::new(dir.path(), 1 << 20);
        let wc = w.write_chunk(&samples, None, enc);
        prop_assert!(wc.is_ok());
        prop_assert!(w.finish().is_ok());
        let r = ChunksReader::open(dir.path());
        prop_assert!(r.is_ok());
        let (Ok(wc), Ok(r)) = (wc, r) else { unreachable!() };
        let mut got = Vec::new();
        let res = r.samples_in(wc.chunk_ref, Path::new("index"), i64::MIN, i64::MAX, &mut got);
        prop_assert!(res.is_ok(), "{:?}", res);
        prop_assert_eq!(bits(&got), bits(&samples));
    }
}
