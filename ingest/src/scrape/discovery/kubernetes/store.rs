//! The objects seen so far and which groups a change touches.
//!
//! Watchers feed [`Change`]s in; [`Engine::apply`] updates the [`Stores`] and rebuilds
//! the groups of the role's own kind that the change can alter, as Prometheus's
//! informers' event handlers enqueue them: a pod's group when the pod changes; for
//! the endpoints roles, the group of the changed object, of the Endpoints of the same
//! name when a service changes (the slices naming it, for slices), of those whose
//! addresses reference a changed pod, and of those on a changed node when node metadata
//! is attached. A deleted object's group is sent empty, with its source, so consumers
//! drop its targets.

use std::collections::{BTreeMap, BTreeSet};

use super::meta::ns_key;
use super::objects::{EndpointSlice, Endpoints, Kind, Node, Object, Pod, Service};
use super::{endpoints, endpointslice, node, pod, service};
use crate::scrape::config::KubernetesRole;
use crate::scrape::discovery::TargetGroup;

/// Every object watched, by kind; keys are `namespace/name` (`name` for nodes).
#[derive(Debug, Default)]
pub struct Stores {
    pub pods: BTreeMap<String, Pod>,
    pub nodes: BTreeMap<String, Node>,
    pub services: BTreeMap<String, Service>,
    pub endpoints: BTreeMap<String, Endpoints>,
    pub slices: BTreeMap<String, EndpointSlice>,
}

/// One observation of a watcher.
#[derive(Debug)]
pub enum Change {
    /// Added or modified.
    Upsert(Object),
    Deleted(Object),
    /// A full list of `kind` in `namespace` (all namespaces when empty): what is not in
    /// it is gone.
    Replace {
        kind: Kind,
        namespace: String,
        objects: Vec<Object>,
    },
}

/// The store key of an object.
fn key_of(o: &Object) -> String {
    let m = o.meta();
    match o {
        Object::Node(_) => m.name.clone(),
        _ => ns_key(&m.namespace, &m.name),
    }
}

fn kind_of(o: &Object) -> Kind {
    match o {
        Object::Pod(_) => Kind::Pod,
        Object::Node(_) => Kind::Node,
        Object::Service(_) => Kind::Service,
        Object::Endpoints(_) => Kind::Endpoints,
        Object::EndpointSlice(_) => Kind::EndpointSlice,
    }
}

/// The stores plus the role they serve.
pub struct Engine {
    role: KubernetesRole,
    /// `attach_metadata.node`: node labels on pod-backed targets.
    attach_node: bool,
    pub stores: Stores,
}

impl Engine {
    pub fn new(role: KubernetesRole, attach_node: bool) -> Self {
        Engine {
            role,
            attach_node,
            stores: Stores::default(),
        }
    }

    /// The role's own kind: the one whose objects are groups.
    pub fn primary(&self) -> Kind {
        match self.role {
            KubernetesRole::Pod => Kind::Pod,
            KubernetesRole::Node => Kind::Node,
            KubernetesRole::Service => Kind::Service,
            KubernetesRole::Endpoints => Kind::Endpoints,
            KubernetesRole::EndpointSlice => Kind::EndpointSlice,
        }
    }

    /// Every group, by the primary kind's keys (the initial send).
    pub fn all_groups(&self) -> Vec<TargetGroup> {
        let keys: Vec<String> = match self.primary() {
            Kind::Pod => self.stores.pods.keys().cloned().collect(),
            Kind::Node => self.stores.nodes.keys().cloned().collect(),
            Kind::Service => self.stores.services.keys().cloned().collect(),
            Kind::Endpoints => self.stores.endpoints.keys().cloned().collect(),
            Kind::EndpointSlice => self.stores.slices.keys().cloned().collect(),
        };
        keys.iter().filter_map(|k| self.build(k)).collect()
    }

    /// Applies a change; returns the groups it altered (empty ones for deleted objects).
    pub fn apply(&mut self, change: Change) -> Vec<TargetGroup> {
        let mut touched = BTreeSet::new();
        let mut deleted = BTreeSet::new();
        match change {
            Change::Upsert(o) => {
                self.touch(&o, &mut touched);
                self.insert(o);
            }
            Change::Deleted(o) => {
                let k = key_of(&o);
                self.remove(kind_of(&o), &k);
                if kind_of(&o) == self.primary() {
                    deleted.insert(k);
                } else {
                    self.touch(&o, &mut touched);
                }
            }
            Change::Replace {
                kind,
                namespace,
                objects,
            } => {
                let fresh: BTreeMap<String, Object> =
                    objects.into_iter().map(|o| (key_of(&o), o)).collect();
                // Counted as an informer's resync reports a list: objects gone are
                // deleted, those already held updated (changed or not), the rest added.
                let m = crate::scrape::metrics::get();
                for (k, old) in self.scope(kind, &namespace) {
                    if !fresh.contains_key(&k) {
                        m.k8s_event(kind.as_str(), "delete");
                        self.remove(kind, &k);
                        if kind == self.primary() {
                            deleted.insert(k);
                        } else {
                            self.touch(&old, &mut touched);
                        }
                    }
                }
                for (k, o) in fresh {
                    let held = self.get(kind, &k);
                    m.k8s_event(kind.as_str(), if held.is_some() { "update" } else { "add" });
                    if held.as_ref() != Some(&o) {
                        self.touch(&o, &mut touched);
                        self.insert(o);
                    }
                }
            }
        }
        let mut out: Vec<TargetGroup> = deleted
            .iter()
            .map(|k| TargetGroup {
                source: self.source(k),
                ..TargetGroup::default()
            })
            .collect();
        out.extend(touched.iter().filter_map(|k| self.build(k)));
        out
    }

    /// Records in `touched` the primary keys whose group depends on `o`.
    fn touch(&self, o: &Object, touched: &mut BTreeSet<String>) {
        let key = key_of(o);
        if kind_of(o) == self.primary() {
            touched.insert(key);
            return;
        }
        let s = &self.stores;
        match (self.primary(), o) {
            (Kind::Pod, Object::Node(n)) if self.attach_node => {
                let name = &n.metadata.name;
                touched.extend(
                    s.pods
                        .iter()
                        .filter(|(_, p)| &p.spec.node_name == name)
                        .map(|(k, _)| k.clone()),
                );
            }
            (Kind::Endpoints, Object::Service(_)) if s.endpoints.contains_key(&key) => {
                touched.insert(key);
            }
            (Kind::Endpoints, Object::Pod(p)) => {
                let (ns, name) = (&p.metadata.namespace, &p.metadata.name);
                for (k, e) in &s.endpoints {
                    let refs = e
                        .subsets
                        .iter()
                        .flat_map(|ss| ss.addresses.iter().chain(&ss.not_ready_addresses))
                        .filter_map(|a| a.target_ref.as_ref());
                    if refs
                        .into_iter()
                        .any(|r| r.kind == "Pod" && &r.namespace == ns && &r.name == name)
                    {
                        touched.insert(k.clone());
                    }
                }
            }
            (Kind::Endpoints, Object::Node(n)) if self.attach_node => {
                let name = &n.metadata.name;
                for (k, e) in &s.endpoints {
                    let on_node = e
                        .subsets
                        .iter()
                        .flat_map(|ss| ss.addresses.iter().chain(&ss.not_ready_addresses))
                        .any(|a| {
                            a.node_name.as_ref() == Some(name)
                                || a.target_ref
                                    .as_ref()
                                    .is_some_and(|r| r.kind == "Node" && &r.name == name)
                        });
                    if on_node {
                        touched.insert(k.clone());
                    }
                }
            }
            (Kind::EndpointSlice, Object::Service(svc)) => {
                let (ns, name) = (&svc.metadata.namespace, &svc.metadata.name);
                touched.extend(
                    s.slices
                        .iter()
                        .filter(|(_, e)| {
                            &e.metadata.namespace == ns
                                && e.metadata.labels.get(endpointslice::SERVICE_NAME_LABEL)
                                    == Some(name)
                        })
                        .map(|(k, _)| k.clone()),
                );
            }
            (Kind::EndpointSlice, Object::Pod(p)) => {
                let (ns, name) = (&p.metadata.namespace, &p.metadata.name);
                touched.extend(
                    s.slices
                        .iter()
                        .filter(|(_, e)| {
                            e.endpoints.iter().any(|ep| {
                                ep.target_ref.as_ref().is_some_and(|r| {
                                    r.kind == "Pod" && &r.namespace == ns && &r.name == name
                                })
                            })
                        })
                        .map(|(k, _)| k.clone()),
                );
            }
            (Kind::EndpointSlice, Object::Node(n)) if self.attach_node => {
                let name = &n.metadata.name;
                touched.extend(
                    s.slices
                        .iter()
                        .filter(|(_, e)| {
                            e.endpoints.iter().any(|ep| {
                                ep.node_name.as_ref() == Some(name)
                                    || ep
                                        .target_ref
                                        .as_ref()
                                        .is_some_and(|r| r.kind == "Node" && &r.name == name)
                            })
                        })
                        .map(|(k, _)| k.clone()),
                );
            }
            _ => {}
        }
    }

    /// The group of the primary object `key`; `None` when it yields none (a node
    /// without addresses) or is unknown.
    fn build(&self, key: &str) -> Option<TargetGroup> {
        let s = &self.stores;
        match self.primary() {
            Kind::Pod => {
                let p = s.pods.get(key)?;
                let node = if self.attach_node {
                    s.nodes.get(&p.spec.node_name)
                } else {
                    None
                };
                Some(pod::build(p, node))
            }
            Kind::Node => node::build(s.nodes.get(key)?),
            Kind::Service => Some(service::build(s.services.get(key)?)),
            Kind::Endpoints => Some(endpoints::build(s.endpoints.get(key)?, s, self.attach_node)),
            Kind::EndpointSlice => Some(endpointslice::build(
                s.slices.get(key)?,
                s,
                self.attach_node,
            )),
        }
    }

    /// The source of the primary object `key`.
    fn source(&self, key: &str) -> String {
        let (ns, name) = key.split_once('/').unwrap_or(("", key));
        match self.primary() {
            Kind::Pod => pod::source(ns, name),
            Kind::Node => node::source(key),
            Kind::Service => service::source(ns, name),
            Kind::Endpoints => endpoints::source(ns, name),
            Kind::EndpointSlice => endpointslice::source(ns, name),
        }
    }

    fn insert(&mut self, o: Object) {
        let k = key_of(&o);
        let s = &mut self.stores;
        match o {
            Object::Pod(x) => {
                s.pods.insert(k, x);
            }
            Object::Node(x) => {
                s.nodes.insert(k, x);
            }
            Object::Service(x) => {
                s.services.insert(k, x);
            }
            Object::Endpoints(x) => {
                s.endpoints.insert(k, x);
            }
            Object::EndpointSlice(x) => {
                s.slices.insert(k, x);
            }
        }
    }

    fn remove(&mut self, kind: Kind, key: &str) {
        let s = &mut self.stores;
        match kind {
            Kind::Pod => drop(s.pods.remove(key)),
            Kind::Node => drop(s.nodes.remove(key)),
            Kind::Service => drop(s.services.remove(key)),
            Kind::Endpoints => drop(s.endpoints.remove(key)),
            Kind::EndpointSlice => drop(s.slices.remove(key)),
        }
    }

    fn get(&self, kind: Kind, key: &str) -> Option<Object> {
        let s = &self.stores;
        match kind {
            Kind::Pod => s.pods.get(key).cloned().map(Object::Pod),
            Kind::Node => s.nodes.get(key).cloned().map(Object::Node),
            Kind::Service => s.services.get(key).cloned().map(Object::Service),
            Kind::Endpoints => s.endpoints.get(key).cloned().map(Object::Endpoints),
            Kind::EndpointSlice => s.slices.get(key).cloned().map(Object::EndpointSlice),
        }
    }

    /// The stored objects of `kind` within `namespace` (all when empty), with keys.
    fn scope(&self, kind: Kind, namespace: &str) -> Vec<(String, Object)> {
        let s = &self.stores;
        let all: Vec<(String, Object)> = match kind {
            Kind::Pod => s
                .pods
                .iter()
                .map(|(k, v)| (k.clone(), Object::Pod(v.clone())))
                .collect(),
            Kind::Node => s
                .nodes
                .iter()
                .map(|(k, v)| (k.clone(), Object::Node(v.clone())))
                .collect(),
            Kind::Service => s
                .services
                .iter()
                .map(|(k, v)| (k.clone(), Object::Service(v.clone())))
                .collect(),
            Kind::Endpoints => s
                .endpoints
                .iter()
                .map(|(k, v)| (k.clone(), Object::Endpoints(v.clone())))
                .collect(),
            Kind::EndpointSlice => s
                .slices
                .iter()
                .map(|(k, v)| (k.clone(), Object::EndpointSlice(v.clone())))
                .collect(),
        };
        all.into_iter()
            .filter(|(_, o)| {
                namespace.is_empty() || kind == Kind::Node || o.meta().namespace == namespace
            })
            .collect()
    }
}
