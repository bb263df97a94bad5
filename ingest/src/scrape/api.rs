//! The scrape side of Prometheus's HTTP API, answered from the running [`ScrapeManager`]:
//! `/api/v1/targets`, `/api/v1/targets/metadata`, `/api/v1/scrape_pools`,
//! `/api/v1/status/config` and the lifecycle endpoint `/-/reload`.
//!
//! It is a middleware rather than a router because the query API already answers these
//! paths with empty data for a server that does not scrape: layered over the merged
//! routers, it answers its paths and passes everything else through.

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::manager::ScrapeManager;
use super::matchers::{parse_selector, Matcher};

/// What the endpoints read.
#[derive(Clone)]
pub struct ScrapeApi {
    pub manager: ScrapeManager,
    /// Whether `/-/reload` works (`--web.enable-lifecycle`), as in Prometheus.
    pub enable_lifecycle: bool,
    /// Host name replacing a loopback host in `globalUrl`.
    pub hostname: String,
}

impl ScrapeApi {
    pub fn new(manager: ScrapeManager, enable_lifecycle: bool) -> Self {
        let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "localhost".to_string());
        ScrapeApi {
            manager,
            enable_lifecycle,
            hostname,
        }
    }
}

/// Middleware: answers the scrape endpoints, passes other requests on.
pub async fn serve(State(api): State<ScrapeApi>, req: Request, next: Next) -> Response {
    let get = req.method() == Method::GET;
    let query = || {
        Query::<HashMap<String, String>>::try_from_uri(req.uri())
            .map(|q| q.0)
            .unwrap_or_default()
    };
    match req.uri().path() {
        "/api/v1/targets" if get => targets(&api, &query()),
        "/api/v1/targets/metadata" if get => targets_metadata(&api, &query()),
        "/api/v1/scrape_pools" if get => scrape_pools(&api),
        "/api/v1/status/config" if get => {
            success(&serde_json::json!({ "yaml": api.manager.config_yaml() }))
        }
        "/-/reload" => reload(&api, req.method()).await,
        _ => next.run(req).await,
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

fn success<T: Serialize>(data: &T) -> Response {
    let body = serde_json::json!({ "status": "success", "data": data });
    json_response(StatusCode::OK, body.to_string())
}

fn api_error(status: StatusCode, error_type: &str, msg: &str) -> Response {
    let body = serde_json::json!({ "status": "error", "errorType": error_type, "error": msg });
    json_response(status, body.to_string())
}

fn plain(status: StatusCode, text: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        text,
    )
        .into_response()
}

async fn reload(api: &ScrapeApi, method: &Method) -> Response {
    if method != Method::POST && method != Method::PUT {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "Only POST or PUT requests allowed".to_string(),
        );
    }
    if !api.enable_lifecycle {
        return plain(
            StatusCode::FORBIDDEN,
            "Lifecycle API is not enabled.\n".to_string(),
        );
    }
    let m = api.manager.clone();
    let r = tokio::task::spawn_blocking(move || m.reload()).await;
    match r {
        Ok(Ok(())) => StatusCode::OK.into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "Error reloading config");
            plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("failed to reload config: {e}\n"),
            )
        }
        Err(e) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to reload config: {e}\n"),
        ),
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ActiveTarget {
    discovered_labels: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
    scrape_pool: String,
    scrape_url: String,
    global_url: String,
    last_error: String,
    last_scrape: String,
    last_scrape_duration: f64,
    health: &'static str,
    scrape_interval: String,
    scrape_timeout: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DroppedTarget {
    discovered_labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetDiscovery {
    active_targets: Vec<ActiveTarget>,
    dropped_targets: Vec<DroppedTarget>,
    dropped_target_counts: BTreeMap<String, usize>,
}

fn targets(api: &ScrapeApi, q: &HashMap<String, String>) -> Response {
    let state = q.get("state").map(|s| s.to_lowercase()).unwrap_or_default();
    let show_active = matches!(state.as_str(), "" | "any" | "active");
    let show_dropped = matches!(state.as_str(), "" | "any" | "dropped");
    let pool_filter = q.get("scrapePool").filter(|s| !s.is_empty());
    let mut res = TargetDiscovery {
        active_targets: Vec::new(),
        dropped_targets: Vec::new(),
        dropped_target_counts: BTreeMap::new(),
    };
    for pool in api.manager.pools() {
        if pool_filter.is_some_and(|f| *f != pool.name) {
            continue;
        }
        if show_active {
            for t in &pool.active {
                let h = t.health();
                res.active_targets.push(ActiveTarget {
                    discovered_labels: t.discovered_labels(),
                    labels: t
                        .spec
                        .sample_labels()
                        .iter()
                        .map(|l| (l.name.to_string(), l.value.to_string()))
                        .collect(),
                    scrape_pool: t.pool.clone(),
                    scrape_url: t.spec.url.clone(),
                    global_url: global_url(&t.spec.url, &api.hostname),
                    last_error: h.last_error.clone(),
                    last_scrape: h
                        .last_scrape
                        .map_or_else(|| "0001-01-01T00:00:00Z".to_string(), rfc3339_nano),
                    last_scrape_duration: h.last_duration.as_secs_f64(),
                    health: h.state.as_str(),
                    scrape_interval: t.spec.interval.to_string(),
                    scrape_timeout: t.spec.timeout.to_string(),
                });
            }
        }
        if show_dropped {
            res.dropped_target_counts
                .insert(pool.name.clone(), pool.dropped.len());
            res.dropped_targets
                .extend(pool.dropped.into_iter().map(|d| DroppedTarget {
                    discovered_labels: d,
                }));
        }
    }
    success(&res)
}

#[derive(Serialize)]
struct MetadataEntry {
    target: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    metric: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    help: String,
    unit: String,
}

fn targets_metadata(api: &ScrapeApi, q: &HashMap<String, String>) -> Response {
    let limit: i64 = match q.get("limit").map(String::as_str) {
        None | Some("") => -1,
        Some(s) => match s.parse() {
            Ok(n) => n,
            Err(_) => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    "bad_data",
                    "limit must be a number",
                )
            }
        },
    };
    let matchers: Vec<Matcher> = match q.get("match_target").map(String::as_str) {
        None | Some("") => Vec::new(),
        Some(s) => match parse_selector(s) {
            Ok(m) => m,
            Err(e) => return api_error(StatusCode::BAD_REQUEST, "bad_data", &e),
        },
    };
    let metric = q.get("metric").filter(|m| !m.is_empty());
    let mut out: Vec<MetadataEntry> = Vec::new();
    'pools: for pool in api.manager.pools() {
        for t in &pool.active {
            if limit >= 0 && out.len() as i64 >= limit {
                break 'pools;
            }
            let labels = t.spec.sample_labels();
            if !matchers
                .iter()
                .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
            {
                continue;
            }
            let target: BTreeMap<String, String> = labels
                .iter()
                .map(|l| (l.name.to_string(), l.value.to_string()))
                .collect();
            let meta = t.metadata();
            match metric {
                Some(name) => {
                    if let Some(m) = meta.get(name.as_str()) {
                        out.push(MetadataEntry {
                            target,
                            metric: None,
                            kind: m.kind.clone(),
                            help: m.help.clone(),
                            unit: m.unit.clone(),
                        });
                    }
                }
                None => out.extend(meta.into_iter().map(|(name, m)| MetadataEntry {
                    target: target.clone(),
                    metric: Some(name),
                    kind: m.kind,
                    help: m.help,
                    unit: m.unit,
                })),
            }
        }
    }
    if out.is_empty() {
        return api_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "specified metadata not found",
        );
    }
    success(&out)
}

fn scrape_pools(api: &ScrapeApi) -> Response {
    let names: Vec<String> = api.manager.pools().into_iter().map(|p| p.name).collect();
    success(&serde_json::json!({ "scrapePools": names }))
}

/// The scrape URL with a loopback host replaced by this machine's name, as Prometheus
/// builds `globalUrl` from its external URL.
fn global_url(url: &str, hostname: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (authority, None),
    };
    let loopback = matches!(host, "localhost" | "[::1]") || host.starts_with("127.");
    if !loopback {
        return url.to_string();
    }
    match port {
        Some(p) => format!("{scheme}://{hostname}:{p}{path}"),
        None => format!("{scheme}://{hostname}{path}"),
    }
}

/// Go's `time.RFC3339Nano` in UTC: fractional seconds without trailing zeros.
pub fn rfc3339_nano(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let nanos = d.subsec_nanos();
    let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut s = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_format_as_go_does() {
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.12Z");
        assert_eq!(rfc3339_nano(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let leap = UNIX_EPOCH + Duration::new(951_782_400, 5);
        assert_eq!(rfc3339_nano(leap), "2000-02-29T00:00:00.000000005Z");
    }

    #[test]
    fn global_urls_name_this_host() {
        assert_eq!(
            global_url("http://127.0.0.1:9100/metrics?a=b", "box"),
            "http://box:9100/metrics?a=b"
        );
        assert_eq!(
            global_url("http://localhost/metrics", "box"),
            "http://box/metrics"
        );
        assert_eq!(
            global_url("https://node1:9100/metrics", "box"),
            "https://node1:9100/metrics"
        );
    }
}
