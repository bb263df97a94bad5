//! Service discovery: providers that yield *target groups*, as Prometheus's discovery
//! manager has them.
//!
//! A [`Provider`] runs as its own task and sends the complete list of its groups each time
//! it changes; the scrape pool keeps the latest list of every provider and turns their
//! union into targets. `static_configs` is a provider that sends once; `file_sd_configs`
//! re-reads its files. A Kubernetes provider plugs in the same way: list+watch, and send
//! the groups after each change.

mod file_sd;
pub mod kubernetes;
mod static_sd;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;

pub use file_sd::FileProvider;
pub use static_sd::StaticProvider;

use super::config::ScrapeConfig;

/// A set of targets sharing labels, Prometheus's `targetgroup.Group`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetGroup {
    /// Identifies the group within its provider (e.g. `file.yml:0`).
    pub source: String,
    /// One label set per target, each with at least `__address__`.
    pub targets: Vec<BTreeMap<String, String>>,
    /// Labels of every target of the group; a target's own labels win.
    pub labels: BTreeMap<String, String>,
}

/// One provider's complete list of groups, tagged with the provider's index in its pool.
pub type Update = (usize, Vec<TargetGroup>);

/// A source of target groups.
pub trait Provider: Send + 'static {
    /// Runs until the pool drops the task, sending `(index, groups)` whenever the groups
    /// change (at least once, so the pool learns the initial set). A closed channel
    /// means the pool is gone: return.
    fn run(
        self: Box<Self>,
        index: usize,
        out: mpsc::Sender<Update>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

/// The providers a scrape config asks for, in the order of its blocks.
pub fn providers(cfg: &ScrapeConfig) -> Vec<Box<dyn Provider>> {
    let mut out: Vec<Box<dyn Provider>> = Vec::new();
    if !cfg.static_configs.is_empty() {
        out.push(Box::new(StaticProvider::new(&cfg.static_configs)));
    }
    for fsd in &cfg.file_sd_configs {
        out.push(Box::new(FileProvider::new(fsd)));
    }
    for ksd in &cfg.kubernetes_sd_configs {
        out.push(Box::new(kubernetes::KubernetesProvider::new(ksd)));
    }
    out
}
