//! The scrape manager: the loaded configuration and one [`Pool`] per job.
//!
//! A reload reads the file again; an invalid file is refused and everything keeps running
//! as before. On a valid one, a job whose scrape config is unchanged keeps its pool (and
//! its loops, caches and timing); a changed job gets a new pool, its old loops ended
//! without staleness markers since the same targets are scraped again at once; a removed
//! job's targets are marked stale, as Prometheus does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use super::config::{Config, ConfigError};
use super::pool::Pool;
use super::scrape_loop::TargetState;
use super::shard::Shard;
use super::sink::Sink;

/// Why a reload was refused.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("no configuration file was given (--config)")]
    NoFile,
    #[error("couldn't load configuration (--config={file:?}): {source}")]
    Config {
        file: String,
        #[source]
        source: ConfigError,
    },
}

/// One job's targets for the API.
pub struct PoolSnapshot {
    pub name: String,
    pub active: Vec<Arc<TargetState>>,
    pub dropped: Vec<BTreeMap<String, String>>,
}

struct State {
    config: Config,
    pools: BTreeMap<String, Pool>,
    /// Whether the last (re)load of the file succeeded.
    reload_ok: bool,
    /// When the running configuration was loaded: a failed reload leaves it.
    last_reload: SystemTime,
}

/// Runs the configuration's scrape jobs. Cheap to clone; all clones share the pools.
#[derive(Clone)]
pub struct ScrapeManager {
    sink: Arc<dyn Sink>,
    file: Option<PathBuf>,
    /// The targets this process scrapes; the others are listed as dropped.
    shard: Shard,
    state: Arc<Mutex<State>>,
}

impl ScrapeManager {
    /// Loads `file` (if any) and starts its jobs on the current runtime.
    pub fn start(sink: Arc<dyn Sink>, file: Option<PathBuf>) -> Result<Self, ReloadError> {
        Self::start_sharded(sink, file, Shard::ALL)
    }

    /// As [`Self::start`], scraping only the targets `shard` owns.
    pub fn start_sharded(
        sink: Arc<dyn Sink>,
        file: Option<PathBuf>,
        shard: Shard,
    ) -> Result<Self, ReloadError> {
        let m = ScrapeManager {
            sink,
            file,
            shard,
            state: Arc::new(Mutex::new(State {
                config: Config::default(),
                pools: BTreeMap::new(),
                reload_ok: true,
                last_reload: SystemTime::now(),
            })),
        };
        if m.file.is_some() {
            let cfg = m.load()?;
            m.apply(cfg);
        }
        Ok(m)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn load(&self) -> Result<Config, ReloadError> {
        let file = self.file.as_ref().ok_or(ReloadError::NoFile)?;
        Config::load_file(file).map_err(|source| ReloadError::Config {
            file: file.display().to_string(),
            source,
        })
    }

    /// Reads the file again and applies it; on error the running configuration stays.
    pub fn reload(&self) -> Result<(), ReloadError> {
        match self.load() {
            Ok(cfg) => {
                self.apply(cfg);
                tracing::info!(file = ?self.file, "Completed loading of configuration file");
                Ok(())
            }
            Err(e) => {
                // As Prometheus's `prometheus_config_last_reload_success_timestamp_seconds`,
                // the time stays that of the last successful load.
                self.state().reload_ok = false;
                Err(e)
            }
        }
    }

    /// Runs `cfg`'s jobs in place of the current ones.
    pub fn apply(&self, cfg: Config) {
        // Before any pool of the new configuration scrapes.
        self.sink.set_external_labels(&cfg.global.external_labels);
        let mut st = self.state();
        let mut old = std::mem::take(&mut st.pools);
        for sc in &cfg.scrape_configs {
            let name = sc.job_name.clone();
            if let Some(p) = old.remove(&name) {
                if *p.config == *sc {
                    st.pools.insert(name, p);
                    continue;
                }
                // Changed: the old loops end quietly as the pool is dropped.
                drop(p);
            }
            match Pool::start(sc.clone(), self.sink.clone(), self.shard) {
                Ok(p) => {
                    st.pools.insert(name, p);
                }
                Err(e) => {
                    tracing::error!(scrape_pool = %name, error = %e, "error creating new scrape pool")
                }
            }
        }
        for (_, p) in old {
            p.stop_stale();
        }
        st.config = cfg;
        st.reload_ok = true;
        st.last_reload = SystemTime::now();
    }

    /// The running configuration in Prometheus's YAML shape, for `/api/v1/status/config`.
    pub fn config_yaml(&self) -> String {
        self.state().config.to_yaml()
    }

    /// Whether the last reload succeeded, and when the configuration last loaded
    /// successfully (start-up counts as a load).
    pub fn last_reload(&self) -> (bool, SystemTime) {
        let st = self.state();
        (st.reload_ok, st.last_reload)
    }

    /// The pools by job name.
    pub fn pools(&self) -> Vec<PoolSnapshot> {
        self.state()
            .pools
            .values()
            .map(|p| {
                let (active, dropped) = p.snapshot();
                PoolSnapshot {
                    name: p.name().to_string(),
                    active,
                    dropped,
                }
            })
            .collect()
    }

    /// Stops every job without staleness markers (the server is shutting down).
    pub fn stop(&self) {
        self.state().pools.clear();
    }
}
