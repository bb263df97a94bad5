//! `kubernetes_sd_configs`: targets from the Kubernetes API, with the groups and
//! `__meta_kubernetes_*` labels Prometheus's `discovery/kubernetes` produces.
//!
//! A [`Discovery`] runs one watcher per kind and namespace its role needs (`watch`):
//!
//! | role | kinds watched |
//! |---|---|
//! | `node` | nodes |
//! | `pod` | pods (+ nodes with `attach_metadata.node`) |
//! | `service` | services |
//! | `endpoints` | endpoints, services, pods (+ nodes) |
//! | `endpointslice` | endpointslices (`discovery.k8s.io/v1`), services, pods (+ nodes) |
//!
//! in every namespace of `namespaces.names` (plus the pod's own with `own_namespace`),
//! or cluster-wide when none is given, with the role's `selectors` as `labelSelector` and
//! `fieldSelector`. The watchers feed one [`store::Engine`], which keeps the objects and
//! rebuilds the groups a change touches with the role's conversion (`pod`, `node`,
//! `service`, `endpoints`, `endpointslice`). Nothing is sent until every watcher has
//! listed once, as Prometheus waits for its informers' caches to sync; then every group
//! is sent, and after that the groups each change alters, deleted objects' groups empty.
//!
//! [`KubernetesProvider`] adapts this to the scrape pool's [`Provider`]: it keeps the
//! latest group per source and sends the whole list after each change.
//!
//! Files: `config` and `kubeconfig` (connecting), `exec_credential` (kubeconfig exec
//! plugins), `client` (requests and credentials),
//! `watch` (list/watch, bookmarks, `410 Gone`, backoff), `objects` (the API types),
//! `store` (state and what a change touches), `meta` (shared label helpers), one file
//! per role.

mod client;
mod config;
mod endpoints;
mod endpointslice;
mod error;
mod exec_credential;
mod kubeconfig;
mod meta;
mod node;
mod objects;
mod pod;
mod service;
mod store;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use client::{ApiClient, Auth, Credential};
pub use config::{in_cluster, InCluster, SERVICE_ACCOUNT_DIR};
pub use error::K8sError;
pub use objects::Kind;
pub use watch::WatchSpec;

use super::{Provider, TargetGroup, Update};
use crate::scrape::config::{KubernetesRole, KubernetesSdConfig};
use store::{Change, Engine};

/// One `kubernetes_sd_configs` entry, ready to run.
pub struct Discovery {
    client: ApiClient,
    role: KubernetesRole,
    attach_node: bool,
    /// Nodes are always watched cluster-wide. Empty only for a namespaced role asked to
    /// watch just its own namespace outside a cluster: then nothing is discovered.
    watches: Vec<WatchSpec>,
}

impl Discovery {
    /// Connects as `cfg` says (in-cluster, kubeconfig or `api_server`).
    pub fn new(cfg: &KubernetesSdConfig) -> Result<Self, K8sError> {
        Self::with_in_cluster(cfg, &InCluster::from_process())
    }

    /// As [`Self::new`], with `env` as the in-cluster environment.
    pub fn with_in_cluster(cfg: &KubernetesSdConfig, env: &InCluster) -> Result<Self, K8sError> {
        let (client, own_namespace) = config::client(cfg, env)?;
        Ok(Self::with_client(cfg, client, own_namespace))
    }

    /// The API server client the watchers use.
    pub fn client(&self) -> &ApiClient {
        &self.client
    }

    /// With a given client; `own_namespace` is the service account's namespace.
    pub fn with_client(
        cfg: &KubernetesSdConfig,
        client: ApiClient,
        own_namespace: Option<String>,
    ) -> Self {
        let attach_node = cfg.attach_metadata.as_ref().is_some_and(|a| a.node)
            && matches!(
                cfg.role,
                KubernetesRole::Pod | KubernetesRole::Endpoints | KubernetesRole::EndpointSlice
            );
        // As Prometheus's `getNamespaces`: every namespace when none is named and the own
        // one is not asked for; with `own_namespace` but no known own namespace (not in a
        // cluster), only the named ones, possibly none.
        let mut namespaces: Vec<String> = Vec::new();
        let mut own = false;
        if let Some(n) = &cfg.namespaces {
            namespaces.extend(n.names.iter().cloned());
            own = n.own_namespace;
            if own {
                namespaces.extend(own_namespace);
            }
        }
        let mut seen = BTreeSet::new();
        namespaces.retain(|n| seen.insert(n.clone()));
        if namespaces.is_empty() && !own {
            namespaces.push(String::new());
        }
        let kinds: &[Kind] = match cfg.role {
            KubernetesRole::Node => &[Kind::Node],
            KubernetesRole::Pod => &[Kind::Pod],
            KubernetesRole::Service => &[Kind::Service],
            KubernetesRole::Endpoints => &[Kind::Endpoints, Kind::Service, Kind::Pod],
            KubernetesRole::EndpointSlice => &[Kind::EndpointSlice, Kind::Service, Kind::Pod],
        };
        let selector = |kind: Kind| {
            cfg.selectors
                .iter()
                .find(|s| s.role.as_str() == kind.as_str())
                .map(|s| (s.label.as_str(), s.field.as_str()))
                .unwrap_or(("", ""))
        };
        let mut watches = Vec::new();
        for &kind in kinds {
            let (label, field) = selector(kind);
            if kind == Kind::Node {
                watches.push(WatchSpec::new(kind, "", label, field));
                continue;
            }
            for ns in &namespaces {
                watches.push(WatchSpec::new(kind, ns, label, field));
            }
        }
        if attach_node {
            let (label, field) = selector(Kind::Node);
            watches.push(WatchSpec::new(Kind::Node, "", label, field));
        }
        Discovery {
            client,
            role: cfg.role,
            attach_node,
            watches,
        }
    }

    /// The watches this discovery runs.
    pub fn watches(&self) -> &[WatchSpec] {
        &self.watches
    }

    /// Replaces the watches' server-side timeout bounds, in seconds.
    pub fn set_watch_timeout(&mut self, lo: u64, hi: u64) {
        for w in &mut self.watches {
            w.timeout_secs = (lo, hi.max(lo));
        }
    }

    /// Runs until `out` is closed, sending groups as Prometheus's discoverer does: all of
    /// them once every watcher has listed, then those each change alters. Dropping the
    /// future stops the watchers.
    pub async fn run(self, out: mpsc::Sender<Vec<TargetGroup>>) {
        let (tx, mut rx) = mpsc::channel::<Change>(256);
        let mut tasks = JoinSet::new();
        let mut unsynced: BTreeSet<(Kind, String)> = BTreeSet::new();
        for w in &self.watches {
            unsynced.insert((w.kind, w.namespace.clone()));
            tasks.spawn(watch::run(self.client.clone(), w.clone(), tx.clone()));
        }
        drop(tx);
        let mut engine = Engine::new(self.role, self.attach_node);
        while let Some(first) = rx.recv().await {
            // Take whatever else is queued too: one send per burst of events.
            let mut batch = vec![first];
            while let Ok(c) = rx.try_recv() {
                batch.push(c);
            }
            let mut changed: Vec<TargetGroup> = Vec::new();
            let was_synced = unsynced.is_empty();
            for change in batch {
                if let Change::Replace {
                    kind, namespace, ..
                } = &change
                {
                    unsynced.remove(&(*kind, namespace.clone()));
                }
                changed.extend(engine.apply(change));
            }
            let groups = if !unsynced.is_empty() {
                continue;
            } else if !was_synced {
                engine.all_groups()
            } else {
                changed
            };
            if groups.is_empty() {
                continue;
            }
            if out.send(groups).await.is_err() {
                return;
            }
        }
    }
}

/// The scrape pool's provider for one `kubernetes_sd_configs` entry.
pub struct KubernetesProvider {
    cfg: KubernetesSdConfig,
}

impl KubernetesProvider {
    pub fn new(cfg: &KubernetesSdConfig) -> Self {
        KubernetesProvider { cfg: cfg.clone() }
    }
}

impl Provider for KubernetesProvider {
    fn run(
        self: Box<Self>,
        index: usize,
        out: mpsc::Sender<Update>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            let discovery = match Discovery::new(&self.cfg) {
                Ok(d) => d,
                Err(e) => {
                    tracing::error!(role = self.cfg.role.as_str(), error = %e, "Cannot create service discovery");
                    // Counted in `prometheus_sd_failed_configs` for as long as this
                    // configuration runs: the pool drops the task on reload or stop.
                    let _failed = FailedConfig::new();
                    std::future::pending::<()>().await;
                    return;
                }
            };
            run_provider(discovery, index, out).await;
        })
    }
}

/// A discovery block that could not start, counted in `prometheus_sd_failed_configs`
/// while it exists.
struct FailedConfig(prometheus_client::metrics::gauge::Gauge);

impl FailedConfig {
    fn new() -> Self {
        let g = crate::scrape::metrics::get().failed_configs();
        g.inc();
        FailedConfig(g)
    }
}

impl Drop for FailedConfig {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Runs `discovery`, sending the complete list of groups after each change: the pool
/// keeps only a provider's latest list. Deleted objects' groups stay in the list, empty,
/// as Prometheus's discovery manager keeps them.
pub async fn run_provider(discovery: Discovery, index: usize, out: mpsc::Sender<Update>) {
    let (tx, mut rx) = mpsc::channel::<Vec<TargetGroup>>(16);
    let forward = async move {
        let mut all: BTreeMap<String, TargetGroup> = BTreeMap::new();
        while let Some(groups) = rx.recv().await {
            for g in groups {
                all.insert(g.source.clone(), g);
            }
            if out
                .send((index, all.values().cloned().collect()))
                .await
                .is_err()
            {
                return;
            }
        }
    };
    tokio::select! {
        _ = discovery.run(tx) => {}
        _ = forward => {}
    }
}
