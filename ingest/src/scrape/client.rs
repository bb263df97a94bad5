//! The HTTP side of a scrape: a client per scrape pool built from the job's
//! `HttpClientConfig` (TLS, redirects), and one GET per scrape with the negotiated
//! `Accept` header, the job's authentication and its timeout.
//!
//! Error texts follow Go's `net/http` as Prometheus shows them in `lastError`:
//! `Get "<url>": context deadline exceeded`, `server returned HTTP status 500 ...`.

use std::time::Duration;

use super::config::{HttpClientConfig, TlsConfig};
use super::parse::{accept_header, ScrapeProtocol, DEFAULT_SCRAPE_PROTOCOLS};

/// A pool's client and the per-request settings of its config.
#[derive(Clone)]
pub struct ScrapeClient {
    client: reqwest::Client,
    http: HttpClientConfig,
    accept: String,
}

/// A fetched body and its `Content-Type`.
pub struct Fetched {
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

impl ScrapeClient {
    /// Builds the client; `Err` names the unreadable TLS file, as Prometheus's
    /// "error creating HTTP client" does.
    pub fn new(http: &HttpClientConfig) -> Result<Self, String> {
        let mut b = reqwest::Client::builder()
            .user_agent(concat!("Tianshu/", env!("CARGO_PKG_VERSION")))
            .redirect(if http.follow_redirects {
                reqwest::redirect::Policy::limited(10)
            } else {
                reqwest::redirect::Policy::none()
            })
            .pool_max_idle_per_host(2)
            .tcp_nodelay(true);
        if let Some(tls) = &http.tls_config {
            b = with_tls(b, tls)?;
        }
        let client = b
            .build()
            .map_err(|e| format!("error creating HTTP client: {e}"))?;
        Ok(ScrapeClient {
            client,
            http: http.clone(),
            // Prometheus 2 asks for OpenMetrics first and the text format as fallback;
            // legacy names, so exporters escape UTF-8 names to underscores.
            accept: accept_header(&DEFAULT_SCRAPE_PROTOCOLS, "underscores"),
        })
    }

    /// The protocol to assume when a response has no usable `Content-Type`: the text
    /// format, as Prometheus 2 did.
    pub fn fallback() -> ScrapeProtocol {
        ScrapeProtocol::PrometheusText0_0_4
    }

    /// GETs `url` within `timeout`.
    pub async fn fetch(&self, url: &str, timeout: Duration) -> Result<Fetched, String> {
        let mut req = self
            .client
            .get(url)
            .timeout(timeout)
            .header(reqwest::header::ACCEPT, &self.accept)
            .header(
                "X-Prometheus-Scrape-Timeout-Seconds",
                format!("{}", timeout.as_secs_f64()),
            );
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
        let body = resp.bytes().await.map_err(go_err)?.to_vec();
        Ok(Fetched { body, content_type })
    }
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
    if !tls.server_name.is_empty() {
        tracing::warn!(
            server_name = %tls.server_name,
            "tls_config.server_name is not applied yet; the URL's host is verified"
        );
    }
    Ok(b)
}

/// The error and its causes, `: `-joined like Go's wrapped errors.
fn error_chain(e: &dyn std::error::Error) -> String {
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
