//! An in-process emulation of the Kubernetes API server's list+watch protocol, for
//! discovery tests (no API server binary runs here).
//!
//! It serves `GET` on `/api/v1/{pods,nodes,services,endpoints}`,
//! `/apis/discovery.k8s.io/v1/endpointslices` and their `namespaces/<ns>/` forms:
//!
//! - A list answers `{"kind": "<Kind>List", "metadata": {"resourceVersion"}, "items"}`
//!   filtered by `labelSelector` (`k=v`, `k==v`, `k!=v`, `k`, `!k`) and `fieldSelector`
//!   (`a.b=v`, `a.b!=v` on the object's JSON).
//! - `watch=1` streams newline-delimited events `{"type", "object"}` after the given
//!   `resourceVersion`, then waits for more until `timeoutSeconds` passes. `BOOKMARK`
//!   events go only to watches with `allowWatchBookmarks=true`.
//! - A version older than the last [`ApiServer::compact`] gets `410 Gone`: as an `ERROR`
//!   event with a `Status` (what the watch cache does), or as the HTTP answer itself.
//! - Requests without `Authorization: Bearer <token>` get `401` with a `Status`.
//! - [`ApiServer::start_tls`] serves the same over HTTPS with a certificate from a test
//!   CA (`tls`), optionally requiring client certificates from it.
//!
//! Every request is recorded for assertions.

#![allow(dead_code)]

pub mod tls;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub authorization: String,
}

impl Request {
    pub fn is_watch(&self) -> bool {
        self.query
            .get("watch")
            .is_some_and(|w| w == "1" || w == "true")
    }
}

struct Event {
    rv: u64,
    /// Resource plural, or empty for bookmarks (sent to every watch).
    resource: String,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct Inner {
    rv: u64,
    token: String,
    /// `(resource, namespace, name)` → object with its current `resourceVersion`.
    objects: BTreeMap<(String, String, String), Value>,
    events: Vec<Event>,
    /// Watches from a version older than this get 410.
    compacted: u64,
    /// Bumped to end every open watch.
    generation: u64,
    gone_as_http_status: bool,
    requests: Vec<Request>,
    /// The newest version whose events every open watch has been handed.
    delivered: u64,
}

#[derive(Clone)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    /// Bumped on every change, to wake watches.
    changed: Arc<watch::Sender<u64>>,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self) {
        self.changed.send_modify(|n| *n += 1);
    }
}

pub struct ApiServer {
    pub url: String,
    shared: Shared,
    task: tokio::task::JoinHandle<()>,
    /// Refused TLS handshakes (always 0 over plain HTTP).
    refused: Arc<std::sync::atomic::AtomicUsize>,
}

/// A listener the emulator serves on, plain or TLS.
pub trait Listener: axum::serve::Listener<Addr = std::net::SocketAddr> {
    fn refused(&self) -> Arc<std::sync::atomic::AtomicUsize>;
}

impl Listener for tokio::net::TcpListener {
    fn refused(&self) -> Arc<std::sync::atomic::AtomicUsize> {
        Arc::default()
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn kind_of(resource: &str) -> (&'static str, &'static str) {
    match resource {
        "pods" => ("Pod", "v1"),
        "nodes" => ("Node", "v1"),
        "services" => ("Service", "v1"),
        "endpoints" => ("Endpoints", "v1"),
        "endpointslices" => ("EndpointSlice", "discovery.k8s.io/v1"),
        _ => ("", ""),
    }
}

fn meta_str(o: &Value, field: &str) -> String {
    o["metadata"][field]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

impl ApiServer {
    /// Starts on a free local port, accepting `token`.
    pub async fn start(token: &str) -> ApiServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        Self::serve(token, url, listener)
    }

    /// Starts over HTTPS with `tls`, on a free local port, accepting `token`; the URL
    /// names the server `host` (which must resolve to 127.0.0.1).
    pub async fn start_tls(token: &str, tls: &tls::ServerTls, host: &str) -> ApiServer {
        let listener = tls::TlsListener::bind(tls).await;
        let url = format!("https://{host}:{}", listener.port());
        Self::serve(token, url, listener)
    }

    /// TLS handshakes the HTTPS server refused (a client that did not trust it, or that
    /// it did not trust).
    pub fn refused_handshakes(&self) -> usize {
        self.refused.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn serve<L: Listener>(token: &str, url: String, listener: L) -> ApiServer {
        let refused = listener.refused();
        let (tx, _) = watch::channel(0u64);
        let shared = Shared {
            inner: Arc::new(Mutex::new(Inner {
                rv: 1000,
                token: token.to_string(),
                ..Inner::default()
            })),
            changed: Arc::new(tx),
        };
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ApiServer {
            url,
            shared,
            task,
            refused,
        }
    }

    /// Adds every item of a `kubectl get -o json` list file under `resource`.
    pub fn load(&self, resource: &str, fixture: &str) {
        let path = format!(
            "{}/tests/fixtures/k8s/{fixture}",
            env!("CARGO_MANIFEST_DIR")
        );
        let list: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for item in list["items"].as_array().unwrap() {
            self.apply(resource, item.clone());
        }
    }

    /// Creates or replaces an object: an `ADDED` or `MODIFIED` event.
    pub fn apply(&self, resource: &str, mut object: Value) {
        {
            let mut s = self.shared.lock();
            s.rv += 1;
            let rv = s.rv;
            object["metadata"]["resourceVersion"] = json!(rv.to_string());
            let key = (
                resource.to_string(),
                meta_str(&object, "namespace"),
                meta_str(&object, "name"),
            );
            let kind = if s.objects.contains_key(&key) {
                "MODIFIED"
            } else {
                "ADDED"
            };
            s.objects.insert(key, object.clone());
            s.events.push(Event {
                rv,
                resource: resource.to_string(),
                kind,
                object,
            });
        }
        self.shared.wake();
    }

    /// The stored object, for editing and re-applying.
    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Value {
        let s = self.shared.lock();
        s.objects
            .get(&(resource.into(), namespace.into(), name.into()))
            .cloned()
            .unwrap_or_else(|| panic!("no {resource} {namespace}/{name}"))
    }

    /// Deletes an object: a `DELETED` event with its last state.
    pub fn delete(&self, resource: &str, namespace: &str, name: &str) {
        {
            let mut s = self.shared.lock();
            let Some(mut object) =
                s.objects
                    .remove(&(resource.into(), namespace.into(), name.into()))
            else {
                panic!("no {resource} {namespace}/{name}");
            };
            s.rv += 1;
            let rv = s.rv;
            object["metadata"]["resourceVersion"] = json!(rv.to_string());
            s.events.push(Event {
                rv,
                resource: resource.to_string(),
                kind: "DELETED",
                object,
            });
        }
        self.shared.wake();
    }

    /// Sends a `BOOKMARK` at a new version to watches that allow them.
    pub fn bookmark(&self) -> u64 {
        let rv = {
            let mut s = self.shared.lock();
            s.rv += 1;
            let rv = s.rv;
            s.events.push(Event {
                rv,
                resource: String::new(),
                kind: "BOOKMARK",
                object: Value::Null,
            });
            rv
        };
        self.shared.wake();
        rv
    }

    /// Forgets the history: watches from any version up to now get 410 Gone.
    pub fn compact(&self) {
        let mut s = self.shared.lock();
        s.compacted = s.rv + 1;
        s.events.clear();
    }

    /// Answers expired versions with an HTTP 410 instead of an `ERROR` event.
    pub fn gone_as_http_status(&self, yes: bool) {
        self.shared.lock().gone_as_http_status = yes;
    }

    /// Ends every open watch stream, as an API server restart would.
    pub fn close_watches(&self) {
        self.shared.lock().generation += 1;
        self.shared.wake();
    }

    /// Waits until open watches were handed every event up to `rv`: once a watch is
    /// closed after this, its client still reads them before the end of the stream.
    pub async fn wait_delivered(&self, rv: u64) {
        for _ in 0..3000 {
            if self.shared.lock().delivered >= rv {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("version {rv} never delivered");
    }

    pub fn set_token(&self, token: &str) {
        self.shared.lock().token = token.to_string();
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.lock().requests.clone()
    }

    pub fn resource_version(&self) -> u64 {
        self.shared.lock().rv
    }
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code.as_u16(),
    });
    (
        code,
        [("content-type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `(resource, namespace)` of a collection path, if it is one.
fn parse_path(path: &str) -> Option<(String, String)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group_ok, rest): (bool, &[&str]) = match parts.as_slice() {
        ["api", "v1", rest @ ..] => (true, rest),
        ["apis", "discovery.k8s.io", "v1", rest @ ..] => (true, rest),
        _ => (false, &[]),
    };
    if !group_ok {
        return None;
    }
    let (ns, resource) = match rest {
        [r] => (String::new(), r.to_string()),
        ["namespaces", ns, r] => (ns.to_string(), r.to_string()),
        _ => return None,
    };
    let discovery = parts[0] == "apis";
    if (resource == "endpointslices") != discovery || kind_of(&resource).0.is_empty() {
        return None;
    }
    if resource == "nodes" && !ns.is_empty() {
        return None;
    }
    Some((resource, ns))
}

/// Label and field selectors as the API server reads them.
struct Selector {
    labels: Vec<(String, Op, String)>,
    fields: Vec<(String, Op, String)>,
}

#[derive(PartialEq)]
enum Op {
    Eq,
    Ne,
    Exists,
    NotExists,
}

fn parse_terms(s: &str, allow_exists: bool) -> Vec<(String, Op, String)> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            if let Some((k, v)) = t.split_once("!=") {
                (k.trim().into(), Op::Ne, v.trim().into())
            } else if let Some((k, v)) = t.split_once("==") {
                (k.trim().into(), Op::Eq, v.trim().into())
            } else if let Some((k, v)) = t.split_once('=') {
                (k.trim().into(), Op::Eq, v.trim().into())
            } else if allow_exists && t.starts_with('!') {
                (t[1..].trim().into(), Op::NotExists, String::new())
            } else {
                (t.into(), Op::Exists, String::new())
            }
        })
        .collect()
}

impl Selector {
    fn new(q: &BTreeMap<String, String>) -> Selector {
        Selector {
            labels: parse_terms(q.get("labelSelector").map_or("", String::as_str), true),
            fields: parse_terms(q.get("fieldSelector").map_or("", String::as_str), false),
        }
    }

    fn matches(&self, o: &Value) -> bool {
        let labels = &o["metadata"]["labels"];
        let label_ok = self.labels.iter().all(|(k, op, v)| {
            let got = labels.get(k).and_then(Value::as_str);
            match op {
                Op::Eq => got == Some(v.as_str()),
                Op::Ne => got != Some(v.as_str()),
                Op::Exists => got.is_some(),
                Op::NotExists => got.is_none(),
            }
        });
        let field_ok = self.fields.iter().all(|(path, op, v)| {
            let mut cur = o;
            for p in path.split('.') {
                cur = &cur[p];
            }
            let got = cur.as_str().unwrap_or_default();
            match op {
                Op::Ne => got != v,
                _ => got == v,
            }
        });
        label_ok && field_ok
    }
}

async fn handle(
    State(shared): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let token_ok = {
        let mut s = shared.lock();
        s.requests.push(Request {
            path: uri.path().to_string(),
            query: q.clone(),
            authorization: authorization.clone(),
        });
        authorization == format!("Bearer {}", s.token)
    };
    if !token_ok {
        return status(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized");
    }
    let Some((resource, ns)) = parse_path(uri.path()) else {
        return status(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        );
    };
    let sel = Selector::new(&q);
    let in_scope = move |o: &Value| ns.is_empty() || meta_str(o, "namespace") == ns;
    let watching = q.get("watch").is_some_and(|w| w == "1" || w == "true");
    let (kind, api_version) = kind_of(&resource);
    if !watching {
        let s = shared.lock();
        let items: Vec<Value> = s
            .objects
            .iter()
            .filter(|((r, _, _), o)| *r == resource && in_scope(o) && sel.matches(o))
            .map(|(_, o)| {
                // List items carry no kind and apiVersion, as the API server sends them.
                let mut o = o.clone();
                if let Some(m) = o.as_object_mut() {
                    m.remove("kind");
                    m.remove("apiVersion");
                }
                o
            })
            .collect();
        let body = json!({
            "kind": format!("{kind}List"),
            "apiVersion": api_version,
            "metadata": {"resourceVersion": s.rv.to_string()},
            "items": items,
        });
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            body.to_string(),
        )
            .into_response();
    }

    let from: u64 = q
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bookmarks = q.get("allowWatchBookmarks").is_some_and(|v| v == "true");
    let timeout = q
        .get("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1800u64);
    let (compacted, gone_as_status, generation) = {
        let s = shared.lock();
        (s.compacted, s.gone_as_http_status, s.generation)
    };
    if from < compacted {
        let msg = format!("too old resource version: {from} ({compacted})");
        if gone_as_status {
            return status(StatusCode::GONE, "Expired", &msg);
        }
        let ev = json!({"type": "ERROR", "object": {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": msg, "reason": "Expired", "code": 410,
        }});
        return (
            StatusCode::OK,
            [("content-type", "application/json")],
            format!("{ev}\n"),
        )
            .into_response();
    }

    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let mut changed = shared.changed.subscribe();
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
        let mut cursor = from;
        loop {
            let lines: Vec<Bytes> = {
                let s = shared.lock();
                if s.generation != generation {
                    return;
                }
                let lines = s
                    .events
                    .iter()
                    .filter(|e| e.rv > cursor)
                    .filter_map(|e| {
                        if e.kind == "BOOKMARK" {
                            return bookmarks.then(|| {
                                json!({"type": "BOOKMARK", "object": {
                                    "kind": kind, "apiVersion": api_version,
                                    "metadata": {"resourceVersion": e.rv.to_string()},
                                }})
                            });
                        }
                        (e.resource == resource && in_scope(&e.object) && sel.matches(&e.object))
                            .then(|| json!({"type": e.kind, "object": e.object}))
                    })
                    .map(|ev| Bytes::from(format!("{ev}\n")))
                    .collect();
                cursor = s.rv;
                lines
            };
            for line in lines {
                if tx.send(line).await.is_err() {
                    return;
                }
            }
            {
                let mut s = shared.lock();
                s.delivered = s.delivered.max(cursor);
            }
            tokio::select! {
                r = changed.changed() => if r.is_err() { return },
                _ = tokio::time::sleep_until(deadline) => return,
            }
        }
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(Lines(rx)))
        .unwrap()
}

/// The watch body: lines as they are produced.
struct Lines(mpsc::Receiver<Bytes>);

impl futures_core::Stream for Lines {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|o| o.map(Ok))
    }
}
