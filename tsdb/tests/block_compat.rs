//! Blocks written by earlier versions still read: `tests/data/` holds blocks written by
//! them, whose samples are regenerated here and compared bit for bit.
//!
//! - `block-packed-v1`: packed chunks with inline and shared columns only (value kinds
//!   0–2), as written before value columns relative to another chunk's (kind 3) existed.
//!
//! To write a fixture with the current code (e.g. before a format change):
//! `BLOCK_FIXTURE_DIR=/tmp/fx cargo test -p tianshu-tsdb --test block_compat -- --ignored`.

use std::path::{Path, PathBuf};

use tianshu_tsdb::block::{write_block, Block, BlockWriterOptions, InputChunk, SeriesChunks};
use tianshu_tsdb::chunk::XorChunk;
use tianshu_tsdb::{Labels, MatchOp, Matcher, Sample};

const START: i64 = 1_732_233_600_000;
const SECONDS: usize = 400;

/// Two targets, each with a classic histogram (buckets and `_count`), a counter and a
/// memory gauge, scraped every second with a few ms of jitter.
fn series() -> Vec<(Labels, Vec<Sample>)> {
    let mut out = Vec::new();
    for target in 0..2u64 {
        let inst = format!("10.0.0.{target}:8080");
        let ts: Vec<i64> = (0..SECONDS as i64)
            .map(|i| START + i * 1000 + ((i * 7 + target as i64) % 5) - 2)
            .collect();
        let mut state = 0x9e37_79b9u64 + target;
        let mut rnd = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let mut buckets = [0u64; 4];
        let mut rows: Vec<[f64; 7]> = Vec::with_capacity(SECONDS);
        let (mut counter, mut gauge) = (1234.5f64, 1u64 << 40);
        for _ in 0..SECONDS {
            for _ in 0..rnd(30) {
                let b = rnd(4) as usize;
                for x in &mut buckets[b..] {
                    *x += 1;
                }
            }
            counter += rnd(300) as f64 / 100.0;
            gauge = gauge + rnd(1 << 16) * 4096 - (1 << 15) * 4096;
            rows.push([
                buckets[0] as f64,
                buckets[1] as f64,
                buckets[2] as f64,
                buckets[3] as f64,
                buckets[3] as f64,
                (counter * 100.0).round() / 100.0,
                gauge as f64,
            ]);
        }
        let names: [(&str, Option<&str>); 7] = [
            ("http_request_duration_seconds_bucket", Some("0.1")),
            ("http_request_duration_seconds_bucket", Some("0.5")),
            ("http_request_duration_seconds_bucket", Some("1")),
            ("http_request_duration_seconds_bucket", Some("+Inf")),
            ("http_request_duration_seconds_count", None),
            ("process_cpu_seconds_total", None),
            ("process_resident_memory_bytes", None),
        ];
        for (k, (name, le)) in names.iter().enumerate() {
            let mut pairs = vec![("__name__", name.to_string()), ("instance", inst.clone())];
            if let Some(le) = le {
                pairs.push(("le", le.to_string()));
            }
            let samples = ts
                .iter()
                .zip(&rows)
                .map(|(&t, r)| Sample::new(t, r[k]))
                .collect();
            out.push((Labels::from_pairs(pairs), samples));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn fixture_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let mut blocks: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")).path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(blocks.len(), 1, "one block in {}", dir.display());
    blocks.remove(0)
}

fn bits(s: &[Sample]) -> Vec<(i64, u64)> {
    s.iter().map(|s| (s.t, s.v.to_bits())).collect()
}

#[test]
fn packed_v1_block_still_reads() {
    let b = Block::open(&fixture_dir("block-packed-v1")).unwrap_or_else(|e| panic!("{e}"));
    b.verify().unwrap_or_else(|e| panic!("{e}"));
    let all = Matcher::new(MatchOp::RegexMatch, "__name__", ".+").unwrap_or_else(|e| panic!("{e}"));
    let got = b
        .select(&[all], i64::MIN, i64::MAX)
        .unwrap_or_else(|e| panic!("{e}"));
    let want = series();
    assert_eq!(got.len(), want.len());
    for (g, (labels, samples)) in got.iter().zip(&want) {
        assert_eq!(&g.labels, labels);
        assert_eq!(bits(&g.samples), bits(samples), "{labels}");
    }
}

#[test]
#[ignore]
fn write_fixture() {
    let Ok(dir) = std::env::var("BLOCK_FIXTURE_DIR") else {
        return;
    };
    let input = series().into_iter().map(|(labels, samples)| {
        let mut c = XorChunk::new();
        for s in &samples {
            c.append(s.t, s.v);
        }
        SeriesChunks {
            labels,
            chunks: vec![InputChunk {
                min_t: samples[0].t,
                max_t: samples[samples.len() - 1].t,
                data: c.into_bytes(),
            }],
        }
    });
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let meta = write_block(
        Path::new(&dir),
        START - 10_000,
        START + 7_200_000,
        input,
        &BlockWriterOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    println!("wrote {}/{}", dir, meta.ulid);
}
