//! The Kubernetes API objects discovery reads, as the API server serves them in JSON.
//!
//! Each type holds only the fields a role's labels are made from; serde skips the rest,
//! so a newer API server's extra fields cost nothing. Fields the API server may omit
//! (empty lists, unset strings) default to empty, which is what Prometheus's Go structs
//! hold for them and therefore what its labels show. Optional pointers in the Go API
//! (`*string`, `*bool`, `*int32`) stay `Option` here because Prometheus only emits their
//! labels when they are set.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `metadata` of every object.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectMeta {
    pub name: String,
    /// Empty for cluster-scoped objects (nodes).
    pub namespace: String,
    pub uid: String,
    /// Opaque to clients: only ever passed back to the API server.
    pub resource_version: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub owner_references: Vec<OwnerReference>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct OwnerReference {
    pub kind: String,
    pub name: String,
    /// The owner managing this object; at most one reference has it set.
    pub controller: Option<bool>,
}

/// `metadata` of a list: the version a watch continues from.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ListMeta {
    pub resource_version: String,
}

/// A `…List` answer; items are decoded by kind afterwards.
#[derive(Debug, Deserialize)]
pub struct List {
    #[serde(default)]
    pub metadata: ListMeta,
    /// `null` when empty on some API server versions.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub items: Vec<serde_json::Value>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// The API server's `Status`, the body of failed requests and of `ERROR` watch events.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Status {
    pub message: String,
    pub reason: String,
    pub code: u16,
}

/// `ObjectReference` of an endpoint address.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ObjectReference {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

// ---- Pod ----

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Pod {
    pub metadata: ObjectMeta,
    pub spec: PodSpec,
    pub status: PodStatus,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    pub node_name: String,
    pub containers: Vec<Container>,
    pub init_containers: Vec<Container>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub ports: Vec<ContainerPort>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerPort {
    pub name: String,
    pub container_port: i32,
    pub protocol: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct PodStatus {
    pub phase: String,
    /// Empty while the pod starts and after it is evicted: such a pod has no targets.
    #[serde(rename = "podIP")]
    pub pod_ip: String,
    #[serde(rename = "hostIP")]
    pub host_ip: String,
    pub conditions: Vec<Condition>,
    pub container_statuses: Vec<ContainerStatus>,
    pub init_container_statuses: Vec<ContainerStatus>,
}

/// A pod or node condition: `type` with status `True`, `False` or `Unknown`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Condition {
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStatus {
    pub name: String,
    #[serde(rename = "containerID")]
    pub container_id: String,
}

// ---- Node ----

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Node {
    pub metadata: ObjectMeta,
    pub spec: NodeSpec,
    pub status: NodeStatus,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NodeSpec {
    #[serde(rename = "providerID")]
    pub provider_id: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeStatus {
    pub addresses: Vec<NodeAddress>,
    pub daemon_endpoints: DaemonEndpoints,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NodeAddress {
    /// `InternalIP`, `ExternalIP`, `Hostname`, `InternalDNS`, `ExternalDNS`.
    #[serde(rename = "type")]
    pub kind: String,
    pub address: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct DaemonEndpoints {
    pub kubelet_endpoint: DaemonEndpoint,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DaemonEndpoint {
    /// The API spells this one `Port`, capitalised.
    pub port: i32,
}

// ---- Service ----

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Service {
    pub metadata: ObjectMeta,
    pub spec: ServiceSpec,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceSpec {
    pub ports: Vec<ServicePort>,
    /// `ClusterIP`, `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(rename = "clusterIP")]
    pub cluster_ip: String,
    pub external_name: String,
    #[serde(rename = "loadBalancerIP")]
    pub load_balancer_ip: String,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct ServicePort {
    pub name: String,
    pub protocol: String,
    pub port: i32,
}

// ---- Endpoints ----

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct Endpoints {
    pub metadata: ObjectMeta,
    pub subsets: Vec<EndpointSubset>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointSubset {
    pub addresses: Vec<EndpointAddress>,
    pub not_ready_addresses: Vec<EndpointAddress>,
    pub ports: Vec<EndpointPort>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointAddress {
    pub ip: String,
    pub hostname: String,
    pub node_name: Option<String>,
    pub target_ref: Option<ObjectReference>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct EndpointPort {
    pub name: String,
    pub port: i32,
    pub protocol: String,
}

// ---- EndpointSlice (discovery.k8s.io/v1) ----

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointSlice {
    pub metadata: ObjectMeta,
    /// `IPv4`, `IPv6` or `FQDN`.
    pub address_type: String,
    #[serde(deserialize_with = "null_as_empty")]
    pub endpoints: Vec<SliceEndpoint>,
    #[serde(deserialize_with = "null_as_empty")]
    pub ports: Vec<SlicePort>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SliceEndpoint {
    pub addresses: Vec<String>,
    pub conditions: SliceConditions,
    pub hostname: Option<String>,
    pub target_ref: Option<ObjectReference>,
    pub node_name: Option<String>,
    pub zone: Option<String>,
    pub deprecated_topology: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct SliceConditions {
    pub ready: Option<bool>,
    pub serving: Option<bool>,
    pub terminating: Option<bool>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", default)]
pub struct SlicePort {
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub port: Option<i32>,
    pub app_protocol: Option<String>,
}

/// The kinds discovery watches, with where the API serves them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Pod,
    Node,
    Service,
    Endpoints,
    EndpointSlice,
}

impl Kind {
    /// The collection path, namespaced when `namespace` is non-empty.
    pub fn path(self, namespace: &str) -> String {
        let (group, plural) = match self {
            Kind::Pod => ("/api/v1", "pods"),
            Kind::Node => ("/api/v1", "nodes"),
            Kind::Service => ("/api/v1", "services"),
            Kind::Endpoints => ("/api/v1", "endpoints"),
            Kind::EndpointSlice => ("/apis/discovery.k8s.io/v1", "endpointslices"),
        };
        if namespace.is_empty() || self == Kind::Node {
            format!("{group}/{plural}")
        } else {
            format!("{group}/namespaces/{namespace}/{plural}")
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::Node => "node",
            Kind::Service => "service",
            Kind::Endpoints => "endpoints",
            Kind::EndpointSlice => "endpointslice",
        }
    }
}

/// Any watched object, tagged by kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Object {
    Pod(Pod),
    Node(Node),
    Service(Service),
    Endpoints(Endpoints),
    EndpointSlice(EndpointSlice),
}

impl Object {
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Pod(o) => &o.metadata,
            Object::Node(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Endpoints(o) => &o.metadata,
            Object::EndpointSlice(o) => &o.metadata,
        }
    }

    /// Decodes one object of `kind` from JSON.
    pub fn from_value(kind: Kind, v: serde_json::Value) -> Result<Object, serde_json::Error> {
        Ok(match kind {
            Kind::Pod => Object::Pod(serde_json::from_value(v)?),
            Kind::Node => Object::Node(serde_json::from_value(v)?),
            Kind::Service => Object::Service(serde_json::from_value(v)?),
            Kind::Endpoints => Object::Endpoints(serde_json::from_value(v)?),
            Kind::EndpointSlice => Object::EndpointSlice(serde_json::from_value(v)?),
        })
    }
}
