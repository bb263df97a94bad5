//! The near-end read of instant selectors (`select_newest`) against reading the whole
//! lookback, on a real `Db` filled with random series: regular ones, sparse ones (an
//! interval longer than the near part), ones that end somewhere in the lookback, and
//! ones ended by a staleness marker.

use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use tianshu_tsdb::{
    stale_nan, Db, DbOptions, FsyncPolicy, Labels, Matcher, Sample, Series, SeriesSamples,
};

use crate::engine::{Engine, EngineOptions, QueryOptions, Queryable, Value};
use crate::error::QueryError;

/// The same `Db`, but unable to count series: the engine reads the whole lookback.
struct NoCount<'a>(&'a Db);

impl Queryable for NoCount<'_> {
    fn select(&self, m: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, QueryError> {
        Ok(self.0.select(m, mint, maxt))
    }
}

/// The `Db`, recording the time ranges of its selects, to tell which path answered.
struct Spy<'a>(&'a Db, Mutex<Vec<(i64, i64)>>);

impl Queryable for Spy<'_> {
    fn select(&self, m: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<Series>, QueryError> {
        if let Ok(mut v) = self.1.lock() {
            v.push((mint, maxt));
        }
        Ok(self.0.select(m, mint, maxt))
    }

    fn count_series(
        &self,
        m: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Option<usize>, QueryError> {
        Ok(Some(self.0.count_series(m, mint, maxt)))
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
fn reading_the_near_end_first_answers_as_the_whole_lookback() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let engine = Engine::new(EngineOptions::default());
    let o = QueryOptions::default();
    let (mut near, mut fallback, mut nonempty) = (0, 0, 0);
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
        let spy = Spy(&db, Mutex::new(Vec::new()));
        for k in 0..12 {
            let t = now - 480_000 + rng.below(600_000) as i64;
            for q in &queries {
                if let Ok(mut v) = spy.1.lock() {
                    v.clear();
                }
                let fast = engine.instant_query(&spy, q, t, &o).map(|r| r.value);
                let full = engine
                    .instant_query(&NoCount(&db), q, t, &o)
                    .map(|r| r.value);
                let (Ok(fast), Ok(full)) = (fast, full) else {
                    panic!("seed {seed} step {k}: {q} failed");
                };
                let reads = spy.1.lock().map(|v| v.clone()).unwrap_or_default();
                match reads.as_slice() {
                    [(mint, maxt)] if maxt - mint < 299_999 => near += 1,
                    [_, (mint, maxt)] if maxt - mint == 299_999 => fallback += 1,
                    _ => {}
                }
                if matches!(&full, Value::Vector(v) if !v.is_empty()) {
                    nonempty += 1;
                }
                assert_eq!(fast, full, "seed {seed}, t = now - {} ms: {q}", now - t);
            }
        }
    }
    // Both paths ran, on data that answers.
    assert!(
        near > 0 && fallback > 0 && nonempty > 0,
        "{near} {fallback} {nonempty}"
    );
}
