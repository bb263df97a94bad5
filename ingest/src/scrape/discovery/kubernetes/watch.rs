//! One kind in one namespace: list, then watch from the list's `resourceVersion`, as
//! client-go's reflector does.
//!
//! - The list is sent as [`Change::Replace`]: the engine diffs it against what it holds,
//!   so objects deleted while no watch ran disappear too.
//! - The watch streams newline-delimited events `{"type", "object"}`. `ADDED`/`MODIFIED`/
//!   `DELETED` carry an object; `BOOKMARK` carries only a newer `resourceVersion`, which
//!   the next watch starts from so a quiet kind does not fall behind the server's
//!   history; `ERROR` carries a `Status`.
//! - The server ends each watch after `timeoutSeconds` (randomised between 5 and 10
//!   minutes, as client-go asks, so that watchers do not reconnect together); the
//!   watcher then watches again from the last version seen.
//! - `410 Gone`, as an answer or as an `ERROR` event with code 410 ("too old resource
//!   version"), means the server no longer has that history: list again at once.
//! - Any other failure (connection refused, 5xx, a stalled stream, undecodable data)
//!   waits with exponential backoff, 1 s doubling to 30 s with jitter, then lists again.
//!
//! Every failed list or watch, `410 Gone` included, counts in
//! `prometheus_sd_kubernetes_failures_total`, as client-go's watch error handler counts
//! them in Prometheus. Watch events count in `prometheus_sd_kubernetes_events_total` by
//! object kind here; a list's objects are counted by the store, which knows which it
//! already held.

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::client::ApiClient;
use super::error::K8sError;
use super::objects::{Kind, List, Object};
use super::store::Change;
use crate::scrape::metrics;

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// A stream silent for this much past the watch's own timeout is dead.
const STALL_MARGIN: Duration = Duration::from_secs(60);

/// What is watched and how.
#[derive(Clone, Debug)]
pub struct WatchSpec {
    pub kind: Kind,
    /// Empty for all namespaces (and for nodes).
    pub namespace: String,
    pub label_selector: String,
    pub field_selector: String,
    /// Bounds of the server-side watch timeout, in seconds.
    pub timeout_secs: (u64, u64),
}

impl WatchSpec {
    pub fn new(kind: Kind, namespace: &str, label: &str, field: &str) -> Self {
        WatchSpec {
            kind,
            namespace: namespace.to_string(),
            label_selector: label.to_string(),
            field_selector: field.to_string(),
            timeout_secs: (300, 600),
        }
    }

    fn selectors(&self) -> Vec<(&'static str, String)> {
        let mut q = Vec::new();
        if !self.label_selector.is_empty() {
            q.push(("labelSelector", self.label_selector.clone()));
        }
        if !self.field_selector.is_empty() {
            q.push(("fieldSelector", self.field_selector.clone()));
        }
        q
    }
}

/// A watch event as the API server streams it.
#[derive(serde::Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    object: serde_json::Value,
}

/// Why a watch ended.
enum End {
    /// The server closed the stream (its timeout): watch again from `rv`.
    Closed,
    /// The receiver is gone: stop.
    Stopped,
}

/// A small xorshift for backoff and timeout jitter: no need for a crate here.
struct Jitter(u64);

impl Jitter {
    fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        Jitter(seed | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in `[lo, hi]`.
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// Runs until `out` is closed.
pub async fn run(client: ApiClient, spec: WatchSpec, out: mpsc::Sender<Change>) {
    let mut jitter = Jitter::new();
    let mut backoff = BACKOFF_MIN;
    let m = metrics::get();
    loop {
        let rv = match list(&client, &spec).await {
            Ok((rv, objects)) => {
                let replace = Change::Replace {
                    kind: spec.kind,
                    namespace: spec.namespace.clone(),
                    objects,
                };
                if out.send(replace).await.is_err() {
                    return;
                }
                rv
            }
            Err(e) => {
                m.k8s_failures.inc();
                tracing::warn!(kind = spec.kind.as_str(), namespace = %spec.namespace, error = %e, "Kubernetes SD: list failed");
                wait(&mut backoff, &mut jitter).await;
                continue;
            }
        };
        let mut rv = rv;
        loop {
            match watch(&client, &spec, &mut rv, &mut jitter, &out).await {
                Ok(End::Stopped) => return,
                Ok(End::Closed) => {
                    backoff = BACKOFF_MIN;
                    continue;
                }
                Err(K8sError::Gone(msg)) => {
                    m.k8s_failures.inc();
                    tracing::info!(kind = spec.kind.as_str(), namespace = %spec.namespace, message = %msg, "Kubernetes SD: watch expired, listing again");
                    break;
                }
                Err(e) => {
                    m.k8s_failures.inc();
                    tracing::warn!(kind = spec.kind.as_str(), namespace = %spec.namespace, error = %e, "Kubernetes SD: watch failed");
                    wait(&mut backoff, &mut jitter).await;
                    break;
                }
            }
        }
    }
}

/// Sleeps for `backoff` with up to 50% jitter, then doubles it up to the maximum.
async fn wait(backoff: &mut Duration, jitter: &mut Jitter) {
    let ms = backoff.as_millis() as u64;
    let d = Duration::from_millis(jitter.between(ms / 2, ms + ms / 2));
    tokio::time::sleep(d).await;
    *backoff = (*backoff * 2).min(BACKOFF_MAX);
}

async fn list(client: &ApiClient, spec: &WatchSpec) -> Result<(String, Vec<Object>), K8sError> {
    let path = spec.kind.path(&spec.namespace);
    let resp = client.get(&path, &spec.selectors(), false).await?;
    let url = format!("{}{path}", client.base());
    let body = resp.bytes().await.map_err(|source| K8sError::Http {
        url: url.clone(),
        source,
    })?;
    let list: List = serde_json::from_slice(&body).map_err(|source| K8sError::Decode {
        url: url.clone(),
        source,
    })?;
    let objects = list
        .items
        .into_iter()
        .map(|v| Object::from_value(spec.kind, v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| K8sError::Decode { url, source })?;
    Ok((list.metadata.resource_version, objects))
}

/// One watch from `rv`, which follows the events. Returns how it ended.
async fn watch(
    client: &ApiClient,
    spec: &WatchSpec,
    rv: &mut String,
    jitter: &mut Jitter,
    out: &mpsc::Sender<Change>,
) -> Result<End, K8sError> {
    let path = spec.kind.path(&spec.namespace);
    let url = format!("{}{path}", client.base());
    let timeout = jitter.between(spec.timeout_secs.0, spec.timeout_secs.1);
    let mut query = spec.selectors();
    query.push(("watch", "1".into()));
    query.push(("resourceVersion", rv.clone()));
    query.push(("allowWatchBookmarks", "true".into()));
    query.push(("timeoutSeconds", timeout.to_string()));
    let mut resp = client.get(&path, &query, true).await?;
    let deadline = Instant::now() + Duration::from_secs(timeout) + STALL_MARGIN;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = match tokio::time::timeout(left, resp.chunk()).await {
            Err(_) => return Err(K8sError::Stalled(url)),
            Ok(r) => r.map_err(|source| K8sError::Http {
                url: url.clone(),
                source,
            })?,
        };
        let Some(chunk) = chunk else {
            return Ok(End::Closed);
        };
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if handle(spec.kind, &line, rv, out, &url).await? {
                return Ok(End::Stopped);
            }
        }
    }
}

/// Applies one event line; `Ok(true)` when the receiver is gone.
async fn handle(
    kind: Kind,
    line: &[u8],
    rv: &mut String,
    out: &mpsc::Sender<Change>,
    url: &str,
) -> Result<bool, K8sError> {
    let decode = |source| K8sError::Decode {
        url: url.to_string(),
        source,
    };
    let ev: Event = serde_json::from_slice(line).map_err(decode)?;
    let (deleted, object) = match ev.kind.as_str() {
        "ERROR" => {
            let status: super::objects::Status =
                serde_json::from_value(ev.object).map_err(decode)?;
            if status.code == 410 {
                return Err(K8sError::Gone(status.message));
            }
            return Err(K8sError::Status {
                url: url.to_string(),
                status: status.code,
                message: status.message,
            });
        }
        "BOOKMARK" => {
            let meta: super::objects::ObjectMeta = ev
                .object
                .get("metadata")
                .cloned()
                .map(serde_json::from_value)
                .transpose()
                .map_err(decode)?
                .unwrap_or_default();
            if !meta.resource_version.is_empty() {
                *rv = meta.resource_version;
            }
            return Ok(false);
        }
        "ADDED" | "MODIFIED" => (false, Object::from_value(kind, ev.object).map_err(decode)?),
        "DELETED" => (true, Object::from_value(kind, ev.object).map_err(decode)?),
        other => {
            tracing::debug!(event = other, "Kubernetes SD: unknown watch event ignored");
            return Ok(false);
        }
    };
    if !object.meta().resource_version.is_empty() {
        *rv = object.meta().resource_version.clone();
    }
    let event = match (deleted, ev.kind.as_str()) {
        (true, _) => "delete",
        (false, "ADDED") => "add",
        _ => "update",
    };
    metrics::get().k8s_event(kind.as_str(), event);
    let change = if deleted {
        Change::Deleted(object)
    } else {
        Change::Upsert(object)
    };
    Ok(out.send(change).await.is_err())
}
