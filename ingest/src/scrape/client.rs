//! The HTTP side of a scrape: a client per scrape pool built from the job's
//! `HttpClientConfig` (TLS, redirects, HTTP/2) and `scrape_protocols`, and one GET per
//! scrape with the negotiated `Accept` header, `Accept-Encoding: gzip` (bodies are
//! decompressed as they arrive), the job's authentication and its timeout.
//!
//! `tls_config.server_name` sets both the name sent in SNI and the name the server's
//! certificate is verified against, as Go's `tls.Config.ServerName` does, while the
//! connection still goes to the target's address and the `Host` header still names it.
//! The HTTP library takes both TLS names from the URL, so for such a target the URL's
//! host becomes the server name and the name is resolved to the target's own addresses
//! (looked up once, when the target's first scrape builds its client).
//!
//! `enable_http2` (default on, as Prometheus's) offers HTTP/2 in TLS ALPN; plain-text
//! targets are always scraped over HTTP/1.1, as Go's client does.
//!
//! Error texts follow Go's `net/http` as Prometheus shows them in `lastError`:
//! `Get "<url>": context deadline exceeded`, `server returned HTTP status 500 ...`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::config::{HttpClientConfig, TlsConfig};
use super::parse::{accept_header, ScrapeProtocol};

/// A pool's client and the per-request settings of its config.
#[derive(Clone)]
pub struct ScrapeClient {
    client: reqwest::Client,
    http: HttpClientConfig,
    accept: String,
    /// With `tls_config.server_name`: per target authority (`host:port`), a client that
    /// resolves the server name to that target's addresses. Empty otherwise.
    by_authority: Arc<Mutex<HashMap<String, reqwest::Client>>>,
    /// `body_size_limit` in bytes; 0 or less: none.
    body_size_limit: i64,
}

/// Prometheus's error for a body at or over `body_size_limit`.
pub const BODY_SIZE_LIMIT_EXCEEDED: &str = "body size limit exceeded";

/// A fetched body and its `Content-Type`.
pub struct Fetched {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

fn builder(http: &HttpClientConfig) -> Result<reqwest::ClientBuilder, String> {
    let mut b = reqwest::Client::builder()
        .user_agent(concat!("Tianshu/", env!("CARGO_PKG_VERSION")))
        .redirect(if http.follow_redirects {
            reqwest::redirect::Policy::limited(10)
        } else {
            reqwest::redirect::Policy::none()
        })
        .gzip(true)
        .pool_max_idle_per_host(2)
        .tcp_nodelay(true);
    if !http.enable_http2 {
        b = b.http1_only();
    }
    if let Some(tls) = &http.tls_config {
        b = with_tls(b, tls)?;
    }
    Ok(b)
}

fn build(b: reqwest::ClientBuilder) -> Result<reqwest::Client, String> {
    b.build()
        .map_err(|e| format!("error creating HTTP client: {e}"))
}

impl ScrapeClient {
    /// Builds the client asking for `protocols` (best first); `Err` names the unreadable
    /// TLS file, as Prometheus's "error creating HTTP client" does.
    pub fn new(http: &HttpClientConfig, protocols: &[ScrapeProtocol]) -> Result<Self, String> {
        Ok(ScrapeClient {
            client: build(builder(http)?)?,
            http: http.clone(),
            // Legacy names, so exporters escape UTF-8 names to underscores.
            accept: accept_header(protocols, "underscores"),
            by_authority: Arc::default(),
            body_size_limit: 0,
        })
    }

    /// Fails scrapes whose uncompressed body has `limit` bytes or more, as Prometheus's
    /// `body_size_limit` does (it reads at most the limit and fails when it got that
    /// many); 0 or less: no limit.
    pub fn with_body_size_limit(mut self, limit: i64) -> Self {
        self.body_size_limit = limit;
        self
    }

    /// The protocol to assume when a response has no usable `Content-Type`: the text
    /// format, as Prometheus 2 did.
    pub fn fallback() -> ScrapeProtocol {
        ScrapeProtocol::PrometheusText0_0_4
    }

    /// The `Accept` header this client sends.
    pub fn accept(&self) -> &str {
        &self.accept
    }

    fn server_name(&self) -> Option<&str> {
        self.http
            .tls_config
            .as_ref()
            .map(|t| t.server_name.as_str())
            .filter(|n| !n.is_empty())
    }

    /// The client and URL for `url`: with a server name and `https`, the URL's host is
    /// replaced by the server name, resolved to the target's addresses, and the original
    /// authority is returned for the `Host` header.
    async fn route(&self, url: &str) -> Result<(reqwest::Client, String, Option<String>), String> {
        let Some(name) = self.server_name() else {
            return Ok((self.client.clone(), url.to_string(), None));
        };
        let mut parsed = reqwest::Url::parse(url).map_err(|e| format!("Get {url:?}: {e}"))?;
        if parsed.scheme() != "https" {
            return Ok((self.client.clone(), url.to_string(), None));
        }
        let host = parsed.host_str().unwrap_or("").to_string();
        let port = parsed.port_or_known_default().unwrap_or(443);
        let authority = match parsed.port() {
            Some(p) => format!("{}:{p}", host_for_authority(&host)),
            None => host_for_authority(&host),
        };
        let cached = lock(&self.by_authority).get(&authority).cloned();
        let client = match cached {
            Some(c) => c,
            None => {
                let lookup = (host.trim_start_matches('[').trim_end_matches(']'), port);
                let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host(lookup)
                    .await
                    .map_err(|e| format!("Get {url:?}: dial tcp: lookup {host}: {e}"))?
                    .collect();
                let c = build(builder(&self.http)?.resolve_to_addrs(name, &addrs))?;
                lock(&self.by_authority).insert(authority.clone(), c.clone());
                c
            }
        };
        parsed
            .set_host(Some(name))
            .map_err(|e| format!("Get {url:?}: server_name {name:?}: {e}"))?;
        Ok((client, parsed.to_string(), Some(authority)))
    }

    /// GETs `url` within `timeout`.
    pub async fn fetch(&self, url: &str, timeout: Duration) -> Result<Fetched, String> {
        let (client, target_url, host) = self.route(url).await?;
        let mut req = client
            .get(&target_url)
            .timeout(timeout)
            .header(reqwest::header::ACCEPT, &self.accept)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", timeout.as_secs_f64()),
            );
        if let Some(host) = host {
            req = req.header(reqwest::header::HOST, host);
        }
        if let Some(basic) = &self.http.basic_auth {
            let password = if basic.password_file.is_empty() {
                basic.password.expose().to_string()
            } else {
                read_secret(&basic.password_file)?
            };
            req = req.basic_auth(&basic.username, Some(password));
        }
        if let Some(auth) = &self.http.authorization {
            let creds = if auth.credentials_file.is_empty() {
                auth.credentials.expose().to_string()
            } else {
                read_secret(&auth.credentials_file)?
            };
            req = req.header(
                reqwest::header::AUTHORIZATION,
                format!("{} {creds}", auth.kind),
            );
        }
        // Errors name the target's own URL, not the rewritten one.
        let go_err = |e: reqwest::Error| {
            if e.is_timeout() {
                format!("Get {url:?}: context deadline exceeded")
            } else {
                format!("Get {url:?}: {}", error_chain(&e))
            }
        };
        let resp = req.send().await.map_err(go_err)?;
        let status = resp.status();
        if status != reqwest::StatusCode::OK {
            return Err(format!(
                "server returned HTTP status {} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or("")
            ));
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = if self.body_size_limit > 0 {
            let limit = usize::try_from(self.body_size_limit).unwrap_or(usize::MAX);
            read_capped(resp, limit).await.map_err(|e| match e {
                Capped::Over => {
                    super::metrics::get().exceeded_body_size_limit.inc();
                    BODY_SIZE_LIMIT_EXCEEDED.to_string()
                }
                Capped::Read(e) => go_err(e),
            })?
        } else {
            resp.bytes().await.map_err(go_err)?.to_vec()
        };
        Ok(Fetched { body, content_type })
    }
}

enum Capped {
    /// The body reached the limit.
    Over,
    Read(reqwest::Error),
}

/// The (decompressed) body, read chunk by chunk and given up as soon as it reaches
/// `limit` bytes, so that an oversized body is never held whole.
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> Result<Vec<u8>, Capped> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(Capped::Read)? {
        if body.len() + chunk.len() >= limit {
            return Err(Capped::Over);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// An IPv6 host goes in brackets in an authority.
fn host_for_authority(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The map holds whole clients only; a panic elsewhere cannot leave it half-written.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn read_secret(path: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("unable to read {path}: {e}"))
}

fn with_tls(
    mut b: reqwest::ClientBuilder,
    tls: &TlsConfig,
) -> Result<reqwest::ClientBuilder, String> {
    let read = |what: &str, path: &str| {
        std::fs::read(path).map_err(|e| format!("unable to load specified {what} ({path}): {e}"))
    };
    if !tls.ca_file.is_empty() {
        let pem = read("CA cert", &tls.ca_file)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("unable to use specified CA cert {}: {e}", tls.ca_file))?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if !tls.cert_file.is_empty() {
        let mut pem = read("client cert", &tls.cert_file)?;
        pem.push(b'\n');
        pem.extend(read("client key", &tls.key_file)?);
        let id = reqwest::Identity::from_pem(&pem)
            .map_err(|e| format!("unable to use specified client cert: {e}"))?;
        b = b.identity(id);
    }
    if tls.insecure_skip_verify {
        b = b.danger_accept_invalid_certs(true);
    }
    match tls.min_version.as_str() {
        "TLS13" => b = b.min_tls_version(reqwest::tls::Version::TLS_1_3),
        "TLS12" => b = b.min_tls_version(reqwest::tls::Version::TLS_1_2),
        _ => {}
    }
    Ok(b)
}

/// The error and its causes, `: `-joined like Go's wrapped errors (a scrape's error in
/// `/api/v1/targets`, a discovery request's in the logs).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = s.source();
    }
    out
}
