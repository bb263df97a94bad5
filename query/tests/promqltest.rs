//! Runs Prometheus's scripted PromQL tests (`../shared/promql-conformance/testdata`)
//! against the engine reading a real [`Db`] (each `load` is appended through the head and
//! its closed chunks written to the mmapped chunk-head segments, so selectors read the
//! same chunk paths a server does). `PROMQLTEST_STORE=mem` runs the scripts against a
//! plain in-memory store instead, to tell an engine bug from a storage one.
//!
//! Skipped cases are listed in `promqltest/skip.txt`; cases known to fail in
//! `promqltest/known_failures.txt`. Any other failure fails the test.

#[path = "promqltest/parse.rs"]
mod parse;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parse::{Cmd, Eval, Expected};
use promql_parser::parser::{AtModifier, Expr};
use tianshu_query::engine::{
    Engine, EngineOptions, MatrixSeries, QueryOptions, QueryResult, Value,
};
use tianshu_query::{QueryError, Queryable};
use tianshu_tsdb::{
    ChunkedSeries, Db, DbOptions, FsyncPolicy, Labels, MatchOp, Matcher, Sample, Series,
    SeriesSamples,
};

/// A plain vector of series: enough for the scripts, independent of the real store.
#[derive(Default)]
struct MemStore {
    series: Vec<Series>,
    regex_cache: Mutex<HashMap<String, Option<regex::Regex>>>,
}

impl MemStore {
    fn matches(&self, m: &Matcher, value: &str) -> bool {
        match m.op {
            MatchOp::Equal => value == m.value,
            MatchOp::NotEqual => value != m.value,
            MatchOp::RegexMatch | MatchOp::RegexNoMatch => {
                let mut cache = match self.regex_cache.lock() {
                    Ok(c) => c,
                    Err(p) => p.into_inner(),
                };
                let re = cache
                    .entry(m.value.clone())
                    .or_insert_with(|| regex::Regex::new(&format!("^(?s:{})$", m.value)).ok());
                let hit = re.as_ref().is_some_and(|r| r.is_match(value));
                if m.op == MatchOp::RegexMatch {
                    hit
                } else {
                    !hit
                }
            }
        }
    }

    fn add(&mut self, labels: Labels, samples: Vec<Sample>) {
        match self.series.iter_mut().find(|s| s.labels == labels) {
            Some(s) => {
                for smp in samples {
                    match s.samples.binary_search_by_key(&smp.t, |p| p.t) {
                        Ok(i) => s.samples[i] = smp,
                        Err(i) => s.samples.insert(i, smp),
                    }
                }
            }
            None => {
                self.series.push(Series { labels, samples });
                self.series.sort_by(|a, b| a.labels.cmp(&b.labels));
            }
        }
    }
}

impl Queryable for MemStore {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, QueryError> {
        let mut out = Vec::new();
        for s in &self.series {
            // An absent label matches as the empty string, as in Prometheus.
            if matchers
                .iter()
                .all(|m| self.matches(m, s.labels.get(&m.name).unwrap_or("")))
            {
                let samples: Vec<Sample> = s
                    .samples
                    .iter()
                    .filter(|p| p.t >= mint && p.t <= maxt)
                    .copied()
                    .collect();
                out.push(Series {
                    labels: s.labels.clone(),
                    samples,
                });
            }
        }
        Ok(out)
    }
}

/// What a script's series are loaded into and read from.
enum Store {
    Mem(MemStore),
    /// A database of its own per `clear`, in a directory removed on drop.
    Db {
        db: Db,
        _dir: tempfile::TempDir,
    },
}

/// Which store the runner uses, from `PROMQLTEST_STORE` (`db`, the default, or `mem`).
fn use_db() -> bool {
    std::env::var("PROMQLTEST_STORE").map_or(true, |v| v != "mem")
}

impl Store {
    fn new() -> Result<Store, String> {
        if !use_db() {
            return Ok(Store::Mem(MemStore::default()));
        }
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let opts = DbOptions {
            wal_fsync: FsyncPolicy::Never,
            // Scripts load series in any order of time, from 1970 on, and later `load`s
            // may go back before earlier ones: accept every age. No background threads:
            // the runner flushes chunks itself and never cuts blocks.
            max_sample_age_ms: i64::MAX / 4,
            ooo_window_ms: i64::MAX / 4,
            head_cut_interval: None,
            head_chunk_write_interval: None,
            retention_ms: None,
            ..DbOptions::default()
        };
        let db = Db::open(dir.path(), opts).map_err(|e| format!("open db: {e}"))?;
        Ok(Store::Db { db, _dir: dir })
    }

    fn add(&mut self, labels: Labels, samples: Vec<Sample>) -> Result<(), String> {
        match self {
            Store::Mem(m) => {
                m.add(labels, samples);
                Ok(())
            }
            Store::Db { db, .. } => {
                let report = db
                    .append(&[SeriesSamples { labels, samples }])
                    .map_err(|e| e.to_string())?;
                match report.first_rejection {
                    Some(r) => Err(format!("{} sample(s) refused: {r:?}", report.rejected)),
                    None => Ok(()),
                }
            }
        }
    }

    /// Moves the closed head chunks of what was loaded to the chunk-head segments.
    fn loaded(&self) -> Result<(), String> {
        match self {
            Store::Mem(_) => Ok(()),
            Store::Db { db, .. } => db
                .flush_head_chunks()
                .map(|_| ())
                .map_err(|e| e.to_string()),
        }
    }
}

impl Queryable for Store {
    fn select(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<Series>, QueryError> {
        match self {
            Store::Mem(m) => m.select(matchers, mint, maxt),
            Store::Db { db, .. } => Queryable::select(db, matchers, mint, maxt),
        }
    }

    fn count_series(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Option<usize>, QueryError> {
        match self {
            Store::Mem(m) => m.count_series(matchers, mint, maxt),
            Store::Db { db, .. } => Queryable::count_series(db, matchers, mint, maxt),
        }
    }

    fn select_chunks(
        &self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<ChunkedSeries>, QueryError> {
        match self {
            Store::Mem(m) => m.select_chunks(matchers, mint, maxt),
            Store::Db { db, .. } => Queryable::select_chunks(db, matchers, mint, maxt),
        }
    }
}

fn testdata_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/promql-conformance/testdata")
}

fn list_file(name: &str) -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/promqltest")
        .join(name);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('#') {
            Some((id, why)) => (id.trim().to_string(), why.trim().to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

const EPSILON: f64 = 1e-6;

fn almost_equal(a: f64, b: f64) -> bool {
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < EPSILON * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < EPSILON
}

fn system_time(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// Functions whose value depends on the evaluation time even with fixed inputs.
const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "hour",
    "minute",
    "month",
    "year",
    "predict_linear",
    "time",
    "timestamp",
    "start",
    "end",
    "step",
    "range",
];

/// Adds `@ ts` to every selector and subquery outside an `@`-pinned subquery. Returns
/// false when the expression uses a time-dependent function (no rerun then).
fn add_at(e: &mut Expr, ts: i64) -> bool {
    match e {
        Expr::VectorSelector(vs) => {
            if vs.at.is_none() {
                vs.at = Some(AtModifier::At(system_time(ts)));
            }
            true
        }
        Expr::MatrixSelector(ms) => {
            if ms.vs.at.is_none() {
                ms.vs.at = Some(AtModifier::At(system_time(ts)));
            }
            true
        }
        Expr::Subquery(sq) => {
            if sq.at.is_some() {
                return safe(&sq.expr);
            }
            sq.at = Some(AtModifier::At(system_time(ts)));
            safe(&sq.expr)
        }
        Expr::Aggregate(a) => {
            let p = a.param.as_mut().is_none_or(|p| add_at(p, ts));
            add_at(&mut a.expr, ts) && p
        }
        Expr::Unary(u) => add_at(&mut u.expr, ts),
        Expr::Binary(b) => {
            let l = add_at(&mut b.lhs, ts);
            add_at(&mut b.rhs, ts) && l
        }
        Expr::Paren(p) => add_at(&mut p.expr, ts),
        Expr::Call(c) => {
            let mut ok = !AT_UNSAFE.contains(&c.func.name);
            for a in c.args.args.iter_mut() {
                ok &= add_at(a, ts);
            }
            ok
        }
        _ => true,
    }
}

fn safe(e: &Expr) -> bool {
    match e {
        Expr::Subquery(sq) => safe(&sq.expr),
        Expr::Aggregate(a) => safe(&a.expr) && a.param.as_ref().is_none_or(|p| safe(p)),
        Expr::Unary(u) => safe(&u.expr),
        Expr::Binary(b) => safe(&b.lhs) && safe(&b.rhs),
        Expr::Paren(p) => safe(&p.expr),
        Expr::Call(c) => !AT_UNSAFE.contains(&c.func.name) && c.args.args.iter().all(|a| safe(a)),
        _ => true,
    }
}

struct Runner {
    engine: Engine,
    store: Store,
    opts: QueryOptions,
}

type CaseResult = Result<(), String>;

fn short(s: &str) -> String {
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s.to_string()
    }
}

impl Runner {
    fn load(&mut self, interval: i64, series: &[parse::SeriesDef]) -> Result<(), String> {
        // A `load` block may define one series twice; the later definition wins at equal
        // timestamps (aggregators.test's `inf3` cases expect it). Merged here, because the
        // database refuses a second value at a timestamp, as Prometheus's head does across
        // separate writes.
        let mut merged: Vec<(Labels, BTreeMap<i64, f64>)> = Vec::new();
        for s in series {
            let i = match merged.iter().position(|(l, _)| *l == s.labels) {
                Some(i) => i,
                None => {
                    merged.push((s.labels.clone(), BTreeMap::new()));
                    merged.len() - 1
                }
            };
            for (k, v) in s.values.iter().enumerate() {
                if let Some(v) = v {
                    merged[i].1.insert(k as i64 * interval, *v);
                }
            }
        }
        for (labels, points) in merged {
            let samples = points.into_iter().map(|(t, v)| Sample::new(t, v)).collect();
            self.store
                .add(labels.clone(), samples)
                .map_err(|e| format!("load {labels}: {e}"))?;
        }
        self.store.loaded()
    }

    fn check_fail(&self, ev: &Eval, err: &QueryError) -> CaseResult {
        let msg = err.to_string();
        if let Some(m) = &ev.expect.fail_msg {
            if &msg != m {
                return Err(format!("expected error {m:?}, got {msg:?}"));
            }
        }
        if let Some(r) = &ev.expect.fail_regex {
            let re = regex::Regex::new(r).map_err(|e| e.to_string())?;
            if !re.is_match(&msg) {
                return Err(format!("expected error matching {r:?}, got {msg:?}"));
            }
        }
        Ok(())
    }

    fn check_annotations(&self, ev: &Eval, res: &QueryResult) -> CaseResult {
        let x = &ev.expect;
        if x.warn && res.warnings.is_empty() {
            return Err("expected warnings, got none".into());
        }
        if x.info && res.infos.is_empty() {
            return Err("expected infos, got none".into());
        }
        for (kind, expected, actual) in [
            ("warn", &x.warns, &res.warnings),
            ("info", &x.infos, &res.infos),
        ] {
            if expected.is_empty() {
                continue;
            }
            if actual.is_empty() {
                return Err(format!("expected {kind} annotations, got none"));
            }
            let matches = |e: &(bool, String), a: &str| -> bool {
                if e.0 {
                    regex::Regex::new(&e.1).is_ok_and(|r| r.is_match(a))
                } else {
                    e.1 == a
                }
            };
            for e in expected.iter() {
                if !actual.iter().any(|a| matches(e, a)) {
                    return Err(format!("expected {kind} {:?}, got {actual:?}", e.1));
                }
            }
            for a in actual.iter() {
                if !expected.iter().any(|e| matches(e, a)) {
                    return Err(format!("unexpected {kind} {a:?}"));
                }
            }
        }
        if x.no_warn && !res.warnings.is_empty() {
            return Err(format!("unexpected warnings {:?}", res.warnings));
        }
        if x.no_info && !res.infos.is_empty() {
            return Err(format!("unexpected infos {:?}", res.infos));
        }
        Ok(())
    }

    fn compare_matrix(
        &self,
        ev: &Eval,
        m: &[MatrixSeries],
        start: i64,
        step: i64,
        end: i64,
    ) -> CaseResult {
        if ev.expect.ordered {
            return Err("expected ordered result, but query returned a matrix".into());
        }
        let Expected::Series(exp) = &ev.expected else {
            return Err("expected scalar result, got matrix".into());
        };
        for w in m.windows(2) {
            if w[0].labels > w[1].labels {
                return Err(format!(
                    "matrix not sorted: {} before {}",
                    w[0].labels, w[1].labels
                ));
            }
        }
        let mut seen = BTreeSet::new();
        for s in m {
            let Some((i, (_, e))) = exp
                .iter()
                .enumerate()
                .find(|(_, (_, e))| e.labels == s.labels)
            else {
                return Err(format!(
                    "unexpected series {} with {} points",
                    s.labels,
                    s.samples.len()
                ));
            };
            seen.insert(i);
            let mut want = Vec::new();
            for (k, v) in e.values.iter().enumerate() {
                let t = start + k as i64 * step;
                if t > end {
                    return Err(format!(
                        "expected {} points for {}, too many for the range",
                        e.values.len(),
                        e.labels
                    ));
                }
                if let Some(v) = v {
                    want.push(Sample::new(t, *v));
                }
            }
            if want.len() != s.samples.len() {
                return Err(format!(
                    "{}: expected {} points, got {:?}",
                    s.labels,
                    want.len(),
                    s.samples.iter().map(|p| (p.t, p.v)).collect::<Vec<_>>()
                ));
            }
            for (w, a) in want.iter().zip(&s.samples) {
                if w.t != a.t || !almost_equal(w.v, a.v) {
                    return Err(format!(
                        "{}: expected {} at {}, got {} at {}",
                        s.labels, w.v, w.t, a.v, a.t
                    ));
                }
            }
        }
        for (i, (_, e)) in exp.iter().enumerate() {
            if !seen.contains(&i) {
                return Err(format!("expected series {} not found", e.labels));
            }
        }
        Ok(())
    }

    fn compare_vector(&self, ev: &Eval, v: &[(Labels, f64)], ordered: bool) -> CaseResult {
        let Expected::Series(exp) = &ev.expected else {
            return Err(format!("expected scalar, got vector of {}", v.len()));
        };
        let mut seen = BTreeSet::new();
        for (pos, (l, val)) in v.iter().enumerate() {
            let Some((i, (epos, e))) = exp.iter().enumerate().find(|(_, (_, e))| &e.labels == l)
            else {
                return Err(format!("unexpected series {l} = {val}"));
            };
            if ordered && *epos != pos + 1 {
                return Err(format!(
                    "{l} expected at position {epos}, was at {}",
                    pos + 1
                ));
            }
            let want = e.values.first().copied().flatten().unwrap_or(f64::NAN);
            if !almost_equal(want, *val) {
                return Err(format!("{l}: expected {want}, got {val}"));
            }
            seen.insert(i);
        }
        for (i, (_, e)) in exp.iter().enumerate() {
            if !seen.contains(&i) {
                return Err(format!("expected series {} not found", e.labels));
            }
        }
        Ok(())
    }

    fn compare(&self, ev: &Eval, val: &Value) -> CaseResult {
        match val {
            Value::Matrix(m) => {
                let (s, e, st) = match (ev.range, ev.expect.range_vector) {
                    (Some(r), _) => r,
                    (None, Some(r)) => r,
                    (None, None) => (ev.at, ev.at, 0),
                };
                self.compare_matrix(ev, m, s, st, e)
            }
            Value::Vector(v) => {
                let pairs: Vec<(Labels, f64)> = v.iter().map(|s| (s.labels.clone(), s.v)).collect();
                self.compare_vector(ev, &pairs, ev.expect.ordered)
            }
            Value::Scalar { v, .. } => match &ev.expected {
                Expected::Scalar(w) if almost_equal(*w, *v) => Ok(()),
                Expected::Scalar(w) => Err(format!("expected scalar {w}, got {v}")),
                _ => Err(format!("expected vector, got scalar {v}")),
            },
            Value::String { v, .. } => match &ev.expect.string {
                Some(s) if s == v => Ok(()),
                other => Err(format!("expected string {other:?}, got {v:?}")),
            },
        }
    }

    fn run_range(&self, ev: &Eval, (s, e, st): (i64, i64, i64)) -> CaseResult {
        let res = self
            .engine
            .range_query(&self.store, &ev.query, s, e, st, &self.opts);
        match res {
            Err(err) if ev.expect.fail => self.check_fail(ev, &err),
            Err(err) => Err(format!("error: {}", short(&err.to_string()))),
            Ok(_) if ev.expect.fail => Err("expected error, got none".into()),
            Ok(r) => {
                self.check_annotations(ev, &r)?;
                self.compare(ev, &r.value)
            }
        }
    }

    fn run_instant_one(&self, ev: &Eval, expr: &Expr, t: i64, label: &str) -> CaseResult {
        let res = self
            .engine
            .instant_query_expr(&self.store, expr, t, &self.opts);
        let r = match res {
            Err(err) if ev.expect.fail => return self.check_fail(ev, &err),
            Err(err) => return Err(format!("{label}error: {}", short(&err.to_string()))),
            Ok(_) if ev.expect.fail => return Err(format!("{label}expected error, got none")),
            Ok(r) => r,
        };
        self.check_annotations(ev, &r)
            .map_err(|e| format!("{label}{e}"))?;
        self.compare(ev, &r.value)
            .map_err(|e| format!("{label}{e}"))?;
        if ev.expect.range_vector.is_some() || ev.expect.string.is_some() {
            return Ok(());
        }
        let text = ev.query.as_str();
        if ["start()", "end()", "range()", "step()"]
            .iter()
            .any(|f| text.contains(f))
        {
            return Ok(());
        }
        let rr = self
            .engine
            .range_query_expr(
                &self.store,
                expr,
                t - 60_000,
                t + 60_000,
                60_000,
                &self.opts,
            )
            .map_err(|e| format!("{label}range mode error: {}", short(&e.to_string())))?;
        if ev.expect.ordered {
            return Ok(());
        }
        let Value::Matrix(m) = &rr.value else {
            return Err(format!("{label}range mode returned no matrix"));
        };
        for w in m.windows(2) {
            if w[0].labels > w[1].labels {
                return Err(format!("{label}range mode: matrix not sorted"));
            }
        }
        let vec: Vec<(Labels, f64)> = m
            .iter()
            .filter_map(|s| {
                s.samples
                    .iter()
                    .find(|p| p.t == t)
                    .map(|p| (s.labels.clone(), p.v))
            })
            .collect();
        if let Value::Scalar { .. } = r.value {
            let v = vec.first().map_or(f64::NAN, |p| p.1);
            return self
                .compare(ev, &Value::Scalar { t, v })
                .map_err(|e| format!("{label}range mode: {e}"));
        }
        self.compare_vector(ev, &vec, false)
            .map_err(|e| format!("{label}range mode: {e}"))
    }

    fn run_instant(&self, ev: &Eval) -> CaseResult {
        let expr = match tianshu_query::parse::parse(&ev.query) {
            Ok(e) => e,
            Err(err) if ev.expect.fail => {
                return self.check_fail(ev, &QueryError::BadData(err));
            }
            Err(err) => return Err(format!("parse error: {}", short(&err))),
        };
        let t = ev.expect.range_vector.map_or(ev.at, |r| r.1);
        self.run_instant_one(ev, &expr, t, "")?;
        let mut at_expr = expr.clone();
        if add_at(&mut at_expr, t) {
            let times: Vec<i64> = if t == 0 {
                vec![-1000, 0, 1000]
            } else {
                vec![-10 * t, 0, t / 5, t, 10 * t]
            };
            for et in times {
                self.run_instant_one(ev, &at_expr, et, &format!("[@{t} evaluated at {et}] "))?;
            }
        }
        Ok(())
    }
}

fn selectors(e: &Expr, out: &mut Vec<promql_parser::parser::VectorSelector>) {
    match e {
        Expr::VectorSelector(vs) => out.push(vs.clone()),
        Expr::MatrixSelector(ms) => out.push(ms.vs.clone()),
        Expr::Subquery(sq) => selectors(&sq.expr, out),
        Expr::Aggregate(a) => {
            selectors(&a.expr, out);
            if let Some(p) = &a.param {
                selectors(p, out);
            }
        }
        Expr::Unary(u) => selectors(&u.expr, out),
        Expr::Binary(b) => {
            selectors(&b.lhs, out);
            selectors(&b.rhs, out);
        }
        Expr::Paren(p) => selectors(&p.expr, out),
        Expr::Call(c) => c.args.args.iter().for_each(|a| selectors(a, out)),
        _ => {}
    }
}

/// Why a case needs native histograms, if it does: its expected result has one, or one
/// of its selectors matches a series that was loaded with histogram samples.
fn needs_native_histograms(ev: &Eval, hist: &[Labels]) -> Option<String> {
    let store = MemStore::default();
    if ev.unsupported.is_some() {
        return Some("native histogram in the expected result".into());
    }
    let expr = promql_parser::parser::parse(&ev.query).ok()?;
    let mut sels = Vec::new();
    selectors(&expr, &mut sels);
    for vs in &sels {
        let mut ms: Vec<Matcher> = Vec::new();
        if let Some(n) = &vs.name {
            ms.extend(Matcher::new(MatchOp::Equal, "__name__", n.clone()).ok());
        }
        for m in &vs.matchers.matchers {
            let op = match m.op {
                promql_parser::label::MatchOp::Equal => MatchOp::Equal,
                promql_parser::label::MatchOp::NotEqual => MatchOp::NotEqual,
                promql_parser::label::MatchOp::Re(_) => MatchOp::RegexMatch,
                promql_parser::label::MatchOp::NotRe(_) => MatchOp::RegexNoMatch,
            };
            ms.extend(Matcher::new(op, m.name.clone(), m.value.clone()).ok());
        }
        for h in hist {
            if ms
                .iter()
                .all(|m| store.matches(m, h.get(&m.name).unwrap_or("")))
            {
                return Some(format!("reads native histogram series {h}"));
            }
        }
    }
    None
}

#[test]
fn promql_conformance() {
    let skips = list_file("skip.txt");
    let known: BTreeSet<String> = list_file("known_failures.txt")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let skip_ids: BTreeSet<String> = skips.iter().map(|(id, _)| id.clone()).collect();
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata_dir())
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "test"));
    files.sort();
    assert!(
        !files.is_empty(),
        "no test files in {}",
        testdata_dir().display()
    );
    let filter = std::env::var("PROMQLTEST_FILTER").ok();
    // Lists the cases that read native histograms, as candidate lines for skip.txt.
    let suggest = std::env::var("PROMQLTEST_SUGGEST_SKIPS").is_ok();
    let (mut passed, mut failed, mut skipped) = (0usize, 0usize, 0usize);
    let mut unexpected = Vec::new();
    let mut now_passing = Vec::new();
    for path in &files {
        let fname = path
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let cmds = match parse::parse_file(&text) {
            Ok(c) => c,
            Err(e) => {
                println!("{fname}: cannot parse test file: {e}");
                failed += 1;
                unexpected.push(fname.clone());
                continue;
            }
        };
        let whole_file_skipped = skip_ids.contains(&fname);
        let mut histogram_series: Vec<Labels> = Vec::new();
        let store = match Store::new() {
            Ok(s) => s,
            Err(e) => {
                println!("{fname}: {e}");
                failed += 1;
                unexpected.push(fname.clone());
                continue;
            }
        };
        let mut runner = Runner {
            // Prometheus's own runner enables delayed name removal; its files expect it.
            engine: Engine::new(EngineOptions {
                delayed_name_removal: true,
                ..EngineOptions::default()
            }),
            store,
            opts: QueryOptions::default(),
        };
        for cmd in &cmds {
            match cmd {
                Cmd::Clear => {
                    match Store::new() {
                        Ok(s) => runner.store = s,
                        Err(e) => {
                            println!("{fname}: {e}");
                            failed += 1;
                            unexpected.push(fname.clone());
                            break;
                        }
                    }
                    histogram_series.clear();
                }
                Cmd::Load {
                    interval,
                    series,
                    histogram_series: h,
                } => {
                    if let Err(e) = runner.load(*interval, series) {
                        // A load the store refuses fails the file's run, not the process.
                        println!("FAIL {fname}: {e}");
                        failed += 1;
                        unexpected.push(fname.clone());
                    }
                    histogram_series.extend(h.iter().cloned());
                }
                Cmd::Eval(ev) => {
                    let id = format!("{fname}:{}", ev.line);
                    if whole_file_skipped || skip_ids.contains(&id) {
                        skipped += 1;
                        continue;
                    }
                    if filter.as_ref().is_some_and(|f| !id.contains(f.as_str())) {
                        continue;
                    }
                    if suggest {
                        if let Some(why) = needs_native_histograms(ev, &histogram_series) {
                            println!("{id} # {why}");
                        }
                        continue;
                    }
                    let res =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match ev.range {
                            Some(r) => runner.run_range(ev, r),
                            None => runner.run_instant(ev),
                        }))
                        .unwrap_or_else(|_| Err("panicked".into()));
                    match res {
                        Ok(()) => {
                            passed += 1;
                            if known.contains(&id) {
                                now_passing.push(id);
                            }
                        }
                        Err(e) => {
                            failed += 1;
                            let why = ev
                                .unsupported
                                .as_deref()
                                .map(|u| format!(" [{u}]"))
                                .unwrap_or_default();
                            println!("FAIL {id}: {} -- {}{why}", short(&ev.query), short(&e));
                            if !known.contains(&id) {
                                unexpected.push(id);
                            }
                        }
                    }
                }
            }
        }
    }
    for id in &now_passing {
        println!("now passing (remove from known_failures.txt): {id}");
    }
    println!("promqltest: {passed} passed, {failed} failed, {skipped} skipped");
    assert!(
        unexpected.is_empty(),
        "{} failing cases not listed in known_failures.txt: {}",
        unexpected.len(),
        unexpected.join(" ")
    );
}
