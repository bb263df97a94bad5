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

use std::collections::{BTreeMap, HashMap};

use tianshu_tsdb::{stale_nan, Labels, Sample, SeriesRef, METRIC_NAME};

use super::parse::{Entry as ParsedEntry, MetricType, ParseOptions, Series};
use super::relabel::Relabeler;
use super::relabel_config::RelabelConfig;
use super::sink::FlatLabels;

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
/// Series texts map to *slots*, one per distinct final label set, which hold the labels in
/// the flat form the storage appends from without copying them. A scrape then costs one
/// lookup of the line's text; duplicates and vanished series are found by comparing the
/// slots' scrape numbers, never by hashing label sets.
///
/// Invariants: `last` holds exactly the slots the previous successful append stored
/// (empty after a failed one, whose stale markers were written), so those of `last` not
/// seen in the current scrape are what went stale; a slot's `refs` counts the entries
/// resolving to it, and a slot at zero refs is in `unused` until the next scrape frees
/// it (its labels are still needed for the stale markers of the scrape that dropped it).
#[derive(Default)]
pub struct SeriesCache {
    /// Series text → its slot (`None`: dropped by metric relabelling) and the scrape it
    /// was last seen in.
    entries: HashMap<Box<str>, Entry, FoldHash>,
    slots: Vec<Slot>,
    /// Final labels → slot, consulted only when a series text is new.
    by_labels: HashMap<Labels, u32, FoldHash>,
    /// Freed slots, reused first.
    free: Vec<u32>,
    /// Slots whose last entry went away in the previous scrape, freed at the next.
    unused: Vec<u32>,
    last: Vec<u32>,
    /// Number of the current scrape.
    iter: u64,
    relabeler: Relabeler,
    /// Metric family → metadata, from the last successful scrape.
    pub metadata: BTreeMap<String, FamilyMeta>,
}

type FoldHash = foldhash::fast::RandomState;

struct Entry {
    slot: Option<u32>,
    seen: u64,
}

/// One distinct final label set.
#[derive(Default)]
struct Slot {
    labels: Labels,
    flat: FlatLabels,
    /// Entries resolving here; 0 for a free slot.
    refs: u32,
    /// The scrape that last stored a sample for it.
    seen: u64,
}

/// The result of appending one scrape.
#[derive(Debug, Default)]
pub struct Appended {
    /// Samples to store, stale markers for vanished series included: the slot of each
    /// series and its sample. [`SeriesCache::series`] turns them into the storage's form.
    pub rows: Vec<(u32, Sample)>,
    /// Sample lines read (`scrape_samples_scraped`).
    pub scraped: u64,
    /// Samples left after metric relabelling (`scrape_samples_post_metric_relabeling`).
    pub post_relabel: u64,
    /// Series not in the cache (`scrape_series_added`).
    pub series_added: u64,
    /// Samples dropped because their series was repeated in the body.
    pub duplicates: u64,
    /// Why the scrape failed; `rows` then holds only stale markers.
    pub error: Option<String>,
}

impl SeriesCache {
    /// Appends a scrape body parsed by `parser`, stamped `ts` (ms) unless honoured.
    pub fn append<'a>(
        &mut self,
        parser: impl Iterator<Item = Result<ParsedEntry<'a>, super::parse::ParseError>>,
        set: &AppendSettings,
        ts: i64,
    ) -> Appended {
        self.release_unused();
        self.iter += 1;
        let iter = self.iter;
        let mut out = Appended::default();
        let mut current: Vec<u32> = Vec::with_capacity(self.last.len());
        let mut meta: BTreeMap<String, FamilyMeta> = BTreeMap::new();
        let mut rows = Vec::with_capacity(self.last.len() + 8);
        for entry in parser {
            let series = match entry {
                Ok(ParsedEntry::Series(s)) => s,
                Ok(ParsedEntry::Help { metric, text }) => {
                    meta.entry(metric.unescape().into_owned()).or_default().help =
                        text.unescape().into_owned();
                    continue;
                }
                Ok(ParsedEntry::Type {
                    metric,
                    metric_type,
                }) => {
                    meta.entry(metric.unescape().into_owned()).or_default().kind =
                        metric_type.as_str().to_string();
                    continue;
                }
                Ok(ParsedEntry::Unit { metric, unit }) => {
                    meta.entry(metric.unescape().into_owned()).or_default().unit = unit.to_string();
                    continue;
                }
                Ok(ParsedEntry::Comment(_)) => continue,
                Err(e) => {
                    out.error = Some(e.to_string());
                    break;
                }
            };
            out.scraped += 1;
            let slot = match self.entries.get_mut(series.raw) {
                Some(e) => {
                    e.seen = iter;
                    e.slot
                }
                None => match self.resolve(&series, set) {
                    Ok(labels) => {
                        let slot = labels.map(|l| self.slot_for(l));
                        if slot.is_some() {
                            out.series_added += 1;
                        }
                        self.entries
                            .insert(series.raw.into(), Entry { slot, seen: iter });
                        slot
                    }
                    Err(e) => {
                        out.error = Some(e);
                        break;
                    }
                },
            };
            let Some(slot) = slot else { continue };
            out.post_relabel += 1;
            if set.sample_limit > 0 && out.post_relabel > set.sample_limit {
                out.error = Some("sample limit exceeded".to_string());
                super::metrics::get().exceeded_sample_limit.inc();
                break;
            }
            let t = match series.timestamp_ms {
                Some(t) if set.honor_timestamps => t,
                _ => ts,
            };
            let s = &mut self.slots[slot as usize];
            if s.seen == iter {
                out.duplicates += 1;
                continue;
            }
            s.seen = iter;
            current.push(slot);
            rows.push((slot, Sample::new(t, series.value)));
        }
        if let Some(e) = out.error.take() {
            return self.failed(ts, e);
        }
        for &gone in &self.last {
            if self.slots[gone as usize].seen != iter {
                rows.push((gone, Sample::new(ts, stale_nan())));
            }
        }
        let (slots, unused) = (&mut self.slots, &mut self.unused);
        self.entries.retain(|_, e| {
            if e.seen == iter {
                return true;
            }
            if let Some(slot) = e.slot {
                let s = &mut slots[slot as usize];
                s.refs -= 1;
                if s.refs == 0 {
                    unused.push(slot);
                }
            }
            false
        });
        for m in meta.values_mut() {
            if m.kind.is_empty() {
                m.kind = MetricType::Unknown.as_str().to_string();
            }
        }
        self.metadata = meta;
        self.last = current;
        out.rows = rows;
        out
    }

    /// A failed scrape: staleness markers for every series of the last one.
    pub fn failed(&mut self, ts: i64, error: String) -> Appended {
        let rows = self
            .last
            .drain(..)
            .map(|slot| (slot, Sample::new(ts, stale_nan())))
            .collect();
        Appended {
            rows,
            error: Some(error),
            ..Appended::default()
        }
    }

    /// The rows of an append as the storage's borrowed series, one sample each.
    pub fn series<'c>(&'c self, rows: &'c [(u32, Sample)]) -> Vec<SeriesRef<'c>> {
        rows.iter()
            .map(|(slot, sample)| SeriesRef {
                labels: self.slots[*slot as usize].flat.as_labels_ref(),
                samples: std::slice::from_ref(sample),
            })
            .collect()
    }

    /// The final labels of a row's slot.
    pub fn labels(&self, slot: u32) -> &Labels {
        &self.slots[slot as usize].labels
    }

    /// The slot holding `labels`, made when no entry resolves to them yet.
    fn slot_for(&mut self, labels: Labels) -> u32 {
        if let Some(&slot) = self.by_labels.get(&labels) {
            self.slots[slot as usize].refs += 1;
            return slot;
        }
        let s = Slot {
            flat: FlatLabels::new(&labels),
            labels: labels.clone(),
            refs: 1,
            seen: 0,
        };
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = s;
                i
            }
            None => {
                self.slots.push(s);
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.by_labels.insert(labels, slot);
        slot
    }

    /// Frees the slots the previous scrape left without entries, unless a new entry took
    /// one again meanwhile.
    fn release_unused(&mut self) {
        for slot in std::mem::take(&mut self.unused) {
            let s = &mut self.slots[slot as usize];
            if s.refs > 0 {
                continue;
            }
            let s = std::mem::take(s);
            self.by_labels.remove(&s.labels);
            self.free.push(slot);
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

    fn show(c: &SeriesCache, a: &Appended) -> Vec<String> {
        let mut v: Vec<String> = c
            .series(&a.rows)
            .iter()
            .map(|s| {
                let l: Vec<String> = s.labels.iter().map(|(n, v)| format!("{n}={v}")).collect();
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
            show(&c, &a),
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
            show(&c, &a),
            [
                "__name__=a,instance=i:1,job=j,x=1 3 @2000",
                "__name__=b,instance=i:1,job=j stale @2000"
            ]
        );
        // A failed scrape marks everything of the last one stale and stores nothing else.
        let a = run(&mut c, "a{x=\"1\"} 4\nbroken{\n", &set, 3000);
        assert!(a.error.is_some());
        assert_eq!(
            show(&c, &a),
            ["__name__=a,instance=i:1,job=j,x=1 stale @3000"]
        );
        let a = run(&mut c, "", &set, 4000);
        assert!(a.rows.is_empty());
    }

    #[test]
    fn honor_labels_and_exported_names() {
        let body = "m{job=\"theirs\",exported_job=\"x\"} 1\n";
        let mut c = SeriesCache::default();
        let a = run(&mut c, body, &settings(), 1);
        assert_eq!(
            show(&c, &a),
            ["__name__=m,exported_exported_job=theirs,exported_job=x,instance=i:1,job=j 1 @1"]
        );
        let mut c = SeriesCache::default();
        let set = AppendSettings {
            honor_labels: true,
            honor_timestamps: false,
            ..settings()
        };
        let a = run(&mut c, "m{job=\"theirs\"} 1 5\n", &set, 9);
        assert_eq!(show(&c, &a), ["__name__=m,instance=i:1,job=theirs 1 @9"]);
    }

    #[test]
    fn limits_fail_the_scrape() {
        let body = "a 1\nb 2\nc 3\n";
        let set = AppendSettings {
            sample_limit: 2,
            ..settings()
        };
        let exceeded = super::super::metrics::get().exceeded_sample_limit.get();
        let a = run(&mut SeriesCache::default(), body, &set, 1);
        assert_eq!(a.error.as_deref(), Some("sample limit exceeded"));
        assert!(a.rows.is_empty());
        assert!(super::super::metrics::get().exceeded_sample_limit.get() > exceeded);
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
        let mut c = SeriesCache::default();
        let a = run(&mut c, "drop_me 1\nkeep 1\nkeep 2\n", &set, 1);
        assert_eq!((a.scraped, a.post_relabel, a.duplicates), (3, 2, 1));
        assert_eq!(show(&c, &a), ["__name__=keep,instance=i:1,job=j 1 @1"]);
    }

    #[test]
    fn texts_of_one_label_set_share_a_slot_and_freed_slots_are_reused() {
        let set = settings();
        let mut c = SeriesCache::default();
        // Two spellings of one series: the second is a duplicate (and, being a new text, a
        // new entry of the cache, which is what scrape_series_added counts).
        let a = run(
            &mut c,
            "a{x=\"1\",y=\"2\"} 1\na{y=\"2\",x=\"1\"} 2\nb 1\n",
            &set,
            1000,
        );
        assert_eq!((a.scraped, a.duplicates, a.series_added), (3, 1, 3));
        assert_eq!(
            show(&c, &a),
            [
                "__name__=a,instance=i:1,job=j,x=1,y=2 1 @1000",
                "__name__=b,instance=i:1,job=j 1 @1000"
            ]
        );
        // One spelling goes away, the other stays: the series is not stale.
        let a = run(&mut c, "a{y=\"2\",x=\"1\"} 3\nb 1\n", &set, 2000);
        assert_eq!(
            show(&c, &a),
            [
                "__name__=a,instance=i:1,job=j,x=1,y=2 3 @2000",
                "__name__=b,instance=i:1,job=j 1 @2000"
            ]
        );
        // b goes: stale now; its slot is freed at the next scrape and reused by c.
        let a = run(&mut c, "a{y=\"2\",x=\"1\"} 4\n", &set, 3000);
        assert_eq!(
            show(&c, &a),
            [
                "__name__=a,instance=i:1,job=j,x=1,y=2 4 @3000",
                "__name__=b,instance=i:1,job=j stale @3000"
            ]
        );
        let a = run(&mut c, "a{y=\"2\",x=\"1\"} 5\nc 1\n", &set, 4000);
        assert_eq!(a.series_added, 1);
        assert_eq!(
            show(&c, &a),
            [
                "__name__=a,instance=i:1,job=j,x=1,y=2 5 @4000",
                "__name__=c,instance=i:1,job=j 1 @4000"
            ]
        );
        assert_eq!(c.slots.len(), 2, "b's slot was reused");
        // b comes back as a new series.
        let a = run(&mut c, "b 7\n", &set, 5000);
        assert_eq!(a.series_added, 1);
        assert_eq!(
            show(&c, &a),
            [
                "__name__=a,instance=i:1,job=j,x=1,y=2 stale @5000",
                "__name__=b,instance=i:1,job=j 7 @5000",
                "__name__=c,instance=i:1,job=j stale @5000"
            ]
        );
    }
}
