//! Status, health and not-yet-populated endpoints (targets, rules, alerts), in Prometheus's
//! shapes so that Grafana and Prometheus's own UI can read them.

use std::time::{Duration, Instant};

use axum::extract::State as AxumState;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::form::Params;
use super::response::{ApiResult, Json, Success};
use super::rfc3339::format_millis;
use super::{blocking, finish, State};
use crate::error::QueryError;

fn constant(st: &State, endpoint: &'static str, data: &str) -> Response {
    finish(
        st,
        endpoint,
        Instant::now(),
        Ok(Success::data(data.to_string())),
    )
}

pub(super) async fn buildinfo(AxumState(st): AxumState<State>) -> Response {
    let b = &st.build;
    let mut j = Json::new();
    j.raw("{").key("version").string(&b.version);
    j.raw(",").key("revision").string(&b.revision);
    j.raw(",").key("branch").string(&b.branch);
    j.raw(",").key("buildUser").string(&b.build_user);
    j.raw(",").key("buildDate").string(&b.build_date);
    j.raw(",").key("goVersion").string(&b.rust_version).raw("}");
    constant(&st, "buildinfo", &j.into_string())
}

pub(super) async fn runtimeinfo(AxumState(st): AxumState<State>) -> Response {
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let procs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let tasks = tokio::runtime::Handle::try_current().map_or(0, |h| h.metrics().num_alive_tasks());
    let started = format_millis(st.start_time_ms);
    let mut j = Json::new();
    j.raw("{").key("startTime").string(&started);
    j.raw(",").key("CWD").string(&cwd);
    // As Prometheus: the last reload's outcome, and the time of the last successful load
    // in whole seconds (it reads both from its config-reload gauges).
    let (reload_ok, loaded_ms) = st
        .config_status
        .as_ref()
        .map_or((true, st.start_time_ms), |f| f());
    j.raw(",").key("reloadConfigSuccess").bool(reload_ok);
    j.raw(",")
        .key("lastConfigTime")
        .string(&format_millis(loaded_ms.div_euclid(1000) * 1000));
    j.raw(",").key("corruptionCount").int(0);
    // Go's fields, filled with their nearest counterparts: live async tasks for goroutines,
    // usable cores for GOMAXPROCS, and "no limit" for GOMEMLIMIT as an unset Go reports.
    j.raw(",").key("goroutineCount").int(tasks as i64);
    j.raw(",").key("GOMAXPROCS").int(procs as i64);
    j.raw(",").key("GOMEMLIMIT").int(i64::MAX);
    j.raw(",").key("GOGC").string("");
    j.raw(",").key("GODEBUG").string("");
    j.raw(",")
        .key("storageRetention")
        .string(&st.storage_retention);
    j.raw("}");
    constant(&st, "runtimeinfo", &j.into_string())
}

pub(super) async fn flags(AxumState(st): AxumState<State>) -> Response {
    let mut j = Json::new();
    j.string_map(st.flags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    constant(&st, "flags", &j.into_string())
}

pub(super) async fn config(AxumState(st): AxumState<State>) -> Response {
    let mut j = Json::new();
    j.string_map([("yaml", st.config_yaml.as_str())]);
    constant(&st, "config", &j.into_string())
}

/// Entries per list in `/api/v1/status/tsdb` when `limit` is absent, as in Prometheus.
const TSDB_STATUS_DEFAULT_LIMIT: usize = 10;

pub(super) async fn tsdb(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let db = st.db.clone();
    // Prometheus's wording for a bad `limit` on this endpoint.
    let limit = match p.get("limit") {
        "" => Ok(TSDB_STATUS_DEFAULT_LIMIT),
        raw => match raw.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(QueryError::BadData(
                "limit must be a positive number".to_string(),
            )),
        },
    };
    let res: ApiResult = match limit {
        Err(e) => Err(e),
        Ok(limit) => blocking(move || {
            Ok((
                db.stats(),
                db.head_cardinality(limit),
                db.head_chunk_count(),
            ))
        })
        .await
        .map(|(s, card, chunks)| {
            let mut j = Json::new();
            j.raw("{").key("headStats").raw("{");
            j.key("numSeries")
                .int(i64::try_from(s.num_series).unwrap_or(i64::MAX));
            j.raw(",")
                .key("numLabelPairs")
                .int(i64::try_from(card.num_label_pairs).unwrap_or(i64::MAX));
            j.raw(",")
                .key("chunkCount")
                .int(i64::try_from(chunks).unwrap_or(i64::MAX));
            // An empty head reports the inverted bounds Prometheus reports.
            j.raw(",")
                .key("minTime")
                .int(s.head_min_time.unwrap_or(i64::MAX));
            j.raw(",")
                .key("maxTime")
                .int(s.head_max_time.unwrap_or(i64::MIN));
            j.raw("}");
            let pairs: Vec<(String, u64)> = card
                .series_count_by_label_value_pair
                .iter()
                .map(|(l, n)| (format!("{}={}", l.name, l.value), *n))
                .collect();
            let named = |v: &[(std::sync::Arc<str>, u64)]| -> Vec<(String, u64)> {
                v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
            };
            for (key, list) in [
                (
                    "seriesCountByMetricName",
                    named(&card.series_count_by_metric_name),
                ),
                (
                    "labelValueCountByLabelName",
                    named(&card.label_value_count_by_label_name),
                ),
                (
                    "memoryInBytesByLabelName",
                    named(&card.memory_in_bytes_by_label_name),
                ),
                ("seriesCountByLabelValuePair", pairs),
            ] {
                j.raw(",").key(key).raw("[");
                for (i, (name, n)) in list.iter().enumerate() {
                    if i > 0 {
                        j.raw(",");
                    }
                    j.raw("{").key("name").string(name);
                    j.raw(",")
                        .key("value")
                        .int(i64::try_from(*n).unwrap_or(i64::MAX));
                    j.raw("}");
                }
                j.raw("]");
            }
            j.raw("}");
            Success::data(j.into_string())
        }),
    };
    finish(&st, "tsdb", started, res)
}

pub(super) async fn walreplay(AxumState(st): AxumState<State>) -> Response {
    // The WAL is replayed before the API starts serving, so replay is always complete.
    constant(&st, "walreplay", r#"{"min":0,"max":0,"current":0}"#)
}

pub(super) async fn targets(AxumState(st): AxumState<State>) -> Response {
    constant(
        &st,
        "targets",
        r#"{"activeTargets":[],"droppedTargets":[],"droppedTargetCounts":{}}"#,
    )
}

pub(super) async fn targets_metadata(AxumState(st): AxumState<State>) -> Response {
    constant(&st, "targets_metadata", "[]")
}

pub(super) async fn scrape_pools(AxumState(st): AxumState<State>) -> Response {
    constant(&st, "scrape_pools", r#"{"scrapePools":[]}"#)
}

pub(super) async fn alertmanagers(AxumState(st): AxumState<State>) -> Response {
    constant(
        &st,
        "alertmanagers",
        r#"{"activeAlertmanagers":[],"droppedAlertmanagers":[]}"#,
    )
}

pub(super) async fn rules(AxumState(st): AxumState<State>) -> Response {
    constant(&st, "rules", r#"{"groups":[]}"#)
}

pub(super) async fn alerts(AxumState(st): AxumState<State>) -> Response {
    constant(&st, "alerts", r#"{"alerts":[]}"#)
}

/// Prometheus answers unknown API paths with Go's plain-text 404, not a JSON error; the
/// route exists so that a UI fallback merged beside this router cannot answer them.
pub(super) async fn not_found(AxumState(st): AxumState<State>) -> Response {
    st.metrics
        .observe("not_found", Duration::ZERO, Some("not_found"));
    plain(StatusCode::NOT_FOUND, "404 page not found\n")
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

pub(super) async fn healthy() -> Response {
    plain(StatusCode::OK, "Tianshu is Healthy.\n")
}

pub(super) async fn ready() -> Response {
    plain(StatusCode::OK, "Tianshu is Ready.\n")
}
