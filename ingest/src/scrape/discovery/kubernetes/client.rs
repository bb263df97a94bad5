//! The API server client: GETs under a base URL with the configured credentials.
//!
//! Credentials held in files (the service-account token, `credentials_file`,
//! `password_file`) are read again for every request: the kubelet rotates the projected
//! service-account token in place, and lists and watches are started rarely enough (once
//! per watch timeout, minutes) that a read each time costs nothing and a rotated token
//! is picked up at the next request.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::error::K8sError;
use super::exec_credential::{ExecPlugin, Issued};

/// A credential given inline or as a file read at each use.
#[derive(Clone, Debug)]
pub enum Credential {
    Inline(String),
    File(PathBuf),
}

impl Credential {
    fn read(&self) -> Result<String, K8sError> {
        match self {
            Credential::Inline(s) => Ok(s.clone()),
            Credential::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim().to_string())
                .map_err(|source| K8sError::ReadFile {
                    path: path.clone(),
                    source,
                }),
        }
    }
}

/// How requests authenticate.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    /// `Authorization: <scheme> <credential>`, `Bearer` for tokens.
    Header {
        scheme: String,
        credential: Credential,
    },
    Basic {
        username: String,
        password: Credential,
    },
    /// A kubeconfig exec plugin's token (as `Bearer`) and client certificate.
    Exec(Arc<ExecPlugin>),
}

/// A client of one API server.
#[derive(Clone, Debug)]
pub struct ApiClient {
    /// `scheme://host[:port][/prefix]`, without a trailing slash.
    base: String,
    http: reqwest::Client,
    auth: Auth,
    /// The `Host` header when `base` names the TLS server name rather than the server.
    host_header: Option<String>,
}

/// How long a list may take before it is abandoned and retried.
const LIST_TIMEOUT: Duration = Duration::from_secs(60);

impl ApiClient {
    pub fn new(base: &str, http: reqwest::Client, auth: Auth) -> Self {
        ApiClient {
            base: base.trim_end_matches('/').to_string(),
            http,
            auth,
            host_header: None,
        }
    }

    /// Sends `Host: host` instead of the base URL's authority.
    pub fn with_host_header(mut self, host: Option<String>) -> Self {
        self.host_header = host;
        self
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// Sends `GET base+path?query`; a non-2xx answer becomes [`K8sError::Status`]
    /// (or [`K8sError::Gone`] for 410) with the `Status` object's message. `watch`
    /// requests get no overall timeout: they stream until the server ends them.
    ///
    /// With an exec plugin, a `401` makes the plugin run again and the request is sent
    /// once more with the new credential, as client-go refreshes on `401`.
    pub async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        watch: bool,
    ) -> Result<reqwest::Response, K8sError> {
        let Auth::Exec(plugin) = &self.auth else {
            return self.send(path, query, watch, None).await;
        };
        let issued = plugin.get().await?;
        match self.send(path, query, watch, Some(&issued)).await {
            Err(K8sError::Status { status: 401, .. }) => {
                plugin.refused(&issued).await;
                let issued = plugin.get().await?;
                self.send(path, query, watch, Some(&issued)).await
            }
            r => r,
        }
    }

    async fn send(
        &self,
        path: &str,
        query: &[(&str, String)],
        watch: bool,
        issued: Option<&Issued>,
    ) -> Result<reqwest::Response, K8sError> {
        let url = format!("{}{}", self.base, path);
        let http = issued.and_then(|i| i.client.as_ref()).unwrap_or(&self.http);
        let mut req = http
            .get(&url)
            .query(query)
            .header(reqwest::header::ACCEPT, "application/json");
        if !watch {
            req = req.timeout(LIST_TIMEOUT);
        }
        if let Some(host) = &self.host_header {
            req = req.header(reqwest::header::HOST, host);
        }
        req = match &self.auth {
            Auth::None => req,
            Auth::Header { scheme, credential } => req.header(
                reqwest::header::AUTHORIZATION,
                format!("{scheme} {}", credential.read()?),
            ),
            Auth::Basic { username, password } => req.basic_auth(username, Some(password.read()?)),
            Auth::Exec(_) => match issued {
                Some(i) if !i.token.is_empty() => req.header(
                    reqwest::header::AUTHORIZATION,
                    format!("Bearer {}", i.token),
                ),
                _ => req,
            },
        };
        let resp = req.send().await.map_err(|source| K8sError::Http {
            url: url.clone(),
            source,
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        let message = serde_json::from_slice::<super::objects::Status>(&body)
            .map(|s| s.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).trim().to_string());
        if status.as_u16() == 410 {
            return Err(K8sError::Gone(message));
        }
        Err(K8sError::Status {
            url,
            status: status.as_u16(),
            message,
        })
    }
}
