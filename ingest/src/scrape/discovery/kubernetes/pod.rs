//! `role: pod`: one group per pod, one target per container port (or per container
//! without ports, addressed by the bare pod IP), init containers after the others.
//!
//! | label | from |
//! |---|---|
//! | group: `pod_name`, `pod_label_*`, `pod_labelpresent_*`, `pod_annotation_*`, `pod_annotationpresent_*` | metadata |
//! | group: `pod_ip`, `pod_ready`, `pod_phase`, `pod_node_name`, `pod_host_ip`, `pod_uid` | status, spec |
//! | group: `pod_controller_kind`, `pod_controller_name` | the owner reference with `controller: true`, if any |
//! | group: `namespace` | metadata |
//! | target: `pod_container_name`, `_id`, `_image`, `_init` | container and its status |
//! | target: `pod_container_port_name`, `_number`, `_protocol` | container port |
//!
//! A pod without an IP (starting, evicted) yields an empty group, as in Prometheus.

use super::meta::{
    add_object_meta, join_host_port, LabelSet, ADDRESS_LABEL, META_PREFIX, NAMESPACE_LABEL,
};
use super::node::add_node_labels;
use super::objects::{Container, ContainerStatus, Node, Pod};
use crate::scrape::discovery::TargetGroup;

pub fn source(namespace: &str, name: &str) -> String {
    format!("pod/{namespace}/{name}")
}

fn l(name: &str) -> String {
    format!("{META_PREFIX}{name}")
}

/// Prometheus's `podLabels`: the pod's own labels, shared by the pod role's groups and the
/// endpoints roles' pod-backed targets.
pub fn pod_labels(pod: &Pod) -> LabelSet {
    let mut ls = LabelSet::new();
    ls.insert(l("pod_ip"), pod.status.pod_ip.clone());
    ls.insert(l("pod_ready"), pod_ready(pod));
    ls.insert(l("pod_phase"), pod.status.phase.clone());
    ls.insert(l("pod_node_name"), pod.spec.node_name.clone());
    ls.insert(l("pod_host_ip"), pod.status.host_ip.clone());
    ls.insert(l("pod_uid"), pod.metadata.uid.clone());
    add_object_meta(&mut ls, &pod.metadata, "pod");
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .find(|r| r.controller == Some(true));
    if let Some(c) = controller {
        if !c.kind.is_empty() {
            ls.insert(l("pod_controller_kind"), c.kind.clone());
        }
        if !c.name.is_empty() {
            ls.insert(l("pod_controller_name"), c.name.clone());
        }
    }
    ls
}

/// The `Ready` condition's status in lower case, `unknown` without one.
fn pod_ready(pod: &Pod) -> String {
    pod.status
        .conditions
        .iter()
        .find(|c| c.kind == "Ready")
        .map(|c| c.status.to_lowercase())
        .unwrap_or_else(|| "unknown".to_string())
}

/// Containers then init containers, each with whether it is an init container.
pub fn all_containers(pod: &Pod) -> impl Iterator<Item = (&Container, bool)> {
    pod.spec
        .containers
        .iter()
        .map(|c| (c, false))
        .chain(pod.spec.init_containers.iter().map(|c| (c, true)))
}

/// Targets for the container ports of `seen` pods (each with the ports its endpoints
/// already cover) that no endpoint covered, as both endpoints roles add them. The
/// endpointslice role also walks init containers and labels each target with
/// `pod_container_init`; the endpoints role does neither, as in Prometheus 2.4x.
pub fn uncovered_container_targets(seen: &[(&Pod, Vec<i32>)], with_init: bool) -> Vec<LabelSet> {
    let mut out = Vec::new();
    for (pod, ports) in seen {
        if pod.status.pod_ip.is_empty() {
            continue;
        }
        for (c, init) in all_containers(pod).filter(|&(_, init)| with_init || !init) {
            for cp in &c.ports {
                if ports.contains(&cp.container_port) {
                    continue;
                }
                let mut t = LabelSet::new();
                t.insert(
                    ADDRESS_LABEL.to_string(),
                    join_host_port(&pod.status.pod_ip, cp.container_port.into()),
                );
                t.insert(l("pod_container_name"), c.name.clone());
                t.insert(l("pod_container_image"), c.image.clone());
                t.insert(l("pod_container_port_name"), cp.name.clone());
                t.insert(
                    l("pod_container_port_number"),
                    cp.container_port.to_string(),
                );
                t.insert(l("pod_container_port_protocol"), cp.protocol.clone());
                if with_init {
                    t.insert(l("pod_container_init"), init.to_string());
                }
                t.extend(pod_labels(pod));
                out.push(t);
            }
        }
    }
    out
}

fn container_id(statuses: &[ContainerStatus], name: &str) -> String {
    statuses
        .iter()
        .find(|s| s.name == name)
        .map(|s| s.container_id.clone())
        .unwrap_or_default()
}

/// The pod role's group. `node` is the pod's node when `attach_metadata.node` is on and
/// the node is known; its metadata is then added to the group's labels.
pub fn build(pod: &Pod, node: Option<&Node>) -> TargetGroup {
    let meta = &pod.metadata;
    let mut tg = TargetGroup {
        source: source(&meta.namespace, &meta.name),
        ..TargetGroup::default()
    };
    if pod.status.pod_ip.is_empty() {
        return tg;
    }
    tg.labels = pod_labels(pod);
    tg.labels
        .insert(NAMESPACE_LABEL.to_string(), meta.namespace.clone());
    if let Some(node) = node {
        add_node_labels(&mut tg.labels, node);
    }
    let ip = &pod.status.pod_ip;
    for (c, init) in all_containers(pod) {
        let statuses = if init {
            &pod.status.init_container_statuses
        } else {
            &pod.status.container_statuses
        };
        let mut base = LabelSet::new();
        base.insert(l("pod_container_name"), c.name.clone());
        base.insert(l("pod_container_id"), container_id(statuses, &c.name));
        base.insert(l("pod_container_image"), c.image.clone());
        base.insert(l("pod_container_init"), init.to_string());
        if c.ports.is_empty() {
            // No port: the bare pod IP; relabelling has to add one.
            base.insert(ADDRESS_LABEL.to_string(), ip.clone());
            tg.targets.push(base);
            continue;
        }
        for p in &c.ports {
            let mut t = base.clone();
            t.insert(
                ADDRESS_LABEL.to_string(),
                join_host_port(ip, p.container_port.into()),
            );
            t.insert(l("pod_container_port_number"), p.container_port.to_string());
            t.insert(l("pod_container_port_name"), p.name.clone());
            t.insert(l("pod_container_port_protocol"), p.protocol.clone());
            tg.targets.push(t);
        }
    }
    tg
}
