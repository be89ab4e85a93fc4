//! `/system/data-key` and `POST /system/rotate-data-key`: the domain key's version, and its
//! rotation (root Administrator). See `docs/security-model.md`, "Sealing".

use axum::extract::State;
use strongroom_core::secret::Passphrase;
use strongroom_proto::errors::ErrorBody;
use strongroom_proto::system as wire;

use super::error::ApiError;
use super::extract::{AcceptJson, ApiJson, Caller, RootAdmin};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Gated, JsonBody};
use crate::app::AppState;

/// The domain key's version, and whether a rotation is under way (root Administrator).
#[utoipa::path(
    get,
    path = "/system/data-key",
    operation_id = "getDataKey",
    tag = "system",
    responses(
        (status = 200, description = "The domain key's version.", body = wire::DataKey),
        Gated, Authenticated, AnswersJson, CoreCall,
    )
)]
pub async fn data_key_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<ApiJson<wire::DataKey>, ApiError> {
    let status = s
        .run(move |core| core.operational(&who)?.system().data_key_status())
        .await?;
    Ok(ApiJson(wire::DataKey {
        key_version: status.key_version,
        rotation_in_progress: status.rotation_in_progress,
    }))
}

/// Rotates the domain key, or finishes a rotation under way (root Administrator).
#[utoipa::path(
    post,
    path = "/system/rotate-data-key",
    operation_id = "rotateDataKey",
    tag = "system",
    request_body = wire::RotateDataKey,
    responses(
        (status = 200, description = "Every value is re-sealed under the new key.",
            body = wire::Rotation),
        Gated, Authenticated, JsonBody, CoreCall,
        (status = 403, description = "The caller is not a root Administrator, or the unlock \
            passphrase is incorrect (`unlock passphrase is incorrect.`).", body = ErrorBody),
        (status = 409, description = "A rotation is already running.", body = ErrorBody),
        (status = 412, description = "The node is not Operational, or was locked meanwhile.",
            body = ErrorBody),
    )
)]
pub async fn rotate_data_key_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
    ApiJson(mut req): ApiJson<wire::RotateDataKey>,
) -> Result<ApiJson<wire::Rotation>, ApiError> {
    // Moves the passphrase's buffer rather than copying it; the emptied string is what drops.
    let unlock = Passphrase::new(std::mem::take(&mut *req.unlock_passphrase));
    let r = s
        .run(move |core| core.operational(&who)?.system().rotate_data_key(&unlock))
        .await?;
    Ok(ApiJson(wire::Rotation {
        key_version: r.key_version,
        resumed: r.resumed,
        resealed: r.resealed,
        unreadable: r.unreadable,
    }))
}
