//! `/api/v1/admin/tsdb/*`: operations that write to the database on request. Served only
//! with `--web.enable-admin-api`; otherwise they answer Prometheus's `unavailable` error.

use std::time::Instant;

use axum::extract::State as AxumState;
use axum::response::Response;

use super::form::Params;
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
