//! A kubeconfig user's `exec` credential plugin, run as client-go runs it.
//!
//! The exchange (`client.authentication.k8s.io/v1` or `v1beta1`):
//!
//! | direction | what |
//! |---|---|
//! | in | `command` with `args`, the process environment plus `env`, stdin closed, and `KUBERNETES_EXEC_INFO` = `{"apiVersion", "kind": "ExecCredential", "spec": {"interactive": false[, "cluster": {...}]}}` (`cluster` with `provideClusterInfo`) |
//! | out | stdout `{"apiVersion", "kind": "ExecCredential", "status": {"token", "clientCertificateData", "clientKeyData", "expirationTimestamp"}}`; a non-zero exit is a failure |
//!
//! The returned `apiVersion` must be the configured one. `status` holds a token, a client
//! certificate and key (PEM), or both. The credential is kept until its
//! `expirationTimestamp` (RFC 3339; none means until refused) and the plugin runs again
//! when it has passed or when the API server answers `401` to it. One plugin run at a
//! time: watchers asking together share its result.
//!
//! A relative `command` with a path separator is relative to the kubeconfig's directory;
//! a bare name is looked up in `PATH`. Tianshu never has a terminal, so
//! `interactiveMode: Always` cannot be honoured and is refused.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer};

use super::error::K8sError;

pub const V1: &str = "client.authentication.k8s.io/v1";
pub const V1BETA1: &str = "client.authentication.k8s.io/v1beta1";

/// How long a plugin may run before it is given up on.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de> + Default>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// `users[].user.exec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecConfig {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub command: String,
    #[serde(default, deserialize_with = "nullable")]
    pub args: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub env: Vec<ExecEnv>,
    #[serde(default)]
    pub install_hint: String,
    #[serde(default)]
    pub provide_cluster_info: bool,
    #[serde(default)]
    pub interactive_mode: String,
}

/// One `env` entry of a plugin.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub struct ExecEnv {
    pub name: String,
    #[serde(default)]
    pub value: String,
}

impl ExecConfig {
    /// Checks the settings and resolves a relative command against `dir`.
    pub(super) fn resolve(mut self, dir: &Path) -> Result<Self, String> {
        if self.api_version != V1 && self.api_version != V1BETA1 {
            return Err(format!(
                "exec plugin: invalid apiVersion {:?} (supported: {V1}, {V1BETA1})",
                self.api_version
            ));
        }
        if self.command.is_empty() {
            return Err("exec plugin: command is empty".into());
        }
        if self.interactive_mode == "Always" {
            return Err(
                "exec plugin: interactiveMode Always needs a terminal, which a server has not"
                    .into(),
            );
        }
        if self.command.contains('/') && Path::new(&self.command).is_relative() {
            self.command = dir.join(&self.command).display().to_string();
        }
        Ok(self)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecCredential {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    status: Option<Status>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(default)]
    token: String,
    #[serde(default)]
    client_certificate_data: String,
    #[serde(default)]
    client_key_data: String,
    #[serde(default)]
    expiration_timestamp: Option<String>,
}

/// What a plugin run gave, ready for requests.
#[derive(Clone, Debug)]
pub struct Issued {
    /// Empty when the plugin gave only a client certificate.
    pub token: String,
    /// A client presenting the plugin's certificate, when it gave one.
    pub client: Option<reqwest::Client>,
    expiry: Option<SystemTime>,
}

/// Makes an HTTP client presenting a certificate and key (PEM, certificate first).
pub type ClientFactory = Box<dyn Fn(&[u8]) -> Result<reqwest::Client, K8sError> + Send + Sync>;

/// A plugin and its current credential.
pub struct ExecPlugin {
    cfg: ExecConfig,
    /// `KUBERNETES_EXEC_INFO`, fixed for the plugin's life.
    exec_info: String,
    make_client: ClientFactory,
    /// Invariant: holds a credential that has not expired, or one whose expiry the next
    /// [`ExecPlugin::get`] notices; `None` before the first run and after a refusal.
    cache: tokio::sync::Mutex<Option<Issued>>,
}

impl std::fmt::Debug for ExecPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecPlugin")
            .field("command", &self.cfg.command)
            .finish_non_exhaustive()
    }
}

impl ExecPlugin {
    /// `cluster` is what `provideClusterInfo` hands the plugin.
    pub fn new(cfg: ExecConfig, cluster: serde_json::Value, make_client: ClientFactory) -> Self {
        let mut spec = serde_json::json!({"interactive": false});
        if cfg.provide_cluster_info {
            spec["cluster"] = cluster;
        }
        let exec_info = serde_json::json!({
            "apiVersion": cfg.api_version,
            "kind": "ExecCredential",
            "spec": spec,
        })
        .to_string();
        ExecPlugin {
            cfg,
            exec_info,
            make_client,
            cache: tokio::sync::Mutex::new(None),
        }
    }

    /// The current credential, running the plugin if there is none or it has expired.
    pub async fn get(&self) -> Result<Issued, K8sError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref() {
            if c.expiry.is_none_or(|e| SystemTime::now() < e) {
                return Ok(c.clone());
            }
        }
        let fresh = self.run().await?;
        *cache = Some(fresh.clone());
        Ok(fresh)
    }

    /// The API server refused `used`: forget it, unless another request already got a
    /// newer one.
    pub async fn refused(&self, used: &Issued) {
        let mut cache = self.cache.lock().await;
        if cache
            .as_ref()
            .is_some_and(|c| c.token == used.token && c.expiry == used.expiry)
        {
            *cache = None;
        }
    }

    async fn run(&self) -> Result<Issued, K8sError> {
        let cmd = self.cfg.command.clone();
        let mut command = std::process::Command::new(&cmd);
        command
            .args(&self.cfg.args)
            .envs(self.cfg.env.iter().map(|e| (&e.name, &e.value)))
            .env("KUBERNETES_EXEC_INFO", &self.exec_info)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let run = tokio::task::spawn_blocking(move || command.output());
        let output = match tokio::time::timeout(RUN_TIMEOUT, run).await {
            Err(_) => return Err(exec_err(format!("exec: executable {cmd} timed out"))),
            Ok(Err(e)) => return Err(exec_err(format!("exec: executable {cmd}: {e}"))),
            Ok(Ok(Err(e))) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut m = format!("exec: executable {cmd} not found");
                if !self.cfg.install_hint.is_empty() {
                    m.push_str("\n\n");
                    m.push_str(&self.cfg.install_hint);
                }
                return Err(exec_err(m));
            }
            Ok(Ok(Err(e))) => return Err(exec_err(format!("exec: executable {cmd}: {e}"))),
            Ok(Ok(Ok(o))) => o,
        };
        if !output.status.success() {
            let code = output
                .status
                .code()
                .map_or_else(|| "a signal".to_string(), |c| format!("exit code {c}"));
            let stderr = String::from_utf8_lossy(&output.stderr);
            let mut m = format!("exec: executable {cmd} failed with {code}");
            if !stderr.trim().is_empty() {
                m.push_str(": ");
                m.push_str(stderr.trim());
            }
            return Err(exec_err(m));
        }
        tracing::debug!(command = %cmd, "Kubernetes SD: exec plugin issued a credential");
        self.decode(&output.stdout)
    }

    fn decode(&self, stdout: &[u8]) -> Result<Issued, K8sError> {
        let cred: ExecCredential = serde_json::from_slice(stdout)
            .map_err(|e| exec_err(format!("decoding stdout: {e}")))?;
        if cred.kind != "ExecCredential" {
            return Err(exec_err(format!(
                "decoding stdout: kind {:?}, want \"ExecCredential\"",
                cred.kind
            )));
        }
        if cred.api_version != self.cfg.api_version {
            return Err(exec_err(format!(
                "exec plugin is configured to use API version {}, plugin returned version {}",
                self.cfg.api_version, cred.api_version
            )));
        }
        let status = cred
            .status
            .ok_or_else(|| exec_err("exec plugin didn't return a status field".into()))?;
        let (cert, key) = (status.client_certificate_data, status.client_key_data);
        if cert.is_empty() != key.is_empty() {
            return Err(exec_err(
                "exec plugin returned only certificate or key, not both".into(),
            ));
        }
        if status.token.is_empty() && cert.is_empty() {
            return Err(exec_err(
                "exec plugin didn't return a token or cert/key pair".into(),
            ));
        }
        let expiry =
            match status.expiration_timestamp.as_deref() {
                None | Some("") => None,
                Some(t) => Some(parse_rfc3339(t).ok_or_else(|| {
                    exec_err(format!("decoding stdout: expirationTimestamp {t:?}"))
                })?),
            };
        let client = if cert.is_empty() {
            None
        } else {
            let mut pem = cert.into_bytes();
            pem.push(b'\n');
            pem.extend(key.into_bytes());
            Some((self.make_client)(&pem)?)
        };
        Ok(Issued {
            token: status.token,
            client,
            expiry,
        })
    }
}

fn exec_err(m: String) -> K8sError {
    K8sError::Exec(m)
}

/// An RFC 3339 time (`2024-05-01T10:00:00Z`, `...00.5+02:00`) as a system time.
fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let t = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    let secs = u64::try_from(t.timestamp()).ok()?;
    Some(UNIX_EPOCH + Duration::new(secs, t.timestamp_subsec_nanos()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times() {
        let t = |s| {
            parse_rfc3339(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis())
        };
        assert_eq!(t("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(t("2024-02-29T12:30:15Z"), Some(1_709_209_815_000));
        assert_eq!(t("2024-02-29T14:30:15.25+02:00"), Some(1_709_209_815_250));
        assert_eq!(t("2024-02-29 12:30:15-00:30"), Some(1_709_211_615_000));
        assert_eq!(t("2024-13-01T00:00:00Z"), None);
        assert_eq!(t("yesterday"), None);
    }

    fn plugin(api_version: &str) -> ExecPlugin {
        let cfg = ExecConfig {
            api_version: api_version.into(),
            command: "true".into(),
            ..ExecConfig::default()
        };
        ExecPlugin::new(
            cfg,
            serde_json::Value::Null,
            Box::new(|_| Err(K8sError::Tls("no client certificates here".into()))),
        )
    }

    #[test]
    fn credentials_are_checked() {
        let p = plugin(V1);
        let ok = p
            .decode(br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"t","expirationTimestamp":"2030-01-01T00:00:00Z"}}"#)
            .unwrap();
        assert_eq!(ok.token, "t");
        assert!(ok.expiry.is_some() && ok.client.is_none());
        let err = |json: &str| p.decode(json.as_bytes()).unwrap_err().to_string();
        assert_eq!(
            err(r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"t"}}"#),
            "exec plugin is configured to use API version client.authentication.k8s.io/v1, plugin returned version client.authentication.k8s.io/v1beta1"
        );
        assert!(
            err(r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential"}"#)
                .contains("didn't return a status")
        );
        assert!(err(r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{}}"#)
            .contains("didn't return a token or cert/key pair"));
        assert!(err(r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientKeyData":"k"}}"#)
            .contains("only certificate or key"));
        assert!(err("token").contains("decoding stdout"));
    }
}
