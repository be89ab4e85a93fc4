//! `/appliance...`: the appliance password (seed 001), and read-only information.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::error::ApplianceError;
use super::extract::{ApplianceJson, DrSession};
use super::wire::{ApplianceInfo, TimeSettings, TimeSynchronization, UpdatePasswordSpec};
use crate::app::AppState;
use crate::auth::{self, CurrentSecret, RequestOrigin};

/// `POST /appliance/settings/access/password` (operationId `updateAppliancePassword`): the
/// session's own account changes; its other sessions end; the new password works at once on
/// every face. A wrong current password is rate limited like a failed login
/// ([`auth::check_current`]), after the new one's shape is checked.
pub async fn update_appliance_password(
    State(s): State<AppState>,
    session: DrSession,
    origin: RequestOrigin,
    ApplianceJson(spec): ApplianceJson<UpdatePasswordSpec>,
) -> Result<StatusCode, ApplianceError> {
    strongroom_core::password_policy::check_shape(spec.new_password.expose())
        .map_err(strongroom_core::Error::PasswordPolicy)?;
    let user = session.principal.user_id.clone();
    auth::check_current(&s, &origin, CurrentSecret::Password(&user), move |core| {
        core.operational(&session.principal)?
            .users()
            .change_own_password(Some(&session.token), &spec.password, &spec.new_password)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /appliance` (operationId `getApplianceInfo`).
pub async fn get_appliance_info(_: DrSession) -> Json<ApplianceInfo> {
    let version = env!("CARGO_PKG_VERSION");
    Json(ApplianceInfo {
        hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default(),
        product_name: "Strongroom".into(),
        product_build_number: version.into(),
        appliance_version: version.into(),
        appliance_build_number: version.into(),
        system_information: format!("Strongroom {version} ({})", std::env::consts::ARCH),
    })
}

/// `GET /appliance/settings/time` (operationId `getTimeSettings`): the appliance clock (see
/// `docs/operations.md`); it is not synchronised by the appliance itself.
pub async fn get_time_settings(State(s): State<AppState>, _: DrSession) -> Json<TimeSettings> {
    let now = s.core.now();
    Json(TimeSettings {
        current_time: (now.unix_timestamp_nanos() / 1_000_000) as i64,
        zone: "UTC".into(),
        synchronization: TimeSynchronization {
            mode: "DISABLED".into(),
        },
    })
}
