//! `/config/*` (root Administrator, Operational).

use axum::extract::State;
use axum::http::StatusCode;

use super::error::NetHsmError;
use super::extract::{AcceptJson, Caller, NetHsmJson, RootAdmin};
use super::wire::{Switch, UnattendedBootConfig};
use crate::app::AppState;

pub async fn config_unattended_boot_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<UnattendedBootConfig>, NetHsmError> {
    let on = s.run(move |core| core.unattended_boot(&who)).await?;
    Ok(NetHsmJson(UnattendedBootConfig {
        status: if on { Switch::On } else { Switch::Off },
    }))
}

pub async fn config_unattended_boot_put(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    NetHsmJson(req): NetHsmJson<UnattendedBootConfig>,
) -> Result<StatusCode, NetHsmError> {
    let on = req.status == Switch::On;
    s.run(move |core| core.set_unattended_boot(&who, on))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
