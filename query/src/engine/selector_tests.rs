//! Instant selectors reading chunk handles and decoding each series' newest chunk only
//! (`ChunkedSeries::newest_in`), against decoding the whole lookback, on a real `Db`
//! filled with random series: regular ones, sparse ones, ones that end somewhere in the
//! lookback, and ones ended by a staleness marker.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use tianshu_tsdb::{
    stale_nan, ChunkedSeries, Db, DbOptions, FsyncPolicy, Labels, Matcher, Sample, Series,
    SeriesSamples,
};

use crate::engine::{Engine, EngineOptions, QueryOptions, Queryable, Value};
use crate::error::QueryError;

/// The same `Db`, answering with decoded samples only: the engine sees the whole
/// lookback of every series.
struct Decoded<'a>(&'a Db);

impl Queryable for Decoded<'_> {
    fn select(&self, m: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, QueryError> {
        Ok(self.0.select(m, mint, maxt))
    }
}

/// The `Db` with its chunk handles, counting the series selected with more than one
/// chunk: those where decoding from the newest end skips chunks.
struct Spy<'a>(&'a Db, AtomicUsize);

impl Queryable for Spy<'_> {
    fn select(&self, m: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, QueryError> {
        Ok(self.0.select(m, mint, maxt))
    }

    fn select_chunks(
        &self,
        m: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ChunkedSeries>, QueryError> {
        let out = self.0.select_chunks(m, mint, maxt)?;
        let multi = out.iter().filter(|s| s.num_chunks() > 1).count();
        self.1.fetch_add(multi, Ordering::Relaxed);
        Ok(out)
    }
}

/// xorshift64*, so the data differs between seeds and repeats between runs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_series(rng: &mut Rng, now: i64, i: usize) -> SeriesSamples {
    let interval = [1_000, 15_000, 60_000, 100_000, 200_000][rng.below(5) as usize];
    // Where the series stops: at the end, or up to 7 minutes earlier.
    let stop = now
        - if rng.below(3) == 0 {
            rng.below(420_000) as i64
        } else {
            0
        };
    let start = now - 900_000 + rng.below(interval as u64) as i64;
    let mut samples = Vec::new();
    let mut t = start;
    while t <= stop {
        samples.push(Sample::new(t, rng.below(1000) as f64));
        t += interval;
    }
    if rng.below(6) == 0 {
        samples.push(Sample::new(t, stale_nan()));
    }
    let job = format!("j{}", i % 3);
    let id = format!("{i}");
    SeriesSamples {
        labels: Labels::from_pairs([
            ("__name__", "m"),
            ("job", job.as_str()),
            ("id", id.as_str()),
        ]),
        samples,
    }
}

#[test]
fn decoding_the_newest_chunk_answers_as_the_whole_lookback() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let engine = Engine::new(EngineOptions::default());
    let o = QueryOptions::default();
    let mut nonempty = 0;
    let spy_multi = AtomicUsize::new(0);
    for seed in 1..=8u64 {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let db = Db::open(
            dir.path(),
            DbOptions {
                wal_fsync: FsyncPolicy::Never,
                ..DbOptions::default()
            },
        )
        .expect("a fresh Db");
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let n = 1 + rng.below(40) as usize;
        let batch: Vec<SeriesSamples> = (0..n).map(|i| random_series(&mut rng, now, i)).collect();
        db.append(&batch).expect("appending");
        let at = now - 200_000;
        let queries = [
            "m".to_string(),
            r#"m{job="j1"}"#.to_string(),
            r#"m{job=~"j0|j2"}"#.to_string(),
            "count by (job) (m)".to_string(),
            "sum(m)".to_string(),
            "timestamp(m)".to_string(),
            "m offset 2m".to_string(),
            format!("m @ {}", at as f64 / 1000.0),
            r#"m{job="j1" or job="j2"}"#.to_string(),
        ];
        let spy = Spy(&db, AtomicUsize::new(0));
        for k in 0..12 {
            let t = now - 480_000 + rng.below(600_000) as i64;
            for q in &queries {
                let fast = engine.instant_query(&spy, q, t, &o).map(|r| r.value);
                let full = engine
                    .instant_query(&Decoded(&db), q, t, &o)
                    .map(|r| r.value);
                let (Ok(fast), Ok(full)) = (fast, full) else {
                    panic!("seed {seed} step {k}: {q} failed");
                };
                if matches!(&full, Value::Vector(v) if !v.is_empty()) {
                    nonempty += 1;
                }
                assert_eq!(fast, full, "seed {seed}, t = now - {} ms: {q}", now - t);
            }
            // Range queries decode whole series into the engine's buffers.
            for q in [
                "m",
                "rate(m[1m])",
                "max_over_time(m[2m])",
                "sum by (job) (m)",
            ] {
                let step = [1_000, 15_000, 60_000][rng.below(3) as usize];
                let (start, end) = (t - 300_000, t);
                let fast = engine.range_query(&spy, q, start, end, step, &o);
                let full = engine.range_query(&Decoded(&db), q, start, end, step, &o);
                let (Ok(fast), Ok(full)) = (fast, full) else {
                    panic!("seed {seed} step {k}: range {q} failed");
                };
                assert_eq!(fast.value, full.value, "seed {seed}: range {q} step {step}");
            }
        }
        spy_multi.fetch_add(spy.1.load(Ordering::Relaxed), Ordering::Relaxed);
    }
    // Series with several chunks in the lookback were read, on data that answers.
    let multi = spy_multi.load(Ordering::Relaxed);
    assert!(multi > 0 && nonempty > 0, "{multi} {nonempty}");
}
