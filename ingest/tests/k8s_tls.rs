//! Kubernetes discovery over HTTPS: the emulated API server with a certificate from a
//! throwaway CA, reached through `api_server` + `tls_config`, `server_name`, client
//! certificates, bearer tokens and the in-cluster service account.

mod k8s_api;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_api::tls::Pki;
use k8s_api::ApiServer;
use tianshu_ingest::scrape::config::KubernetesSdConfig;
use tianshu_ingest::scrape::discovery::kubernetes::{Discovery, InCluster};
use tianshu_ingest::scrape::discovery::TargetGroup;
use tianshu_ingest::scrape::{metrics, ScrapeManager, Sink};
use tianshu_tsdb::{AppendReport, MetricMetadata, SeriesRef};
use tokio::sync::mpsc;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InRscyJ9.tls-token";
/// A bound on how long an expected event may take to arrive; only reached on failure.
const PATIENCE: Duration = Duration::from_secs(30);

fn sd_config(yaml: &str) -> KubernetesSdConfig {
    serde_yaml_ng::from_str(yaml).unwrap_or_else(|e| panic!("{e}: {yaml}"))
}

/// The first groups `d` sends.
async fn first_groups(d: Discovery) -> Vec<TargetGroup> {
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(d.run(tx));
    let groups = tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("no groups in time")
        .expect("discovery ended");
    task.abort();
    groups
}

fn sources(groups: &[TargetGroup]) -> Vec<&str> {
    let mut s: Vec<&str> = groups.iter().map(|g| g.source.as_str()).collect();
    s.sort_unstable();
    s
}

fn token_file(dir: &std::path::Path) -> String {
    let f = dir.join("token");
    std::fs::write(&f, format!("{TOKEN}\n")).unwrap();
    f.display().to_string()
}

#[tokio::test]
async fn a_trusted_ca_and_the_bearer_token_file_reach_the_api_server() {
    let pki = Pki::new("cluster-ca");
    let api = ApiServer::start_tls(TOKEN, &pki.server(&["127.0.0.1"], false), "127.0.0.1").await;
    api.load("nodes", "nodes.json");
    let cfg = sd_config(&format!(
        "role: node\napi_server: {}\nbearer_token_file: {}\ntls_config:\n  ca_file: {}\n",
        api.url,
        token_file(pki.dir.path()),
        pki.ca_file.display()
    ));
    let groups = first_groups(Discovery::new(&cfg).unwrap()).await;
    assert_eq!(
        sources(&groups),
        ["node/kind-control-plane", "node/kind-worker"]
    );
    let reqs = api.requests();
    assert!(reqs
        .iter()
        .all(|r| r.authorization == format!("Bearer {TOKEN}")));
    assert_eq!(api.refused_handshakes(), 0);
}

#[tokio::test]
async fn an_untrusted_server_is_refused_with_the_tls_reason() {
    let pki = Pki::new("cluster-ca");
    let other = Pki::new("other-ca");
    let api = ApiServer::start_tls(TOKEN, &pki.server(&["127.0.0.1"], false), "127.0.0.1").await;
    let cfg = sd_config(&format!(
        "role: node\napi_server: {}\nauthorization:\n  credentials: {TOKEN}\ntls_config:\n  ca_file: {}\n",
        api.url,
        other.ca_file.display()
    ));
    let d = Discovery::new(&cfg).unwrap();
    let e = d
        .client()
        .get("/api/v1/nodes", &[], false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with(&format!("GET {}/api/v1/nodes: ", api.url)),
        "{e}"
    );
    assert!(e.contains("invalid peer certificate: UnknownIssuer"), "{e}");
    assert!(api.requests().is_empty(), "a request got through");

    // Without verification the same server is accepted.
    let insecure = sd_config(&format!(
        "role: node\napi_server: {}\nauthorization:\n  credentials: {TOKEN}\ntls_config:\n  insecure_skip_verify: true\n",
        api.url
    ));
    api.load("nodes", "nodes.json");
    let groups = first_groups(Discovery::new(&insecure).unwrap()).await;
    assert_eq!(groups.len(), 2);
}

#[tokio::test]
async fn client_certificates_authenticate() {
    let pki = Pki::new("cluster-ca");
    let api = ApiServer::start_tls(TOKEN, &pki.server(&["localhost"], true), "localhost").await;
    api.load("services", "services.json");
    let client = pki.issue("prometheus", &["prometheus"], true);
    let yaml = |with_cert: bool| {
        let mut y = format!(
            "role: service\napi_server: {}\nauthorization:\n  credentials: {TOKEN}\ntls_config:\n  ca_file: {}\n",
            api.url,
            pki.ca_file.display()
        );
        if with_cert {
            y.push_str(&format!(
                "  cert_file: {}\n  key_file: {}\n",
                client.cert_file.display(),
                client.key_file.display()
            ));
        }
        y
    };
    let without = Discovery::new(&sd_config(&yaml(false))).unwrap();
    let e = without
        .client()
        .get("/api/v1/services", &[], false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        api.requests().is_empty(),
        "served without a client certificate: {e}"
    );
    assert!(api.refused_handshakes() >= 1, "{e}");

    let with = Discovery::new(&sd_config(&yaml(true))).unwrap();
    let groups = first_groups(with).await;
    assert_eq!(groups.len(), 3);
}

#[tokio::test]
async fn server_name_is_verified_instead_of_the_address() {
    let pki = Pki::new("cluster-ca");
    let name = "kubernetes.default.svc";
    let api = ApiServer::start_tls(TOKEN, &pki.server(&[name], false), "127.0.0.1").await;
    api.load("nodes", "nodes.json");
    let yaml = |server_name: &str| {
        format!(
            "role: node\napi_server: {}\nauthorization:\n  credentials: {TOKEN}\ntls_config:\n  ca_file: {}\n  server_name: {server_name:?}\n",
            api.url,
            pki.ca_file.display()
        )
    };
    // The certificate does not name 127.0.0.1.
    let e = Discovery::new(&sd_config(&yaml("")))
        .unwrap()
        .client()
        .get("/api/v1/nodes", &[], false)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("invalid peer certificate"), "{e}");
    let groups = first_groups(Discovery::new(&sd_config(&yaml(name))).unwrap()).await;
    assert_eq!(groups.len(), 2);
}

#[tokio::test]
async fn in_cluster_uses_the_service_account_and_its_ca() {
    let pki = Pki::new("cluster-ca");
    let api = ApiServer::start_tls(TOKEN, &pki.server(&["127.0.0.1"], false), "127.0.0.1").await;
    api.load("pods", "pods.json");
    let sa = tempfile::tempdir().unwrap();
    std::fs::write(sa.path().join("token"), TOKEN).unwrap();
    std::fs::write(sa.path().join("ca.crt"), &pki.ca_pem).unwrap();
    std::fs::write(sa.path().join("namespace"), "monitoring\n").unwrap();
    let port = api.url.rsplit(':').next().unwrap().to_string();
    let env = InCluster {
        host: "127.0.0.1".into(),
        port,
        service_account_dir: sa.path().to_path_buf(),
    };
    let cfg = sd_config("role: pod\nnamespaces:\n  own_namespace: true\n");
    let groups = first_groups(Discovery::with_in_cluster(&cfg, &env).unwrap()).await;
    assert_eq!(sources(&groups), ["pod/monitoring/node-exporter-x2j9q"]);
    assert_eq!(api.requests()[0].path, "/api/v1/namespaces/monitoring/pods");
    assert_eq!(api.requests()[0].authorization, format!("Bearer {TOKEN}"));

    // Outside a cluster: Prometheus's error.
    let outside = InCluster {
        host: String::new(),
        ..env.clone()
    };
    let e = Discovery::with_in_cluster(&cfg, &outside).err().unwrap();
    assert_eq!(
        e.to_string(),
        "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"
    );
    // A service account without a token.
    std::fs::remove_file(sa.path().join("token")).unwrap();
    let e = Discovery::with_in_cluster(&cfg, &env).err().unwrap();
    assert!(e.to_string().contains("token"), "{e}");
}

/// Discards samples; counts appends.
#[derive(Default)]
struct Counting(AtomicUsize);

impl Sink for Counting {
    fn append(&self, _: &[SeriesRef<'_>]) -> Result<AppendReport, String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(AppendReport::default())
    }

    fn set_metadata(&self, _: Vec<MetricMetadata>) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_discovery_is_counted_and_leaves_other_jobs_alone() {
    let pki = Pki::new("cluster-ca");
    let other = Pki::new("other-ca");
    let api = ApiServer::start_tls(TOKEN, &pki.server(&["127.0.0.1"], false), "127.0.0.1").await;
    api.load("nodes", "nodes.json");
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(|| async { "# TYPE things gauge\nthings 1\n" }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("prometheus.yml");
    std::fs::write(
        &file,
        format!(
            "scrape_configs:
- job_name: k8s-untrusted
  scrape_interval: 1s
  scrape_timeout: 1s
  kubernetes_sd_configs:
  - role: node
    api_server: {}
    authorization: {{credentials: {TOKEN}}}
    tls_config: {{ca_file: {}}}
- job_name: k8s-missing-kubeconfig
  kubernetes_sd_configs:
  - role: pod
    kubeconfig_file: {}
- job_name: static-neighbour
  scrape_interval: 1s
  scrape_timeout: 1s
  static_configs:
  - targets: ['{target}']
",
            api.url,
            other.ca_file.display(),
            dir.path().join("no-such-kubeconfig").display()
        ),
    )
    .unwrap();
    let failures_before = metrics::value("prometheus_sd_kubernetes_failures_total");
    let failed_before = metrics::value("prometheus_sd_failed_configs{name=\"scrape\"}");
    let sink = Arc::new(Counting::default());
    let manager = ScrapeManager::start(sink.clone(), Some(file)).unwrap();

    let deadline = Instant::now() + PATIENCE;
    let neighbour_up = || {
        manager.pools().iter().any(|p| {
            p.name == "static-neighbour"
                && p.active.iter().any(|t| {
                    t.health().state == tianshu_ingest::scrape::scrape_loop::HealthState::Up
                })
        })
    };
    while !(neighbour_up()
        && metrics::value("prometheus_sd_kubernetes_failures_total") > failures_before
        && metrics::value("prometheus_sd_failed_configs{name=\"scrape\"}") > failed_before)
    {
        assert!(
            Instant::now() < deadline,
            "neighbour up: {}, failures: {}, failed configs: {}",
            neighbour_up(),
            metrics::value("prometheus_sd_kubernetes_failures_total"),
            metrics::value("prometheus_sd_failed_configs{name=\"scrape\"}")
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(sink.0.load(Ordering::SeqCst) > 0);
    let untrusted = manager
        .pools()
        .into_iter()
        .find(|p| p.name == "k8s-untrusted")
        .unwrap();
    assert!(untrusted.active.is_empty());
    assert!(
        api.requests().is_empty(),
        "the untrusted server was sent a request"
    );
    assert!(api.refused_handshakes() >= 1);

    // Stopping the jobs takes the failed configuration off the gauge.
    manager.stop();
    let deadline = Instant::now() + PATIENCE;
    while metrics::value("prometheus_sd_failed_configs{name=\"scrape\"}") > failed_before {
        assert!(Instant::now() < deadline, "failed config still counted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn events(event: &str, role: &str) -> f64 {
    metrics::value(&format!(
        "prometheus_sd_kubernetes_events_total{{event=\"{event}\",role=\"{role}\"}}"
    ))
}

/// Only this test watches endpoints in this binary, so their counts are its own.
#[tokio::test]
async fn kubernetes_events_are_counted_by_kind() {
    let pki = Pki::new("cluster-ca");
    let api = ApiServer::start_tls(TOKEN, &pki.server(&["127.0.0.1"], false), "127.0.0.1").await;
    api.load("endpoints", "endpoints.json");
    let before = (
        events("add", "endpoints"),
        events("update", "endpoints"),
        events("delete", "endpoints"),
    );
    let cfg = sd_config(&format!(
        "role: endpoints\napi_server: {}\nauthorization:\n  credentials: {TOKEN}\ntls_config:\n  ca_file: {}\n",
        api.url,
        pki.ca_file.display()
    ));
    let (tx, mut rx) = mpsc::channel(16);
    let task = tokio::spawn(Discovery::new(&cfg).unwrap().run(tx));
    tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .unwrap()
        .unwrap();
    // The list's two objects are added.
    assert_eq!(events("add", "endpoints"), before.0 + 2.0);

    let mut web = api.get("endpoints", "default", "web");
    web["metadata"]["labels"] = serde_json::json!({"tier": "front"});
    api.apply("endpoints", web);
    api.delete("endpoints", "default", "kubernetes");
    let deadline = Instant::now() + PATIENCE;
    while events("update", "endpoints") < before.1 + 1.0
        || events("delete", "endpoints") < before.2 + 1.0
    {
        assert!(Instant::now() < deadline, "events not counted");
        let _ = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await;
    }
    assert_eq!(events("add", "endpoints"), before.0 + 2.0);

    // A relist after 410 Gone: the object still held is updated, the new one added.
    let (adds, updates) = (events("add", "endpoints"), events("update", "endpoints"));
    api.compact();
    api.close_watches();
    let mut extra = api.get("endpoints", "default", "web");
    extra["metadata"]["name"] = serde_json::json!("web-canary");
    api.apply("endpoints", extra);
    while events("add", "endpoints") < adds + 1.0 {
        assert!(Instant::now() < deadline, "relisted objects not counted");
        let _ = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await;
    }
    assert_eq!(events("add", "endpoints"), adds + 1.0);
    assert_eq!(events("update", "endpoints"), updates + 1.0);
    assert_eq!(events("delete", "endpoints"), before.2 + 1.0);
    task.abort();
}

#[test]
fn own_namespace_without_a_namespace_file_watches_nothing() {
    let pki = Pki::new("cluster-ca");
    let sa = tempfile::tempdir().unwrap();
    std::fs::write(sa.path().join("token"), TOKEN).unwrap();
    std::fs::write(sa.path().join("ca.crt"), &pki.ca_pem).unwrap();
    let env = InCluster {
        host: "127.0.0.1".into(),
        port: "1".into(),
        service_account_dir: sa.path().to_path_buf(),
    };
    let watched = |ns: &str| -> Vec<String> {
        let cfg = sd_config(&format!("role: pod\nnamespaces:\n{ns}"));
        let d = Discovery::with_in_cluster(&cfg, &env).unwrap();
        d.watches().iter().map(|w| w.namespace.clone()).collect()
    };
    // As Prometheus: the own namespace is unknown and none is named.
    assert!(watched("  own_namespace: true\n").is_empty());
    assert_eq!(
        watched("  own_namespace: true\n  names: [apps]\n"),
        ["apps"]
    );
    assert_eq!(watched("  names: []\n"), [""], "every namespace");
    std::fs::write(sa.path().join("namespace"), "monitoring").unwrap();
    assert_eq!(watched("  own_namespace: true\n"), ["monitoring"]);
}
