//! Where dashboards live: `<dir>/<id>.json` files, read on every request so that edits
//! made on disk show at once, and the built-in ones compiled in. A file overrides the
//! built-in dashboard of the same id, which is how an edited overview is kept.

use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::Serialize;

use super::builtin::{builtins, SelfScrape};
use super::schema::{valid_id, Dashboard};
use crate::UiError;

/// A line of the dashboard list.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub id: String,
    pub title: String,
    pub panels: usize,
    /// Compiled in and not overridden by a file.
    pub builtin: bool,
}

pub struct DashboardStore {
    /// `--dashboards-dir`; `None` makes the store read-only.
    dir: Option<PathBuf>,
    builtin: Vec<Dashboard>,
    /// Serialises saves so that two editors never interleave a write and a rename.
    save_lock: Mutex<()>,
}

impl DashboardStore {
    /// A store over `dir` (created on the first save if missing) and the built-ins, which
    /// select the self-scrape's default labels (see [`DashboardStore::with_self_scrape`]).
    pub fn new(dir: Option<PathBuf>) -> DashboardStore {
        DashboardStore {
            dir,
            builtin: load_builtins(&SelfScrape::default()),
            save_lock: Mutex::new(()),
        }
    }

    /// The built-ins selecting the series of a self-scrape labelled `target`
    /// (`--self-scrape.job`, `--self-scrape.instance`).
    pub fn with_self_scrape(mut self, target: &SelfScrape) -> DashboardStore {
        self.builtin = load_builtins(target);
        self
    }

    /// Whether [`DashboardStore::save`] can succeed: there is a directory to save to.
    pub fn writable(&self) -> bool {
        self.dir.is_some()
    }

    /// Every dashboard, files first by id, then the built-ins no file overrides. A file
    /// that does not parse is logged and left out.
    pub fn list(&self) -> Result<Vec<Summary>, UiError> {
        let mut out: Vec<Summary> = self
            .read_dir()?
            .into_iter()
            .map(|d| Summary {
                panels: d.panels.len(),
                id: d.id,
                title: d.title,
                builtin: false,
            })
            .collect();
        out.sort_by(|a, b| a.id.cmp(&b.id));
        for b in &self.builtin {
            if !out.iter().any(|s| s.id == b.id) {
                out.push(Summary {
                    id: b.id.clone(),
                    title: b.title.clone(),
                    panels: b.panels.len(),
                    builtin: true,
                });
            }
        }
        Ok(out)
    }

    /// The dashboard `id`: its file if there is one, else the built-in.
    pub fn get(&self, id: &str) -> Result<Dashboard, UiError> {
        if !valid_id(id) {
            return Err(UiError::NotFound(id.to_string()));
        }
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{id}.json"));
            match std::fs::read_to_string(&path) {
                Ok(text) => return Dashboard::from_json(&text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(io(&path, source)),
            }
        }
        self.builtin
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .ok_or_else(|| UiError::NotFound(id.to_string()))
    }

    /// Writes `d` as `<dir>/<id>.json`, atomically (temporary file, then rename).
    pub fn save(&self, id: &str, d: &Dashboard) -> Result<(), UiError> {
        let dir = self.dir.as_ref().ok_or(UiError::ReadOnly)?;
        d.check()?;
        if d.id != id {
            return Err(UiError::BadData(format!(
                "dashboard id {:?} does not match the URL's {id:?}",
                d.id
            )));
        }
        let mut text = serde_json::to_string_pretty(d)
            .map_err(|e| UiError::BadData(format!("cannot encode dashboard: {e}")))?;
        text.push('\n');
        let _guard = self.save_lock.lock();
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let path = dir.join(format!("{id}.json"));
        let tmp = dir.join(format!(".{id}.json.tmp"));
        std::fs::write(&tmp, text).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        tracing::info!(path = %path.display(), "dashboard saved");
        Ok(())
    }

    fn read_dir(&self) -> Result<Vec<Dashboard>, UiError> {
        let Some(dir) = &self.dir else {
            return Ok(Vec::new());
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(stem) = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            if !valid_id(stem) {
                continue;
            }
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| io(&path, e))
                .and_then(|t| Dashboard::from_json(&t));
            match parsed {
                Ok(d) if d.id == stem => out.push(d),
                Ok(d) => {
                    tracing::warn!(path = %path.display(), id = %d.id, "dashboard id differs from its file name; skipped")
                }
                Err(e) => tracing::warn!(path = %path.display(), error = %e, "dashboard skipped"),
            }
        }
        Ok(out)
    }
}

fn load_builtins(target: &SelfScrape) -> Vec<Dashboard> {
    builtins(target).unwrap_or_else(|e| {
        tracing::error!(error = %e, "built-in dashboards are invalid");
        Vec::new()
    })
}

fn io(path: &Path, source: std::io::Error) -> UiError {
    UiError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overview_is_built_in_and_valid() {
        let s = DashboardStore::new(None);
        let list = s.list().expect("list");
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].id, "tianshu-overview");
        assert!(list[0].builtin);
        assert!(s.get("tianshu-overview").expect("get").panels.len() >= 4);
    }

    #[test]
    fn saved_dashboards_are_read_back_and_override_builtins() {
        let tmp = tempfile::tempdir().expect("tmp");
        let s = DashboardStore::new(Some(tmp.path().join("dash")));
        let mut d = s.get("tianshu-overview").expect("builtin");
        d.title = "Edited".to_string();
        s.save("tianshu-overview", &d).expect("save");
        assert_eq!(s.get("tianshu-overview").expect("get").title, "Edited");
        let list = s.list().expect("list");
        assert_eq!(list.len(), 1, "the file replaces the built-in: {list:?}");
        assert!(!list[0].builtin);

        d.id = "other".to_string();
        assert!(matches!(
            s.save("tianshu-overview", &d),
            Err(UiError::BadData(_))
        ));
        s.save("other", &d).expect("save other");
        assert_eq!(s.list().expect("list").len(), 2);
        // A broken file is skipped in the list, and reported when asked for.
        std::fs::write(tmp.path().join("dash/broken.json"), "{").expect("write");
        assert_eq!(s.list().expect("list").len(), 2);
        assert!(matches!(s.get("broken"), Err(UiError::BadData(_))));
        assert!(matches!(s.get("../etc"), Err(UiError::NotFound(_))));
    }

    #[test]
    fn the_overview_served_selects_the_configured_self_scrape() {
        let target = SelfScrape {
            job: "tsdb".to_string(),
            instance: "node-1".to_string(),
        };
        let s = DashboardStore::new(None).with_self_scrape(&target);
        let d = s.get("tianshu-overview").expect("builtin");
        let json = serde_json::to_string(&d).expect("json");
        assert!(!json.contains("$self"), "{json}");
        assert!(
            json.contains(r#"sum(tianshu_tsdb_head_series{job=\"tsdb\", instance=\"node-1\"})"#),
            "{json}"
        );
    }

    #[test]
    fn without_a_directory_saving_is_refused() {
        let s = DashboardStore::new(None);
        assert!(!s.writable());
        let d = s.get("tianshu-overview").expect("builtin");
        assert!(matches!(s.save(&d.id, &d), Err(UiError::ReadOnly)));
        let tmp = tempfile::tempdir().expect("tmp");
        assert!(DashboardStore::new(Some(tmp.path().join("dash"))).writable());
    }
}
