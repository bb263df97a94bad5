//! WAL record types and their payload encodings.
//!
//! Payloads (all integers LEB128 varints; "zigzag" marks signed ones; strings are a varint
//! byte length followed by UTF-8 bytes; floats are 8 bytes little-endian raw IEEE-754 bits,
//! so NaN payloads such as the staleness marker survive):
//!
//! | type byte | record   | payload                                                                     |
//! |-----------|----------|-----------------------------------------------------------------------------|
//! | 1         | Series   | count, then per series: id, label count, per label: name, value             |
//! | 2         | Samples  | count, then sample 0: id, zigzag t, value; sample i > 0: zigzag (id - previous id), zigzag (t - t of sample 0), value |
//! | 3         | Metadata | count, then per entry: metric family, kind (1 byte), help, unit             |
//! | 4         | Tombstones | count, then per entry: id, zigzag mint, maxt - mint (deleted samples of a head series, both ends inclusive) |
//!
//! Samples dominate the WAL. A write usually carries one scrape or remote-write batch, whose
//! samples share nearly one timestamp and have ids close to each other, so both deltas are
//! one byte typically and a sample costs about 10 bytes. Timestamp deltas are taken against
//! the first sample rather than the previous one so that a batch that lists each series'
//! samples in turn does not swing between large positive and negative deltas.

use super::codec::{put_f64, put_str, put_uvarint, put_varint, DecodeError, Decoder};
use crate::index::SeriesId;
use crate::labels::{Label, Labels};

#[derive(Clone, Debug, PartialEq)]
pub struct SeriesRecord {
    pub id: SeriesId,
    pub labels: Labels,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RefSample {
    pub id: SeriesId,
    pub t: i64,
    pub v: f64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MetadataRecord {
    pub metric_family: String,
    /// Metric type as in remote write's `MetricMetadata.MetricType` (0 unknown, 1 counter, ...).
    pub kind: u8,
    pub help: String,
    pub unit: String,
}

/// The samples of head series `id` in `[mint, maxt]` are deleted. Applies to the samples
/// logged before it; samples logged after it are not affected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TombstoneRecord {
    pub id: SeriesId,
    pub mint: i64,
    /// Inclusive; invariant `mint <= maxt`.
    pub maxt: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Record {
    Series(Vec<SeriesRecord>),
    Samples(Vec<RefSample>),
    Metadata(Vec<MetadataRecord>),
    Tombstones(Vec<TombstoneRecord>),
}

const TYPE_SERIES: u8 = 1;
const TYPE_SAMPLES: u8 = 2;
const TYPE_METADATA: u8 = 3;
const TYPE_TOMBSTONES: u8 = 4;

impl Record {
    /// The type byte written in the record header.
    pub(crate) fn type_byte(&self) -> u8 {
        match self {
            Record::Series(_) => TYPE_SERIES,
            Record::Samples(_) => TYPE_SAMPLES,
            Record::Metadata(_) => TYPE_METADATA,
            Record::Tombstones(_) => TYPE_TOMBSTONES,
        }
    }

    /// Appends the payload (without header) to `buf`.
    pub(crate) fn encode_payload(&self, buf: &mut Vec<u8>) {
        match self {
            Record::Series(series) => {
                put_uvarint(buf, series.len() as u64);
                for s in series {
                    put_uvarint(buf, u64::from(s.id));
                    put_uvarint(buf, s.labels.len() as u64);
                    for l in &s.labels {
                        put_str(buf, &l.name);
                        put_str(buf, &l.value);
                    }
                }
            }
            Record::Samples(samples) => encode_samples(buf, samples),
            Record::Metadata(md) => {
                put_uvarint(buf, md.len() as u64);
                for m in md {
                    put_str(buf, &m.metric_family);
                    buf.push(m.kind);
                    put_str(buf, &m.help);
                    put_str(buf, &m.unit);
                }
            }
            Record::Tombstones(stones) => {
                put_uvarint(buf, stones.len() as u64);
                for t in stones {
                    put_uvarint(buf, u64::from(t.id));
                    put_varint(buf, t.mint);
                    put_uvarint(buf, t.maxt.abs_diff(t.mint));
                }
            }
        }
    }

    /// Decodes a payload written by [`Record::encode_payload`] for `type_byte`.
    #[cfg(test)]
    pub(crate) fn decode(type_byte: u8, payload: &[u8]) -> Result<Record, DecodeError> {
        let mut samples = Vec::new();
        Ok(
            match Record::decode_reusing(type_byte, payload, &mut samples)? {
                Decoded::Samples(_) => Record::Samples(samples),
                Decoded::Other(rec) => rec,
            },
        )
    }

    /// [`Record::decode`] that decodes a `Samples` record into `samples` (cleared first),
    /// whose allocation a replay reuses from record to record: a large write's record holds
    /// hundreds of thousands of samples, and a fresh vector for each was the largest cost
    /// of decoding after the varints themselves. The record is decoded whole before
    /// anything is returned, so a record that fails to decode yields no sample.
    pub(crate) fn decode_reusing<'s>(
        type_byte: u8,
        payload: &[u8],
        samples: &'s mut Vec<RefSample>,
    ) -> Result<Decoded<'s>, DecodeError> {
        let mut d = Decoder::new(payload);
        let rec = match type_byte {
            TYPE_SERIES => Record::Series(decode_series(&mut d)?),
            TYPE_SAMPLES => {
                decode_samples(&mut d, samples)?;
                if d.remaining() != 0 {
                    return Err("trailing bytes after record");
                }
                return Ok(Decoded::Samples(samples));
            }
            TYPE_METADATA => Record::Metadata(decode_metadata(&mut d)?),
            TYPE_TOMBSTONES => Record::Tombstones(decode_tombstones(&mut d)?),
            _ => return Err("unknown record type"),
        };
        if d.remaining() != 0 {
            return Err("trailing bytes after record");
        }
        Ok(Decoded::Other(rec))
    }
}

/// A record decoded by [`Record::decode_reusing`]: samples borrowed from the caller's
/// buffer, any other record owned.
#[derive(Debug)]
pub enum Decoded<'s> {
    Samples(&'s [RefSample]),
    Other(Record),
}

impl Decoded<'_> {
    /// The record, owning its samples.
    pub fn into_record(self) -> Record {
        match self {
            Decoded::Samples(s) => Record::Samples(s.to_vec()),
            Decoded::Other(rec) => rec,
        }
    }
}

fn encode_samples(buf: &mut Vec<u8>, samples: &[RefSample]) {
    put_uvarint(buf, samples.len() as u64);
    let Some(first) = samples.first() else {
        return;
    };
    // Worst case per sample: two 10-byte varints and the value.
    buf.reserve(samples.len() * 12);
    put_uvarint(buf, u64::from(first.id));
    put_varint(buf, first.t);
    put_f64(buf, first.v);
    let mut prev_id = first.id;
    for s in &samples[1..] {
        put_varint(buf, i64::from(s.id) - i64::from(prev_id));
        put_varint(buf, s.t.wrapping_sub(first.t));
        put_f64(buf, s.v);
        prev_id = s.id;
    }
}

fn decode_samples(d: &mut Decoder<'_>, out: &mut Vec<RefSample>) -> Result<(), DecodeError> {
    out.clear();
    // A sample takes at least 10 bytes: two 1-byte varints and the value.
    let n = d.count(10)?;
    out.reserve(n);
    if n == 0 {
        return Ok(());
    }
    let id = u32::try_from(d.uvarint()?).map_err(|_| "series id exceeds 32 bits")?;
    let base_t = d.varint()?;
    out.push(RefSample {
        id,
        t: base_t,
        v: d.f64()?,
    });
    let mut prev_id = i64::from(id);
    for _ in 1..n {
        let id = prev_id
            .checked_add(d.varint()?)
            .ok_or("series id out of range")?;
        let id32 = u32::try_from(id).map_err(|_| "series id out of range")?;
        let t = base_t.wrapping_add(d.varint()?);
        out.push(RefSample {
            id: id32,
            t,
            v: d.f64()?,
        });
        prev_id = id;
    }
    Ok(())
}

fn decode_series(d: &mut Decoder<'_>) -> Result<Vec<SeriesRecord>, DecodeError> {
    // A series takes at least 2 bytes: id and label count.
    let n = d.count(2)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let id = u32::try_from(d.uvarint()?).map_err(|_| "series id exceeds 32 bits")?;
        // A label takes at least 2 bytes: two string lengths.
        let nl = d.count(2)?;
        let mut labels: Vec<Label> = Vec::with_capacity(nl);
        for _ in 0..nl {
            let name = d.str()?;
            let value = d.str()?;
            if labels.last().is_some_and(|l| &*l.name >= name) {
                return Err("labels not sorted by unique name");
            }
            labels.push(Label::new(name, value));
        }
        out.push(SeriesRecord {
            id,
            labels: Labels::from_sorted_unchecked(labels),
        });
    }
    Ok(out)
}

fn decode_tombstones(d: &mut Decoder<'_>) -> Result<Vec<TombstoneRecord>, DecodeError> {
    // An entry takes at least 3 bytes: three 1-byte varints.
    let n = d.count(3)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let id = u32::try_from(d.uvarint()?).map_err(|_| "series id exceeds 32 bits")?;
        let mint = d.varint()?;
        let len = d.uvarint()?;
        let maxt = i64::try_from(i128::from(mint) + i128::from(len))
            .map_err(|_| "tombstone interval end out of range")?;
        out.push(TombstoneRecord { id, mint, maxt });
    }
    Ok(out)
}

fn decode_metadata(d: &mut Decoder<'_>) -> Result<Vec<MetadataRecord>, DecodeError> {
    // An entry takes at least 4 bytes: three string lengths and the kind.
    let n = d.count(4)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let metric_family = d.str()?.to_string();
        let kind = d.u8()?;
        let help = d.str()?.to_string();
        let unit = d.str()?.to_string();
        out.push(MetadataRecord {
            metric_family,
            kind,
            help,
            unit,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::sample::STALE_NAN_BITS;

    fn round_trip(r: &Record) -> Record {
        let mut buf = Vec::new();
        r.encode_payload(&mut buf);
        Record::decode(r.type_byte(), &buf).unwrap()
    }

    /// Compares sample values by bits, as `PartialEq` on `f64` cannot for NaN.
    fn sample_bits(r: &Record) -> Vec<(u32, i64, u64)> {
        match r {
            Record::Samples(s) => s.iter().map(|s| (s.id, s.t, s.v.to_bits())).collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn samples_keep_nan_payloads_and_extremes() {
        let r = Record::Samples(vec![
            RefSample {
                id: 7,
                t: 1_700_000_000_000,
                v: f64::from_bits(STALE_NAN_BITS),
            },
            RefSample {
                id: 0,
                t: i64::MIN,
                v: -0.0,
            },
            RefSample {
                id: u32::MAX,
                t: i64::MAX,
                v: f64::NEG_INFINITY,
            },
        ]);
        assert_eq!(sample_bits(&round_trip(&r)), sample_bits(&r));
    }

    #[test]
    fn typical_samples_take_about_ten_bytes() {
        let samples: Vec<RefSample> = (0..1000)
            .map(|i| RefSample {
                id: 5000 + i,
                t: 1_700_000_000_000 + i64::from(i % 3),
                v: f64::from(i),
            })
            .collect();
        let mut buf = Vec::new();
        Record::Samples(samples).encode_payload(&mut buf);
        assert!(buf.len() <= 1000 * 10 + 20, "{} bytes", buf.len());
    }

    #[test]
    fn a_reused_sample_buffer_holds_exactly_the_last_record() {
        let sample = |id: u32| RefSample {
            id,
            t: 1000 + i64::from(id),
            v: f64::from(id),
        };
        let big = Record::Samples((0..500).map(sample).collect());
        let small = Record::Samples(vec![sample(7), sample(3)]);
        let mut buf = Vec::new();
        let mut samples = Vec::new();
        for r in [&big, &small, &Record::Samples(Vec::new())] {
            buf.clear();
            r.encode_payload(&mut buf);
            let got = Record::decode_reusing(TYPE_SAMPLES, &buf, &mut samples)
                .unwrap()
                .into_record();
            assert_eq!(sample_bits(&got), sample_bits(r));
        }
        // A record that fails to decode yields nothing, not the previous record's samples.
        buf.clear();
        big.encode_payload(&mut buf);
        buf.push(0);
        assert!(Record::decode_reusing(TYPE_SAMPLES, &buf, &mut samples).is_err());
    }

    #[test]
    fn malformed_payloads_are_rejected() {
        assert!(Record::decode(9, &[0]).is_err());
        assert!(Record::decode(TYPE_SAMPLES, &[1, 0]).is_err());
        assert!(Record::decode(TYPE_SAMPLES, &[0, 0]).is_err());
        // Unsorted labels: b then a.
        let bad = [1, 1, 2, 1, b'b', 0, 1, b'a', 0];
        assert_eq!(
            Record::decode(TYPE_SERIES, &bad),
            Err("labels not sorted by unique name")
        );
        // Sample id delta leaving the u32 range.
        let mut buf = Vec::new();
        put_uvarint(&mut buf, 2);
        put_uvarint(&mut buf, 0);
        put_varint(&mut buf, 0);
        put_f64(&mut buf, 1.0);
        put_varint(&mut buf, -1);
        put_varint(&mut buf, 0);
        put_f64(&mut buf, 1.0);
        assert!(Record::decode(TYPE_SAMPLES, &buf).is_err());
    }

    fn arb_labels() -> impl Strategy<Value = Labels> {
        prop::collection::vec(("[a-z_]{1,8}", "\\PC{0,12}"), 0..6).prop_map(Labels::from_pairs)
    }

    fn arb_record() -> impl Strategy<Value = Record> {
        prop_oneof![
            prop::collection::vec(
                (any::<u32>(), arb_labels()).prop_map(|(id, labels)| SeriesRecord { id, labels }),
                0..8
            )
            .prop_map(Record::Series),
            prop::collection::vec(
                (any::<u32>(), any::<i64>(), any::<u64>()).prop_map(|(id, t, v)| RefSample {
                    id,
                    t,
                    v: f64::from_bits(v)
                }),
                0..50
            )
            .prop_map(Record::Samples),
            prop::collection::vec(
                ("\\PC{0,10}", any::<u8>(), "\\PC{0,20}", "\\PC{0,5}").prop_map(
                    |(metric_family, kind, help, unit)| MetadataRecord {
                        metric_family,
                        kind,
                        help,
                        unit
                    }
                ),
                0..5
            )
            .prop_map(Record::Metadata),
            prop::collection::vec(
                (any::<u32>(), any::<i64>(), any::<i64>()).prop_map(|(id, a, b)| {
                    TombstoneRecord {
                        id,
                        mint: a.min(b),
                        maxt: a.max(b),
                    }
                }),
                0..8
            )
            .prop_map(Record::Tombstones),
        ]
    }

    proptest! {
        #[test]
        fn prop_records_round_trip(r in arb_record()) {
            let back = round_trip(&r);
            match &r {
                Record::Samples(_) => prop_assert_eq!(sample_bits(&back), sample_bits(&r)),
                _ => prop_assert_eq!(back, r),
            }
        }

        #[test]
        fn prop_arbitrary_payloads_never_panic(
            t in 0u8..6,
            bytes in prop::collection::vec(any::<u8>(), 0..100),
        ) {
            let _ = Record::decode(t, &bytes);
        }
    }
}
