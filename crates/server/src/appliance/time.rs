//! `/appliance/settings/time` and `/appliance/settings/time/zones`: the appliance clock that
//! NetHSM's `/config/time` sets, its zone and how it is kept
//! ([`strongroom_core::appliance::time`]).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use strongroom_core::appliance::time::{self as core_time, SyncMode};

use super::error::ApplianceError;
use super::extract::{ApplianceJson, DrSession};
use super::list_query::{DrResponseList, ListQuery};
use super::time_wire::{
    SyncModeWire, TimeSettings, TimeSynchronization, TimeZone, UpdateTimeSettingsSpec,
};
use crate::app::AppState;

/// `GET /appliance/settings/time` (operationId `getTimeSettings`).
#[utoipa::path(
    get,
    path = "/appliance/settings/time",
    operation_id = "getTimeSettings",
    tag = "time",
    responses(
        (status = 200, description = "The appliance's time, zone and synchronisation.",
            body = TimeSettings),
        super::openapi::Session,
    )
)]
pub async fn get_time_settings(
    State(s): State<AppState>,
    session: DrSession,
) -> Result<Json<TimeSettings>, ApplianceError> {
    let report = s
        .run(move |core| {
            core.operational(&session.principal)?
                .appliance()
                .time_settings()
        })
        .await?;
    Ok(Json(TimeSettings {
        current_time: i64::try_from(report.now.unix_timestamp_nanos() / 1_000_000)
            .unwrap_or(i64::MAX),
        zone: report.settings.zone,
        synchronization: TimeSynchronization {
            mode: match report.settings.mode {
                SyncMode::Disabled => SyncModeWire::Disabled,
                SyncMode::Host => SyncModeWire::Host,
            },
            ntp_servers: None,
        },
    }))
}

/// `PUT /appliance/settings/time` (operationId `updateTimeSettings`). The zone must be one
/// of the tz database's; NTP is refused: the appliance runs no NTP client (`docs/operations.md`).
#[utoipa::path(
    put,
    path = "/appliance/settings/time",
    operation_id = "updateTimeSettings",
    tag = "time",
    request_body(content = UpdateTimeSettingsSpec, content_type = "application/json"),
    responses(
        (status = 204, description = "The settings are changed."),
        super::openapi::Session, super::openapi::JsonBody,
    )
)]
pub async fn update_time_settings(
    State(s): State<AppState>,
    session: DrSession,
    ApplianceJson(spec): ApplianceJson<UpdateTimeSettingsSpec>,
) -> Result<StatusCode, ApplianceError> {
    let mode = match spec.synchronization.as_ref().map(|s| s.mode) {
        None => None,
        Some(SyncModeWire::Disabled) => Some(SyncMode::Disabled),
        Some(SyncModeWire::Host) => Some(SyncMode::Host),
        Some(SyncModeWire::Ntp) => {
            return Err(ApplianceError::new(
                StatusCode::BAD_REQUEST,
                "TIME_SYNC_UNSUPPORTED",
                "The appliance runs no NTP client: keep the host's clock with NTP and choose HOST, \
                 or set the time by hand (DISABLED, and PUT /api/v1/config/time).",
            ));
        }
    };
    let zone = spec.zone;
    if let Some(name) = &zone
        && core_time::zone(name).is_none()
    {
        return Err(ApplianceError::new(
            StatusCode::BAD_REQUEST,
            "UNKNOWN_TIME_ZONE",
            format!(
                "{name:?} is not a time zone of the IANA database; GET /appliance/settings/time/zones lists them."
            ),
        ));
    }
    s.run(move |core| {
        core.operational(&session.principal)?
            .appliance()
            .set_time_settings(zone.as_deref(), mode)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /appliance/settings/time/zones` (operationId `getTimeZones`): the tz database's
/// names, as the zone of `PUT /appliance/settings/time` accepts them.
#[utoipa::path(
    get,
    path = "/appliance/settings/time/zones",
    operation_id = "getTimeZones",
    tag = "time",
    params(super::openapi::ListParams),
    responses(
        (status = 200, description = "The time zones the appliance knows.",
            body = super::openapi::ListOf<super::time_wire::TimeZone>),
        super::openapi::Session, super::openapi::ListQuery,
    )
)]
pub async fn get_time_zones(
    State(s): State<AppState>,
    session: DrSession,
    query: ListQuery,
) -> Result<Json<DrResponseList>, ApplianceError> {
    // The same role check as the other time operations.
    s.core
        .operational(&session.principal)?
        .require(strongroom_core::access::Access::RootAdministrator)?;
    let zones = core_time::zones()
        .into_iter()
        .map(|name| TimeZone { name })
        .collect::<Vec<_>>();
    Ok(Json(query.page(&zones)))
}
