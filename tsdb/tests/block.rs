//! Persisted blocks: write → open → read round trips, matcher semantics against the head's
//! postings, corruption detection, and leftovers of interrupted writes.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use tianshu_tsdb::block::{
    is_block_dir, is_tmp_dir, write_block, Block, BlockWriterOptions, ChunkEncoding, InputChunk,
    Rechunk, SeriesChunks,
};
use tianshu_tsdb::chunk::{XorChunk, XorIter};
use tianshu_tsdb::index::MemPostings;
use tianshu_tsdb::{stale_nan, Error, Labels, MatchOp, Matcher, Sample, Series};

fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
    Matcher::new(op, name, value).unwrap_or_else(|e| panic!("matcher: {e}"))
}

fn all() -> Vec<Matcher> {
    vec![m(MatchOp::RegexMatch, "__name__", ".+")]
}

/// XOR chunks of `per_chunk` samples each.
fn chunks_of(samples: &[Sample], per_chunk: usize) -> Vec<InputChunk> {
    samples
        .chunks(per_chunk.max(1))
        .map(|part| {
            let mut c = XorChunk::new();
            for s in part {
                c.append(s.t, s.v);
            }
            InputChunk {
                min_t: part[0].t,
                max_t: part[part.len() - 1].t,
                data: c.into_bytes(),
            }
        })
        .collect()
}

fn opts(encoding: ChunkEncoding, rechunk: Option<Rechunk>) -> BlockWriterOptions {
    BlockWriterOptions {
        encoding,
        rechunk,
        ..BlockWriterOptions::default()
    }
}

fn write(
    parent: &Path,
    mint: i64,
    maxt: i64,
    series: Vec<SeriesChunks>,
    o: &BlockWriterOptions,
) -> PathBuf {
    match write_block(parent, mint, maxt, series, o) {
        Ok(meta) => parent.join(meta.ulid),
        Err(e) => panic!("write_block: {e}"),
    }
}

fn open(dir: &Path) -> Block {
    Block::open(dir).unwrap_or_else(|e| panic!("open: {e}"))
}

fn bits(series: &[Series]) -> Vec<(String, Vec<(i64, u64)>)> {
    series
        .iter()
        .map(|s| {
            (
                s.labels.to_string(),
                s.samples.iter().map(|x| (x.t, x.v.to_bits())).collect(),
            )
        })
        .collect()
}

/// A fixed set of series, with some labels missing, for matcher semantics.
const FIXED: &[&[(&str, &str)]] = &[
    &[("__name__", "up"), ("job", "api"), ("env", "prod")],
    &[("__name__", "up"), ("job", "web"), ("env", "dev")],
    &[("__name__", "up"), ("job", "db")],
    &[
        ("__name__", "http_requests"),
        ("job", "api"),
        ("code", "200"),
    ],
    &[
        ("__name__", "http_requests"),
        ("job", "api"),
        ("code", "500"),
    ],
    &[("__name__", "http_requests"), ("job", "web")],
    &[("__name__", "foo\nbar")],
    &[("__name__", "node_cpu"), ("cpu", "0"), ("mode", "idle")],
    &[("__name__", "node_cpu"), ("cpu", "1"), ("mode", "user")],
    &[("__name__", "node_cpu"), ("cpu", "10"), ("mode", "idle")],
];

fn fixed_block(parent: &Path) -> (Block, Vec<Labels>) {
    let mut labels: Vec<Labels> = FIXED
        .iter()
        .map(|l| Labels::from_pairs(l.iter().copied()))
        .collect();
    labels.sort();
    let series: Vec<SeriesChunks> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let samples: Vec<Sample> = (0..10)
                .map(|k| Sample::new(1000 * k + i as i64, (k * i as i64) as f64))
                .collect();
            SeriesChunks {
                labels: l.clone(),
                chunks: chunks_of(&samples, 4),
            }
        })
        .collect();
    let dir = write(parent, 0, 20_000, series, &BlockWriterOptions::default());
    (open(&dir), labels)
}

#[test]
fn block_matchers_select_as_the_head_postings_do() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (block, labels) = fixed_block(tmp.path());
    let mut mem = MemPostings::new();
    for (id, l) in labels.iter().enumerate() {
        mem.add(id as u32, l);
    }
    use MatchOp::*;
    let cases: Vec<Vec<Matcher>> = vec![
        vec![m(Equal, "__name__", "up")],
        vec![m(Equal, "__name__", "up"), m(Equal, "env", "")],
        vec![m(Equal, "__name__", "up"), m(NotEqual, "env", "prod")],
        vec![m(Equal, "__name__", "up"), m(NotEqual, "env", "")],
        vec![m(RegexMatch, "job", "api|web")],
        vec![m(RegexMatch, "job", "a.*")],
        vec![m(RegexMatch, "job", ".*")],
        vec![m(RegexMatch, "job", ".+")],
        vec![m(RegexNoMatch, "job", ".*")],
        vec![m(RegexNoMatch, "job", "api|db")],
        vec![m(RegexMatch, "code", "5..|")],
        vec![
            m(RegexMatch, "__name__", "http_.*"),
            m(RegexNoMatch, "code", "2.."),
        ],
        vec![m(RegexMatch, "__name__", "foo.bar")],
        vec![m(RegexMatch, "cpu", "1.*")],
        vec![m(RegexMatch, "cpu", "(?i)1|10")],
        vec![m(RegexMatch, "mode", ".*dl.*")],
        vec![m(Equal, "nope", "")],
        vec![m(NotEqual, "nope", "x")],
        vec![m(Equal, "nope", "x")],
        vec![m(Equal, "job", "api"), m(Equal, "job", "web")],
        vec![],
    ];
    for ms in &cases {
        let want: Vec<String> = mem
            .select(ms)
            .iter()
            .map(|id| labels[id as usize].to_string())
            .collect();
        let got = block.select(ms, i64::MIN, i64::MAX);
        let got: Vec<String> = match got {
            Ok(s) => s.iter().map(|s| s.labels.to_string()).collect(),
            Err(e) => panic!("{ms:?}: {e}"),
        };
        assert_eq!(got, want, "matchers {ms:?}");
        let series = block.series(ms, i64::MIN, i64::MAX).unwrap_or_default();
        let series: Vec<String> = series.iter().map(|l| l.to_string()).collect();
        assert_eq!(series, want, "series() for {ms:?}");
    }
    // Spot checks that the reference itself says what Prometheus says.
    let up_without_env = block
        .select(
            &[m(Equal, "__name__", "up"), m(Equal, "env", "")],
            0,
            20_000,
        )
        .unwrap_or_default();
    assert_eq!(up_without_env.len(), 1);
    assert_eq!(up_without_env[0].labels.get("job"), Some("db"));
}

#[test]
fn block_label_names_and_values_follow_the_selection_and_the_range() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (block, _) = fixed_block(tmp.path());
    let names = block.label_names(&[], 0, 20_000).unwrap_or_default();
    assert_eq!(names, ["__name__", "code", "cpu", "env", "job", "mode"]);
    let up = [m(MatchOp::Equal, "__name__", "up")];
    let names = block.label_names(&up, 0, 20_000).unwrap_or_default();
    assert_eq!(names, ["__name__", "env", "job"]);
    let jobs = block
        .label_values("job", &up, 0, 20_000)
        .unwrap_or_default();
    assert_eq!(jobs, ["api", "db", "web"]);
    let cpus = block
        .label_values("cpu", &[], 0, 20_000)
        .unwrap_or_default();
    assert_eq!(cpus, ["0", "1", "10"]);
    assert!(block
        .label_values("cpu", &up, 0, 20_000)
        .unwrap_or_default()
        .is_empty());
    // Outside the block's range nothing is listed (maxTime is exclusive).
    assert!(block
        .label_names(&[], 20_000, 30_000)
        .unwrap_or_default()
        .is_empty());
    assert!(block
        .select(&all(), 20_000, 30_000)
        .unwrap_or_default()
        .is_empty());
}

#[test]
fn block_select_trims_to_the_range_and_chunks_for_returns_xor() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let samples: Vec<Sample> = (0..1000)
        .map(|i| Sample::new(1_000 * i + (i % 3), i as f64 * 2.0))
        .collect();
    let labels = Labels::from_pairs([("__name__", "c"), ("job", "x")]);
    for o in [
        opts(ChunkEncoding::Xor, None),
        opts(ChunkEncoding::Auto, None),
        BlockWriterOptions::default(),
    ] {
        let dir = write(
            tmp.path(),
            0,
            1_000_000,
            vec![SeriesChunks {
                labels: labels.clone(),
                chunks: chunks_of(&samples, 240),
            }],
            &o,
        );
        let b = open(&dir);
        let got = b.select(&all(), 100_000, 200_500).unwrap_or_default();
        let want: Vec<Sample> = samples
            .iter()
            .copied()
            .filter(|s| s.t >= 100_000 && s.t <= 200_500)
            .collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].samples, want, "{o:?}");
        let raw = b.chunks_for(&all(), 100_000, 200_500);
        let raw = raw.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(raw.len(), 1);
        let decoded: Vec<Sample> = raw[0]
            .chunks
            .iter()
            .flat_map(|c| XorIter::from_bytes(&c.data).collect::<Vec<_>>())
            .collect();
        assert!(decoded.first().is_some_and(|s| s.t <= 100_000));
        assert!(decoded.last().is_some_and(|s| s.t >= 200_500));
        assert!(want.iter().all(|s| decoded.contains(s)));
        for c in &raw[0].chunks {
            let dec: Vec<Sample> = XorIter::from_bytes(&c.data).collect();
            assert_eq!(dec.first().map(|s| s.t), Some(c.min_t));
            assert_eq!(dec.last().map(|s| s.t), Some(c.max_t));
        }
        assert!(b.verify().is_ok());
        assert_eq!(b.meta().stats.num_samples, 1000);
        assert_eq!(b.meta().stats.num_series, 1);
        assert!(b.size_bytes() > 0);
    }
}

#[test]
fn block_samples_outside_the_block_range_are_dropped_and_unsorted_input_is_refused() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let samples: Vec<Sample> = (0..100).map(|i| Sample::new(i * 10, 1.0)).collect();
    let a = Labels::from_pairs([("__name__", "a")]);
    let b = Labels::from_pairs([("__name__", "b")]);
    let dir = write(
        tmp.path(),
        200,
        500,
        vec![SeriesChunks {
            labels: a.clone(),
            chunks: chunks_of(&samples, 30),
        }],
        &opts(ChunkEncoding::Auto, None),
    );
    let got = open(&dir)
        .select(&all(), i64::MIN, i64::MAX)
        .unwrap_or_default();
    let ts: Vec<i64> = got[0].samples.iter().map(|s| s.t).collect();
    assert_eq!(ts, (20..50).map(|i| i * 10).collect::<Vec<_>>());

    let unsorted = vec![
        SeriesChunks {
            labels: b,
            chunks: chunks_of(&samples, 30),
        },
        SeriesChunks {
            labels: a,
            chunks: chunks_of(&samples, 30),
        },
    ];
    let r = write_block(
        tmp.path(),
        0,
        1000,
        unsorted,
        &BlockWriterOptions::default(),
    );
    assert!(r.is_err());
    // The failed write left nothing behind.
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    assert_eq!(left, vec![dir]);
}

#[test]
fn block_overlapping_input_chunks_are_merged() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let a: Vec<Sample> = (0..50).map(|i| Sample::new(i * 2, 1.0)).collect();
    let b: Vec<Sample> = (0..50).map(|i| Sample::new(i * 2 + 1, 2.0)).collect();
    let mut chunks = chunks_of(&a, 50);
    chunks.extend(chunks_of(&b, 50));
    let dir = write(
        tmp.path(),
        0,
        1000,
        vec![SeriesChunks {
            labels: Labels::from_pairs([("__name__", "m")]),
            chunks,
        }],
        &opts(ChunkEncoding::Auto, None),
    );
    let got = open(&dir).select(&all(), 0, 1000).unwrap_or_default();
    let ts: Vec<i64> = got[0].samples.iter().map(|s| s.t).collect();
    assert_eq!(ts, (0..100).collect::<Vec<_>>());
}

#[test]
fn block_an_empty_block_opens_and_selects_nothing() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = write(
        tmp.path(),
        0,
        10,
        Vec::new(),
        &BlockWriterOptions::default(),
    );
    let b = open(&dir);
    assert!(b.select(&all(), 0, 10).unwrap_or_default().is_empty());
    assert!(b.label_names(&[], 0, 10).unwrap_or_default().is_empty());
    assert_eq!(b.meta().stats.num_series, 0);
}

#[test]
fn block_leftover_tmp_dirs_are_recognised() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (block, _) = fixed_block(tmp.path());
    assert!(is_block_dir(block.dir()));
    assert!(!is_tmp_dir(block.dir()));
    let name = block
        .dir()
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    // What a crash between writing and renaming leaves.
    let leftover = tmp.path().join(format!("{name}.tmp"));
    assert!(std::fs::create_dir(&leftover).is_ok());
    assert!(is_tmp_dir(&leftover));
    assert!(!is_block_dir(&leftover));
    assert!(!is_tmp_dir(&tmp.path().join("wal.tmp")));
    assert!(!is_tmp_dir(&tmp.path().join("missing.tmp")));
}

/// Flips one byte of `file` at `at`, returning the original.
fn flip(file: &Path, at: usize) -> u8 {
    let mut bytes = std::fs::read(file).unwrap_or_default();
    let old = bytes[at];
    bytes[at] ^= 0x5a;
    assert!(std::fs::write(file, &bytes).is_ok());
    old
}

fn restore(file: &Path, at: usize, old: u8) {
    let mut bytes = std::fs::read(file).unwrap_or_default();
    bytes[at] = old;
    assert!(std::fs::write(file, &bytes).is_ok());
}

fn corruption_in(r: Result<(), Error>, file: &Path) -> Option<u64> {
    match r {
        Err(Error::Corruption { path, offset, .. }) if path == file => Some(offset),
        _ => None,
    }
}

fn realistic_series(n: usize, samples: usize) -> Vec<SeriesChunks> {
    let mut labels: Vec<Labels> = (0..n)
        .map(|i| {
            Labels::from_pairs([
                ("__name__", format!("metric_{}", i % 3)),
                ("instance", format!("host-{}", i / 3)),
            ])
        })
        .collect();
    labels.sort();
    labels
        .into_iter()
        .enumerate()
        .map(|(k, l)| {
            let s: Vec<Sample> = (0..samples as i64)
                .map(|i| {
                    let v = match k % 3 {
                        0 => (i * 13) as f64,
                        1 => (i as f64).sqrt(),
                        _ => i as f64 / 10.0,
                    };
                    Sample::new(i * 1000 + (i % 4), v)
                })
                .collect();
            SeriesChunks {
                labels: l,
                chunks: chunks_of(&s, 120),
            }
        })
        .collect()
}

#[test]
fn block_every_flipped_index_byte_fails_open_with_corruption() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = write(
        tmp.path(),
        0,
        i64::MAX,
        realistic_series(12, 300),
        &BlockWriterOptions::default(),
    );
    let index = dir.join("index");
    let len = std::fs::metadata(&index).map(|m| m.len()).unwrap_or(0) as usize;
    assert!(len > 100);
    for at in 0..len {
        let old = flip(&index, at);
        let r = Block::open(&dir).map(|_| ());
        assert!(
            corruption_in(r, &index).is_some(),
            "flip at {at} of {len} not reported"
        );
        restore(&index, at, old);
    }
    assert!(Block::open(&dir).is_ok());
}

#[test]
fn block_flipped_chunk_bytes_are_reported_by_reads_with_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for o in [
        opts(ChunkEncoding::Xor, None),
        BlockWriterOptions::default(),
    ] {
        let dir = write(tmp.path(), 0, i64::MAX, realistic_series(9, 400), &o);
        let seg = dir.join("chunks").join("000001");
        let len = std::fs::metadata(&seg).map(|m| m.len()).unwrap_or(0) as usize;
        let want = open(&dir)
            .select(&all(), i64::MIN, i64::MAX)
            .unwrap_or_default();
        assert_eq!(want.len(), 9);
        // Every byte of a small segment, a sample of a larger one.
        let step = (len / 400).max(1);
        for at in (0..len).step_by(step) {
            let old = flip(&seg, at);
            let verified = Block::open(&dir).and_then(|b| b.verify());
            assert!(
                corruption_in(verified, &seg).is_some(),
                "verify missed a flip at {at} of {len} ({o:?})"
            );
            match Block::open(&dir) {
                Err(Error::Corruption { path, .. }) => assert_eq!(path, seg),
                Err(e) => panic!("unexpected error {e}"),
                Ok(b) => {
                    let r = b.select(&all(), i64::MIN, i64::MAX).map(|_| ());
                    let at_off = corruption_in(r, &seg);
                    assert!(at_off.is_some(), "select missed a flip at {at} ({o:?})");
                    assert!(
                        at_off.unwrap_or(u64::MAX) <= at as u64,
                        "flip at {at} reported at {at_off:?} ({o:?})"
                    );
                }
            }
            restore(&seg, at, old);
        }
        let again = open(&dir)
            .select(&all(), i64::MIN, i64::MAX)
            .unwrap_or_default();
        assert_eq!(bits(&again), bits(&want));
    }
}

#[test]
fn block_truncated_files_and_bad_meta_are_corruption() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = write(
        tmp.path(),
        0,
        i64::MAX,
        realistic_series(6, 200),
        &BlockWriterOptions::default(),
    );
    for file in [dir.join("index"), dir.join("chunks").join("000001")] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        for cut in [0, 3, 8, bytes.len() / 2, bytes.len() - 1] {
            assert!(std::fs::write(&file, &bytes[..cut]).is_ok());
            let r = Block::open(&dir).and_then(|b| b.verify());
            assert!(
                corruption_in(r, &file).is_some(),
                "{} cut at {cut}",
                file.display()
            );
        }
        assert!(std::fs::write(&file, &bytes).is_ok());
    }
    let meta = dir.join("meta.json");
    assert!(std::fs::write(&meta, b"{\"ulid\": 3").is_ok());
    assert!(matches!(Block::open(&dir), Err(Error::Corruption { .. })));
}

/// Strategy: up to 12 series with distinct label sets, each 1..400 samples at ~1 s with
/// jitter and values of every kind (integers, decimals, arbitrary floats, stale markers).
fn block_input() -> impl Strategy<Value = Vec<(Labels, Vec<Sample>)>> {
    let value = prop_oneof![
        3 => (0i64..1000).prop_map(|v| v as f64),
        2 => (0i64..100_000).prop_map(|v| v as f64 / 100.0),
        1 => any::<f64>(),
        1 => Just(stale_nan()),
        1 => Just(f64::INFINITY),
    ];
    let series = (
        "[a-c]{1,2}",
        prop::option::of("[x-z]{1,2}"),
        1usize..400,
        prop::collection::vec(value, 400),
        prop::collection::vec(-5i64..5, 400),
        0i64..10_000,
    )
        .prop_map(|(name, job, n, vs, jit, start)| {
            let mut pairs = vec![("__name__".to_string(), name)];
            if let Some(j) = job {
                pairs.push(("job".to_string(), j));
            }
            let samples: Vec<Sample> = (0..n)
                .map(|i| Sample::new(start + i as i64 * 1000 + jit[i], vs[i]))
                .collect();
            (Labels::from_pairs(pairs), samples)
        });
    prop::collection::vec(series, 0..12).prop_map(|mut v| {
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.dedup_by(|a, b| a.0 == b.0);
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn block_write_open_select_round_trips(
        input in block_input(),
        per_chunk in 1usize..300,
        enc in prop_oneof![Just(ChunkEncoding::Xor), Just(ChunkEncoding::Auto)],
        rechunk in prop::option::of((1_000i64..200_000, 1usize..500)),
        (qmin, qlen) in (-1_000i64..300_000, 0i64..500_000),
    ) {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let series: Vec<SeriesChunks> = input
            .iter()
            .map(|(l, s)| SeriesChunks { labels: l.clone(), chunks: chunks_of(s, per_chunk) })
            .collect();
        let o = opts(enc, rechunk.map(|(span_ms, max_samples)| Rechunk { span_ms, max_samples }));
        let meta = write_block(tmp.path(), i64::MIN, i64::MAX, series, &o);
        prop_assert!(meta.is_ok(), "{:?}", meta.err());
        let dir = tmp.path().join(meta.map(|m| m.ulid).unwrap_or_default());
        let b = Block::open(&dir);
        prop_assert!(b.is_ok(), "{:?}", b.err());
        let Ok(b) = b else { unreachable!() };
        prop_assert!(b.verify().is_ok());
        let total: usize = input.iter().map(|(_, s)| s.len()).sum();
        prop_assert_eq!(b.meta().stats.num_samples, total as u64);

        let want: Vec<Series> = input
            .iter()
            .map(|(l, s)| Series { labels: l.clone(), samples: s.clone() })
            .collect();
        let got = b.select(&all(), i64::MIN, i64::MAX);
        prop_assert!(got.is_ok());
        prop_assert_eq!(bits(&got.unwrap_or_default()), bits(&want));

        let qmax = qmin + qlen;
        let want: Vec<Series> = input
            .iter()
            .map(|(l, s)| Series {
                labels: l.clone(),
                samples: s.iter().copied().filter(|x| x.t >= qmin && x.t <= qmax).collect(),
            })
            .filter(|s| !s.samples.is_empty())
            .collect();
        let got = b.select(&all(), qmin, qmax).unwrap_or_default();
        prop_assert_eq!(bits(&got), bits(&want));

        // Raw chunks decode to the same samples.
        let raw = b.chunks_for(&all(), i64::MIN, i64::MAX).unwrap_or_default();
        let from_raw: Vec<Series> = raw
            .iter()
            .map(|r| Series {
                labels: r.labels.clone(),
                samples: r.chunks.iter().flat_map(|c| XorIter::from_bytes(&c.data)).collect(),
            })
            .collect();
        let all_want: Vec<Series> = input
            .iter()
            .map(|(l, s)| Series { labels: l.clone(), samples: s.clone() })
            .collect();
        prop_assert_eq!(bits(&from_raw), bits(&all_want));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Series of one target: equal timestamps, often equal values, so packed chunks refer
    /// to each other's columns; reading back must still give every series its own samples.
    #[test]
    fn block_series_sharing_columns_round_trip(
        jitter in prop::collection::vec(-3i64..=3, 4000),
        shapes in prop::collection::vec((0usize..5, 1usize..4000, 0usize..50), 1..16),
        span_min in 1i64..40,
    ) {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let ts: Vec<i64> = jitter
            .iter()
            .enumerate()
            .map(|(i, j)| 1_700_000_000_000 + i as i64 * 1000 + j)
            .collect();
        let input: Vec<(Labels, Vec<Sample>)> = shapes
            .iter()
            .enumerate()
            .map(|(k, &(shape, len, skip))| {
                let samples = ts
                    .iter()
                    .enumerate()
                    .skip(skip)
                    .take(len)
                    .map(|(i, &t)| {
                        let v = match shape {
                            0 => 1.0,
                            1 | 2 => (i * 3) as f64,
                            3 => (i % 10) as f64 / 10.0,
                            _ => (i as f64).ln_1p(),
                        };
                        Sample::new(t, v)
                    })
                    .collect();
                (Labels::from_pairs([("__name__", "m".to_string()), ("k", format!("{k:03}"))]), samples)
            })
            .filter(|(_, s): &(Labels, Vec<Sample>)| !s.is_empty())
            .collect();
        let series: Vec<SeriesChunks> = input
            .iter()
            .map(|(l, s)| SeriesChunks { labels: l.clone(), chunks: chunks_of(s, 240) })
            .collect();
        let o = opts(
            ChunkEncoding::Auto,
            Some(Rechunk { span_ms: span_min * 60_000, max_samples: XorChunk::MAX_SAMPLES }),
        );
        let dir = write(tmp.path(), i64::MIN, i64::MAX, series, &o);
        let b = open(&dir);
        prop_assert!(b.verify().is_ok());
        let want: Vec<Series> = input
            .iter()
            .map(|(l, s)| Series { labels: l.clone(), samples: s.clone() })
            .collect();
        let got = b.select(&all(), i64::MIN, i64::MAX).unwrap_or_default();
        prop_assert_eq!(bits(&got), bits(&want));
    }
}

#[test]
fn block_is_shareable_between_query_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Block>();
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (block, labels) = fixed_block(tmp.path());
    let block = std::sync::Arc::new(block);
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let b = block.clone();
            std::thread::spawn(move || b.select(&all(), 0, 20_000).map(|s| s.len()).ok())
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().ok().flatten(), Some(labels.len()));
    }
}

#[test]
fn block_empty_label_values_are_absent_labels() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let samples = [Sample::new(1, 1.0)];
    let with_empty = Labels::from_pairs([("__name__", "a"), ("b", "")]);
    let plain = Labels::from_pairs([("__name__", "a")]);
    let one = |l: &Labels| SeriesChunks {
        labels: l.clone(),
        chunks: chunks_of(&samples, 1),
    };
    let dir = write(
        tmp.path(),
        0,
        10,
        vec![one(&with_empty)],
        &BlockWriterOptions::default(),
    );
    let got = open(&dir).select(&all(), 0, 10).unwrap_or_default();
    assert_eq!(got[0].labels, plain);
    // The two label sets are one series once read back: refused as duplicates.
    let dup = write_block(
        tmp.path(),
        0,
        10,
        vec![one(&plain), one(&with_empty)],
        &BlockWriterOptions::default(),
    );
    assert!(dup.is_err());
}

#[test]
fn block_chunks_spread_over_several_segments() {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let one = write(
        tmp.path(),
        0,
        i64::MAX,
        realistic_series(12, 3000),
        &BlockWriterOptions::default(),
    );
    let small = BlockWriterOptions {
        max_segment_bytes: 4096,
        ..BlockWriterOptions::default()
    };
    let many = write(tmp.path(), 0, i64::MAX, realistic_series(12, 3000), &small);
    let (one, many) = (open(&one), open(&many));
    assert_eq!(one.num_segments(), 1);
    assert!(many.num_segments() > 3, "{}", many.num_segments());
    assert!(many.verify().is_ok());
    let a = one.select(&all(), i64::MIN, i64::MAX).unwrap_or_default();
    let b = many.select(&all(), i64::MIN, i64::MAX).unwrap_or_default();
    assert_eq!(a.len(), 12);
    assert_eq!(bits(&a), bits(&b));
    // A missing segment is corruption of the block, not a silent gap.
    let last = many
        .dir()
        .join("chunks")
        .join(format!("{:06}", many.num_segments()));
    let first = many.dir().join("chunks").join("000001");
    let dir = many.dir().to_path_buf();
    drop(many);
    assert!(std::fs::remove_file(&first).is_ok());
    assert!(matches!(Block::open(&dir), Err(Error::Corruption { .. })));
    assert!(last.exists());
}
