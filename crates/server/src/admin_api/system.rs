//! `/system/data-key` and `POST /system/rotate-data-key`: the domain key's version, and its
//! rotation (root Administrator). See `docs/security-model.md`, "Sealing".

use axum::extract::State;
use serde::{Deserialize, Serialize};
use strongroom_core::secret::Passphrase;

use super::error::ApiError;
use super::extract::{AcceptJson, ApiJson, Caller, RootAdmin};
use crate::app::AppState;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RotateRequest {
    unlock_passphrase: Passphrase,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationData {
    key_version: u8,
    resumed: bool,
    resealed: u64,
    unreadable: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DataKeyData {
    key_version: u8,
    rotation_in_progress: bool,
}

pub async fn data_key_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<ApiJson<DataKeyData>, ApiError> {
    let status = s
        .run(move |core| core.operational(&who)?.system().data_key_status())
        .await?;
    Ok(ApiJson(DataKeyData {
        key_version: status.key_version,
        rotation_in_progress: status.rotation_in_progress,
    }))
}

pub async fn rotate_data_key_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
    ApiJson(req): ApiJson<RotateRequest>,
) -> Result<ApiJson<RotationData>, ApiError> {
    let r = s
        .run(move |core| {
            core.operational(&who)?
                .system()
                .rotate_data_key(&req.unlock_passphrase)
        })
        .await?;
    Ok(ApiJson(RotationData {
        key_version: r.key_version,
        resumed: r.resumed,
        resealed: r.resealed,
        unreadable: r.unreadable,
    }))
}
