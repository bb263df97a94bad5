//! `kubeconfig_file`: the current context's cluster and user of a kubeconfig, as
//! `kubectl` reads them. Relative paths in the file are relative to its directory.
//! A user's `exec` plugin is read here and run by `exec_credential`; the older
//! `auth-provider` plugins (removed from client-go) are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use super::error::K8sError;
use super::exec_credential::ExecConfig;

#[derive(Deserialize)]
struct File {
    #[serde(default, rename = "current-context")]
    current_context: String,
    #[serde(default)]
    clusters: Vec<Named<Cluster>>,
    #[serde(default)]
    contexts: Vec<Named<Context>>,
    #[serde(default)]
    users: Vec<Named<User>>,
}

#[derive(Deserialize)]
struct Named<T> {
    name: String,
    #[serde(alias = "cluster", alias = "context", alias = "user")]
    value: T,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
struct Cluster {
    server: String,
    certificate_authority: String,
    certificate_authority_data: String,
    insecure_skip_tls_verify: bool,
    tls_server_name: String,
}

#[derive(Default, Deserialize)]
#[serde(default)]
struct Context {
    cluster: String,
    user: String,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "kebab-case", default)]
struct User {
    token: String,
    #[serde(rename = "tokenFile")]
    token_file: String,
    client_certificate: String,
    client_certificate_data: String,
    client_key: String,
    client_key_data: String,
    username: String,
    password: String,
    exec: Option<ExecConfig>,
    auth_provider: Option<serde_yaml_ng::Value>,
}

/// What a kubeconfig's current context says to connect with.
#[derive(Debug, Default, PartialEq)]
pub struct Kubeconfig {
    pub server: String,
    /// PEM of the cluster's CA, empty for the system's roots.
    pub ca_pem: Vec<u8>,
    pub insecure_skip_verify: bool,
    pub tls_server_name: String,
    /// PEM of the client certificate and key, both or neither.
    pub client_cert_pem: Vec<u8>,
    pub client_key_pem: Vec<u8>,
    pub token: String,
    /// Read at each request, like the in-cluster token.
    pub token_file: Option<PathBuf>,
    pub username: String,
    pub password: String,
    /// The user's credential plugin, its relative command resolved against the file's
    /// directory as client-go does.
    pub exec: Option<ExecConfig>,
}

/// Reads `path`: the current context, its cluster and its user.
pub fn load(path: &Path) -> Result<Kubeconfig, K8sError> {
    let text = std::fs::read(path).map_err(|source| K8sError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    let file: File = serde_yaml_ng::from_slice(&text).map_err(|source| K8sError::Kubeconfig {
        path: path.to_path_buf(),
        source,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    resolve(file, dir)
}

fn by_name<T>(items: Vec<Named<T>>) -> BTreeMap<String, T> {
    items.into_iter().map(|n| (n.name, n.value)).collect()
}

fn resolve(file: File, dir: &Path) -> Result<Kubeconfig, K8sError> {
    let bad = |m: String| K8sError::Config(format!("invalid kubeconfig: {m}"));
    if file.current_context.is_empty() {
        return Err(bad("no current-context is set".into()));
    }
    let mut contexts = by_name(file.contexts);
    let ctx = contexts
        .remove(&file.current_context)
        .ok_or_else(|| bad(format!("context {:?} not found", file.current_context)))?;
    let cluster = by_name(file.clusters)
        .remove(&ctx.cluster)
        .ok_or_else(|| bad(format!("cluster {:?} not found", ctx.cluster)))?;
    let user = if ctx.user.is_empty() {
        User::default()
    } else {
        by_name(file.users)
            .remove(&ctx.user)
            .ok_or_else(|| bad(format!("user {:?} not found", ctx.user)))?
    };
    if user.auth_provider.is_some() {
        return Err(bad(format!(
            "user {:?} uses an auth-provider plugin, which is not supported: use an exec plugin",
            ctx.user
        )));
    }
    let exec = match user.exec {
        Some(e) => Some(
            e.resolve(dir)
                .map_err(|m| bad(format!("user {:?}: {m}", ctx.user)))?,
        ),
        None => None,
    };
    if cluster.server.is_empty() {
        return Err(bad(format!("cluster {:?} has no server", ctx.cluster)));
    }
    let data_or_file = |data: &str, file: &str, what: &str| -> Result<Vec<u8>, K8sError> {
        if !data.is_empty() {
            return base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|e| bad(format!("{what}: {e}")));
        }
        if file.is_empty() {
            return Ok(Vec::new());
        }
        let p = dir.join(file);
        std::fs::read(&p).map_err(|source| K8sError::ReadFile { path: p, source })
    };
    let cfg = Kubeconfig {
        server: cluster.server,
        ca_pem: data_or_file(
            &cluster.certificate_authority_data,
            &cluster.certificate_authority,
            "certificate-authority-data",
        )?,
        insecure_skip_verify: cluster.insecure_skip_tls_verify,
        tls_server_name: cluster.tls_server_name,
        client_cert_pem: data_or_file(
            &user.client_certificate_data,
            &user.client_certificate,
            "client-certificate-data",
        )?,
        client_key_pem: data_or_file(&user.client_key_data, &user.client_key, "client-key-data")?,
        token: user.token,
        token_file: (!user.token_file.is_empty()).then(|| dir.join(&user.token_file)),
        username: user.username,
        password: user.password,
        exec,
    };
    if cfg.client_cert_pem.is_empty() != cfg.client_key_pem.is_empty() {
        return Err(bad(format!(
            "user {:?} needs both a client certificate and a client key",
            ctx.user
        )));
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Kubeconfig, K8sError> {
        resolve(
            serde_yaml_ng::from_str(yaml).unwrap(),
            Path::new("/etc/kube"),
        )
    }

    const BASE: &str = r#"
apiVersion: v1
kind: Config
current-context: prod
clusters:
- name: prod-cluster
  cluster:
    server: https://10.0.0.1:6443
    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==
- name: dev-cluster
  cluster:
    server: https://dev:6443
contexts:
- name: prod
  context:
    cluster: prod-cluster
    user: robot
    namespace: monitoring
users:
- name: robot
  user:
    tokenFile: token
"#;

    #[test]
    fn current_context_picks_cluster_and_user() {
        let k = parse(BASE).unwrap();
        assert_eq!(k.server, "https://10.0.0.1:6443");
        assert_eq!(k.ca_pem, b"-----BEGIN CERTIFICATE-----\n");
        assert_eq!(k.token_file, Some(PathBuf::from("/etc/kube/token")));
        assert!(k.client_cert_pem.is_empty());
    }

    #[test]
    fn reads_exec_plugins_and_refuses_missing_names() {
        let exec = BASE.replace(
            "    tokenFile: token",
            "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: ./bin/get-token\n      args: [--cluster, prod]\n      env: [{name: REGION, value: eu}]\n      interactiveMode: Never",
        );
        let k = parse(&exec).unwrap();
        let e = k.exec.unwrap();
        assert_eq!(e.command, "/etc/kube/./bin/get-token");
        assert_eq!(e.args, ["--cluster", "prod"]);
        assert_eq!(e.env[0].name, "REGION");
        // A bare command name is looked up in PATH, as client-go does.
        let bare = exec.replace("./bin/get-token", "aws");
        assert_eq!(parse(&bare).unwrap().exec.unwrap().command, "aws");
        let old = exec.replace(
            "client.authentication.k8s.io/v1",
            "client.authentication.k8s.io/v1alpha1",
        );
        let e = parse(&old).unwrap_err().to_string();
        assert!(e.contains("v1alpha1"), "{e}");
        let provider = BASE.replace("    tokenFile: token", "    auth-provider: {name: gcp}");
        let e = parse(&provider).unwrap_err().to_string();
        assert!(e.contains("auth-provider"), "{e}");
        let e = parse(&BASE.replace("current-context: prod", "current-context: nope"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "invalid kubeconfig: context \"nope\" not found");
    }
}
