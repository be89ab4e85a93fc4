//! `/provision`, `/unlock`, `/lock`: the transitions of the state machine.

use axum::extract::State;
use axum::http::StatusCode;
use strongroom_core::Provision;

use super::error::NetHsmError;
use super::extract::{AcceptJson, Caller, NetHsmJson, RootAdmin};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Gated, JsonBody, Unlocking};
use super::wire::{ProvisionRequestData, UnlockRequestData};
use crate::app::AppState;
use crate::auth::{self, RequestOrigin};

#[utoipa::path(
    post,
    path = "/provision",
    operation_id = "provision",
    tag = "state",
    security(()),
    request_body = ProvisionRequestData,
    responses(
        (status = 204, description = "Provisioned: the node is Operational."),
        Gated,
        JsonBody,
        CoreCall,
    )
)]
pub async fn provision_post(
    State(s): State<AppState>,
    NetHsmJson(req): NetHsmJson<ProvisionRequestData>,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| {
        core.provision(Provision {
            unlock_passphrase: &req.unlock_passphrase,
            admin_passphrase: &req.admin_passphrase,
            system_time: &req.system_time,
        })
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/unlock",
    operation_id = "unlock",
    tag = "state",
    security(()),
    request_body = UnlockRequestData,
    responses(
        (status = 204, description = "Unlocked: the node is Operational."),
        Gated,
        JsonBody,
        Unlocking,
        CoreCall,
    )
)]
pub async fn unlock_post(
    State(s): State<AppState>,
    origin: RequestOrigin,
    NetHsmJson(req): NetHsmJson<UnlockRequestData>,
) -> Result<StatusCode, NetHsmError> {
    auth::unlock(&s, origin.ip, req.passphrase).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    post,
    path = "/lock",
    operation_id = "lock",
    tag = "state",
    responses(
        (status = 204, description = "Locked."),
        Gated,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn lock_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.system().lock())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
