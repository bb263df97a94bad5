//! `role: node`: one group per node with one target, the kubelet.
//!
//! | label | from |
//! |---|---|
//! | group: `node_name`, `node_label_*`, `node_labelpresent_*`, `node_annotation_*`, `node_annotationpresent_*` | metadata |
//! | group: `node_provider_id` | `spec.providerID` |
//! | target: `__address__` | the preferred address and the kubelet's port |
//! | target: `instance` | the node's name |
//! | target: `node_address_<type>` | the first address of each type |
//!
//! A node without any address yields no group at all (Prometheus logs and sends nothing).

use std::collections::BTreeMap;

use super::meta::{
    add_object_meta, join_host_port, sanitize, LabelSet, ADDRESS_LABEL, INSTANCE_LABEL, META_PREFIX,
};
use super::objects::Node;
use crate::scrape::discovery::TargetGroup;

pub fn source(name: &str) -> String {
    format!("node/{name}")
}

/// Address types in the order one is picked as the target's host
/// (`k8s.io/kubernetes/pkg/util/node`'s priority).
const ADDRESS_PRIORITY: [&str; 6] = [
    "InternalIP",
    "InternalDNS",
    "ExternalIP",
    "ExternalDNS",
    "LegacyHostIP",
    "Hostname",
];

/// Prometheus's `nodeAddress`: the preferred address and every address by type, in order.
fn node_address(node: &Node) -> Option<(String, BTreeMap<&str, Vec<&str>>)> {
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in &node.status.addresses {
        by_type
            .entry(a.kind.as_str())
            .or_default()
            .push(a.address.as_str());
    }
    let best = ADDRESS_PRIORITY
        .iter()
        .find_map(|t| by_type.get(t).and_then(|v| v.first()))?
        .to_string();
    Some((best, by_type))
}

/// The node role's group, `None` for a node without addresses.
pub fn build(node: &Node) -> Option<TargetGroup> {
    let mut labels = LabelSet::new();
    labels.insert(
        format!("{META_PREFIX}node_provider_id"),
        node.spec.provider_id.clone(),
    );
    add_object_meta(&mut labels, &node.metadata, "node");
    let Some((addr, by_type)) = node_address(node) else {
        tracing::warn!(node = %node.metadata.name, "No node address found");
        return None;
    };
    let port = node.status.daemon_endpoints.kubelet_endpoint.port;
    let mut t = LabelSet::new();
    t.insert(
        ADDRESS_LABEL.to_string(),
        join_host_port(&addr, port.into()),
    );
    t.insert(INSTANCE_LABEL.to_string(), node.metadata.name.clone());
    for (kind, addrs) in by_type {
        if let Some(first) = addrs.first() {
            t.insert(
                sanitize(&format!("{META_PREFIX}node_address_{kind}")),
                first.to_string(),
            );
        }
    }
    Some(TargetGroup {
        source: source(&node.metadata.name),
        targets: vec![t],
        labels,
    })
}

/// Prometheus's `addNodeLabels` for `attach_metadata.node`: the node's name, labels and
/// annotations under the `node_` prefix.
pub fn add_node_labels(ls: &mut LabelSet, node: &Node) {
    add_object_meta(ls, &node.metadata, "node");
}
