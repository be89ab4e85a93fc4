//! `/config/logging` (root Administrator, Operational): NetHSM's single syslog destination,
//! which is the FIRST entry of the appliance's list of syslog servers
//! (`strongroom_core::appliance::syslog`), and the log level. A PUT replaces the first entry
//! and the level and keeps the other entries; `ipAddress` `0.0.0.0` (or `::`), NetHSM's "no
//! destination", removes the first entry. A GET with no entry reports `0.0.0.0` port 514.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use strongroom_core::appliance::syslog::{LogLevel, SyslogConfig, SyslogDestination, Transport};

use super::error::NetHsmError;
use super::extract::{AcceptJson, Caller, NetHsmJson, RootAdmin};
use super::openapi::{AnswersJson, Authenticated, CoreCall, Gated, PutJsonBody};
use crate::app::AppState;

/// What GET reports when there is no destination (NetHSM's default).
const NO_ADDRESS: &str = "0.0.0.0";
const DEFAULT_PORT: u16 = 514;

/// The spec's `LoggingConfig`.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoggingConfig {
    /// IPv4 or IPv6; `0.0.0.0` (or `::`): no destination.
    pub ip_address: String,
    /// 1 to 65535.
    // Wider than a port, so an out-of-range number gets the port's own message.
    #[schema(minimum = 1, maximum = 65535)]
    pub port: i64,
    pub log_level: LogLevel,
}

impl LoggingConfig {
    fn of(config: &SyslogConfig) -> Self {
        let (ip_address, port) = match config.destinations.first() {
            Some(d) => (d.host.clone(), d.port),
            None => (NO_ADDRESS.to_owned(), DEFAULT_PORT),
        };
        LoggingConfig {
            ip_address,
            port: port.into(),
            log_level: config.level,
        }
    }
}

#[utoipa::path(
    get,
    path = "/config/logging",
    operation_id = "getLoggingConfig",
    tag = "config",
    responses(
        (status = 200, description = "The first syslog destination (`0.0.0.0` port 514 when \
            there is none) and the level.", body = LoggingConfig),
        Gated,
        Authenticated,
        AnswersJson,
        CoreCall,
    )
)]
pub async fn config_logging_get(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    _: AcceptJson,
) -> Result<NetHsmJson<LoggingConfig>, NetHsmError> {
    let config = s
        .run(move |core| core.operational(&who)?.appliance().syslog())
        .await?;
    Ok(NetHsmJson(LoggingConfig::of(&config)))
}

#[utoipa::path(
    put,
    path = "/config/logging",
    operation_id = "setLoggingConfig",
    tag = "config",
    description = "Replaces the first of the appliance's syslog destinations (UDP) and the \
                   level, and keeps the others; `0.0.0.0` or `::` removes the first.",
    request_body = LoggingConfig,
    responses(
        (status = 204, description = "Set, and sending to it from now on."),
        Gated,
        Authenticated,
        PutJsonBody,
        CoreCall,
    )
)]
pub async fn config_logging_put(
    State(s): State<AppState>,
    Caller(who, _): RootAdmin,
    NetHsmJson(req): NetHsmJson<LoggingConfig>,
) -> Result<StatusCode, NetHsmError> {
    let bad = |m: &str| NetHsmError::new(StatusCode::BAD_REQUEST, m);
    let ip: IpAddr = req
        .ip_address
        .parse()
        .map_err(|_| bad("ipAddress must be an IPv4 or IPv6 address"))?;
    let port = u16::try_from(req.port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| bad("port must be between 1 and 65535"))?;
    // NetHSM sends syslog over UDP only.
    let first = (!ip.is_unspecified()).then(|| SyslogDestination {
        host: ip.to_string(),
        port,
        transport: Transport::Udp,
    });
    let level = req.log_level;
    s.run(move |core| {
        core.operational(&who)?
            .appliance()
            .set_syslog_first(first, level)
    })
    .await?;
    crate::syslog::reload(&s.core);
    Ok(StatusCode::NO_CONTENT)
}
