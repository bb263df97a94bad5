//! `role: endpointslice` (`discovery.k8s.io/v1`): one group per EndpointSlice, one
//! target per endpoint, port and address; then, for every pod seen behind an endpoint,
//! one target per container port (init containers included) no slice port covered.
//!
//! | label | from |
//! |---|---|
//! | group: `namespace`, `endpointslice_address_type` | the slice |
//! | group: `endpointslice_name`, `endpointslice_label_*`, `…labelpresent_*`, `…annotation_*`, `…annotationpresent_*` | metadata |
//! | group: the service role's group labels | the service named by the `kubernetes.io/service-name` label, if known |
//! | target: `endpointslice_port_name`, `_port_protocol`, `_port`, `_port_app_protocol` | the port's set fields |
//! | target: `endpointslice_endpoint_conditions_ready`, `_serving`, `_terminating` | the endpoint's set conditions |
//! | target: `endpointslice_endpoint_hostname`, `_node_name`, `_zone` | the endpoint's set fields |
//! | target: `endpointslice_address_target_kind`, `_name` | `targetRef`, if set |
//! | target: `endpointslice_endpoint_topology_*`, `…topology_present_*` | `deprecatedTopology` |
//! | target: the pod role's group labels and `pod_container_*` of the matching port | the referenced pod, if known |
//! | target: `node_*` with `attach_metadata.node` | the endpoint's node, if known |

use std::collections::BTreeMap;

use super::endpoints::resolve_pod;
use super::meta::{
    add_object_meta, join_host_port, ns_key, sanitize, LabelSet, ADDRESS_LABEL, META_PREFIX,
    NAMESPACE_LABEL, PRESENT,
};
use super::node::add_node_labels;
use super::objects::{EndpointSlice, Pod, SliceEndpoint, SlicePort};
use super::pod::{all_containers, pod_labels, uncovered_container_targets};
use super::service::service_labels;
use super::store::Stores;
use crate::scrape::discovery::TargetGroup;

/// The label linking a slice to its service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

pub fn source(namespace: &str, name: &str) -> String {
    format!("endpointslice/{namespace}/{name}")
}

fn l(name: &str) -> String {
    format!("{META_PREFIX}{name}")
}

pub fn build(eps: &EndpointSlice, stores: &Stores, attach_node: bool) -> TargetGroup {
    let meta = &eps.metadata;
    let mut tg = TargetGroup {
        source: source(&meta.namespace, &meta.name),
        ..TargetGroup::default()
    };
    tg.labels
        .insert(NAMESPACE_LABEL.to_string(), meta.namespace.clone());
    tg.labels
        .insert(l("endpointslice_address_type"), eps.address_type.clone());
    add_object_meta(&mut tg.labels, meta, "endpointslice");
    if let Some(svc) = meta
        .labels
        .get(SERVICE_NAME_LABEL)
        .and_then(|name| stores.services.get(&ns_key(&meta.namespace, name)))
    {
        tg.labels.extend(service_labels(svc));
    }

    // Pods behind the endpoints, in the order first seen, with the ports that made
    // targets for them.
    let mut seen: Vec<(&Pod, Vec<i32>)> = Vec::new();
    let mut seen_index: BTreeMap<String, usize> = BTreeMap::new();

    let mut add = |addr: &str, ep: &SliceEndpoint, port: &SlicePort| {
        let mut t = LabelSet::new();
        let a = match port.port {
            Some(p) => join_host_port(addr, p.into()),
            None => addr.to_string(),
        };
        t.insert(ADDRESS_LABEL.to_string(), a);
        if let Some(v) = &port.name {
            t.insert(l("endpointslice_port_name"), v.clone());
        }
        if let Some(v) = &port.protocol {
            t.insert(l("endpointslice_port_protocol"), v.clone());
        }
        if let Some(v) = port.port {
            t.insert(l("endpointslice_port"), v.to_string());
        }
        if let Some(v) = &port.app_protocol {
            t.insert(l("endpointslice_port_app_protocol"), v.clone());
        }
        let c = &ep.conditions;
        for (name, v) in [
            ("ready", c.ready),
            ("serving", c.serving),
            ("terminating", c.terminating),
        ] {
            if let Some(v) = v {
                t.insert(
                    l(&format!("endpointslice_endpoint_conditions_{name}")),
                    v.to_string(),
                );
            }
        }
        if let Some(v) = &ep.hostname {
            t.insert(l("endpointslice_endpoint_hostname"), v.clone());
        }
        if let Some(r) = &ep.target_ref {
            t.insert(l("endpointslice_address_target_kind"), r.kind.clone());
            t.insert(l("endpointslice_address_target_name"), r.name.clone());
        }
        if let Some(v) = &ep.node_name {
            t.insert(l("endpointslice_endpoint_node_name"), v.clone());
        }
        if let Some(v) = &ep.zone {
            t.insert(l("endpointslice_endpoint_zone"), v.clone());
        }
        for (k, v) in &ep.deprecated_topology {
            let k = sanitize(k);
            t.insert(
                l(&format!("endpointslice_endpoint_topology_{k}")),
                v.clone(),
            );
            t.insert(
                l(&format!("endpointslice_endpoint_topology_present_{k}")),
                PRESENT.to_string(),
            );
        }
        if attach_node {
            let node_name = match &ep.target_ref {
                Some(r) if r.kind == "Node" => Some(r.name.as_str()),
                _ => ep.node_name.as_deref(),
            };
            if let Some(node) = node_name.and_then(|n| stores.nodes.get(n)) {
                add_node_labels(&mut t, node);
            }
        }
        let Some(pod) = resolve_pod(stores, ep.target_ref.as_ref()) else {
            tg.targets.push(t);
            return;
        };
        let key = ns_key(&pod.metadata.namespace, &pod.metadata.name);
        let i = *seen_index.entry(key).or_insert_with(|| {
            seen.push((pod, Vec::new()));
            seen.len() - 1
        });
        t.extend(pod_labels(pod));
        if let Some(p) = port.port {
            'containers: for (c, init) in all_containers(pod) {
                for cp in &c.ports {
                    if cp.container_port == p {
                        t.insert(l("pod_container_name"), c.name.clone());
                        t.insert(l("pod_container_image"), c.image.clone());
                        t.insert(l("pod_container_port_name"), cp.name.clone());
                        t.insert(l("pod_container_port_number"), p.to_string());
                        t.insert(l("pod_container_port_protocol"), cp.protocol.clone());
                        t.insert(l("pod_container_init"), init.to_string());
                        break 'containers;
                    }
                }
            }
            seen[i].1.push(p);
        }
        tg.targets.push(t);
    };

    for ep in &eps.endpoints {
        for port in &eps.ports {
            for addr in &ep.addresses {
                add(addr, ep, port);
            }
        }
    }

    // Container ports of the seen pods that no slice port covered.
    tg.targets.extend(uncovered_container_targets(&seen, true));
    tg
}
