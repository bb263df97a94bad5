//! `static_configs`: the groups written in the configuration, sent once.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc;

use super::{Provider, TargetGroup, Update};
use crate::scrape::config::StaticConfig;
use crate::scrape::target::ADDRESS_LABEL;

/// Sends its groups once, then stays idle for the pool's life.
pub struct StaticProvider {
    groups: Vec<TargetGroup>,
}

impl StaticProvider {
    pub fn new(configs: &[StaticConfig]) -> Self {
        let groups = configs
            .iter()
            .enumerate()
            .map(|(i, sc)| TargetGroup {
                source: i.to_string(),
                targets: sc
                    .targets
                    .iter()
                    .map(|t| [(ADDRESS_LABEL.to_string(), t.clone())].into())
                    .collect(),
                labels: sc
                    .labels
                    .iter()
                    .map(|(k, v)| (k.as_str().to_string(), v.clone()))
                    .collect(),
            })
            .collect();
        StaticProvider { groups }
    }
}

impl Provider for StaticProvider {
    fn run(
        self: Box<Self>,
        index: usize,
        out: mpsc::Sender<Update>,
    ) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            // A send error means the pool is gone, which ends the provider anyway.
            let _ = out.send((index, self.groups)).await;
        })
    }
}
