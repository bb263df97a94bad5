//! A scrape pool: the targets of one job. Its discovery providers send target groups; on
//! each change the pool turns all groups into targets (relabelling, dropping) and starts a
//! loop for each new target and stops (with staleness markers) the loop of each target
//! that went away. A target is identified by its labels and URL.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::append::AppendSettings;
use super::client::ScrapeClient;
use super::config::ScrapeConfig;
use super::discovery::{self, TargetGroup};
use super::metrics;
use super::scrape_loop::{self, LoopHandle, LoopParts, TargetState};
use super::shard::Shard;
use super::sink::Sink;
use super::target::{populate, Populated, TargetSpec};

/// The pool's targets as the API lists them.
///
/// Invariant: `order` holds exactly the keys of `loops`, in discovery order.
#[derive(Default)]
struct Targets {
    loops: HashMap<u64, LoopHandle>,
    order: Vec<u64>,
    /// Discovered labels of the targets relabelling dropped, and of those another shard
    /// scrapes.
    dropped: Vec<BTreeMap<String, String>>,
}

/// What the sync task and the API share.
struct Shared {
    name: String,
    config: Arc<ScrapeConfig>,
    client: ScrapeClient,
    sink: Arc<dyn Sink>,
    shard: Shard,
    targets: Mutex<Targets>,
}

impl Shared {
    fn targets(&self) -> MutexGuard<'_, Targets> {
        self.targets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running pool. Dropping it stops discovery and ends its loops without staleness
/// markers; [`Pool::stop_stale`] marks its series stale first.
pub struct Pool {
    pub config: Arc<ScrapeConfig>,
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        metrics::get().forget_job(&self.shared.name);
    }
}

impl Pool {
    /// Starts discovery for `config` on the current runtime. `Err` when its HTTP client
    /// cannot be built (unreadable TLS files).
    pub fn start(config: ScrapeConfig, sink: Arc<dyn Sink>, shard: Shard) -> Result<Pool, String> {
        metrics::get().scrape_pools.inc();
        let client = ScrapeClient::new(&config.http, &config.scrape_protocols)?
            .with_body_size_limit(config.body_size_limit.0);
        let config = Arc::new(config);
        let shared = Arc::new(Shared {
            name: config.job_name.clone(),
            config: config.clone(),
            client,
            sink,
            shard,
            targets: Mutex::new(Targets::default()),
        });
        let providers = discovery::providers(&config);
        let (tx, rx) = mpsc::channel(16);
        let mut tasks: Vec<JoinHandle<()>> = providers
            .into_iter()
            .enumerate()
            .map(|(i, p)| tokio::spawn(p.run(i, tx.clone())))
            .collect();
        drop(tx);
        tasks.push(tokio::spawn(sync_task(shared.clone(), rx)));
        Ok(Pool {
            config,
            shared,
            tasks,
        })
    }

    /// Stops discovery and every loop, marking all series stale (the job was removed).
    pub fn stop_stale(self) {
        let loops: Vec<LoopHandle> = {
            let mut t = self.shared.targets();
            t.order.clear();
            t.loops.drain().map(|(_, l)| l).collect()
        };
        for l in loops {
            l.stop_stale();
        }
    }

    /// The active targets in discovery order, and the dropped ones' discovered labels.
    pub fn snapshot(&self) -> (Vec<Arc<TargetState>>, Vec<BTreeMap<String, String>>) {
        let t = self.shared.targets();
        let active = t
            .order
            .iter()
            .filter_map(|h| t.loops.get(h))
            .map(|l| l.state.clone())
            .collect();
        (active, t.dropped.clone())
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }
}

/// Keeps the latest groups of each provider and applies every change.
async fn sync_task(shared: Arc<Shared>, mut rx: mpsc::Receiver<discovery::Update>) {
    let m = metrics::get();
    let (received, updates) = (m.received_updates(), m.updates());
    let discovered = m.discovered(&shared.name);
    let sync_length = m
        .sync_length
        .get_or_create(&metrics::JobLabels {
            scrape_job: shared.name.clone(),
        })
        .clone();
    let mut groups: BTreeMap<usize, Vec<TargetGroup>> = BTreeMap::new();
    while let Some((i, g)) = rx.recv().await {
        received.inc();
        groups.insert(i, g);
        // Coalesce a burst of updates (several files changed at once) into one sync.
        while let Ok((i, g)) = rx.try_recv() {
            received.inc();
            groups.insert(i, g);
        }
        updates.inc();
        let targets: usize = groups.values().flatten().map(|g| g.targets.len()).sum();
        discovered.set(i64::try_from(targets).unwrap_or(i64::MAX));
        let started = std::time::Instant::now();
        sync(&shared, groups.values().flatten());
        sync_length.observe(started.elapsed().as_secs_f64());
    }
}

/// Turns `groups` into the pool's targets, starting and stopping loops.
fn sync<'a>(shared: &Shared, groups: impl Iterator<Item = &'a TargetGroup>) {
    let cfg = &shared.config;
    let mut active: Vec<TargetSpec> = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut dropped = Vec::new();
    for g in groups {
        for t in &g.targets {
            match populate(t, &g.labels, cfg) {
                Ok(Populated::Active(spec)) if !shared.shard.owns(spec.hash()) => {
                    dropped.push(spec.discovered)
                }
                Ok(Populated::Active(spec)) => {
                    if seen.insert(spec.hash()) {
                        active.push(spec);
                    }
                }
                Ok(Populated::Dropped(labels)) => dropped.push(labels),
                Err(e) => tracing::warn!(
                    scrape_pool = %shared.name,
                    target = ?t,
                    error = %e,
                    "Creating target failed"
                ),
            }
        }
    }
    let forced = (cfg.target_limit > 0 && active.len() as u64 > cfg.target_limit).then(|| {
        format!(
            "target_limit exceeded (number of targets: {}, limit: {})",
            active.len(),
            cfg.target_limit
        )
    });
    let mut t = shared.targets();
    let mut gone: Vec<u64> = t
        .loops
        .keys()
        .filter(|h| !seen.contains(h))
        .copied()
        .collect();
    gone.sort_unstable();
    for h in gone {
        if let Some(l) = t.loops.remove(&h) {
            l.stop_stale();
        }
    }
    let mut order = Vec::with_capacity(active.len());
    for spec in active {
        let h = spec.hash();
        order.push(h);
        if let Some(running) = t.loops.get(&h) {
            running.state.set_discovered_labels(spec.discovered);
            continue;
        }
        let settings = AppendSettings {
            target_labels: spec.sample_labels(),
            honor_labels: cfg.honor_labels,
            honor_timestamps: cfg.honor_timestamps,
            metric_relabel: cfg.metric_relabel_configs.clone(),
            sample_limit: cfg.sample_limit,
            label_limit: cfg.label_limit,
            label_name_length_limit: cfg.label_name_length_limit,
            label_value_length_limit: cfg.label_value_length_limit,
        };
        let state = Arc::new(TargetState::new(spec, shared.name.clone()));
        let handle = scrape_loop::spawn(LoopParts {
            state,
            settings,
            client: shared.client.clone(),
            sink: shared.sink.clone(),
        });
        t.loops.insert(h, handle);
    }
    for l in t.loops.values() {
        l.state.set_forced_error(forced.clone());
    }
    metrics::get()
        .pool_targets
        .get_or_create(&metrics::JobLabels {
            scrape_job: shared.name.clone(),
        })
        .set(i64::try_from(order.len()).unwrap_or(i64::MAX));
    t.order = order;
    t.dropped = dropped;
}
