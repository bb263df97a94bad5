//! One scrape body → the samples to store, as Prometheus's `scrapeLoop.append`.
//!
//! For each sample line: the series text is looked up in the [`SeriesCache`]; on a miss
//! the labels are built (metric name, the line's labels without empty values), the
//! target's labels attached (`honor_labels` decides conflicts), `metric_relabel_configs`
//! applied and the label limits checked; the result, or "dropped", is cached under the
//! series text, so a steady target costs one hash lookup per line. The timestamp is the
//! line's own with `honor_timestamps`, else the scrape's.
//!
//! Any parse error, label-limit violation or `sample_limit` excess fails the whole scrape:
//! nothing of it is stored (Prometheus rolls the appender back), and the caller writes
//! staleness markers as for an empty scrape. A series repeated in one body keeps its first
//! sample, as Prometheus's storage does with a duplicate timestamp.

use std::collections::{BTreeMap, HashMap, HashSet};

use tianshu_tsdb::{stale_nan, Labels, Sample, SeriesSamples, METRIC_NAME};

use super::parse::{Entry, MetricType, ParseOptions, Series};
use super::relabel::Relabeler;
use super::relabel_config::RelabelConfig;

/// Longest exposition line accepted. Prometheus has no limit; one keeps a target that
/// sends one endless line from holding a scrape's worth of memory in a single error.
pub const MAX_LINE_BYTES: usize = 4 << 20;

/// The per-target settings of the append step, fixed for a scrape loop's life.
#[derive(Debug, Clone, Default)]
pub struct AppendSettings {
    /// The target's labels as attached to samples (no `__` labels).
    pub target_labels: Labels,
    pub honor_labels: bool,
    pub honor_timestamps: bool,
    pub metric_relabel: Vec<RelabelConfig>,
    /// 0 means no limit, for each of these.
    pub sample_limit: u64,
    pub label_limit: u64,
    pub label_name_length_limit: u64,
    pub label_value_length_limit: u64,
}

/// Metadata of one metric family, from `# HELP`, `# TYPE` and `# UNIT` lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FamilyMeta {
    pub kind: String,
    pub help: String,
    pub unit: String,
}

/// What a scrape loop remembers between scrapes.
///
/// Invariant: `last` holds exactly the series the previous successful append stored
/// (empty after a failed one, whose stale markers were written), so `last - current`
/// is what went stale.
#[derive(Default)]
pub struct SeriesCache {
    /// Series text → final labels (`None`: dropped by metric relabelling) and the
    /// scrape it was last seen in.
    entries: HashMap<Box<str>, (Option<Labels>, u64)>,
    last: HashSet<Labels>,
    /// Number of the current scrape.
    iter: u64,
    relabeler: Relabeler,
    /// Metric family → metadata, from the last successful scrape.
    pub metadata: BTreeMap<String, FamilyMeta>,
}

/// The result of appending one scrape.
#[derive(Debug, Default)]
pub struct Appended {
    /// Samples to store, stale markers for vanished series included.
    pub batch: Vec<SeriesSamples>,
    /// Sample lines read (`scrape_samples_scraped`).
    pub scraped: u64,
    /// Samples left after metric relabelling (`scrape_samples_post_metric_relabeling`).
    pub post_relabel: u64,
    /// Series not in the cache (`scrape_series_added`).
    pub series_added: u64,
    /// Samples dropped because their series was repeated in the body.
    pub duplicates: u64,
    /// Why the scrape failed; `batch` then holds only stale markers.
    pub error: Option<String>,
}

impl SeriesCache {
    /// Appends a scrape body parsed by `parser`, stamped `ts` (ms) unless honoured.
    pub fn append<'a>(
        &mut self,
        parser: impl Iterator<Item = Result<Entry<'a>, super::parse::ParseError>>,
        set: &AppendSettings,
        ts: i64,
    ) -> Appended {
        self.iter += 1;
        let mut out = Appended::default();
        let mut current: HashSet<Labels> = HashSet::with_capacity(self.last.len());
        let mut meta: BTreeMap<String, FamilyMeta> = BTreeMap::new();
        let mut batch = Vec::with_capacity(self.last.len());
        for entry in parser {
            let series = match entry {
                Ok(Entry::Series(s)) => s,
                Ok(Entry::Help { metric, text }) => {
                    meta.entry(metric.unescape().into_owned()).or_default().help =
                        text.unescape().into_owned();
                    continue;
                }
                Ok(Entry::Type {
                    metric,
                    metric_type,
                }) => {
                    meta.entry(metric.unescape().into_owned()).or_default().kind =
                        metric_type.as_str().to_string();
                    continue;
                }
                Ok(Entry::Unit { metric, unit }) => {
                    meta.entry(metric.unescape().into_owned()).or_default().unit = unit.to_string();
                    continue;
                }
                Ok(Entry::Comment(_)) => continue,
                Err(e) => {
                    out.error = Some(e.to_string());
                    break;
                }
            };
            out.scraped += 1;
            let labels = match self.entries.get_mut(series.raw) {
                Some((labels, seen)) => {
                    *seen = self.iter;
                    labels.clone()
                }
                None => match self.resolve(&series, set) {
                    Ok(labels) => {
                        if labels.is_some() {
                            out.series_added += 1;
                        }
                        self.entries
                            .insert(series.raw.into(), (labels.clone(), self.iter));
                        labels
                    }
                    Err(e) => {
                        out.error = Some(e);
                        break;
                    }
                },
            };
            let Some(labels) = labels else { continue };
            out.post_relabel += 1;
            if set.sample_limit > 0 && out.post_relabel > set.sample_limit {
                out.error = Some("sample limit exceeded".to_string());
                break;
            }
            let t = match series.timestamp_ms {
                Some(t) if set.honor_timestamps => t,
                _ => ts,
            };
            if !current.insert(labels.clone()) {
                out.duplicates += 1;
                continue;
            }
            batch.push(SeriesSamples {
                labels,
                samples: vec![Sample::new(t, series.value)],
            });
        }
        if let Some(e) = out.error.take() {
            return self.failed(ts, e);
        }
        for gone in self.last.difference(&current) {
            batch.push(SeriesSamples {
                labels: gone.clone(),
                samples: vec![Sample::new(ts, stale_nan())],
            });
        }
        let iter = self.iter;
        self.entries.retain(|_, (_, seen)| *seen == iter);
        for m in meta.values_mut() {
            if m.kind.is_empty() {
                m.kind = MetricType::Unknown.as_str().to_string();
            }
        }
        self.metadata = meta;
        self.last = current;
        out.batch = batch;
        out
    }

    /// A failed scrape: staleness markers for every series of the last one.
    pub fn failed(&mut self, ts: i64, error: String) -> Appended {
        let batch = self
            .last
            .drain()
            .map(|labels| SeriesSamples {
                labels,
                samples: vec![Sample::new(ts, stale_nan())],
            })
            .collect();
        Appended {
            batch,
            error: Some(error),
            ..Appended::default()
        }
    }

    /// Builds a new series' final labels; `Ok(None)` when metric relabelling drops it.
    fn resolve(&mut self, s: &Series<'_>, set: &AppendSettings) -> Result<Option<Labels>, String> {
        let name = s.name.unescape();
        let mut pairs: Vec<(String, String)> = Vec::with_capacity(s.labels.len() + 1);
        pairs.push((METRIC_NAME.to_string(), name.into_owned()));
        for (n, v) in s.labels.iter() {
            let v = v.unescape();
            if !v.is_empty() {
                pairs.push((n.unescape().into_owned(), v.into_owned()));
            }
        }
        let mut labels = Labels::from_pairs(pairs);
        attach_target_labels(&mut labels, &set.target_labels, set.honor_labels);
        if !set.metric_relabel.is_empty()
            && !self.relabeler.process(&mut labels, &set.metric_relabel)
        {
            return Ok(None);
        }
        if labels.is_empty() {
            return Ok(None);
        }
        check_limits(&labels, set)?;
        Ok(Some(labels))
    }
}

/// Attaches the target's labels to a sample's: with `honor` the sample's own win; without,
/// the target's win and a conflicting sample label is kept as `exported_<name>`
/// (`exported_exported_<name>` if that is taken too). Empty values remove the label.
pub fn attach_target_labels(labels: &mut Labels, target: &Labels, honor: bool) {
    for l in target.iter() {
        if honor {
            if labels.get(&l.name).is_none() {
                labels.set(&l.name, &l.value);
            }
            continue;
        }
        if let Some(existing) = labels.get(&l.name).map(str::to_string) {
            let mut name = format!("exported_{}", l.name);
            while labels.get(&name).is_some() || target.get(&name).is_some() {
                name = format!("exported_{name}");
            }
            labels.set(&name, &existing);
        }
        labels.set(&l.name, &l.value);
    }
}

/// Prometheus's `verifyLabelLimits`, with its error texts.
fn check_limits(labels: &Labels, set: &AppendSettings) -> Result<(), String> {
    let metric = trunc(labels.get(METRIC_NAME).unwrap_or(""), 50);
    let n = labels.len() as u64;
    if set.label_limit > 0 && n > set.label_limit {
        return Err(format!(
            "label_limit exceeded (metric: {metric}, number of labels: {n}, limit: {})",
            set.label_limit
        ));
    }
    for l in labels.iter() {
        let name_len = l.name.chars().count() as u64;
        if set.label_name_length_limit > 0 && name_len > set.label_name_length_limit {
            return Err(format!(
                "label_name_length_limit exceeded (metric: {metric}, label name: {}, length: {name_len}, limit: {})",
                trunc(&l.name, 50),
                set.label_name_length_limit
            ));
        }
        let value_len = l.value.chars().count() as u64;
        if set.label_value_length_limit > 0 && value_len > set.label_value_length_limit {
            return Err(format!(
                "label_value_length_limit exceeded (metric: {metric}, label name: {}, value: {:?}, length: {value_len}, limit: {})",
                trunc(&l.name, 50),
                trunc(&l.value, 50),
                set.label_value_length_limit
            ));
        }
    }
    Ok(())
}

/// Go's `%.50s`: at most `n` characters.
fn trunc(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((at, _)) => &s[..at],
        None => s,
    }
}

/// Parser options of a scrape.
pub fn parse_options() -> ParseOptions {
    ParseOptions {
        max_line_bytes: Some(MAX_LINE_BYTES),
        // Prometheus keeps unknown escapes verbatim; so does its scrape.
        lenient_escapes: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::parse::{Format, Parser};
    use tianshu_tsdb::is_stale_nan;

    fn target() -> Labels {
        Labels::from_pairs([("job", "j"), ("instance", "i:1")])
    }

    fn settings() -> AppendSettings {
        AppendSettings {
            target_labels: target(),
            honor_timestamps: true,
            ..AppendSettings::default()
        }
    }

    fn run(c: &mut SeriesCache, body: &str, set: &AppendSettings, ts: i64) -> Appended {
        c.append(
            Parser::new(Format::PrometheusText, body.as_bytes(), parse_options()),
            set,
            ts,
        )
    }

    fn show(a: &Appended) -> Vec<String> {
        let mut v: Vec<String> = a
            .batch
            .iter()
            .map(|s| {
                let l: Vec<String> = s
                    .labels
                    .iter()
                    .map(|l| format!("{}={}", l.name, l.value))
                    .collect();
                let v = s.samples[0].v;
                let v = if is_stale_nan(v) {
                    "stale".to_string()
                } else {
                    v.to_string()
                };
                format!("{} {} @{}", l.join(","), v, s.samples[0].t)
            })
            .collect();
        v.sort();
        v
    }

    #[test]
    fn attaches_target_labels_and_marks_vanished_series_stale() {
        let mut c = SeriesCache::default();
        let set = settings();
        let a = run(
            &mut c,
            "# TYPE a counter\n# HELP a Help.\na{x=\"1\",y=\"\"} 1\nb 2 500\n",
            &set,
            1000,
        );
        assert_eq!(a.error, None);
        assert_eq!((a.scraped, a.post_relabel, a.series_added), (2, 2, 2));
        assert_eq!(
            show(&a),
            [
                "__name__=a,instance=i:1,job=j,x=1 1 @1000",
                "__name__=b,instance=i:1,job=j 2 @500"
            ]
        );
        assert_eq!(c.metadata["a"].kind, "counter");
        assert_eq!(c.metadata["a"].help, "Help.");
        // The cache is keyed by the series text, as Prometheus's: a known text is no
        // new series.
        let a = run(&mut c, "a{x=\"1\",y=\"\"} 3\n", &set, 2000);
        assert_eq!(a.series_added, 0);
        assert_eq!(
            show(&a),
            [
                "__name__=a,instance=i:1,job=j,x=1 3 @2000",
                "__name__=b,instance=i:1,job=j stale @2000"
            ]
        );
        // A failed scrape marks everything of the last one stale and stores nothing else.
        let a = run(&mut c, "a{x=\"1\"} 4\nbroken{\n", &set, 3000);
        assert!(a.error.is_some());
        assert_eq!(show(&a), ["__name__=a,instance=i:1,job=j,x=1 stale @3000"]);
        let a = run(&mut c, "", &set, 4000);
        assert!(a.batch.is_empty());
    }

    #[test]
    fn honor_labels_and_exported_names() {
        let body = "m{job=\"theirs\",exported_job=\"x\"} 1\n";
        let mut c = SeriesCache::default();
        let a = run(&mut c, body, &settings(), 1);
        assert_eq!(
            show(&a),
            ["__name__=m,exported_exported_job=theirs,exported_job=x,instance=i:1,job=j 1 @1"]
        );
        let mut c = SeriesCache::default();
        let set = AppendSettings {
            honor_labels: true,
            honor_timestamps: false,
            ..settings()
        };
        let a = run(&mut c, "m{job=\"theirs\"} 1 5\n", &set, 9);
        assert_eq!(show(&a), ["__name__=m,instance=i:1,job=theirs 1 @9"]);
    }

    #[test]
    fn limits_fail_the_scrape() {
        let body = "a 1\nb 2\nc 3\n";
        let set = AppendSettings {
            sample_limit: 2,
            ..settings()
        };
        let a = run(&mut SeriesCache::default(), body, &set, 1);
        assert_eq!(a.error.as_deref(), Some("sample limit exceeded"));
        assert!(a.batch.is_empty());
        let set = AppendSettings {
            label_limit: 3,
            ..settings()
        };
        let a = run(&mut SeriesCache::default(), "a{x=\"1\"} 1\n", &set, 1);
        assert_eq!(
            a.error.as_deref(),
            Some("label_limit exceeded (metric: a, number of labels: 4, limit: 3)")
        );
        let set = AppendSettings {
            label_value_length_limit: 2,
            ..settings()
        };
        let a = run(&mut SeriesCache::default(), "a{x=\"1\"} 1\n", &set, 1);
        assert_eq!(
            a.error.as_deref(),
            Some("label_value_length_limit exceeded (metric: a, label name: instance, value: \"i:1\", length: 3, limit: 2)")
        );
    }

    #[test]
    fn metric_relabelling_drops_and_duplicates_keep_the_first() {
        let cfg = crate::scrape::config::Config::parse(
            "scrape_configs:\n  - job_name: j\n    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: drop_.*\n        action: drop\n",
            "t.yml",
        )
        .expect("valid");
        let set = AppendSettings {
            metric_relabel: cfg.scrape_configs[0].metric_relabel_configs.clone(),
            ..settings()
        };
        let a = run(
            &mut SeriesCache::default(),
            "drop_me 1\nkeep 1\nkeep 2\n",
            &set,
            1,
        );
        assert_eq!((a.scraped, a.post_relabel, a.duplicates), (3, 2, 1));
        assert_eq!(show(&a), ["__name__=keep,instance=i:1,job=j 1 @1"]);
    }
}
