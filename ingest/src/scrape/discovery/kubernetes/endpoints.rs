//! `role: endpoints`: one group per Endpoints object, one target per address and port,
//! ready addresses then not-ready ones per subset and port; then, for every pod seen
//! behind an address, one target per container port no endpoint port covered.
//!
//! | label | from |
//! |---|---|
//! | group: `namespace`, `endpoints_name`, `endpoints_label_*`, `endpoints_labelpresent_*`, `endpoints_annotation_*`, `endpoints_annotationpresent_*` | metadata |
//! | group: the service role's group labels | the service of the same name, if known |
//! | target: `endpoint_port_name`, `endpoint_port_protocol`, `endpoint_ready` | port, subset list |
//! | target: `endpoint_address_target_kind`, `_name` | `targetRef`, if set |
//! | target: `endpoint_node_name`, `endpoint_hostname` | address, if set |
//! | target: the pod role's group labels and `pod_container_*` of the matching port | the referenced pod, if known |
//! | target: `node_*` with `attach_metadata.node` | the address's node, if known |

use std::collections::BTreeMap;

use super::meta::{join_host_port, ns_key, LabelSet, ADDRESS_LABEL, META_PREFIX, NAMESPACE_LABEL};
use super::node::add_node_labels;
use super::objects::{EndpointAddress, EndpointPort, Endpoints, ObjectReference, Pod};
use super::pod::{pod_labels, uncovered_container_targets};
use super::service::service_labels;
use super::store::Stores;
use crate::scrape::discovery::TargetGroup;

pub fn source(namespace: &str, name: &str) -> String {
    format!("endpoints/{namespace}/{name}")
}

fn l(name: &str) -> String {
    format!("{META_PREFIX}{name}")
}

/// The pod an address's `targetRef` names, if it is a pod the store knows.
pub fn resolve_pod<'a>(stores: &'a Stores, r: Option<&ObjectReference>) -> Option<&'a Pod> {
    let r = r?;
    if r.kind != "Pod" {
        return None;
    }
    stores.pods.get(&ns_key(&r.namespace, &r.name))
}

pub fn build(eps: &Endpoints, stores: &Stores, attach_node: bool) -> TargetGroup {
    let meta = &eps.metadata;
    let mut tg = TargetGroup {
        source: source(&meta.namespace, &meta.name),
        ..TargetGroup::default()
    };
    tg.labels
        .insert(NAMESPACE_LABEL.to_string(), meta.namespace.clone());
    if let Some(svc) = stores.services.get(&ns_key(&meta.namespace, &meta.name)) {
        tg.labels.extend(service_labels(svc));
    }
    super::meta::add_object_meta(&mut tg.labels, meta, "endpoints");

    // Pods behind the addresses, in the order first seen, with the ports that made
    // targets for them.
    let mut seen: Vec<(&Pod, Vec<i32>)> = Vec::new();
    let mut seen_index: BTreeMap<String, usize> = BTreeMap::new();

    let mut add = |addr: &EndpointAddress, port: &EndpointPort, ready: bool| {
        let mut t = LabelSet::new();
        t.insert(
            ADDRESS_LABEL.to_string(),
            join_host_port(&addr.ip, port.port.into()),
        );
        t.insert(l("endpoint_port_name"), port.name.clone());
        t.insert(l("endpoint_port_protocol"), port.protocol.clone());
        t.insert(l("endpoint_ready"), ready.to_string());
        if let Some(r) = &addr.target_ref {
            t.insert(l("endpoint_address_target_kind"), r.kind.clone());
            t.insert(l("endpoint_address_target_name"), r.name.clone());
        }
        if let Some(n) = &addr.node_name {
            t.insert(l("endpoint_node_name"), n.clone());
        }
        if !addr.hostname.is_empty() {
            t.insert(l("endpoint_hostname"), addr.hostname.clone());
        }
        if attach_node {
            let node_name = match (&addr.node_name, &addr.target_ref) {
                (Some(n), _) => Some(n.as_str()),
                (None, Some(r)) if r.kind == "Node" => Some(r.name.as_str()),
                _ => None,
            };
            if let Some(node) = node_name.and_then(|n| stores.nodes.get(n)) {
                add_node_labels(&mut t, node);
            }
        }
        let Some(pod) = resolve_pod(stores, addr.target_ref.as_ref()) else {
            tg.targets.push(t);
            return;
        };
        let key = ns_key(&pod.metadata.namespace, &pod.metadata.name);
        let i = *seen_index.entry(key).or_insert_with(|| {
            seen.push((pod, Vec::new()));
            seen.len() - 1
        });
        t.extend(pod_labels(pod));
        // The container port the endpoint port is, if any.
        'containers: for c in &pod.spec.containers {
            for cp in &c.ports {
                if cp.container_port == port.port {
                    t.insert(l("pod_container_name"), c.name.clone());
                    t.insert(l("pod_container_image"), c.image.clone());
                    t.insert(l("pod_container_port_name"), cp.name.clone());
                    t.insert(l("pod_container_port_number"), port.port.to_string());
                    t.insert(l("pod_container_port_protocol"), port.protocol.clone());
                    break 'containers;
                }
            }
        }
        seen[i].1.push(port.port);
        tg.targets.push(t);
    };

    for ss in &eps.subsets {
        for port in &ss.ports {
            for addr in &ss.addresses {
                add(addr, port, true);
            }
            for addr in &ss.not_ready_addresses {
                add(addr, port, false);
            }
        }
    }

    match meta
        .labels
        .get("endpoints.kubernetes.io/over-capacity")
        .map(String::as_str)
    {
        Some("truncated") => tracing::warn!(
            endpoint = %meta.name,
            "Number of endpoints in one Endpoints object exceeds 1000 and has been truncated, please use \"role: endpointslice\" instead"
        ),
        Some("warning") => tracing::warn!(
            endpoint = %meta.name,
            "Number of endpoints in one Endpoints object exceeds 1000, please use \"role: endpointslice\" instead"
        ),
        _ => {}
    }

    // Container ports of the seen pods that no endpoint port covered.
    tg.targets.extend(uncovered_container_targets(&seen, false));
    tg
}
