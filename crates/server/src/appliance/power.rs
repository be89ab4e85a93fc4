//! `/appliance/actions/restart` and `/appliance/actions/stop`: the same operations as NetHSM's
//! `/system/reboot` (the core's `System::reboot`: the keys are forgotten and the node boots
//! again from its store, Locked or, with unattended boot, Operational) and `/system/shutdown`
//! ([`AppState::shutdown_by`]: the process ends cleanly). What they mean for a process is in
//! `docs/operations.md`.

use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApplianceError;
use super::extract::DrSession;
use crate::app::AppState;

/// `POST /appliance/actions/restart` (operationId `restartAppliance`). Afterwards this face
/// answers 503 until the node is unlocked again (unless unattended boot brings it back).
#[utoipa::path(
    post,
    path = "/appliance/actions/restart",
    operation_id = "restartAppliance",
    tag = "power",
    responses(
        (status = 204, description = "The node boots again from its store: Locked, or \
            Operational with unattended boot."),
        super::openapi::Session,
    )
)]
pub async fn restart_appliance(
    State(s): State<AppState>,
    session: DrSession,
) -> Result<StatusCode, ApplianceError> {
    let who = session.principal;
    s.run(move |core| core.operational(&who)?.system().reboot().map(|_| ()))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /appliance/actions/stop` (operationId `shutdownAppliance`).
#[utoipa::path(
    post,
    path = "/appliance/actions/stop",
    operation_id = "shutdownAppliance",
    tag = "power",
    responses(
        (status = 204, description = "The server process ends cleanly."),
        super::openapi::Session,
    )
)]
pub async fn shutdown_appliance(
    State(s): State<AppState>,
    session: DrSession,
) -> Result<StatusCode, ApplianceError> {
    s.shutdown_by(Some(&session.principal))?;
    Ok(StatusCode::NO_CONTENT)
}
