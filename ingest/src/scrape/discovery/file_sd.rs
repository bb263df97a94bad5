//! `file_sd_configs`: target groups read from JSON (`.json`) or YAML (`.yml`, `.yaml`)
//! files, in Prometheus's format:
//!
//! ```yaml
//! - targets: ['host:9100', ...]
//!   labels: {env: prod}
//! ```
//!
//! Every group gets `__meta_filepath` (the file it came from) and the source
//! `<path>:<index>`. Files are re-read every `refresh_interval`, and as soon as the set of
//! files matching the patterns or one of their modification times changes: Prometheus
//! watches with inotify; polling the metadata once a second gives the same result without
//! a platform-specific watcher, at the cost of a `stat` per file per second. A file that
//! cannot be read or parsed keeps its previous groups, as in Prometheus, and the error
//! is logged.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use tokio::sync::mpsc;

use super::{Provider, TargetGroup, Update};
use crate::scrape::config::FileSdConfig;
use crate::scrape::metrics;
use crate::scrape::relabel_config::is_valid_label_name;
use crate::scrape::target::ADDRESS_LABEL;

/// How often the files' metadata is checked for changes.
const WATCH_PERIOD: Duration = Duration::from_secs(1);

/// The label naming a group's file.
pub const FILEPATH_LABEL: &str = "__meta_filepath";

pub struct FileProvider {
    /// Patterns with `*` and `?` allowed in the last path element only (checked by the
    /// configuration).
    patterns: Vec<String>,
    refresh: Duration,
}

/// One group as written in a file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileGroup {
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

impl FileProvider {
    pub fn new(cfg: &FileSdConfig) -> Self {
        FileProvider {
            patterns: cfg.files.clone(),
            refresh: cfg.refresh_interval.as_std().max(WATCH_PERIOD),
        }
    }

    /// The files matching the patterns, with their modification times, sorted.
    fn scan(&self) -> BTreeMap<PathBuf, Option<SystemTime>> {
        let mut out = BTreeMap::new();
        for p in &self.patterns {
            for path in glob(p) {
                let mtime = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
                out.insert(path, mtime);
            }
        }
        out
    }
}

impl Provider for FileProvider {
    fn run(
        self: Box<Self>,
        index: usize,
        out: mpsc::Sender<Update>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            // Last good groups per file: a broken file keeps what it had.
            let mut by_file: BTreeMap<PathBuf, Vec<TargetGroup>> = BTreeMap::new();
            let mut seen: Option<BTreeMap<PathBuf, Option<SystemTime>>> = None;
            let mut last_full = Instant::now();
            loop {
                let files = self.scan();
                let due = last_full.elapsed() >= self.refresh;
                if seen.as_ref() != Some(&files) || due {
                    last_full = Instant::now();
                    let scan_started = Instant::now();
                    let m = metrics::get();
                    by_file.retain(|path, _| {
                        let kept = files.contains_key(path);
                        if !kept {
                            m.file_mtime.remove(&file_label(path));
                        }
                        kept
                    });
                    for (path, mtime) in &files {
                        match read_groups(path).await {
                            Ok(groups) => {
                                // Whole seconds, as Prometheus's `ModTime().Unix()`.
                                let secs = mtime
                                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                                    .map_or(0.0, |d| d.as_secs() as f64);
                                m.file_mtime.get_or_create(&file_label(path)).set(secs);
                                by_file.insert(path.clone(), groups);
                            }
                            Err(e) => {
                                metrics::get().file_read_errors.inc();
                                tracing::error!(
                                    file = %path.display(),
                                    error = %e,
                                    "Error reading file"
                                )
                            }
                        }
                    }
                    metrics::get()
                        .file_scan_duration
                        .observe(scan_started.elapsed().as_secs_f64());
                    let all: Vec<TargetGroup> = by_file.values().flatten().cloned().collect();
                    if out.send((index, all)).await.is_err() {
                        return;
                    }
                    seen = Some(files);
                }
                tokio::time::sleep(WATCH_PERIOD).await;
            }
        })
    }
}

fn file_label(path: &Path) -> metrics::FileLabels {
    metrics::FileLabels {
        filename: path.display().to_string(),
    }
}

/// Reads and checks one file's groups.
async fn read_groups(path: &Path) -> Result<Vec<TargetGroup>, String> {
    let bytes = tokio::fs::read(path).await.map_err(|e| e.to_string())?;
    parse_groups(path, &bytes)
}

/// Parses a file's groups by its extension, with Prometheus's checks.
pub fn parse_groups(path: &Path, bytes: &[u8]) -> Result<Vec<TargetGroup>, String> {
    let name = path.display().to_string();
    let raw: Vec<FileGroup> = match path.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::from_slice(bytes).map_err(|e| e.to_string())?,
        Some("yml" | "yaml") => {
            if bytes.iter().all(u8::is_ascii_whitespace) {
                Vec::new()
            } else {
                serde_yaml_ng::from_slice::<Option<Vec<FileGroup>>>(bytes)
                    .map_err(|e| e.to_string())?
                    .unwrap_or_default()
            }
        }
        _ => {
            return Err(format!(
                "retrieval target groups from file {name}: unknown extension"
            ))
        }
    };
    let mut groups = Vec::with_capacity(raw.len());
    for (i, g) in raw.into_iter().enumerate() {
        let mut labels = g.labels.unwrap_or_default();
        if let Some(k) = labels.keys().find(|k| !is_valid_label_name(k)) {
            return Err(format!("invalid labels: {k:?} is not a valid label name"));
        }
        for t in &g.targets {
            if t.is_empty() || t.contains('/') {
                return Err(format!("{t:?} is not a valid hostname"));
            }
        }
        labels.insert(FILEPATH_LABEL.to_string(), name.clone());
        groups.push(TargetGroup {
            source: format!("{name}:{i}"),
            targets: g
                .targets
                .into_iter()
                .map(|t| [(ADDRESS_LABEL.to_string(), t)].into())
                .collect(),
            labels,
        });
    }
    Ok(groups)
}

/// The files matching `pattern`, whose wildcards (`*`, `?`) are in the last element.
fn glob(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let Some(file) = path.file_name().and_then(|f| f.to_str()) else {
        return Vec::new();
    };
    if !file.contains(['*', '?']) {
        return if path.is_file() {
            vec![path.to_path_buf()]
        } else {
            Vec::new()
        };
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_file())
        .filter(|e| e.file_name().to_str().is_some_and(|n| wildcard(file, n)))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

/// Whether `name` matches `pat`, where `*` is any run of characters and `?` one character.
fn wildcard(pat: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (pat.chars().collect(), name.chars().collect());
    let (mut pi, mut ni) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == n[ni]) {
            pi += 1;
            ni += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ni));
            pi += 1;
        } else if let Some((sp, sn)) = star {
            pi = sp + 1;
            ni = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(wildcard("*.json", "a.json"));
        assert!(wildcard("t?.yml", "t1.yml"));
        assert!(!wildcard("*.json", "a.yml"));
        assert!(wildcard("a*b*c", "aXXbYc"));
        assert!(!wildcard("a*b", "aXXbY"));
    }

    #[test]
    fn json_and_yaml_groups() {
        let j = br#"[{"targets":["a:1","b:2"],"labels":{"env":"prod"}},{"targets":["c:3"]}]"#;
        let g = parse_groups(Path::new("/sd/t.json"), j).expect("valid");
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].source, "/sd/t.json:0");
        assert_eq!(g[0].targets[1]["__address__"], "b:2");
        assert_eq!(g[0].labels["env"], "prod");
        assert_eq!(g[1].labels["__meta_filepath"], "/sd/t.json");
        let y = b"- targets: ['a:1']\n  labels:\n    team: x\n";
        let g = parse_groups(Path::new("t.yaml"), y).expect("valid");
        assert_eq!(g[0].labels["team"], "x");
        assert!(parse_groups(Path::new("t.yml"), b"")
            .expect("empty")
            .is_empty());
        assert!(parse_groups(Path::new("t.json"), b"[{\"targets\":[1]}]").is_err());
        assert!(parse_groups(Path::new("t.yml"), b"- labels: {'0bad': x}\n").is_err());
        assert!(parse_groups(Path::new("t.yml"), b"- foo: 1\n").is_err());
    }

    #[tokio::test]
    async fn picks_up_changes_without_waiting_for_refresh() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("t.json");
        std::fs::write(&file, r#"[{"targets":["a:1"]}]"#).expect("write");
        let p = FileProvider {
            patterns: vec![dir.path().join("*.json").display().to_string()],
            refresh: Duration::from_secs(3600),
        };
        let (tx, mut rx) = mpsc::channel(4);
        let task = tokio::spawn(Box::new(p).run(7, tx));
        let (i, g) = rx.recv().await.expect("first update");
        assert_eq!((i, g[0].targets[0]["__address__"].as_str()), (7, "a:1"));
        // A different size makes the change visible even within the mtime's resolution.
        std::fs::write(&file, r#"[{"targets":["b:22"]},{"targets":["c:3"]}]"#).expect("write");
        let now = SystemTime::now() + Duration::from_secs(2);
        let f = std::fs::File::options()
            .write(true)
            .open(&file)
            .expect("open");
        f.set_modified(now).expect("set mtime");
        let (_, g) = rx.recv().await.expect("second update");
        assert_eq!(g.len(), 2);
        let mtime = format!(
            "prometheus_sd_file_mtime_seconds{{filename=\"{}\"}}",
            file.display()
        );
        let secs = now.duration_since(std::time::UNIX_EPOCH).expect("epoch");
        assert_eq!(metrics::value(&mtime), secs.as_secs() as f64);
        assert_eq!(g[0].targets[0]["__address__"], "b:22");
        // A broken file keeps its previous groups, and counts as a read error.
        let m = metrics::get();
        let (errors, scans) = (
            m.file_read_errors.get(),
            metrics::value("prometheus_sd_file_scan_duration_seconds_count"),
        );
        std::fs::write(&file, "[{").expect("write");
        f.set_modified(now + Duration::from_secs(2))
            .expect("set mtime");
        let (_, g) = rx.recv().await.expect("third update");
        assert_eq!(g.len(), 2);
        assert!(m.file_read_errors.get() > errors);
        assert!(metrics::value("prometheus_sd_file_scan_duration_seconds_count") > scans);
        std::fs::remove_file(&file).expect("remove");
        let (_, g) = rx.recv().await.expect("fourth update");
        assert!(g.is_empty());
        assert!(
            !metrics::render().contains(&mtime),
            "a removed file's mtime stays"
        );
        task.abort();
    }
}
