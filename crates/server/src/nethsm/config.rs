//! `/config/*` (root Administrator, Operational).

use axum::extract::State;
use axum::http::StatusCode;
use time::format_description::well_known::Rfc3339;

use super::error::NetHsmError;
use super::extract::{AcceptJson, Caller, NetHsmJson, RootAdmin};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Gated, PutJsonBody};
use super::openapi_admin::ChangeWithCurrent;
use super::wire::{
    BackupPassphraseBody, Switch, TimeConfig, UnattendedBootConfig, UnlockPassphraseConfig,
};
use crate::app::AppState;
use crate::auth::{self, CurrentSecret, RequestOrigin};

#[utoipa::path(
    get,
    path = "/config/unattended-boot",
    operation_id = "getUnattendedBoot",
    tag = "config",
    responses(
        (status = 200, description = "Whether the node boots unlocked.",
            body = UnattendedBootConfig),
        Gated,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn config_unattended_boot_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<UnattendedBootConfig>, NetHsmError> {
    let on = s
        .run(move |core| core.operational(&who)?.system().unattended_boot())
        .await?;
    Ok(NetHsmJson(UnattendedBootConfig {
        status: if on { Switch::On } else { Switch::Off },
    }))
}

#[utoipa::path(
    put,
    path = "/config/unattended-boot",
    operation_id = "setUnattendedBoot",
    tag = "config",
    request_body = UnattendedBootConfig,
    responses(
        (status = 204, description = "Set."),
        Gated,
        Authenticated,
        PutJsonBody,
        CoreCall,
    )
)]
pub async fn config_unattended_boot_put(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    NetHsmJson(req): NetHsmJson<UnattendedBootConfig>,
) -> Result<StatusCode, NetHsmError> {
    let on = req.status == Switch::On;
    s.run(move |core| core.operational(&who)?.system().set_unattended_boot(on))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Both body shapes (seed 000's `{"passphrase"}` and the current spec's
/// `{"newPassphrase", "currentPassphrase"}`); see `docs/errors.md`. A wrong current
/// passphrase is rate limited like a failed login ([`auth::check_current`]).
#[utoipa::path(
    put,
    path = "/config/backup-passphrase",
    operation_id = "setBackupPassphrase",
    tag = "config",
    summary = "Set the backup passphrase.",
    description = "The spec's body (`newPassphrase`, and `currentPassphrase`, `\"\"` while \
                   none is set), or the older `{\"passphrase\"}` of nethsm-api 2023, which \
                   this server still takes and which sets it without the current one.",
    request_body = BackupPassphraseBody,
    responses(
        (status = 204, description = "Set."),
        Gated,
        ChangeWithCurrent,
        PutJsonBody,
        CoreCall,
    )
)]
pub async fn config_backup_passphrase_put(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    origin: RequestOrigin,
    NetHsmJson(req): NetHsmJson<BackupPassphraseBody>,
) -> Result<StatusCode, NetHsmError> {
    match req {
        BackupPassphraseBody::Current(c) => {
            c.new_passphrase.check_length("newPassphrase")?;
            auth::check_current(&s, &origin, CurrentSecret::BackupPassphrase, move |core| {
                core.operational(&who)?
                    .system()
                    .set_backup_passphrase(&c.new_passphrase, Some(&c.current_passphrase))
            })
            .await?
        }
        BackupPassphraseBody::Legacy(l) => {
            // The core's own checks name the newer body's field; this body's is `passphrase`.
            l.passphrase.check_length("passphrase")?;
            l.passphrase.check_strength("passphrase")?;
            s.run(move |core| {
                core.operational(&who)?
                    .system()
                    .set_backup_passphrase(&l.passphrase, None)
            })
            .await?
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A wrong current passphrase is rate limited like a failed login ([`auth::check_current`]).
#[utoipa::path(
    put,
    path = "/config/unlock-passphrase",
    operation_id = "setUnlockPassphrase",
    tag = "config",
    summary = "Change the unlock passphrase.",
    request_body = UnlockPassphraseConfig,
    responses(
        (status = 204, description = "Set."),
        Gated,
        ChangeWithCurrent,
        PutJsonBody,
        CoreCall,
    )
)]
pub async fn config_unlock_passphrase_put(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    origin: RequestOrigin,
    NetHsmJson(req): NetHsmJson<UnlockPassphraseConfig>,
) -> Result<StatusCode, NetHsmError> {
    req.new_passphrase.check_length("newPassphrase")?;
    auth::check_current(&s, &origin, CurrentSecret::UnlockPassphrase, move |core| {
        core.operational(&who)?
            .system()
            .set_unlock_passphrase(&req.new_passphrase, &req.current_passphrase)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get,
    path = "/config/time",
    operation_id = "getTime",
    tag = "config",
    responses(
        (status = 200, description = "The node's time, to the second.", body = TimeConfig),
        Gated,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn config_time_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<TimeConfig>, NetHsmError> {
    let now = s.core.operational(&who)?.system().time()?;
    let time = now
        .replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .map_err(|e| strongroom_core::Error::Internal(e.to_string()))?;
    Ok(NetHsmJson(TimeConfig { time }))
}

#[utoipa::path(
    put,
    path = "/config/time",
    operation_id = "setTime",
    tag = "config",
    description = "Sets the node's time as an offset from the host's clock, which it does \
                   not change (docs/operations.md, \"Time and network\").",
    request_body = TimeConfig,
    responses(
        (status = 204, description = "Set."),
        Gated,
        Authenticated,
        PutJsonBody,
        CoreCall,
    )
)]
pub async fn config_time_put(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    NetHsmJson(req): NetHsmJson<TimeConfig>,
) -> Result<StatusCode, NetHsmError> {
    s.run(move |core| core.operational(&who)?.system().set_time(&req.time))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
