//! From `kubernetes_sd_configs` settings to an [`ApiClient`], the three ways Prometheus
//! connects:
//!
//! | settings | server | credentials | CA |
//! |---|---|---|---|
//! | `api_server` (+ HTTP options) | `api_server` | `basic_auth`, `authorization` | `tls_config.ca_file`, else system roots |
//! | `kubeconfig_file` | current context's cluster | its user (token, token file, client certificate, basic, exec plugin) | the cluster's CA |
//! | neither (in-cluster) | `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT` | the service-account token file | the service account's `ca.crt` |
//!
//! `authorization` includes the deprecated `bearer_token` and `bearer_token_file`, which
//! the configuration turns into it. A kubeconfig user may instead run an exec plugin
//! (`exec_credential`), whose token and client certificate are used as they come.
//!
//! `tls_config.server_name` (and a kubeconfig cluster's `tls-server-name`) is the name
//! sent in SNI and verified in the server's certificate, as Go's `tls.Config.ServerName`,
//! while connections still go to the server's own address and `Host` still names it: the
//! HTTP library takes both TLS names from the URL, so the URL's host becomes the server
//! name, resolved to the server's addresses when the client is made.
//!
//! The in-cluster environment (the two variables and the service account's directory) is
//! an [`InCluster`] value, read from the process by [`InCluster::from_process`], so that
//! tests can point it elsewhere.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

use super::client::{ApiClient, Auth, Credential};
use super::error::K8sError;
use super::exec_credential::{ExecConfig, ExecPlugin};
use super::kubeconfig;
use crate::scrape::config::{HttpClientConfig, KubernetesSdConfig};

/// Where the service account's token, CA and namespace are mounted in a pod.
pub const SERVICE_ACCOUNT_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS material for the client.
#[derive(Clone, Default)]
struct Tls {
    ca_pem: Vec<u8>,
    /// Certificate then key, PEM.
    identity_pem: Vec<u8>,
    insecure_skip_verify: bool,
    min_version: Option<reqwest::tls::Version>,
    /// The name to verify and send in SNI instead of the URL's host; empty for the host.
    server_name: String,
}

/// Where an in-cluster client finds its API server and service account.
#[derive(Clone, Debug)]
pub struct InCluster {
    /// `KUBERNETES_SERVICE_HOST`, empty when unset.
    pub host: String,
    /// `KUBERNETES_SERVICE_PORT`, empty when unset.
    pub port: String,
    /// Holds `token`, `ca.crt` and `namespace`.
    pub service_account_dir: PathBuf,
}

impl InCluster {
    /// The process's environment and the standard mount point.
    pub fn from_process() -> Self {
        InCluster {
            host: std::env::var("KUBERNETES_SERVICE_HOST").unwrap_or_default(),
            port: std::env::var("KUBERNETES_SERVICE_PORT").unwrap_or_default(),
            service_account_dir: PathBuf::from(SERVICE_ACCOUNT_DIR),
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, K8sError> {
    std::fs::read(path).map_err(|source| K8sError::ReadFile {
        path: path.to_path_buf(),
        source,
    })
}

/// The client for `server` with `tls`, and the base URL to request: `server` itself, or
/// with a server name, `server` with that name as its host (resolved to `server`'s own
/// addresses by the client) and the original authority for the `Host` header.
fn http_client(
    server: &str,
    tls: Tls,
    follow_redirects: bool,
) -> Result<(reqwest::Client, String, Option<String>), K8sError> {
    let tls_err = |e: reqwest::Error| K8sError::Tls(format!("TLS setup: {e}"));
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(CONNECT_TIMEOUT)
        .http1_only()
        .danger_accept_invalid_certs(tls.insecure_skip_verify);
    if !follow_redirects {
        b = b.redirect(reqwest::redirect::Policy::none());
    }
    if !tls.ca_pem.is_empty() {
        // A cluster CA replaces the system roots, as client-go's does.
        b = b.tls_built_in_root_certs(false);
        for cert in reqwest::Certificate::from_pem_bundle(&tls.ca_pem).map_err(tls_err)? {
            b = b.add_root_certificate(cert);
        }
    }
    if !tls.identity_pem.is_empty() {
        b = b.identity(reqwest::Identity::from_pem(&tls.identity_pem).map_err(tls_err)?);
    }
    if let Some(v) = tls.min_version {
        b = b.min_tls_version(v);
    }
    let mut base = server.to_string();
    let mut host_header = None;
    if !tls.server_name.is_empty() {
        let bad = |m: String| K8sError::Config(format!("server {server:?}: {m}"));
        let mut url = reqwest::Url::parse(server).map_err(|e| bad(e.to_string()))?;
        if url.scheme() == "https" {
            let host = url.host_str().unwrap_or_default().to_string();
            let port = url.port_or_known_default().unwrap_or(443);
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            let addrs: Vec<std::net::SocketAddr> =
                std::net::ToSocketAddrs::to_socket_addrs(&(bare, port))
                    .map_err(|e| bad(format!("lookup {host}: {e}")))?
                    .collect();
            host_header = Some(match url.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.clone(),
            });
            b = b.resolve_to_addrs(&tls.server_name, &addrs);
            url.set_host(Some(&tls.server_name))
                .map_err(|e| bad(format!("server_name {:?}: {e}", tls.server_name)))?;
            base = url.as_str().trim_end_matches('/').to_string();
        }
    }
    Ok((b.build().map_err(tls_err)?, base, host_header))
}

fn api_client(
    server: &str,
    tls: Tls,
    follow_redirects: bool,
    auth: Auth,
) -> Result<ApiClient, K8sError> {
    let (http, base, host) = http_client(server, tls, follow_redirects)?;
    Ok(ApiClient::new(&base, http, auth).with_host_header(host))
}

/// The client for `cfg`, and the namespace of the service account when in-cluster (for
/// `own_namespace`).
pub fn client(
    cfg: &KubernetesSdConfig,
    env: &InCluster,
) -> Result<(ApiClient, Option<String>), K8sError> {
    if !cfg.api_server.is_empty() {
        return Ok((api_server(&cfg.api_server, &cfg.http)?, None));
    }
    if !cfg.kubeconfig_file.is_empty() {
        return Ok((from_kubeconfig(Path::new(&cfg.kubeconfig_file))?, None));
    }
    let (host, port) = (env.host.clone(), env.port.clone());
    if host.is_empty() || port.is_empty() {
        return Err(K8sError::Config(
            "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and \
             KUBERNETES_SERVICE_PORT must be defined"
                .into(),
        ));
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    in_cluster(&format!("https://{host}:{port}"), &env.service_account_dir)
}

/// The in-cluster client for `server`, with the service account mounted at `dir`.
pub fn in_cluster(server: &str, dir: &Path) -> Result<(ApiClient, Option<String>), K8sError> {
    let token: PathBuf = dir.join("token");
    // Fail now on a missing token, as client-go does; later reads follow rotations.
    read(&token)?;
    let tls = Tls {
        ca_pem: read(&dir.join("ca.crt"))?,
        ..Tls::default()
    };
    let namespace = std::fs::read_to_string(dir.join("namespace"))
        .ok()
        .map(|s| s.trim().to_string());
    let auth = Auth::Header {
        scheme: "Bearer".into(),
        credential: Credential::File(token),
    };
    Ok((api_client(server, tls, true, auth)?, namespace))
}

fn api_server(server: &str, http: &HttpClientConfig) -> Result<ApiClient, K8sError> {
    let mut tls = Tls::default();
    if let Some(t) = &http.tls_config {
        tls.server_name = t.server_name.clone();
        if !t.ca_file.is_empty() {
            tls.ca_pem = read(Path::new(&t.ca_file))?;
        }
        if !t.cert_file.is_empty() && !t.key_file.is_empty() {
            tls.identity_pem = read(Path::new(&t.cert_file))?;
            tls.identity_pem.push(b'\n');
            tls.identity_pem.extend(read(Path::new(&t.key_file))?);
        }
        tls.insecure_skip_verify = t.insecure_skip_verify;
        tls.min_version = match t.min_version.as_str() {
            "TLS10" => Some(reqwest::tls::Version::TLS_1_0),
            "TLS11" => Some(reqwest::tls::Version::TLS_1_1),
            "TLS12" => Some(reqwest::tls::Version::TLS_1_2),
            "TLS13" => Some(reqwest::tls::Version::TLS_1_3),
            _ => None,
        };
    }
    let cred = |inline: &str, file: &str| {
        if file.is_empty() {
            Credential::Inline(inline.to_string())
        } else {
            Credential::File(PathBuf::from(file))
        }
    };
    let auth = if let Some(b) = &http.basic_auth {
        Auth::Basic {
            username: b.username.clone(),
            password: cred(b.password.expose(), &b.password_file),
        }
    } else if let Some(a) = &http.authorization {
        Auth::Header {
            scheme: a.kind.clone(),
            credential: cred(a.credentials.expose(), &a.credentials_file),
        }
    } else {
        Auth::None
    };
    api_client(server, tls, http.follow_redirects, auth)
}

fn from_kubeconfig(path: &Path) -> Result<ApiClient, K8sError> {
    let k = kubeconfig::load(path)?;
    let mut identity_pem = k.client_cert_pem;
    if !identity_pem.is_empty() {
        identity_pem.push(b'\n');
        identity_pem.extend(k.client_key_pem);
    }
    let tls = Tls {
        ca_pem: k.ca_pem,
        identity_pem,
        insecure_skip_verify: k.insecure_skip_verify,
        min_version: None,
        server_name: k.tls_server_name,
    };
    let auth = if let Some(f) = k.token_file {
        Auth::Header {
            scheme: "Bearer".into(),
            credential: Credential::File(f),
        }
    } else if !k.token.is_empty() {
        Auth::Header {
            scheme: "Bearer".into(),
            credential: Credential::Inline(k.token),
        }
    } else if !k.username.is_empty() {
        Auth::Basic {
            username: k.username,
            password: Credential::Inline(k.password),
        }
    } else if let Some(exec) = k.exec {
        // As client-go, a static token or password set next to the plugin wins.
        Auth::Exec(Arc::new(exec_plugin(exec, &k.server, &tls)))
    } else {
        Auth::None
    };
    api_client(&k.server, tls, true, auth)
}

/// The plugin, with what `provideClusterInfo` passes it and a way to make clients that
/// present the certificates it issues.
fn exec_plugin(exec: ExecConfig, server: &str, tls: &Tls) -> ExecPlugin {
    let mut cluster = serde_json::json!({ "server": server });
    if !tls.ca_pem.is_empty() {
        cluster["certificate-authority-data"] = base64::engine::general_purpose::STANDARD
            .encode(&tls.ca_pem)
            .into();
    }
    if tls.insecure_skip_verify {
        cluster["insecure-skip-tls-verify"] = true.into();
    }
    if !tls.server_name.is_empty() {
        cluster["tls-server-name"] = tls.server_name.clone().into();
    }
    let (server, tls) = (server.to_string(), tls.clone());
    let make_client = move |identity: &[u8]| {
        let with_identity = Tls {
            identity_pem: identity.to_vec(),
            ..tls.clone()
        };
        http_client(&server, with_identity, true).map(|(c, _, _)| c)
    };
    ExecPlugin::new(exec, cluster, Box::new(make_client))
}
