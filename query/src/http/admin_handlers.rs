//! `/api/v1/admin/tsdb/*`: operations that write to the database on request. Served only
//! with `--web.enable-admin-api`; otherwise they answer Prometheus's `unavailable` error.

use std::time::Instant;

use axum::extract::State as AxumState;
use axum::response::Response;

use super::form::Params;
use super::params::{
    invalid_param, parse_metric_selectors, parse_time_param, MAX_TIME_MS, MIN_TIME_MS,
};
use super::response::{ApiResult, Json, Success};
use super::{blocking, finish, State};
use crate::error::QueryError;

fn require_admin(st: &State) -> Result<(), QueryError> {
    if st.enable_admin {
        Ok(())
    } else {
        Err(QueryError::Unavailable("admin APIs disabled".to_string()))
    }
}

/// `POST /api/v1/admin/tsdb/snapshot[?skip_head=true]`: writes every block, and the head
/// unless skipped, under `<data-dir>/snapshots/<name>` and answers the name.
pub(super) async fn snapshot(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res: ApiResult = async {
        require_admin(&st)?;
        let skip_head = match p.get("skip_head") {
            "" => false,
            raw => raw.parse::<bool>().map_err(|_| {
                QueryError::BadData(format!("unable to parse boolean {raw:?}: invalid syntax"))
            })?,
        };
        let db = st.db.clone();
        let name = blocking(move || Ok(db.snapshot(skip_head)?)).await?;
        let mut j = Json::new();
        j.raw("{").key("name").string(&name).raw("}");
        Ok(Success::data(j.into_string()))
    }
    .await;
    finish(&st, "admin_snapshot", started, res)
}

/// `POST`/`PUT /api/v1/admin/tsdb/delete_series?match[]=...[&start=...][&end=...]`:
/// deletes the samples of the matching series in `[start, end]` (all time by default) and
/// answers 204 No Content. As in Prometheus, each selector is parsed and applied in turn,
/// so a bad selector is reported after the ones before it took effect.
pub(super) async fn delete_series(AxumState(st): AxumState<State>, p: Params) -> Response {
    let started = Instant::now();
    let res: ApiResult = async {
        require_admin(&st)?;
        let selectors = p.all("match[]");
        if selectors.is_empty() {
            return Err(QueryError::BadData("no match[] parameter provided".into()));
        }
        let start = parse_time_param(&p, "start", MIN_TIME_MS)?;
        let end = parse_time_param(&p, "end", MAX_TIME_MS)?;
        for sel in selectors {
            let sets = parse_metric_selectors(&[sel]).map_err(|e| invalid_param("match[]", e))?;
            let db = st.db.clone();
            blocking(move || {
                for set in &sets {
                    db.delete_series(set, start, end)?;
                }
                Ok(())
            })
            .await?;
        }
        Ok(Success::default())
    }
    .await;
    finish(&st, "admin_delete_series", started, res)
}

/// `POST`/`PUT /api/v1/admin/tsdb/clean_tombstones`: rewrites the blocks holding deleted
/// data without it and answers 204 No Content.
pub(super) async fn clean_tombstones(AxumState(st): AxumState<State>) -> Response {
    let started = Instant::now();
    let res: ApiResult = async {
        require_admin(&st)?;
        let db = st.db.clone();
        blocking(move || Ok(db.clean_tombstones()?)).await?;
        Ok(Success::default())
    }
    .await;
    finish(&st, "admin_clean_tombstones", started, res)
}
