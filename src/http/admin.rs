//! `/v1/admin`: operations on the whole gateway rather than one org (operator token
//! only). `POST /v1/admin/rekey` re-seals every secret under the current master key
//! (SPEC §15), as `hookgate rekey` does.

use super::error::ApiError;
use super::AppState;
use crate::auth::{Denied, Principal};
use crate::rekey::{self, RekeyError, RekeyOptions, RekeyReport, Silent};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(rekey))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RekeyView {
    /// The id of the current master key, which every re-sealed secret is now under.
    key_id: String,
    /// Secrets re-sealed, by the id of the master key they were sealed under.
    resealed: BTreeMap<String, u64>,
    /// Secrets re-sealed in all.
    total: u64,
    /// Secrets under a configured key that failed to open (tampered); logged by id.
    unopenable: u64,
    /// Secrets still under another key afterwards: 0 once the rotation is complete.
    remaining: u64,
}

impl From<RekeyReport> for RekeyView {
    fn from(report: RekeyReport) -> Self {
        Self {
            total: report.total(),
            key_id: report.key_id,
            resealed: report.resealed,
            unopenable: report.unopenable,
            remaining: report.remaining,
        }
    }
}

/// Re-seal every secret sealed under a retired master key with the current one
/// (operator token only). Online and in batches; running it again re-seals only what
/// is left, and a run with nothing left answers 0. Audited per org as
/// `master_key.rekeyed`.
#[utoipa::path(post, path = "/v1/admin/rekey", tag = "admin", responses(
    (status = 200, body = RekeyView),
    (status = 403, description = "operator_required"),
    (status = 409, description = "unknown_master_key: secrets are sealed under a key this instance lacks"),
))]
async fn rekey(
    State(state): State<AppState>,
    principal: Principal,
) -> Result<Json<RekeyView>, ApiError> {
    if !matches!(principal, Principal::Operator) {
        return Err(Denied::OperatorRequired.into());
    }
    let options = RekeyOptions {
        batch_size: rekey::DEFAULT_BATCH,
        max_batches: None,
        actor: principal.actor(),
    };
    let report = rekey::run(state.store(), state.keyring(), &options, &mut Silent)
        .await
        .map_err(|error| match error {
            RekeyError::Store(error) => ApiError::from(error),
            RekeyError::UnknownKeys(unknown) => ApiError::new(
                StatusCode::CONFLICT,
                "unknown_master_key",
                unknown.to_string(),
            ),
        })?;
    rekey::refresh_gauge(state.store(), state.keyring(), state.metrics()).await;
    Ok(Json(report.into()))
}
