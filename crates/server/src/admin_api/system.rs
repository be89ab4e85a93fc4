//! `/system/data-key` and `POST /system/rotate-data-key`: the domain key's version, and its
//! rotation (root Administrator). See `docs/security-model.md`, "Sealing".

use axum::extract::State;
use strongroom_core::secret::Passphrase;
use strongroom_proto::system as wire;

use crate::app::AppState;
use crate::nethsm::NetHsmError;
use crate::nethsm::extract::{AcceptJson, Caller, NetHsmJson, RootAdmin};

pub async fn data_key_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<wire::DataKey>, NetHsmError> {
    let status = s.run(move |core| core.data_key_status(&who)).await?;
    Ok(NetHsmJson(wire::DataKey {
        key_version: status.key_version,
        rotation_in_progress: status.rotation_in_progress,
    }))
}

pub async fn rotate_data_key_post(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
    NetHsmJson(mut req): NetHsmJson<wire::RotateDataKey>,
) -> Result<NetHsmJson<wire::Rotation>, NetHsmError> {
    // Moves the passphrase's buffer rather than copying it; the emptied string is what drops.
    let unlock = Passphrase::new(std::mem::take(&mut *req.unlock_passphrase));
    let r = s
        .run(move |core| core.rotate_data_key(&who, &unlock))
        .await?;
    Ok(NetHsmJson(wire::Rotation {
        key_version: r.key_version,
        resumed: r.resumed,
        resealed: r.resealed,
        unreadable: r.unreadable,
    }))
}
