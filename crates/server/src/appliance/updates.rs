//! `/appliance/update-manager/*`: Strongroom is updated by the host's package manager
//! (`strongroom_core::appliance::updates`, which NetHSM's `/system/update` asks too), so
//! there are no updates to list or install and no repository to set; each operation answers
//! 400 `UPDATES_BY_PACKAGE_MANAGER`, saying so.

use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApplianceError;
use super::extract::{ApplianceJson, DrSession};
use super::updates_wire::UpdatesRepository;
use crate::app::AppState;

/// The refusal every update-manager operation ends in, after the caller is checked.
async fn refuse(s: &AppState, session: DrSession) -> ApplianceError {
    let who = session.principal;
    match s
        .run(move |core| core.operational(&who)?.appliance().update_source())
        .await
    {
        Ok(source) => ApplianceError::new(
            StatusCode::BAD_REQUEST,
            "UPDATES_BY_PACKAGE_MANAGER",
            source.message(),
        ),
        Err(e) => e.into(),
    }
}

/// `POST /appliance/update-manager/actions/retrieve-updates` (operationId `getUpdates`).
#[utoipa::path(
    post,
    path = "/appliance/update-manager/actions/retrieve-updates",
    operation_id = "getUpdates",
    tag = "update-manager",
    responses(super::openapi::Session, super::openapi::UpdatesByPackageManager)
)]
pub async fn get_updates(State(s): State<AppState>, session: DrSession) -> ApplianceError {
    refuse(&s, session).await
}

/// `GET /appliance/update-manager/repository` (operationId `getUpdatesRepository`).
#[utoipa::path(
    get,
    path = "/appliance/update-manager/repository",
    operation_id = "getUpdatesRepository",
    tag = "update-manager",
    responses(super::openapi::Session, super::openapi::UpdatesByPackageManager)
)]
pub async fn get_updates_repository(
    State(s): State<AppState>,
    session: DrSession,
) -> ApplianceError {
    refuse(&s, session).await
}

/// `PUT /appliance/update-manager/repository` (operationId `changeUpdatesRepository`): a
/// malformed body is told so first, as for every body of this face.
#[utoipa::path(
    put,
    path = "/appliance/update-manager/repository",
    operation_id = "changeUpdatesRepository",
    tag = "update-manager",
    request_body(content = UpdatesRepository, content_type = "application/json"),
    responses(super::openapi::Session, super::openapi::UpdatesByPackageManager, super::openapi::JsonBodyLimits)
)]
pub async fn change_updates_repository(
    State(s): State<AppState>,
    session: DrSession,
    ApplianceJson(_): ApplianceJson<UpdatesRepository>,
) -> ApplianceError {
    refuse(&s, session).await
}

/// `POST /appliance/update-manager/updates/{update_version}/actions/install` (operationId
/// `installUpdate`).
#[utoipa::path(
    post,
    path = "/appliance/update-manager/updates/{update_version}/actions/install",
    operation_id = "installUpdate",
    tag = "update-manager",
    params(("update_version" = String, Path, description = "The update's version.")),
    responses(super::openapi::Session, super::openapi::UpdatesByPackageManager)
)]
pub async fn install_update(State(s): State<AppState>, session: DrSession) -> ApplianceError {
    refuse(&s, session).await
}
