//! `/appliance/settings/syslog-servers` (operationIds `getSyslogServers`,
//! `updateSyslogServers`, `sendSyslogTestMessage`): the whole list of syslog destinations,
//! the same list whose first entry NetHSM's `/config/logging` reads and sets
//! (`strongroom_core::appliance::syslog`). The level is NetHSM's to set; a PUT here keeps it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use strongroom_core::appliance::syslog::{SyslogRule, check_destinations};

use super::error::ApplianceError;
use super::extract::{ApplianceJson, DrSession};
use super::list_query::{DrResponseList, ListQuery};
use super::syslog_wire::{SyslogServerInfo, TestMessage, invalid_server};
use crate::app::AppState;

/// `GET /appliance/settings/syslog-servers`.
#[utoipa::path(
    get,
    path = "/appliance/settings/syslog-servers",
    operation_id = "getSyslogServers",
    tag = "syslog",
    params(super::openapi::ListParams),
    responses(
        (status = 200, description = "The syslog destinations.",
            body = super::openapi::ListOf<SyslogServerInfo>),
        super::openapi::Session, super::openapi::ListQuery,
    )
)]
pub async fn get_syslog_servers(
    State(s): State<AppState>,
    session: DrSession,
    query: ListQuery,
) -> Result<Json<DrResponseList>, ApplianceError> {
    let config = s
        .run(move |core| core.operational(&session.principal)?.appliance().syslog())
        .await?;
    let all: Vec<SyslogServerInfo> = config
        .destinations
        .iter()
        .map(SyslogServerInfo::of)
        .collect();
    Ok(Json(query.page(&all)))
}

/// `PUT /appliance/settings/syslog-servers`: replaces the list (an empty list stops
/// sending); the forwarder follows at once.
#[utoipa::path(
    put,
    path = "/appliance/settings/syslog-servers",
    operation_id = "updateSyslogServers",
    tag = "syslog",
    request_body(content = Vec<SyslogServerInfo>, content_type = "application/json"),
    responses(
        (status = 204, description = "The list is replaced."),
        super::openapi::Session, super::openapi::JsonBody,
    )
)]
pub async fn update_syslog_servers(
    State(s): State<AppState>,
    session: DrSession,
    ApplianceJson(entries): ApplianceJson<Vec<SyslogServerInfo>>,
) -> Result<StatusCode, ApplianceError> {
    let destinations = (entries.into_iter().enumerate())
        .map(|(i, entry)| entry.destination(i + 1))
        .collect::<Result<Vec<_>, _>>()?;
    // The core checks again; checked here to answer in this face's codes.
    check_destinations(&destinations)
        .map_err(|(i, rule): (usize, SyslogRule)| invalid_server(i + 1, &rule.message()))?;
    s.run(move |core| {
        core.operational(&session.principal)?
            .appliance()
            .set_syslog_destinations(destinations)
    })
    .await?;
    crate::syslog::reload(&s.core);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /appliance/settings/syslog-servers/actions/send-test-message`: the message goes to
/// every destination (queued, as every message is: 204 means it was handed to the
/// forwarder, not that a receiver took it).
#[utoipa::path(
    post,
    path = "/appliance/settings/syslog-servers/actions/send-test-message",
    operation_id = "sendSyslogTestMessage",
    tag = "syslog",
    request_body(content = TestMessage, content_type = "application/json"),
    responses(
        (status = 204, description = "The message is queued for every destination."),
        super::openapi::Session, super::openapi::JsonBody,
    )
)]
pub async fn send_syslog_test_message(
    State(s): State<AppState>,
    session: DrSession,
    ApplianceJson(test): ApplianceJson<TestMessage>,
) -> Result<StatusCode, ApplianceError> {
    let config = s
        .run(move |core| core.operational(&session.principal)?.appliance().syslog())
        .await?;
    if config.destinations.is_empty() {
        return Err(ApplianceError::new(
            StatusCode::BAD_REQUEST,
            "NO_SYSLOG_SERVERS",
            "No syslog server is configured; there is nowhere to send the test message.",
        ));
    }
    crate::syslog::forwarder().test_message(&test.message);
    Ok(StatusCode::NO_CONTENT)
}
