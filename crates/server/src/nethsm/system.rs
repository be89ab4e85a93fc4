//! `/system/*` (root Administrator, Operational).

use axum::extract::State;

use super::error::NetHsmError;
use super::extract::{AcceptJson, Caller, NetHsmJson, RootAdmin};
use super::wire::{AkPub, Pcr, SystemInfo};
use crate::app::AppState;

pub async fn system_info_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<SystemInfo>, NetHsmError> {
    let info = s.run(move |core| core.system_info(&who)).await?;
    Ok(NetHsmJson(SystemInfo {
        software_version: info.software_version.to_owned(),
        software_build: info.software_version.to_owned(),
        firmware_version: "n/a (software appliance)".into(),
        hardware_version: "n/a (software appliance)".into(),
        device_id: info.device_id,
        ak_pub: AkPub::default(),
        pcr: Pcr::default(),
    }))
}
