//! Kubeconfig exec credential plugins against the emulated API server: a small shell
//! script stands in for `aws eks get-token` and the like. It records each run's
//! arguments and `KUBERNETES_EXEC_INFO`, and prints the `ExecCredential` the test wrote
//! for it (or fails when told to). The kubeconfig runs it as `sh <script>`: a script
//! written and executed at once can fail with "text file busy" while another test's
//! thread forks.

mod k8s_api;

use std::path::PathBuf;
use std::time::Duration;

use k8s_api::tls::Pki;
use k8s_api::ApiServer;
use serde_json::{json, Value};
use tianshu_ingest::scrape::config::KubernetesSdConfig;
use tianshu_ingest::scrape::discovery::kubernetes::Discovery;
use tianshu_ingest::scrape::discovery::TargetGroup;
use tokio::sync::mpsc;

/// A bound on how long an expected event may take to arrive; only reached on failure.
const PATIENCE: Duration = Duration::from_secs(30);

const PLUGIN: &str = r#"#!/bin/sh
echo "$*" >> "$PLUGIN_DIR/runs"
printf '%s' "$KUBERNETES_EXEC_INFO" > "$PLUGIN_DIR/exec_info"
if [ -f "$PLUGIN_DIR/fail" ]; then
  echo "token service unreachable" >&2
  exit 3
fi
cat "$PLUGIN_DIR/credential.json"
"#;

/// A kubeconfig whose user runs the plugin, in its own directory.
struct Setup {
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
}

impl Setup {
    /// `cluster` is the kubeconfig's cluster block (YAML, indented by four).
    fn new(api_version: &str, cluster: &str, extra_exec: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("bin")).unwrap();
        let plugin = dir.path().join("bin/get-token");
        std::fs::write(&plugin, PLUGIN).unwrap();
        let kubeconfig = dir.path().join("kubeconfig.yml");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1
kind: Config
current-context: emulated
clusters:
- name: emulated
  cluster:
{cluster}
contexts:
- name: emulated
  context: {{cluster: emulated, user: robot}}
users:
- name: robot
  user:
    exec:
      apiVersion: {api_version}
      command: sh
      args: [{}, --cluster, emulated]
      env:
      - name: PLUGIN_DIR
        value: {}
      interactiveMode: Never
{extra_exec}",
                plugin.display(),
                dir.path().display()
            ),
        )
        .unwrap();
        Setup { dir, kubeconfig }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Makes the plugin print this `status`.
    fn credential(&self, api_version: &str, status: Value) {
        let c = json!({"apiVersion": api_version, "kind": "ExecCredential", "status": status});
        std::fs::write(self.path("credential.json"), c.to_string()).unwrap();
    }

    fn runs(&self) -> Vec<String> {
        std::fs::read_to_string(self.path("runs"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn exec_info(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.path("exec_info")).unwrap()).unwrap()
    }

    fn discovery(&self, role: &str) -> Discovery {
        let cfg: KubernetesSdConfig = serde_yaml_ng::from_str(&format!(
            "role: {role}\nkubeconfig_file: {}\n",
            self.kubeconfig.display()
        ))
        .unwrap();
        Discovery::new(&cfg).unwrap()
    }
}

fn plain_cluster(api: &ApiServer) -> String {
    format!("    server: {}", api.url)
}

/// A running discovery and the latest group per source.
struct Run {
    rx: mpsc::Receiver<Vec<TargetGroup>>,
    task: tokio::task::JoinHandle<()>,
    state: std::collections::BTreeMap<String, TargetGroup>,
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
            state: Default::default(),
        }
    }

    async fn until(&mut self, what: &str, done: impl Fn(&Run) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while !done(self) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Ok(Some(groups)) = tokio::time::timeout(left, self.rx.recv()).await else {
                panic!("{what}: not reached; groups: {:#?}", self.state);
            };
            for g in groups {
                self.state.insert(g.source.clone(), g);
            }
        }
    }
}

async fn wait_for(what: &str, f: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn watching_with(api: &ApiServer, token: &str) -> bool {
    api.requests()
        .iter()
        .any(|r| r.is_watch() && r.authorization == format!("Bearer {token}"))
}

#[tokio::test]
async fn the_token_is_cached_and_the_plugin_runs_again_after_a_401() {
    let api = ApiServer::start("token-1").await;
    api.load("nodes", "nodes.json");
    let s = Setup::new("client.authentication.k8s.io/v1", &plain_cluster(&api), "");
    s.credential(
        "client.authentication.k8s.io/v1",
        json!({"token": "token-1"}),
    );
    let mut run = Run::start(s.discovery("node"));
    run.until("nodes listed", |r| r.state.len() == 2).await;
    wait_for("watch with the plugin's token", || {
        watching_with(&api, "token-1")
    })
    .await;
    // A list and a watch, one run: the credential has no expiry.
    assert_eq!(s.runs(), ["--cluster emulated"]);
    let info = s.exec_info();
    assert_eq!(info["apiVersion"], "client.authentication.k8s.io/v1");
    assert_eq!(info["kind"], "ExecCredential");
    assert_eq!(info["spec"]["interactive"], false);
    assert!(info["spec"].get("cluster").is_none(), "{info}");

    // The token is revoked: the next watch is refused, the plugin runs again and its new
    // token is used.
    s.credential(
        "client.authentication.k8s.io/v1",
        json!({"token": "token-2"}),
    );
    api.set_token("token-2");
    api.close_watches();
    wait_for("watch with the new token", || {
        watching_with(&api, "token-2")
    })
    .await;
    assert_eq!(s.runs().len(), 2);
    api.delete("nodes", "", "kind-worker");
    run.until("deletion followed", |r| {
        r.state["node/kind-worker"].targets.is_empty()
    })
    .await;
}

#[tokio::test]
async fn an_expired_credential_is_not_reused() {
    let api = ApiServer::start("token-1").await;
    api.load("nodes", "nodes.json");
    let s = Setup::new("client.authentication.k8s.io/v1", &plain_cluster(&api), "");
    s.credential(
        "client.authentication.k8s.io/v1",
        json!({"token": "token-1", "expirationTimestamp": "2001-01-01T00:00:00Z"}),
    );
    let mut run = Run::start(s.discovery("node"));
    run.until("nodes listed", |r| r.state.len() == 2).await;
    wait_for("watch", || watching_with(&api, "token-1")).await;
    assert!(s.runs().len() >= 2, "runs: {:?}", s.runs());

    // One that expires far ahead is kept.
    let api = ApiServer::start("token-1").await;
    api.load("nodes", "nodes.json");
    let s = Setup::new("client.authentication.k8s.io/v1", &plain_cluster(&api), "");
    s.credential(
        "client.authentication.k8s.io/v1",
        json!({"token": "token-1", "expirationTimestamp": "2999-01-01T00:00:00Z"}),
    );
    let mut run = Run::start(s.discovery("node"));
    run.until("nodes listed", |r| r.state.len() == 2).await;
    wait_for("watch", || watching_with(&api, "token-1")).await;
    assert_eq!(s.runs().len(), 1);
}

#[tokio::test]
async fn v1beta1_plugins_can_issue_client_certificates() {
    let pki = Pki::new("cluster-ca");
    let api = ApiServer::start_tls("token-1", &pki.server(&["127.0.0.1"], true), "127.0.0.1").await;
    api.load("services", "services.json");
    let cluster = format!(
        "    server: {}\n    certificate-authority: {}",
        api.url,
        pki.ca_file.display()
    );
    let v1beta1 = "client.authentication.k8s.io/v1beta1";
    let s = Setup::new(v1beta1, &cluster, "      provideClusterInfo: true\n");
    let client = pki.issue("robot", &["robot"], true);
    s.credential(
        v1beta1,
        json!({
            "token": "token-1",
            "clientCertificateData": client.cert_pem,
            "clientKeyData": client.key_pem,
        }),
    );
    let mut run = Run::start(s.discovery("service"));
    run.until("services listed", |r| r.state.len() == 3).await;
    assert_eq!(api.refused_handshakes(), 0);
    let info = s.exec_info();
    assert_eq!(info["apiVersion"], v1beta1);
    assert_eq!(info["spec"]["cluster"]["server"], api.url.as_str());
    assert!(info["spec"]["cluster"]["certificate-authority-data"].is_string());
}

#[tokio::test]
async fn plugin_failures_are_errors_of_the_request() {
    let api = ApiServer::start("token-1").await;
    let s = Setup::new("client.authentication.k8s.io/v1", &plain_cluster(&api), "");
    std::fs::write(s.path("fail"), "").unwrap();
    let d = s.discovery("node");
    let e = d
        .client()
        .get("/api/v1/nodes", &[], false)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        "exec: executable sh failed with exit code 3: token service unreachable"
    );
    assert!(api.requests().is_empty());

    // A credential of another version than configured is refused.
    std::fs::remove_file(s.path("fail")).unwrap();
    s.credential(
        "client.authentication.k8s.io/v1beta1",
        json!({"token": "token-1"}),
    );
    let e = d
        .client()
        .get("/api/v1/nodes", &[], false)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("plugin returned version client.authentication.k8s.io/v1beta1"),
        "{e}"
    );
}
