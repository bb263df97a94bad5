//! Kubernetes discovery against an emulated API server serving real object JSON
//! (`tests/fixtures/k8s/*.json`, as `kubectl get -o json` prints them).
//!
//! The expected groups (`expected_<role>.json`) are the target groups Prometheus's
//! `discovery/kubernetes` builds from the same objects: one group per object with its
//! source, group labels and targets in Prometheus's order.

mod k8s_api;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_api::ApiServer;
use serde_json::{json, Value};
use tianshu_ingest::scrape::config::KubernetesSdConfig;
use tianshu_ingest::scrape::discovery::kubernetes::{in_cluster, run_provider, Discovery};
use tianshu_ingest::scrape::discovery::TargetGroup;
use tokio::sync::mpsc;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRlc3QifQ.sa-token";
/// A bound on how long an expected event may take to arrive; only reached on failure.
const PATIENCE: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/k8s/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn sd_config(yaml: &str) -> KubernetesSdConfig {
    serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"))
}

/// `role` against `api` with the bearer token, plus `extra` YAML.
fn api_config(api: &ApiServer, role: &str, extra: &str) -> KubernetesSdConfig {
    sd_config(&format!(
        "role: {role}\napi_server: {}\nauthorization:\n  credentials: {TOKEN}\n{extra}",
        api.url
    ))
}

fn group_json(g: &TargetGroup) -> Value {
    json!({"source": g.source, "labels": g.labels, "targets": g.targets})
}

/// Groups by source.
fn by_source(groups: &[TargetGroup]) -> BTreeMap<String, Value> {
    groups
        .iter()
        .map(|g| (g.source.clone(), group_json(g)))
        .collect()
}

fn assert_groups(got: &[TargetGroup], expected_file: &str) {
    let expected: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixture(expected_file)).unwrap()).unwrap();
    let expected: BTreeMap<String, Value> = expected
        .into_iter()
        .map(|g| (g["source"].as_str().unwrap().to_string(), g))
        .collect();
    let got = by_source(got);
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "sources"
    );
    for (source, want) in &expected {
        assert_eq!(
            serde_json::to_string_pretty(&got[source]).unwrap(),
            serde_json::to_string_pretty(want).unwrap(),
            "group {source}"
        );
    }
}

/// A running discovery and what it has sent.
struct Run {
    rx: mpsc::Receiver<Vec<TargetGroup>>,
    task: tokio::task::JoinHandle<()>,
    /// Latest group per source, as a consumer keeps them.
    state: BTreeMap<String, TargetGroup>,
}

impl Drop for Run {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Run {
    fn start(d: Discovery) -> Run {
        let (tx, rx) = mpsc::channel(16);
        Run {
            rx,
            task: tokio::spawn(d.run(tx)),
            state: BTreeMap::new(),
        }
    }

    async fn next(&mut self) -> Vec<TargetGroup> {
        let groups = tokio::time::timeout(PATIENCE, self.rx.recv())
            .await
            .expect("no groups in time")
            .expect("discovery ended");
        for g in &groups {
            self.state.insert(g.source.clone(), g.clone());
        }
        groups
    }

    /// Receives until `done` holds for the latest groups.
    async fn until(&mut self, what: &str, done: impl Fn(&BTreeMap<String, TargetGroup>) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !done(&self.state) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let r = tokio::time::timeout(left, self.rx.recv()).await;
            let Ok(Some(groups)) = r else {
                panic!("{what}: not reached; groups: {:#?}", self.state);
            };
            for g in groups {
                self.state.insert(g.source.clone(), g);
            }
        }
    }
}

async fn wait_for_request(api: &ApiServer, what: &str, f: impl Fn(&k8s_api::Request) -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !api.requests().iter().any(&f) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: no such request in {:#?}",
            api.requests()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn is_empty_group(g: Option<&TargetGroup>) -> bool {
    g.is_some_and(|g| g.targets.is_empty() && g.labels.is_empty())
}

#[tokio::test]
async fn pod_role_groups_are_prometheus_s() {
    let api = ApiServer::start(TOKEN).await;
    api.load("pods", "pods.json");
    let mut run = Run::start(Discovery::new(&api_config(&api, "pod", "")).unwrap());
    let first = run.next().await;
    assert_groups(&first, "expected_pod.json");
    // Every request authenticated with the token; one list and then watches, cluster-wide.
    let reqs = api.requests();
    assert!(reqs
        .iter()
        .all(|r| r.authorization == format!("Bearer {TOKEN}")));
    assert_eq!(reqs[0].path, "/api/v1/pods");
    assert!(!reqs[0].is_watch());
}

#[tokio::test]
async fn node_role_groups_are_prometheus_s() {
    let api = ApiServer::start(TOKEN).await;
    api.load("nodes", "nodes.json");
    let mut run = Run::start(Discovery::new(&api_config(&api, "node", "")).unwrap());
    assert_groups(&run.next().await, "expected_node.json");
}

#[tokio::test]
async fn service_role_groups_are_prometheus_s() {
    let api = ApiServer::start(TOKEN).await;
    api.load("services", "services.json");
    let mut run = Run::start(Discovery::new(&api_config(&api, "service", "")).unwrap());
    assert_groups(&run.next().await, "expected_service.json");
}

#[tokio::test]
async fn endpoints_role_groups_are_prometheus_s() {
    let api = ApiServer::start(TOKEN).await;
    api.load("pods", "pods.json");
    api.load("services", "services.json");
    api.load("endpoints", "endpoints.json");
    let mut run = Run::start(Discovery::new(&api_config(&api, "endpoints", "")).unwrap());
    assert_groups(&run.next().await, "expected_endpoints.json");
}

#[tokio::test]
async fn endpointslice_role_groups_are_prometheus_s() {
    let api = ApiServer::start(TOKEN).await;
    api.load("pods", "pods.json");
    api.load("services", "services.json");
    api.load("endpointslices", "endpointslices.json");
    let mut run = Run::start(Discovery::new(&api_config(&api, "endpointslice", "")).unwrap());
    assert_groups(&run.next().await, "expected_endpointslice.json");
    let paths: Vec<String> = api.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&"/apis/discovery.k8s.io/v1/endpointslices".to_string()));
}

#[tokio::test]
async fn pod_updates_and_deletions_are_followed() {
    let api = ApiServer::start(TOKEN).await;
    api.load("pods", "pods.json");
    let mut run = Run::start(Discovery::new(&api_config(&api, "pod", "")).unwrap());
    run.next().await;

    // A label changes.
    let mut web = api.get("pods", "default", "web-6d4cf56db6-k8t2x");
    web["metadata"]["labels"]["app.kubernetes.io/part-of"] = json!("store");
    api.apply("pods", web);
    let changed = run.next().await;
    assert_eq!(changed.len(), 1);
    assert_eq!(
        changed[0].labels["__meta_kubernetes_pod_label_app_kubernetes_io_part_of"],
        "store"
    );
    assert_eq!(changed[0].targets.len(), 6);

    // A deleted pod's group is sent empty, with its source.
    api.delete("pods", "monitoring", "node-exporter-x2j9q");
    let deleted = run.next().await;
    assert_eq!(
        deleted,
        vec![TargetGroup {
            source: "pod/monitoring/node-exporter-x2j9q".into(),
            ..TargetGroup::default()
        }]
    );

    // The pending pod gets an IP: it gets targets.
    let mut report = api.get("pods", "default", "report-28871370-tn7fd");
    report["status"]["podIP"] = json!("10.244.1.40");
    report["status"]["phase"] = json!("Running");
    api.apply("pods", report);
    let started = run.next().await;
    assert_eq!(started[0].source, "pod/default/report-28871370-tn7fd");
    assert_eq!(started[0].targets[0]["__address__"], "10.244.1.40");
    assert_eq!(started[0].labels["__meta_kubernetes_pod_ready"], "unknown");
}

#[tokio::test]
async fn endpoints_follow_their_service_and_pods() {
    let api = ApiServer::start(TOKEN).await;
    api.load("pods", "pods.json");
    api.load("services", "services.json");
    api.load("endpoints", "endpoints.json");
    let mut run = Run::start(Discovery::new(&api_config(&api, "endpoints", "")).unwrap());
    run.next().await;
    let svc_label = "__meta_kubernetes_service_name";
    assert_eq!(run.state["endpoints/default/web"].labels[svc_label], "web");

    // The service goes: its labels leave the endpoints' group.
    api.delete("services", "default", "web");
    run.until("service labels removed", |s| {
        !s["endpoints/default/web"].labels.contains_key(svc_label)
    })
    .await;

    // The pod behind the ready address changes phase: its targets follow.
    let mut web = api.get("pods", "default", "web-6d4cf56db6-k8t2x");
    web["status"]["phase"] = json!("Failed");
    api.apply("pods", web);
    run.until("pod phase followed", |s| {
        s["endpoints/default/web"].targets[0]["__meta_kubernetes_pod_phase"] == "Failed"
    })
    .await;

    // The Endpoints object goes: its group is sent empty.
    api.delete("endpoints", "default", "web");
    run.until("endpoints deleted", |s| {
        is_empty_group(s.get("endpoints/default/web"))
    })
    .await;
}

#[tokio::test]
async fn endpointslices_follow_their_service() {
    let api = ApiServer::start(TOKEN).await;
    api.load("pods", "pods.json");
    api.load("endpointslices", "endpointslices.json");
    let mut run = Run::start(Discovery::new(&api_config(&api, "endpointslice", "")).unwrap());
    run.next().await;
    let svc_label = "__meta_kubernetes_service_name";
    assert!(!run.state["endpointslice/default/web-x7k2m"]
        .labels
        .contains_key(svc_label));
    api.load("services", "services.json");
    run.until("service labels added", |s| {
        s["endpointslice/default/web-x7k2m"].labels.get(svc_label) == Some(&"web".to_string())
    })
    .await;
}

/// Deletes a pod while no watch runs and the history is gone: the watcher must get
/// 410 Gone, list again and see the pod missing.
async fn relist_after_gone(gone_as_http_status: bool) {
    let api = ApiServer::start(TOKEN).await;
    api.gone_as_http_status(gone_as_http_status);
    api.load("pods", "pods.json");
    let mut run = Run::start(Discovery::new(&api_config(&api, "pod", "")).unwrap());
    run.next().await;
    wait_for_request(&api, "first watch", |r| r.is_watch()).await;

    api.compact();
    api.close_watches();
    api.delete("pods", "monitoring", "node-exporter-x2j9q");
    run.until("deletion seen through a relist", |s| {
        is_empty_group(s.get("pod/monitoring/node-exporter-x2j9q"))
    })
    .await;
    let lists = api.requests().iter().filter(|r| !r.is_watch()).count();
    assert_eq!(lists, 2, "one list at start, one after 410");
    // The other pods' groups were not re-sent as deleted.
    assert!(!run.state["pod/default/web-6d4cf56db6-k8t2x"]
        .targets
        .is_empty());
}

#[tokio::test]
async fn gone_as_watch_error_event_relists() {
    relist_after_gone(false).await;
}

#[tokio::test]
async fn gone_as_http_410_relists() {
    relist_after_gone(true).await;
}

#[tokio::test]
async fn watches_resume_from_bookmarks() {
    let api = ApiServer::start(TOKEN).await;
    api.load("nodes", "nodes.json");
    let mut run = Run::start(Discovery::new(&api_config(&api, "node", "")).unwrap());
    run.next().await;
    wait_for_request(&api, "first watch", |r| {
        r.is_watch() && r.query.get("allowWatchBookmarks").map(String::as_str) == Some("true")
    })
    .await;
    // Nodes are quiet; a bookmark moves the version the next watch starts from, so it
    // does not start from a version the server may have forgotten.
    let bookmark = api.bookmark();
    api.wait_delivered(bookmark).await;
    api.close_watches();
    let resumed = bookmark.to_string();
    wait_for_request(&api, "watch resumed from the bookmark", |r| {
        r.is_watch() && r.query.get("resourceVersion") == Some(&resumed)
    })
    .await;
    assert_eq!(api.requests().iter().filter(|r| !r.is_watch()).count(), 1);
}

#[tokio::test]
async fn namespaces_and_selectors_reach_the_api_server() {
    let api = ApiServer::start(TOKEN).await;
    api.load("pods", "pods.json");
    let extra = "namespaces:\n  names: [monitoring]\nselectors:\n- role: pod\n  label: app.kubernetes.io/name=node-exporter\n  field: spec.nodeName=kind-control-plane\n";
    let mut run = Run::start(Discovery::new(&api_config(&api, "pod", extra)).unwrap());
    let first = run.next().await;
    assert_eq!(
        by_source(&first).keys().collect::<Vec<_>>(),
        vec!["pod/monitoring/node-exporter-x2j9q"]
    );
    let list = &api.requests()[0];
    assert_eq!(list.path, "/api/v1/namespaces/monitoring/pods");
    assert_eq!(
        list.query.get("labelSelector").map(String::as_str),
        Some("app.kubernetes.io/name=node-exporter")
    );
    assert_eq!(
        list.query.get("fieldSelector").map(String::as_str),
        Some("spec.nodeName=kind-control-plane")
    );
    // A pod of another namespace never shows up; one matching in the namespace does.
    let mut other = api.get("pods", "monitoring", "node-exporter-x2j9q");
    other["metadata"]["name"] = json!("node-exporter-b7c4d");
    other["metadata"]["namespace"] = json!("default");
    api.apply("pods", other.clone());
    other["metadata"]["namespace"] = json!("monitoring");
    api.apply("pods", other);
    run.until("new pod in the namespace", |s| {
        s.contains_key("pod/monitoring/node-exporter-b7c4d")
    })
    .await;
    assert!(!run.state.contains_key("pod/default/node-exporter-b7c4d"));
}

#[tokio::test]
async fn in_cluster_token_is_reread_and_own_namespace_used() {
    let api = ApiServer::start("token-1").await;
    api.load("pods", "pods.json");
    let sa = tempfile::tempdir().unwrap();
    std::fs::write(sa.path().join("token"), "token-1\n").unwrap();
    std::fs::copy(fixture("ca.crt"), sa.path().join("ca.crt")).unwrap();
    std::fs::write(sa.path().join("namespace"), "monitoring").unwrap();
    let (client, own) = in_cluster(&api.url, sa.path()).unwrap();
    assert_eq!(own.as_deref(), Some("monitoring"));
    let cfg = sd_config("role: pod\nnamespaces:\n  own_namespace: true\n");
    let mut run = Run::start(Discovery::with_client(&cfg, client, own));
    let first = run.next().await;
    assert_eq!(
        by_source(&first).keys().collect::<Vec<_>>(),
        vec!["pod/monitoring/node-exporter-x2j9q"]
    );
    assert_eq!(api.requests()[0].path, "/api/v1/namespaces/monitoring/pods");

    // The kubelet rotates the token; the server stops taking the old one.
    std::fs::write(sa.path().join("token"), "token-2\n").unwrap();
    api.set_token("token-2");
    api.close_watches();
    wait_for_request(&api, "request with the rotated token", |r| {
        r.authorization == "Bearer token-2"
    })
    .await;
    api.delete("pods", "monitoring", "node-exporter-x2j9q");
    run.until("deletion after rotation", |s| {
        is_empty_group(s.get("pod/monitoring/node-exporter-x2j9q"))
    })
    .await;
}

#[tokio::test]
async fn kubeconfig_current_context_is_used() {
    let api = ApiServer::start(TOKEN).await;
    api.load("services", "services.json");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), TOKEN).unwrap();
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: emulated\nclusters:\n- name: other\n  cluster:\n    server: https://192.0.2.1:6443\n- name: emulated\n  cluster:\n    server: {}\ncontexts:\n- name: emulated\n  context:\n    cluster: emulated\n    user: robot\nusers:\n- name: robot\n  user:\n    tokenFile: token\n",
        api.url
    );
    let path = dir.path().join("kubeconfig.yml");
    std::fs::write(&path, kubeconfig).unwrap();
    let cfg = sd_config(&format!(
        "role: service\nkubeconfig_file: {}\n",
        path.display()
    ));
    let mut run = Run::start(Discovery::new(&cfg).unwrap());
    assert_groups(&run.next().await, "expected_service.json");
}

#[tokio::test]
async fn provider_sends_complete_lists_and_keeps_deleted_groups_empty() {
    let api = ApiServer::start(TOKEN).await;
    api.load("services", "services.json");
    let d = Discovery::new(&api_config(&api, "service", "")).unwrap();
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(run_provider(d, 3, tx));
    let (index, first) = tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(index, 3);
    assert_groups(&first, "expected_service.json");
    api.delete("services", "default", "db");
    let (_, second) = tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.len(), 3);
    let db = second
        .iter()
        .find(|g| g.source == "svc/default/db")
        .unwrap();
    assert!(db.targets.is_empty() && db.labels.is_empty());
    task.abort();
}

#[tokio::test]
async fn refused_requests_are_retried_with_the_credentials_file_read_again() {
    let api = ApiServer::start("right").await;
    api.load("nodes", "nodes.json");
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "wrong").unwrap();
    let cfg = sd_config(&format!(
        "role: node\napi_server: {}\nauthorization:\n  credentials_file: {}\n",
        api.url,
        token.display()
    ));
    let mut run = Run::start(Discovery::new(&cfg).unwrap());
    wait_for_request(&api, "refused list", |r| r.authorization == "Bearer wrong").await;
    // The credentials are fixed: the retry, after backoff, succeeds.
    std::fs::write(&token, "right").unwrap();
    assert_groups(&run.next().await, "expected_node.json");
}

#[tokio::test]
async fn attach_metadata_node_labels_pods_and_follows_the_node() {
    let api = ApiServer::start(TOKEN).await;
    api.load("pods", "pods.json");
    api.load("nodes", "nodes.json");
    let cfg = api_config(&api, "pod", "attach_metadata:\n  node: true\n");
    let mut run = Run::start(Discovery::new(&cfg).unwrap());
    run.next().await;
    let web = &run.state["pod/default/web-6d4cf56db6-k8t2x"].labels;
    assert_eq!(web["__meta_kubernetes_node_name"], "kind-worker");
    let zone = "__meta_kubernetes_node_label_topology_kubernetes_io_zone";
    assert_eq!(web[zone], "zone-a");
    assert_eq!(
        web["__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone"],
        "true"
    );
    assert_eq!(
        web["__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl"],
        "0"
    );
    // Pods and nodes are both watched.
    let paths: Vec<String> = api.requests().iter().map(|r| r.path.clone()).collect();
    assert!(paths.contains(&"/api/v1/nodes".to_string()), "{paths:?}");

    let mut worker = api.get("nodes", "", "kind-worker");
    worker["metadata"]["labels"]["topology.kubernetes.io/zone"] = json!("zone-b");
    api.apply("nodes", worker);
    run.until("pod relabelled after its node", |s| {
        s["pod/default/web-6d4cf56db6-k8t2x"].labels.get(zone) == Some(&"zone-b".to_string())
    })
    .await;
    // The pod on the other node is not touched by it.
    assert!(!run.state["pod/monitoring/node-exporter-x2j9q"]
        .labels
        .contains_key(zone));
}
