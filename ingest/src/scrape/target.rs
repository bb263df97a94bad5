//! From a discovered target to a scrape target: Prometheus's `PopulateLabels`.
//!
//! A discovered target is a label set (`__address__`, `__meta_*`, group labels). The scrape
//! config's defaults are added (`job`, `__scheme__`, `__metrics_path__`,
//! `__scrape_interval__`, `__scrape_timeout__`, `__param_<name>`), giving the *discovered
//! labels* `/api/v1/targets` shows; `relabel_configs` run on them; what survives is checked
//! (an address, valid durations), `__meta_*` labels are removed and `instance` defaults to
//! the address. Labels starting with `__` steer the scrape and never reach a series.

use std::collections::BTreeMap;

use tianshu_tsdb::Labels;

use super::config::ScrapeConfig;
use super::duration::PromDuration;
use super::relabel;

pub const ADDRESS_LABEL: &str = "__address__";
pub const SCHEME_LABEL: &str = "__scheme__";
pub const METRICS_PATH_LABEL: &str = "__metrics_path__";
pub const SCRAPE_INTERVAL_LABEL: &str = "__scrape_interval__";
pub const SCRAPE_TIMEOUT_LABEL: &str = "__scrape_timeout__";
pub const PARAM_PREFIX: &str = "__param_";
pub const META_PREFIX: &str = "__meta_";

/// What discovery and relabelling made of one discovered target.
#[derive(Debug, Clone, PartialEq)]
pub enum Populated {
    /// A target to scrape.
    Active(TargetSpec),
    /// Dropped by `relabel_configs`: shown in `droppedTargets` with these labels.
    Dropped(BTreeMap<String, String>),
}

/// Everything a scrape loop needs to know about its target, fixed for the loop's life.
///
/// Invariants: `labels` holds `instance` and no `__meta_*` label; `url` is absolute;
/// `timeout <= interval`, both non-zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TargetSpec {
    /// Labels before relabelling, the scrape config's defaults included.
    pub discovered: BTreeMap<String, String>,
    /// Labels after relabelling, `__`-prefixed ones included (they are dropped when the
    /// labels are attached to samples).
    pub labels: Labels,
    pub url: String,
    pub interval: PromDuration,
    pub timeout: PromDuration,
}

impl TargetSpec {
    /// The labels attached to the target's samples: all but the `__`-prefixed ones.
    pub fn sample_labels(&self) -> Labels {
        Labels::from_sorted_unchecked(
            self.labels
                .iter()
                .filter(|l| !l.name.starts_with("__"))
                .cloned()
                .collect(),
        )
    }

    /// A stable 64-bit identity of the target (its labels and URL), Prometheus's
    /// `Target.hash`: FNV-1a over both.
    pub fn hash(&self) -> u64 {
        let mut h = Fnv1a::default();
        for l in self.labels.iter() {
            h.write(l.name.as_bytes());
            h.write(&[0xff]);
            h.write(l.value.as_bytes());
            h.write(&[0xff]);
        }
        h.write(self.url.as_bytes());
        h.0
    }
}

/// FNV-1a, 64 bits: a few lines, stable across processes and versions (unlike the
/// standard library's hasher), which a target's start offset must be.
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// Applies the scrape config to one discovered target (`target` labels win over the
/// group's `group` labels). `Err` is a target Prometheus would refuse, with its wording.
pub fn populate(
    target: &BTreeMap<String, String>,
    group: &BTreeMap<String, String>,
    cfg: &ScrapeConfig,
) -> Result<Populated, String> {
    let mut lset: BTreeMap<String, String> = group.clone();
    for (k, v) in target {
        lset.insert(k.clone(), v.clone());
    }
    let defaults = [
        ("job", cfg.job_name.clone()),
        (SCRAPE_INTERVAL_LABEL, cfg.scrape_interval.to_string()),
        (SCRAPE_TIMEOUT_LABEL, cfg.scrape_timeout.to_string()),
        (METRICS_PATH_LABEL, cfg.metrics_path.clone()),
        (SCHEME_LABEL, cfg.scheme.clone()),
    ];
    for (name, value) in defaults {
        lset.entry(name.to_string()).or_insert(value);
    }
    for (name, values) in &cfg.params {
        if let Some(first) = values.first() {
            lset.entry(format!("{PARAM_PREFIX}{name}"))
                .or_insert_with(|| first.clone());
        }
    }
    let discovered = lset.clone();

    let labels = Labels::from_pairs(lset.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let Some(mut labels) = relabel::process(labels, &cfg.relabel_configs) else {
        return Ok(Populated::Dropped(discovered));
    };
    let Some(addr) = labels.get(ADDRESS_LABEL).map(str::to_string) else {
        return Err("no address".to_string());
    };
    let scheme = labels.get(SCHEME_LABEL).unwrap_or("").to_string();
    // Prometheus 2 adds the scheme's default port to an address without one.
    let addr = with_default_port(&addr, &scheme);
    labels.set(ADDRESS_LABEL, &addr);
    if addr.contains('/') {
        return Err(format!("{addr:?} is not a valid hostname"));
    }
    let interval = duration_label(&labels, SCRAPE_INTERVAL_LABEL, "interval")?;
    let timeout = duration_label(&labels, SCRAPE_TIMEOUT_LABEL, "timeout")?;
    if interval.is_zero() {
        return Err("scrape interval cannot be 0".to_string());
    }
    if timeout.is_zero() {
        return Err("scrape timeout cannot be 0".to_string());
    }
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval (\"{timeout}\" > \"{interval}\")"
        ));
    }
    let metas: Vec<String> = labels
        .iter()
        .filter(|l| l.name.starts_with(META_PREFIX))
        .map(|l| l.name.to_string())
        .collect();
    for m in metas {
        labels.remove(&m);
    }
    if labels.get("instance").is_none() {
        labels.set("instance", &addr);
    }
    let url = target_url(&labels, cfg);
    Ok(Populated::Active(TargetSpec {
        discovered,
        labels,
        url,
        interval,
        timeout,
    }))
}

fn duration_label(labels: &Labels, name: &str, what: &str) -> Result<PromDuration, String> {
    let raw = labels.get(name).unwrap_or("");
    PromDuration::parse(raw).map_err(|e| format!("error parsing scrape {what}: {e}"))
}

/// `host:port` with the scheme's port added when the address has none.
fn with_default_port(addr: &str, scheme: &str) -> String {
    let has_port = match addr.rsplit_once(':') {
        // `[::1]:80` or `host:80`; a bare IPv6 address has colons but ends in `]`.
        Some((host, port)) => {
            !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) && !host.is_empty()
        }
        None => false,
    };
    if has_port || addr.is_empty() || addr.contains('/') {
        return addr.to_string();
    }
    match scheme {
        "https" => format!("{addr}:443"),
        "http" | "" => format!("{addr}:80"),
        _ => addr.to_string(),
    }
}

/// The scrape URL: scheme, address and path from the labels, the config's `params`
/// with each `__param_<name>` label replacing its parameter's first value.
fn target_url(labels: &Labels, cfg: &ScrapeConfig) -> String {
    let scheme = labels.get(SCHEME_LABEL).unwrap_or("http");
    let addr = labels.get(ADDRESS_LABEL).unwrap_or("");
    let path = labels.get(METRICS_PATH_LABEL).unwrap_or("/metrics");
    let mut params: BTreeMap<String, Vec<String>> = cfg.params.clone();
    for l in labels.iter() {
        if let Some(name) = l.name.strip_prefix(PARAM_PREFIX) {
            let values = params.entry(name.to_string()).or_default();
            match values.first_mut() {
                Some(first) => *first = l.value.to_string(),
                None => values.push(l.value.to_string()),
            }
        }
    }
    let mut url = format!("{scheme}://{addr}{path}");
    let mut sep = '?';
    for (name, values) in &params {
        for v in values {
            url.push(sep);
            url.push_str(&query_escape(name));
            url.push('=');
            url.push_str(&query_escape(v));
            sep = '&';
        }
    }
    url
}

/// Go's `url.QueryEscape`.
fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scrape::config::Config;

    fn cfg(extra: &str) -> ScrapeConfig {
        let src = format!(
            "scrape_configs:\n  - job_name: node\n    scrape_interval: 1s\n{extra}    static_configs:\n      - targets: ['x:1']\n"
        );
        let mut c = Config::parse(&src, "t.yml").expect("valid config");
        c.scrape_configs.remove(0)
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_instance_and_url() {
        let c = cfg("    params:\n      module: [a b, c]\n");
        let t = map(&[("__address__", "host:9100"), ("__meta_x", "1")]);
        let g = map(&[("env", "prod"), ("__address__", "ignored")]);
        let Populated::Active(spec) = populate(&t, &g, &c).expect("valid") else {
            panic!("dropped")
        };
        assert_eq!(spec.discovered["job"], "node");
        assert_eq!(spec.discovered["__scrape_interval__"], "1s");
        assert_eq!(spec.discovered["__param_module"], "a b");
        assert_eq!(spec.discovered["__meta_x"], "1");
        assert_eq!(spec.labels.get("__meta_x"), None);
        assert_eq!(spec.labels.get("instance"), Some("host:9100"));
        assert_eq!(spec.url, "http://host:9100/metrics?module=a+b&module=c");
        let shown: Vec<_> = spec
            .sample_labels()
            .iter()
            .map(|l| format!("{}={}", l.name, l.value))
            .collect();
        assert_eq!(shown, ["env=prod", "instance=host:9100", "job=node"]);
        assert_eq!(spec.interval, PromDuration::from_secs(1));
    }

    #[test]
    fn relabelling_drops_changes_and_adds_ports() {
        let c = cfg(concat!(
            "    relabel_configs:\n",
            "      - source_labels: [__address__]\n        regex: 'drop.*'\n        action: drop\n",
            "      - target_label: __scheme__\n        replacement: https\n",
        ));
        let dropped = populate(&map(&[("__address__", "drop-me")]), &BTreeMap::new(), &c);
        assert!(matches!(dropped, Ok(Populated::Dropped(d)) if d["__address__"] == "drop-me"));
        let Ok(Populated::Active(spec)) =
            populate(&map(&[("__address__", "h")]), &BTreeMap::new(), &c)
        else {
            panic!("not active")
        };
        assert_eq!(spec.url, "https://h:443/metrics");
        assert_eq!(spec.labels.get("instance"), Some("h:443"));
        let bad = populate(&map(&[("__address__", "h/x")]), &BTreeMap::new(), &c);
        assert_eq!(bad, Err("\"h/x\" is not a valid hostname".to_string()));
    }

    #[test]
    fn target_hash_is_stable() {
        let c = cfg("");
        let Ok(Populated::Active(a)) =
            populate(&map(&[("__address__", "a:1")]), &BTreeMap::new(), &c)
        else {
            panic!()
        };
        let mut b = a.clone();
        assert_eq!(a.hash(), b.hash());
        b.url.push('x');
        assert_ne!(a.hash(), b.hash());
    }
}
