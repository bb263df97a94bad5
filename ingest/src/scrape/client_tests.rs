//! The scrape client against real sockets: a plain HTTP/1.1 server and a TLS server with
//! a freshly generated self-signed certificate, both recording what the client sent
//! (request head, SNI, ALPN offers) so the tests check the wire, not the builder calls.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

use super::client::ScrapeClient;
use super::config::{HttpClientConfig, TlsConfig};
use super::parse::{ScrapeProtocol, DEFAULT_SCRAPE_PROTOCOLS};

const BODY: &str = "# TYPE up_total counter\nup_total 1\n";

/// What the servers saw, one entry per connection or request.
#[derive(Default, Debug)]
struct Seen {
    /// Request heads, lower-cased header names.
    requests: Vec<Vec<(String, String)>>,
    /// (SNI, ALPN protocols offered) per TLS handshake.
    hellos: Vec<(Option<String>, Vec<String>)>,
}

type Shared = Arc<Mutex<Seen>>;

fn lock_seen(s: &Shared) -> std::sync::MutexGuard<'_, Seen> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads one request head and answers it with `BODY`: gzip-compressed when the client
/// accepts gzip.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(s: S, seen: Shared) {
    answer_with(s, seen, BODY.as_bytes()).await
}

async fn answer_with<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, seen: Shared, full: &[u8]) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let headers: Vec<(String, String)> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let gzip = headers
        .iter()
        .any(|(k, v)| k == "accept-encoding" && v.contains("gzip"));
    seen_push(&seen, headers);
    let (body, encoding) = if gzip {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = e.write_all(full);
        (e.finish().unwrap_or_default(), "Content-Encoding: gzip\r\n")
    } else {
        (full.to_vec(), "")
    };
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n{encoding}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = s.write_all(resp.as_bytes()).await;
    let _ = s.write_all(&body).await;
    let _ = s.shutdown().await;
}

fn seen_push(s: &Shared, headers: Vec<(String, String)>) {
    lock_seen(s).requests.push(headers);
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn plain_server() -> (SocketAddr, Shared) {
    plain_server_with(BODY.as_bytes().to_vec()).await
}

async fn plain_server_with(body: Vec<u8>) -> (SocketAddr, Shared) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let seen: Shared = Arc::default();
    let s = seen.clone();
    let body: Arc<[u8]> = body.into();
    tokio::spawn(async move {
        while let Ok((c, _)) = l.accept().await {
            let (s, body) = (s.clone(), body.clone());
            tokio::spawn(async move { answer_with(c, s, &body).await });
        }
    });
    (addr, seen)
}

/// Serves the certificate and records each ClientHello's SNI and ALPN offers.
#[derive(Debug)]
struct Recorder {
    key: Arc<rustls::sign::CertifiedKey>,
    seen: Shared,
}

impl rustls::server::ResolvesServerCert for Recorder {
    fn resolve(
        &self,
        hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        let alpn = hello
            .alpn()
            .map(|a| a.map(|p| String::from_utf8_lossy(p).to_string()).collect())
            .unwrap_or_default();
        lock_seen(&self.seen)
            .hellos
            .push((hello.server_name().map(str::to_string), alpn));
        Some(self.key.clone())
    }
}

/// A TLS server whose certificate names only `name`; returns its address, the CA file
/// (the certificate itself) and what it saw.
async fn tls_server(name: &str, dir: &std::path::Path) -> (SocketAddr, String, Shared) {
    let ck = rcgen::generate_simple_self_signed(vec![name.to_string()]).expect("cert");
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, ck.cert.pem()).expect("write ca");
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let signer = rustls::crypto::ring::sign::any_supported_type(&key_der).expect("key");
    let key = Arc::new(rustls::sign::CertifiedKey::new(
        vec![ck.cert.der().clone()],
        signer,
    ));
    let seen: Shared = Arc::default();
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_cert_resolver(Arc::new(Recorder {
        key,
        seen: seen.clone(),
    }));
    // HTTP/1.1 only, whatever the client offers: the offer itself is what is checked.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((c, _)) = l.accept().await {
            let (acceptor, s) = (acceptor.clone(), s.clone());
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(c).await {
                    answer(tls, s).await;
                }
            });
        }
    });
    (addr, ca.display().to_string(), seen)
}

fn tls_http(ca: &str, server_name: &str, http2: bool) -> HttpClientConfig {
    HttpClientConfig {
        tls_config: Some(TlsConfig {
            ca_file: ca.to_string(),
            server_name: server_name.to_string(),
            ..TlsConfig::default()
        }),
        enable_http2: http2,
        ..HttpClientConfig::default()
    }
}

const TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn gzip_bodies_are_asked_for_and_decompressed() {
    let (addr, seen) = plain_server().await;
    let c =
        ScrapeClient::new(&HttpClientConfig::default(), &DEFAULT_SCRAPE_PROTOCOLS).expect("client");
    let f = c
        .fetch(&format!("http://{addr}/metrics"), TIMEOUT)
        .await
        .expect("fetch");
    assert_eq!(String::from_utf8_lossy(&f.body), BODY);
    let s = lock_seen(&seen);
    assert_eq!(header(&s.requests[0], "accept-encoding"), Some("gzip"));
}

#[tokio::test]
async fn body_size_limit_counts_the_uncompressed_body_as_prometheus_does() {
    // 64 KiB of text that gzip makes a few hundred bytes: a limit between the two sizes
    // must fail, so the limit is on what the body decompresses to.
    let full = "node_load1 0.25\n".repeat(4096);
    let (addr, _) = plain_server_with(full.clone().into_bytes()).await;
    let url = format!("http://{addr}/metrics");
    let client = |limit: i64| {
        ScrapeClient::new(&HttpClientConfig::default(), &DEFAULT_SCRAPE_PROTOCOLS)
            .expect("client")
            .with_body_size_limit(limit)
    };
    let exceeded = || super::metrics::get().exceeded_body_size_limit.get();
    let before = exceeded();
    for limit in [1024, full.len() as i64] {
        match client(limit).fetch(&url, TIMEOUT).await {
            Err(e) => assert_eq!(e, super::client::BODY_SIZE_LIMIT_EXCEEDED, "{limit}"),
            Ok(f) => panic!("limit {limit}: got {} bytes", f.body.len()),
        }
    }
    assert!(exceeded() >= before + 2, "counted in the Prometheus metric");
    for limit in [full.len() as i64 + 1, 0, -1] {
        let f = client(limit)
            .fetch(&url, TIMEOUT)
            .await
            .expect("under the limit");
        assert_eq!(f.body, full.as_bytes(), "{limit}");
    }
}

#[tokio::test]
async fn basic_auth_and_authorization_reach_the_target() {
    use super::config::{Authorization, BasicAuth, Secret};
    let (addr, seen) = plain_server().await;
    let url = format!("http://{addr}/metrics");
    let dir = tempfile::tempdir().expect("tempdir");
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "from-file\n").expect("write token");
    let configs = [
        HttpClientConfig {
            basic_auth: Some(BasicAuth {
                username: "user".into(),
                password: Secret::new("pass"),
                ..BasicAuth::default()
            }),
            ..HttpClientConfig::default()
        },
        HttpClientConfig {
            authorization: Some(Authorization {
                kind: "Bearer".into(),
                credentials: Secret::new("tok"),
                ..Authorization::default()
            }),
            ..HttpClientConfig::default()
        },
        HttpClientConfig {
            authorization: Some(Authorization {
                kind: "Bearer".into(),
                credentials_file: token_file.display().to_string(),
                ..Authorization::default()
            }),
            ..HttpClientConfig::default()
        },
    ];
    for http in &configs {
        let c = ScrapeClient::new(http, &DEFAULT_SCRAPE_PROTOCOLS).expect("client");
        c.fetch(&url, TIMEOUT).await.expect("fetch");
    }
    let s = lock_seen(&seen);
    let auth: Vec<Option<&str>> = s
        .requests
        .iter()
        .map(|r| header(r, "authorization"))
        .collect();
    // base64("user:pass"); a credentials file is read at each scrape, trimmed.
    assert_eq!(
        auth,
        [
            Some("Basic dXNlcjpwYXNz"),
            Some("Bearer tok"),
            Some("Bearer from-file")
        ]
    );
}

#[tokio::test]
async fn accept_header_follows_scrape_protocols() {
    let (addr, seen) = plain_server().await;
    let url = format!("http://{addr}/metrics");
    let c = ScrapeClient::new(
        &HttpClientConfig::default(),
        &[
            ScrapeProtocol::PrometheusText0_0_4,
            ScrapeProtocol::OpenMetricsText1_0_0,
        ],
    )
    .expect("client");
    c.fetch(&url, TIMEOUT).await.expect("fetch");
    let c =
        ScrapeClient::new(&HttpClientConfig::default(), &DEFAULT_SCRAPE_PROTOCOLS).expect("client");
    c.fetch(&url, TIMEOUT).await.expect("fetch");
    let s = lock_seen(&seen);
    assert_eq!(
        header(&s.requests[0], "accept"),
        Some(
            "text/plain;version=0.0.4;q=0.6,\
             application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,*/*;q=0.4"
        )
    );
    assert_eq!(
        header(&s.requests[1], "accept"),
        Some(
            "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.6,\
             application/openmetrics-text;version=0.0.1;q=0.5,\
             text/plain;version=1.0.0;escaping=underscores;q=0.4,\
             text/plain;version=0.0.4;q=0.3,*/*;q=0.2"
        )
    );
}

#[tokio::test]
async fn server_name_is_sent_as_sni_and_verified_against_the_certificate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, ca, seen) = tls_server("scrape.tianshu.test", dir.path()).await;
    let url = format!("https://{addr}/metrics");

    // Without server_name the certificate (for scrape.tianshu.test) does not name the
    // address the URL holds: refused, as Prometheus refuses it.
    let c = ScrapeClient::new(&tls_http(&ca, "", true), &DEFAULT_SCRAPE_PROTOCOLS).expect("client");
    let err = match c.fetch(&url, TIMEOUT).await {
        Ok(_) => panic!("a certificate for another name was accepted"),
        Err(e) => e,
    };
    assert!(err.starts_with(&format!("Get {url:?}: ")), "{err}");
    assert!(err.to_lowercase().contains("certificate"), "{err}");

    // With it: SNI names it, the certificate verifies, and the request still goes to the
    // target's address with the target in Host.
    let c = ScrapeClient::new(
        &tls_http(&ca, "scrape.tianshu.test", true),
        &DEFAULT_SCRAPE_PROTOCOLS,
    )
    .expect("client");
    let f = c.fetch(&url, TIMEOUT).await.expect("fetch");
    assert_eq!(String::from_utf8_lossy(&f.body), BODY);
    // A second scrape reuses the target's client.
    c.fetch(&url, TIMEOUT).await.expect("second fetch");
    let s = lock_seen(&seen);
    let sni: Vec<Option<&str>> = s.hellos.iter().map(|h| h.0.as_deref()).collect();
    assert_eq!(sni[0], None, "no SNI for an IP address");
    assert!(
        sni[1..].iter().all(|n| *n == Some("scrape.tianshu.test")),
        "{sni:?}"
    );
    assert_eq!(s.requests.len(), 2, "{:?}", s.requests);
    for r in &s.requests {
        assert_eq!(header(r, "host"), Some(addr.to_string().as_str()));
    }
}

#[tokio::test]
async fn enable_http2_decides_whether_h2_is_offered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (addr, ca, seen) = tls_server("scrape.tianshu.test", dir.path()).await;
    let url = format!("https://{addr}/metrics");
    for http2 in [true, false] {
        let c = ScrapeClient::new(
            &tls_http(&ca, "scrape.tianshu.test", http2),
            &DEFAULT_SCRAPE_PROTOCOLS,
        )
        .expect("client");
        c.fetch(&url, TIMEOUT).await.expect("fetch");
    }
    let s = lock_seen(&seen);
    let offers: Vec<&Vec<String>> = s.hellos.iter().map(|h| &h.1).collect();
    assert_eq!(offers.len(), 2);
    assert!(offers[0].iter().any(|p| p == "h2"), "{offers:?}");
    assert!(offers[0].iter().any(|p| p == "http/1.1"), "{offers:?}");
    assert!(!offers[1].iter().any(|p| p == "h2"), "{offers:?}");
}
