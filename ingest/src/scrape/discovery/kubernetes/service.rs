//! `role: service`: one group per service, one target per service port, addressed by the
//! service's DNS name `<name>.<namespace>.svc:<port>`.
//!
//! | label | from |
//! |---|---|
//! | group: `namespace`, `service_name`, `service_label_*`, `service_labelpresent_*`, `service_annotation_*`, `service_annotationpresent_*` | metadata |
//! | target: `service_port_name`, `service_port_number`, `service_port_protocol` | the port |
//! | target: `service_type` | `spec.type` |
//! | target: `service_external_name` for `ExternalName`, `service_cluster_ip` otherwise | spec |
//! | target: `service_loadbalancer_ip` for `LoadBalancer` | `spec.loadBalancerIP` |

use super::meta::{add_object_meta, join_host_port, LabelSet, ADDRESS_LABEL, META_PREFIX};
use super::objects::Service;
use crate::scrape::discovery::TargetGroup;

pub fn source(namespace: &str, name: &str) -> String {
    format!("svc/{namespace}/{name}")
}

fn l(name: &str) -> String {
    format!("{META_PREFIX}{name}")
}

/// Prometheus's `serviceLabels`, also added to the endpoints roles' groups.
pub fn service_labels(svc: &Service) -> LabelSet {
    let mut ls = LabelSet::new();
    ls.insert(
        super::meta::NAMESPACE_LABEL.to_string(),
        svc.metadata.namespace.clone(),
    );
    add_object_meta(&mut ls, &svc.metadata, "service");
    ls
}

pub fn build(svc: &Service) -> TargetGroup {
    let meta = &svc.metadata;
    let host = format!("{}.{}.svc", meta.name, meta.namespace);
    let targets = svc
        .spec
        .ports
        .iter()
        .map(|p| {
            let mut t = LabelSet::new();
            t.insert(
                ADDRESS_LABEL.to_string(),
                join_host_port(&host, p.port.into()),
            );
            t.insert(l("service_port_name"), p.name.clone());
            t.insert(l("service_port_number"), p.port.to_string());
            t.insert(l("service_port_protocol"), p.protocol.clone());
            t.insert(l("service_type"), svc.spec.kind.clone());
            if svc.spec.kind == "ExternalName" {
                t.insert(l("service_external_name"), svc.spec.external_name.clone());
            } else {
                t.insert(l("service_cluster_ip"), svc.spec.cluster_ip.clone());
            }
            if svc.spec.kind == "LoadBalancer" {
                t.insert(
                    l("service_loadbalancer_ip"),
                    svc.spec.load_balancer_ip.clone(),
                );
            }
            t
        })
        .collect();
    TargetGroup {
        source: source(&meta.namespace, &meta.name),
        targets,
        labels: service_labels(svc),
    }
}
