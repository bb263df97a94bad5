//! Series metadata endpoints: `series`, `labels`, `label/<name>/values`, `metadata`.

use std::collections::BTreeSet;
use std::time::Instant;

use axum::extract::{Path, State as AxumState};
use axum::response::Response;
use tianshu_tsdb::{Labels, Matcher};

use super::params::{
    invalid_param, label_name_param, parse_go_int, parse_limit, parse_match_params,
    parse_time_param, Params, MAX_TIME_MS, MIN_TIME_MS,
};
use super::response::{ApiResult, Json, Success};
use super::{blocking, finish, State};
use crate::error::QueryError;

const TRUNCATED: &str = "results truncated due to limit";

pub(super) async fn series(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res = series_inner(&st, &p).await;
    finish(&st, "series", started, res)
}

pub(super) async fn labels(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res = labels_inner(&st, &p).await;
    finish(&st, "labels", started, res)
}

pub(super) async fn label_values(
    AxumState(st): AxumState<State>,
    Path(name): Path<String>,
    p: Params,
) -> Response {
    let started = Instant::now();
    let res = label_values_inner(&st, &name, &p).await;
    finish(&st, "label_values", started, res)
}

pub(super) async fn metadata(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res = metadata_inner(&st, &p).await;
    finish(&st, "metadata", started, res)
}

/// The `limit`, `start`, `end` and `match[]` parameters shared by the metadata endpoints.
struct Selection {
    limit: usize,
    start: i64,
    end: i64,
    sets: Vec<Vec<Matcher>>,
}

/// Parses in Prometheus's order, so that the first bad parameter is the one reported.
/// `wrap_match` says whether a bad `match[]` is reported as an invalid parameter (Prometheus
/// does so for `series`) or with the bare cause (`labels`, `label/<name>/values`).
fn selection(p: &Params, wrap_match: bool) -> Result<Selection, QueryError> {
    let limit = parse_limit(p)?;
    let start = parse_time_param(p, "start", MIN_TIME_MS)?;
    let end = parse_time_param(p, "end", MAX_TIME_MS)?;
    let sets = parse_match_params(&p.all("match[]")).map_err(|e| {
        if wrap_match {
            invalid_param("match[]", e)
        } else {
            QueryError::BadData(e)
        }
    })?;
    Ok(Selection {
        limit,
        start,
        end,
        sets,
    })
}

async fn series_inner(st: &State, p: &Params) -> ApiResult {
    if p.all("match[]").is_empty() {
        return Err(QueryError::BadData("no match[] parameter provided".into()));
    }
    let sel = selection(p, true)?;
    let db = st.db.clone();
    let series = blocking(move || {
        let mut all: Vec<Labels> = Vec::new();
        for set in &sel.sets {
            all.extend(db.series(set, sel.start, sel.end));
        }
        // Several selectors can match the same series; Prometheus merges them sorted.
        all.sort();
        all.dedup();
        Ok(all)
    })
    .await?;
    let (series, warnings) = truncate(series, sel.limit);
    let mut j = Json::new();
    j.raw("[");
    for (i, l) in series.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.labels(l);
    }
    j.raw("]");
    Ok(Success {
        data: Some(j.into_string()),
        warnings,
        infos: Vec::new(),
    })
}

async fn labels_inner(st: &State, p: &Params) -> ApiResult {
    let sel = selection(p, false)?;
    let db = st.db.clone();
    let names = blocking(move || {
        if sel.sets.is_empty() {
            return Ok(db.label_names(&[], sel.start, sel.end));
        }
        let mut all = BTreeSet::new();
        for set in &sel.sets {
            all.extend(db.label_names(set, sel.start, sel.end));
        }
        Ok(all.into_iter().collect())
    })
    .await?;
    Ok(string_list(names, sel.limit))
}

async fn label_values_inner(st: &State, raw_name: &str, p: &Params) -> ApiResult {
    let name = label_name_param(raw_name)?;
    let sel = selection(p, false)?;
    let db = st.db.clone();
    let values = blocking(move || {
        if sel.sets.is_empty() {
            return Ok(db.label_values(&name, &[], sel.start, sel.end));
        }
        let mut all = BTreeSet::new();
        for set in &sel.sets {
            all.extend(db.label_values(&name, set, sel.start, sel.end));
        }
        Ok(all.into_iter().collect())
    })
    .await?;
    Ok(string_list(values, sel.limit))
}

fn string_list(items: Vec<String>, limit: usize) -> Success {
    let (items, warnings) = truncate(items, limit);
    let mut j = Json::new();
    j.string_array(&items);
    Success {
        data: Some(j.into_string()),
        warnings,
        infos: Vec::new(),
    }
}

fn truncate<T>(mut items: Vec<T>, limit: usize) -> (Vec<T>, Vec<String>) {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        return (items, vec![TRUNCATED.to_string()]);
    }
    (items, Vec::new())
}

/// A `metadata` limit: absent or negative is unlimited; not an integer is an error with
/// Prometheus's text.
fn metadata_limit(p: &Params, name: &str) -> Result<Option<usize>, QueryError> {
    let s = p.get(name);
    if s.is_empty() {
        return Ok(None);
    }
    let n = parse_go_int(s).map_err(|_| QueryError::BadData(format!("{name} must be a number")))?;
    Ok(usize::try_from(n).ok())
}

async fn metadata_inner(st: &State, p: &Params) -> ApiResult {
    let limit = metadata_limit(p, "limit")?;
    // Prometheus ignores a per-metric limit of 0, unlike the overall one.
    let per_metric = metadata_limit(p, "limit_per_metric")?.filter(|n| *n > 0);
    let metric = p.get("metric").to_owned();
    let db = st.db.clone();
    let md = blocking(move || {
        let metric = (!metric.is_empty()).then_some(metric.as_str());
        Ok(db.metadata(metric, limit))
    })
    .await?;
    let mut j = Json::new();
    j.raw("{");
    for (i, (name, entries)) in md.iter().take(limit.unwrap_or(usize::MAX)).enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.key(name).raw("[");
        for (k, m) in entries
            .iter()
            .take(per_metric.unwrap_or(usize::MAX))
            .enumerate()
        {
            if k > 0 {
                j.raw(",");
            }
            j.raw("{").key("type").string(&m.kind);
            j.raw(",").key("help").string(&m.help);
            j.raw(",").key("unit").string(&m.unit).raw("}");
        }
        j.raw("]");
    }
    j.raw("}");
    Ok(Success::data(j.into_string()))
}
